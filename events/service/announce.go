package service

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Version is the gtmhub release the services announce.
const Version = "0.1.0"

// BreakersEndpoint is the name of the micro endpoint that answers a
// service's circuit breaker states as a JSON array of
// [events.BreakerState]. Its subject, gtmhub.<name>.breakers.<id>, is the
// instance's own, so that each instance reports its own breakers; `gtmhub
// status` finds it in the service's $SRV.INFO.
const BreakersEndpoint = "breakers"

// AnnounceOption configures [Announce].
type AnnounceOption func(*announceOptions)

type announceOptions struct {
	breakers *BreakerRegistry
}

// WithBreakerStates adds the [BreakersEndpoint] endpoint, answering the
// states of the breakers in reg.
func WithBreakerStates(reg *BreakerRegistry) AnnounceOption {
	return func(o *announceOptions) { o.breakers = reg }
}

// Announce registers the service with NATS service discovery as
// "gtmhub-<name>", so `gtmhub status` (or `nats micro ls`) sees which
// services are alive. Stop the returned service at shutdown.
func Announce(nc *nats.Conn, name, version string, opts ...AnnounceOption) (micro.Service, error) {
	var o announceOptions
	for _, opt := range opts {
		opt(&o)
	}
	svc, err := micro.AddService(nc, micro.Config{Name: "gtmhub-" + name, Version: version,
		Description: "gtmhub " + name + " service"})
	if err != nil {
		return nil, fmt.Errorf("announce %s: %w", name, err)
	}
	if o.breakers != nil {
		if err := addBreakersEndpoint(svc, name, o.breakers); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("announce %s: %w", name, err)
		}
	}
	return svc, nil
}

func addBreakersEndpoint(svc micro.Service, name string, reg *BreakerRegistry) error {
	subject := "gtmhub." + name + "." + BreakersEndpoint + "." + svc.Info().ID
	return svc.AddEndpoint(BreakersEndpoint, micro.HandlerFunc(func(req micro.Request) {
		if err := req.RespondJSON(reg.States()); err != nil {
			_ = req.Error("500", err.Error(), nil)
		}
	}), micro.WithEndpointSubject(subject))
}
