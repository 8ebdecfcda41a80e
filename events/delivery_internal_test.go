package events

import (
	"testing"
	"time"
)

// TestDeliveryLog: a message's first delivery and first failure are
// remembered across its redeliveries, per stream, forgotten once it
// settles, and the memory stays bounded.
func TestDeliveryLog(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	stored := t0.Add(-time.Hour)
	at := func(stream string, seq uint64, attempt int) Delivery {
		return Delivery{Stream: stream, Sequence: seq, Attempt: attempt, Published: stored}
	}
	l := newDeliveryLog()
	// deliver begins d at now and returns it as the runner hands it over.
	deliver := func(d Delivery, now time.Time) Delivery {
		d.FirstDelivered = l.firstDelivered(d, now)
		return d
	}

	first := deliver(at(StreamLeads, 1, 1), t0)
	if !first.FirstDelivered.Equal(t0) {
		t.Errorf("first delivery: first delivered %v, want now (%v)", first.FirstDelivered, t0)
	}
	l.failed(first, t0.Add(time.Second))
	second := deliver(at(StreamLeads, 1, 2), t0.Add(time.Minute))
	if !second.FirstDelivered.Equal(t0) {
		t.Errorf("redelivery: first delivered %v, want the first delivery (%v)", second.FirstDelivered, t0)
	}
	l.failed(second, t0.Add(2*time.Minute))
	if got := l.firstFailure(second, t0.Add(time.Hour)); !got.Equal(t0.Add(time.Second)) {
		t.Errorf("first failure %v, want the first one (%v)", got, t0.Add(time.Second))
	}

	if got := deliver(at(StreamLeads, 2, 3), t0).FirstDelivered; !got.Equal(stored) {
		t.Errorf("redelivery never seen: first delivered %v, want when stored (%v)", got, stored)
	}
	if got := l.firstFailure(at(StreamLeads, 2, 3), t0); !got.Equal(t0) {
		t.Errorf("never failed here: first failure %v, want the fallback (%v)", got, t0)
	}
	replayed := deliver(at(StreamReplay, 1, 2), t0)
	if !replayed.FirstDelivered.Equal(stored) {
		t.Errorf("a replayed message with the same sequence: first delivered %v, want its own (%v)",
			replayed.FirstDelivered, stored)
	}

	// The stream delivers the sequence anew (a consumer created again):
	// its first delivery starts afresh.
	again := deliver(at(StreamLeads, 1, 1), t0.Add(3*time.Hour))
	l.failed(again, t0.Add(3*time.Hour))
	if got := deliver(at(StreamLeads, 1, 2), t0.Add(4*time.Hour)).FirstDelivered; !got.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("delivered anew: first delivered %v, want the new first delivery (%v)", got, t0.Add(3*time.Hour))
	}

	l.forget(second)
	if got := deliver(at(StreamLeads, 1, 5), t0).FirstDelivered; !got.Equal(stored) {
		t.Errorf("after forget: first delivered %v, want when stored (%v)", got, stored)
	}

	for seq := range uint64(2 * deliveryLogCap) {
		l.failed(at(StreamLeads, seq+10, 1), t0)
	}
	if n := len(l.m); n > deliveryLogCap {
		t.Errorf("%d messages remembered, want at most %d", n, deliveryLogCap)
	}
}

func TestDeliveryLast(t *testing.T) {
	for _, tt := range []struct {
		attempt, maxDeliver int
		want                bool
	}{
		{1, 3, false},
		{2, 3, false},
		{3, 3, true},
		{4, 3, true},
		{1, 1, true},
		{8, 0, false}, // unknown limit
	} {
		d := Delivery{Attempt: tt.attempt, MaxDeliver: tt.maxDeliver}
		if got := d.Last(); got != tt.want {
			t.Errorf("attempt %d of %d: Last() = %v, want %v", tt.attempt, tt.maxDeliver, got, tt.want)
		}
	}
}
