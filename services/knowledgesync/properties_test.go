package knowledgesync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// testProperties maps a front-matter key to a property of each type the
// sync writes.
var testProperties = map[string]string{"status": "Status", "stage": "Stage", "topics": "Topics", "owner": "Owner",
	"priority": "Priority", "published": "Published", "due": "Due", "url": "Link", "email": "Mail", "phone": "Phone"}

// testSchema is the type of each property the fake database gets.
var testSchema = map[string]string{"Status": "select", "Stage": "status", "Topics": "multi_select", "Owner": "rich_text",
	"Priority": "number", "Published": "checkbox", "Due": "date", "Link": "url", "Mail": "email", "Phone": "phone_number",
	"People": "people", "Score": "formula"}

// newPropsEnv is an env whose database has the properties of testSchema,
// synced as props maps them.
func newPropsEnv(t *testing.T, props map[string]string) *env {
	t.Helper()
	e := newEnv(t)
	for _, name := range slices.Sorted(maps.Keys(testSchema)) {
		must(t, e.fake.AddProperty(e.db, name, testSchema[name]))
	}
	e.mapProperties(props)
	return e
}

// mapProperties makes the env's sync map props, keeping its state; its
// Notion client has opts.
func (e *env) mapProperties(props map[string]string, opts ...notion.Option) {
	e.t.Helper()
	ctx := context.Background()
	kv, err := e.srv.JS.KeyValue(ctx, knowledgesync.StateBucket)
	must(e.t, err)
	pub, err := events.NewPublisher(e.srv.JS)
	must(e.t, err)
	opts = append([]notion.Option{notion.WithBaseURL(e.fake.URL), notion.WithRateLimit(200, 20)}, opts...)
	client, err := notion.New(testToken, opts...)
	must(e.t, err)
	k := knowledgesync.DefaultConfig().Knowledge
	k.Properties = props
	must(e.t, knowledgesync.Config{Knowledge: k}.Validate())
	e.sync = knowledgesync.NewNotionSync(knowledgesync.NewSyncer(e.dir, nil), e.db, client, kv, pub, k, nil)
}

// states returns the fingerprints of the sync state, by page.
func (e *env) states() map[string]string {
	e.t.Helper()
	ctx := context.Background()
	kv, err := e.srv.JS.KeyValue(ctx, knowledgesync.StateBucket)
	must(e.t, err)
	keys, err := kv.Keys(ctx)
	must(e.t, err)
	out := map[string]string{}
	for _, k := range keys {
		entry, err := kv.Get(ctx, k)
		must(e.t, err)
		var st struct {
			LocalHash  string            `json:"local_hash"`
			RemoteHash string            `json:"remote_hash"`
			Properties map[string]string `json:"properties"`
		}
		must(e.t, json.Unmarshal(entry.Value(), &st))
		out[k] = fmt.Sprintf("%s %s %v", st.LocalHash, st.RemoteHash, st.Properties)
	}
	return out
}

// front returns the front-matter value of key in a file, as text; "" when
// the key is missing.
func (e *env) front(name, key string) string {
	e.t.Helper()
	doc, err := knowledgesync.ParseDocument(name, []byte(e.read(name)))
	must(e.t, err)
	if v, ok := doc.Properties[key]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

// shown returns a page property's value as text, per type.
func (e *env) shown(id, name string) string {
	e.t.Helper()
	page, ok := e.fake.Page(id)
	if !ok {
		e.t.Fatalf("no page %s", id)
	}
	p := page.Properties[name]
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	switch p.Type {
	case "select":
		if p.Select != nil {
			return p.Select.Name
		}
	case "status":
		if p.Status != nil {
			return p.Status.Name
		}
	case "multi_select":
		var names []string
		for _, o := range p.MultiSelect {
			names = append(names, o.Name)
		}
		return strings.Join(names, ",")
	case "rich_text":
		return notion.PlainText(p.RichText)
	case "number":
		if p.Number != nil {
			return fmt.Sprint(*p.Number)
		}
	case "checkbox":
		return fmt.Sprint(p.Checkbox != nil && *p.Checkbox)
	case "date":
		if p.Date != nil {
			if p.Date.End != nil {
				return p.Date.Start + "/" + *p.Date.End
			}
			return p.Date.Start
		}
	case "url":
		return deref(p.URL)
	case "email":
		return deref(p.Email)
	case "phone_number":
		return deref(p.PhoneNumber)
	}
	return ""
}

// checkStable syncs again and fails unless nothing changes: no writes on
// either side, the same fingerprints.
func (e *env) checkStable() {
	e.t.Helper()
	before, writes := e.states(), e.fake.Writes()
	files := map[string]string{}
	for _, p := range e.fake.Pages(e.db) {
		files[p.ID] = p.LastEditedTime.String()
	}
	rep := e.run(false)
	if d := e.fake.Writes() - writes; d != 0 || rep.ToLocal != 0 || rep.ToNotion != 0 || rep.Conflicts != 0 {
		e.t.Errorf("a second sync changed something: %d writes, report %+v", d, rep)
	}
	if after := e.states(); !maps.Equal(before, after) {
		e.t.Errorf("fingerprints changed by a second sync:\n%v\n%v", before, after)
	}
}

func TestSyncPushesEachPropertyType(t *testing.T) {
	long := strings.Repeat("x", 2500)
	tests := []struct {
		line, property, want string
	}{
		{"status: Draft", "Status", "Draft"},
		{"stage: In progress", "Stage", "In progress"},
		{"topics: [pricing, outbound]", "Topics", "pricing,outbound"},
		{"topics: pricing, outbound", "Topics", "pricing,outbound"},
		{"owner: Ada Lovelace", "Owner", "Ada Lovelace"},
		{"owner: " + long, "Owner", long},
		{"priority: 2", "Priority", "2"},
		{"priority: 2.5", "Priority", "2.5"},
		{"published: true", "Published", "true"},
		{"published: false", "Published", "false"},
		{"due: 2024-05-01", "Due", "2024-05-01"},
		{"due: 2024-05-01T10:00:00Z", "Due", "2024-05-01T10:00:00.000+00:00"},
		{"due: 2024-05-01/2024-05-03", "Due", "2024-05-01/2024-05-03"},
		{"url: https://example.com/a?b=c", "Link", "https://example.com/a?b=c"},
		{"email: ada@example.com", "Mail", "ada@example.com"},
		{"phone: +1 555 0100", "Phone", "+1 555 0100"},
	}
	e := newPropsEnv(t, testProperties)
	for i, tt := range tests {
		writeFile(t, e.dir, fmt.Sprintf("p%02d.md", i), fmt.Sprintf("---\n%s\naudience: sales\n---\n# Page %d\n", tt.line, i))
	}
	e.run(false)
	for i, tt := range tests {
		t.Run(tt.line[:min(len(tt.line), 40)], func(t *testing.T) {
			name := fmt.Sprintf("p%02d.md", i)
			if got := e.shown(e.pageOf(name), tt.property); got != tt.want {
				t.Errorf("Notion %s = %.60q, want %.60q", tt.property, got, tt.want)
			}
			key, _, _ := strings.Cut(tt.line, ":")
			orig, err := knowledgesync.ParseDocument("orig.md", []byte("---\n"+tt.line+"\n---\n"))
			must(t, err)
			if got, want := e.front(name, key), fmt.Sprint(orig.Properties[key]); got != want || e.front(name, "audience") != "sales" {
				t.Errorf("%s: %s = %.60q, want the file's %.60q, and its other keys:\n%.300s", name, key, got, want, e.read(name))
			}
		})
	}
	e.checkStable()
}

func TestSyncPullsEachPropertyType(t *testing.T) {
	num, half, yes, no := 3.0, 2.5, true, false
	str := func(s string) *string { return &s }
	tests := []struct {
		property string
		value    notion.Property
		key      string
		want     string // the front-matter value as text; "" for no key
	}{
		{"Status", notion.Property{Select: &notion.SelectOption{Name: "Draft"}}, "status", "Draft"},
		{"Stage", notion.Property{Status: &notion.SelectOption{Name: "Done"}}, "stage", "Done"},
		{"Topics", notion.MultiSelectProperty([]string{"pricing", "outbound"}), "topics", "[pricing outbound]"},
		{"Owner", notion.Property{RichText: notion.Text("Ada Lovelace")}, "owner", "Ada Lovelace"},
		{"Priority", notion.Property{Number: &num}, "priority", "3"},
		{"Priority", notion.Property{Number: &half}, "priority", "2.5"},
		{"Published", notion.Property{Checkbox: &yes}, "published", "true"},
		{"Published", notion.Property{Checkbox: &no}, "published", ""},
		{"Due", notion.Property{Date: &notion.Date{Start: "2024-05-01"}}, "due", "2024-05-01"},
		{"Due", notion.Property{Date: &notion.Date{Start: "2024-05-01T10:00:00Z"}}, "due", "2024-05-01T10:00:00Z"},
		{"Due", notion.Property{Date: &notion.Date{Start: "2024-05-01T12:00:00+02:00"}}, "due", "2024-05-01T12:00:00+02:00"},
		{"Due", notion.Property{Date: &notion.Date{Start: "2024-05-01", End: str("2024-05-03")}}, "due", "2024-05-01/2024-05-03"},
		{"Link", notion.Property{URL: str("https://example.com/a")}, "url", "https://example.com/a"},
		{"Mail", notion.Property{Email: str("ada@example.com")}, "email", "ada@example.com"},
		{"Phone", notion.Property{PhoneNumber: str("+1 555 0100")}, "phone", "+1 555 0100"},
		{"Status", notion.Property{}, "status", ""},
	}
	e := newPropsEnv(t, testProperties)
	ids := make([]string, len(tests))
	for i, tt := range tests {
		id, err := e.fake.AddPage(e.db, fmt.Sprintf("Page %02d", i), nil, mdnotion.ToBlocks([]byte("text\n")))
		must(t, err)
		tt.value.Type = testSchema[tt.property]
		must(t, e.fake.SetProperties(id, map[string]notion.Property{tt.property: tt.value}))
		ids[i] = id
	}
	e.run(false)
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.property, tt.want), func(t *testing.T) {
			name := fmt.Sprintf("page-%02d.md", i)
			if got := e.front(name, tt.key); got != tt.want {
				t.Errorf("%s: %s = %q, want %q\n%s", name, tt.key, got, tt.want, e.read(name))
			}
		})
	}
	e.checkStable()
}

func TestSyncPropertyEditedOnOneSide(t *testing.T) {
	review := &notion.SelectOption{Name: "Review"}
	tests := []struct {
		name       string
		edit       func(e *env, file, id string)
		toNotion   int
		toLocal    int
		wantStatus string
		wantOwner  string
	}{
		{"status edited in Notion is pulled", func(e *env, file, id string) {
			must(e.t, e.fake.SetProperties(id, map[string]notion.Property{"Status": {Type: "select", Select: review}}))
		}, 0, 1, "Review", "Ada"},
		{"status cleared in Notion removes the key", func(e *env, file, id string) {
			must(e.t, e.fake.SetProperties(id, map[string]notion.Property{"Status": {Type: "select"}}))
		}, 0, 1, "", "Ada"},
		{"status edited in the file is pushed", func(e *env, file, id string) {
			writeFile(e.t, e.dir, file, strings.Replace(e.read(file), "status: Draft", "status: Review", 1))
		}, 1, 0, "Review", "Ada"},
		{"stage removed from the file comes back: a status cannot be emptied", func(e *env, file, id string) {
			writeFile(e.t, e.dir, file, strings.Replace(e.read(file), "stage: Done\n", "", 1))
		}, 1, 0, "Draft", "Ada"},
		{"owner removed from the file clears it", func(e *env, file, id string) {
			writeFile(e.t, e.dir, file, strings.Replace(e.read(file), "owner: Ada\n", "", 1))
		}, 1, 0, "Draft", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPropsEnv(t, testProperties)
			writeFile(t, e.dir, "plan.md", "---\ntitle: Plan\nstatus: Draft\nstage: Done\nowner: Ada\naudience: sales\n---\n# Plan\n\nbody\n")
			e.run(false)
			id := e.pageOf("plan.md")
			if e.shown(id, "Status") != "Draft" || e.shown(id, "Owner") != "Ada" {
				t.Fatalf("first sync: Status %q Owner %q", e.shown(id, "Status"), e.shown(id, "Owner"))
			}

			tt.edit(e, "plan.md", id)
			rep := e.run(false)
			if rep.ToNotion != tt.toNotion || rep.ToLocal != tt.toLocal || rep.Conflicts != 0 {
				t.Errorf("report %+v, want %d to Notion, %d to local", rep, tt.toNotion, tt.toLocal)
			}
			for _, side := range []struct{ what, status, owner string }{
				{"file", e.front("plan.md", "status"), e.front("plan.md", "owner")},
				{"Notion", e.shown(id, "Status"), e.shown(id, "Owner")},
			} {
				if side.status != tt.wantStatus || side.owner != tt.wantOwner {
					t.Errorf("%s: status %q owner %q, want %q and %q", side.what, side.status, side.owner, tt.wantStatus, tt.wantOwner)
				}
			}
			if e.front("plan.md", "stage") != "Done" || e.shown(id, "Stage") != "Done" {
				t.Errorf("stage: file %q, Notion %q, want Done", e.front("plan.md", "stage"), e.shown(id, "Stage"))
			}
			if e.front("plan.md", "audience") != "sales" || !strings.HasSuffix(e.read("plan.md"), "# Plan\n\nbody\n") {
				t.Errorf("plan.md lost its other keys or body:\n%s", e.read("plan.md"))
			}
			e.checkStable()
		})
	}
}

func TestSyncPropertiesEditedOnBothSides(t *testing.T) {
	tests := []struct {
		name          string
		localStatus   string        // "" leaves the file's status alone
		localAt       time.Duration // file edited this long after the Notion edit
		wantStatus    string
		wantOwner     string
		wantConflicts int
	}{
		{"different properties are both kept", "", time.Minute, "Review", "Grace", 0},
		{"the same property: the later file wins", "Final", time.Minute, "Final", "Grace", 1},
		{"the same property: the later Notion edit wins", "Final", -time.Hour, "Review", "Grace", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPropsEnv(t, testProperties)
			writeFile(t, e.dir, "plan.md", "---\ntitle: Plan\nstatus: Draft\nowner: Ada\n---\n# Plan\n\nbody\n")
			e.run(false)
			id := e.pageOf("plan.md")

			must(t, e.fake.SetProperties(id, map[string]notion.Property{"Status": {Type: "select",
				Select: &notion.SelectOption{Name: "Review"}}}))
			file := strings.Replace(e.read("plan.md"), "owner: Ada", "owner: Grace", 1)
			if tt.localStatus != "" {
				file = strings.Replace(file, "status: Draft", "status: "+tt.localStatus, 1)
			}
			writeFile(t, e.dir, "plan.md", file)
			e.touch("plan.md", time.Now().Add(tt.localAt))

			rep := e.run(false)
			if rep.Conflicts != tt.wantConflicts {
				t.Errorf("report %+v, want %d conflicts", rep, tt.wantConflicts)
			}
			if tt.wantConflicts > 0 && !slices.ContainsFunc(rep.Actions, func(a string) bool {
				return strings.HasPrefix(a, "property conflict: plan.md status")
			}) {
				t.Errorf("the property conflict is not reported: %v", rep.Actions)
			}
			for _, side := range []struct{ what, status, owner string }{
				{"file", e.front("plan.md", "status"), e.front("plan.md", "owner")},
				{"Notion", e.shown(id, "Status"), e.shown(id, "Owner")},
			} {
				if side.status != tt.wantStatus || side.owner != tt.wantOwner {
					t.Errorf("%s: status %q owner %q, want %q and %q", side.what, side.status, side.owner, tt.wantStatus, tt.wantOwner)
				}
			}
			if got := e.read("plan.md"); strings.Contains(got, "<<<<<<<") {
				t.Errorf("conflict markers for properties alone:\n%s", got)
			}
			e.checkStable()
		})
	}
}

func TestSyncReportsPropertiesItCannotSync(t *testing.T) {
	tests := []struct {
		key, property, want string
	}{
		{"assignee", "People", `Notion property "People" is of type people`},
		{"score", "Score", `Notion property "Score" is of type formula`},
		{"missing", "Nope", `the database has no property "Nope"`},
	}
	props := map[string]string{"status": "Status"}
	for _, tt := range tests {
		props[tt.key] = tt.property
	}
	e := newPropsEnv(t, props)
	writeFile(t, e.dir, "plan.md", "---\nstatus: Draft\nassignee: Ada\nscore: 3\n---\n# Plan\n")
	rep := e.run(false)
	if len(rep.Problems) != len(tests) {
		t.Fatalf("problems %v, want %d", rep.Problems, len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			i := slices.IndexFunc(rep.Problems, func(err error) bool {
				return strings.Contains(err.Error(), "knowledge.properties."+tt.key+":")
			})
			if i < 0 || !errors.Is(rep.Problems[i], knowledgesync.ErrPropertyMapping) ||
				!strings.Contains(rep.Problems[i].Error(), tt.want) {
				t.Errorf("problems %v, want one for %s saying %s", rep.Problems, tt.key, tt.want)
			}
		})
	}
	if got := e.shown(e.pageOf("plan.md"), "Status"); got != "Draft" {
		t.Errorf("the property the database backs was not synced: Status %q", got)
	}
	if e.front("plan.md", "assignee") != "Ada" || e.front("plan.md", "score") != "3" {
		t.Errorf("keys of properties not synced were not kept:\n%s", e.read("plan.md"))
	}
}

// TestSyncSkipsValuesThatDoNotFit: a front-matter value its property
// cannot take is reported, and the rest of the page (its content, its
// other properties) is synced.
func TestSyncSkipsValuesThatDoNotFit(t *testing.T) {
	tests := []struct {
		line, property, want string
	}{
		{"priority: high", "Priority", `want a number, not "high"`},
		{"status: [a, b]", "Status", "want one value, not a list"},
		{"status: a,b", "Status", "holds a comma"},
		{"stage: done", "Stage", `status "done" is not one of the property's options ("Not started", "In progress", "Done")`},
		{"topics: [a, \"b,c\"]", "Topics", "holds a comma"},
		{"published: maybe", "Published", `want true or false, not "maybe"`},
		{"due: next week", "Due", "want a date"},
		{"url: https://example.com/" + strings.Repeat("x", 2000), "Link", "at most 2000"},
		{"owner: " + strings.Repeat("x", 200_001), "Owner", "200001 characters, over the 100 × 2000 a Notion rich_text holds"},
	}
	for _, tt := range tests {
		t.Run(tt.line[:min(len(tt.line), 30)], func(t *testing.T) {
			e := newPropsEnv(t, testProperties)
			writeFile(t, e.dir, "plan.md", "---\n"+tt.line+"\nemail: ada@example.com\n---\n# Plan\n\nbody\n")
			rep, err := e.sync.Sync(context.Background(), false)
			must(t, err)
			checkRefused(t, rep, tt.want)
			if r := e.fake.Rejections(); len(r) != 0 {
				t.Errorf("Notion rejected %v", r)
			}
			id := e.pageOf("plan.md")
			if got := e.notionText(id); !strings.Contains(got, "body") || e.shown(id, "Mail") != "ada@example.com" {
				t.Errorf("the rest of the page was not synced: Mail %q, content %q", e.shown(id, "Mail"), got)
			}
			if got := e.shown(id, tt.property); got != "" && got != "false" {
				t.Errorf("Notion %s = %q, want it left empty", tt.property, got)
			}
			key, _, _ := strings.Cut(tt.line, ":")
			orig, err := knowledgesync.ParseDocument("orig.md", []byte("---\n"+tt.line+"\n---\n"))
			must(t, err)
			if got, want := e.front("plan.md", key), fmt.Sprint(orig.Properties[key]); got != want {
				t.Errorf("file's %s = %.60q, want its own %.60q kept", key, got, want)
			}
		})
	}
}

// checkRefused fails unless rep holds one error, for plan.md, wrapping
// ErrPropertyValue and saying want.
func checkRefused(t *testing.T, rep knowledgesync.Report, want string) {
	t.Helper()
	if len(rep.Errors) != 1 || !errors.Is(rep.Errors[0], knowledgesync.ErrPropertyValue) ||
		!strings.Contains(rep.Errors[0].Error(), want) || !strings.Contains(rep.Errors[0].Error(), "plan.md") {
		t.Errorf("errors %v, want one for plan.md saying %s", rep.Errors, want)
	}
}

// TestSyncStatusNotAnOptionKeepsThePageInStep: a status edited in a file to
// a value that is not one of the property's options is reported at every
// sync, while the page's content and its other properties keep syncing.
func TestSyncStatusNotAnOptionKeepsThePageInStep(t *testing.T) {
	e := newPropsEnv(t, testProperties)
	writeFile(t, e.dir, "plan.md", "---\ntitle: Plan\nstage: Done\nowner: Ada\n---\n# Plan\n\nbody\n")
	e.run(false)
	id := e.pageOf("plan.md")

	file := strings.NewReplacer("stage: Done", "stage: done", "owner: Ada", "owner: Grace", "body", "body v2").
		Replace(e.read("plan.md"))
	writeFile(t, e.dir, "plan.md", file)
	for i := range 2 {
		writes := e.fake.Writes()
		rep, err := e.sync.Sync(context.Background(), false)
		must(t, err)
		checkRefused(t, rep, `status "done" is not one of the property's options`)
		if i == 1 && e.fake.Writes() != writes {
			t.Errorf("sync %d wrote to Notion again: %+v", i, rep)
		}
	}
	if got := e.notionText(id); !strings.Contains(got, "body v2") {
		t.Errorf("Notion content %q, want the file's edit", got)
	}
	if e.shown(id, "Owner") != "Grace" || e.shown(id, "Stage") != "Done" {
		t.Errorf("Notion Owner %q Stage %q, want Grace and Done", e.shown(id, "Owner"), e.shown(id, "Stage"))
	}
	if e.read("plan.md") != file {
		t.Errorf("file rewritten:\n%s", e.read("plan.md"))
	}
	if r := e.fake.Rejections(); len(r) != 0 {
		t.Errorf("Notion rejected %v", r)
	}
}

// TestSyncValueNotionRefuses: a value Notion refuses is reported and left
// out; the page's content and its other properties are synced.
func TestSyncValueNotionRefuses(t *testing.T) {
	e := newPropsEnv(t, testProperties)
	writeFile(t, e.dir, "plan.md", "---\ntitle: Plan\nstatus: Draft\nowner: Ada\n---\n# Plan\n\nbody\n")
	e.run(false)
	id := e.pageOf("plan.md")
	e.mapProperties(testProperties, notion.WithTransport(refusing{property: "Owner"}))

	writeFile(t, e.dir, "plan.md", strings.NewReplacer("status: Draft", "status: Review", "owner: Ada", "owner: Grace",
		"body", "body v2").Replace(e.read("plan.md")))
	writeFile(t, e.dir, "new.md", "---\nstatus: Draft\nowner: Ada\n---\n# New\n\nnew body\n")
	rep, err := e.sync.Sync(context.Background(), false)
	must(t, err)
	if len(rep.Errors) != 2 {
		t.Fatalf("errors %v, want one for each file", rep.Errors)
	}
	for _, name := range []string{"plan.md", "new.md"} {
		if !slices.ContainsFunc(rep.Errors, func(err error) bool {
			return errors.Is(err, knowledgesync.ErrPropertyValue) && strings.HasPrefix(err.Error(), name+": ") &&
				strings.Contains(err.Error(), "Notion refused it")
		}) {
			t.Errorf("errors %v, want Owner of %s refused", rep.Errors, name)
		}
	}
	if got := e.notionText(id); !strings.Contains(got, "body v2") || e.shown(id, "Status") != "Review" ||
		e.shown(id, "Owner") != "Ada" {
		t.Errorf("plan.md's page: Status %q Owner %q content %q, want Review, Ada and the file's edit",
			e.shown(id, "Status"), e.shown(id, "Owner"), got)
	}
	newID := e.pageOf("new.md")
	if got := e.notionText(newID); !strings.Contains(got, "new body") || e.shown(newID, "Status") != "Draft" {
		t.Errorf("new.md's page: Status %q content %q, want Draft and the file's", e.shown(newID, "Status"), got)
	}
}

// refusing answers a create or update page request setting a property
// with 400 validation_error, as Notion refuses a value it cannot take.
type refusing struct{ property string }

func (f refusing) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && (r.Method == http.MethodPatch || r.Method == http.MethodPost) &&
		strings.HasPrefix(r.URL.Path, "/v1/pages") {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		var in struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if json.Unmarshal(body, &in) == nil && in.Properties[f.property] != nil {
			msg := fmt.Sprintf(`{"object":"error","status":400,"code":"validation_error","message":"%s is refused."}`, f.property)
			return &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(msg)), Request: r}, nil
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestSyncKeepsNotionValuesAsTheyAre: a Notion value with blanks around it
// is pulled, and an edit elsewhere in the file does not write it back
// changed.
func TestSyncKeepsNotionValuesAsTheyAre(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		property string
		value    notion.Property
		key      string
		want     string // the front-matter value as text
	}{
		{"Owner", notion.Property{RichText: notion.Text("Ada Lovelace\n")}, "owner", "Ada Lovelace\n"},
		{"Owner", notion.Property{RichText: notion.Text("  indented")}, "owner", "  indented"},
		{"Link", notion.Property{URL: str("https://example.com/a ")}, "url", "https://example.com/a"},
		{"Status", notion.Property{Select: &notion.SelectOption{Name: "Draft "}}, "status", "Draft"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %q", tt.property, tt.want), func(t *testing.T) {
			e := newPropsEnv(t, testProperties)
			writeFile(t, e.dir, "plan.md", "---\ntitle: Plan\n---\n# Plan\n\nbody\n")
			e.run(false)
			id := e.pageOf("plan.md")
			tt.value.Type = testSchema[tt.property]
			must(t, e.fake.SetProperties(id, map[string]notion.Property{tt.property: tt.value}))
			shown := e.shown(id, tt.property)
			e.run(false)
			if got := e.front("plan.md", tt.key); got != tt.want {
				t.Errorf("pulled %s = %q, want %q", tt.key, got, tt.want)
			}

			writeFile(t, e.dir, "plan.md", strings.Replace(e.read("plan.md"), "body", "body v2", 1))
			e.run(false)
			if got := e.shown(id, tt.property); got != shown {
				t.Errorf("Notion %s = %q after an edit of the body, want %q unchanged", tt.property, got, shown)
			}
			e.checkStable()
		})
	}
}

// TestSyncKeepsTextAsWritten: an unquoted value YAML reads as a number or
// a boolean reaches a property holding text as written, and stays so in
// the file and in Notion through syncs both ways.
func TestSyncKeepsTextAsWritten(t *testing.T) {
	tests := []struct {
		line, property, want string
	}{
		{"owner: 007", "Owner", "007"},
		{"owner: True", "Owner", "True"},
		{"status: 1.10", "Status", "1.10"},
		{"topics: [1.10, 007, x]", "Topics", "1.10,007,x"},
		{"topics: 1.10", "Topics", "1.10"},
		{"phone: 0445550100", "Phone", "0445550100"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			e := newPropsEnv(t, testProperties)
			writeFile(t, e.dir, "plan.md", "---\n"+tt.line+"\npriority: 007\n---\n# Plan\n\nbody\n")
			e.run(false)
			id := e.pageOf("plan.md")
			key, _, _ := strings.Cut(tt.line, ":")
			check := func(when string) {
				t.Helper()
				if got := e.shown(id, tt.property); got != tt.want {
					t.Errorf("%s: Notion %s = %q, want %q", when, tt.property, got, tt.want)
				}
				if got := strings.ReplaceAll(e.front("plan.md", key), " ", ","); strings.Trim(got, "[]") != tt.want {
					t.Errorf("%s: file's %s = %q, want %q\n%s", when, key, got, tt.want, e.read("plan.md"))
				}
				if got := e.shown(id, "Priority"); got != "7" {
					t.Errorf("%s: Notion Priority = %q, want the number 7", when, got)
				}
			}
			check("created")
			must(t, e.fake.EditPage(id, mdnotion.ToBlocks([]byte("# Plan\n\nbody edited in Notion\n"))))
			e.run(false)
			check("pulled")
			writeFile(t, e.dir, "plan.md", strings.Replace(e.read("plan.md"), "edited in Notion", "edited in the file", 1))
			e.run(false)
			check("pushed")
			e.checkStable()
		})
	}
}

// TestSyncNewlyMappedProperties: mapping keys of pages synced before fills
// each side's empty values from the other's.
func TestSyncNewlyMappedProperties(t *testing.T) {
	e := newPropsEnv(t, nil)
	writeFile(t, e.dir, "local.md", "---\ntitle: Local\nstatus: Draft\n---\n# Local\n")
	remoteID, err := e.fake.AddPage(e.db, "Remote", nil, mdnotion.ToBlocks([]byte("text\n")))
	must(t, err)
	must(t, e.fake.SetProperties(remoteID, map[string]notion.Property{"Status": {Type: "select",
		Select: &notion.SelectOption{Name: "Review"}}}))
	e.run(false)
	localID := e.pageOf("local.md")
	if e.shown(localID, "Status") != "" || e.front("remote.md", "status") != "" {
		t.Fatal("properties synced before they were mapped")
	}

	e.mapProperties(map[string]string{"status": "Status"})
	e.run(false)
	if got := e.shown(localID, "Status"); got != "Draft" {
		t.Errorf("Notion Status of local.md %q, want Draft", got)
	}
	if got := e.front("remote.md", "status"); got != "Review" {
		t.Errorf("remote.md status %q, want Review", got)
	}
	if e.front("local.md", "status") != "Draft" || e.shown(remoteID, "Status") != "Review" {
		t.Error("a value was overwritten by the other side's empty one")
	}
	e.checkStable()
}

// TestSyncNewlyMappedKeyTakesTheChangedSide: a key mapped when file and
// page hold different values takes the value of the side changed since the
// last sync, not of the later write: the sync's own pull (or a checkout)
// makes the file look newer.
func TestSyncNewlyMappedKeyTakesTheChangedSide(t *testing.T) {
	tests := []struct {
		name          string
		fileStatus    string        // "" leaves the file as the pull wrote it
		fileAt        time.Duration // the file's edit time, from now
		notionStatus  string        // "" leaves Notion's Review
		want          string
		wantConflicts int
	}{
		{"file as the sync wrote it: Notion's value", "", 0, "", "Review", 0},
		{"file edited since, long ago: the file's value", "Final", -2 * time.Hour, "", "Final", 0},
		{"both edited, the file later: the file's value", "Final", time.Minute, "Done", "Final", 1},
		{"both edited, Notion later: Notion's value", "Final", -2 * time.Hour, "Done", "Done", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPropsEnv(t, nil)
			writeFile(t, e.dir, "plan.md", "---\ntitle: Plan\nstatus: Draft\n---\n# Plan\n\nbody\n")
			e.touch("plan.md", time.Now().Add(-3*time.Hour))
			e.run(false)
			id := e.pageOf("plan.md")
			must(t, e.fake.SetProperties(id, map[string]notion.Property{"Status": {Type: "select",
				Select: &notion.SelectOption{Name: "Review"}}}))
			must(t, e.fake.EditPage(id, mdnotion.ToBlocks([]byte("# Plan\n\nbody edited in Notion\n"))))
			e.run(false) // pulls the body; status, not mapped, stays Draft in the file
			if tt.fileStatus != "" {
				writeFile(t, e.dir, "plan.md", strings.Replace(e.read("plan.md"), "status: Draft", "status: "+tt.fileStatus, 1))
				e.touch("plan.md", time.Now().Add(tt.fileAt))
			}
			if tt.notionStatus != "" {
				must(t, e.fake.SetProperties(id, map[string]notion.Property{"Status": {Type: "select",
					Select: &notion.SelectOption{Name: tt.notionStatus}}}))
			}

			e.mapProperties(map[string]string{"status": "Status"})
			rep := e.run(false)
			if rep.Conflicts != tt.wantConflicts {
				t.Errorf("report %+v, want %d conflicts", rep, tt.wantConflicts)
			}
			if tt.wantConflicts > 0 && !slices.ContainsFunc(rep.Actions, func(a string) bool {
				return strings.HasPrefix(a, "property conflict: plan.md status")
			}) {
				t.Errorf("the property conflict is not reported: %v", rep.Actions)
			}
			if e.shown(id, "Status") != tt.want || e.front("plan.md", "status") != tt.want {
				t.Errorf("Notion Status %q, file status %q, want %q", e.shown(id, "Status"), e.front("plan.md", "status"), tt.want)
			}
			e.checkStable()
		})
	}
}

func TestConfigValidateProperties(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		want  string // "" for valid
	}{
		{"valid", map[string]string{"status": "Status", "due_date": "Due", "owner-name": "Owner"}, ""},
		{"title key", map[string]string{"title": "Heading"}, "title is synced already"},
		{"tags key", map[string]string{"tags": "Labels"}, "tags is synced already"},
		{"notion_id key", map[string]string{"notion_id": "Id"}, "notion_id is synced already"},
		{"not a key", map[string]string{"due date": "Due"}, `"due date" is not a front-matter key`},
		{"leading digit", map[string]string{"1st": "First"}, `"1st" is not a front-matter key`},
		{"empty property", map[string]string{"status": " "}, "want the name of a Notion property"},
		{"title property", map[string]string{"heading": "Name"}, `"Name" is the title or tags property`},
		{"tags property", map[string]string{"labels": "Tags"}, `"Tags" is the title or tags property`},
		{"two keys, one property", map[string]string{"status": "Status", "state": "Status"},
			`state and status both map to Notion property "Status"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := knowledgesync.DefaultConfig()
			cfg.Knowledge.Properties = tt.props
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want %s", err, tt.want)
			}
		})
	}
}
