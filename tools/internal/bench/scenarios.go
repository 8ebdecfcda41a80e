package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// scenarios are the measurements of a run, in the order they run.
func scenarios(cfg Config) []scenario {
	all := []scenario{
		{name: "ceiling/http", what: "bare net/http handler: read body, answer 202 (H)", run: runHTTP},
		{name: "ceiling/http+jetstream", what: "bare handler: publish body with a dedup id, 202 after the PubAck (HJ)", baseline: "ceiling/http", run: runHTTPJetStream},
		{name: "ceiling/http+jetstream/latency", what: "HJ latency at half its peak, open loop", run: runHTTPJetStreamLatency},
		{name: "ceiling/jetstream-publish", what: "raw JetStream async publish, file storage (J)", run: runJSPublish},
		{name: "ceiling/jetstream-consume", what: "raw durable pull consume + ack (J)", run: runJSConsume},
		{name: "ceiling/pipeline-hops", what: "the pipeline's hops by hand: HTTP, PubAcks, deliveries, KV, provider calls, SQLite (P)", baseline: "ceiling/http+jetstream", run: runPipelineHops},
		{name: "ingest", what: "gtmhub ingest: verified webhook POST → validated CloudEvent → 202 after PubAck", baseline: "ceiling/http+jetstream", run: runIngest},
		{name: "ingest/latency", what: "ingest latency at half its peak, open loop (p99 target < 10ms)", run: runIngestLatency},
		{name: "pipeline", what: "webhook → enrich → store row → change event → notify decision, leads/s", baseline: "ceiling/http+jetstream", run: runPipeline},
		{name: "pipeline/latency", what: "end-to-end latency at a fixed offered load (open loop)", run: runPipelineLatency},
		{name: "replay", what: "replay feed: events read from LEADS by time and handed to the store's replay consumer", baseline: "ceiling/jetstream-consume", run: runReplay},
		{name: "replay/store", what: "replay into the store: events/s until the store has re-processed every one", run: runReplayStore},
	}
	// After the replays, which would replay every lead the steps add.
	all = append(all, scaleSteps(cfg.Scale)...)
	return append(all, []scenario{
		// Last: they stop gtmhub, whose store shares their consumer.
		{name: "store", what: "gtmhub store on SQLite: enriched leads → merged rows, provenance, outbox, change events", baseline: "ceiling/jetstream-consume", run: runStoreSQLite},
		{name: "store/postgres", what: "the same on PostgreSQL (--postgres-url), in a scratch schema", baseline: "ceiling/jetstream-consume", run: runStorePostgres,
			skip: needsPostgres},
	}...)
}

// serveLoopback serves h on a loopback port until the returned stop.
func serveLoopback(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// httpRun drives n POSTs of a lead at url and reports throughput and latency.
func httpRun(ctx context.Context, e *env, p Progress, name, url string, secret bool) (Result, error) {
	n := e.cfg.Events
	bodies := make([][]byte, n)
	run := uuid.NewString()[:8]
	for i := range bodies {
		bodies[i] = e.lead(run, i)
	}
	lat, elapsed, err := closedLoop(ctx, n, e.cfg.Concurrency, func(i int) error {
		return e.post(ctx, url, bodies[i], secret)
	}, func(done int) { p(name, done, n) })
	if err != nil {
		return Result{}, err
	}
	p50, p99, p999 := percentiles(lat)
	return Result{Ops: n, Elapsed: elapsed, P50: p50, P99: p99, P999: p999}, nil
}

func runHTTP(ctx context.Context, e *env, p Progress) (Result, error) {
	url, stop, err := serveLoopback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	if err != nil {
		return Result{}, err
	}
	defer stop()
	return httpRun(ctx, e, p, "ceiling/http", url, false)
}

func runHTTPJetStream(ctx context.Context, e *env, p Progress) (Result, error) {
	url, stop, err := serveLoopback(hjHandler(e))
	if err != nil {
		return Result{}, err
	}
	defer stop()
	r, err := httpRun(ctx, e, p, "ceiling/http+jetstream", url, false)
	e.hjPeak = float64(r.Ops) / r.Elapsed.Seconds()
	return r, err
}

// runHTTPJetStreamLatency is HJ's latency at half its peak, open loop: the
// tail the machine and the NATS server give any receiver at that load.
func runHTTPJetStreamLatency(ctx context.Context, e *env, p Progress) (Result, error) {
	url, stop, err := serveLoopback(hjHandler(e))
	if err != nil {
		return Result{}, err
	}
	defer stop()
	return latencyRun(ctx, e, p, "ceiling/http+jetstream/latency", url, halfOr(e.hjPeak, e.cfg.Rate), false)
}

// halfOr is half of peak, or rate when the peak was not measured.
func halfOr(peak, rate float64) float64 {
	if peak > 0 {
		return peak / 2
	}
	return rate
}

// hjHandler publishes the body with a dedup id and answers 202 after the
// PubAck: the least any webhook receiver on NATS can do.
func hjHandler(e *env) http.Handler { return hjHandlerOn(e.js, "bench.hj") }

// hjHandlerOn is hjHandler publishing with js on subject.
func hjHandlerOn(js jetstream.JetStream, subject string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{"Nats-Msg-Id": {uuid.NewString()}}}
		if _, err := js.PublishMsg(r.Context(), msg); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
}

func runJSPublish(ctx context.Context, e *env, p Progress) (Result, error) {
	n := e.cfg.Events
	start := time.Now()
	if err := publishJ(ctx, e, n, func(i int) { p("ceiling/jetstream-publish", i, n) }); err != nil {
		return Result{}, err
	}
	return Result{Ops: n, Elapsed: time.Since(start)}, nil
}

// publishJ publishes n leads to bench.j asynchronously and waits for every
// PubAck. When the server acknowledges slower than the client publishes (it
// syncs every write, say), publishing waits for the outstanding ones.
func publishJ(ctx context.Context, e *env, n int, progress func(done int)) error {
	body := e.lead("j", 0)
	failed := e.asyncFailed.Load()
	for i := range n {
		msg := &nats.Msg{Subject: "bench.j", Data: body, Header: nats.Header{"Nats-Msg-Id": {uuid.NewString()}}}
		_, err := e.js.PublishMsgAsync(msg)
		for errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			if err := asyncComplete(ctx, e.js); err != nil {
				return err
			}
			_, err = e.js.PublishMsgAsync(msg)
		}
		if err != nil {
			return err
		}
		if i%1000 == 0 {
			progress(i)
		}
	}
	if err := asyncComplete(ctx, e.js); err != nil {
		return err
	}
	if f := e.asyncFailed.Load() - failed; f > 0 {
		return fmt.Errorf("%d of %d publishes were not acknowledged", f, n)
	}
	return nil
}

// asyncComplete waits until js has no asynchronous publish outstanding.
func asyncComplete(ctx context.Context, js jetstream.JetStream) error {
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func runJSConsume(ctx context.Context, e *env, p Progress) (Result, error) {
	n := e.cfg.Events
	cons, err := e.js.CreateOrUpdateConsumer(ctx, benchStream, jetstream.ConsumerConfig{Durable: "bench-consume",
		FilterSubject: "bench.j", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4096})
	if err != nil {
		return Result{}, err
	}
	// Without the publish ceiling before it (--only), the consumer has
	// nothing to read: publish what is missing first, untimed.
	info, err := cons.Info(ctx)
	if err != nil {
		return Result{}, err
	}
	if missing := n - int(info.NumPending); missing > 0 {
		name := "ceiling/jetstream-consume (publishing)"
		if err := publishJ(ctx, e, missing, func(i int) { p(name, i, missing) }); err != nil {
			return Result{}, err
		}
	}
	var got atomic.Int64
	all := make(chan struct{})
	m := startMeter()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		if got.Add(1) == int64(n) {
			close(all)
		}
	}, jetstream.PullMaxMessages(1024))
	if err != nil {
		return Result{}, err
	}
	defer cc.Stop()
	stop := ticker(func() { p("ceiling/jetstream-consume", int(got.Load()), n) })
	defer stop()
	select {
	case <-all:
	case <-time.After(e.patience()):
		return Result{}, fmt.Errorf("consumed %d of %d", got.Load(), n)
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	return m.result(n), nil
}

// runIngest measures ingest on its own, as HJ is measured: the pipeline's
// consumers are paused while the webhooks come in (so enrich, store and
// notify do not share the cores with it) and resumed after, and the run
// waits for them to catch up before the next scenario.
func runIngest(ctx context.Context, e *env, p Progress) (Result, error) {
	r, err := ingestAlone(ctx, e, func(url string) (Result, error) {
		m := startMeter()
		r, err := httpRun(ctx, e, p, "ingest", url, true)
		m.spend(&r, r.Ops)
		return r, err
	})
	if err == nil {
		e.ingestPeak = float64(r.Ops) / r.Elapsed.Seconds()
	}
	return r, err
}

// runIngestLatency offers signed webhooks at half the rate the ingest
// scenario reached (the --rate flag when it did not run), open loop, with
// the pipeline's consumers paused as for ingest.
func runIngestLatency(ctx context.Context, e *env, p Progress) (Result, error) {
	return ingestAlone(ctx, e, func(url string) (Result, error) {
		return latencyRun(ctx, e, p, "ingest/latency", url, halfOr(e.ingestPeak, e.cfg.Rate), true)
	})
}

// ingestAlone runs measure against ingest's webhook URL with the pipeline's
// consumers paused, then resumes them and waits until they caught up.
func ingestAlone(ctx context.Context, e *env, measure func(url string) (Result, error)) (Result, error) {
	a, err := e.gtmhub(ctx)
	if err != nil {
		return Result{}, err
	}
	resume, err := pauseConsumers(ctx, e.js, pipelineConsumers)
	if err != nil {
		return Result{}, err
	}
	r, err := measure("http://" + a.HTTP + "/webhooks/" + benchSource)
	if err := errors.Join(err, resume()); err != nil {
		return Result{}, err
	}
	return r, waitConsumersIdle(ctx, e.js, pipelineConsumers, e.patience())
}

// latencyRun posts leads to url at rate, open loop, and times each answer
// from when its request was due.
func latencyRun(ctx context.Context, e *env, p Progress, name, url string, rate float64, secret bool) (Result, error) {
	run := uuid.NewString()[:8]
	warm := warmupCalls(rate)
	lat := make([]time.Duration, warm+int(rate*e.cfg.Duration.Seconds())+1)
	var done atomic.Int64
	stop := ticker(func() { p(name, int(done.Load()), len(lat)) })
	defer stop()
	m := startMeter()
	sent, err := openLoop(ctx, rate, warmup+e.cfg.Duration, e.cfg.Concurrency, func(i int, at time.Time) error {
		err := e.post(ctx, url, e.lead(run, i), secret)
		if i >= warm && i < len(lat) {
			lat[i] = time.Since(at)
		}
		done.Add(1)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	measured := lat[warm:max(warm, min(sent, len(lat)))]
	p50, p99, p999 := percentiles(measured)
	r := Result{Ops: len(measured), Elapsed: e.cfg.Duration, PerSecond: rate, P50: p50, P99: p99, P999: p999}
	m.spend(&r, sent)
	return r, nil
}

// consumer names a durable consumer.
type consumer struct{ stream, name string }

// pipelineConsumers are the durable consumers that carry a lead from
// capture to its notify decision.
var pipelineConsumers = []consumer{{"LEADS", "enrich"}, {"LEADS", "store"}, {"RECORDS", "notify"}}

// storeReplay is the store's consumer of replays addressed to it.
var storeReplay = []consumer{{"REPLAY", "store-replay"}}

// pauseConsumers pauses consumers for up to an hour and returns the
// function that resumes them.
func pauseConsumers(ctx context.Context, js jetstream.JetStream, consumers []consumer) (resume func() error, err error) {
	resume = func() error {
		var errs []error
		for _, c := range consumers {
			if _, err := js.ResumeConsumer(context.WithoutCancel(ctx), c.stream, c.name); err != nil {
				errs = append(errs, fmt.Errorf("resume %s: %w", c.name, err))
			}
		}
		return errors.Join(errs...)
	}
	for _, c := range consumers {
		if _, err := js.PauseConsumer(ctx, c.stream, c.name, time.Now().Add(time.Hour)); err != nil {
			return nil, errors.Join(fmt.Errorf("pause %s: %w", c.name, err), resume())
		}
	}
	return resume, nil
}

// waitConsumersIdle waits until consumers exist and have nothing pending.
// gtmhub's services bind their consumers as they start, just after the
// stack reports ready, so one not there yet is waited for too.
func waitConsumersIdle(ctx context.Context, js jetstream.JetStream, consumers []consumer, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var waiting []string
		for _, c := range consumers {
			busy, err := consumerBusy(ctx, js, c)
			if err != nil {
				return err
			}
			if busy {
				waiting = append(waiting, c.name)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("consumers %s still busy or missing after %v", strings.Join(waiting, ", "), timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// consumerBusy reports whether c has messages pending or unacknowledged,
// or does not exist yet.
func consumerBusy(ctx context.Context, js jetstream.JetStream, c consumer) (bool, error) {
	n, found, err := consumerBacklog(ctx, js, c)
	return !found || n > 0, err
}

// consumerBacklog is how many messages c has pending or unacknowledged;
// found is false while c or its stream does not exist.
func consumerBacklog(ctx context.Context, js jetstream.JetStream, c consumer) (n int, found bool, err error) {
	cons, err := js.Consumer(ctx, c.stream, c.name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, true, err
	}
	return int(info.NumPending) + info.NumAckPending, true, nil
}
