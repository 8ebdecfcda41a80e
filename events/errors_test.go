package events_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
)

func TestPermanent(t *testing.T) {
	cause := errors.New("422 unprocessable")
	tests := []struct {
		name     string
		err      error
		wantText string
		wantPerm bool
	}{
		{"nil", events.Permanent(nil), "", false},
		{"plain", events.Permanent(cause), "permanent: 422 unprocessable", true},
		{"twice", events.Permanent(events.Permanent(cause)), "permanent: 422 unprocessable", true},
		{"wrapped, then again", events.Permanent(fmt.Errorf("send: %w", events.Permanent(cause))), "send: permanent: 422 unprocessable", true},
		{"retry after", events.RetryAfter(0, cause), "retry after 0s: 422 unprocessable", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := ""
			if tt.err != nil {
				text = tt.err.Error()
			}
			if text != tt.wantText || events.IsPermanent(tt.err) != tt.wantPerm {
				t.Errorf("%q permanent=%v, want %q permanent=%v", text, events.IsPermanent(tt.err), tt.wantText, tt.wantPerm)
			}
			if tt.err != nil && !errors.Is(tt.err, cause) {
				t.Errorf("%v does not wrap its cause", tt.err)
			}
		})
	}
}

func TestJoinRetries(t *testing.T) {
	short := events.RetryAfter(250*time.Millisecond, errors.New("a send is in flight"))
	long := events.RetryAfter(30*time.Second, errors.New("429"))
	plain := errors.New("500")
	tests := []struct {
		name      string
		errs      []error
		wantDelay time.Duration
		wantOK    bool
	}{
		{"the longest delay, whatever the order", []error{short, long}, 30 * time.Second, true},
		{"the longest delay, the other order", []error{long, short}, 30 * time.Second, true},
		{"the longest named when one names none", []error{plain, short}, 250 * time.Millisecond, true},
		{"none when none names one", []error{plain, errors.New("502")}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := events.JoinRetries(tt.errs...)
			d, ok := events.RetryDelay(err)
			if ok != tt.wantOK || (ok && d != tt.wantDelay) {
				t.Errorf("RetryDelay = %v, %v; want %v, %v", d, ok, tt.wantDelay, tt.wantOK)
			}
			for _, e := range tt.errs {
				if !errors.Is(err, e) {
					t.Errorf("%v does not wrap %v", err, e)
				}
			}
		})
	}
}
