package events

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Consumer runs a Handler over a durable pull consumer and turns the
// handler's result into the acknowledgement decision.
type Consumer struct {
	js         jetstream.JetStream
	spec       ConsumerSpec
	handler    Handler
	pub        *Publisher
	o          consumerOptions
	deliveries *deliveryLog
	seed       maphash.Seed // spreads ordering keys over the workers
}

// ConsumerOption configures a [Consumer].
type ConsumerOption func(*consumerOptions)

type consumerOptions struct {
	middleware      []Middleware
	concurrency     int
	batch           int
	backoff         Backoff
	shutdownTimeout time.Duration
	logger          *slog.Logger
	doubleAck       bool
	metrics         *Metrics
	pauses          []pauseRule
	tp              trace.TracerProvider
	prop            propagation.TextMapPropagator
	key             func(jetstream.Msg) string
}

// WithMiddleware wraps the handler; the first middleware runs outermost.
func WithMiddleware(mw ...Middleware) ConsumerOption {
	return func(o *consumerOptions) { o.middleware = append(o.middleware, mw...) }
}

// WithConcurrency sets how many messages are handled at once. Default 4.
func WithConcurrency(n int) ConsumerOption { return func(o *consumerOptions) { o.concurrency = n } }

// WithOrderingKey keeps messages with the same key in order: they are
// handled one at a time, by the same worker, in the order they were
// delivered, while messages with different keys run concurrently on up to
// the consumer's concurrency. Keys are spread over the workers by hash, so
// a worker busy with one key holds the others that hash to it; the rest go
// on until its queue holds a pull batch. Without it any worker takes any
// message.
func WithOrderingKey(key func(jetstream.Msg) string) ConsumerOption {
	return func(o *consumerOptions) { o.key = key }
}

// SubjectKey is an ordering key: the CloudEvent subject of the message (a
// contact's, a company's), so the changes to one record are handled in turn.
func SubjectKey(m jetstream.Msg) string { return m.Headers().Get(HeaderPrefix + "subject") }

// WithBatch sets how many messages are pulled ahead. Default 2×concurrency.
func WithBatch(n int) ConsumerOption { return func(o *consumerOptions) { o.batch = n } }

// WithBackoff sets the redelivery delay after a plain handler error.
// Default ExponentialBackoff(1s, 5m).
func WithBackoff(b Backoff) ConsumerOption { return func(o *consumerOptions) { o.backoff = b } }

// WithShutdownTimeout bounds how long Run waits for in-flight handlers after
// its context is cancelled; handlers still running then see their context
// cancelled and their messages are returned for redelivery. Default 10s.
func WithShutdownTimeout(d time.Duration) ConsumerOption {
	return func(o *consumerOptions) { o.shutdownTimeout = d }
}

// WithLogger sets the logger for settlement failures and dead letters.
func WithLogger(l *slog.Logger) ConsumerOption { return func(o *consumerOptions) { o.logger = l } }

// WithDoubleAck waits for the server to confirm every ack, for handlers whose
// side effects must not be repeated by a redelivery after a lost ack.
func WithDoubleAck() ConsumerOption { return func(o *consumerOptions) { o.doubleAck = true } }

// WithMetrics records outcomes and handler latency in m.
func WithMetrics(m *Metrics) ConsumerOption { return func(o *consumerOptions) { o.metrics = m } }

// WithConsumerTracing sets the tracer provider and propagator used for the
// dead-letter publish. Process spans come from the [Tracing] middleware.
func WithConsumerTracing(tp trace.TracerProvider, p propagation.TextMapPropagator) ConsumerOption {
	return func(o *consumerOptions) { o.tp, o.prop = tp, p }
}

// NewConsumer validates spec and returns a runner for it. Call Run to start.
func NewConsumer(js jetstream.JetStream, spec ConsumerSpec, h Handler, opts ...ConsumerOption) (*Consumer, error) {
	if js == nil || h == nil {
		return nil, errors.New("events: NewConsumer needs a JetStream and a handler")
	}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("consumer %s: %w", spec.Durable, err)
	}
	o := consumerOptions{concurrency: 4, backoff: ExponentialBackoff(time.Second, 5*time.Minute),
		shutdownTimeout: 10 * time.Second, logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	o.concurrency = max(o.concurrency, 1)
	if o.batch <= 0 {
		o.batch = 2 * o.concurrency
	}
	pub, err := NewPublisher(js, WithTracerProvider(o.tp), WithPropagator(o.prop), WithPublishMetrics(o.metrics))
	if err != nil {
		return nil, err
	}
	c := &Consumer{js: js, spec: spec.withDefaults(), handler: Chain(h, o.middleware...), pub: pub,
		o: o, deliveries: newDeliveryLog(), seed: maphash.MakeSeed()}
	o.metrics.declare(c.spec.Durable, c.spec.replaySpec().Durable)
	return c, nil
}

const (
	// fetchExpiry is how long a pull request waits on the server. It
	// bounds a shutdown while idle, and a request the server lost without
	// telling the client (nats-io/nats.go#1622, seen as 15-25 s stalls with
	// the iterator's 30 s default), since the client gives a request up a
	// second after its expiry.
	fetchExpiry = time.Second
	// pullRetryDelay is the first pause after a pull the server or the
	// connection failed; it doubles while they keep failing.
	pullRetryDelay    = 250 * time.Millisecond
	pullRetryMaxDelay = 5 * time.Second
	// consumerGoneAfter is how long the server must keep saying a consumer
	// does not exist before Run believes it. In a cluster the answer can
	// be "not found" for a moment while a member that was just given the
	// consumer has not started it yet, as after a leader dies.
	consumerGoneAfter    = 5 * time.Second
	consumerGoneInterval = 250 * time.Millisecond
)

// Spec returns the consumer's declaration with defaults applied.
func (c *Consumer) Spec() ConsumerSpec { return c.spec }

// Run creates or updates the durable consumer, and its replay companion on
// the REPLAY stream, and processes messages from both until ctx is cancelled.
// It then stops pulling, reads its last pull requests to their end (up to
// two seconds), lets in-flight handlers finish within the shutdown timeout,
// returns unprocessed messages for immediate redelivery, and returns nil.
// It returns an error if a consumer cannot be bound, or if one disappears
// (the server says so for five seconds in a row) or the connection closes
// while it runs.
func (c *Consumer) Run(ctx context.Context) error {
	var consumers []jetstream.Consumer
	for _, spec := range []ConsumerSpec{c.spec, c.spec.replaySpec()} {
		cons, err := c.bind(ctx, spec)
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped while starting, which is no failure
			}
			return err
		}
		consumers = append(consumers, cons)
	}
	unwatch := c.watchBreakers(ctx)
	defer unwatch()

	handlerCtx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	stopHandlers := context.AfterFunc(ctx, func() { time.AfterFunc(c.o.shutdownTimeout, cancelHandlers) })
	defer stopHandlers()

	returned := returns{metrics: c.o.metrics, consumer: c.spec.Durable}
	queues := c.queues()
	var workers sync.WaitGroup
	for _, q := range queues {
		for range c.o.concurrency / len(queues) {
			workers.Go(func() {
				for m := range q {
					c.process(handlerCtx, m, &returned)
				}
			})
		}
	}
	errs := make([]error, len(consumers))
	pullCtx, stopPulling := context.WithCancel(ctx)
	defer stopPulling()
	var pullers sync.WaitGroup
	for i, cons := range consumers {
		pullers.Go(func() {
			errs[i] = c.pull(pullCtx, cons, func(m jetstream.Msg) {
				queues[c.queue(m, len(queues))] <- held{Msg: m, stop: c.keepAlive(m)}
			})
			if errs[i] != nil {
				stopPulling() // one consumer gone stops the other, and Run reports it
			}
		})
	}
	pullers.Wait()
	// No pull request is open any more, so what is handed back now goes
	// to another instance instead of straight back to this one.
	returned.release()
	for _, q := range queues {
		close(q)
	}
	workers.Wait()
	// Acks and naks are sent without waiting for the server; a round trip
	// makes sure it has them all before Run returns, so that nothing of
	// what Run settled waits for the AckWait.
	if err := c.js.Conn().FlushTimeout(c.o.shutdownTimeout); err != nil {
		c.o.logger.Warn("flush settled messages", "consumer", c.spec.Durable, "err", err)
	}
	return errors.Join(errs...)
}

// pullSize is how many messages one pull request asks for: half the batch,
// the other half waiting in the shared queue meanwhile.
func (o consumerOptions) pullSize() int { return (o.batch + 1) / 2 }

// held is a message this instance holds, queued or being handled, and the
// stop of its keep-alive: a message waiting its turn behind slow handlers
// is kept from redelivery as much as the one being handled.
type held struct {
	jetstream.Msg
	stop func()
}

// queues returns the queues workers take messages from: one shared by all
// of them, or one per worker when messages are ordered by key. The shared
// queue holds what the batch leaves beside a pull request. A keyed queue
// holds up to a batch, so one busy worker does not stop the puller from
// feeding the others until its queue is full.
func (c *Consumer) queues() []chan held {
	if c.o.key == nil {
		return []chan held{make(chan held, c.o.batch-c.o.pullSize())}
	}
	qs := make([]chan held, c.o.concurrency)
	for i := range qs {
		qs[i] = make(chan held, c.o.batch)
	}
	return qs
}

// queue picks the queue for m: the same one for every message with m's key.
func (c *Consumer) queue(m jetstream.Msg, n int) int {
	if n == 1 {
		return 0
	}
	return int(maphash.String(c.seed, c.o.key(m)) % uint64(n))
}

// bind creates or updates the consumer, retrying for up to a minute while
// the cluster answers with timeouts (a leader election, a busy meta leader).
func (c *Consumer) bind(ctx context.Context, spec ConsumerSpec) (jetstream.Consumer, error) {
	deadline := time.Now().Add(time.Minute)
	for attempt := 1; ; attempt++ {
		cons, err := c.js.CreateOrUpdateConsumer(ctx, spec.Stream, spec.jetstreamConfig())
		if err == nil {
			return cons, nil
		}
		if !retryablePublish(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("bind consumer %s/%s: %w", spec.Stream, spec.Durable, err)
		}
		c.o.logger.Warn("bind consumer: retrying", "consumer", spec.Durable, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bind consumer %s/%s: %w", spec.Stream, spec.Durable, ctx.Err())
		case <-time.After(ExponentialBackoff(200*time.Millisecond, 5*time.Second)(attempt)):
		}
	}
}

// pull feeds messages to the workers until ctx is done and the last
// request sent has ended, or until the consumer is gone. It sends its pull
// requests itself rather than through the client's message iterator, which
// keeps a request open and can send another after it was told to drain: a
// message the server delivers on such a request once the inbox is gone
// waits for the AckWait. One request is open at a time: the server spreads
// messages over a consumer's open requests, and one inbox per request
// could not put them back in order. The next request goes out once the
// current one has ended and its messages are queued, while the workers
// still have them to take.
func (c *Consumer) pull(ctx context.Context, cons jetstream.Consumer, dispatch func(jetstream.Msg)) error {
	failures := 0
	for ctx.Err() == nil {
		b, err := cons.Fetch(c.o.pullSize(), jetstream.FetchMaxWait(fetchExpiry))
		if err == nil {
			for m := range b.Messages() {
				dispatch(m)
			}
			err = b.Error()
		}
		if err == nil {
			failures = 0
			continue
		}
		failures++
		if err := c.pullFailed(ctx, cons, err, failures); err != nil {
			return err
		}
	}
	return nil
}

// pullFailed returns an error if pulling cannot go on: the consumer or the
// connection is gone while ctx is live. Otherwise it logs err and waits,
// longer after each failure in a row, before the next pull.
func (c *Consumer) pullFailed(ctx context.Context, cons jetstream.Consumer, err error, failures int) error {
	if ctx.Err() != nil {
		return nil
	}
	deleted := errors.Is(err, jetstream.ErrConsumerDeleted)
	if deleted || errors.Is(err, nats.ErrNoResponders) {
		// Either the server said the consumer was deleted under an open
		// pull, or no pull was open when it went away and nobody was told:
		// ask whether it is gone for good, or back (created again by a
		// deployment, say) within the grace period.
		if gone := consumerGone(ctx, cons); gone != nil {
			err = gone
		} else if deleted {
			c.o.logger.WarnContext(ctx, "consumer was deleted and is back", "consumer", c.spec.Durable)
			return nil
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("consumer %s was deleted while running (starting the service again creates it): %w",
			c.spec.Durable, err)
	case errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionDraining):
		return fmt.Errorf("consumer %s: %w", c.spec.Durable, err)
	}
	level := slog.LevelWarn
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrConsumerLeadershipChanged) {
		level = slog.LevelDebug // a leader election, over by the next pull
	}
	c.o.logger.Log(ctx, level, "pull consumer", "consumer", c.spec.Durable, "failures", failures, "err", err)
	select {
	case <-ctx.Done():
	case <-time.After(ExponentialBackoff(pullRetryDelay, pullRetryMaxDelay)(failures)):
	}
	return nil
}

// consumerGone asks the server whether cons still exists. It returns the
// server's "not found" once it has held for consumerGoneAfter, and nil as
// soon as the consumer answers, anything else comes back or ctx is done.
func consumerGone(ctx context.Context, cons jetstream.Consumer) error {
	deadline := time.Now().Add(consumerGoneAfter)
	for {
		_, err := cons.Info(ctx)
		if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(consumerGoneInterval):
		}
	}
}

func (c *Consumer) process(ctx context.Context, h held, returned *returns) {
	m := h.Msg
	defer h.stop()
	md, err := m.Metadata()
	if err != nil {
		c.o.logger.Error("message without JetStream metadata", "consumer", c.spec.Durable, "err", err)
		_ = m.Nak()
		return
	}
	start := time.Now()
	d := Delivery{Service: c.spec.Service, Consumer: c.spec.Durable, Stream: md.Stream, Subject: m.Subject(),
		Sequence: md.Sequence.Stream, Attempt: int(md.NumDelivered), MaxDeliver: c.spec.MaxDeliver,
		Published: md.Timestamp}
	d.FirstDelivered = c.deliveries.firstDelivered(d, start)
	if c.spec.RetryFor > 0 {
		d.RetryUntil = d.FirstDelivered.Add(c.spec.RetryFor)
	}
	if orig := m.Headers().Get(HeaderReplaySubject); orig != "" && md.Stream == StreamReplay {
		d.Subject = orig
	}
	d.Replay = m.Headers().Get(HeaderPrefix+ExtensionReplay) == "true"
	d.SideEffects = m.Headers().Get(HeaderPrefix+ExtensionSideEffects) == "true"
	if ctx.Err() != nil {
		returned.add(m)
		return
	}
	ev, herr := Decode(m.Headers(), m.Data())
	if herr != nil {
		herr = Permanent(herr)
	} else {
		herr = c.call(WithDelivery(ctx, d), ev)
		h.stop()
	}
	c.o.metrics.handled(d.Consumer, time.Since(start))
	if herr == nil {
		c.o.metrics.eventAge(d.Consumer, ev.Time())
	}
	if ctx.Err() != nil && errors.Is(herr, context.Canceled) {
		returned.add(m) // shutting down: another instance takes it
		return
	}
	c.settle(ctx, m, d, ev, herr)
}

// returns holds the messages a stopping consumer hands back until its pull
// requests have ended: naked while one is open, a message would come straight
// back to the same instance, be handed back again and use up its deliveries.
// Once released, what is handed back is naked at once.
type returns struct {
	mu       sync.Mutex
	msgs     []jetstream.Msg
	released bool
	metrics  *Metrics
	consumer string
}

func (r *returns) add(m jetstream.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		r.nak(m)
		return
	}
	r.msgs = append(r.msgs, m)
}

// release hands every held message back for immediate redelivery, and
// every later one as it comes.
func (r *returns) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		r.nak(m)
	}
	r.msgs, r.released = nil, true
}

func (r *returns) nak(m jetstream.Msg) {
	_ = m.Nak()
	r.metrics.outcome(r.consumer, outcomeReturned)
}

// call runs the handler chain, turning a panic into an error.
func (c *Consumer) call(ctx context.Context, ev event.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
			c.o.logger.Error("handler panic", "consumer", c.spec.Durable, "event_id", ev.ID(),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	return c.handler(ctx, ev)
}

// keepAlive tells the server the message is still being worked on while
// this instance holds it, queued or handled, past half the AckWait. Most
// messages are settled long before, so nothing runs until then: no
// goroutine or ticker per message.
func (c *Consumer) keepAlive(m jetstream.Msg) (stop func()) {
	every := c.spec.AckWait / 2
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	mu.Lock()
	t = time.AfterFunc(every, func() {
		_ = m.InProgress()
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			t.Reset(every)
		}
	})
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// settle acknowledges, redelivers or dead-letters m according to herr.
func (c *Consumer) settle(ctx context.Context, m jetstream.Msg, d Delivery, ev event.Event, herr error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	switch {
	case herr == nil:
		c.deliveries.forget(d)
		c.ack(sctx, m, d)
	case IsPermanent(herr) || d.Last():
		c.deadLetter(sctx, m, d, ev, herr)
	default:
		c.deliveries.failed(d, time.Now())
		delay, ok := RetryDelay(herr)
		if !ok {
			delay = c.o.backoff(d.Attempt)
		}
		if err := m.NakWithDelay(delay); err != nil {
			c.o.logger.Warn("nak", "consumer", d.Consumer, "seq", d.Sequence, "err", err)
		}
		c.o.metrics.outcome(d.Consumer, outcomeRetried)
	}
}

func (c *Consumer) ack(ctx context.Context, m jetstream.Msg, d Delivery) {
	var err error
	if c.o.doubleAck {
		err = m.DoubleAck(ctx)
	} else {
		err = m.Ack()
	}
	if err != nil {
		c.o.logger.Warn("ack", "consumer", d.Consumer, "seq", d.Sequence, "err", err)
		return
	}
	c.o.metrics.outcome(d.Consumer, outcomeAcked)
}
