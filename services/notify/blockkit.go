package notify

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/gtmhub/gtmhub/events"
)

// SlackMessage is the body of an incoming-webhook call: fallback text and
// Block Kit blocks.
type SlackMessage struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks,omitempty"`
}

// Block is one Block Kit layout block (header, section, context, actions).
type Block struct {
	Type     string    `json:"type"`
	Text     *TextObj  `json:"text,omitempty"`
	Fields   []TextObj `json:"fields,omitempty"`
	Elements []any     `json:"elements,omitempty"`
}

// TextObj is a Block Kit text object: plain_text or mrkdwn.
type TextObj struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Button is a Block Kit link button, an element of an actions block.
type Button struct {
	Type string  `json:"type"`
	Text TextObj `json:"text"`
	URL  string  `json:"url"`
}

// Block Kit limits this package keeps to.
const (
	maxHeaderText  = 150
	maxSectionText = 3000
	maxFieldText   = 2000
)

func plain(s string, n int) TextObj   { return TextObj{Type: "plain_text", Text: truncate(s, n)} }
func mrkdwn(s string, n int) *TextObj { return &TextObj{Type: "mrkdwn", Text: truncateEscaped(s, n)} }

// escape makes s, a value from an event, literal text in mrkdwn: Slack
// reads <...> as a link or a mention (<!channel> notifies everyone in the
// channel, <https://evil.example|Reset your password> is a disguised link),
// and asks that &, < and > in text be sent as &amp;, &lt; and &gt;.
func escape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// truncateEscaped truncates escaped text to n bytes without cutting an
// escape (&amp;, &lt;, &gt;) in two.
func truncateEscaped(s string, n int) string {
	t := truncate(s, n)
	if len(t) == len(s) {
		return t
	}
	if i := strings.LastIndexByte(t, '&'); i >= 0 && !strings.Contains(t[i:], ";") {
		t = t[:i]
	}
	return t
}

// LeadMessage is the Slack message for a notification about a lead or
// contact (name, company, title, scores and source) or a company (name,
// domain, industry, size and place), with a link to the trace when
// tracingUI is set.
func LeadMessage(m Message, tracingUI string) SlackMessage {
	sum := summarize(m.Data)
	text := fmt.Sprintf("%s: %s", m.Rule, escape(sum.headline))
	if sum.score != "" {
		text += ", signal score " + sum.score
	}
	fields := []TextObj{}
	for _, f := range sum.fields {
		if f[1] != "" {
			fields = append(fields, *mrkdwn("*"+f[0]+"*\n"+escape(f[1]), maxFieldText))
		}
	}
	blocks := []Block{
		{Type: "header", Text: ptr(plain(sum.headline, maxHeaderText))},
		{Type: "section", Fields: fields},
	}
	context := []any{*mrkdwn(fmt.Sprintf("rule `%s` · event `%s`", m.Rule, escape(m.Event.ID())), maxSectionText)}
	blocks = append(blocks, Block{Type: "context", Elements: context})
	if link := traceLink(tracingUI, events.TraceID(m.Event)); link != "" {
		blocks = append(blocks, Block{Type: "actions", Elements: []any{
			Button{Type: "button", Text: plain("View trace", 75), URL: link},
		}})
	}
	return SlackMessage{Text: truncateEscaped(text, maxSectionText), Blocks: blocks}
}

// AlertMessage is the Slack message for an operations alert.
func AlertMessage(title, body string) SlackMessage {
	return SlackMessage{Text: truncate(title, maxSectionText), Blocks: []Block{
		{Type: "header", Text: ptr(plain(title, maxHeaderText))},
		{Type: "section", Text: mrkdwn(body, maxSectionText)},
	}}
}

func traceLink(base, traceID string) string {
	if base == "" || traceID == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/trace/" + traceID
}

func ptr[T any](v T) *T { return &v }

// fields is the lead part of an event's data.
type fields map[string]any

// summary is what a message says of the record an event is about: a
// headline, labelled fields and the signal score.
type summary struct {
	headline string
	fields   [][2]string
	score    string
}

// summarize describes the contact, or the company, of a record change, or
// else a lead's data.
func summarize(data map[string]any) summary {
	if c, ok := data["company"].(map[string]any); ok && data["contact"] == nil {
		return companySummary(c)
	}
	lead := leadFields(data)
	name := strings.TrimSpace(lead.str("first_name") + " " + lead.str("last_name"))
	if name == "" {
		name = "A lead"
	}
	headline := name
	if c := lead.str("company"); c != "" {
		headline += " (" + c + ")"
	}
	return summary{headline: headline, score: lead.score("signal_score"), fields: [][2]string{
		{"Name", name}, {"Company", lead.str("company")}, {"Title", lead.str("title")}, {"Source", lead.str("source")},
		{"Signal score", lead.score("signal_score")}, {"Intent score", lead.score("intent_score")},
		{"Fit score", lead.score("fit_score")},
	}}
}

// companySummary describes a company record.
func companySummary(c fields) summary {
	headline := cmp.Or(c.str("name"), c.str("domain"), "A company")
	return summary{headline: headline, fields: [][2]string{
		{"Company", c.str("name")}, {"Domain", c.str("domain")}, {"Industry", c.str("industry")},
		{"Employees", c.score("employees")}, {"Country", c.str("country")}, {"City", c.str("city")},
	}}
}

// leadFields finds the lead in data: data.contact for record changes, data
// itself for lead events.
func leadFields(data map[string]any) fields {
	if c, ok := data["contact"].(map[string]any); ok {
		return c
	}
	return data
}

func (f fields) str(k string) string {
	s, _ := f[k].(string)
	return s
}

func (f fields) score(k string) string {
	v, ok := f[k].(float64)
	if !ok {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
