package events_test

import (
	"errors"
	"fmt"
	"testing"

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
