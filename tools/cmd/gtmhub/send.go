package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
)

func newSendCmd() *cobra.Command {
	var typ, source, ceSubject, data, subject, id string
	cmd := &cobra.Command{
		Use:   "send",
		Args:  cobra.NoArgs,
		Short: "Publish a CloudEvent through the gtmhub publisher, validated against its contract",
		Example: `  gtmhub send --type com.gtmhub.lead.captured --source /crm/import --data @lead.json
  gtmhub send --type com.gtmhub.lead.captured --source /crm/import --data '{"email":"ada@example.com"}'`,
		RunE: withJS(func(ctx context.Context, cmd *cobra.Command, js jetstream.JetStream, _ []string) error {
			body, err := readData(data)
			if err != nil {
				return err
			}
			if err := contracts.Validate(typ, body); err != nil {
				return describeInvalid(err)
			}
			if subject == "" {
				if subject, err = subjectFor(typ, source); err != nil {
					return err
				}
			}
			ev := event.New()
			ev.SetID(id)
			ev.SetType(typ)
			ev.SetSource(source)
			ev.SetSubject(ceSubject)
			ev.SetTime(time.Now().UTC())
			if err := ev.SetData(event.ApplicationJSON, body); err != nil {
				return err
			}
			pub, err := events.NewPublisher(js)
			if err != nil {
				return err
			}
			ack, err := pub.PublishAck(ctx, subject, ev)
			if err != nil {
				return err
			}
			published := struct {
				ID        string `json:"id"`
				Subject   string `json:"subject"`
				Stream    string `json:"stream"`
				Seq       uint64 `json:"seq"`
				Duplicate bool   `json:"duplicate"`
			}{ev.ID(), subject, ack.Stream, ack.Sequence, ack.Duplicate}
			return newPrinter(cmd).say(published, "published %s on %s: %s seq %d (duplicate: %v)\n",
				ev.ID(), subject, ack.Stream, ack.Sequence, ack.Duplicate)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&typ, "type", "", "event type, e.g. com.gtmhub.lead.captured")
	f.StringVar(&source, "source", "/gtmhub/cli", "CloudEvent source")
	f.StringVar(&ceSubject, "ce-subject", "", "CloudEvent subject attribute")
	f.StringVar(&data, "data", "", "event data: JSON, or @file.json")
	f.StringVar(&subject, "subject", "", "NATS subject (default: from the contract catalog)")
	f.StringVar(&id, "id", uuid.NewString(), "event id (sending the same id twice stores it once)")
	_ = cmd.MarkFlagRequired("type")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

func readData(s string) ([]byte, error) {
	if name, ok := strings.CutPrefix(s, "@"); ok {
		return os.ReadFile(name)
	}
	return []byte(s), nil
}

// subjectFor fills the catalog's subject pattern: {source} is the last token
// of the event source; any other placeholder needs --subject.
func subjectFor(typ, source string) (string, error) {
	e, ok := contracts.Lookup(typ)
	if !ok {
		return "", fmt.Errorf("unknown event type %q: see `gtmhub contracts ls`", typ)
	}
	token := strings.ToLower(source[strings.LastIndex(source, "/")+1:])
	subject := strings.ReplaceAll(e.Subject, "{source}", token)
	if strings.Contains(subject, "{") {
		return "", fmt.Errorf("subject %s needs values: give --subject", e.Subject)
	}
	for _, t := range strings.Split(subject, ".") {
		if !events.ValidToken(t) {
			return "", fmt.Errorf("subject %q from source %q is not valid: give --subject", subject, source)
		}
	}
	return subject, nil
}
