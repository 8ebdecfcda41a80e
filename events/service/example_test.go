package service_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gtmhub/gtmhub/events/service"
)

// Each service reads its own part of gtmhub.yaml; defaults stay where the
// file is silent, and every problem is reported at once.
func ExampleLoadFile() {
	type config struct {
		HTTPAddr string `yaml:"http_addr"`
		MaxBody  int    `yaml:"max_body"`
	}
	dir, _ := os.MkdirTemp("", "gtmhub")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "gtmhub.yaml")
	_ = os.WriteFile(path, []byte("http_addr: 0.0.0.0:9000\nrules: []\n"), 0o600)

	cfg := config{HTTPAddr: "127.0.0.1:8080", MaxBody: 1 << 20}
	if err := service.LoadFile(path, &cfg); err != nil {
		fmt.Println(err)
	}
	fmt.Println(cfg.HTTPAddr, cfg.MaxBody)

	var p service.Problems
	p.Addf("source %q: unknown scheme %q", "clay", "md5")
	p.Addf("max_body must be positive")
	fmt.Println(p.Err())
	// Output:
	// 0.0.0.0:9000 1048576
	// invalid configuration:
	// source "clay": unknown scheme "md5"
	// max_body must be positive
}

// Periodic work runs at once, then at every tick, until the context ends.
func ExampleEvery() {
	ctx, cancel := context.WithCancel(context.Background())
	runs := 0
	service.Every(ctx, time.Millisecond, func(context.Context) {
		runs++
		if runs == 3 {
			cancel()
		}
	})
	fmt.Println(runs)
	// Output: 3
}

// A credential's age is rated against the rotation period: due soon from
// two thirds of it, overdue from all of it.
func ExampleCredential_Rotation() {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, days := range []int{10, 65, 120} {
		c := service.Credential{Service: "notify", Name: "webhook.slack", FirstSeen: now.AddDate(0, 0, -days)}
		fmt.Println(c.Key(), c.Age(now), c.Rotation(now, service.DefaultRotateAfter))
	}
	// Output:
	// notify.webhook.slack 240h0m0s ok
	// notify.webhook.slack 1560h0m0s due_soon
	// notify.webhook.slack 2880h0m0s overdue
}

// Work whose first run is not due at the start waits one interval for it.
func ExampleTick() {
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	runs := 0
	service.Tick(ctx, 20*time.Millisecond, func(context.Context) {
		runs++
		if runs == 2 {
			cancel()
		}
	})
	fmt.Println(runs, time.Since(start) >= 40*time.Millisecond)
	// Output: 2 true
}
