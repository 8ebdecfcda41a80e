package knowledgesync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/fakenotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

const testToken = "secret_sync_test_token"

// env is one sync under test: a folder, a fake Notion with a database, an
// embedded JetStream for state and events.
type env struct {
	t    *testing.T
	dir  string
	db   string
	fake *fakenotion.Server
	srv  *eventstest.Server
	sync *knowledgesync.NotionSync
}

func newEnv(t *testing.T, fakeOpts ...fakenotion.Option) *env {
	t.Helper()
	srv := eventstest.RunServer(t)
	if len(fakeOpts) == 0 {
		fakeOpts = []fakenotion.Option{fakenotion.WithRateLimit(300, 50)}
	}
	fake := fakenotion.New(t.Cleanup, testToken, fakeOpts...)
	ctx := context.Background()
	kv, err := srv.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: knowledgesync.StateBucket})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := events.NewPublisher(srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	client, err := notion.New(testToken, notion.WithBaseURL(fake.URL), notion.WithRateLimit(200, 20))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := &env{t: t, dir: dir, db: fake.NewDatabase(), fake: fake, srv: srv}
	e.sync = knowledgesync.NewNotionSync(knowledgesync.NewSyncer(dir, nil), e.db, client, kv, pub,
		knowledgesync.DefaultConfig().Knowledge, nil)
	return e
}

// run syncs once and fails the test on any error.
func (e *env) run(dryRun bool) knowledgesync.Report {
	e.t.Helper()
	rep, err := e.sync.Sync(context.Background(), dryRun)
	if err != nil {
		e.t.Fatalf("Sync: %v", err)
	}
	if len(rep.Errors) > 0 {
		e.t.Fatalf("Sync errors: %v", rep.Errors)
	}
	if r := e.fake.Rejections(); len(r) > 0 {
		e.t.Fatalf("the sync broke Notion's limits: %v", r)
	}
	return rep
}

func (e *env) read(name string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, name))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// touch sets a file's modification time.
func (e *env) touch(name string, at time.Time) {
	e.t.Helper()
	if err := os.Chtimes(filepath.Join(e.dir, name), at, at); err != nil {
		e.t.Fatal(err)
	}
}

// pageOf returns the Notion id written into a file's front matter.
func (e *env) pageOf(name string) string {
	e.t.Helper()
	doc, err := knowledgesync.ParseDocument(name, []byte(e.read(name)))
	if err != nil {
		e.t.Fatal(err)
	}
	if doc.NotionID == "" {
		e.t.Fatalf("%s has no notion_id", name)
	}
	return doc.NotionID
}

// notionText returns a page's content as Markdown.
func (e *env) notionText(id string) string {
	return string(mdnotion.ToMarkdown(e.fake.Content(id)))
}

// events returns the data of the events on subject, each checked against
// its contract.
func (e *env) events(subject, typ string) []contracts.KnowledgePage {
	e.t.Helper()
	n := int(e.srv.Count(e.t, events.StreamKnowledge, subject))
	if n == 0 {
		return nil
	}
	var out []contracts.KnowledgePage
	for _, m := range e.srv.Await(e.t, events.StreamKnowledge, subject, n, 5*time.Second) {
		ev, err := events.Decode(m.Headers(), m.Data())
		if err != nil {
			e.t.Fatal(err)
		}
		if ev.Type() != typ || ev.Source() != knowledgesync.Source {
			e.t.Errorf("event type %s source %s", ev.Type(), ev.Source())
		}
		if err := contracts.Validate(typ, ev.Data()); err != nil {
			e.t.Errorf("event does not match its contract: %v", err)
		}
		var kp contracts.KnowledgePage
		if err := json.Unmarshal(ev.Data(), &kp); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, kp)
	}
	return out
}

func TestSyncThirtyFilesIntoAnEmptyDatabase(t *testing.T) {
	e := newEnv(t)
	var long strings.Builder
	long.WriteString("---\ntitle: Long read\ntags: [playbook, outbound]\nowner: ada\n---\n# Long read\n")
	for i := range 250 {
		fmt.Fprintf(&long, "\nParagraph %d with **bold**, _italic_, `code` and a [link](https://example.com/%d).\n", i, i)
	}
	writeFile(t, e.dir, "long.md", long.String())
	for i := range 29 {
		writeFile(t, e.dir, fmt.Sprintf("notes/page-%02d.md", i),
			fmt.Sprintf("# Page %d\n\n- item\n  - nested [ ] %d\n- [x] done\n\n> quote\n\n```go\nx := %d\n```\n", i, i, i))
	}

	rep := e.run(false)
	if rep.ToNotion != 30 {
		t.Fatalf("first sync wrote %d pages to Notion, want 30: %+v", rep.ToNotion, rep)
	}
	pages := e.fake.Pages(e.db)
	if len(pages) != 30 {
		t.Fatalf("database has %d pages, want 30", len(pages))
	}
	id := e.pageOf("long.md")
	if n := len(e.fake.Content(id)); n != 251 {
		t.Errorf("long page has %d blocks in Notion, want 251", n)
	}
	page, _ := e.fake.Page(id)
	if page.Title() != "Long read" || len(page.Properties["Tags"].MultiSelect) != 2 {
		t.Errorf("long page properties %+v", page.Properties)
	}
	if doc, _ := knowledgesync.ParseDocument("long.md", []byte(e.read("long.md"))); doc.Properties["owner"] != "ada" ||
		!strings.Contains(string(doc.Body), "Paragraph 249 with") {
		t.Errorf("long.md lost its properties or body after the notion_id was written back")
	}
	if got := len(e.events(events.SubjectKnowledgeSynced, contracts.TypeKnowledgePageSynced)); got != 30 {
		t.Errorf("%d synced events, want 30", got)
	}

	writes := e.fake.Writes()
	rep = e.run(false)
	if d := e.fake.Writes() - writes; d != 0 || rep.Unchanged != 30 {
		t.Errorf("second sync made %d write requests and left %d pages unchanged, want 0 and 30: %v", d, rep.Unchanged, rep.Actions)
	}
	if n := e.fake.Count(fakenotion.KindRateLimited); n != 0 {
		t.Logf("%d requests were rate limited and retried", n)
	}
}

func TestSyncPropagatesEditsBothWays(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.dir, "local.md", "# Local\n\nfirst version\n")
	remoteID, err := e.fake.AddPage(e.db, "Remote page", []string{"faq"}, mdnotion.ToBlocks([]byte("remote first\n")))
	if err != nil {
		t.Fatal(err)
	}
	e.run(false)
	if got := e.read("remote-page.md"); !strings.Contains(got, "remote first") || !strings.Contains(got, "- faq") {
		t.Fatalf("new Notion page not written to remote-page.md:\n%s", got)
	}
	localID := e.pageOf("local.md")

	// Edit the file of one page and the Notion page of the other.
	writeFile(t, e.dir, "local.md", strings.Replace(e.read("local.md"), "first version", "second version", 1))
	if err := e.fake.EditPage(remoteID, mdnotion.ToBlocks([]byte("remote second\n\n- with a list\n"))); err != nil {
		t.Fatal(err)
	}
	rep := e.run(false)
	if rep.ToNotion != 1 || rep.ToLocal != 1 || rep.Conflicts != 0 {
		t.Fatalf("report %+v", rep)
	}
	if got := e.notionText(localID); got != "# Local\n\nsecond version\n" {
		t.Errorf("Notion page of local.md:\n%s", got)
	}
	if got := e.read("remote-page.md"); !strings.HasSuffix(got, "\nremote second\n\n- with a list\n") {
		t.Errorf("remote-page.md:\n%s", got)
	}
	synced := e.events(events.SubjectKnowledgeSynced, contracts.TypeKnowledgePageSynced)
	var dirs []string
	for _, s := range synced {
		dirs = append(dirs, string(s.Direction)+" "+s.Path)
		if s.LocalHash == "" || s.RemoteHash == "" {
			t.Errorf("synced event without hashes: %+v", s)
		}
	}
	slices.Sort(dirs)
	if want := "to_local remote-page.md,to_local remote-page.md,to_notion local.md,to_notion local.md"; strings.Join(dirs, ",") != want {
		t.Errorf("synced events %v, want %s", dirs, want)
	}
	writes := e.fake.Writes()
	e.run(false)
	if d := e.fake.Writes() - writes; d != 0 {
		t.Errorf("a sync after the edits made %d writes", d)
	}
}

func TestSyncConflictKeepsBothVersions(t *testing.T) {
	for _, tt := range []struct {
		name       string
		localAt    time.Duration // file edited this long after the Notion edit
		resolution contracts.Resolution
	}{
		{"local edit is later", time.Minute, contracts.ResolutionLocalWins},
		{"notion edit is later", -time.Hour, contracts.ResolutionRemoteWins},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			writeFile(t, e.dir, "plan.md", "---\ntitle: Plan\n---\n# Plan\n\nshared intro\n\nthe middle\n\nshared end\n")
			e.run(false)
			id := e.pageOf("plan.md")

			if err := e.fake.EditPage(id, mdnotion.ToBlocks([]byte("# Plan\n\nshared intro\n\nnotion text\n\nshared end\n"))); err != nil {
				t.Fatal(err)
			}
			writeFile(t, e.dir, "plan.md", strings.Replace(e.read("plan.md"), "the middle", "local text", 1))
			e.touch("plan.md", time.Now().Add(tt.localAt))

			rep := e.run(false)
			if rep.Conflicts != 1 {
				t.Fatalf("report %+v, want one conflict", rep)
			}
			file := e.read("plan.md")
			want := "shared intro\n\n<<<<<<< notion\nnotion text\n=======\nlocal text\n>>>>>>> local\n\nshared end\n"
			if !strings.Contains(file, want) {
				t.Errorf("plan.md:\n%s\nwant both versions between markers:\n%s", file, want)
			}
			notionText := e.notionText(id)
			wantNotion := "notion text"
			if tt.resolution == contracts.ResolutionLocalWins {
				wantNotion = "local text"
			}
			if !strings.Contains(notionText, wantNotion) || strings.Contains(notionText, "<<<<<<<") {
				t.Errorf("Notion page after the conflict:\n%s\nwant the winner, %q", notionText, wantNotion)
			}
			conflicts := e.events(events.SubjectKnowledgeConflict, contracts.TypeKnowledgePageConflict)
			if len(conflicts) != 1 || conflicts[0].Resolution != tt.resolution || conflicts[0].Path != "plan.md" {
				t.Errorf("conflict events %+v", conflicts)
			}

			// Unresolved markers freeze the page; resolving them syncs it.
			writes := e.fake.Writes()
			if rep := e.run(false); rep.Unresolved != 1 || e.fake.Writes() != writes {
				t.Errorf("with markers in the file: %+v, %d writes", rep, e.fake.Writes()-writes)
			}
			writeFile(t, e.dir, "plan.md", strings.Replace(file, want, "shared intro\n\nmerged text\n\nshared end\n", 1))
			e.run(false)
			if got := e.notionText(id); !strings.Contains(got, "merged text") || strings.Contains(got, "notion text") {
				t.Errorf("resolved page in Notion:\n%s", got)
			}
		})
	}
}

func TestSyncDeletions(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"a.md", "b.md", "c.md", "d.md"} {
		writeFile(t, e.dir, name, "# "+name+"\n\ntext of "+name+"\n")
	}
	e.run(false)
	ids := map[string]string{}
	for _, name := range []string{"a.md", "b.md", "c.md", "d.md"} {
		ids[name] = e.pageOf(name)
	}
	// a: file deleted, page unchanged → page archived.
	must(t, os.Remove(filepath.Join(e.dir, "a.md")))
	// b: page archived, file unchanged → file deleted.
	must(t, e.fake.ArchivePage(ids["b.md"]))
	// c: file deleted, page changed → conflict, file restored.
	must(t, os.Remove(filepath.Join(e.dir, "c.md")))
	must(t, e.fake.EditPage(ids["c.md"], mdnotion.ToBlocks([]byte("changed in notion\n"))))
	// d: page archived, file changed → conflict, a new page.
	must(t, e.fake.ArchivePage(ids["d.md"]))
	writeFile(t, e.dir, "d.md", strings.Replace(e.read("d.md"), "text of", "changed text of", 1))

	rep := e.run(false)
	if rep.Archived != 1 || rep.Deleted != 1 || rep.Conflicts != 2 {
		t.Fatalf("report %+v", rep)
	}
	if p, _ := e.fake.Page(ids["a.md"]); !p.Archived {
		t.Error("page of the deleted a.md not archived")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "b.md")); !os.IsNotExist(err) {
		t.Errorf("b.md not deleted after its page was archived: %v", err)
	}
	if trash := e.trashed(); len(trash) != 1 || !strings.Contains(trash["b.md"], "text of b.md") {
		t.Errorf("trash holds %v, want b.md", trash)
	}
	if got := e.read("c.md"); !strings.Contains(got, "changed in notion") {
		t.Errorf("c.md not restored from its changed page:\n%s", got)
	}
	newD := e.pageOf("d.md")
	if newD == ids["d.md"] || !strings.Contains(e.notionText(newD), "changed text of d.md") {
		t.Errorf("d.md: page %s (was %s), content %q", newD, ids["d.md"], e.notionText(newD))
	}
	if n := len(e.events(events.SubjectKnowledgeConflict, contracts.TypeKnowledgePageConflict)); n != 2 {
		t.Errorf("%d conflict events, want 2", n)
	}
	writes := e.fake.Writes()
	e.run(false)
	if d := e.fake.Writes() - writes; d != 0 {
		t.Errorf("a sync after the deletions made %d writes", d)
	}
}

// TestSyncLeavesFilesThatAreNotUTF8Alone: a file in another encoding is
// reported with the offset of its first invalid byte, and it is neither
// pushed to Notion nor rewritten, even when its page changes.
func TestSyncLeavesFilesThatAreNotUTF8Alone(t *testing.T) {
	for _, tt := range []struct {
		name   string
		linked bool // cafe.md was synced as UTF-8, then saved as Latin-1 keeping its notion_id
	}{
		{"new file", false},
		{"linked file whose page changed", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			writeFile(t, e.dir, "other.md", "# Other\n\ntext\n")
			latin1 := "# Caf\xe9\n\nPr\xe9sentation\n"
			var id string
			if tt.linked {
				writeFile(t, e.dir, "cafe.md", "# Café\n\nPrésentation\n")
				e.run(false)
				id = e.pageOf("cafe.md")
				latin1 = "---\nnotion_id: " + id + "\n---\n" + latin1
				must(t, e.fake.EditPage(id, mdnotion.ToBlocks([]byte("# Café\n\nedited in Notion\n"))))
			}
			writeFile(t, e.dir, "cafe.md", latin1)

			want := fmt.Sprintf("cafe.md: not valid UTF-8: byte 0xe9 at offset %d", strings.IndexByte(latin1, 0xe9))
			for i := range 2 {
				rep := e.run(false)
				if len(rep.Problems) != 1 || !errors.Is(rep.Problems[0], knowledgesync.ErrNotUTF8) ||
					!strings.Contains(rep.Problems[0].Error(), want) {
					t.Errorf("sync %d reported %v, want one problem: %s", i+1, rep.Problems, want)
				}
			}
			if got := e.read("cafe.md"); got != latin1 {
				t.Errorf("cafe.md rewritten:\n%q\nwant its bytes unchanged:\n%q", got, latin1)
			}
			other := e.pageOf("other.md")
			for _, p := range e.fake.Pages(e.db) {
				if p.ID != other && p.ID != id {
					t.Errorf("page %s %q created for cafe.md", p.ID, p.Title())
				}
			}
			if tt.linked {
				page, _ := e.fake.Page(id)
				if got := e.notionText(id); page.Archived || page.Title() != "Café" || got != "# Café\n\nedited in Notion\n" {
					t.Errorf("page of cafe.md archived %v, title %q, text:\n%s\nwant it as edited in Notion",
						page.Archived, page.Title(), got)
				}
			}
		})
	}
}

// TestSyncFilesSharingANotionID: a file copied with its front matter keeps
// its original's notion_id. The file the last sync linked to the page keeps
// the page; each other file is reported, left as it is and kept out of the
// page, until its notion_id is removed and it becomes a page of its own.
func TestSyncFilesSharingANotionID(t *testing.T) {
	for _, tt := range []struct {
		name   string
		synced bool     // pricing.md was synced before the others appeared; else it was linked by hand
		moveTo string   // pricing.md is moved here after the sync
		others []string // files given pricing.md's notion_id and a title and text of their own
		keeper string
	}{
		{"copy sorts before the linked file", true, "", []string{"pricing-v2.md"}, "pricing.md"},
		{"copy sorts after the linked file", true, "", []string{"v2/pricing.md"}, "pricing.md"},
		{"two copies", true, "", []string{"a.md", "z.md"}, "pricing.md"},
		{"linked file moved", true, "z/pricing.md", []string{"pricing-v2.md"}, "z/pricing.md"},
		{"never synced: the first path keeps the page", false, "", []string{"a.md", "z.md"}, "a.md"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.linkPricing(tt.synced)
			original := "pricing.md"
			if tt.moveTo != "" {
				writeFile(t, e.dir, tt.moveTo, e.read(original))
				must(t, os.Remove(filepath.Join(e.dir, original)))
				original = tt.moveTo
			}
			files := map[string]string{original: e.read(original)}
			for _, name := range tt.others {
				files[name] = "---\ntitle: Copy " + name + "\nnotion_id: " + id + "\n---\ntext of " + name + "\n"
				writeFile(t, e.dir, name, files[name])
			}
			var shared []string
			for _, name := range slices.Sorted(maps.Keys(files)) {
				if name != tt.keeper {
					shared = append(shared, name)
				}
			}

			writes := e.fake.Writes()
			for range 2 {
				checkShared(t, e.run(false).Problems, shared, tt.keeper)
			}
			if tt.synced && e.fake.Writes() != writes {
				t.Errorf("%d writes to Notion, want none", e.fake.Writes()-writes)
			}
			page, _ := e.fake.Page(id)
			text := e.notionText(id)
			for _, name := range shared {
				if got := e.read(name); got != files[name] {
					t.Errorf("%s rewritten:\n%s", name, got)
				}
				if strings.Contains(text, "text of "+name) || page.Title() == "Copy "+name {
					t.Errorf("page %q took the content of %s:\n%s", page.Title(), name, text)
				}
			}
			if tt.synced && (page.Title() != "Pricing" || text != "# Pricing\n\ntext of pricing.md\n") {
				t.Errorf("page %q changed:\n%s", page.Title(), text)
			}

			// Removing notion_id from the others makes each a page of its own.
			for _, name := range shared {
				writeFile(t, e.dir, name, strings.Replace(files[name], "notion_id: "+id+"\n", "", 1))
			}
			if rep := e.run(false); len(rep.Problems) != 0 {
				t.Errorf("problems once the notion_ids were removed: %v", rep.Problems)
			}
			ids := map[string]bool{id: true}
			for _, name := range shared {
				newID := e.pageOf(name)
				if ids[newID] || !strings.Contains(e.notionText(newID), "text of "+name) {
					t.Errorf("%s linked to page %s with text %q, want a new page with its text", name, newID, e.notionText(newID))
				}
				ids[newID] = true
			}
			if got := e.notionText(id); got != text {
				t.Errorf("page changed once the others became pages of their own:\n%s\nwant\n%s", got, text)
			}
		})
	}
}

// linkPricing writes pricing.md linked to a page and returns the page's id:
// the sync linked it when synced, else the page was made in Notion and its
// id written into the file by hand.
func (e *env) linkPricing(synced bool) string {
	e.t.Helper()
	if synced {
		writeFile(e.t, e.dir, "pricing.md", "# Pricing\n\ntext of pricing.md\n")
		e.run(false)
		return e.pageOf("pricing.md")
	}
	id, err := e.fake.AddPage(e.db, "Pricing", nil, mdnotion.ToBlocks([]byte("# Pricing\n\ntext in Notion\n")))
	must(e.t, err)
	writeFile(e.t, e.dir, "pricing.md", "---\nnotion_id: "+id+"\n---\n# Pricing\n\ntext of pricing.md\n")
	return id
}

// checkShared checks that problems report each of the files shared, and
// nothing else, naming the file that keeps the page.
func checkShared(t *testing.T, problems []error, shared []string, keeper string) {
	t.Helper()
	if len(problems) != len(shared) {
		t.Fatalf("problems %v, want one for each of %v", problems, shared)
	}
	for i, name := range shared {
		err := problems[i]
		if !errors.Is(err, knowledgesync.ErrSharedNotionID) || !strings.HasPrefix(err.Error(), name+": ") ||
			!strings.Contains(err.Error(), "linked to "+keeper+";") || !strings.Contains(err.Error(), "remove notion_id from "+name) {
			t.Errorf("problem %q, want %s reported as sharing the page %s keeps", err, name, keeper)
		}
	}
}

func TestSyncDryRunChangesNothing(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.dir, "new.md", "# New\n")
	if _, err := e.fake.AddPage(e.db, "From Notion", nil, nil); err != nil {
		t.Fatal(err)
	}
	rep := e.run(true)
	if !rep.DryRun || rep.ToNotion != 1 || rep.ToLocal != 1 || len(rep.Actions) != 2 {
		t.Fatalf("dry run report %+v", rep)
	}
	if e.fake.Writes() != 0 || len(e.fake.Pages(e.db)) != 1 {
		t.Errorf("a dry run wrote to Notion")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "from-notion.md")); !os.IsNotExist(err) {
		t.Error("a dry run wrote a file")
	}
	if strings.Contains(e.read("new.md"), "notion_id") {
		t.Error("a dry run linked a file")
	}
}

// TestSyncRideOutRateLimits: a burst of 429s slows the sync, and the sync
// still completes with nothing lost.
func TestSyncRidesOutRateLimits(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		writeFile(t, e.dir, fmt.Sprintf("p%d.md", i), fmt.Sprintf("# P%d\n\ntext\n", i))
	}
	e.fake.FailNext(4, 429, time.Second)
	start := time.Now()
	rep := e.run(false)
	if rep.ToNotion != 5 || len(e.fake.Pages(e.db)) != 5 {
		t.Fatalf("report %+v, %d pages", rep, len(e.fake.Pages(e.db)))
	}
	if d := time.Since(start); d < 4*time.Second {
		t.Errorf("sync took %s: the 429s' Retry-After was not honoured", d)
	}
	if e.fake.Count(fakenotion.KindInjected) != 4 {
		t.Errorf("%d 429s answered", e.fake.Count(fakenotion.KindInjected))
	}
}

// TestSyncAtNotionsRate syncs a few pages at Notion's real 3 requests a
// second, with the client at its default pace: nothing is rate limited.
func TestSyncAtNotionsRate(t *testing.T) {
	srv := eventstest.RunServer(t)
	fake := fakenotion.New(t.Cleanup, testToken, fakenotion.WithRateLimit(fakenotion.DefaultRate, fakenotion.DefaultBurst))
	kv, err := srv.JS.CreateOrUpdateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: knowledgesync.StateBucket})
	must(t, err)
	client, err := notion.New(testToken, notion.WithBaseURL(fake.URL),
		notion.WithRateLimit(rate.Limit(knowledgesync.DefaultRequestsPerSec), knowledgesync.DefaultBurst))
	must(t, err)
	dir := t.TempDir()
	db := fake.NewDatabase()
	s := knowledgesync.NewNotionSync(knowledgesync.NewSyncer(dir, nil), db, client, kv, nil,
		knowledgesync.DefaultConfig().Knowledge, nil)
	for i := range 3 {
		writeFile(t, dir, fmt.Sprintf("p%d.md", i), fmt.Sprintf("# P%d\n", i))
	}
	for range 2 {
		rep, err := s.Sync(context.Background(), false)
		if err != nil || len(rep.Errors) > 0 {
			t.Fatalf("sync: %v %v", err, rep.Errors)
		}
	}
	if n := fake.Count(fakenotion.KindRateLimited); n != 0 {
		t.Errorf("%d requests rate limited at 3/s", n)
	}
	if len(fake.Pages(db)) != 3 {
		t.Errorf("%d pages", len(fake.Pages(db)))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSyncReadsOnlyPagesThatMayHaveChanged: once a page's last edit is a
// whole minute (Notion's granularity) older than the last sync, an unchanged
// edit time means unchanged content, and the content is not read again.
func TestSyncReadsOnlyPagesThatMayHaveChanged(t *testing.T) {
	e := newEnv(t, fakenotion.WithRateLimit(300, 50),
		fakenotion.WithClock(func() time.Time { return time.Now().Add(-2 * time.Minute) }))
	writeFile(t, e.dir, "a.md", "# A\n\ntext\n")
	writeFile(t, e.dir, "b.md", "# B\n\ntext\n")
	e.run(false)
	e.run(false)
	reads := e.fake.Count(fakenotion.KindListChildren)
	e.run(false)
	if d := e.fake.Count(fakenotion.KindListChildren) - reads; d != 0 {
		t.Errorf("a sync of unchanged pages read content %d times", d)
	}
	must(t, e.fake.EditPage(e.pageOf("b.md"), mdnotion.ToBlocks([]byte("# B\n\nnew text\n"))))
	e.run(false)
	if d := e.fake.Count(fakenotion.KindListChildren) - reads; d != 1 {
		t.Errorf("read content %d times after one page was edited, want 1", d)
	}
	if !strings.Contains(e.read("b.md"), "new text") {
		t.Error("the edit was not pulled")
	}
}

func TestSyncSameEditOnBothSidesIsNoConflict(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.dir, "same.md", "# Same\n\nold\n")
	e.run(false)
	id := e.pageOf("same.md")
	must(t, e.fake.EditPage(id, mdnotion.ToBlocks([]byte("# Same\n\nnew\n"))))
	writeFile(t, e.dir, "same.md", strings.Replace(e.read("same.md"), "old", "new", 1))
	writes := e.fake.Writes()
	if rep := e.run(false); rep.Conflicts != 0 || rep.Unchanged != 1 || e.fake.Writes() != writes {
		t.Errorf("report %+v after the same edit on both sides", rep)
	}
}

// TestSyncWritesOnlyTheChangedBlocks: editing one paragraph of a long page
// replaces that block only.
func TestSyncWritesOnlyTheChangedBlocks(t *testing.T) {
	e := newEnv(t)
	var md strings.Builder
	md.WriteString("# Long\n")
	for i := range 150 {
		fmt.Fprintf(&md, "\nparagraph %d\n", i)
	}
	writeFile(t, e.dir, "long.md", md.String())
	e.run(false)
	id := e.pageOf("long.md")

	writeFile(t, e.dir, "long.md", strings.Replace(e.read("long.md"), "paragraph 120\n", "paragraph 120, edited\n", 1))
	appends, deletes := e.fake.Count(fakenotion.KindAppendChildren), e.fake.Count(fakenotion.KindDeleteBlock)
	e.run(false)
	if a, d := e.fake.Count(fakenotion.KindAppendChildren)-appends, e.fake.Count(fakenotion.KindDeleteBlock)-deletes; a != 1 || d != 1 {
		t.Errorf("one edited paragraph took %d appends and %d deletes, want 1 and 1", a, d)
	}
	content := e.fake.Content(id)
	if len(content) != 151 || notion.PlainText(content[121].Content.RichText) != "paragraph 120, edited" {
		t.Errorf("page has %d blocks, block 121 %q", len(content), notion.PlainText(content[121].Content.RichText))
	}
}

// TestSyncTablesAndImages: a file with a long table and images goes to
// Notion as a table with its rows and an image block within Notion's
// limits, reads back unchanged, and tables edited on either side travel.
func TestSyncTablesAndImages(t *testing.T) {
	e := newEnv(t)
	var body strings.Builder
	body.WriteString("# Pricing\n\n| Plan | Seats | Notes |\n| --- | --- | --- |\n")
	for i := range 120 {
		fmt.Fprintf(&body, "| p%d | %d | `a\\|b` **x** |\n", i, i)
	}
	body.WriteString("\n![Logo](https://example.com/logo.png)\n\n![local](img/local.png)\n")
	writeFile(t, e.dir, "pricing.md", body.String())
	e.run(false)
	id := e.pageOf("pricing.md")
	content := e.fake.Content(id)
	var types []string
	for _, b := range content {
		types = append(types, b.Type)
	}
	if strings.Join(types, " ") != "heading_1 table image paragraph" || len(content[1].Children) != 121 {
		t.Fatalf("page content %v, table of %d rows", types, len(content[1].Children))
	}
	// A relative image can be neither uploaded nor linked: its text stays.
	if got, want := e.notionText(id), strings.Replace(body.String(), "![local](img/local.png)", "local", 1); got != want {
		t.Errorf("Notion page reads as\n%s\nwant\n%s", got, want)
	}
	writes := e.fake.Writes()
	e.run(false)
	if d := e.fake.Writes() - writes; d != 0 {
		t.Errorf("a sync of the unchanged page made %d writes", d)
	}

	writeFile(t, e.dir, "pricing.md", strings.Replace(e.read("pricing.md"), "| p7 | 7 |", "| p7 | 70 |", 1))
	deletes := e.fake.Count(fakenotion.KindDeleteBlock)
	e.run(false)
	if d := e.fake.Count(fakenotion.KindDeleteBlock) - deletes; d != 1 {
		t.Errorf("an edited cell deleted %d blocks, want the table only", d)
	}
	if got := e.notionText(id); !strings.Contains(got, "| p7 | 70 |") || strings.Count(got, "\n| p") != 120 {
		t.Errorf("Notion page after a local edit:\n%s", got)
	}

	must(t, e.fake.EditPage(id, mdnotion.ToBlocks([]byte("# Pricing\n\n| Plan | Seats |\n| --- | --- |\n| Team | 5 |\n"))))
	e.run(false)
	if got := e.read("pricing.md"); !strings.HasSuffix(got, "\n# Pricing\n\n| Plan | Seats |\n| --- | --- |\n| Team | 5 |\n") {
		t.Errorf("pricing.md after an edit in Notion:\n%s", got)
	}
}
