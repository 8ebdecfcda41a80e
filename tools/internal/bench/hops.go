package bench

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	_ "modernc.org/sqlite" // the same SQLite the store uses
)

// The hops ceiling (P) runs the pipeline's input and output by hand, with
// nothing of gtmhub: the same HTTP requests, JetStream publishes with
// PubAcks, consumer deliveries and acks, key-value reads and writes and
// SQLite commits per lead, with the same concurrency. It is what a
// hand-written NATS pipeline costs on this machine, and so the most the
// gtmhub pipeline could reach here.
const (
	hopsStream = "HOPS"
	hopsCache  = "hops_cache"
	hopsLedger = "hops_ledger"
)

// hops is one run of the hand-written pipeline.
type hops struct {
	providers string // base URL of the zero-latency provider fakes
	client    *http.Client
	db        *sql.DB
	conns     []*nats.Conn
	jss       []jetstream.JetStream // one per connection: ingest, enrich, store, notify
	cache     jetstream.KeyValue    // enrich's
	ledger    jetstream.KeyValue    // notify's
	decided   atomic.Int64
}

func runPipelineHops(ctx context.Context, e *env, p Progress) (Result, error) {
	h, stop, err := startHops(ctx, e)
	if err != nil {
		return Result{}, err
	}
	defer stop()
	ingest, stopIngest, err := serveLoopback(hjHandlerOn(h.jss[0], "hops.captured"))
	if err != nil {
		return Result{}, err
	}
	defer stopIngest()
	n := e.cfg.Events
	run := uuid.NewString()[:8]
	start := time.Now()
	progress := ticker(func() { p("ceiling/pipeline-hops", int(h.decided.Load()), n) })
	defer progress()
	if _, _, err := closedLoop(ctx, n, e.cfg.Concurrency, func(i int) error {
		return e.post(ctx, ingest, e.lead(run, i), false)
	}, func(int) {}); err != nil {
		return Result{}, err
	}
	for h.decided.Load() < int64(n) {
		if time.Since(start) > e.patience() {
			return Result{}, fmt.Errorf("hops decided on %d of %d leads", h.decided.Load(), n)
		}
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return Result{Ops: n, Elapsed: time.Since(start)}, nil
}

// startHops creates the stream, buckets and table and starts the three
// consumers, each on a connection of its own as gtmhub's services are.
func startHops(ctx context.Context, e *env) (*hops, func(), error) {
	h := &hops{client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	fail := func(err error) (*hops, func(), error) { stop(); return nil, nil, err }
	base, stopFakes, err := serveLoopback(providers())
	if err != nil {
		return fail(err)
	}
	h.providers = base
	stops = append(stops, stopFakes)
	for range 4 {
		nc, err := nats.Connect(e.url, e.cfg.NATSOptions...)
		if err != nil {
			return fail(err)
		}
		h.conns = append(h.conns, nc)
		stops = append(stops, nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			return fail(err)
		}
		h.jss = append(h.jss, js)
	}
	if err := h.topology(ctx); err != nil {
		return fail(err)
	}
	if h.db, err = hopsDB(ctx, filepath.Join(e.dir, "hops.db")); err != nil {
		return fail(err)
	}
	stops = append(stops, func() { _ = h.db.Close() })
	// Decisions are counted as the pipeline's are: a plain subscription
	// sees each one the stream stores.
	sub, err := h.conns[0].Subscribe("hops.decision", func(*nats.Msg) { h.decided.Add(1) })
	if err != nil {
		return fail(err)
	}
	stops = append(stops, func() { _ = sub.Unsubscribe() })
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stops = append(stops, func() { cancel(); wg.Wait() })
	for _, st := range []hopsStage{
		{name: "enrich", subject: "hops.captured", conn: 1, workers: 64, handle: h.enrich},
		{name: "notify", subject: "hops.changed", conn: 3, workers: 16, handle: h.notify},
	} {
		if err := h.consume(cctx, &wg, st); err != nil {
			return fail(err)
		}
	}
	if err := h.consumeBatches(cctx, &wg); err != nil {
		return fail(err)
	}
	return h, stop, nil
}

func (h *hops) topology(ctx context.Context) error {
	if _, err := h.jss[0].CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: hopsStream,
		Subjects: []string{"hops.captured", "hops.enriched", "hops.changed", "hops.decision"},
		Storage:  jetstream.FileStorage, Duplicates: 2 * time.Minute}); err != nil {
		return err
	}
	var err error
	kv := func(js jetstream.JetStream, bucket string) jetstream.KeyValue {
		if err != nil {
			return nil
		}
		var b jetstream.KeyValue
		b, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Storage: jetstream.FileStorage})
		return b
	}
	h.cache, h.ledger = kv(h.jss[1], hopsCache), kv(h.jss[3], hopsLedger)
	return err
}

func hopsDB(ctx context.Context, path string) (*sql.DB, error) {
	q := url.Values{"_journal_mode": {"WAL"}, "_synchronous": {"FULL"}, "_txlock": {"immediate"}}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS leads
		(email TEXT PRIMARY KEY, lead TEXT NOT NULL, updated_at TEXT NOT NULL)`); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

// hopsStage is a consumer of the hand-written pipeline: handle runs on
// workers goroutines over the messages on subject, on connection conn.
type hopsStage struct {
	name, subject string
	conn, workers int
	handle        func(context.Context, jetstream.Msg) error
}

// consume runs st's handler over a durable consumer, acking what it handled
// and asking again for what failed.
func (h *hops) consume(ctx context.Context, wg *sync.WaitGroup, st hopsStage) error {
	cons, err := h.jss[st.conn].CreateOrUpdateConsumer(ctx, hopsStream, jetstream.ConsumerConfig{Durable: "hops-" + st.name,
		FilterSubject: st.subject, AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4 * st.workers})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * st.workers))
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, it.Stop)
	for range st.workers {
		wg.Go(func() {
			for {
				m, err := it.Next()
				if err != nil {
					return
				}
				if err := st.handle(ctx, m); err != nil {
					_ = m.Nak()
					continue
				}
				_ = m.Ack()
			}
		})
	}
	return nil
}

// enrich reads the company and email caches, asks the providers on a miss,
// caches their answers and publishes the enriched lead.
func (h *hops) enrich(ctx context.Context, m jetstream.Msg) error {
	var lead struct {
		Email string `json:"email"`
	}
	if err := json.Unmarshal(m.Data(), &lead); err != nil {
		return err
	}
	_, domain, _ := strings.Cut(lead.Email, "@")
	for _, lookup := range []string{"/v2/companies/find?domain=" + url.QueryEscape(domain),
		"/v2/email-verifier?api_key=k&email=" + url.QueryEscape(lead.Email)} {
		sum := sha256.Sum256([]byte(lookup))
		key := hex.EncodeToString(sum[:])
		if _, err := h.cache.Get(ctx, key); err == nil {
			continue
		}
		answer, err := h.ask(ctx, lookup)
		if err != nil {
			return err
		}
		if _, err := h.cache.Put(ctx, key, answer); err != nil {
			return err
		}
	}
	_, err := h.jss[1].PublishMsg(ctx, &nats.Msg{Subject: "hops.enriched", Data: m.Data(),
		Header: nats.Header{"Nats-Msg-Id": {"enriched-" + lead.Email}}})
	return err
}

func (h *hops) ask(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.providers+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer k")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// consumeBatches stores enriched leads the way a careful hand-written
// consumer would: every lead delivered so far (up to 64) in one SQLite
// transaction, then their change events, then the acks.
func (h *hops) consumeBatches(ctx context.Context, wg *sync.WaitGroup) error {
	js := h.jss[2]
	cons, err := js.CreateOrUpdateConsumer(ctx, hopsStream, jetstream.ConsumerConfig{Durable: "hops-store",
		FilterSubject: "hops.enriched", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 256})
	if err != nil {
		return err
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			var msgs []jetstream.Msg
			if batch, err := cons.FetchNoWait(64); err == nil {
				for m := range batch.Messages() {
					msgs = append(msgs, m)
				}
			}
			if len(msgs) == 0 {
				time.Sleep(time.Millisecond)
				continue
			}
			if err := h.store(ctx, js, msgs); err != nil {
				for _, m := range msgs {
					_ = m.Nak()
				}
			}
		}
	})
	return nil
}

func (h *hops) store(ctx context.Context, js jetstream.JetStream, msgs []jetstream.Msg) error {
	tx, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, m := range msgs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO leads (email, lead, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (email) DO UPDATE SET lead = excluded.lead, updated_at = excluded.updated_at`,
			m.Headers().Get("Nats-Msg-Id"), string(m.Data()), now); err != nil {
			return errors.Join(err, tx.Rollback())
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	acks := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := js.PublishMsgAsync(&nats.Msg{Subject: "hops.changed", Data: m.Data(),
			Header: nats.Header{"Nats-Msg-Id": {"changed-" + m.Headers().Get("Nats-Msg-Id")}}})
		if err != nil {
			return err
		}
		acks = append(acks, f)
	}
	for i, f := range acks {
		select {
		case <-f.Ok():
			_ = msgs[i].Ack()
		case err := <-f.Err():
			return err
		}
	}
	return nil
}

// notify claims the decision in the ledger and publishes it.
func (h *hops) notify(ctx context.Context, m jetstream.Msg) error {
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte(m.Headers().Get("Nats-Msg-Id"))).String()
	if _, err := h.ledger.Create(ctx, id, []byte(`{"state":"skipped"}`)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return err
	}
	_, err := h.jss[3].PublishMsg(ctx, &nats.Msg{Subject: "hops.decision", Data: []byte(`{"outcome":"skipped"}`),
		Header: nats.Header{"Nats-Msg-Id": {id}}})
	return err
}
