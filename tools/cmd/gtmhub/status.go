package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	// Credentials are the services' credentials rated against RotateAfter.
	Credentials []credentialStatus `json:"credentials"`
	RotateAfter service.Days       `json:"rotate_after"`
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
	// Breakers are the instance's circuit breakers, by destination.
	Breakers []events.BreakerState `json:"breakers,omitempty"`
	// BreakersError says why the breakers could not be read.
	BreakersError string `json:"breakers_error,omitempty"`
}

type usageStatus struct {
	service.Usage
	Percent float64       `json:"percent"`
	Level   service.Level `json:"level"`
	// Ended is set for a usage whose period is over: it is rated OK, as it
	// says nothing of the quota now.
	Ended bool `json:"ended,omitempty"`
}

// newUsageStatus rates u as it stands at now.
func newUsageStatus(u service.Usage, now time.Time) usageStatus {
	if !u.Current(now) {
		return usageStatus{Usage: u, Percent: u.Percent(), Level: service.LevelOK, Ended: true}
	}
	return usageStatus{Usage: u, Percent: u.Percent(), Level: u.Level()}
}

// errCritical makes `gtmhub status` exit non-zero so it can gate a cron job.
var errCritical = errors.New("usage is critical")

func newStatusCmd() *cobra.Command {
	var rot rotation
	cmd := &cobra.Command{
		Use:   "status",
		Args:  cobra.NoArgs,
		Short: "Streams, consumers, dead letters, quarantine, live services, circuit breakers, usage against quotas and credential ages",
		Long: `status shows every stream and consumer, dead letters per service,
quarantined webhooks per source, the services answering discovery with the
state of each one's circuit breakers (closed, half-open, or open and when it
will next try), and usage against quotas rated OK (< 70 %), Warning
(70–85 %), Caution (85–95 %) or Critical (> 95 %), and the age of every
credential the services use, due soon for rotation from two thirds of the
rotation period (--rotate-after, or credentials.rotate_after in --config;
90 days by default) and overdue from all of it, with a warning for each.
It exits non-zero when any usage is Critical.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rotateAfter, err := rot.period(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			nc, js, err := dial(ctx, cmd)
			if err != nil {
				return err
			}
			defer nc.Close()
			st, err := collectStatus(ctx, nc, js, rotateAfter)
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
	rot.flags(cmd)
	return cmd
}

func collectStatus(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, rotateAfter time.Duration) (status, error) {
	st := status{RotateAfter: service.Days(rotateAfter)}
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
	now := time.Now()
	for _, u := range usage {
		st.Usage = append(st.Usage, newUsageStatus(u, now))
	}
	if st.Notes, err = service.ListNotes(ctx, js); err != nil {
		return st, err
	}
	st.Credentials, err = collectCredentials(ctx, js, now, rotateAfter)
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

// discover asks NATS service discovery who is alive, then each instance
// for the states of its circuit breakers.
func discover(ctx context.Context, nc *nats.Conn) []serviceStatus {
	infos := discoverInfo(ctx, nc)
	out := make([]serviceStatus, 0, len(infos))
	for _, info := range infos {
		s := serviceStatus{Name: info.Name, ID: info.ID, Version: info.Version}
		var err error
		if s.Breakers, err = breakerStates(ctx, nc, info); err != nil {
			s.BreakersError = err.Error()
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b serviceStatus) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	return out
}

// discoverInfo collects the $SRV.INFO answers of gtmhub's services for
// half a second.
func discoverInfo(ctx context.Context, nc *nats.Conn) []micro.Info {
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(micro.APIPrefix+".INFO", inbox, nil); err != nil {
		return nil
	}
	var out []micro.Info
	deadline := time.Now().Add(500 * time.Millisecond)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil || ctx.Err() != nil {
			return out
		}
		var info micro.Info
		if json.Unmarshal(m.Data, &info) == nil && strings.HasPrefix(info.Name, "gtmhub-") {
			out = append(out, info)
		}
	}
}

// breakerStates asks one instance for its circuit breakers; nil for a
// service without the endpoint.
func breakerStates(ctx context.Context, nc *nats.Conn, info micro.Info) ([]events.BreakerState, error) {
	i := slices.IndexFunc(info.Endpoints, func(e micro.EndpointInfo) bool { return e.Name == service.BreakersEndpoint })
	if i < 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, info.Endpoints[i].Subject, nil)
	if err != nil {
		return nil, fmt.Errorf("breakers: %w", err)
	}
	if code := m.Header.Get(micro.ErrorCodeHeader); code != "" {
		return nil, fmt.Errorf("breakers: %s %s", code, m.Header.Get(micro.ErrorHeader))
	}
	var states []events.BreakerState
	if err := json.Unmarshal(m.Data, &states); err != nil {
		return nil, fmt.Errorf("breakers: %w", err)
	}
	return states, nil
}

func printStatus(cmd *cobra.Command, st status) error {
	p := newPrinter(cmd)
	if p.json {
		return p.print(st, nil, nil)
	}
	if err := printStreams(p, st.Streams); err != nil {
		return err
	}
	cmd.Println()
	if err := printSummary(p, st); err != nil {
		return err
	}
	warnRotation(cmd, st.Credentials, time.Duration(st.RotateAfter))
	return printBreakers(cmd, p, st.Services)
}

func printStreams(p printer, streams []streamStatus) error {
	var rows [][]string
	for _, s := range streams {
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
	return p.print(nil, []string{"STREAM", "MESSAGES", "BYTES", "FIRST", "LAST", "CONSUMER", "PENDING", "UNACKED", "REDELIVERED", "LAST ACTIVE"}, rows)
}

// printSummary lists dead letters, quarantine, services, usage, notes and
// credentials.
func printSummary(p printer, st status) error {
	var rows [][]string
	for name, n := range st.DLQ {
		rows = append(rows, []string{"dead letters", name, fmt.Sprint(n), "gtmhub dlq ls --service " + name})
	}
	for name, n := range st.Quaran {
		rows = append(rows, []string{"quarantined", name, fmt.Sprint(n), "gtmhub quarantine ls"})
	}
	for _, s := range st.Services {
		note := s.ID
		if s.BreakersError != "" {
			note += " " + s.BreakersError
		}
		rows = append(rows, []string{"service", s.Name, "alive", note})
	}
	for _, u := range st.Usage {
		level := strings.ToUpper(string(u.Level))
		if u.Ended {
			level = "ENDED " + u.Period
		}
		rows = append(rows, []string{"usage", u.Resource, usageText(u.Usage), level})
	}
	for _, n := range st.Notes {
		rows = append(rows, []string{"note", n.Service, strings.ToUpper(string(n.Level)), n.Text})
	}
	for _, c := range st.Credentials {
		rows = append(rows, []string{"credential", c.Key(), rotationText(c.Rotation),
			fmt.Sprintf("%d days old (%s), since %s", c.AgeDays, c.Origin, stamp(c.FirstSeen))})
	}
	return p.print(nil, []string{"WHAT", "NAME", "STATE", "NOTE"}, rows)
}

// printBreakers lists every service's circuit breakers, if any, with open
// ones in capitals like other problems, and when they will next try.
func printBreakers(cmd *cobra.Command, p printer, services []serviceStatus) error {
	var rows [][]string
	for _, s := range services {
		for _, b := range s.Breakers {
			state, retry := b.State, ""
			if b.State == "open" {
				state, retry = strings.ToUpper(b.State), "-"
				if !b.RetryAt.IsZero() {
					retry = fmt.Sprintf("%s (in %s)", stamp(b.RetryAt), max(time.Until(b.RetryAt), 0).Round(time.Second))
				}
			}
			rows = append(rows, []string{s.Name, b.Destination, state, retry})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	cmd.Println()
	return p.print(nil, []string{"SERVICE", "DESTINATION", "BREAKER", "RETRY AT"}, rows)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// usageText says how much of a quota is used: "7/10 credits (70%)", or
// "7 credits" without a limit.
func usageText(u service.Usage) string {
	if u.Limit <= 0 {
		return strings.TrimSpace(fmt.Sprintf("%.0f %s", u.Used, u.Unit))
	}
	return fmt.Sprintf("%.0f/%.0f %s (%.0f%%)", u.Used, u.Limit, u.Unit, u.Percent())
}
