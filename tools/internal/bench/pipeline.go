package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/tools/internal/replay"
)

// runPipeline posts --events leads as fast as the clients can and measures
// until notify has decided on every one of them.
func runPipeline(ctx context.Context, e *env, p Progress) (Result, error) {
	return pipelineRun(ctx, e, p, "pipeline", e.cfg.Events)
}

// ScalePrefix begins the names of the pipeline/scale steps, which end with
// the step's number of leads.
const ScalePrefix = "pipeline/scale/"

// scaleSteps are the pipeline/scale scenarios of sizes, each step the
// pipeline with that many leads, measured on the stack and the stores the
// scenarios before it left.
func scaleSteps(sizes []int) []scenario {
	steps := make([]scenario, 0, len(sizes))
	for _, n := range sizes {
		name := ScalePrefix + strconv.Itoa(n)
		steps = append(steps, scenario{name: name, baseline: "ceiling/http+jetstream",
			what: fmt.Sprintf("the pipeline with %d more leads, on the data of every step before", n),
			run: func(ctx context.Context, e *env, p Progress) (Result, error) {
				return pipelineRun(ctx, e, p, name, n)
			}})
	}
	return steps
}

// pipelineRun posts n leads as fast as the clients can and measures until
// notify has decided on every one of them.
func pipelineRun(ctx context.Context, e *env, p Progress, name string, n int) (Result, error) {
	a, err := e.gtmhub(ctx)
	if err != nil {
		return Result{}, err
	}
	if err := waitConsumersIdle(ctx, e.js, pipelineConsumers, e.patienceFor(n)); err != nil {
		return Result{}, err
	}
	var decided atomic.Int64
	all := make(chan struct{})
	sub, err := e.nc.Subscribe("gtm.notify.>", func(*nats.Msg) {
		if decided.Add(1) == int64(n) {
			close(all)
		}
	})
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	run := uuid.NewString()[:8]
	url := "http://" + a.HTTP + "/webhooks/" + benchSource
	start := time.Now()
	stop := ticker(func() { p(name, int(decided.Load()), n) })
	defer stop()
	if _, _, err := closedLoop(ctx, n, e.cfg.Concurrency, func(i int) error {
		return e.post(ctx, url, e.lead(run, i), true)
	}, func(int) {}); err != nil {
		return Result{}, err
	}
	select {
	case <-all:
	case <-time.After(e.patienceFor(n)):
		return Result{}, fmt.Errorf("notify decided on %d of %d leads", decided.Load(), n)
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	return Result{Ops: n, Elapsed: time.Since(start)}, nil
}

// flow follows leads through the change feed to their notify decision.
type flow struct {
	mu        sync.Mutex
	scheduled map[string]time.Time // email → when its webhook was due
	byEvent   map[string]string    // contact change event id → email
	early     map[string]time.Time // decisions seen before their change event
	lat       []time.Duration
	done      chan struct{}
	want      int
}

func (f *flow) onRecord(m *nats.Msg) {
	var d struct {
		Contact struct {
			Email string `json:"email"`
		} `json:"contact"`
	}
	if json.Unmarshal(m.Data, &d) != nil {
		return
	}
	id := m.Header.Get("ce-id")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byEvent[id] = d.Contact.Email
	if at, ok := f.early[id]; ok {
		delete(f.early, id)
		f.decided(id, at)
	}
}

func (f *flow) onDecision(m *nats.Msg) {
	var d struct {
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(m.Data, &d) != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.byEvent[d.EventID]; !ok {
		f.early[d.EventID] = time.Now()
		return
	}
	f.decided(d.EventID, time.Now())
}

// decided records the latency of the lead behind change event id; f.mu held.
func (f *flow) decided(id string, when time.Time) {
	email := f.byEvent[id]
	at, ok := f.scheduled[email]
	if !ok {
		return
	}
	delete(f.scheduled, email)
	f.lat = append(f.lat, when.Sub(at))
	if len(f.lat) == f.want {
		close(f.done)
	}
}

// runPipelineLatency offers leads at a fixed rate and measures each one from
// the moment it was due to its notify decision.
func runPipelineLatency(ctx context.Context, e *env, p Progress) (Result, error) {
	a, err := e.gtmhub(ctx)
	if err != nil {
		return Result{}, err
	}
	if err := waitConsumersIdle(ctx, e.js, pipelineConsumers, e.patience()); err != nil {
		return Result{}, err
	}
	warm := warmupCalls(e.cfg.Rate)
	want := int(e.cfg.Rate * e.cfg.Duration.Seconds())
	f := &flow{scheduled: map[string]time.Time{}, byEvent: map[string]string{}, early: map[string]time.Time{}, done: make(chan struct{}), want: want}
	for subj, fn := range map[string]nats.MsgHandler{"gtm.records.contact.created": f.onRecord, "gtm.notify.>": f.onDecision} {
		sub, err := e.nc.Subscribe(subj, fn)
		if err != nil {
			return Result{}, err
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	run := uuid.NewString()[:8]
	url := "http://" + a.HTTP + "/webhooks/" + benchSource
	stop := ticker(func() { f.mu.Lock(); n := len(f.lat); f.mu.Unlock(); p("pipeline/latency", n, want) })
	defer stop()
	start := time.Now()
	sent, err := openLoop(ctx, e.cfg.Rate, warmup+e.cfg.Duration, e.cfg.Concurrency, func(i int, at time.Time) error {
		if i < warm {
			return e.post(ctx, url, e.lead(run, i), true)
		}
		f.mu.Lock()
		f.scheduled[leadEmail(run, i)] = at
		f.mu.Unlock()
		return e.post(ctx, url, e.lead(run, i), true)
	})
	if err != nil {
		return Result{}, err
	}
	sent -= warm
	if sent != want {
		f.mu.Lock()
		f.want = sent
		f.mu.Unlock()
	}
	select {
	case <-f.done:
	case <-time.After(2 * time.Minute):
		f.mu.Lock()
		defer f.mu.Unlock()
		return Result{}, fmt.Errorf("%d of %d leads reached a decision (%d change events seen, %d decisions without one)",
			len(f.lat), sent, len(f.byEvent), len(f.early))
	}
	p50, p99, p999 := percentiles(f.lat)
	return Result{Ops: sent, Elapsed: time.Since(start), PerSecond: e.cfg.Rate, P50: p50, P99: p99, P999: p999}, nil
}

// runReplay measures the replay feed alone, as J consume is measured: the
// store's replay consumer is paused while the replay runs, then resumed and
// drained before the next scenario.
func runReplay(ctx context.Context, e *env, p Progress) (Result, error) {
	if err := replayReady(ctx, e, p, "replay"); err != nil {
		return Result{}, err
	}
	resume, err := pauseConsumers(ctx, e.js, storeReplay)
	if err != nil {
		return Result{}, err
	}
	r, err := replayAll(ctx, e, p, "replay")
	if err := errors.Join(err, resume()); err != nil {
		return Result{}, err
	}
	return r, waitConsumersIdle(ctx, e.js, storeReplay, 2*e.patience())
}

// runReplayStore replays LEADS to the store and measures until the store
// has re-processed every replayed event.
func runReplayStore(ctx context.Context, e *env, p Progress) (Result, error) {
	if err := replayReady(ctx, e, p, "replay/store"); err != nil {
		return Result{}, err
	}
	m := startMeter()
	r, err := replayAll(ctx, e, p, "replay/store")
	if err != nil {
		return Result{}, err
	}
	if err := waitConsumersIdle(ctx, e.js, storeReplay, 2*e.patience()); err != nil {
		return Result{}, err
	}
	return m.result(r.Ops), nil
}

// replayReady starts gtmhub and waits until the pipeline is idle. When no
// earlier scenario left leads in LEADS to replay (--only replay), it runs
// --events leads through the pipeline first.
func replayReady(ctx context.Context, e *env, p Progress, name string) error {
	if _, err := e.gtmhub(ctx); err != nil {
		return err
	}
	if err := waitConsumersIdle(ctx, e.js, pipelineConsumers, e.patience()); err != nil {
		return err
	}
	s, err := e.js.Stream(ctx, events.StreamLeads)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs > 0 {
		return err
	}
	if _, err := runPipeline(ctx, e, func(_ string, done, total int) { p(name+" (leads to replay)", done, total) }); err != nil {
		return err
	}
	return waitConsumersIdle(ctx, e.js, pipelineConsumers, e.patience())
}

// replayAll replays everything LEADS holds to the store.
func replayAll(ctx context.Context, e *env, p Progress, name string) (Result, error) {
	r, err := replay.New(ctx, e.js)
	if err != nil {
		return Result{}, err
	}
	m := startMeter()
	cp, err := r.Start(ctx, replay.Spec{To: "store", Since: m.start.Add(-24 * time.Hour)},
		func(pr replay.Progress) { p(name, int(pr.Done), int(pr.Total)) })
	if err != nil {
		return Result{}, err
	}
	return m.result(int(cp.Replayed)), nil
}
