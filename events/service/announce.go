package service

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Version is the gtmhub release the services announce.
const Version = "0.1.0"

// Announce registers the service with NATS service discovery as
// "gtmhub-<name>", so `gtmhub status` (or `nats micro ls`) sees which
// services are alive. Stop the returned service at shutdown.
func Announce(nc *nats.Conn, name, version string) (micro.Service, error) {
	svc, err := micro.AddService(nc, micro.Config{Name: "gtmhub-" + name, Version: version,
		Description: "gtmhub " + name + " service"})
	if err != nil {
		return nil, fmt.Errorf("announce %s: %w", name, err)
	}
	return svc, nil
}
