package perfexsim

import (
	"cmp"
	"maps"
	"slices"
	"sync"
)

// store holds the simulated database: contacts, their permission rows,
// customers, and the contacts whose updates are refused.
type store struct {
	mu sync.Mutex

	contacts  map[int64]*record
	customers map[int64]bool
	locked    map[int64]bool
	readOnly  map[int64]bool
	// emails indexes contact ids by folded e-mail address, so a PUT's
	// uniqueness check does not scan every contact.
	emails map[string]map[int64]struct{}

	// nextContact and nextPermRow play the AUTO_INCREMENT counters.
	nextContact int64
	nextPermRow int64
}

// record is one contact with the ids of its contact_permissions rows.
type record struct {
	contact  Contact
	permRows map[int]int64 // permission id -> row id
}

// permRow is one row of the contact_permissions table.
type permRow struct {
	id           int64
	permissionID int
	contactID    int64
}

func newStore() *store {
	return &store{
		contacts:    make(map[int64]*record),
		customers:   make(map[int64]bool),
		locked:      make(map[int64]bool),
		readOnly:    make(map[int64]bool),
		emails:      make(map[string]map[int64]struct{}),
		nextContact: 1,
		nextPermRow: 1,
	}
}

// get returns a copy of the stored contact id.
func (s *store) get(id int64) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()

	r, ok := s.contacts[id]
	if !ok {
		return Contact{}, false
	}
	return r.contact.clone(), true
}

// list returns copies of every contact, by id.
func (s *store) list() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()

	out := make([]Contact, 0, len(s.contacts))
	for _, id := range slices.Sorted(maps.Keys(s.contacts)) {
		out = append(out, s.contacts[id].contact.clone())
	}
	return out
}

// put stores c as given, creating its customer when needed, and returns its
// id. A zero id takes the next free one. c.Password must already be hashed
// into c.PasswordHash.
func (s *store) put(c Contact) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()

	if c.ID == 0 {
		c.ID = s.nextContact
	}
	s.nextContact = max(s.nextContact, c.ID+1)
	s.customers[c.UserID] = true

	r, ok := s.contacts[c.ID]
	if !ok {
		r = &record{permRows: make(map[int]int64)}
		s.contacts[c.ID] = r
	} else {
		s.unindexEmailLocked(c.ID, r.contact.Email)
	}

	c.Password = ""
	perms := c.Permissions
	c.Permissions = nil
	r.contact = c
	s.indexEmailLocked(c.ID, c.Email)
	s.setPermissionsLocked(r, perms)
	return c.ID
}

// setPermissionsLocked makes r's permission rows match perms the way core
// does: rows for permissions no longer wanted are deleted, missing ones are
// inserted with new row ids, kept ones keep their ids.
func (s *store) setPermissionsLocked(r *record, perms []int) {
	want := normalizePermissions(perms)

	for p := range r.permRows {
		if !slices.Contains(want, p) {
			delete(r.permRows, p)
		}
	}
	for _, p := range want {
		if _, ok := r.permRows[p]; !ok {
			r.permRows[p] = s.nextPermRow
			s.nextPermRow++
		}
	}

	r.contact.Permissions = want
}

// delete removes contact id and its permission rows.
func (s *store) delete(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()

	r, ok := s.contacts[id]
	if ok {
		s.unindexEmailLocked(id, r.contact.Email)
	}
	delete(s.contacts, id)
	return ok
}

// addCustomer records that customer id exists.
func (s *store) addCustomer(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.customers[id] = true
}

// customerIDs returns the existing customers' ids, sorted.
func (s *store) customerIDs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()

	return slices.Sorted(maps.Keys(s.customers))
}

// setRefusal marks id as locked or read-only, or clears both marks.
func (s *store) setRefusal(id int64, locked, readOnly bool) {
	s.mu.Lock()
	defer s.mu.Unlock()

	delete(s.locked, id)
	delete(s.readOnly, id)
	if locked {
		s.locked[id] = true
	}
	if readOnly {
		s.readOnly[id] = true
	}
}

// permissionRows returns every contact_permissions row, by row id.
func (s *store) permissionRows() []permRow {
	s.mu.Lock()
	defer s.mu.Unlock()

	var rows []permRow
	for cid, r := range s.contacts {
		for p, rowID := range r.permRows {
			rows = append(rows, permRow{id: rowID, permissionID: p, contactID: cid})
		}
	}

	slices.SortFunc(rows, func(a, b permRow) int { return cmp.Compare(a.id, b.id) })
	return rows
}
