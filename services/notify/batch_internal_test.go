package notify

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
)

func TestBatcher(t *testing.T) {
	errBad := &APIError{Service: "hubspot", Status: 400, Code: "VALIDATION_ERROR", Message: "bad item"}
	errAuth := &APIError{Service: "hubspot", Status: 401, Code: "INVALID_AUTHENTICATION", Message: "bad token"}
	tests := []struct {
		name     string
		n, max   int
		fail     func(items []int) error // the request's answer
		requests int                     // at most
		wantErr  func(item int) error
	}{
		{"one request for all", 8, 10, func([]int) error { return nil }, 1, func(int) error { return nil }},
		{"split at max", 25, 10, func([]int) error { return nil }, 3, func(int) error { return nil }},
		{"a refused batch is sent item by item", 6, 10, func(items []int) error {
			if slices.Contains(items, 3) {
				return events.Permanent(errBad)
			}
			return nil
		}, 1 + 6, func(i int) error {
			if i == 3 {
				return errBad
			}
			return nil
		}},
		{"a batch answered in part is sent item by item", 4, 10, func(items []int) error {
			if slices.Contains(items, 2) {
				return events.Permanent(&APIError{Service: "hubspot", Status: 207, Message: "bad item"})
			}
			return nil
		}, 1 + 4, func(i int) error {
			if i == 2 {
				return errors.New("207")
			}
			return nil
		}},
		{"a refused token is every item's, once", 6, 10, func([]int) error { return events.Permanent(errAuth) }, 1,
			func(int) error { return errAuth }},
		{"a retry is every item's", 5, 10, func([]int) error { return events.RetryAfter(time.Second, errBad) }, 1,
			func(int) error { return errBad }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var requests [][]int
			b := newBatcher(tt.max, 50*time.Millisecond, func(_ context.Context, items []int) ([]int, error) {
				mu.Lock()
				requests = append(requests, slices.Clone(items))
				mu.Unlock()
				if err := tt.fail(items); err != nil {
					return nil, err
				}
				out := make([]int, len(items))
				for i, it := range items {
					out[i] = it * 10
				}
				return out, nil
			})
			var wg sync.WaitGroup
			for i := range tt.n {
				wg.Go(func() {
					got, err := b.do(context.Background(), i)
					want := tt.wantErr(i)
					switch {
					case want == nil && (err != nil || got != i*10):
						t.Errorf("item %d: %d, %v; want %d", i, got, err, i*10)
					case want != nil && want.Error() == "207":
						var e *APIError
						if !errors.As(err, &e) || e.Status != 207 {
							t.Errorf("item %d: error %v, want the 207's", i, err)
						}
					case want != nil && !errors.Is(err, want):
						t.Errorf("item %d: error %v, want %v", i, err, want)
					}
				})
			}
			wg.Wait()
			if len(requests) > tt.requests {
				t.Errorf("%d requests %v, want at most %d", len(requests), requests, tt.requests)
			}
			for _, r := range requests {
				if len(r) > tt.max {
					t.Errorf("a request of %d items, max %d", len(r), tt.max)
				}
			}
		})
	}
}

// TestBatcherSendsForEveryWrite: a batch whose leader gives up is still
// sent for the writes that joined it.
func TestBatcherSendsForEveryWrite(t *testing.T) {
	b := newBatcher(10, time.Hour, func(ctx context.Context, items []int) ([]int, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return slices.Clone(items), nil
	})
	leader, cancel := context.WithCancel(context.Background())
	led := make(chan error, 1)
	go func() { _, err := b.do(leader, 1); led <- err }()
	for {
		b.mu.Lock()
		started := b.pending != nil
		b.mu.Unlock()
		if started {
			break
		}
		time.Sleep(time.Millisecond)
	}
	followed := make(chan error, 1)
	go func() {
		got, err := b.do(context.Background(), 2)
		if err == nil && got != 2 {
			err = errors.New("wrong result")
		}
		followed <- err
	}()
	for {
		b.mu.Lock()
		joined := b.pending != nil && len(b.pending.items) == 2
		b.mu.Unlock()
		if joined {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel() // the leader gives up: the batch goes now, for the follower
	if err := <-followed; err != nil {
		t.Errorf("follower: %v, want its write sent", err)
	}
	if err := <-led; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("leader: %v, want its result or its cancellation", err)
	}
}
