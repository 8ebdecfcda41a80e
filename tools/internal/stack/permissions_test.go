package stack_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
	"github.com/gtmhub/gtmhub/services/enrich"
	"github.com/gtmhub/gtmhub/services/ingest"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
	"github.com/gtmhub/gtmhub/services/notify"
	"github.com/gtmhub/gtmhub/services/store"
)

// accountsConfig writes a server configuration including
// deploy/nats/accounts.conf, sets a password per user, and returns its path.
func accountsConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	accounts, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "nats", "accounts.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts.conf"), accounts, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("host: 127.0.0.1\nport: -1\njetstream { store_dir: %q }\ninclude ./accounts.conf\n", filepath.Join(dir, "js"))
	if err := os.WriteFile(filepath.Join(dir, "server.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"OPERATOR", "INGEST", "ENRICH", "STORE", "NOTIFY", "KNOWLEDGE"} {
		t.Setenv("GTMHUB_"+u+"_PASSWORD", strings.ToLower(u)+"-secret")
	}
	return filepath.Join(dir, "server.conf")
}

// accountsServer runs a server with deploy/nats/accounts.conf.
func accountsServer(t *testing.T) *server.Server {
	t.Helper()
	opts, err := server.ProcessConfigFile(accountsConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	opts.NoLog, opts.NoSigs = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	return ns
}

// violations collects a connection's permission errors.
type violations struct {
	mu   sync.Mutex
	errs []string
}

func (v *violations) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrPermissionViolation) || strings.Contains(err.Error(), "Permissions Violation") {
		v.mu.Lock()
		v.errs = append(v.errs, err.Error())
		v.mu.Unlock()
	}
}

func (v *violations) list() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.errs...)
}

func connectAs(t *testing.T, ns *server.Server, user string, v *violations) *nats.Conn {
	t.Helper()
	return connectURL(t, ns.ClientURL(), user, v)
}

func connectURL(t *testing.T, url, user string, v *violations) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserInfo(user, user+"-secret"), nats.ErrorHandler(v.handler),
		nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// leadPath is ingest, enrich, store and notify running against one server
// or cluster, each service on its own NATS user from deploy/nats.
type leadPath struct {
	violations map[string]*violations
	operator   jetstream.JetStream
	dir        string // the store's data
	ln         net.Listener
}

// startLeadPath creates the topology as the operator, then starts the
// services, each connected as itself, until the test ends.
func startLeadPath(t *testing.T, url string, replicas int) leadPath {
	t.Helper()
	lp := leadPath{violations: map[string]*violations{}, dir: t.TempDir()}
	conns := map[string]*nats.Conn{}
	for _, u := range []string{"operator", "ingest", "enrich", "store", "notify"} {
		lp.violations[u] = &violations{}
		conns[u] = connectURL(t, url, u, lp.violations[u])
	}
	lp.operator, _ = jetstream.New(conns["operator"])
	if err := service.EnsureTopology(context.Background(), lp.operator, replicas); err != nil {
		t.Fatal(err)
	}
	storeCfg := store.DefaultConfig()
	storeCfg.DataDir = lp.dir
	var err error
	if lp.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	deps := func(user string) service.Deps { return service.Deps{Conn: conns[user], Replicas: replicas} }
	eventstest.Go(t, func(ctx context.Context) error {
		return ingest.Serve(ctx, lp.ln, ingest.DefaultConfig(), deps("ingest"))
	})
	eventstest.Go(t, func(ctx context.Context) error { return enrich.Run(ctx, enrich.DefaultConfig(), deps("enrich")) })
	eventstest.Go(t, func(ctx context.Context) error { return store.Run(ctx, storeCfg, deps("store")) })
	eventstest.Go(t, func(ctx context.Context) error { return notify.Run(ctx, notify.DefaultConfig(), deps("notify")) })
	return lp
}

// TestServicesRunWithTheirOwnUsers runs the lead path with each service on
// its own least-privilege user: a webhook becomes a stored contact and a
// notify decision, and no service is refused anything it needs.
func TestServicesRunWithTheirOwnUsers(t *testing.T) {
	ns := accountsServer(t)
	lp := startLeadPath(t, ns.ClientURL(), 1)
	v, opJS, dir, ln := lp.violations, lp.operator, lp.dir, lp.ln
	status, body, err := postLead(http.DefaultClient, ln.Addr().String(), map[string]string{"email": "perm@example.com"})
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("post: %d %v %v", status, body, err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "gtmhub.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitFor(t, 20*time.Second, "contact stored", func() (bool, string) {
		var n int
		err := db.QueryRow(`SELECT count(*) FROM contacts WHERE email = 'perm@example.com'`).Scan(&n)
		return err == nil && n == 1, fmt.Sprint(n, err)
	})
	waitFor(t, 20*time.Second, "notify decision", func() (bool, string) {
		s, err := opJS.Stream(context.Background(), events.StreamNotify)
		if err != nil {
			return false, err.Error()
		}
		return s.CachedInfo().State.Msgs > 0, "no decision"
	})
	for u, vs := range v {
		if errs := vs.list(); len(errs) > 0 {
			t.Errorf("%s was refused: %v", u, errs)
		}
	}
}

// TestIngestUserCannotWriteRecords: ingest may publish leads, not records.
func TestIngestUserCannotWriteRecords(t *testing.T) {
	ns := accountsServer(t)
	vop, ving := &violations{}, &violations{}
	op := connectAs(t, ns, "operator", vop)
	opJS, _ := jetstream.New(op)
	if err := service.EnsureTopology(context.Background(), opJS, 1); err != nil {
		t.Fatal(err)
	}
	nc := connectAs(t, ns, "ingest", ving)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, "gtm.leads.captured.form", []byte(`{}`)); err != nil {
		t.Errorf("ingest publishing a lead: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	if _, err := js.Publish(ctx2, "gtm.records.contact.created", []byte(`{}`)); err == nil {
		t.Error("ingest published to gtm.records.>")
	}
	waitFor(t, 5*time.Second, "permission violation reported", func() (bool, string) {
		for _, e := range ving.list() {
			if strings.Contains(e, "gtm.records.contact.created") {
				return true, ""
			}
		}
		return false, fmt.Sprint(ving.list())
	})
}

// TestBreakerStatesWithTheirOwnUsers: each service, on its own user, can
// serve its breakers endpoint, and the operator can ask it.
func TestBreakerStatesWithTheirOwnUsers(t *testing.T) {
	ns := accountsServer(t)
	vop := &violations{}
	op := connectAs(t, ns, "operator", vop)
	tests := []struct{ user, service string }{
		{"ingest", "ingest"},
		{"enrich", enrich.Name},
		{"notify", notify.Name},
		{"knowledge", knowledgesync.Name},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			v := &violations{}
			nc := connectAs(t, ns, tt.user, v)
			reg := service.NewBreakerRegistry()
			reg.Register(events.NewBreakers(events.WithDestinations("destination-of-" + tt.service)))
			svc, err := service.Announce(nc, tt.service, service.Version, service.WithBreakerStates(reg))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = svc.Stop() }()
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			var subject string
			for _, e := range svc.Info().Endpoints {
				if e.Name == service.BreakersEndpoint {
					subject = e.Subject
				}
			}
			m, err := op.Request(subject, nil, 2*time.Second)
			if err != nil {
				t.Fatalf("request %q as operator: %v (service refused: %v)", subject, err, v.list())
			}
			if !strings.Contains(string(m.Data), `"destination-of-`+tt.service+`"`) {
				t.Errorf("answer %s", m.Data)
			}
			if errs := append(v.list(), vop.list()...); len(errs) > 0 {
				t.Errorf("refused: %v", errs)
			}
		})
	}
}

// TestDigestWithItsOwnUser: notify, on its own user, reads the day's new
// contacts (RECORDS) and rejected leads (LEADS) for the daily digest.
func TestDigestWithItsOwnUser(t *testing.T) {
	ns := accountsServer(t)
	vop, vn := &violations{}, &violations{}
	opJS, _ := jetstream.New(connectAs(t, ns, "operator", vop))
	ctx := context.Background()
	if err := service.EnsureTopology(ctx, opJS, 1); err != nil {
		t.Fatal(err)
	}
	publish := func(subject string, ev event.Event) {
		t.Helper()
		msg, err := events.Encode(subject, ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := opJS.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	for _, email := range []string{"ada@example.com", "grace@example.com"} {
		publish(events.SubjectContactCreated, eventstest.NewEvent(t, contracts.TypeContactCreated,
			contracts.ContactChanged{Contact: contracts.Contact{Lead: contracts.Lead{Email: email, Source: "form"}}}))
	}
	publish(events.SubjectLeadsRejected, eventstest.NewEvent(t, contracts.TypeLeadRejected, contracts.LeadRejected{
		Lead: contracts.Lead{Email: "bad"}, Reasons: []contracts.Reason{{Field: "email", Code: "invalid_format", Message: "not an email"}}}))

	dead := nats.NewMsg(events.DLQSubject("store", events.SubjectLeadsEnriched))
	dead.Header.Set(events.DLQHeaderService, "store")
	if _, err := opJS.PublishMsg(ctx, dead); err != nil {
		t.Fatal(err)
	}

	js, _ := jetstream.New(connectAs(t, ns, "notify", vn))
	now := time.Now().UTC()
	alerts, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: notify.AlertsBucket})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alerts.PutString(ctx, "dlq.depth.rising.x", now.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	r, err := notify.ComputeDigest(ctx, js, time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("digest as notify: %v (refused: %v)", err, vn.list())
	}
	if r.NewLeads != 2 || r.Rejected != 1 || r.DeadLetters["store"] != 1 || len(r.Alerts) != 1 {
		t.Errorf("digest as notify: %d new leads, %d rejected, dead letters %v, alerts %v; want 2, 1, store 1 and one alert",
			r.NewLeads, r.Rejected, r.DeadLetters, r.Alerts)
	}
	if errs := append(vn.list(), vop.list()...); len(errs) > 0 {
		t.Errorf("refused: %v", errs)
	}
}

// TestServiceStateWithTheirOwnUsers: each service, on its own user, can do
// what it does with its buckets and consumers beside the lead path.
func TestServiceStateWithTheirOwnUsers(t *testing.T) {
	tests := []struct {
		name, user string
		do         func(ctx context.Context, t *testing.T, js jetstream.JetStream, op jetstream.JetStream)
	}{
		{"notify lists its deferred emails", "notify", listKeys(notify.DeferredBucket)},
		{"notify lists the usage every service reports", "notify", listKeys(service.UsageBucket)},
		{"knowledge-sync lists its sync state", "knowledge", listKeys(knowledgesync.StateBucket)},
		{"knowledge-sync reads its replay consumer", "knowledge", replayConsumerInfo(knowledgesync.Durable)},
		{"enrich opens the cache of a provider of any name", "enrich", runEnrichWithProvider("apollo")},
		{"ingest records its credentials", "ingest", recordCredentials("ingest")},
		{"enrich records its credentials", "enrich", recordCredentials(enrich.Name)},
		{"store records its credentials", "store", recordCredentials(store.Name)},
		{"notify records its credentials", "notify", recordCredentials(notify.Name)},
		{"knowledge-sync records its credentials", "knowledge", recordCredentials(knowledgesync.Name)},
		{"notify lists every service's credentials", "notify", listCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := accountsServer(t)
			vop, v := &violations{}, &violations{}
			opJS, _ := jetstream.New(connectAs(t, ns, "operator", vop))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := service.EnsureTopology(ctx, opJS, 1); err != nil {
				t.Fatal(err)
			}
			nc := connectAs(t, ns, tt.user, v)
			js, _ := jetstream.New(nc)
			tt.do(ctx, t, js, opJS)
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			if errs := append(v.list(), vop.list()...); len(errs) > 0 {
				t.Errorf("%s was refused: %v", tt.user, errs)
			}
		})
	}
}

// listKeys lists bucket's keys as the service does: the client creates an
// ordered consumer on the bucket and deletes it once the keys are read.
func listKeys(bucket string) func(context.Context, *testing.T, jetstream.JetStream, jetstream.JetStream) {
	return func(ctx context.Context, t *testing.T, js, op jetstream.JetStream) {
		t.Helper()
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		lister, err := kv.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range lister.Keys() {
		}
		waitFor(t, 10*time.Second, "the listing's consumer deleted", func() (bool, string) {
			s, err := op.Stream(ctx, "KV_"+bucket)
			if err != nil {
				return false, err.Error()
			}
			info, err := s.Info(ctx)
			if err != nil {
				return false, err.Error()
			}
			return info.State.Consumers == 0, fmt.Sprintf("%d consumers", info.State.Consumers)
		})
	}
}

// replayConsumerInfo reads the state of durable's replay companion, as the
// consumer runner does when a pull finds no responders.
func replayConsumerInfo(durable string) func(context.Context, *testing.T, jetstream.JetStream, jetstream.JetStream) {
	return func(ctx context.Context, t *testing.T, js, op jetstream.JetStream) {
		t.Helper()
		name := durable + "-replay"
		if _, err := op.CreateOrUpdateConsumer(ctx, events.StreamReplay, jetstream.ConsumerConfig{Durable: name,
			FilterSubject: events.ReplaySubject(durable, ">"), AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
			t.Fatal(err)
		}
		infoCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := js.Consumer(infoCtx, events.StreamReplay, name); err != nil {
			t.Errorf("consumer info %s: %v", name, err)
		}
	}
}

// runEnrichWithProvider starts enrich with one provider called name and
// waits until it pulls leads, its buckets open.
func runEnrichWithProvider(name string) func(context.Context, *testing.T, jetstream.JetStream, jetstream.JetStream) {
	return func(ctx context.Context, t *testing.T, js, op jetstream.JetStream) {
		t.Helper()
		cfg := enrich.DefaultConfig()
		cfg.Enrich.Providers = []enrich.ProviderConfig{{Name: name, Kind: enrich.KindClearbit,
			BaseURL: "http://127.0.0.1:9", Key: "test-key"}}
		done := make(chan error, 1)
		runCtx, stop := context.WithCancel(ctx)
		go func() { done <- enrich.Run(runCtx, cfg, service.Deps{Conn: js.Conn()}) }()
		defer func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("enrich: %v", err)
			}
		}()
		waitFor(t, 15*time.Second, "enrich consuming", func() (bool, string) {
			select {
			case err := <-done:
				done <- err
				t.Fatalf("enrich stopped: %v", err)
			default:
			}
			c, err := op.Consumer(ctx, events.StreamLeads, enrich.Name)
			if err != nil {
				return false, err.Error()
			}
			info, err := c.Info(ctx)
			return err == nil && info.NumWaiting > 0, fmt.Sprint("no pull waiting ", err)
		})
	}
}

// recordCredentials records a credential of svc twice, as svc does at two
// starts: the second reads the first back and updates it.
func recordCredentials(svc string) func(context.Context, *testing.T, jetstream.JetStream, jetstream.JetStream) {
	return func(ctx context.Context, t *testing.T, js, op jetstream.JetStream) {
		t.Helper()
		secrets := []service.Secret{service.SecretFrom("api.token", "API_TOKEN", "s3cret")}
		for range 2 {
			if err := service.RecordCredentials(ctx, js, svc, secrets, time.Now()); err != nil {
				t.Fatalf("record as %s: %v", svc, err)
			}
		}
		if got, err := service.ListCredentials(ctx, op); err != nil || len(got) != 1 || got[0].Service != svc {
			t.Errorf("credentials %+v, %v", got, err)
		}
	}
}

// listCredentials lists every service's credentials, as notify's rotation
// alerts do.
func listCredentials(ctx context.Context, t *testing.T, js, op jetstream.JetStream) {
	t.Helper()
	secrets := []service.Secret{service.SecretFrom("api.token", "API_TOKEN", "s3cret")}
	if err := service.RecordCredentials(ctx, op, "enrich", secrets, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, err := service.ListCredentials(ctx, js); err != nil || len(got) != 1 {
		t.Errorf("credentials %+v, %v", got, err)
	}
}
