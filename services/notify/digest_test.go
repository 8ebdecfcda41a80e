package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/notify"
)

// seedDay publishes 20 new contacts from three sources with signal scores
// 1..20 (one contact twice), and 3 rejected leads.
func seedDay(t *testing.T, srv *eventstest.Server) {
	t.Helper()
	sources := []string{"form", "clay", "hubspot"}
	for i := 1; i <= 20; i++ {
		score := float64(i)
		now := time.Now().UTC()
		ev := eventstest.NewEvent(t, contracts.TypeContactCreated, contracts.ContactChanged{
			Contact: contracts.Contact{Lead: contracts.Lead{Email: fmt.Sprintf("lead%02d@example.com", i),
				FirstName: fmt.Sprintf("Lead%02d", i), Source: sources[i%3], SignalScore: &score}, UpdatedAt: &now},
			Changes: []contracts.FieldChange{{Field: "email", New: "x"}},
		})
		srv.Publish(t, events.SubjectContactCreated, ev)
		if i == 20 {
			dup := ev.Clone()
			dup.SetID(ev.ID() + "-again") // the same contact from another event counts once
			srv.Publish(t, events.SubjectContactCreated, dup)
		}
	}
	for i := range 3 {
		srv.Publish(t, events.SubjectLeadsRejected, eventstest.NewEvent(t, contracts.TypeLeadRejected, contracts.LeadRejected{
			Lead:    contracts.Lead{Email: fmt.Sprintf("bad%d", i)},
			Reasons: []contracts.Reason{{Field: "email", Code: "invalid_format", Message: "not an email"}},
		}))
	}
}

func TestDigestSentOnceWithTheRightCounts(t *testing.T) {
	srv := eventstest.RunServer(t)
	ms := startMailServer(t, mailOptions{})
	seedDay(t, srv)

	cfg := notify.DefaultConfig()
	cfg.SMTP = smtpConfig(ms, notify.SecurityPlain)
	cfg.Digest.TimeZone = "UTC"
	cfg.Digest.To = []string{"sales@example.com"}
	today := time.Now().UTC().Format(time.DateOnly)
	deps := service.Deps{Conn: srv.Conn}
	if _, err := notify.RunDigest(context.Background(), cfg, deps, today, false); err == nil ||
		!strings.Contains(err.Error(), "has not ended") {
		t.Fatalf("today's digest sent before the day ended: %v", err)
	}
	cfg.Now = func() time.Time { return time.Now().Add(24 * time.Hour) } // the day has ended

	dry, err := notify.RunDigest(context.Background(), cfg, deps, today, true)
	if err != nil {
		t.Fatal(err)
	}
	r := dry.Report
	if r.Date != today || r.NewLeads != 20 || r.Rejected != 3 ||
		r.BySource["form"] != 6 || r.BySource["clay"] != 7 || r.BySource["hubspot"] != 7 || len(r.Top) != 10 ||
		r.Top[0].SignalScore != 20 || r.Top[9].SignalScore != 11 || dry.Outcome != "" {
		t.Errorf("dry run report %+v", dry)
	}
	if len(ms.messages()) != 0 {
		t.Fatal("a dry run sent an email")
	}

	for range 2 {
		if _, err := notify.RunDigest(context.Background(), cfg, deps, today, false); err != nil {
			t.Fatal(err)
		}
	}
	got := ms.wait(1, wait)
	if len(got) != 1 {
		t.Fatalf("%d digests, want 1", len(got))
	}
	if subj := got[0].Message.Header.Get("Subject"); subj != fmt.Sprintf("gtmhub digest for %s: 20 new leads, 3 rejected, 0 warnings", today) {
		t.Errorf("subject %q", subj)
	}
	text, html := parts(t, got[0])
	for _, want := range []string{"New leads: 20", "Rejected: 3", "form: 6", "clay: 7", "hubspot: 7", "Top 10", "20  Lead20 via"} {
		if !strings.Contains(text, want) {
			t.Errorf("digest text lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(html, "<strong>20</strong> new leads") {
		t.Errorf("digest html: %s", html)
	}
	third, err := notify.RunDigest(context.Background(), cfg, deps, today, false)
	if err != nil || third.Outcome != contracts.OutcomeSuppressed {
		t.Errorf("third run: %+v, %v; want suppressed", third.Outcome, err)
	}
	if n := srv.Count(t, events.StreamNotify, events.SubjectNotifySent); n != 1 {
		t.Errorf("%d sent decisions, want 1", n)
	}
	if len(ms.wait(2, 200*time.Millisecond)) != 1 {
		t.Error("a second digest arrived")
	}

	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	empty, err := notify.RunDigest(context.Background(), cfg, deps, yesterday, true)
	if err != nil || empty.Report.NewLeads != 0 || empty.Report.Rejected != 0 {
		t.Errorf("yesterday's report %+v, %v; want empty", empty.Report, err)
	}
}

// TestDigestLeavesTheServiceBucketsAsTheyAre: a digest run from the command
// line with another configuration does not change the running service's
// dedupe window; a digest for a day still to come is refused.
func TestDigestLeavesTheServiceBucketsAsTheyAre(t *testing.T) {
	srv := eventstest.RunServer(t)
	running := notify.DefaultConfig()
	running.DedupeWindow = 72 * time.Hour
	startNotify(t, srv, running)
	ledgerTTL := func() time.Duration {
		t.Helper()
		deadline := time.Now().Add(wait)
		for {
			kv, err := srv.JS.KeyValue(context.Background(), notify.LedgerBucket)
			if err == nil {
				st, err := kv.Status(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				return st.TTL()
			}
			if time.Now().After(deadline) {
				t.Fatalf("no ledger bucket: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if ttl := ledgerTTL(); ttl != 72*time.Hour {
		t.Fatalf("ledger TTL %s, want the service's 72h", ttl)
	}
	cli := notify.DefaultConfig() // a 24h window
	today := time.Now().UTC().Format(time.DateOnly)
	if _, err := notify.RunDigest(context.Background(), cli, service.Deps{Conn: srv.Conn}, today, true); err != nil {
		t.Fatal(err)
	}
	if ttl := ledgerTTL(); ttl != 72*time.Hour {
		t.Errorf("ledger TTL %s after a digest from the command line, want the service's 72h", ttl)
	}
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	if _, err := notify.RunDigest(context.Background(), cli, service.Deps{Conn: srv.Conn}, tomorrow, false); err == nil ||
		!strings.Contains(err.Error(), "has not ended") {
		t.Errorf("digest for %s: %v, want it refused", tomorrow, err)
	}
}

func TestDigestConfig(t *testing.T) {
	cfg := notify.DefaultConfig()
	cfg.Digest = notify.Digest{Schedule: "61 * * * *", TimeZone: "Mars/Olympus", To: []string{"a@example.com"}}
	err := cfg.Validate()
	for _, want := range []string{"digest.schedule", "digest.time_zone", "digest.to needs smtp.host"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want %q", err, want)
		}
	}
	if s := notify.DefaultConfig().Digest.Schedule; s != "0 8 * * *" {
		t.Errorf("default schedule %q", s)
	}
}

// TestDigestOnSchedule: the schedule fires every second, so the digest of
// "yesterday" (today, by the clock set a day ahead) is triggered again and
// again, and arrives once.
func TestDigestOnSchedule(t *testing.T) {
	srv := eventstest.RunServer(t)
	ms := startMailServer(t, mailOptions{})
	seedDay(t, srv)

	cfg := notify.DefaultConfig()
	cfg.SMTP = smtpConfig(ms, notify.SecurityPlain)
	cfg.Digest = notify.Digest{Schedule: "@every 1s", TimeZone: "UTC", To: []string{"sales@example.com", "ceo@example.com"}}
	tomorrow := time.Now().UTC().AddDate(0, 0, 1)
	cfg.Now = func() time.Time { return tomorrow }
	// Only the digest emails: no rule fires on the seeded contacts.
	cfg.Rules = []notify.Rule{{Name: "companies", On: []string{contracts.TypeCompanyCreated}, Action: contracts.ChannelSlack, Target: "#x"}}
	startNotify(t, srv, cfg)

	got := ms.wait(2, wait)
	if len(got) != 2 {
		t.Fatalf("%d digest emails, want one to each of 2 recipients", len(got))
	}
	today := time.Now().UTC().Format(time.DateOnly)
	for _, r := range got {
		if subj := r.Message.Header.Get("Subject"); !strings.HasPrefix(subj, "gtmhub digest for "+today+": 20 new leads, 3 rejected") {
			t.Errorf("subject %q", subj)
		}
	}
	// Two more ticks: nothing more arrives.
	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := len(ms.messages()); n != 2 {
			t.Fatalf("%d digest emails, want 2", n)
		}
		ms.wait(3, 100*time.Millisecond)
	}
}

// TestDigestFailsWhenItCannotPull: a user that may create the digest's
// consumers but not pull from them gets an error, not an empty report.
func TestDigestFailsWhenItCannotPull(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, Users: []*server.User{
			{Username: "operator", Password: "op"},
			{Username: "notify", Password: "nt", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"$JS.API.CONSUMER.MSG.NEXT.>"}}}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	connect := func(user, password string) (*nats.Conn, jetstream.JetStream) {
		nc, err := nats.Connect(ns.ClientURL(), nats.UserInfo(user, password), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		return nc, js
	}
	opConn, opJS := connect("operator", "op")
	if err := events.DefaultTopology().Ensure(context.Background(), opJS); err != nil {
		t.Fatal(err)
	}
	seedDay(t, &eventstest.Server{Server: ns, Conn: opConn, JS: opJS})

	_, js := connect("notify", "nt")
	now := time.Now().UTC()
	r, err := notify.ComputeDigest(context.Background(), js, time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC))
	if err == nil || !strings.Contains(err.Error(), "pending") {
		t.Errorf("ComputeDigest() = %+v, %v; want an error about the pending messages", r, err)
	}
}

// TestDigestLeavesReplaysOut: contacts created again by a replay (a store
// rebuilt with `gtmhub replay --to store`) and rejections replayed are not
// the day's leads.
func TestDigestLeavesReplaysOut(t *testing.T) {
	tests := []struct {
		name          string
		extensions    map[string]string
		leads, reject int
	}{
		{"live", nil, 2, 1},
		{"replayed", map[string]string{notify.ReplayExtension: "true"}, 1, 0},
		{"replayed with side effects", map[string]string{notify.ReplayExtension: "true", notify.SideEffectsExtension: "true"}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := eventstest.RunServer(t)
			live := eventstest.NewEvent(t, contracts.TypeContactCreated, contracts.ContactChanged{
				Contact: contracts.Contact{Lead: contracts.Lead{Email: "live@example.com"}}})
			srv.Publish(t, events.SubjectContactCreated, live)
			contact := eventstest.NewEvent(t, contracts.TypeContactCreated, contracts.ContactChanged{
				Contact: contracts.Contact{Lead: contracts.Lead{Email: "old@example.com"}}})
			rejected := eventstest.NewEvent(t, contracts.TypeLeadRejected, contracts.LeadRejected{
				Lead: contracts.Lead{Email: "bad"}, Reasons: []contracts.Reason{{Field: "email", Code: "invalid_format", Message: "not an email"}}})
			for k, v := range tt.extensions {
				contact.SetExtension(k, v)
				rejected.SetExtension(k, v)
			}
			srv.Publish(t, events.SubjectContactCreated, contact)
			srv.Publish(t, events.SubjectLeadsRejected, rejected)

			now := time.Now().UTC()
			r, err := notify.ComputeDigest(context.Background(), srv.JS, time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if r.NewLeads != tt.leads || r.Rejected != tt.reject {
				t.Errorf("%d new leads, %d rejected; want %d and %d", r.NewLeads, r.Rejected, tt.leads, tt.reject)
			}
		})
	}
}

// TestDigestWarnings: the digest counts the day's dead letters by service
// and lists the alert levels raised that day, and nothing from other days.
func TestDigestWarnings(t *testing.T) {
	srv := eventstest.RunServer(t)
	ctx := context.Background()
	for _, dl := range []struct{ service, subject string }{
		{"enrich", "gtm.leads.captured.form"}, {"store", "gtm.leads.enriched"}, {"store", "gtm.leads.enriched"},
	} {
		msg := nats.NewMsg(events.DLQSubject(dl.service, dl.subject))
		msg.Header.Set(events.DLQHeaderService, dl.service)
		msg.Data = []byte(`{}`)
		if _, err := srv.JS.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	kv, err := srv.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: notify.AlertsBucket})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	for key, at := range map[string]string{
		"dlq.depth.rising.20261207T0800":           day.Add(8 * time.Hour).Format(time.RFC3339),
		"usage.enrich.clearbit.credits.80.2026-12": day.Add(9 * time.Hour).Format(time.RFC3339),
		"quota.email.95.2020-01-01":                day.Add(-2 * time.Hour).Format(time.RFC3339), // the day before
		"dlq.depth.active":                         "rising",                                     // not a level
		"dlq.last_depth":                           "3",
	} {
		if _, err := kv.PutString(ctx, key, at); err != nil {
			t.Fatal(err)
		}
	}
	r, err := notify.ComputeDigest(ctx, srv.JS, day)
	if err != nil {
		t.Fatal(err)
	}
	if r.DeadLetters["enrich"] != 1 || r.DeadLetters["store"] != 2 || len(r.DeadLetters) != 2 {
		t.Errorf("dead letters %v, want enrich 1 and store 2", r.DeadLetters)
	}
	want := []notify.DigestAlert{{Name: "dlq.depth", Level: "rising", At: day.Add(8 * time.Hour)},
		{Name: "usage.enrich.clearbit.credits", Level: "80", At: day.Add(9 * time.Hour)}}
	if fmt.Sprint(r.Alerts) != fmt.Sprint(want) {
		t.Errorf("alerts %v, want %v", r.Alerts, want)
	}
	e, err := r.Email("sales@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Warnings: 5", "store: 2", "09:00  usage.enrich.clearbit.credits 80"} {
		if !strings.Contains(e.Text, s) {
			t.Errorf("digest text lacks %q:\n%s", s, e.Text)
		}
	}
	if !strings.HasSuffix(e.Subject, "5 warnings") {
		t.Errorf("subject %q", e.Subject)
	}
}

// TestDigestRetriedAndCaughtUpOncePerRecipient: two replicas start after
// the digest's scheduled time, as if notify had been down then; they send
// the missed digest. The SMTP server takes one recipient's email and
// refuses the other's for now: that one is retried until it goes out, and
// nobody gets the date twice.
func TestDigestRetriedAndCaughtUpOncePerRecipient(t *testing.T) {
	srv := eventstest.RunServer(t)
	ms := startMailServer(t, mailOptions{})
	seedDay(t, srv)
	ms.failNext(nil, &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})

	now := time.Now().UTC()
	today := now.Format(time.DateOnly)
	cfg := notify.DefaultConfig()
	cfg.SMTP = smtpConfig(ms, notify.SecurityPlain)
	cfg.Digest = notify.Digest{Schedule: "0 8 * * *", TimeZone: "UTC", To: []string{"sales@example.com", "ceo@example.com"},
		Retry: 50 * time.Millisecond}
	cfg.Now = func() time.Time { return time.Date(now.Year(), now.Month(), now.Day()+1, 10, 0, 0, 0, time.UTC) }
	cfg.Rules = []notify.Rule{{Name: "companies", On: []string{contracts.TypeCompanyCreated}, Action: contracts.ChannelSlack, Target: "#x"}}
	startNotify(t, srv, cfg)
	startNotify(t, srv, cfg)

	got := ms.wait(2, wait)
	if len(got) != 2 {
		t.Fatalf("%d digest emails, want one to each of 2 recipients", len(got))
	}
	to := map[string]int{}
	for _, r := range got {
		to[r.To[0]]++
		if subj := r.Message.Header.Get("Subject"); !strings.HasPrefix(subj, "gtmhub digest for "+today+": 20 new leads") {
			t.Errorf("subject %q", subj)
		}
	}
	if to["sales@example.com"] != 1 || to["ceo@example.com"] != 1 {
		t.Errorf("digests by recipient %v, want one each", to)
	}
	offered := ms.offered()
	if len(offered) != 3 {
		t.Errorf("%d attempts, want 3 (one refused for now)", len(offered))
	}
	ids := map[string]string{}
	for _, r := range offered {
		id := r.Message.Header.Get("Message-ID")
		if prev, ok := ids[r.To[0]]; ok && prev != id {
			t.Errorf("attempts to %s with Message-IDs %s and %s", r.To[0], prev, id)
		}
		ids[r.To[0]] = id
	}

	// The date is decided for both: a run by hand sends nothing.
	res, err := notify.RunDigest(context.Background(), cfg, service.Deps{Conn: srv.Conn}, today, false)
	if err != nil || res.Outcome != contracts.OutcomeSuppressed {
		t.Errorf("RunDigest = %s, %v; want suppressed", res.Outcome, err)
	}
	for _, d := range decisions(t, srv, 2) {
		if d.Rule != notify.DigestRule || d.Outcome != contracts.OutcomeSent || !strings.HasPrefix(d.DedupeKey, today+"/") {
			t.Errorf("decision %+v, want the digest of %s sent", d, today)
		}
	}
	if n := srv.Count(t, events.StreamNotify, events.SubjectNotifySent); n != 2 {
		t.Errorf("%d sent decisions, want 2", n)
	}
	if n := len(ms.messages()); n != 2 {
		t.Errorf("%d digest emails in the end, want 2", n)
	}
}

// TestDigestKeepsEarlierDecisions: a date the ledger holds as one decision
// for every recipient, as notify recorded digests before it recorded them
// per recipient, is not sent again.
func TestDigestKeepsEarlierDecisions(t *testing.T) {
	srv := eventstest.RunServer(t)
	ms := startMailServer(t, mailOptions{})
	ctx := context.Background()
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	kv, err := srv.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: notify.LedgerBucket, TTL: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(notify.LedgerEntry{Rule: notify.DigestRule, Channel: contracts.ChannelEmail, State: notify.StateSent,
		EventID: "earlier", At: time.Now(), Published: true})
	if _, err := kv.Put(ctx, notify.DecisionID(notify.DigestRule, yesterday), b); err != nil {
		t.Fatal(err)
	}
	cfg := notify.DefaultConfig()
	cfg.SMTP = smtpConfig(ms, notify.SecurityPlain)
	cfg.Digest.TimeZone = "UTC"
	cfg.Digest.To = []string{"sales@example.com"}
	res, err := notify.RunDigest(ctx, cfg, service.Deps{Conn: srv.Conn}, yesterday, false)
	if err != nil || res.Outcome != contracts.OutcomeSuppressed || len(ms.messages()) != 0 {
		t.Errorf("RunDigest = %s, %v, %d emails; want suppressed and none", res.Outcome, err, len(ms.messages()))
	}
}

// TestDigestRefusedForGoodIsNotRetried: a recipient the SMTP server
// refuses for good is recorded as failed and not tried again; the others
// get the digest.
func TestDigestRefusedForGoodIsNotRetried(t *testing.T) {
	srv := eventstest.RunServer(t)
	ms := startMailServer(t, mailOptions{})
	ms.failNext(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	now := time.Now().UTC()
	cfg := notify.DefaultConfig()
	cfg.SMTP = smtpConfig(ms, notify.SecurityPlain)
	cfg.Digest = notify.Digest{Schedule: "0 8 * * *", TimeZone: "UTC", To: []string{"gone@example.com", "sales@example.com"},
		Retry: 50 * time.Millisecond}
	cfg.Now = func() time.Time { return time.Date(now.Year(), now.Month(), now.Day()+1, 10, 0, 0, 0, time.UTC) }
	startNotify(t, srv, cfg)

	if got := ms.wait(1, wait); len(got) != 1 || got[0].To[0] != "sales@example.com" {
		t.Fatalf("digests %+v, want one to sales@example.com", got)
	}
	outcomes := map[contracts.Outcome]int{}
	for _, d := range decisions(t, srv, 2) {
		outcomes[d.Outcome]++
	}
	if outcomes[contracts.OutcomeSent] != 1 || outcomes[contracts.OutcomeFailed] != 1 {
		t.Errorf("decisions %v, want one sent and one failed", outcomes)
	}
	res, err := notify.RunDigest(context.Background(), cfg, service.Deps{Conn: srv.Conn}, now.Format(time.DateOnly), false)
	if err != nil || res.Outcome != contracts.OutcomeSuppressed {
		t.Errorf("RunDigest = %s, %v; want suppressed", res.Outcome, err)
	}
	if n := len(ms.offered()); n != 2 {
		t.Errorf("%d attempts, want 2: the refused recipient is not tried again", n)
	}
}
