package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// outageStore is a recordStore whose transactions fail, as when the
// database cannot be reached, while down is set; it counts those tries.
type outageStore struct {
	*sqlStore
	down  atomic.Bool
	tries atomic.Int64
}

func (s *outageStore) Update(ctx context.Context, fn func(tx recordTx) error) error {
	if s.down.Load() {
		s.tries.Add(1)
		return fmt.Errorf("begin: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	}
	return s.sqlStore.Update(ctx, fn)
}

// processedCount returns how many events s recorded as processed.
func processedCount(t *testing.T, s *sqlStore) int {
	t.Helper()
	var n int
	if err := s.reader.QueryRow("SELECT count(*) FROM processed_events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// markWrite is a write that records the event id as processed.
func markWrite(id string) func(tx recordTx) error {
	return func(tx recordTx) error {
		_, err := tx.MarkProcessed(context.Background(), id, "test", clock)
		return err
	}
}

// logCounter counts log records by message.
type logCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *logCounter) WithGroup(string) slog.Handler            { return c }

func (c *logCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r.Message]++
	return nil
}

func (c *logCounter) count(msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[msg]
}

// containing counts the records whose message contains s.
func (c *logCounter) containing(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for msg, k := range c.n {
		if strings.Contains(msg, s) {
			n += k
		}
	}
	return n
}

// Messages of the outage's pair of log lines.
const (
	logOutOfReach = "database out of reach; holding writes until it answers"
	logAnswers    = "database answers again"
)

// startBatcher runs bt with workers workers until the test ends.
func startBatcher(t *testing.T, bt *batcher, workers int) {
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { bt.run(ctx, workers); close(stopped) }()
	t.Cleanup(func() { stop(); <-stopped })
}

// TestBatchHoldsWritesThroughAnOutage fails every transaction for a while,
// as a database out of reach does, under many concurrent writes and three
// batch workers: the writes wait instead of failing, one batch at a time
// tries the database again, with backoff, the outage is logged once, and
// every write commits once the database answers.
func TestBatchHoldsWritesThroughAnOutage(t *testing.T) {
	const writes, workers, outage = 40, 3, 500 * time.Millisecond
	s := &outageStore{sqlStore: openTestSQLite(t)}
	logs := &logCounter{}
	bt := newBatcher(s, 8, slog.New(logs)) // batches of 8: every worker holds one
	bt.reach.first, bt.reach.most = 10*time.Millisecond, 40*time.Millisecond
	s.down.Store(true)
	startBatcher(t, bt, workers)

	results := make(chan error, writes)
	for i := range writes {
		go func() { results <- bt.Update(context.Background(), markWrite(fmt.Sprint("w", i))) }()
	}
	select {
	case err := <-results:
		t.Fatalf("a write returned while the database was out of reach: %v", err)
	case <-time.After(outage):
	}
	tries := s.tries.Load()
	s.down.Store(false)
	for range writes {
		select {
		case err := <-results:
			if err != nil {
				t.Errorf("write: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a write still held after the database answered")
		}
	}

	// One try of each batch that met the outage, then one per wait of the
	// backoff, which reaches 40ms at the third.
	t.Logf("%d transactions tried during the outage", tries)
	if most := int64(workers) + int64(outage/bt.reach.most) + 3; tries > most {
		t.Errorf("%d transactions tried during the outage, want at most %d", tries, most)
	}
	if n := processedCount(t, s.sqlStore); n != writes {
		t.Errorf("%d writes stored, want %d", n, writes)
	}
	if out, back := logs.count(logOutOfReach), logs.count(logAnswers); out != 1 || back != 1 {
		t.Errorf("logged %d times out of reach and %d times answering again, want once each", out, back)
	}
}

// TestBatchGivesUpHeldWrites: a held write is answered with the database's
// error once held for maxHold, and with its context's too when its handler
// gives up; neither is written when the database answers again.
func TestBatchGivesUpHeldWrites(t *testing.T) {
	tests := []struct {
		name              string
		maxHold, giveUpIn time.Duration
	}{
		{"held for maxHold", 100 * time.Millisecond, 0},
		{"handler gave up", time.Hour, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &outageStore{sqlStore: openTestSQLite(t)}
			bt := newBatcher(s, maxBatch, slog.New(slog.DiscardHandler))
			bt.maxHold = tt.maxHold
			s.down.Store(true)
			startBatcher(t, bt, 1)

			start := time.Now() // before the handler's deadline is set from the clock
			ctx := context.Background()
			if tt.giveUpIn > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.giveUpIn)
				defer cancel()
			}
			err := bt.Update(ctx, markWrite("w"))
			var refused *net.OpError
			if gaveUp := tt.giveUpIn > 0; !errors.As(err, &refused) || errors.Is(err, context.DeadlineExceeded) != gaveUp {
				t.Errorf("Update = %v, want the database's error, with the context's: %v", err, gaveUp)
			}
			if held := time.Since(start); held < 100*time.Millisecond {
				t.Errorf("answered after %v, want it held for 100ms", held)
			}
			s.down.Store(false)
			if err := bt.Update(context.Background(), markWrite("after")); err != nil {
				t.Fatal(err)
			}
			if n := processedCount(t, s.sqlStore); n != 1 {
				t.Errorf("%d writes stored, want only the one after the outage", n)
			}
		})
	}
}

// TestBatchProberLeaves: while one held batch probes the database, another
// waits without trying; when the prober's handler gives up, the other
// takes the probing over and commits once the database answers.
func TestBatchProberLeaves(t *testing.T) {
	s := &outageStore{sqlStore: openTestSQLite(t)}
	bt := newBatcher(s, 1, slog.New(slog.DiscardHandler)) // a batch per write
	bt.reach.first, bt.reach.most = 300*time.Millisecond, 300*time.Millisecond
	s.down.Store(true)
	startBatcher(t, bt, 2)

	first, cancel := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() { firstDone <- bt.Update(first, markWrite("first")) }()
	for s.tries.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	secondDone := make(chan error, 1)
	go func() { secondDone <- bt.Update(context.Background(), markWrite("second")) }()
	time.Sleep(100 * time.Millisecond) // before the prober's next try
	if n := s.tries.Load(); n != 1 {
		t.Errorf("%d tries with one batch probing, want 1: the other waits", n)
	}

	cancel()
	if err := <-firstDone; !errors.Is(err, context.Canceled) {
		t.Errorf("the prober's write = %v, want it abandoned", err)
	}
	for s.tries.Load() < 2 { // the second batch probes now
		time.Sleep(time.Millisecond)
	}
	s.down.Store(false)
	select {
	case err := <-secondDone:
		if err != nil {
			t.Errorf("the other write = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other write still held after the database answered")
	}
	if n := processedCount(t, s.sqlStore); n != 1 {
		t.Errorf("%d writes stored, want the second alone", n)
	}
}
