package signature

import "errors"

// None is the scheme of sources that cannot sign their requests, such as a
// website form: every request is accepted. It takes no secrets, so that a
// source configured with secrets but no scheme is caught at start.
func None() Scheme {
	return Scheme{
		Name:    "none",
		Summary: "accepts every request; for senders that cannot sign, such as website forms",
		New: func(p Params) (Verifier, error) {
			if len(p.Secrets) > 0 {
				return nil, errors.New("takes no secrets")
			}
			return noneVerifier{}, nil
		},
	}
}

type noneVerifier struct{}

func (noneVerifier) Verify(*Request) error   { return nil }
func (noneVerifier) SecretHeaders() []string { return nil }
