package bench

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/tools/internal/stack"
)

const (
	benchStream  = "BENCH"
	benchSecret  = "bench-shared-secret"
	benchSource  = "bench"
	secretHeader = "X-Webhook-Secret"
	// benchCompanies is how many company domains the leads share.
	benchCompanies = 500
)

// env is one NATS server, file storage, shared by every scenario, and the
// gtmhub stack running on it once a scenario needs it.
type env struct {
	cfg Config
	dir string
	ns  *server.Server // nil on a server given by Config.NATSURL
	url string         // the server's client URL
	// scratch is true once a server given by Config.NATSURL was found to
	// hold no stream: the bench deletes every stream on it when it ends.
	scratch   bool
	nc        *nats.Conn
	js        jetstream.JetStream
	client    *http.Client
	stackAddr stack.Addrs
	stopStack func()
	stackErr  error // why gtmhub could not start, once it could not
	stopFakes func()
	// hjPeak and ingestPeak are the rates HJ and ingest reached, 0 before
	// they ran.
	hjPeak, ingestPeak float64
	// retried counts the resends of webhooks answered "retry later".
	retried atomic.Int64
	// asyncFailed counts asynchronous publishes the server did not
	// acknowledge.
	asyncFailed atomic.Int64
}

func newEnv(ctx context.Context, cfg Config) (*env, error) {
	dir := cfg.DataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "gtmhub-bench-"); err != nil {
			return nil, err
		}
	}
	e := &env{cfg: cfg, dir: dir, url: cfg.NATSURL}
	if e.url == "" {
		ns, err := startServer(filepath.Join(dir, "jetstream"), cfg.SyncAlways)
		if err != nil {
			e.close()
			return nil, err
		}
		e.ns, e.url = ns, ns.ClientURL()
	}
	nc, err := service.Dial(e.url, "start one, or leave --nats-url out to run on an embedded one", cfg.NATSOptions...)
	if err != nil {
		e.close()
		return nil, err
	}
	e.nc = nc
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { e.asyncFailed.Add(1) }))
	if err != nil {
		e.close()
		return nil, err
	}
	e.js = js
	if e.ns == nil {
		if err := mustBeEmpty(ctx, js); err != nil {
			e.close()
			return nil, fmt.Errorf("%s: %w", events.Redact(e.url), err)
		}
		e.scratch = true
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: benchStream, Subjects: []string{"bench.>"},
		Storage: jetstream.FileStorage, Duplicates: cmp.Or(cfg.DedupWindow, 2*time.Minute)}); err != nil {
		e.close()
		return nil, err
	}
	// Open-loop requests that find every connection busy wait for one,
	// timed from when they were due, instead of dialing until the
	// process runs out of file descriptors when the server stalls.
	tr := &http.Transport{MaxIdleConns: maxConns, MaxIdleConnsPerHost: maxConns, MaxConnsPerHost: maxConns,
		IdleConnTimeout: time.Minute}
	e.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return e, nil
}

// startServer starts an embedded JetStream server storing under dir,
// syncing every write when syncAlways is set.
func startServer(dir string, syncAlways bool) (*server.Server, error) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: dir, NoLog: true, NoSigs: true, MaxPayload: 8 << 20, SyncAlways: syncAlways})
	if err != nil {
		return nil, err
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("bench nats server did not start")
	}
	return ns, nil
}

// mustBeEmpty refuses a server that already holds streams: the bench
// writes to gtmhub's streams and deletes every stream when it ends.
func mustBeEmpty(ctx context.Context, js jetstream.JetStream) error {
	names, err := streamNames(ctx, js)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("the server holds streams (%s): point --nats-url at a scratch server, since the bench deletes every stream on it when it ends",
			strings.Join(names, ", "))
	}
	return nil
}

// deleteStreams deletes every stream of a server given by Config.NATSURL,
// which held none when the bench began.
func (e *env) deleteStreams() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names, _ := streamNames(ctx, e.js) // best effort: the run is over
	for _, name := range names {
		_ = e.js.DeleteStream(ctx, name)
	}
}

// setDedupWindow gives gtmhub's streams the run's de-duplication window,
// when it sets one. Key-value buckets keep theirs: their writes carry no
// Nats-Msg-Id.
func (e *env) setDedupWindow(ctx context.Context) error {
	if e.cfg.DedupWindow == 0 {
		return nil
	}
	names, err := streamNames(ctx, e.js)
	if err != nil {
		return err
	}
	for _, name := range names {
		if strings.HasPrefix(name, "KV_") {
			continue
		}
		s, err := e.js.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("dedup window of %s: %w", name, err)
		}
		cfg := s.CachedInfo().Config
		cfg.Duplicates = e.cfg.DedupWindow
		if _, err := e.js.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("dedup window of %s: %w", name, err)
		}
	}
	return nil
}

// streamNames lists the server's streams.
func streamNames(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	var names []string
	list := js.StreamNames(ctx)
	for name := range list.Name() {
		names = append(names, name)
	}
	if err := list.Err(); err != nil {
		return names, fmt.Errorf("list streams: %w", err)
	}
	return names, nil
}

func (e *env) close() {
	if e.stopStack != nil {
		e.stopStack()
	}
	if e.stopFakes != nil {
		e.stopFakes()
	}
	if e.scratch {
		e.deleteStreams()
	}
	if e.nc != nil {
		e.nc.Close()
	}
	if e.ns != nil {
		e.ns.Shutdown()
		e.ns.WaitForShutdown()
	}
	if e.cfg.DataDir == "" {
		_ = os.RemoveAll(e.dir)
	}
}

// stopGtmhub stops the gtmhub stack if it runs, for the store scenarios,
// which run last; no scenario can start it again.
func (e *env) stopGtmhub() {
	if e.stopStack != nil {
		e.stopStack()
		e.stopStack = nil
	}
	if e.stopFakes != nil {
		e.stopFakes()
		e.stopFakes = nil
	}
	e.stackErr = errors.New("gtmhub was stopped for the store scenarios, which run last")
}

// gtmhub starts the whole pipeline on the bench server once, with a form
// source and a bench source that checks a shared secret; later calls return
// what the first did.
func (e *env) gtmhub(ctx context.Context) (stack.Addrs, error) {
	if e.stopStack == nil && e.stackErr == nil {
		e.stackAddr, e.stackErr = e.startGtmhub(ctx)
	}
	return e.stackAddr, e.stackErr
}

// startGtmhub starts the pipeline and waits until its consumers are bound.
func (e *env) startGtmhub(ctx context.Context) (stack.Addrs, error) {
	fakes, stopFakes, err := serveLoopback(providers())
	if err != nil {
		return stack.Addrs{}, err
	}
	e.stopFakes = stopFakes
	cfgFile := filepath.Join(e.dir, "gtmhub.yaml")
	yaml := fmt.Sprintf(`sources:
  - name: %[1]s
    scheme: shared-secret
    header: %[2]s
    secrets:
      - value: %[3]s
    kind: lead
enrich:
  providers:
    - name: clearbit
      base_url: %[4]s
      key: bench
      rate_limit: 1000000
      burst: 10000
    - name: hunter
      base_url: %[4]s
      key: bench
      rate_limit: 1000000
      burst: 10000
`, benchSource, secretHeader, benchSecret, fakes)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		return stack.Addrs{}, err
	}
	cfg := stack.DefaultConfig()
	cfg.ConfigFile, cfg.DataDir, cfg.NATSURL = cfgFile, filepath.Join(e.dir, "gtmhub"), e.url
	cfg.NATSOptions = e.cfg.NATSOptions
	cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan stack.Addrs, 1)
	// running ends when the stack has stopped, with its error as the cause.
	running, stopped := context.WithCancelCause(context.Background())
	go func() {
		err := stack.Run(sctx, cfg, stack.WithReady(func(a stack.Addrs) { ready <- a }))
		stopped(fmt.Errorf("gtmhub stopped: %w", cmp.Or(err, context.Canceled)))
	}()
	e.stopStack = func() { cancel(); <-running.Done() }
	select {
	case a := <-ready:
		e.stackAddr = a
		// The scenarios pause and watch these consumers, which the
		// services bind just after the stack is ready; a stack that
		// fails meanwhile ends the wait.
		wctx, stopWait := context.WithCancel(ctx)
		defer stopWait()
		context.AfterFunc(running, stopWait)
		consumers := append(slices.Clone(pipelineConsumers), storeReplay...)
		if err := waitConsumersIdle(wctx, e.js, consumers, e.patience()); err != nil {
			if running.Err() != nil {
				return a, context.Cause(running)
			}
			return a, fmt.Errorf("gtmhub started, but %w", err)
		}
		return a, e.setDedupWindow(ctx)
	case <-running.Done():
		return stack.Addrs{}, context.Cause(running)
	case <-time.After(30 * time.Second):
		return stack.Addrs{}, fmt.Errorf("gtmhub did not start within 30s")
	}
}

// maxConns bounds the load generator's connections to one server.
const maxConns = 1024

// lead is a JSON lead with a unique email, padded up to the payload size
// with a free-text field that ingest keeps among the lead's attributes.
func (e *env) lead(run string, i int) []byte {
	var b bytes.Buffer
	// Leads come from a few hundred companies: a company is looked up once
	// and then found in the cache, each email is verified once.
	fmt.Fprintf(&b, `{"email":%q,"first_name":"Ada","last_name":"Lovelace","company":"Example Inc","message":"`, leadEmail(run, i))
	pad := e.cfg.PayloadSize - b.Len() - 2
	if pad > 0 {
		b.WriteString(strings.Repeat("x", pad))
	}
	b.WriteString(`"}`)
	return b.Bytes()
}

// leadEmail is the email of lead i of a run.
func leadEmail(run string, i int) string {
	return fmt.Sprintf("lead%d@co%d-%s.example", i, i%benchCompanies, run)
}

// postAttempts is how many times post sends one webhook that is answered
// "retry later" (503 or 429), as a webhook sender would.
const postAttempts = 5

// maxRetryWait is the longest Retry-After post waits out; an answer asking
// for longer (a source waiting for its secret says a minute) fails the run.
const maxRetryWait = 5 * time.Second

// post sends one webhook and reads the answer. A 503 or 429 is sent again
// after its Retry-After, as senders do, and counted in e.retried; anything
// else but 202 is an error.
func (e *env) post(ctx context.Context, url string, body []byte, secret bool) error {
	for attempt := 1; ; attempt++ {
		resp, err := e.postOnce(ctx, url, body, secret)
		if err != nil || resp.status == http.StatusAccepted {
			return err
		}
		wait, again := retryLater(resp.status, resp.retryAfter)
		if !again || wait > maxRetryWait || attempt == postAttempts {
			return fmt.Errorf("POST %s: %d %s: %s", url, resp.status, http.StatusText(resp.status), resp.body)
		}
		e.retried.Add(1)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// answer is what post needs of a response.
type answer struct {
	status     int
	retryAfter string
	body       []byte // the start of the body of an error answer
}

// postOnce sends one webhook and drains the answer, so the connection is
// reused.
func (e *env) postOnce(ctx context.Context, url string, body []byte, secret bool) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret {
		req.Header.Set(secretHeader, benchSecret)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if a.status != http.StatusAccepted {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		a.body = bytes.TrimSpace(msg)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return a, err
}

// retryLater says whether an answer asks the sender to retry (503 or 429)
// and after how long: its Retry-After in seconds, or one second.
func retryLater(status int, retryAfter string) (time.Duration, bool) {
	if status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests {
		return 0, false
	}
	if s, err := strconv.Atoi(retryAfter); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	return time.Second, true
}

// patience is how long a scenario of --events waits for the pipeline to
// catch up.
func (e *env) patience() time.Duration { return e.patienceFor(e.cfg.Events) }

// patienceFor is how long a scenario of n events waits for the pipeline to
// catch up: five minutes, and 2ms more per event, so a million-event run is
// not cut short.
func (e *env) patienceFor(n int) time.Duration {
	return 5*time.Minute + time.Duration(n)*2*time.Millisecond
}
