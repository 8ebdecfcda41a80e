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
	// Retry is the wait after a digest that could not be sent, doubling up
	// to 30m while the digest is owed. Default 1m.
	Retry time.Duration `yaml:"retry"`
}

// DefaultDigest is 08:00 local time, no recipients.
func DefaultDigest() Digest { return Digest{Schedule: "0 8 * * *", Retry: time.Minute} }

func (d Digest) withDefaults() Digest {
	if d.Schedule == "" {
		d.Schedule = DefaultDigest().Schedule
	}
	if d.Retry == 0 {
		d.Retry = DefaultDigest().Retry
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
	if d.Retry < 0 {
		p.Addf("digest.retry must not be negative")
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

// DigestBucket records, for each date and recipient, the digest decided:
// the key is [DecisionID] of [DigestRule] and "{date}/{recipient}", the
// value a [LedgerEntry] moved from claimed to its outcome as in the
// ledger. A recipient whose entry exists is never sent that date again, by
// any replica; one the send reached before another failed is not sent it
// twice. Entries outlive the catch-up window by days, whatever the
// ledger's dedupe window.
const DigestBucket = "notify-digests"

// digestRecordTTL is how long the [DigestBucket] remembers a delivery.
const digestRecordTTL = 7 * 24 * time.Hour

// digestCatchUp is how long after a schedule tick its digest is still owed
// (unless a newer tick supersedes it): a notify that was down at the tick,
// or whose send failed, sends it when it starts or succeeds within this
// time, and no later (`gtmhub digest --date` sends it by hand).
const digestCatchUp = 24 * time.Hour

// digestPoll is the longest the digest loop sleeps, so that a clock that
// jumped (a host resumed from suspend) is noticed.
const digestPoll = time.Minute

// digestMaxRetry is the longest wait between tries at an owed digest.
const digestMaxRetry = 30 * time.Minute

func openDigestLedger(ctx context.Context, open bucketOpener) (*ledger, error) {
	kv, err := open(ctx, jetstream.KeyValueConfig{
		Bucket:      DigestBucket,
		Description: "daily digests decided, by date and recipient",
		TTL:         digestRecordTTL,
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("digest bucket %s: %w", DigestBucket, err)
	}
	return &ledger{kv: kv}, nil
}

// digestMatch is the notification of date's digest to one recipient.
func digestMatch(date, to string) Match {
	return Match{Rule: DigestRule, Channel: contracts.ChannelEmail, Target: to, DedupeKey: date + "/" + to}
}

// digestEvent is the event date's digest decisions are recorded against.
func digestEvent(date string) event.Event {
	ev := event.New()
	ev.SetID(uuid.NewSHA1(uuid.NameSpaceURL, []byte(Name+":digest:"+date)).String())
	ev.SetType(contracts.TypeNotificationSent)
	ev.SetSource(Source)
	ev.SetSubject("digest/" + date)
	return ev
}

// errDigestInFlight is the error for a recipient another replica is
// sending the digest to: look again later.
var errDigestInFlight = errors.New("another instance is sending it")

// DigestResult is what [RunDigest] did.
type DigestResult struct {
	Report DigestReport `json:"report"`
	// Outcome is sent when the digest went to a recipient, or suppressed
	// when every recipient's digest of the date was already decided; empty
	// on a dry run.
	Outcome contracts.Outcome `json:"outcome,omitempty"`
	// Text is the email's text part.
	Text string `json:"text"`
}

// sendDigest computes the digest of day and sends it to every recipient it
// has not been decided for (see [DigestBucket]).
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
	owed, err := n.owedDigest(ctx, report.Date)
	if err != nil {
		return res, err
	}
	sent, err := n.deliverDigest(ctx, report, owed)
	res.Outcome = contracts.OutcomeSuppressed
	if sent > 0 {
		res.Outcome = contracts.OutcomeSent
	}
	return res, err
}

// owedDigest lists the recipients date's digest is still to be decided
// for: no entry in the [DigestBucket], or one not settled (a claim, or an
// outcome not yet on NOTIFY). None when the ledger holds date's digest as
// one decision for every recipient, as notify recorded it before the
// [DigestBucket].
func (n *notifier) owedDigest(ctx context.Context, date string) ([]string, error) {
	_, _, err := n.ledger.get(ctx, DecisionID(DigestRule, date))
	switch {
	case err == nil:
		return nil, nil
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, err
	}
	var owed []string
	for _, to := range n.digest.To {
		m := digestMatch(date, to)
		e, _, err := n.digests.get(ctx, DecisionID(m.Rule, m.DedupeKey))
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			owed = append(owed, to)
		case err != nil:
			return nil, err
		case e.State == StateClaimed || !e.Published:
			owed = append(owed, to)
		}
	}
	return owed, nil
}

// deliverDigest sends report to every recipient in to, each on its own:
// one that fails does not hold up the others. It returns how many it sent.
func (n *notifier) deliverDigest(ctx context.Context, report DigestReport, to []string) (int, error) {
	ev := digestEvent(report.Date)
	sent := 0
	var errs []error
	for _, rcpt := range to {
		ok, err := n.digestTo(ctx, ev, report, rcpt)
		if err != nil {
			errs = append(errs, fmt.Errorf("digest %s to %s: %w", report.Date, redactTarget(rcpt), err))
		}
		if ok {
			sent++
		}
	}
	return sent, errors.Join(errs...)
}

// digestTo claims report's digest to one recipient in the [DigestBucket]
// and sends it, or settles a claim already there. It reports whether it
// sent the email. A refusal for good is recorded as failed and not tried
// again; a temporary failure releases the claim for the next try.
func (n *notifier) digestTo(ctx context.Context, ev event.Event, report DigestReport, to string) (bool, error) {
	m := digestMatch(report.Date, to)
	id := DecisionID(m.Rule, m.DedupeKey)
	entry := LedgerEntry{Rule: m.Rule, Channel: m.Channel, State: StateClaimed, EventID: ev.ID(), At: n.now()}
	cur, rev, claimed, err := n.digests.claim(ctx, id, entry)
	if err != nil {
		return false, err
	}
	if !claimed {
		return false, n.settleDigest(ctx, ev, m, id, cur, rev)
	}
	sendErr := n.sendDigestEmail(ctx, report, to, id)
	ctx, cancel := settling(ctx)
	defer cancel()
	switch {
	case sendErr == nil:
		entry.State, entry.At = StateSent, n.now()
	case events.IsPermanent(sendErr):
		entry.State, entry.Reason, entry.At = StateFailed, reasonText(unwrapPermanent(sendErr)), n.now()
	default:
		return false, n.digests.releasing(ctx, id, rev, sendErr)
	}
	sent := entry.State == StateSent
	if rev, err = n.digests.update(ctx, id, rev, entry); err != nil {
		return sent, err
	}
	if err := n.publishDigest(ctx, ev, m, id, rev, entry); err != nil {
		return sent, err
	}
	if !sent {
		return false, fmt.Errorf("refused for good: %w", unwrapPermanent(sendErr))
	}
	return true, nil
}

// sendDigestEmail sends report to one recipient, with a Message-ID from
// the decision id.
func (n *notifier) sendDigestEmail(ctx context.Context, report DigestReport, to, id string) error {
	e, err := report.Email(to)
	if err != nil {
		return events.Permanent(err)
	}
	e.MessageID = n.mailer.MessageID(id)
	start := time.Now()
	err = n.mailer.Send(ctx, e)
	n.stats.observe(time.Since(start), err)
	return err
}

// settleDigest deals with a recipient whose digest entry exists: a claim
// within its lease is another replica sending (try again later); an older
// one is a send interrupted by a crash, recorded as such and, at most
// once, not sent again; an outcome not yet on NOTIFY is published.
func (n *notifier) settleDigest(ctx context.Context, ev event.Event, m Match, id string, cur LedgerEntry, rev uint64) error {
	switch {
	case cur.State == StateClaimed && n.now().Sub(cur.At) < n.lease:
		return errDigestInFlight
	case cur.State == StateClaimed:
		cur.State, cur.Reason, cur.At = StateInterrupted, ReasonInterrupted, n.now()
		var err error
		if rev, err = n.digests.update(ctx, id, rev, cur); err != nil {
			return err
		}
		return n.publishDigest(ctx, ev, m, id, rev, cur)
	case !cur.Published:
		return n.publishDigest(ctx, ev, m, id, rev, cur)
	}
	return nil
}

// publishDigest records the decision in entry e (revision rev of id) on
// NOTIFY and marks it published.
func (n *notifier) publishDigest(ctx context.Context, ev event.Event, m Match, id string, rev uint64, e LedgerEntry) error {
	if err := n.announce(ctx, ev, m, id, e); err != nil {
		return err
	}
	e.Published = true
	_, err := n.digests.update(ctx, id, rev, e)
	return err
}

// digestLoop sends the digests that are owed: at start, on every schedule
// tick, and after a failure with backoff (digest.retry, doubling to 30m).
// Each tick of the schedule owes yesterday's digest for [digestCatchUp]
// or until the next tick ([owedDay]), so a digest a stopped notify missed,
// or whose send failed, still goes out, once per recipient.
func (n *notifier) digestLoop(ctx context.Context) {
	loc, _ := n.digest.location()                     // validated
	sched, _ := cron.ParseStandard(n.digest.Schedule) // validated
	backoff := events.ExponentialBackoff(n.digest.Retry, digestMaxRetry)
	var (
		failures int
		failedAt time.Time // on the schedule's clock, of the last failure; zero after a success
		retryAt  time.Time // on the wall clock, when its backoff is over
	)
	for {
		now := n.now()
		if digestDue(now, failedAt, retryAt, func(t time.Time) time.Time { return sched.Next(t.In(loc)) }) {
			if err := n.catchUpDigests(ctx, sched, loc); err != nil && ctx.Err() == nil {
				failures++
				failedAt, retryAt = now, time.Now().Add(backoff(failures))
				n.log.WarnContext(ctx, "daily digest", "err", err, "retry_at", retryAt.UTC().Format(time.RFC3339))
			} else {
				failures, failedAt, retryAt = 0, time.Time{}, time.Time{}
			}
		}
		wait := min(sched.Next(now.In(loc)).Sub(now), digestPoll)
		if !retryAt.IsZero() {
			wait = min(wait, time.Until(retryAt))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(wait, 0)):
		}
	}
}

// digestDue reports whether the loop tries the owed digests at now, on the
// schedule's clock: always but after a failure (at failedAt), which waits
// its backoff, until retryAt on the wall clock, unless a tick of the
// schedule (next) came since the failure, owing another. The loop still
// wakes every digestPoll meanwhile, so that a clock that jumps is noticed.
func digestDue(now, failedAt, retryAt time.Time, next func(time.Time) time.Time) bool {
	return retryAt.IsZero() || !time.Now().Before(retryAt) || !next(failedAt).After(now)
}

// catchUpDigests sends the digest [owedDay] names to the recipients it has
// not been decided for.
func (n *notifier) catchUpDigests(ctx context.Context, sched cron.Schedule, loc *time.Location) error {
	day, ok := owedDay(sched, n.now().In(loc))
	if !ok {
		return nil
	}
	date := day.Format(time.DateOnly)
	owed, err := n.owedDigest(ctx, date)
	if err == nil && len(owed) > 0 {
		var report DigestReport
		if report, err = ComputeDigest(ctx, n.js, day); err == nil {
			_, err = n.deliverDigest(ctx, report, owed)
		}
	}
	if err != nil {
		return fmt.Errorf("digest %s: %w", date, err)
	}
	return nil
}

// owedDay returns the day (local midnight) whose digest is owed at now: a
// tick of the schedule sends yesterday's digest, so it is the day before
// the latest tick, when that tick is within the last [digestCatchUp]. A
// newer tick supersedes it: a digest still failing when the next one is
// due is given up.
func owedDay(sched cron.Schedule, now time.Time) (time.Time, bool) {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	// Next is strictly after its argument: a tick at midnight counts.
	if !sched.Next(today.Add(-time.Second)).After(now) {
		return today.AddDate(0, 0, -1), true
	}
	yesterday := today.AddDate(0, 0, -1)
	from := yesterday
	if horizon := now.Add(-digestCatchUp); horizon.After(from) {
		from = horizon
	}
	if sched.Next(from.Add(-time.Second)).Before(today) {
		return today.AddDate(0, 0, -2), true
	}
	return time.Time{}, false
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
