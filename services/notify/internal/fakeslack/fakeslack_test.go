package fakeslack_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/services/notify/internal/fakeslack"
)

func post(t *testing.T, s *fakeslack.Server, hook string, body any) (*http.Response, string) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Client().Post(s.Webhook(hook), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

func section(n int) map[string]any {
	return map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": strings.Repeat("x", n)}}
}

func TestPayloadLimits(t *testing.T) {
	manyBlocks := make([]any, 51)
	for i := range manyBlocks {
		manyBlocks[i] = section(1)
	}
	fields := make([]any, 11)
	for i := range fields {
		fields[i] = map[string]any{"type": "mrkdwn", "text": "f"}
	}
	tests := []struct {
		name string
		body any
		want int
		code string
	}{
		{"text only", map[string]any{"text": "hello"}, 200, "ok"},
		{"section at the limit", map[string]any{"blocks": []any{section(3000)}}, 200, "ok"},
		{"empty", map[string]any{}, 400, "invalid_blocks: no_text"},
		{"51 blocks", map[string]any{"text": "x", "blocks": manyBlocks}, 400, "invalid_blocks"},
		{"section text too long", map[string]any{"blocks": []any{section(3001)}}, 400, "invalid_blocks"},
		{"11 fields", map[string]any{"blocks": []any{map[string]any{"type": "section", "fields": fields}}}, 400, "invalid_blocks"},
		{"header too long", map[string]any{"blocks": []any{map[string]any{"type": "header",
			"text": map[string]any{"type": "plain_text", "text": strings.Repeat("h", 151)}}}}, 400, "invalid_blocks"},
		{"header in mrkdwn", map[string]any{"blocks": []any{map[string]any{"type": "header",
			"text": map[string]any{"type": "mrkdwn", "text": "h"}}}}, 400, "invalid_blocks"},
		{"text too long", map[string]any{"text": strings.Repeat("t", 40001)}, 400, "invalid_blocks"},
		{"unknown block", map[string]any{"blocks": []any{map[string]any{"type": "banner"}}}, 400, "invalid_blocks"},
		{"not an object", "just a string", 400, "invalid_payload"},
	}
	// Every case posts to its own webhook, so the rate limit stays out of the way.
	s := fakeslack.New(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, s, strings.ReplaceAll(tt.name, " ", "-"), tt.body)
			if resp.StatusCode != tt.want || !strings.HasPrefix(body, tt.code) {
				t.Errorf("answer %d %q, want %d %q", resp.StatusCode, body, tt.want, tt.code)
			}
		})
	}
	if n := len(s.Messages()); n != 2 {
		t.Errorf("%d accepted messages, want 2", n)
	}
}

func TestRateLimitPerWebhook(t *testing.T) {
	s := fakeslack.New(t, fakeslack.WithInterval(2*time.Second))
	if resp, _ := post(t, s, "a", map[string]any{"text": "1"}); resp.StatusCode != 200 {
		t.Fatalf("first post: %d", resp.StatusCode)
	}
	resp, body := post(t, s, "a", map[string]any{"text": "2"})
	if resp.StatusCode != http.StatusTooManyRequests || body != "rate_limited" || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("second post at once: %d %q Retry-After %q, want 429 rate_limited 2",
			resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if resp, _ := post(t, s, "b", map[string]any{"text": "other webhook"}); resp.StatusCode != 200 {
		t.Errorf("another webhook is limited too: %d", resp.StatusCode)
	}
	if got := s.Messages(); len(got) != 2 || got[0].Text != "1" || got[1].Path != "/services/T0000000/B0000000/b" {
		t.Errorf("messages %+v", got)
	}
}

func TestInjectedFailures(t *testing.T) {
	s := fakeslack.New(t, fakeslack.WithInterval(time.Millisecond))
	s.FailNext(fakeslack.Response{Status: 429, Body: "rate_limited", RetryAfter: 3 * time.Second},
		fakeslack.Response{Status: 404, Body: "channel_not_found"})
	resp, body := post(t, s, "a", map[string]any{"text": "x"})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || body != "rate_limited" {
		t.Errorf("first: %d %q %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, body := post(t, s, "a", map[string]any{"text": "x"}); resp.StatusCode != 404 || body != "channel_not_found" {
		t.Errorf("second: %d %q", resp.StatusCode, body)
	}
	if resp, body := post(t, s, "a", map[string]any{"text": "x"}); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("third: %d %q", resp.StatusCode, body)
	}
	if got := s.Wait(1, time.Second); len(got) != 1 || len(s.Rejected()) != 2 {
		t.Errorf("accepted %d, rejected %d", len(got), len(s.Rejected()))
	}
}
