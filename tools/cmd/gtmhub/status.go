package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

type status struct {
	Streams  []streamStatus  `json:"streams"`
	DLQ      map[string]int  `json:"dlq_by_service"`
	Quaran   map[string]int  `json:"quarantine_by_source"`
	Services []serviceStatus `json:"services"`
	Usage    []usageStatus   `json:"usage"`
	Notes    []service.Note  `json:"notes"`
}

type streamStatus struct {
	Name      string           `json:"name"`
	Subjects  []string         `json:"subjects"`
	Messages  uint64           `json:"messages"`
	Bytes     uint64           `json:"bytes"`
	First     time.Time        `json:"first,omitzero"`
	Last      time.Time        `json:"last,omitzero"`
	Replicas  int              `json:"replicas"`
	Consumers []consumerStatus `json:"consumers,omitempty"`
}

type consumerStatus struct {
	Name        string    `json:"name"`
	Pending     uint64    `json:"pending"`
	AckPending  int       `json:"ack_pending"`
	Redelivered int       `json:"redelivered"`
	Paused      bool      `json:"paused"`
	LastActive  time.Time `json:"last_active,omitzero"`
}

type serviceStatus struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Version string `json:"version"`
}

type usageStatus struct {
	service.Usage
	Percent float64       `json:"percent"`
	Level   service.Level `json:"level"`
}

// errCritical makes `gtmhub status` exit non-zero so it can gate a cron job.
var errCritical = errors.New("usage is critical")

func newStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Streams, consumers, dead letters, quarantine, live services and usage against quotas",
		Long: `status shows every stream and consumer, dead letters per service,
quarantined webhooks per source, the services answering discovery, and usage
against quotas rated OK (< 70 %), Warning (70–85 %), Caution (85–95 %) or
Critical (> 95 %). It exits non-zero when any usage is Critical.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			nc, js, err := dial(ctx, cmd)
			if err != nil {
				return err
			}
			defer nc.Close()
			st, err := collectStatus(ctx, nc, js)
			if err != nil {
				return err
			}
			if err := printStatus(cmd, st); err != nil {
				return err
			}
			for _, u := range st.Usage {
				if u.Level == service.LevelCritical {
					return fmt.Errorf("%w: %s at %.0f%%", errCritical, u.Resource, u.Percent)
				}
			}
			return nil
		},
	}
}

func collectStatus(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) (status, error) {
	var st status
	var err error
	if st.Streams, err = collectStreams(ctx, js); err != nil {
		return st, err
	}
	if st.DLQ, err = subjectCounts(ctx, js, events.StreamDLQ, 2); err != nil {
		return st, err
	}
	if st.Quaran, err = subjectCounts(ctx, js, events.StreamQuarantine, 2); err != nil {
		return st, err
	}
	st.Services = discover(ctx, nc)
	usage, err := service.ListUsage(ctx, js)
	if err != nil {
		return st, err
	}
	for _, u := range usage {
		st.Usage = append(st.Usage, usageStatus{Usage: u, Percent: u.Percent(), Level: u.Level()})
	}
	st.Notes, err = service.ListNotes(ctx, js)
	return st, err
}

func collectStreams(ctx context.Context, js jetstream.JetStream) ([]streamStatus, error) {
	var out []streamStatus
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		info := s.CachedInfo()
		ss := streamStatus{Name: name, Subjects: info.Config.Subjects, Messages: info.State.Msgs,
			Bytes: info.State.Bytes, Replicas: info.Config.Replicas}
		if info.State.Msgs > 0 {
			ss.First, ss.Last = info.State.FirstTime, info.State.LastTime
		}
		cons := s.ListConsumers(ctx)
		for ci := range cons.Info() {
			cs := consumerStatus{Name: ci.Name, Pending: ci.NumPending, AckPending: ci.NumAckPending,
				Redelivered: ci.NumRedelivered, Paused: ci.Paused}
			if ci.Delivered.Last != nil {
				cs.LastActive = *ci.Delivered.Last
			}
			ss.Consumers = append(ss.Consumers, cs)
		}
		if err := cons.Err(); err != nil {
			return nil, fmt.Errorf("consumers of %s: %w", name, err)
		}
		out = append(out, ss)
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	return out, nil
}

// subjectCounts counts a stream's messages by the subject token at index
// tok: the service of gtm.dlq.{service}.…, the source of gtm.quarantine.{source}.
func subjectCounts(ctx context.Context, js jetstream.JetStream, stream string, tok int) (map[string]int, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	out := map[string]int{}
	for subj, n := range info.State.Subjects {
		if parts := strings.Split(subj, "."); len(parts) > tok {
			out[parts[tok]] += int(n)
		}
	}
	return out, nil
}

// discover asks NATS service discovery who is alive.
func discover(ctx context.Context, nc *nats.Conn) []serviceStatus {
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(micro.APIPrefix+".PING", inbox, nil); err != nil {
		return nil
	}
	var out []serviceStatus
	deadline := time.Now().Add(500 * time.Millisecond)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil || ctx.Err() != nil {
			return out
		}
		var p micro.Ping
		if json.Unmarshal(m.Data, &p) == nil && strings.HasPrefix(p.Name, "gtmhub-") {
			out = append(out, serviceStatus{Name: p.Name, ID: p.ID, Version: p.Version})
		}
	}
}

func printStatus(cmd *cobra.Command, st status) error {
	p := newPrinter(cmd)
	if p.json {
		return p.print(st, nil, nil)
	}
	var rows [][]string
	for _, s := range st.Streams {
		rows = append(rows, []string{s.Name, fmt.Sprint(s.Messages), fmt.Sprint(s.Bytes), stamp(s.First), stamp(s.Last), "", "", "", "", ""})
		for _, c := range s.Consumers {
			paused := ""
			if c.Paused {
				paused = "paused"
			}
			rows = append(rows, []string{"", "", "", "", "", c.Name, fmt.Sprint(c.Pending), fmt.Sprint(c.AckPending),
				fmt.Sprint(c.Redelivered), strings.TrimSpace(stamp(c.LastActive) + " " + paused)})
		}
	}
	if err := p.print(nil, []string{"STREAM", "MESSAGES", "BYTES", "FIRST", "LAST", "CONSUMER", "PENDING", "UNACKED", "REDELIVERED", "LAST ACTIVE"}, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for name, n := range st.DLQ {
		rows = append(rows, []string{"dead letters", name, fmt.Sprint(n), "gtmhub dlq ls --service " + name})
	}
	for name, n := range st.Quaran {
		rows = append(rows, []string{"quarantined", name, fmt.Sprint(n), "gtmhub quarantine ls"})
	}
	for _, s := range st.Services {
		rows = append(rows, []string{"service", s.Name, "alive", s.ID})
	}
	for _, u := range st.Usage {
		rows = append(rows, []string{"usage", u.Resource, fmt.Sprintf("%.0f/%.0f %s (%.0f%%)", u.Used, u.Limit, u.Unit, u.Percent), strings.ToUpper(string(u.Level))})
	}
	for _, n := range st.Notes {
		rows = append(rows, []string{"note", n.Service, strings.ToUpper(string(n.Level)), n.Text})
	}
	cmd.Println()
	return p.print(nil, []string{"WHAT", "NAME", "STATE", "NOTE"}, rows)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
