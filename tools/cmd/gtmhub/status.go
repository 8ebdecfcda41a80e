package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/events/service"
)

type streamStatus struct {
	Name      string           `json:"name"`
	Subjects  []string         `json:"subjects"`
	Messages  uint64           `json:"messages"`
	Bytes     uint64           `json:"bytes"`
	Replicas  int              `json:"replicas"`
	Consumers []consumerStatus `json:"consumers,omitempty"`
}

type consumerStatus struct {
	Name        string `json:"name"`
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ack_pending"`
	Redelivered int    `json:"redelivered"`
	Paused      bool   `json:"paused"`
}

func newStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show streams and consumers: messages, pending, unacknowledged, redelivered",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			js, closeFn, err := connect(ctx, cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			st, err := collectStatus(ctx, js)
			if err != nil {
				return err
			}
			var rows [][]string
			for _, s := range st {
				rows = append(rows, []string{s.Name, strings.Join(s.Subjects, ","), fmt.Sprint(s.Messages), fmt.Sprint(s.Bytes), "", "", "", ""})
				for _, c := range s.Consumers {
					paused := ""
					if c.Paused {
						paused = "paused"
					}
					rows = append(rows, []string{"", "", "", "", c.Name, fmt.Sprint(c.Pending), fmt.Sprint(c.AckPending), paused})
				}
			}
			return newPrinter(cmd).print(st, []string{"STREAM", "SUBJECTS", "MESSAGES", "BYTES", "CONSUMER", "PENDING", "UNACKED", ""}, rows)
		},
	}
}

func collectStatus(ctx context.Context, js jetstream.JetStream) ([]streamStatus, error) {
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
		cons := s.ListConsumers(ctx)
		for ci := range cons.Info() {
			ss.Consumers = append(ss.Consumers, consumerStatus{Name: ci.Name, Pending: ci.NumPending,
				AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered, Paused: ci.Paused})
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

func connect(ctx context.Context, cmd *cobra.Command) (jetstream.JetStream, func(), error) {
	url, _ := cmd.Flags().GetString("nats-url")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	nc, js, err := service.Connect(ctx, url, "gtmhub-cli", slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, err
	}
	deadline := time.Now().Add(3 * time.Second)
	for !nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !nc.IsConnected() {
		nc.Close()
		return nil, nil, fmt.Errorf("no NATS server at %s: is `gtmhub up` running?", url)
	}
	return js, nc.Close, nil
}
