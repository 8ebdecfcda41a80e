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
	errBad := errors.New("bad item")
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
