// Package perfexsim simulates a Perfex CRM installation with the "REST API
// for Perfex CRM" module, closely enough that perfex-worker's client cannot
// tell it from a real one. It serves the client's tests and the worker's
// dev mode. It answers exactly as docs/perfex-wire.md says; that page wins
// when it and this package disagree.
//
// # Endpoints
//
// Under the base URL returned by Start (ending in /api), or under /api of
// Handler:
//
//   - GET /api/contacts/{id}: 200 with the stored row, every value a string
//     ("1"/"0" for flags), null for NULL columns, password as its bcrypt
//     hash, no permissions; 404 {"status":false,"message":"No data were
//     found"} when there is no such contact or the id is not a number.
//   - GET /api/thirdparty/customtable/contact_permissions: 200 with every
//     row of contact_permissions ({"id","permission_id","userid"}, userid
//     being the contact), 404 "No data were found" when the table is empty,
//     403 "Access to this table is not allowed" under PermissionsForbidden.
//   - PUT /api/contacts/{id}: see "Updates".
//   - Any other path, inside /api or not: the web server's HTML 404 page.
//     Another method on a known path: 405 {"status":false,"message":
//     "Unknown method"}.
//
// # Every request
//
// Steps run in this order:
//
//  1. A token in the URL query (?authtoken=) is counted in Stats.TokenLeaks.
//  2. Faults.Latency, then the fault decision (see "Faults").
//  3. The request counts against the rate limit; every reply, errors and
//     HTML pages included, carries X-RateLimit-Limit, -Remaining and -Reset
//     (Unix seconds, rounded up). A window of Options.RateWindow opens with
//     the first request after the previous one closed. With the limit
//     exhausted the answer is 429 "Too Many Requests" with Retry-After.
//     With the limit off the headers advertise a limit of 1,000,000,000.
//  4. Unknown paths get the HTML 404.
//  5. Token: a token in the query is refused with 401 "Invalid Token" even
//     when right; no authtoken header gives 401 "Token is not defined.", a
//     wrong one 401 "Invalid Token".
//  6. The endpoint.
//
// # Updates
//
// A PUT is read the way Perfex core reads a form. The checks run in the
// order below and the first that fails answers:
//
//   - The body must be a JSON object (Content-Type application/json) with
//     at least one key; anything else (multipart, url-encoded, empty,
//     invalid JSON, {}) is answered 406 "Not Acceptable". A key whose value
//     is null counts as absent, as PHP's isset says.
//   - No such contact: 409 "Contact not found".
//   - firstname, lastname and email are required (not blank); email must
//     have a valid format; direction must be "", "ltr" or "rtl"; userid
//     must name an existing customer; active must be 1 or 0 (also true or
//     false); permissions must be an array. A failure is a 422 with every
//     field error under "errors" (FlavorV3) or a 400 with the first error's
//     message (FlavorLegacy).
//   - email used by another contact, compared without regard to case: 409
//     "Email already exists" with {"email":"This Email is already in use"}
//     under "error", in both flavors.
//   - A locked contact: 409 "Record was modified by another user". A
//     read-only contact: 200 {"status":false,"message":"Contact Update
//     Fail."}. Both come after the checks above, so an invalid update of
//     such a contact is still answered 422, 400 or 409 as invalid.
//   - is_primary and the seven *_emails flags become true when their key is
//     present, whatever its value ("is_primary": false promotes), and false
//     when it is absent. Permissions not in the array are removed, so an
//     absent key removes them all; unknown ids are ignored. title,
//     phonenumber, direction, userid and active keep their stored value
//     when absent. A non-empty password sets the portal password (and
//     last_password_change), hashed with bcrypt at Options.PasswordCost.
//   - If the resulting row and permissions equal the stored ones, the answer
//     is 404 {"status":false,"message":"Client Update Fail."} and nothing is
//     written. A password counts as a change only when it differs from the
//     stored one.
//   - Otherwise the contact is written, a primary contact clears is_primary
//     on its customer's other contacts, Stats.Applied grows, and the answer
//     is 200 {"status":true,"message":"Contact Updated Successfully."}.
//
// # Seed data
//
// Options.Seed creates customers 1 to 7 and contacts 1 to 36, all
// fictitious, with Brazilian Portuguese and English names and addresses at
// example.com and example.com.br. Customers 1 to 5 each have six contacts,
// the first of them primary (1, 7, 13, 19, 25); customer 6 has contacts 31
// to 36 and no primary contact; customer 7 has none. Contacts 16 and 33 are
// locked (updates answer 409, the worker's "conflict"); contacts 17 and 34
// are read-only (updates answer 200 with "status": false, the worker's
// "rejected"). Contacts 22 and 36 are inactive; 10, 24 and 36 have no
// permissions; every sixth contact (6, 12, ..., 36) has no password, the
// others have SeedPassword(id). Contact 9's address has capitals. See
// SeedLockedIDs, SeedReadOnlyIDs and SeedCustomerIDs.
//
// # Faults
//
// SetFaults switches trouble on and off at run time; see FaultKind for what
// each kind does. A fault is decided before the request touches the store,
// so a faulted PUT changes nothing, except FaultResetAfterApply, which
// applies the update and then drops the connection. SetDown closes the port
// altogether and opens it again at the same address.
package perfexsim
