package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/events"
)

type deadLetter struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	MsgID    string    `json:"msg_id"`
	Service  string    `json:"service"`
	Subject  string    `json:"subject"`
	Attempts string    `json:"attempts"`
	Reason   string    `json:"reason"`
	Error    string    `json:"error"`
	TraceID  string    `json:"trace_id,omitempty"`
	EventID  string    `json:"event_id,omitempty"`
	Redrives string    `json:"redrives,omitempty"`

	header nats.Header
	data   []byte
}

func newDeadLetter(seq uint64, t time.Time, h nats.Header, data []byte) deadLetter {
	return deadLetter{Seq: seq, Time: t, MsgID: h.Get(events.HeaderMsgID), Service: h.Get(events.DLQHeaderService),
		Subject: h.Get(events.DLQHeaderSubject), Attempts: h.Get(events.DLQHeaderAttempts),
		Reason: h.Get(events.DLQHeaderReason), Error: h.Get(events.DLQHeaderError), TraceID: h.Get(events.DLQHeaderTraceID),
		EventID: h.Get(events.DLQHeaderEventID), Redrives: h.Get(events.HeaderRedriveCount), header: h, data: data}
}

// dlqFilter narrows dead letters by service, original subject and time.
type dlqFilter struct {
	service, subject string
	since, until     string
}

func (f *dlqFilter) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.service, "service", "", "only dead letters of this service")
	fs.StringVar(&f.subject, "subject", "", "only dead letters whose original subject matches (NATS wildcards)")
	fs.StringVar(&f.since, "since", "", "dead-lettered at or after: RFC 3339 or a duration ago, e.g. 24h")
	fs.StringVar(&f.until, "until", "", "dead-lettered at or before")
}

func (f dlqFilter) empty() bool { return f == dlqFilter{} }

// apply lists the DLQ of f.service and keeps what matches the rest of f.
func (f dlqFilter) apply(ctx context.Context, js jetstream.JetStream) ([]deadLetter, error) {
	var since, until time.Time
	var err error
	if f.since != "" {
		if since, err = parseSince(f.since, time.Now()); err != nil {
			return nil, fmt.Errorf("--since: %w", err)
		}
	}
	if f.until != "" {
		if until, err = parseSince(f.until, time.Now()); err != nil {
			return nil, fmt.Errorf("--until: %w", err)
		}
	}
	all, err := listDeadLetters(ctx, js, f.service)
	if err != nil {
		return nil, err
	}
	var out []deadLetter
	for _, d := range all {
		if (f.subject != "" && !subjectMatches(f.subject, d.Subject)) ||
			(!since.IsZero() && d.Time.Before(since)) || (!until.IsZero() && d.Time.After(until)) {
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// subjectMatches applies NATS wildcards ('*' one token, '>' the rest) by
// the server's own rules.
func subjectMatches(pattern, subject string) bool {
	return server.SubjectMatchesFilter(subject, pattern)
}

func newDLQCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "Inspect, redrive and purge dead letters"}
	var filter dlqFilter
	filter.bind(cmd.PersistentFlags())
	cmd.AddCommand(&cobra.Command{
		Use:   "ls",
		Args:  cobra.NoArgs,
		Short: "List dead letters: seq, time, service, subject, attempts, error, trace id",
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, _ []string) error {
			dls, err := filter.apply(ctx, js)
			if err != nil {
				return err
			}
			rows := make([][]string, 0, len(dls))
			for _, d := range dls {
				rows = append(rows, []string{strconv.FormatUint(d.Seq, 10), d.Time.Format(time.RFC3339), d.Service,
					d.Subject, d.Attempts, d.errorText(), d.TraceID})
			}
			return newPrinter(cmd).print(dls, []string{"SEQ", "TIME", "SERVICE", "SUBJECT", "ATTEMPTS", "ERROR", "TRACE"}, rows)
		}),
	})
	cmd.AddCommand(newRedriveCmd(&filter), newDLQShowCmd(), newDLQPurgeCmd(&filter))
	return cmd
}

func newRedriveCmd(filter *dlqFilter) *cobra.Command {
	var msgID string
	var all, dryRun, force bool
	var perSecond float64
	cmd := &cobra.Command{
		Use:   "redrive [SEQ...]",
		Short: "Put dead letters back on their original subject; each is removed from the DLQ only after the PubAck",
		Long: `redrive publishes each dead letter again on the subject it failed on, with
its CloudEvent id and a fresh Nats-Msg-Id, and removes it from the DLQ once
the publish is acknowledged. A dead letter whose subject no consumer reads
any more is left in the DLQ (redriving it would drop it from the flow)
unless --force. Every sequence asked for that is not in the DLQ, and every
dead letter left there, is named, and the command then fails.`,
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, args []string) error {
			if len(args) == 0 && msgID == "" && !all && filter.empty() {
				return errors.New("name dead letters by SEQ, --msg-id, filters (--service, --subject, --since, --until) or --all")
			}
			dls, err := filter.apply(ctx, js)
			if err != nil {
				return err
			}
			chosen, missing, err := selectDeadLetters(dls, args, msgID)
			if err != nil {
				return err
			}
			if len(chosen) == 0 && len(missing) == 0 && (!all || !filter.empty()) {
				return errors.New("no dead letter matches")
			}
			unread := []deadLetter(nil)
			if !force {
				chosen, unread = splitUnread(events.DefaultTopology(), chosen)
			}
			stream, err := js.Stream(ctx, events.StreamDLQ)
			if err != nil {
				return err
			}
			lim := rate.NewLimiter(rate.Inf, 0)
			if perSecond > 0 {
				lim = rate.NewLimiter(rate.Limit(perSecond), 1)
			}
			p := newPrinter(cmd)
			verb, do := "redrove", func(d deadLetter) error { return redrive(ctx, js, stream, d) }
			if dryRun {
				verb, do = "would redrive", func(deadLetter) error { return nil }
			}
			done, err := redriveAll(ctx, p, lim, chosen, verb, do)
			if err == nil {
				err = leftBehind(missing, unread, !filter.empty())
			}
			if p.json { // what was redriven, also when a later one failed
				return errors.Join(p.say(done, ""), err)
			}
			if len(chosen)+len(missing)+len(unread) == 0 {
				return p.say(nil, "nothing to redrive\n")
			}
			return err
		}),
	}
	cmd.Flags().StringVar(&msgID, "msg-id", "", "the dead letter's Nats-Msg-Id, as its Gtmhub-Dlq-Redrive header shows")
	cmd.Flags().BoolVar(&all, "all", false, "every dead letter (with --service: every one of that service)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be redriven")
	cmd.Flags().BoolVar(&force, "force", false, "redrive also dead letters whose subject no consumer reads")
	cmd.Flags().Float64Var(&perSecond, "rate", 0, "dead letters per second (default: no limit)")
	return cmd
}

// redriveAll calls do for each dead letter in turn, at lim's pace, and
// returns those it succeeded on; without --json it prints a line saying
// verb for each as it goes.
func redriveAll(ctx context.Context, p printer, lim *rate.Limiter, chosen []deadLetter, verb string,
	do func(deadLetter) error) ([]deadLetter, error) {
	done := make([]deadLetter, 0, len(chosen))
	for _, d := range chosen {
		if err := lim.Wait(ctx); err != nil {
			return done, err
		}
		if err := do(d); err != nil {
			return done, err
		}
		done = append(done, d)
		if !p.json {
			fmt.Fprintf(p.w, "%s %d to %s (event %s)\n", verb, d.Seq, d.Subject, d.EventID)
		}
	}
	return done, nil
}

// leftBehind names each sequence asked for that is not a dead letter
// (among those the filters keep, when filtered) and each dead letter left in
// the DLQ because no consumer reads its subject; nil when there is none.
func leftBehind(missing []string, unread []deadLetter, filtered bool) error {
	where := "in the DLQ"
	if filtered {
		where = "among the dead letters the filters keep"
	}
	var errs []error
	for _, s := range missing {
		errs = append(errs, fmt.Errorf("no dead letter %s %s", s, where))
	}
	for _, d := range unread {
		errs = append(errs, fmt.Errorf("dead letter %d left in the DLQ: no consumer reads %s, so redriving it would drop it (--force redrives it anyway)",
			d.Seq, d.Subject))
	}
	return errors.Join(errs...)
}

// splitUnread separates the dead letters whose subject a consumer of t
// reads, directly or through its replay companion, from those no consumer
// reads any more: redriving one of those would take it out of the flow.
func splitUnread(t events.Topology, dls []deadLetter) (read, unread []deadLetter) {
	for _, d := range dls {
		if consumerReads(t, d.Subject) {
			read = append(read, d)
		} else {
			unread = append(unread, d)
		}
	}
	return read, unread
}

// consumerReads reports whether a consumer of t, or its replay companion,
// has a filter matching subject.
func consumerReads(t events.Topology, subject string) bool {
	for _, c := range t.Consumers {
		if subjectMatches(events.ReplaySubject(c.Durable, ">"), subject) {
			return true
		}
		for _, f := range c.Filters {
			if subjectMatches(f, subject) {
				return true
			}
		}
	}
	return false
}

func redrive(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, d deadLetter) error {
	msg, err := events.RedriveMsg(d.header, d.data)
	if err != nil {
		return fmt.Errorf("dead letter %d: %w", d.Seq, err)
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("redrive %d: %w (left in the DLQ)", d.Seq, err)
	}
	if err := stream.DeleteMsg(ctx, d.Seq); err != nil {
		return fmt.Errorf("redrove %d but could not remove it from the DLQ: %w", d.Seq, err)
	}
	return nil
}

// selectDeadLetters keeps the dead letters named by sequence or message id,
// or all of dls when none is named; missing lists what was named and is not
// among dls.
func selectDeadLetters(dls []deadLetter, seqs []string, msgID string) (chosen []deadLetter, missing []string, err error) {
	if len(seqs) == 0 && msgID == "" {
		return dls, nil, nil
	}
	want := map[uint64]bool{}
	for _, s := range seqs {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("sequence %q is not a number", s)
		}
		want[n] = true
	}
	found := map[uint64]bool{}
	msgIDFound := false
	for _, d := range dls {
		byMsgID := msgID != "" && d.MsgID == msgID
		if want[d.Seq] || byMsgID {
			chosen = append(chosen, d)
			found[d.Seq] = true
			msgIDFound = msgIDFound || byMsgID
		}
	}
	for _, s := range seqs {
		if n, _ := strconv.ParseUint(s, 10, 64); !found[n] {
			missing = append(missing, s)
			found[n] = true // named twice, reported once
		}
	}
	if msgID != "" && !msgIDFound {
		missing = append(missing, "with --msg-id "+msgID)
	}
	return chosen, missing, nil
}

// errorText is the reason a letter is dead and its last error, the reason
// once: a permanent error's text starts with it already.
func (d deadLetter) errorText() string {
	if d.Reason == "" || strings.HasPrefix(d.Error, d.Reason+": ") {
		return d.Error
	}
	return d.Reason + ": " + d.Error
}

// listDeadLetters reads the DLQ stream, or one service's part of it.
func listDeadLetters(ctx context.Context, js jetstream.JetStream, service string) ([]deadLetter, error) {
	filter := events.SubjectDLQ + ".>"
	if service != "" {
		filter = events.SubjectDLQ + "." + service + ".>"
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamDLQ, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter},
		InactiveThreshold: events.ReadOnceInactive})
	if err != nil {
		return nil, fmt.Errorf("read DLQ: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("read DLQ: %w", err)
	}
	var out []deadLetter
	for remaining := info.NumPending; remaining > 0; {
		batch, err := cons.Fetch(int(min(remaining, 256)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read DLQ: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			out = append(out, newDeadLetter(md.Sequence.Stream, md.Timestamp, m.Headers(), m.Data()))
			n++
		}
		if n == 0 {
			break
		}
		remaining -= uint64(n)
	}
	return out, nil
}
