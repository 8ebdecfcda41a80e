package stack_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	_ "modernc.org/sqlite"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/tools/internal/replay"
	"github.com/gtmhub/gtmhub/tools/internal/stack"
)

// start runs the stack on free ports over dataDir until the returned stop is
// called.
func start(t *testing.T, dataDir string) (stack.Addrs, func()) {
	t.Helper()
	cfg := stack.DefaultConfig()
	cfg.DataDir = dataDir
	cfg.HTTPAddr, cfg.AdminAddr, cfg.NATSListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan stack.Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- stack.Run(ctx, cfg, stack.WithReady(func(a stack.Addrs) { ready <- a })) }()
	var addrs stack.Addrs
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("stack did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("stack did not start in 30s")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("stack.Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("stack did not stop in 30s")
			}
		})
	}
	t.Cleanup(stop)
	return addrs, stop
}

func postLead(client *http.Client, addr string, lead map[string]string) (int, map[string]any, error) {
	body, _ := json.Marshal(lead)
	resp, err := client.Post("http://"+addr+"/webhooks/form", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, nil
}

func openDB(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "gtmhub.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %v", what, state, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLeadLandsInContacts(t *testing.T) {
	dir := t.TempDir()
	addrs, _ := start(t, dir)
	status, body, err := postLead(http.DefaultClient, addrs.HTTP, map[string]string{
		"email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace", "company": "Example Inc"})
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusAccepted || body["id"] == "" || body["id"] == nil {
		t.Fatalf("POST answered %d %v, want 202 with an id", status, body)
	}
	posted := time.Now()
	db := openDB(t, dir)
	var email, domain, first, company string
	waitFor(t, 15*time.Second, "contact row", func() (bool, string) {
		err := db.QueryRow(`SELECT email, domain, first_name, company FROM contacts`).Scan(&email, &domain, &first, &company)
		return err == nil, fmt.Sprint(err)
	})
	t.Logf("row visible %v after the 202", time.Since(posted))
	if email != "ada@example.com" || domain != "example.com" || first != "Ada" || company != "Example Inc" {
		t.Errorf("row = %q %q %q %q", email, domain, first, company)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM contacts`).Scan(&n); err != nil || n != 1 {
		t.Errorf("contacts holds %d rows (%v), want 1", n, err)
	}
}

// TestRestartDuringBurst stops the stack in the middle of a burst of posts
// and starts it again on the same data: every lead answered 202 is stored,
// and stored exactly once.
func TestRestartDuringBurst(t *testing.T) {
	dir := t.TempDir()
	addrs, stop := start(t, dir)
	const total, workers = 1000, 16
	client := &http.Client{Timeout: 10 * time.Second}
	var accepted sync.Map
	var nAccepted atomic.Int64
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				email := fmt.Sprintf("lead%04d@burst.example", i)
				status, _, err := postLead(client, addrs.HTTP, map[string]string{"email": email, "first_name": "Lead"})
				if err == nil && status == http.StatusAccepted {
					accepted.Store(email, true)
					nAccepted.Add(1)
				}
			}
		})
	}
	stopped := make(chan struct{})
	go func() {
		for nAccepted.Load() < 300 {
			time.Sleep(time.Millisecond)
		}
		stop() // SIGTERM equivalent: the same context cancellation `gtmhub up` does on a signal
		close(stopped)
	}()
	for i := range total {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	<-stopped
	want := int(nAccepted.Load())

	start(t, dir)
	db := openDB(t, dir)
	waitFor(t, 60*time.Second, "accepted leads stored", func() (bool, string) {
		missing := 0
		accepted.Range(func(k, _ any) bool {
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM contacts WHERE email = ?`, k).Scan(&n); err != nil || n != 1 {
				missing++
			}
			return true
		})
		return missing == 0, fmt.Sprintf("%d of %d missing", missing, want)
	})
	var rows, distinct int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT email) FROM contacts`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != distinct || rows < want || rows > total {
		t.Errorf("contacts: %d rows, %d distinct, %d accepted, %d posted", rows, distinct, want, total)
	}
	t.Logf("%d accepted before the stop, %d stored", want, rows)
}

// TestReplayRebuildsWipedDatabase: after the database is deleted, replaying
// LEADS to the store restores every contact and notifies nobody again.
func TestReplayRebuildsWipedDatabase(t *testing.T) {
	dir := t.TempDir()
	addrs, stop := start(t, dir)
	const leads = 5
	for i := range leads {
		status, _, err := postLead(http.DefaultClient, addrs.HTTP, map[string]string{"email": fmt.Sprintf("r%d@replay.example", i)})
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("post %d: %d %v", i, status, err)
		}
	}
	countContacts := func(db *sql.DB) int {
		var n int
		_ = db.QueryRow(`SELECT count(*) FROM contacts`).Scan(&n)
		return n
	}
	db := openDB(t, dir)
	waitFor(t, 15*time.Second, "leads stored", func() (bool, string) { n := countContacts(db); return n == leads, fmt.Sprint(n) })
	db.Close()
	// Change events are published just after their rows commit: count the
	// notifications once notify has been given all of them.
	waitChangeEvents(t, addrs.NATS, leads)
	notified := notifications(t, addrs.NATS)
	stop()

	for _, f := range []string{"gtmhub.db", "gtmhub.db-wal", "gtmhub.db-shm"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	addrs, _ = start(t, dir)
	nc, err := nats.Connect(addrs.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	r, err := replay.New(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := r.Start(context.Background(), replay.Spec{To: "store", Since: time.Now().Add(-time.Hour)}, nil)
	if err != nil || cp.Replayed != leads {
		t.Fatalf("replay: %+v, %v", cp, err)
	}
	db = openDB(t, dir)
	waitFor(t, 15*time.Second, "contacts rebuilt", func() (bool, string) { n := countContacts(db); return n == leads, fmt.Sprint(n) })
	if got := notifications(t, addrs.NATS); got != notified {
		t.Errorf("notifications sent or attempted went from %d to %d: the replay notified again", notified, got)
	}
}

// waitChangeEvents waits until the RECORDS stream holds n contact.created
// change events.
func waitChangeEvents(t *testing.T, url string, n uint64) {
	t.Helper()
	js := connectJS(t, url)
	waitFor(t, 15*time.Second, "change events published", func() (bool, string) {
		got, err := contactsCreated(js)
		return err == nil && got == n, fmt.Sprint(got, " contact.created ", err)
	})
}

// connectJS connects to the NATS server at url for the rest of the test.
func connectJS(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// contactsCreated counts the contact.created change events in RECORDS.
func contactsCreated(js jetstream.JetStream) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, events.StreamRecords)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(events.SubjectContactCreated))
	if err != nil {
		return 0, err
	}
	return info.State.Subjects[events.SubjectContactCreated], nil
}

// notifications waits until notify has decided on everything it was given,
// then counts the decisions that sent, or would have sent had a channel been
// configured (suppressed decisions do not count).
func notifications(t *testing.T, url string) uint64 {
	t.Helper()
	js := connectJS(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	waitFor(t, 15*time.Second, "notify idle", func() (bool, string) {
		c, err := js.Consumer(ctx, events.StreamRecords, "notify")
		if err != nil {
			return false, err.Error()
		}
		info, err := c.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		return info.NumPending == 0 && info.NumAckPending == 0, fmt.Sprintf("%d pending", info.NumPending+uint64(info.NumAckPending))
	})
	s, err := js.Stream(ctx, events.StreamNotify)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("gtm.notify.>"))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects["gtm.notify.sent"] + info.State.Subjects["gtm.notify.skipped"]
}

// TestAdminEndpoints: the admin address serves liveness, readiness and the
// pipeline's metrics.
func TestAdminEndpoints(t *testing.T) {
	addrs, _ := start(t, t.TempDir())
	if status, _, err := postLead(http.DefaultClient, addrs.HTTP, map[string]string{"email": "m@metrics.example"}); err != nil || status != http.StatusAccepted {
		t.Fatalf("post: %d %v", status, err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addrs.Admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/livez"); code != http.StatusOK {
		t.Errorf("/livez %d %s", code, body)
	}
	// Ready once every service has its dependencies open, which may come
	// a moment after the stack has started.
	waitFor(t, 15*time.Second, "/readyz", func() (bool, string) {
		code, body := get("/readyz")
		return code == http.StatusOK && strings.Contains(body, "ready"), fmt.Sprintf("%d %s", code, body)
	})
	waitFor(t, 15*time.Second, "store metrics", func() (bool, string) {
		_, body := get("/metrics")
		ok := strings.Contains(body, `gtmhub_consumer_messages_total{consumer="store",outcome="acked"} 1`) &&
			strings.Contains(body, `gtmhub_jetstream_consumer_pending{consumer="store",stream="LEADS"}`) &&
			strings.Contains(body, `gtmhub_publish_seconds_count{outcome="ok",stream="LEADS"}`) &&
			strings.Contains(body, `gtmhub_consumer_event_age_seconds_count{consumer="store"} 1`)
		return ok, "metrics incomplete"
	})
}

// TestRunRefusesWhatIsInUse: a second stack on a data directory in use, or
// on the embedded server's address in use, is refused at once with what to
// do; once the first stops, its data directory is free again.
func TestRunRefusesWhatIsInUse(t *testing.T) {
	dataDir := t.TempDir()
	addrs, stop := start(t, dataDir)
	natsAddr := strings.TrimPrefix(addrs.NATS, "nats://")

	tests := []struct {
		name       string
		dataDir    string
		natsListen string
		want       string
	}{
		{"the same data dir", dataDir, "127.0.0.1:0", "is in use by another gtmhub up"},
		{"the same NATS address", t.TempDir(), natsAddr, "pass another --nats-listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stack.DefaultConfig()
			cfg.DataDir, cfg.NATSListen = tt.dataDir, tt.natsListen
			cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := stack.Run(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want an error saying %q", err, tt.want)
			}
		})
	}

	stop()
	start(t, dataDir) // the lock went with the first stack
}
