package consumer

import "github.com/perfexworker/perfex-worker/command"

// setFields copies the named fields (wire names, as ContactData.Fields
// gives them) from src into dst, leaving dst's other fields alone.
func setFields(dst *command.ContactData, src command.ContactData, fields []string) {
	srcFlags, dstFlags := src.Flags(), dst.Flags()
	for _, name := range fields {
		switch name {
		case "userid":
			dst.UserID = src.UserID
		case "firstname":
			dst.FirstName = src.FirstName
		case "lastname":
			dst.LastName = src.LastName
		case "email":
			dst.Email = src.Email
		case "phonenumber":
			dst.PhoneNumber = src.PhoneNumber
		case "title":
			dst.Title = src.Title
		case "direction":
			dst.Direction = src.Direction
		case "is_primary":
			dst.IsPrimary = src.IsPrimary
		case "password":
			dst.Password = src.Password
		case "active":
			dst.Active = src.Active
		case "permissions":
			dst.Permissions = src.Permissions
		default:
			if flag, ok := srcFlags[name]; ok {
				*dstFlags[name] = *flag
			}
		}
	}
}

// onlyFields is data with every field but the named ones left out.
func onlyFields(data command.ContactData, fields []string) command.ContactData {
	var out command.ContactData
	setFields(&out, data, fields)
	return out
}
