package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

func TestUsageLevels(t *testing.T) {
	tests := []struct {
		used, limit float64
		want        service.Level
	}{
		{0, 100, service.LevelOK}, {69.9, 100, service.LevelOK}, {70, 100, service.LevelWarning},
		{80, 100, service.LevelWarning}, {85, 100, service.LevelCaution}, {95, 100, service.LevelCaution},
		{95.1, 100, service.LevelCritical}, {600, 500, service.LevelCritical}, {10, 0, service.LevelOK},
	}
	for _, tt := range tests {
		if got := (service.Usage{Used: tt.used, Limit: tt.limit}).Level(); got != tt.want {
			t.Errorf("%v of %v: %s, want %s", tt.used, tt.limit, got, tt.want)
		}
	}
}

func TestPutAndListUsage(t *testing.T) {
	srv := eventstest.RunServer(t)
	ctx := context.Background()
	for _, u := range []service.Usage{
		{Resource: "enrich.clearbit.credits", Used: 80, Limit: 100, Unit: "credits", Period: "2026-11"},
		{Resource: "notify.email.daily", Used: 10, Limit: 500, Unit: "emails", Period: "2026-11-23"},
	} {
		if err := service.PutUsage(ctx, srv.JS, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := service.PutUsage(ctx, srv.JS, service.Usage{Resource: "bad key"}); err == nil {
		t.Error("a key with a space was accepted")
	}
	got, err := service.ListUsage(ctx, srv.JS)
	if err != nil || len(got) != 2 {
		t.Fatalf("ListUsage = %v, %v", got, err)
	}
	if got[0].Resource != "enrich.clearbit.credits" || got[0].Level() != service.LevelWarning || got[0].UpdatedAt.IsZero() {
		t.Errorf("first usage %+v", got[0])
	}

	if err := service.DeleteUsage(ctx, srv.JS, "enrich.clearbit.credits"); err != nil {
		t.Fatal(err)
	}
	if got, err = service.ListUsage(ctx, srv.JS); err != nil || len(got) != 1 || got[0].Resource != "notify.email.daily" {
		t.Errorf("after DeleteUsage: %v, %v", got, err)
	}
}

func TestUsageCurrent(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)) // 2026-11-30T23:30Z
	tests := []struct {
		period, zone string
		want         bool
	}{
		{"2026-11", "", true}, {"2026-12", "", false}, {"2026-11-30", "", true}, {"2026-12-01", "", false},
		{"2025-11", "", false}, {"", "", true},
		{"2026-12-01", "Europe/Berlin", true}, {"2026-11-30", "Europe/Berlin", false},
		{"2026-11-30", "America/New_York", true}, {"2026-12", "Asia/Tokyo", true},
		{"2026-11-30", "Nowhere/Unknown", true},
	}
	for _, tt := range tests {
		if got := (service.Usage{Period: tt.period, Zone: tt.zone}).Current(now); got != tt.want {
			t.Errorf("period %q in %q at %s: current %v, want %v", tt.period, tt.zone, now, got, tt.want)
		}
	}
}
