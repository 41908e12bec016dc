package server

import (
	"errors"
	"net/mail"

	"github.com/getkin/kin-openapi/openapi3"
)

// SetEmailCheck makes a batch's item checks call seen with each email they
// check, before checking it, until the returned restore: a test can hold a
// batch in its checks. validateRequest keeps the check it was built with.
func SetEmailCheck(seen func(email string)) (restore func()) {
	old := emailFormat
	emailFormat = openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
		"email": openapi3.NewCallbackValidator(func(s string) error {
			seen(s)
			if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
				return errors.New("must be a valid email address")
			}
			return nil
		}),
	})
	return func() { emailFormat = old }
}
