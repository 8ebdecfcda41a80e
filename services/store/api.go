package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// The read API is a NATS micro service, [APIName], answering JSON requests
// on these subjects. Errors carry the micro error headers with an HTTP-like
// code: 400 for a bad request, 404 when there is no such record, 500 when
// the database fails.
const (
	// APIName is the read API's name in NATS service discovery.
	APIName = "gtmhub-store"
	// SubjectContactsGet answers a [ContactRequest] with a [ContactDetail].
	SubjectContactsGet = "gtmhub.store.contacts.get"
	// SubjectContactsList answers a [ContactFilter] with a [ContactList].
	SubjectContactsList = "gtmhub.store.contacts.list"
	// SubjectCompaniesGet answers a [CompanyRequest] with a [Company].
	SubjectCompaniesGet = "gtmhub.store.companies.get"
	// SubjectAttributionGet answers an [AttributionRequest] with an
	// [Attribution].
	SubjectAttributionGet = "gtmhub.store.attribution.get"
)

// Error codes of the read API.
const (
	CodeBadRequest  = "400"
	CodeNotFound    = "404"
	CodeInternal    = "500"
	CodeUnavailable = "503" // the database cannot be reached: ask again later
)

// ContactRequest asks for one contact.
type ContactRequest struct {
	Email string `json:"email"`
}

// ContactDetail is a contact with the events that touched it.
type ContactDetail struct {
	Contact
	Activities []Activity `json:"activities"`
}

// ContactFilter selects contacts, newest first. Zero fields select
// everything.
type ContactFilter struct {
	// Since keeps contacts updated at or after this time.
	Since time.Time `json:"since,omitzero"`
	// Status keeps contacts with this status.
	Status string `json:"status,omitempty"`
	// MinScore keeps contacts whose signal_score is at least this.
	MinScore *float64 `json:"min_score,omitempty"`
	// Limit is the most contacts to return; 0 means DefaultListLimit, and
	// more than MaxListLimit is an error.
	Limit int `json:"limit,omitempty"`
}

// Bounds of [ContactFilter.Limit].
const (
	DefaultListLimit = 100
	MaxListLimit     = 10000
)

// ContactList is the answer to a list request.
type ContactList struct {
	Contacts []Contact `json:"contacts"`
}

// CompanyRequest asks for the company of a domain; www.acme.com finds
// acme.com.
type CompanyRequest struct {
	Domain string `json:"domain"`
}

// apiError is an error answer of the read API.
type apiError struct {
	code, description string
}

func (e *apiError) Error() string { return e.code + " " + e.description }

func badRequest(format string, args ...any) error {
	return &apiError{CodeBadRequest, fmt.Sprintf(format, args...)}
}

// api answers read requests from the database.
type api struct {
	db  *DB
	log *slog.Logger
	// down is whether the last read found the database out of reach, so
	// that an outage is logged when it starts and when it ends.
	down atomic.Bool
}

// serveAPI registers the read API on nc. Stop the returned service before
// closing db.
func serveAPI(ctx context.Context, nc *nats.Conn, db *DB, log *slog.Logger) (micro.Service, error) {
	svc, err := micro.AddService(nc, micro.Config{Name: APIName, Version: service.Version,
		Description: "gtmhub store: contacts, companies and attribution, read-only"})
	if err != nil {
		return nil, fmt.Errorf("read api: %w", err)
	}
	a := &api{db: db, log: log}
	endpoints := []struct {
		name, subject string
		h             func(context.Context, []byte) (any, error)
	}{
		{"contacts-get", SubjectContactsGet, a.contact},
		{"contacts-list", SubjectContactsList, a.contacts},
		{"companies-get", SubjectCompaniesGet, a.company},
		{"attribution-get", SubjectAttributionGet, a.attribution},
	}
	for _, e := range endpoints {
		if err := svc.AddEndpoint(e.name, a.handler(ctx, e.subject, e.h), micro.WithEndpointSubject(e.subject)); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("read api %s: %w", e.subject, err)
		}
	}
	return svc, nil
}

// Messages of a database outage as reads meet it: logged when it starts,
// at debug level while it lasts, and when reads are answered again.
const (
	logReadsUnreachable      = "read api: database out of reach; reads answered 503 until it answers"
	logReadsStillUnreachable = "read api: database still out of reach"
	logReadsAnswered         = "read api: database answers reads again"
)

// requestTimeout bounds the database work of one request.
const requestTimeout = 10 * time.Second

// handler adapts h to micro: it answers h's result as JSON, or h's error
// with its code. Database errors are logged here and answered without
// details: 503 while the database cannot be reached, which a caller may
// try again (the outage logged when it starts and ends), and 500
// otherwise.
func (a *api) handler(ctx context.Context, subject string, h func(context.Context, []byte) (any, error)) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		v, err := h(rctx, req.Data())
		var ae *apiError
		outage := err != nil && unreachable(err)
		if !outage && a.down.CompareAndSwap(true, false) {
			a.log.InfoContext(rctx, logReadsAnswered)
		}
		switch {
		case err == nil:
			err = req.RespondJSON(v)
		case errors.As(err, &ae):
			err = req.Error(ae.code, ae.description, nil)
		case outage:
			level, msg := slog.LevelDebug, logReadsStillUnreachable
			if a.down.CompareAndSwap(false, true) {
				level, msg = slog.LevelWarn, logReadsUnreachable
			}
			a.log.Log(rctx, level, msg, "subject", subject, "err", events.Redact(err.Error()))
			err = req.Error(CodeUnavailable, "the store cannot reach its database now; try again later", nil)
		default:
			a.log.ErrorContext(rctx, "read api", "subject", subject, "err", events.Redact(err.Error()))
			err = req.Error(CodeInternal, "the store could not read the database", nil)
		}
		if err != nil {
			a.log.WarnContext(rctx, "read api: respond", "subject", subject, "err", err)
		}
	})
}

// decode reads a JSON request; an empty body is the zero request.
func decode(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid request: %v", err)
	}
	return nil
}

func (a *api) contact(ctx context.Context, data []byte) (any, error) {
	var req ContactRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if normalizeEmail(req.Email) == "" {
		return nil, badRequest("email is required")
	}
	c, ok, err := a.db.Contact(ctx, req.Email)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &apiError{CodeNotFound, "no such contact"}
	}
	acts, err := a.db.Activities(ctx, c.Email)
	if err != nil {
		return nil, err
	}
	return ContactDetail{Contact: c, Activities: acts}, nil
}

func (a *api) contacts(ctx context.Context, data []byte) (any, error) {
	var f ContactFilter
	if err := decode(data, &f); err != nil {
		return nil, err
	}
	if f.Limit < 0 || f.Limit > MaxListLimit {
		return nil, badRequest("limit must be between 0 and %d", MaxListLimit)
	}
	if f.Limit == 0 {
		f.Limit = DefaultListLimit
	}
	cs, err := a.db.ListContacts(ctx, f)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		cs = []Contact{}
	}
	return ContactList{Contacts: cs}, nil
}

func (a *api) company(ctx context.Context, data []byte) (any, error) {
	var req CompanyRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if normalizeDomain(req.Domain) == "" {
		return nil, badRequest("domain is required")
	}
	c, ok, err := a.db.Company(ctx, req.Domain)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &apiError{CodeNotFound, "no such company"}
	}
	return c, nil
}

func (a *api) attribution(ctx context.Context, data []byte) (any, error) {
	var req AttributionRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if err := req.validate(); err != nil {
		return nil, badRequest("%v", err)
	}
	return a.db.Attribution(ctx, req)
}
