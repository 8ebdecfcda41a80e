package replay_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/tools/internal/replay"
)

func publishEnriched(t *testing.T, srv *eventstest.Server, n int) {
	t.Helper()
	for i := range n {
		ev := eventstest.NewEvent(t, "com.gtmhub.lead.enriched", map[string]string{"email": fmt.Sprintf("l%d@example.com", i)})
		srv.Publish(t, events.SubjectLeadsEnriched, ev)
	}
	// A captured lead: not for the store consumer, so not replayed to it.
	srv.Publish(t, events.SubjectLeadsCaptured+".form", eventstest.NewEvent(t, "com.gtmhub.lead.captured", nil))
}

// replayerOn starts a server holding n enriched leads and a replayer on it.
func replayerOn(t *testing.T, n int) (*eventstest.Server, *replay.Replayer) {
	t.Helper()
	srv := eventstest.RunServer(t)
	publishEnriched(t, srv, n)
	if err := service.EnsureTopology(context.Background(), srv.JS, 1); err != nil {
		t.Fatal(err)
	}
	replayReader(t, srv, "store")
	r, err := replay.New(context.Background(), srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	return srv, r
}

func TestReplayToConsumer(t *testing.T) {
	srv, r := replayerOn(t, 40)
	var last replay.Progress
	cp, err := r.Start(context.Background(), replay.Spec{To: "store", Since: time.Now().Add(-time.Hour)},
		func(p replay.Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if cp.Status != "done" || cp.Replayed != 40 || last.Done != 40 || cp.Spec.Stream != events.StreamLeads {
		t.Fatalf("checkpoint %+v, progress %+v", cp, last)
	}
	msgs := srv.Await(t, events.StreamReplay, events.ReplaySubject("store", events.SubjectLeadsEnriched), 40, 5*time.Second)
	for _, m := range msgs {
		h := m.Headers()
		if h.Get("ce-"+events.ExtensionReplay) != "true" || h.Get("ce-"+events.ExtensionReplayID) != cp.Spec.ID ||
			h.Get(events.HeaderReplaySubject) != events.SubjectLeadsEnriched || h.Get("ce-type") != "com.gtmhub.lead.enriched" {
			t.Fatalf("replayed headers %v", h)
		}
	}
	if n := srv.Count(t, events.StreamReplay, "gtm.replay.>"); n != 40 {
		t.Errorf("REPLAY holds %d, want 40", n)
	}
	if _, err := r.Resume(context.Background(), cp.Spec.ID, true, nil); err == nil {
		t.Error("resuming a finished replay should fail, even with force")
	}
}

// TestReplayResumes: a replay stopped midway resumes from its checkpoint and
// the destination holds every event exactly once.
func TestReplayResumes(t *testing.T) {
	const total = 3000
	srv, r := replayerOn(t, total)
	ctx, cancel := context.WithCancel(context.Background())
	cp, err := r.Start(ctx, replay.Spec{To: "store", Since: time.Now().Add(-time.Hour), Rate: 4000},
		func(p replay.Progress) {
			if p.Done >= 1500 {
				cancel()
			}
		})
	if !errors.Is(err, context.Canceled) || cp.Status != "interrupted" || cp.LastSeq == 0 {
		t.Fatalf("first run: %+v, %v", cp, err)
	}
	saved, err := r.Get(context.Background(), cp.Spec.ID)
	if err != nil || saved.Status != "interrupted" || saved.Replayed == 0 || saved.Replayed >= total {
		t.Fatalf("saved checkpoint %+v, %v", saved, err)
	}
	cp, err = r.Resume(context.Background(), cp.Spec.ID, false, nil)
	if err != nil || cp.Status != "done" {
		t.Fatalf("resume: %+v, %v", cp, err)
	}
	if n := srv.Count(t, events.StreamReplay, "gtm.replay.>"); n != total {
		t.Errorf("REPLAY holds %d, want %d", n, total)
	}
}

func TestResolve(t *testing.T) {
	since := time.Now().Add(-time.Hour)
	tests := []struct {
		name string
		spec replay.Spec
		ok   bool
	}{
		{"to consumer", replay.Spec{To: "store", Since: since}, true},
		{"to subject", replay.Spec{Stream: "LEADS", ToSubject: "gtm.leads.enriched", Since: since}, true},
		{"no destination", replay.Spec{Stream: "LEADS", Since: since}, false},
		{"two destinations", replay.Spec{To: "store", ToSubject: "x", Since: since}, false},
		{"unknown consumer", replay.Spec{To: "nobody", Since: since}, false},
		{"wrong stream", replay.Spec{To: "store", Stream: "RECORDS", Since: since}, false},
		{"no since", replay.Spec{To: "store"}, false},
		{"until before since", replay.Spec{To: "store", Since: since, Until: since.Add(-time.Minute)}, false},
		{"subject the consumer reads", replay.Spec{To: "enrich", Subjects: []string{"gtm.leads.captured.form"}, Since: since}, true},
		{"narrower wildcard the consumer reads", replay.Spec{To: "notify", Subjects: []string{"gtm.records.*.created"}, Since: since}, true},
		{"subject the consumer does not read", replay.Spec{To: "store", Subjects: []string{"gtm.leads.captured.>"}, Since: since}, false},
		{"one of two subjects not read", replay.Spec{To: "store", Subjects: []string{"gtm.leads.enriched", "gtm.leads.>"}, Since: since}, false},
		{"subject outside the stream", replay.Spec{Stream: "LEADS", Subjects: []string{"gtm.records.>"}, ToSubject: "x", Since: since}, false},
		{"subject within the stream", replay.Spec{Stream: "LEADS", Subjects: []string{"gtm.leads.captured.*"}, ToSubject: "x", Since: since}, true},
		{"unknown stream", replay.Spec{Stream: "NOSUCH", ToSubject: "x", Since: since}, false},
	}
	for _, tt := range tests {
		if _, err := replay.Resolve(tt.spec); (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}

// TestReplayOutlastsEmptyReads: reads that come back empty while events are
// still pending do not end the replay early; it ends done with every event.
func TestReplayOutlastsEmptyReads(t *testing.T) {
	const total = 3000
	srv, r := replayerOn(t, total)
	replay.SetFetchWait(r, 10*time.Microsecond)
	cp, err := r.Start(context.Background(), replay.Spec{To: "store", Since: time.Now().Add(-time.Hour)}, nil)
	if err != nil || cp.Status != "done" || cp.Replayed != total {
		t.Fatalf("replay: %+v, %v", cp, err)
	}
	if n := srv.Count(t, events.StreamReplay, "gtm.replay.>"); n != total {
		t.Errorf("REPLAY holds %d, want %d", n, total)
	}
}

// TestReplayCountsWhatTheStreamDropped: events the stream's limits remove
// while a replay runs end it done, with the removed ones counted apart.
func TestReplayCountsWhatTheStreamDropped(t *testing.T) {
	const total = 3000
	srv, r := replayerOn(t, total)
	purged := false
	cp, err := r.Start(context.Background(), replay.Spec{To: "store", Since: time.Now().Add(-time.Hour)},
		func(replay.Progress) {
			if purged {
				return
			}
			purged = true
			s, err := srv.JS.Stream(context.Background(), events.StreamLeads)
			if err == nil {
				err = s.Purge(context.Background(), jetstream.WithPurgeSubject(events.SubjectLeadsEnriched))
			}
			if err != nil {
				t.Error(err)
			}
		})
	if err != nil || cp.Status != "done" {
		t.Fatalf("replay: %+v, %v", cp, err)
	}
	if cp.Gone == 0 || cp.Replayed+cp.Gone != total {
		t.Errorf("replayed %d and gone %d, want %d in all with some gone", cp.Replayed, cp.Gone, total)
	}
	if n := srv.Count(t, events.StreamReplay, "gtm.replay.>"); n != cp.Replayed {
		t.Errorf("REPLAY holds %d, the checkpoint says %d", n, cp.Replayed)
	}
}

func TestSubsetOf(t *testing.T) {
	tests := []struct {
		sub, filter string
		want        bool
	}{
		{"gtm.leads.enriched", "gtm.leads.enriched", true},
		{"gtm.leads.enriched", "gtm.leads.>", true},
		{"gtm.leads.captured.>", "gtm.leads.>", true},
		{"gtm.leads.>", "gtm.leads.>", true},
		{"gtm.leads.*", "gtm.leads.>", true},
		{"gtm.leads.captured.form", "gtm.leads.captured.*", true},
		{"gtm.leads.captured.*", "gtm.leads.captured.*", true},
		{"gtm.records.*.created", "gtm.records.>", true},
		{"gtm.leads.captured.>", "gtm.leads.enriched", false},
		{"gtm.leads.>", "gtm.leads.*", false},
		{"gtm.leads.*", "gtm.leads.enriched", false},
		{"gtm.leads", "gtm.leads.>", false},
		{"gtm.records.>", "gtm.leads.>", false},
		{"gtm.leads.captured.form.x", "gtm.leads.captured.*", false},
		{">", "gtm.>", false},
	}
	for _, tt := range tests {
		if got := replay.SubsetOf(tt.sub, tt.filter); got != tt.want {
			t.Errorf("subsetOf(%q, %q) = %v, want %v", tt.sub, tt.filter, got, tt.want)
		}
	}
}

// TestReplayRunsDoNotOverwriteEachOther: a replay still running is not
// resumed without force; when it is resumed with force and that run ends
// done, the first run stops at its next checkpoint with ErrConflict and the
// checkpoint stays done.
func TestReplayRunsDoNotOverwriteEachOther(t *testing.T) {
	const total = 3000
	_, r := replayerOn(t, total)
	ctx := context.Background()
	var second replay.Checkpoint
	var refused, secondErr error
	first, err := r.Start(ctx, replay.Spec{ID: "twice", To: "store", Since: time.Now().Add(-time.Hour)},
		func(replay.Progress) {
			if second.Status != "" || secondErr != nil {
				return
			}
			_, refused = r.Resume(ctx, "twice", false, nil)
			second, secondErr = r.Resume(ctx, "twice", true, nil)
		})
	if refused == nil || !strings.Contains(refused.Error(), "is running") {
		t.Errorf("resume without force while running: %v, want a refusal", refused)
	}
	if secondErr != nil || second.Status != "done" || second.Replayed != total {
		t.Fatalf("forced resume: %+v, %v", second, secondErr)
	}
	if !errors.Is(err, replay.ErrConflict) {
		t.Errorf("first run: %+v, %v; want ErrConflict", first, err)
	}
	saved, err := r.Get(ctx, "twice")
	if err != nil || saved.Status != "done" || saved.Replayed != total {
		t.Errorf("saved checkpoint %+v, %v; want the forced run's, done", saved, err)
	}
}

// TestRateLimitedReplaySavesWhatIsAcknowledged: a rate-limited replay
// stopped midway saves a checkpoint that claims what the destination
// stream holds at the stop, not batches behind it.
func TestRateLimitedReplaySavesWhatIsAcknowledged(t *testing.T) {
	const total, perSecond = 3000, 800
	srv, r := replayerOn(t, total)
	ctx, cancel := context.WithCancel(context.Background())
	var stored uint64
	go func() {
		defer cancel()
		for stored < 1200 && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			stored = replayHolds(t, srv)
		}
	}()
	_, err := r.Start(ctx, replay.Spec{ID: "slow", To: "store", Since: time.Now().Add(-time.Hour), Rate: perSecond}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("replay: %v, want it interrupted", err)
	}
	saved, err := r.Get(context.Background(), "slow")
	if err != nil {
		t.Fatal(err)
	}
	// What the stream held a moment before the stop is acknowledged, but for
	// the acks still on their way then (a few at this rate).
	if final := replayHolds(t, srv); saved.Replayed+perSecond/20 < stored || saved.Replayed > final {
		t.Errorf("checkpoint claims %d (last seq %d); REPLAY held %d at the stop and %d after", saved.Replayed, saved.LastSeq, stored, final)
	}
}

// replayHolds counts the messages in the REPLAY stream.
func replayHolds(t *testing.T, srv *eventstest.Server) uint64 {
	s, err := srv.JS.Stream(context.Background(), events.StreamReplay)
	if err != nil {
		t.Error(err)
		return 0
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Error(err)
		return 0
	}
	return info.State.Msgs
}

// TestNewNeedsTheTopologysBucket: New opens the checkpoint bucket the
// topology creates and never creates one itself, which would have one
// replica on a cluster; without it, it says to run gtmhub init.
func TestNewNeedsTheTopologysBucket(t *testing.T) {
	srv := eventstest.RunServer(t)
	ctx := context.Background()
	if _, err := replay.New(ctx, srv.JS); err == nil || !strings.Contains(err.Error(), "run `gtmhub init`") {
		t.Fatalf("New without the bucket: %v, want it to say to run gtmhub init", err)
	}
	if _, err := srv.JS.KeyValue(ctx, replay.Bucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("New left a bucket behind: %v", err)
	}
	if err := service.EnsureTopology(ctx, srv.JS, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := replay.New(ctx, srv.JS); err != nil {
		t.Fatalf("New after EnsureTopology: %v", err)
	}
	kv, err := srv.JS.KeyValue(ctx, replay.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil || st.TTL() != 30*24*time.Hour || st.History() != 1 {
		t.Errorf("bucket status %+v, %v; want the 30-day TTL and one entry per key", st, err)
	}
}

// TestUntilBoundsCountAndProgress: Count and a replay's progress total
// count only the events stored up to Until, as the replay re-delivers.
func TestUntilBoundsCountAndProgress(t *testing.T) {
	srv, r := replayerOn(t, 3)
	ctx := context.Background()
	st, err := srv.JS.Stream(ctx, events.StreamLeads)
	if err != nil {
		t.Fatal(err)
	}
	third, err := st.GetMsg(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	publishEnriched(t, srv, 2)
	spec, err := replay.Resolve(replay.Spec{To: "store", Since: third.Time.Add(-time.Hour), Until: third.Time})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := replay.Count(ctx, srv.JS, spec); err != nil || n != 3 {
		t.Errorf("Count = %d, %v; want the 3 enriched leads up to --until", n, err)
	}
	var last replay.Progress
	cp, err := r.Start(ctx, spec, func(p replay.Progress) { last = p })
	if err != nil || cp.Replayed != 3 || last.Total != 3 {
		t.Errorf("replay: %+v, progress %+v, %v; want 3 of 3", cp, last, err)
	}
}

// replayReader creates the consumer through which durable reads the
// replays addressed to it, as its service does when it runs.
func replayReader(t testing.TB, srv *eventstest.Server, durable string) {
	t.Helper()
	if _, err := srv.JS.CreateOrUpdateConsumer(context.Background(), events.StreamReplay, jetstream.ConsumerConfig{
		Durable: durable + "-replay", FilterSubject: events.ReplaySubject(durable, ">"), AckPolicy: jetstream.AckExplicitPolicy,
	}); err != nil {
		t.Fatal(err)
	}
}

// TestReplayNeedsItsReader: a replay to a consumer whose service has not
// created its replay reader (knowledge-sync without Notion) is refused
// before anything is published or checkpointed.
func TestReplayNeedsItsReader(t *testing.T) {
	srv, r := replayerOn(t, 1)
	ctx := context.Background()
	srv.Publish(t, "gtm.knowledge.command.sync", eventstest.NewEvent(t, "com.gtmhub.knowledge.sync", nil))
	_, err := r.Start(ctx, replay.Spec{ID: "ks", To: "knowledge-sync", Since: time.Now().Add(-time.Hour)}, nil)
	if err == nil || !strings.Contains(err.Error(), "nothing reads replays to knowledge-sync") {
		t.Fatalf("replay to knowledge-sync: %v, want a refusal", err)
	}
	if n := srv.Count(t, events.StreamReplay, "gtm.replay.>"); n != 0 {
		t.Errorf("REPLAY holds %d", n)
	}
	if _, err := r.Get(ctx, "ks"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("checkpoint of a refused replay: %v, want none", err)
	}
	replayReader(t, srv, "knowledge-sync")
	if cp, err := r.Start(ctx, replay.Spec{ID: "ks", To: "knowledge-sync", Since: time.Now().Add(-time.Hour)}, nil); err != nil || cp.Replayed != 1 {
		t.Errorf("replay once the reader exists: %+v, %v", cp, err)
	}
}
