package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

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

func newDLQCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "Inspect and redrive dead letters"}
	var service string
	cmd.PersistentFlags().StringVar(&service, "service", "", "only dead letters of this service")
	cmd.AddCommand(&cobra.Command{
		Use:   "ls",
		Short: "List dead letters: seq, time, service, subject, attempts, error, trace id",
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, _ []string) error {
			dls, err := listDeadLetters(ctx, js, service)
			if err != nil {
				return err
			}
			rows := make([][]string, 0, len(dls))
			for _, d := range dls {
				rows = append(rows, []string{strconv.FormatUint(d.Seq, 10), d.Time.Format(time.RFC3339), d.Service,
					d.Subject, d.Attempts, d.Reason + ": " + d.Error, d.TraceID})
			}
			return newPrinter(cmd).print(dls, []string{"SEQ", "TIME", "SERVICE", "SUBJECT", "ATTEMPTS", "ERROR", "TRACE"}, rows)
		}),
	})
	cmd.AddCommand(newRedriveCmd(&service))
	return cmd
}

func newRedriveCmd(service *string) *cobra.Command {
	var msgID string
	var all, dryRun bool
	cmd := &cobra.Command{
		Use:   "redrive [SEQ...]",
		Short: "Put dead letters back on their original subject; each is removed from the DLQ only after the PubAck",
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, args []string) error {
			if len(args) == 0 && msgID == "" && !all && *service == "" {
				return errors.New("name dead letters by SEQ, --msg-id, --service or --all")
			}
			dls, err := listDeadLetters(ctx, js, *service)
			if err != nil {
				return err
			}
			chosen, err := selectDeadLetters(dls, args, msgID)
			if err != nil {
				return err
			}
			stream, err := js.Stream(ctx, events.StreamDLQ)
			if err != nil {
				return err
			}
			for _, d := range chosen {
				if dryRun {
					cmd.Printf("would redrive %d to %s (event %s)\n", d.Seq, d.Subject, d.EventID)
					continue
				}
				if err := redrive(ctx, js, stream, d); err != nil {
					return err
				}
				cmd.Printf("redrove %d to %s (event %s)\n", d.Seq, d.Subject, d.EventID)
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&msgID, "msg-id", "", "the dead letter's Nats-Msg-Id, as its Gtmhub-Dlq-Redrive header shows")
	cmd.Flags().BoolVar(&all, "all", false, "every dead letter (with --service: every one of that service)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be redriven")
	return cmd
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

func selectDeadLetters(dls []deadLetter, seqs []string, msgID string) ([]deadLetter, error) {
	if len(seqs) == 0 && msgID == "" {
		return dls, nil
	}
	want := map[string]bool{}
	for _, s := range seqs {
		if _, err := strconv.ParseUint(s, 10, 64); err != nil {
			return nil, fmt.Errorf("sequence %q is not a number", s)
		}
		want[s] = true
	}
	var out []deadLetter
	for _, d := range dls {
		if want[strconv.FormatUint(d.Seq, 10)] || (msgID != "" && d.MsgID == msgID) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no dead letter matches")
	}
	return out, nil
}

// listDeadLetters reads the DLQ stream, or one service's part of it.
func listDeadLetters(ctx context.Context, js jetstream.JetStream, service string) ([]deadLetter, error) {
	filter := events.SubjectDLQ + ".>"
	if service != "" {
		filter = events.SubjectDLQ + "." + service + ".>"
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamDLQ, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
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

// withJS connects to NATS for the duration of a command.
func withJS(fn func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
		defer cancel()
		js, closeFn, err := connect(ctx, cmd)
		if err != nil {
			return err
		}
		defer closeFn()
		return fn(ctx, cmd, js, args)
	}
}
