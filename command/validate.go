package command

import "fmt"

// Field limits follow the column sizes of Perfex's contacts table; a value
// longer than the column would be cut or refused by the database.
const (
	maxNameLen  = 191
	maxTitleLen = 100
	maxPhoneLen = 100
)

func (d *ContactData) validate() error {
	if len(d.Fields()) == 0 {
		return malformed("data", "must set at least one field")
	}
	if d.UserID != nil && *d.UserID <= 0 {
		return malformed("data.userid", "must be a positive integer, got %d", *d.UserID)
	}
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{
		{"data.firstname", d.FirstName, maxNameLen},
		{"data.lastname", d.LastName, maxNameLen},
		{"data.title", d.Title, maxTitleLen},
		{"data.phonenumber", d.PhoneNumber, maxPhoneLen},
	} {
		if f.v != nil && len(*f.v) > f.max {
			return malformed(f.name, "is longer than %d bytes", f.max)
		}
	}
	if d.FirstName != nil && *d.FirstName == "" {
		return malformed("data.firstname", "must not be empty: Perfex requires a first name")
	}
	if d.LastName != nil && *d.LastName == "" {
		return malformed("data.lastname", "must not be empty: Perfex requires a last name")
	}
	if d.Direction != nil && *d.Direction != "" && *d.Direction != "ltr" && *d.Direction != "rtl" {
		return malformed("data.direction", "must be \"ltr\", \"rtl\" or empty, got %q", *d.Direction)
	}
	if d.Password != nil && *d.Password == "" {
		return malformed("data.password", "must not be empty")
	}
	if d.Permissions != nil {
		seen := map[int]bool{}
		for i, p := range *d.Permissions {
			if p <= 0 {
				return malformed(fmt.Sprintf("data.permissions[%d]", i), "must be a positive permission id, got %d", p)
			}
			if seen[p] {
				return malformed(fmt.Sprintf("data.permissions[%d]", i), "repeats permission %d", p)
			}
			seen[p] = true
		}
	}
	if d.Email != nil {
		bare, err := ValidateEmail(*d.Email)
		if err != nil {
			return err
		}
		d.Email = &bare
	}
	return nil
}
