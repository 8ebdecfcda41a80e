package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// UsageBucket is the KV bucket where services report usage against quotas:
// enrichment credits per provider per month, emails per day, API request
// rates. `gtmhub status` reads it and rates each entry with [Level].
const UsageBucket = "usage"

// Usage is one quota's consumption in its current period.
type Usage struct {
	Resource  string    `json:"resource"` // e.g. "enrich.clearbit.credits", "notify.email.daily"
	Used      float64   `json:"used"`
	Limit     float64   `json:"limit"`
	Unit      string    `json:"unit,omitempty"`   // credits, emails, requests/s
	Period    string    `json:"period,omitempty"` // 2026-11, 2026-11-23
	UpdatedAt time.Time `json:"updated_at"`
}

// Level is the alert level of a usage ratio, as the integration hub defines
// them: OK below 70 %, Warning 70–85 %, Caution 85–95 %, Critical above 95 %.
type Level string

// Alert levels.
const (
	LevelOK       Level = "ok"
	LevelWarning  Level = "warning"
	LevelCaution  Level = "caution"
	LevelCritical Level = "critical"
)

// Percent is Used as a percentage of Limit (0 without a limit).
func (u Usage) Percent() float64 {
	if u.Limit <= 0 {
		return 0
	}
	return 100 * u.Used / u.Limit
}

// Level rates the usage.
func (u Usage) Level() Level {
	switch p := u.Percent(); {
	case p > 95:
		return LevelCritical
	case p >= 85:
		return LevelCaution
	case p >= 70:
		return LevelWarning
	}
	return LevelOK
}

func usageBucket(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: UsageBucket,
		Description: "usage against quotas, per resource", History: 1})
	if err != nil {
		return nil, fmt.Errorf("usage bucket: %w", err)
	}
	return kv, nil
}

// PutUsage records u under its resource name.
func PutUsage(ctx context.Context, js jetstream.JetStream, u Usage) error {
	if u.Resource == "" || strings.ContainsAny(u.Resource, " *>") {
		return fmt.Errorf("usage resource %q is not a valid key", u.Resource)
	}
	kv, err := usageBucket(ctx, js)
	if err != nil {
		return err
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = time.Now().UTC()
	}
	b, err := json.Marshal(u)
	if err != nil {
		return err
	}
	_, err = kv.Put(ctx, u.Resource, b)
	return err
}

// ListUsage returns every recorded usage, sorted by resource.
func ListUsage(ctx context.Context, js jetstream.JetStream) ([]Usage, error) {
	kv, err := usageBucket(ctx, js)
	if err != nil {
		return nil, err
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []Usage
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var u Usage
		if err := json.Unmarshal(e.Value(), &u); err != nil {
			return nil, fmt.Errorf("usage %s: %w", k, err)
		}
		out = append(out, u)
	}
	return out, nil
}
