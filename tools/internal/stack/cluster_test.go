package stack_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
)

// sendUntilAccepted posts a lead as a webhook sender does: on 503 it retries
// the same delivery (same Idempotency-Key) until it is answered 202.
func sendUntilAccepted(client *http.Client, addr, email string) error {
	body, _ := json.Marshal(map[string]string{"email": email, "first_name": "Cluster"})
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/form", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", email)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never accepted: %v", email, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPipelineOnClusterSurvivesLeaderLoss runs the lead path on a 3-node
// cluster with R3 streams and each service on its own NATS user, stops the
// LEADS leader in the middle of a burst of webhooks, and finds every
// accepted lead stored exactly once, with the pipeline still going.
func TestPipelineOnClusterSurvivesLeaderLoss(t *testing.T) {
	c := eventstest.RunCluster(t, 3, eventstest.WithConfigFile(accountsConfig(t)))
	lp := startLeadPath(t, c.URLs(), 3)
	v, opJS, dir, ln := lp.violations, lp.operator, lp.dir, lp.ln

	const total, workers = 300, 8
	client := &http.Client{Timeout: 10 * time.Second}
	var accepted atomic.Int64
	var killed atomic.Value
	jobs := make(chan int)
	errs := make(chan error, total)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				if err := sendUntilAccepted(client, ln.Addr().String(), fmt.Sprintf("c%03d@cluster.example", i)); err != nil {
					errs <- err
					continue
				}
				if accepted.Add(1) == total/3 {
					leader := c.StreamLeaderIn("GTMHUB", events.StreamLeads)
					if leader == nil {
						errs <- fmt.Errorf("no LEADS leader")
						continue
					}
					killed.Store(leader.Name())
					leader.Shutdown()
				}
			}
		})
	}
	for i := range total {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "gtmhub.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitFor(t, 60*time.Second, "every accepted lead stored", func() (bool, string) {
		var n int
		err := db.QueryRow(`SELECT count(*) FROM contacts WHERE email LIKE '%@cluster.example'`).Scan(&n)
		return err == nil && n == total, fmt.Sprint(n, " ", err, " ", consumerStates(opJS))
	})
	// A change event is published after its write commits, and one whose
	// publish met the election is published again by a redelivery or, at
	// the latest, by the outbox relay (every 30 s, for entries older than
	// 30 s): wait for them, then count exactly.
	var created uint64
	waitFor(t, 2*time.Minute, "every change event published", func() (bool, string) {
		var err error
		created, err = contactsCreated(opJS)
		return err == nil && created >= total, fmt.Sprint(created, " contact.created ", err)
	})
	if created != total {
		t.Errorf("%d contact.created change events for %d leads: stored more or less than once", created, total)
	}
	for u, vs := range v {
		if errs := vs.list(); len(errs) > 0 {
			t.Errorf("%s was refused: %v", u, errs)
		}
	}
	t.Logf("stopped %v during the burst; %d leads accepted, each stored once", killed.Load(), total)
}

func consumerStates(js jetstream.JetStream) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out := ""
	for _, c := range events.DefaultTopology().Consumers {
		cons, err := js.Consumer(ctx, c.Stream, c.Durable)
		if err != nil {
			out += fmt.Sprintf("%s: %v; ", c.Durable, err)
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			out += fmt.Sprintf("%s: %v; ", c.Durable, err)
			continue
		}
		out += fmt.Sprintf("%s: pending %d unacked %d redelivered %d leader %s; ", c.Durable, info.NumPending, info.NumAckPending, info.NumRedelivered, info.Cluster.Leader)
	}
	return out
}
