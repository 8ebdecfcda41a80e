package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Client reads contacts and companies through the store's read API, from
// any process connected to the same NATS.
type Client struct {
	nc *nats.Conn
}

// NewClient returns a client of the read API over nc.
func NewClient(nc *nats.Conn) *Client { return &Client{nc: nc} }

// APIError is an error answer of the read API.
type APIError struct {
	// Code is CodeBadRequest, CodeNotFound, CodeInternal or CodeUnavailable.
	Code string
	// Description says what went wrong.
	Description string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("store api: %s (%s)", e.Description, e.Code)
}

// ErrNoStore is returned when no store service answers the request.
var ErrNoStore = errors.New("no store service answers on NATS: is gtmhub up (or the store) running?")

// Contact returns the contact with the given email and its activities, and
// whether there is one.
func (c *Client) Contact(ctx context.Context, email string) (ContactDetail, bool, error) {
	var out ContactDetail
	found, err := c.call(ctx, SubjectContactsGet, ContactRequest{Email: email}, &out)
	return out, found, err
}

// Contacts returns the contacts f selects, newest first.
func (c *Client) Contacts(ctx context.Context, f ContactFilter) ([]Contact, error) {
	var out ContactList
	if _, err := c.call(ctx, SubjectContactsList, f, &out); err != nil {
		return nil, err
	}
	return out.Contacts, nil
}

// Company returns the company of the given domain, and whether there is
// one.
func (c *Client) Company(ctx context.Context, domain string) (Company, bool, error) {
	var out Company
	found, err := c.call(ctx, SubjectCompaniesGet, CompanyRequest{Domain: domain}, &out)
	return out, found, err
}

// Attribution returns the credit of the conversions in the window of req
// by touch source, most credited first, as [DB.Attribution] computes it.
func (c *Client) Attribution(ctx context.Context, req AttributionRequest) (Attribution, error) {
	var out Attribution
	if _, err := c.call(ctx, SubjectAttributionGet, req, &out); err != nil {
		return Attribution{}, err
	}
	return out, nil
}

// DefaultClientTimeout bounds a request whose context has no deadline.
const DefaultClientTimeout = 5 * time.Second

// call sends req to subject and decodes the answer into out. A 404 answer
// is found == false, not an error.
func (c *Client) call(ctx context.Context, subject string, req, out any) (found bool, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultClientTimeout)
		defer cancel()
	}
	data, err := json.Marshal(req)
	if err != nil {
		return false, err
	}
	msg, err := c.nc.RequestWithContext(ctx, subject, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return false, ErrNoStore
	}
	if err != nil {
		return false, fmt.Errorf("store api %s: %w", subject, err)
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		if code == CodeNotFound {
			return false, nil
		}
		return false, &APIError{Code: code, Description: msg.Header.Get(micro.ErrorHeader)}
	}
	if err := json.Unmarshal(msg.Data, out); err != nil {
		return false, fmt.Errorf("store api %s: decode answer: %w", subject, err)
	}
	return true, nil
}
