package command

// ValidateEmail checks addr against the worker's email policy (README,
// "Email policy") and returns the bare address that is sent to Perfex. The
// error is a *ValidationError with CodeInvalidEmail.
//
// TODO: placeholder until the email policy lands.
func ValidateEmail(addr string) (string, error) {
	return addr, nil
}
