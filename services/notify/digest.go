package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/robfig/cron/v3"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/service"
)

// DigestRule is the rule name the daily digest is recorded under in the
// ledger and on NOTIFY; its dedupe key is the date.
const DigestRule = "daily-digest"

// Digest is the digest: section of gtmhub.yaml: a daily email summarizing
// the previous day's leads.
type Digest struct {
	// Schedule is a standard five-field cron expression. Default "0 8 * * *".
	Schedule string `yaml:"schedule"`
	// TimeZone is the IANA zone of the schedule and of the days summarized.
	// Default: the machine's local zone.
	TimeZone string `yaml:"time_zone"`
	// To lists the recipients. Empty: no digest is sent on schedule.
	To []string `yaml:"to"`
}

// DefaultDigest is 08:00 local time, no recipients.
func DefaultDigest() Digest { return Digest{Schedule: "0 8 * * *"} }

func (d Digest) withDefaults() Digest {
	if d.Schedule == "" {
		d.Schedule = DefaultDigest().Schedule
	}
	return d
}

func (d Digest) location() (*time.Location, error) {
	if d.TimeZone == "" {
		return time.Local, nil
	}
	return time.LoadLocation(d.TimeZone)
}

func (d Digest) validate(p interface{ Addf(string, ...any) }, smtp SMTP) {
	if _, err := cron.ParseStandard(d.withDefaults().Schedule); err != nil {
		p.Addf("digest.schedule: %v", err)
	}
	if _, err := d.location(); err != nil {
		p.Addf("digest.time_zone: %v", err)
	}
	if len(d.To) > 0 && !smtp.configured() {
		p.Addf("digest.to needs smtp.host")
	}
}

// DigestLead is one lead in the digest's top list.
type DigestLead struct {
	Name        string  `json:"name"`
	Email       string  `json:"email"`
	Company     string  `json:"company,omitempty"`
	Source      string  `json:"source,omitempty"`
	SignalScore float64 `json:"signal_score"`
}

// DigestReport summarizes one day's leads.
type DigestReport struct {
	// Date is the local day, YYYY-MM-DD.
	Date string `json:"date"`
	// NewLeads counts the contacts created that day.
	NewLeads int `json:"new_leads"`
	// BySource counts them by ingest source ("unknown" without one).
	BySource map[string]int `json:"by_source"`
	// Top are the ten with the highest signal score.
	Top []DigestLead `json:"top"`
	// Rejected counts the leads rejected that day.
	Rejected int `json:"rejected"`
	// DeadLetters counts the events dead-lettered that day, by service.
	DeadLetters map[string]int `json:"dead_letters"`
	// Alerts are the alert levels raised that day, oldest first.
	Alerts []DigestAlert `json:"alerts"`
}

// DigestAlert is one alert level raised: the alert ("dlq.depth",
// "usage.enrich.clearbit.credits", ...), its level and when.
type DigestAlert struct {
	Name  string    `json:"name"`
	Level string    `json:"level"`
	At    time.Time `json:"at"`
}

// Warnings counts the day's dead letters and alerts.
func (r DigestReport) Warnings() int {
	n := len(r.Alerts)
	for _, c := range r.DeadLetters {
		n += c
	}
	return n
}

// ComputeDigest summarizes the day that starts at day (local midnight) from
// the streams, reading them by time: contacts created (RECORDS) and leads
// rejected (LEADS). Each event counts once, by CloudEvent id, and each
// contact once, by email. Replayed events (a rebuild of the store with
// `gtmhub replay`) are not the day's news and are left out. Its warnings
// are the day's dead letters (DLQ) and the alert levels raised (the
// [AlertsBucket], when there is one).
func ComputeDigest(ctx context.Context, js jetstream.JetStream, day time.Time) (DigestReport, error) {
	start := day
	end := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, day.Location())
	r := DigestReport{Date: day.Format(time.DateOnly), BySource: map[string]int{}, DeadLetters: map[string]int{}}
	seen := map[string]bool{}
	leads := map[string]DigestLead{}
	err := readEventsByTime(ctx, js, events.StreamRecords, events.SubjectContactCreated, start, end, func(ev event.Event) {
		var c contracts.ContactChanged
		if seen[ev.ID()] || isTrue(ev, ReplayExtension) || json.Unmarshal(ev.Data(), &c) != nil || c.Contact.Email == "" {
			return
		}
		seen[ev.ID()] = true
		email := strings.ToLower(c.Contact.Email)
		if _, dup := leads[email]; dup {
			return
		}
		l := DigestLead{Name: strings.TrimSpace(c.Contact.FirstName + " " + c.Contact.LastName), Email: c.Contact.Email,
			Company: c.Contact.Company, Source: c.Contact.Source}
		if c.Contact.SignalScore != nil {
			l.SignalScore = *c.Contact.SignalScore
		}
		leads[email] = l
		src := cmp.Or(l.Source, "unknown")
		r.BySource[src]++
	})
	if err != nil {
		return DigestReport{}, err
	}
	err = readEventsByTime(ctx, js, events.StreamLeads, events.SubjectLeadsRejected, start, end, func(ev event.Event) {
		if !seen[ev.ID()] && !isTrue(ev, ReplayExtension) {
			seen[ev.ID()] = true
			r.Rejected++
		}
	})
	if err != nil {
		return DigestReport{}, err
	}
	err = readByTime(ctx, js, events.StreamDLQ, events.SubjectDLQ+".>", start, end, func(m jetstream.Msg) {
		r.DeadLetters[cmp.Or(m.Headers().Get(events.DLQHeaderService), "unknown")]++
	})
	if err != nil {
		return DigestReport{}, err
	}
	if r.Alerts, err = alertsRaised(ctx, js, start, end); err != nil {
		return DigestReport{}, err
	}
	r.NewLeads = len(leads)
	all := make([]DigestLead, 0, len(leads))
	for _, l := range leads {
		all = append(all, l)
	}
	slices.SortFunc(all, func(a, b DigestLead) int {
		return cmp.Or(cmp.Compare(b.SignalScore, a.SignalScore), cmp.Compare(a.Email, b.Email))
	})
	r.Top = all[:min(10, len(all))]
	return r, nil
}

// readEventsByTime calls fn for every event on subject in stream stored in
// [start, end); messages that are not events are skipped.
func readEventsByTime(ctx context.Context, js jetstream.JetStream, stream, subject string, start, end time.Time, fn func(event.Event)) error {
	return readByTime(ctx, js, stream, subject, start, end, func(m jetstream.Msg) {
		if ev, err := events.Decode(m.Headers(), m.Data()); err == nil {
			fn(ev)
		}
	})
}

// alertsRaised lists the alert levels the alerts bucket says were raised
// in [start, end); none when there is no bucket yet.
func alertsRaised(ctx context.Context, js jetstream.JetStream, start, end time.Time) ([]DigestAlert, error) {
	kv, err := js.KeyValue(ctx, AlertsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", AlertsBucket, err)
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", AlertsBucket, err)
	}
	var out []DigestAlert
	for key := range lister.Keys() {
		a, ok := raisedAlert(ctx, kv, key)
		if ok && !a.At.Before(start) && a.At.Before(end) {
			a.At = a.At.In(start.Location())
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b DigestAlert) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Name, b.Name)) })
	return out, nil
}

// raisedAlert reads a raised level's entry, keyed {name}.{level}.{period}
// with the time it was raised as its value (see [alerter.raise]); other
// entries (an alert's "active" mark, the DLQ depth) are not levels.
func raisedAlert(ctx context.Context, kv jetstream.KeyValue, key string) (DigestAlert, bool) {
	e, err := kv.Get(ctx, key)
	if err != nil {
		return DigestAlert{}, false
	}
	at, err := time.Parse(time.RFC3339, string(e.Value()))
	if err != nil {
		return DigestAlert{}, false
	}
	rest, _, ok := cutLast(key)
	name, level, ok2 := cutLast(rest)
	if !ok || !ok2 {
		return DigestAlert{}, false
	}
	return DigestAlert{Name: name, Level: level, At: at}, true
}

// cutLast splits s at its last dot.
func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// readByTime calls fn for every message on subject in stream stored in
// [start, end), with an ordered consumer starting at start.
func readByTime(ctx context.Context, js jetstream.JetStream, stream, subject string, start, end time.Time, fn func(jetstream.Msg)) error {
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start,
		InactiveThreshold: events.ReadOnceInactive,
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	if info.NumPending == 0 {
		return nil
	}
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("read %s: %w", stream, err)
			}
			if !md.Timestamp.Before(end) {
				return nil
			}
			fn(m)
			if md.NumPending == 0 {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if n == 0 {
			return emptyFetch(ctx, cons, stream)
		}
	}
}

// emptyFetch decides what a fetch that delivered nothing means: the end of
// the stream when the consumer has nothing pending, else an error. A user
// allowed to create the consumer but not to pull from it
// ($JS.API.CONSUMER.MSG.NEXT) gets empty fetches, and its digest must fail,
// not report a quiet day.
func emptyFetch(ctx context.Context, cons jetstream.Consumer, stream string) error {
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	if info.NumPending > 0 {
		return fmt.Errorf("read %s: a fetch delivered nothing while consumer %s has %d messages pending (may this user pull from it?)",
			stream, info.Name, info.NumPending)
	}
	return nil
}

var digestText = texttemplate.Must(texttemplate.New("digest").Parse(`Leads on {{.Date}}

New leads: {{.NewLeads}}
Rejected: {{.Rejected}}
{{if .BySource}}
By source:
{{range $src, $n := .BySource}}  {{$src}}: {{$n}}
{{end}}{{end}}{{if .Top}}
Top {{len .Top}} by signal score:
{{range $i, $l := .Top}}  {{$l.SignalScore}}  {{or $l.Name $l.Email}}{{with $l.Company}} ({{.}}){{end}}{{with $l.Source}} via {{.}}{{end}}
{{end}}{{end}}
Warnings: {{.Warnings}}
{{if .DeadLetters}}Dead letters (gtmhub dlq ls):
{{range $svc, $n := .DeadLetters}}  {{$svc}}: {{$n}}
{{end}}{{end}}{{if .Alerts}}Alerts raised:
{{range .Alerts}}  {{.At.Format "15:04"}}  {{.Name}} {{.Level}}
{{end}}{{end}}`))

var digestHTML = htmltemplate.Must(htmltemplate.New("digest").Parse(`<h1>Leads on {{.Date}}</h1>
<p><strong>{{.NewLeads}}</strong> new leads, <strong>{{.Rejected}}</strong> rejected.</p>
{{if .BySource}}<h2>By source</h2><ul>{{range $src, $n := .BySource}}<li>{{$src}}: {{$n}}</li>{{end}}</ul>{{end}}
{{if .Top}}<h2>Top {{len .Top}} by signal score</h2><ol>{{range .Top}}<li>{{.SignalScore}} {{or .Name .Email}}{{with .Company}} ({{.}}){{end}}{{with .Source}} via {{.}}{{end}}</li>{{end}}</ol>{{end}}
<h2>Warnings: {{.Warnings}}</h2>
{{if .DeadLetters}}<p>Dead letters (<code>gtmhub dlq ls</code>):</p><ul>{{range $svc, $n := .DeadLetters}}<li>{{$svc}}: {{$n}}</li>{{end}}</ul>{{end}}
{{if .Alerts}}<p>Alerts raised:</p><ul>{{range .Alerts}}<li>{{.At.Format "15:04"}} {{.Name}} {{.Level}}</li>{{end}}</ul>{{end}}
`))

// Email returns the digest as an email to to.
func (r DigestReport) Email(to string) (Email, error) {
	var text, html strings.Builder
	if err := digestText.Execute(&text, r); err != nil {
		return Email{}, err
	}
	if err := digestHTML.Execute(&html, r); err != nil {
		return Email{}, err
	}
	return Email{To: to, Subject: fmt.Sprintf("gtmhub digest for %s: %d new leads, %d rejected, %d warnings", r.Date,
		r.NewLeads, r.Rejected, r.Warnings()),
		Text: text.String(), HTML: html.String()}, nil
}

// digestSender sends one report to every recipient.
type digestSender struct {
	mailer *Mailer
	report DigestReport
	to     []string
}

func (s digestSender) Send(ctx context.Context, _ Message) error {
	for _, to := range s.to {
		e, err := s.report.Email(to)
		if err != nil {
			return events.Permanent(err)
		}
		e.MessageID = s.mailer.MessageID(uuid.NewSHA1(uuid.NameSpaceURL, []byte(Name+":digest:"+s.report.Date+":"+to)).String())
		if err := s.mailer.Send(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// DigestResult is what [RunDigest] did.
type DigestResult struct {
	Report DigestReport `json:"report"`
	// Outcome is sent, or suppressed when the date's digest was already
	// decided; empty on a dry run.
	Outcome contracts.Outcome `json:"outcome,omitempty"`
	// Text is the email's text part.
	Text string `json:"text"`
}

// sendDigest computes date's digest and sends it once: the ledger holds it
// under [DigestRule] and the date, so a second trigger sends nothing.
func (n *notifier) sendDigest(ctx context.Context, day time.Time, dryRun bool) (DigestResult, error) {
	report, err := ComputeDigest(ctx, n.js, day)
	if err != nil {
		return DigestResult{}, err
	}
	res := DigestResult{Report: report}
	if e, err := report.Email(""); err == nil {
		res.Text = e.Text
	}
	if dryRun {
		return res, nil
	}
	if n.mailer == nil || len(n.digest.To) == 0 {
		return res, fmt.Errorf("digest: needs smtp.host and digest.to")
	}
	ev := event.New()
	ev.SetID(uuid.NewSHA1(uuid.NameSpaceURL, []byte(Name+":digest:"+report.Date)).String())
	ev.SetType(contracts.TypeNotificationSent)
	ev.SetSource(Source)
	ev.SetSubject("digest/" + report.Date)
	m := Match{Rule: DigestRule, Channel: contracts.ChannelEmail, Target: strings.Join(n.digest.To, ","), DedupeKey: report.Date}
	id := DecisionID(m.Rule, m.DedupeKey)
	cur, rev, claimed, err := n.ledger.claim(ctx, id, LedgerEntry{Rule: m.Rule, Channel: m.Channel, State: StateClaimed, EventID: ev.ID(), At: n.now()})
	if err != nil {
		return res, err
	}
	if !claimed {
		if rev, claimed, err = n.reclaim(ctx, ev, m, id, cur, rev); err != nil {
			return res, err
		}
		if !claimed {
			res.Outcome = contracts.OutcomeSuppressed
			return res, nil
		}
	}
	if err := n.act(ctx, ev, nil, m, id, rev, actOptions{sender: digestSender{mailer: n.mailer, report: report, to: n.digest.To}}); err != nil {
		return res, err
	}
	res.Outcome = contracts.OutcomeSent
	return res, nil
}

// digestLoop sends yesterday's digest on the schedule.
func (n *notifier) digestLoop(ctx context.Context) {
	loc, _ := n.digest.location() // validated
	c := cron.New(cron.WithLocation(loc))
	_, err := c.AddFunc(n.digest.Schedule, func() {
		now := n.now().In(loc)
		day := time.Date(now.Year(), now.Month(), now.Day()-1, 0, 0, 0, 0, loc)
		if _, err := n.sendDigest(ctx, day, false); err != nil && ctx.Err() == nil {
			n.log.WarnContext(ctx, "daily digest", "date", day.Format(time.DateOnly), "err", err)
		}
	})
	if err != nil {
		n.log.ErrorContext(ctx, "digest schedule", "err", err)
		return
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
}

// RunDigest computes the digest of date (a local day in the digest's time
// zone, YYYY-MM-DD; empty means yesterday) and, unless dryRun, sends it to
// digest.to once: a date already sent is reported as suppressed and not
// sent again. It is what `gtmhub digest` runs.
func RunDigest(ctx context.Context, cfg Config, deps service.Deps, date string, dryRun bool) (DigestResult, error) {
	if err := cfg.Validate(); err != nil {
		return DigestResult{}, err
	}
	cfg = cfg.withDefaults()
	loc, _ := cfg.Digest.location()
	if date == "" {
		date = cfg.Now().In(loc).AddDate(0, 0, -1).Format(time.DateOnly)
	}
	day, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		return DigestResult{}, fmt.Errorf("digest date: %w", err)
	}
	if now := cfg.Now().In(loc); !dryRun && day.AddDate(0, 0, 1).After(now) {
		// Sent, it would count part of the day or none of it, and suppress
		// that day's real digest.
		return DigestResult{}, fmt.Errorf("digest date %s has not ended yet (it is %s in %s); --dry-run shows it so far",
			date, now.Format(time.DateTime), loc)
	}
	engine, err := NewEngine(cfg.EffectiveRules())
	if err != nil {
		return DigestResult{}, err
	}
	r, closeConn, err := deps.Resolve(ctx, cfg.NATSURL, Name)
	if err != nil {
		return DigestResult{}, fmt.Errorf("digest: %w", err)
	}
	defer closeConn()
	// The running service's buckets are used as they are: this command's
	// configuration must not change their dedupe window.
	n, err := newNotifier(ctx, cfg, engine, r, joinBucket(r))
	if err != nil {
		return DigestResult{}, fmt.Errorf("digest: %w", err)
	}
	return n.sendDigest(ctx, day, dryRun)
}
