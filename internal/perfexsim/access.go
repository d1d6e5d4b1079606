package perfexsim

// Data access for tests and for the worker's dev mode. These methods are
// safe for concurrent use with requests in flight.

// Contact returns the stored state of contact id, with Permissions sorted
// and Password empty.
func (s *Sim) Contact(id int64) (Contact, bool) {
	return s.store.get(id)
}

// Contacts returns every stored contact, by id.
func (s *Sim) Contacts() []Contact {
	return s.store.list()
}

// PutContact stores c as it is, replacing any contact with the same id, and
// returns its id; a zero ID takes the next free one. Its customer is created
// when it does not exist. A non-empty c.Password is hashed into
// c.PasswordHash. Unlike an update over HTTP, PutContact checks nothing: it
// neither validates the fields nor clears other primary contacts, so tests
// can set up any state, inconsistent ones included.
func (s *Sim) PutContact(c Contact) int64 {
	c = c.clone()
	if c.Password != "" {
		h, err := s.passwords.hash(c.Password)
		if err != nil {
			// Only a failing random source gets here.
			panic("perfexsim: " + err.Error())
		}
		c.PasswordHash = h
	}

	return s.store.put(c)
}

// DeleteContact removes contact id and its permissions, as if it were
// deleted in Perfex. It reports whether the contact existed.
func (s *Sim) DeleteContact(id int64) bool {
	return s.store.delete(id)
}

// AddCustomer creates customer id, so that contacts can be moved to it.
func (s *Sim) AddCustomer(id int64) {
	s.store.addCustomer(id)
}

// Customers returns the ids of the existing customers, sorted.
func (s *Sim) Customers() []int64 {
	return s.store.customerIDs()
}

// Lock makes every valid update of contact id answer 409 "Record was
// modified by another user", as if someone else kept editing it.
func (s *Sim) Lock(id int64) {
	s.store.setRefusal(id, true, false)
}

// ReadOnly makes every valid update of contact id answer 200
// {"status":false,"message":"Contact Update Fail."}.
func (s *Sim) ReadOnly(id int64) {
	s.store.setRefusal(id, false, true)
}

// Unlock lifts Lock and ReadOnly from contact id.
func (s *Sim) Unlock(id int64) {
	s.store.setRefusal(id, false, false)
}

// PasswordMatches reports whether plain is contact id's portal password.
// It is false when the contact does not exist or has no password.
func (s *Sim) PasswordMatches(id int64, plain string) bool {
	c, ok := s.store.get(id)
	return ok && s.passwords.matches(c.PasswordHash, plain)
}

// SetPermissionsTable changes, while the simulator runs, whether the
// contact_permissions table is allow-listed.
func (s *Sim) SetPermissionsTable(mode PermissionsMode) {
	s.permissions.Store(int32(mode))
}
