// Package service holds what every gtmhub service binary does the same way:
// load gtmhub.yaml and its environment overrides into a config struct,
// connect to NATS, log JSON with trace ids, and serve /livez, /readyz and
// /metrics on an admin address.
package service
