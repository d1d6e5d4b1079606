package perfexsim

import (
	"net/http"
	"strings"
	"time"
)

// maxPasswordRaces is how many times an update retries when the stored
// password changed while it was hashing; then it answers a conflict.
const maxPasswordRaces = 3

// outcome is what applying an update to the store came to.
type outcome int

const (
	outUpdated outcome = iota
	outNotFound
	outInvalid
	outDuplicateEmail
	outLocked
	outReadOnly
	outUnchanged
	// outRaced means the stored password changed under the update.
	outRaced
)

// putContact serves PUT /contacts/{id}. The checks run in this order:
// content type and body (406), contact exists (409), field values (422 or
// 400), unique email (409), locked (409), read-only (200 false), nothing
// changed (404).
func (s *Sim) putContact(ex *exchange) reply {
	if !isJSON(ex.r.Header.Get("Content-Type")) {
		return messageReply(http.StatusNotAcceptable, false, msgNotAcceptable)
	}
	form, ok := decodeForm(ex.body)
	if !ok {
		return messageReply(http.StatusNotAcceptable, false, msgNotAcceptable)
	}

	u := readUpdate(form)
	for range maxPasswordRaces {
		cur, ok := s.store.get(ex.route.id)
		if !ok {
			return messageReply(http.StatusConflict, false, msgContactNotFound)
		}

		// bcrypt is slow on purpose, so it runs outside the store's lock;
		// the store then checks that the hash it was compared with is still
		// the stored one.
		newHash, err := s.newPasswordHash(cur.PasswordHash, u.password)
		if err != nil {
			return messageReply(http.StatusInternalServerError, false, msgInternal)
		}

		out, errs := s.store.update(ex.route.id, u, cur.PasswordHash, newHash, time.Now())
		if out == outUpdated {
			s.stats.applied()
		}
		if out != outRaced {
			return s.updateReply(out, errs)
		}
	}
	return messageReply(http.StatusConflict, false, msgModified)
}

// newPasswordHash returns the hash to store for a requested password, ""
// when none was requested or it is already the stored one.
func (s *Sim) newPasswordHash(stored, plain string) (string, error) {
	if plain == "" || s.passwords.matches(stored, plain) {
		return "", nil
	}
	return s.passwords.hash(plain)
}

// updateReply turns an outcome into the installation's answer.
func (s *Sim) updateReply(out outcome, errs fieldErrors) reply {
	switch out {
	case outUpdated:
		return messageReply(http.StatusOK, true, msgUpdated)
	case outNotFound:
		return messageReply(http.StatusConflict, false, msgContactNotFound)
	case outInvalid:
		if s.flavor == FlavorLegacy {
			return messageReply(http.StatusBadRequest, false, errs.first())
		}
		return jsonReply(http.StatusUnprocessableEntity, validationBody{
			Error: "validation_failed", Message: msgValidation, Errors: errs,
		})
	case outDuplicateEmail:
		return jsonReply(http.StatusConflict, fieldConflictBody{
			Message: msgEmailExists, Error: map[string]string{"email": msgEmailInUse},
		})
	case outLocked:
		return messageReply(http.StatusConflict, false, msgModified)
	case outReadOnly:
		return messageReply(http.StatusOK, false, msgUpdateFail)
	case outUnchanged:
		return messageReply(http.StatusNotFound, false, msgNothingChanged)
	}
	return messageReply(http.StatusInternalServerError, false, msgInternal)
}

// update applies u to contact id. seenHash is the stored password hash
// newHash was decided against; newHash is "" to keep the password.
func (st *store) update(
	id int64, u *update, seenHash, newHash string, now time.Time,
) (outcome, fieldErrors) {
	st.mu.Lock()
	defer st.mu.Unlock()

	r, ok := st.contacts[id]
	switch {
	case !ok:
		return outNotFound, nil
	case r.contact.PasswordHash != seenHash:
		return outRaced, nil
	}

	errs := fieldErrors{}
	for f, m := range u.errs {
		errs[f] = m
	}
	if u.userID != nil && !st.customers[*u.userID] {
		errs["userid"] = msgNoSuchCustomer
	}
	if len(errs) > 0 {
		return outInvalid, errs
	}

	switch {
	case st.emailTakenLocked(u.email, id):
		return outDuplicateEmail, nil
	case st.locked[id]:
		return outLocked, nil
	case st.readOnly[id]:
		return outReadOnly, nil
	}

	next := u.applyTo(r.contact, newHash, now)
	if next.sameStored(r.contact) {
		return outUnchanged, nil
	}

	perms := next.Permissions
	st.unindexEmailLocked(id, r.contact.Email)
	r.contact = next
	st.indexEmailLocked(id, next.Email)
	st.setPermissionsLocked(r, perms)
	if next.IsPrimary {
		st.demoteOthersLocked(next.UserID, id)
	}
	return outUpdated, nil
}

// emailTakenLocked reports whether another contact than id uses email.
// MySQL's collation compares addresses without regard to case.
func (st *store) emailTakenLocked(email string, id int64) bool {
	for cid := range st.emails[emailKey(email)] {
		if cid != id {
			return true
		}
	}
	return false
}

// emailKey folds an address the way the uniqueness check compares them:
// trimmed, without regard to case.
func emailKey(email string) string {
	return strings.ToLower(strings.ToUpper(strings.TrimSpace(email)))
}

func (st *store) indexEmailLocked(id int64, email string) {
	k := emailKey(email)
	ids := st.emails[k]
	if ids == nil {
		ids = make(map[int64]struct{}, 1)
		st.emails[k] = ids
	}
	ids[id] = struct{}{}
}

func (st *store) unindexEmailLocked(id int64, email string) {
	k := emailKey(email)
	delete(st.emails[k], id)
	if len(st.emails[k]) == 0 {
		delete(st.emails, k)
	}
}

// demoteOthersLocked clears is_primary on customer's contacts other than
// keep.
func (st *store) demoteOthersLocked(customer, keep int64) {
	for cid, r := range st.contacts {
		if cid != keep && r.contact.UserID == customer {
			r.contact.IsPrimary = false
		}
	}
}

// applyTo returns cur as u leaves it. Flags and permissions are set from
// their presence in the request; other absent fields keep their values.
func (u *update) applyTo(cur Contact, newHash string, now time.Time) Contact {
	next := cur.clone()
	next.FirstName, next.LastName, next.Email = u.firstName, u.lastName, u.email

	if u.title != nil {
		next.Title = *u.title
	}
	if u.phone != nil {
		next.PhoneNumber = *u.phone
	}
	if u.direction != nil {
		next.Direction = *u.direction
	}
	if u.userID != nil {
		next.UserID = *u.userID
	}
	if u.active != nil {
		next.Active = *u.active
	}
	if newHash != "" {
		next.PasswordHash = newHash
		next.LastPasswordChange = now.Truncate(time.Second)
	}

	next.IsPrimary = u.isPrimary
	flags := []*bool{
		&next.InvoiceEmails, &next.EstimateEmails, &next.CreditNoteEmails,
		&next.ContractEmails, &next.TaskEmails, &next.ProjectEmails, &next.TicketEmails,
	}
	for i, f := range flags {
		*f = u.flags[i]
	}
	next.Permissions = normalizePermissions(u.permissions)
	return next
}
