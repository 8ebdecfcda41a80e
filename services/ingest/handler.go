package ingest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// Publisher stores events in JetStream, returning once the stream has
// acknowledged them. *events.Publisher implements it.
type Publisher interface {
	// PublishAck publishes a CloudEvent with Nats-Msg-Id set to its id.
	PublishAck(ctx context.Context, subject string, ev event.Event) (*jetstream.PubAck, error)
	// PublishMsg publishes a message as it is; quarantined requests are not
	// CloudEvents.
	PublishMsg(ctx context.Context, msg *nats.Msg) (*jetstream.PubAck, error)
}

// Retry-After values, by cause.
const (
	retryBusy        = time.Second      // max_in_flight reached
	retryUnavailable = 2 * time.Second  // JetStream did not acknowledge
	retryDisabled    = 60 * time.Second // a source waiting for its secret
)

// handler serves ingest's HTTP API.
type handler struct {
	sources        map[string]*source
	pub            Publisher
	log            *slog.Logger
	inflight       chan struct{}
	publishTimeout time.Duration
	maxEventBody   int64
	// events decides who may post to POST /events, and what.
	events *eventsAccess
	// connected reports whether the NATS connection is up; a publish is
	// not attempted while it is down.
	connected func() bool
	// quarantineDropped counts failed requests not stored in QUARANTINE
	// because the source's quarantine rate limit was exceeded.
	quarantineDropped *prometheus.CounterVec
	// requests counts answers by source and status; latency times them.
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// HandlerOption adjusts [NewHandler].
type HandlerOption func(*handlerOptions)

type handlerOptions struct {
	conn     *nats.Conn
	registry prometheus.Registerer
}

// WithConn makes the handler answer 503 at once, instead of waiting for the
// publish timeout, while conn is disconnected from NATS.
func WithConn(conn *nats.Conn) HandlerOption {
	return func(o *handlerOptions) { o.conn = conn }
}

// WithRegistry registers the handler's metrics, such as
// gtmhub_ingest_quarantine_dropped_total, with reg.
func WithRegistry(reg prometheus.Registerer) HandlerOption {
	return func(o *handlerOptions) { o.registry = reg }
}

// NewHandler returns ingest's HTTP API publishing through pub:
// POST /webhooks/{source} and POST /events. It fails with every problem of
// cfg, like [Config.Validate]. A nil log discards. cfg.HTTPAddr says whether
// POST /events without a token is open (a loopback address) or closed, which
// is logged as a warning.
func NewHandler(cfg Config, pub Publisher, log *slog.Logger, opts ...HandlerOption) (http.Handler, error) {
	b, err := cfg.prepare()
	if err != nil {
		return nil, err
	}
	return newAPI(cfg, b, pub, log, opts...)
}

// newAPI is [NewHandler] for a configuration already built.
func newAPI(cfg Config, b built, pub Publisher, log *slog.Logger, opts ...HandlerOption) (http.Handler, error) {
	h, err := newHandler(cfg, b, pub, log, opts...)
	if err != nil {
		return nil, err
	}
	if h.events.closed != "" {
		h.log.Warn(h.events.closed, "addr", cfg.HTTPAddr)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/{source}", h.endpoint(h.webhook))
	mux.Handle("/webhooks/{source}", h.endpoint(methodNotAllowed))
	mux.Handle("POST /events", h.endpoint(h.cloudEvent))
	mux.Handle("/events", h.endpoint(methodNotAllowed))
	mux.Handle("/", h.endpoint(notFound))
	return mux, nil
}

func newHandler(cfg Config, b built, pub Publisher, log *slog.Logger, opts ...HandlerOption) (*handler, error) {
	if pub == nil {
		return nil, errors.New("ingest: nil publisher")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var o handlerOptions
	for _, opt := range opts {
		opt(&o)
	}
	h := &handler{
		sources:        make(map[string]*source, len(b.sources)),
		pub:            pub,
		log:            log,
		inflight:       make(chan struct{}, cfg.MaxInFlight),
		publishTimeout: cfg.PublishTimeout,
		maxEventBody:   cfg.MaxEventBody,
		events:         b.access,
		connected:      func() bool { return true },
		quarantineDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gtmhub", Subsystem: "ingest", Name: "quarantine_dropped_total",
			Help: "Requests that failed verification and were not stored in QUARANTINE because of its rate limit.",
		}, []string{"source"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gtmhub", Subsystem: "ingest", Name: "requests_total",
			Help: "Requests answered, by source (a configured source, events, or unknown) and HTTP status.",
		}, []string{"source", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gtmhub", Subsystem: "ingest", Name: "request_seconds",
			Help:    "Time from request to answer (202 means after the PubAck), by source.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"source"}),
	}
	if o.conn != nil {
		h.connected = o.conn.IsConnected
		if err := h.fitBodyLimits(b.sources, cfg, o.conn.MaxPayload()); err != nil {
			return nil, err
		}
	}
	if o.registry != nil {
		if err := h.register(o.registry); err != nil {
			return nil, err
		}
	}
	for _, s := range b.sources {
		h.sources[s.Name] = s
		if s.disabled != "" {
			log.Warn("source disabled", "source", s.Name, "reason", s.disabled)
		}
	}
	return h, nil
}

// fitBodyLimits makes the body limits fit the NATS server's maxPayload
// (see [fitBodyLimits]), logging the defaults it lowers.
func (h *handler) fitBodyLimits(sources []*source, cfg Config, maxPayload int64) error {
	lowered, problems := fitBodyLimits(sources, &h.maxEventBody, cfg.MaxEventBody == DefaultMaxBody, maxPayload)
	if err := problems.Err(); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	for _, l := range lowered {
		h.log.Warn("default body limit lowered to fit the NATS server's max_payload", "limit", l.What,
			"from", l.From, "to", l.To, "max_payload", maxPayload)
	}
	return nil
}

// register adds the handler's collectors to reg, sharing those already
// registered by another handler on the same registry.
func (h *handler) register(reg prometheus.Registerer) error {
	var err error
	if h.quarantineDropped, err = service.Registered(reg, h.quarantineDropped); err != nil {
		return err
	}
	if h.requests, err = service.Registered(reg, h.requests); err != nil {
		return err
	}
	h.latency, err = service.Registered(reg, h.latency)
	return err
}

// observe records one answer; a handler built without metrics records none.
func (h *handler) observe(r *http.Request, status int, d time.Duration) {
	if h.requests == nil || h.latency == nil {
		return
	}
	src := h.metricSource(r)
	h.requests.WithLabelValues(src, strconv.Itoa(status)).Inc()
	h.latency.WithLabelValues(src).Observe(d.Seconds())
}

// metricSource bounds the source label to configured sources.
func (h *handler) metricSource(r *http.Request) string {
	if src := r.PathValue("source"); src != "" {
		if _, ok := h.sources[src]; ok {
			return src
		}
		return "unknown"
	}
	if r.URL.Path == "/events" {
		return "events"
	}
	return "unknown"
}

// accepted is the answer to a request whose event is stored.
type accepted struct {
	ID        string `json:"id"`
	Subject   string `json:"subject"`
	Duplicate bool   `json:"duplicate"`
	// status and body replace 202 and the fields above, for answers that
	// are not one stored event: handshakes and batches.
	status int
	body   any
	// quarantineID is the message id of a request kept in QUARANTINE
	// although answered with success, for the log.
	quarantineID string
}

// apiError is a failed request: what the caller is told, and the cause that
// only the log sees.
type apiError struct {
	Status  int
	Message string
	// Detail is added to Message in the answer but kept out of the log,
	// because it may quote the request body.
	Detail       string
	Fields       []contracts.FieldError
	Details      []Detail
	RetryAfter   time.Duration
	Allow        string // for 405
	Authenticate string // WWW-Authenticate, for 401
	QuarantineID string // the quarantined request's message id, for the log
	// QuarantineDropped says the request was not quarantined: over the
	// source's quarantine rate limit.
	QuarantineDropped bool
	Alert             bool // log at error level whatever the status
	Err               error
}

func (e *apiError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *apiError) Unwrap() error { return e.Err }

// errorBody is the JSON body of every error response: what went wrong, and
// a detail for each problem (each field of a contract violation, each
// missing attribute, each failed event of a batch); fields repeats the
// field problems in the form of the contracts package.
type errorBody struct {
	Error   string                 `json:"error"`
	Details []Detail               `json:"details"`
	Fields  []contracts.FieldError `json:"fields,omitempty"`
}

// Detail is one problem of a failed request.
type Detail struct {
	// Pointer is the JSON pointer of a field of the data, for contract
	// violations.
	Pointer string `json:"pointer,omitempty"`
	// Attribute names a CloudEvents attribute, for invalid events.
	Attribute string `json:"attribute,omitempty"`
	// Index is the position of the event in a batch.
	Index *int `json:"index,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// endpoint adapts fn to http.Handler: it writes the JSON answer and logs
// one line per request, without bodies, addresses or secrets.
func (h *handler) endpoint(fn func(http.ResponseWriter, *http.Request) (accepted, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		res, err := recovered(fn, w, r)
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
		}
		if src := r.PathValue("source"); src != "" {
			attrs = append(attrs, slog.String("source", src))
		}
		level := slog.LevelInfo
		var status int
		if err != nil {
			e := asAPIError(err)
			status = e.Status
			writeError(w, e)
			if e.QuarantineID != "" {
				attrs = append(attrs, slog.String("quarantine_id", e.QuarantineID))
			}
			if e.QuarantineDropped {
				attrs = append(attrs, slog.Bool("quarantine_dropped", true))
			}
			attrs = append(attrs, slog.String("error", events.Redact(e.Error())))
			if len(e.Fields) > 0 {
				attrs = append(attrs, slog.Any("fields", pointers(e.Fields)))
			}
			if status >= http.StatusInternalServerError || e.Alert {
				level = slog.LevelError
			}
		} else {
			status = cmp.Or(res.status, http.StatusAccepted)
			var body any = res
			if res.body != nil {
				body = res.body
			}
			writeJSON(w, status, body)
			if res.ID != "" {
				attrs = append(attrs, slog.String("event_id", res.ID), slog.String("subject", res.Subject),
					slog.Bool("duplicate", res.Duplicate))
			}
			if res.quarantineID != "" {
				attrs = append(attrs, slog.String("quarantine_id", res.quarantineID))
			}
		}
		attrs = append(attrs, slog.Int("status", status), slog.Duration("duration", time.Since(start)))
		h.log.LogAttrs(r.Context(), level, "request", attrs...)
		h.observe(r, status, time.Since(start))
	})
}

// recovered calls fn, turning a panic into a 500 so that even then the
// caller gets a JSON answer and the log a line.
func recovered(fn func(http.ResponseWriter, *http.Request) (accepted, error), w http.ResponseWriter, r *http.Request) (res accepted, err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = &apiError{Status: http.StatusInternalServerError, Message: "internal error", Alert: true,
				Err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())}
		}
	}()
	return fn(w, r)
}

func asAPIError(err error) *apiError {
	var e *apiError
	if errors.As(err, &e) {
		return e
	}
	return &apiError{Status: http.StatusInternalServerError, Message: "internal error", Err: err}
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	if e.Allow != "" {
		w.Header().Set("Allow", e.Allow)
	}
	if e.Authenticate != "" {
		w.Header().Set("WWW-Authenticate", e.Authenticate)
	}
	msg := e.Message
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	details := make([]Detail, 0, len(e.Fields)+len(e.Details))
	for _, f := range e.Fields {
		details = append(details, Detail{Pointer: f.Pointer, Message: f.Message})
	}
	details = append(details, e.Details...)
	writeJSON(w, e.Status, errorBody{Error: msg, Details: details, Fields: e.Fields})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func pointers(fields []contracts.FieldError) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Pointer
	}
	return out
}

func methodNotAllowed(_ http.ResponseWriter, r *http.Request) (accepted, error) {
	return accepted{}, &apiError{Status: http.StatusMethodNotAllowed, Allow: http.MethodPost,
		Message: fmt.Sprintf("method %s is not allowed: use POST", r.Method)}
}

func notFound(_ http.ResponseWriter, r *http.Request) (accepted, error) {
	return accepted{}, &apiError{Status: http.StatusNotFound,
		Message: fmt.Sprintf("no such endpoint %s: use POST /webhooks/{source} or POST /events", r.URL.Path)}
}

// publish stores ev on subject and returns once JetStream has acknowledged
// it. A full in-flight budget or a failed publish is a 503 with Retry-After.
func (h *handler) publish(ctx context.Context, subject string, ev event.Event) (accepted, error) {
	release, err := h.acquire()
	if err != nil {
		return accepted{}, err
	}
	defer release()
	// A caller that hangs up does not cancel a publish half done.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.publishTimeout)
	defer cancel()
	ack, err := h.pub.PublishAck(ctx, subject, ev)
	if err != nil {
		return accepted{}, publishFailed(err)
	}
	return accepted{ID: ev.ID(), Subject: subject, Duplicate: ack.Duplicate}, nil
}

// publishMsg is publish for a message that is not a CloudEvent.
func (h *handler) publishMsg(ctx context.Context, msg *nats.Msg) error {
	release, err := h.acquire()
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.publishTimeout)
	defer cancel()
	if _, err := h.pub.PublishMsg(ctx, msg); err != nil {
		return publishFailed(err)
	}
	return nil
}

// acquire takes one of the max_in_flight publish slots without waiting.
// While NATS is disconnected it fails at once, so that a sender is told to
// retry within moments rather than after the publish timeout.
func (h *handler) acquire() (release func(), err error) {
	if !h.connected() {
		return nil, &apiError{Status: http.StatusServiceUnavailable, RetryAfter: retryUnavailable,
			Message: "the event store is unavailable; retry later", Err: nats.ErrDisconnected}
	}
	select {
	case h.inflight <- struct{}{}:
		return func() { <-h.inflight }, nil
	default:
		return nil, &apiError{Status: http.StatusServiceUnavailable, RetryAfter: retryBusy,
			Message: "too many requests in flight; retry later"}
	}
}

func publishFailed(err error) error {
	if errors.Is(err, nats.ErrMaxPayload) {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Err: err,
			Message: "the event is larger than the message store accepts"}
	}
	return &apiError{Status: http.StatusServiceUnavailable, RetryAfter: retryUnavailable, Err: err,
		Message: "the event could not be stored; retry later"}
}
