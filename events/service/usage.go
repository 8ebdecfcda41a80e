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
	Zone      string    `json:"zone,omitempty"`   // the IANA zone Period is counted in; UTC when empty
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

// Current reports whether u's period (a month, 2026-11, or a day,
// 2026-11-23, in u's zone) is the one now falls in; a usage with no period,
// or a zone this machine does not know, always is. A usage of a period that
// has ended says nothing of the quota now.
func (u Usage) Current(now time.Time) bool {
	loc, err := time.LoadLocation(u.Zone) // "" is UTC
	if err != nil {
		return true
	}
	switch len(u.Period) {
	case len("2006-01"):
		return u.Period == now.In(loc).Format("2006-01")
	case len("2006-01-02"):
		return u.Period == now.In(loc).Format(time.DateOnly)
	}
	return true
}

// PutUsage records u under its resource name.
func PutUsage(ctx context.Context, js jetstream.JetStream, u Usage) error {
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = time.Now().UTC()
	}
	return putJSON(ctx, js, UsageBucket, u.Resource, u)
}

// DeleteUsage forgets the usage of resource, for a quota that no longer
// exists (a provider taken out of the configuration).
func DeleteUsage(ctx context.Context, js jetstream.JetStream, resource string) error {
	kv, err := bucket(ctx, js, UsageBucket)
	if err != nil {
		return err
	}
	return kv.Delete(ctx, resource)
}

// ListUsage returns every recorded usage, sorted by resource.
func ListUsage(ctx context.Context, js jetstream.JetStream) ([]Usage, error) {
	return listJSON[Usage](ctx, js, UsageBucket)
}

// NotesBucket holds what services want operators to know about their state,
// such as a notification channel that is not configured; gtmhub status
// lists them.
const NotesBucket = "notes"

// Note is one thing a service says about its state.
type Note struct {
	Service   string    `json:"service"`
	Key       string    `json:"key"`
	Level     Level     `json:"level"`
	Text      string    `json:"text"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PutNote records n under its service and key, replacing an earlier one.
func PutNote(ctx context.Context, js jetstream.JetStream, n Note) error {
	if n.UpdatedAt.IsZero() {
		n.UpdatedAt = time.Now().UTC()
	}
	return putJSON(ctx, js, NotesBucket, n.Service+"."+n.Key, n)
}

// ListNotes returns every note, sorted by service and key.
func ListNotes(ctx context.Context, js jetstream.JetStream) ([]Note, error) {
	return listJSON[Note](ctx, js, NotesBucket)
}

// bucket binds a small state bucket, creating it with one replica when no
// topology created it first.
func bucket(ctx context.Context, js jetstream.JetStream, name string) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, History: 1})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", name, err)
	}
	return kv, nil
}

func putJSON(ctx context.Context, js jetstream.JetStream, name, key string, v any) error {
	if key == "" || strings.ContainsAny(key, " *>") {
		return fmt.Errorf("%s key %q is not valid", name, key)
	}
	kv, err := bucket(ctx, js, name)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = kv.Put(ctx, key, b)
	return err
}

func listJSON[T any](ctx context.Context, js jetstream.JetStream, name string) ([]T, error) {
	kv, err := bucket(ctx, js, name)
	if err != nil {
		return nil, err
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []T
	for k := range keys.Keys() {
		if strings.HasPrefix(k, "_") { // the bucket's own, such as FingerprintKey
			continue
		}
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			return nil, fmt.Errorf("%s %s: %w", name, k, err)
		}
		out = append(out, v)
	}
	return out, nil
}
