package service

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Registered registers c with reg, or returns the collector of the same
// type registered under its name before, so that a service run twice in one
// process (as tests do) shares its metrics rather than failing.
func Registered[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	var zero C
	return zero, err
}
