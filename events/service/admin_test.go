package service_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/gtmhub/gtmhub/events/service"
)

// TestHealthBlamesOnlyTheSlowCheck: a check that hangs fails on its own
// deadline, and the checks next to it are judged on their own.
func TestHealthBlamesOnlyTheSlowCheck(t *testing.T) {
	h := service.NewHealth()
	h.Add("a-nats", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	h.Add("b-store", func(ctx context.Context) error { return ctx.Err() })
	h.Add("c-kv", func(context.Context) error { return errors.New("bucket missing") })
	h.Add("d-smtp", func(ctx context.Context) error { return ctx.Err() })

	got := h.Run(context.Background())
	want := map[string]string{"a-nats": context.DeadlineExceeded.Error(), "c-kv": "bucket missing"}
	if !maps.Equal(got, want) {
		t.Errorf("Run = %v, want %v", got, want)
	}
}
