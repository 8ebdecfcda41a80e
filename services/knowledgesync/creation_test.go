package knowledgesync_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/fakenotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// guideBody is the body of a new file longer than Notion's create request
// carries (100 blocks): its page is created, then the rest appended.
var guideBody = func() string {
	var b strings.Builder
	b.WriteString("# Guide\n")
	for i := range 150 {
		fmt.Fprintf(&b, "\nStep %d.\n", i)
	}
	return b.String()
}()

// countingKV is the sync state, counting the values put and the keys
// deleted, and failing the first put that fail matches, once.
type countingKV struct {
	jetstream.KeyValue

	mu            sync.Mutex
	puts, deletes int
	fail          func(st map[string]any) bool
}

func (k *countingKV) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	k.mu.Lock()
	k.deletes++
	k.mu.Unlock()
	return k.KeyValue.Delete(ctx, key, opts...)
}

// Deletes returns how many keys were deleted.
func (k *countingKV) Deletes() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.deletes
}

func (k *countingKV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	k.mu.Lock()
	k.puts++
	var st map[string]any
	failing := k.fail != nil && json.Unmarshal(value, &st) == nil && k.fail(st)
	if failing {
		k.fail = nil
	}
	k.mu.Unlock()
	if failing {
		return 0, errors.New("state not saved")
	}
	return k.KeyValue.Put(ctx, key, value)
}

// Puts returns how many values were put.
func (k *countingKV) Puts() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.puts
}

// withCountingKV makes e's sync keep its state through a countingKV, and
// returns it.
func (e *env) withCountingKV() *countingKV {
	e.t.Helper()
	ctx := context.Background()
	kv, err := e.srv.JS.KeyValue(ctx, knowledgesync.StateBucket)
	must(e.t, err)
	pub, err := events.NewPublisher(e.srv.JS)
	must(e.t, err)
	client, err := notion.New(testToken, notion.WithBaseURL(e.fake.URL), notion.WithRateLimit(200, 20))
	must(e.t, err)
	counting := &countingKV{KeyValue: kv}
	e.sync = knowledgesync.NewNotionSync(knowledgesync.NewSyncer(e.dir, nil), e.db, client, counting, pub,
		knowledgesync.DefaultConfig().Knowledge, nil)
	return counting
}

// mdFiles returns the Markdown files of the folder, hidden folders left
// out, sorted.
func (e *env) mdFiles() []string {
	e.t.Helper()
	var out []string
	err := filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p != e.dir && strings.HasPrefix(d.Name(), "."):
			return fs.SkipDir
		case !d.IsDir() && strings.HasSuffix(p, ".md"):
			rel, _ := filepath.Rel(e.dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	must(e.t, err)
	slices.Sort(out)
	return out
}

// livePages returns the ids of the database's pages not archived, by
// title.
func (e *env) livePages() map[string][]string {
	out := map[string][]string{}
	for _, p := range e.fake.Pages(e.db) {
		out[p.Title()] = append(out[p.Title()], p.ID)
	}
	return out
}

// creationRecorded reports whether the sync state of page id records its
// creation for a file as under way.
func (e *env) creationRecorded(id string) bool {
	e.t.Helper()
	kv, err := e.srv.JS.KeyValue(context.Background(), knowledgesync.StateBucket)
	must(e.t, err)
	entry, err := kv.Get(context.Background(), hexID(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false
	}
	must(e.t, err)
	var st struct {
		Writing *struct {
			Unlinked string `json:"unlinked_hash"`
		} `json:"writing"`
	}
	must(e.t, json.Unmarshal(entry.Value(), &st))
	return st.Writing != nil && st.Writing.Unlinked != ""
}

// runFailing syncs once while one step fails, and fails the test unless
// the sync reports that one failure.
func (e *env) runFailing() knowledgesync.Report {
	e.t.Helper()
	rep, err := e.sync.Sync(context.Background(), false)
	if err != nil {
		e.t.Fatalf("Sync: %v", err)
	}
	if len(rep.Errors) != 1 {
		e.t.Fatalf("want one failure, got %v", rep.Errors)
	}
	if r := e.fake.Rejections(); len(r) > 0 {
		e.t.Fatalf("the sync broke Notion's limits: %v", r)
	}
	return rep
}

// bodyOf returns a file's body, without the blank lines the front matter
// leaves before it.
func (e *env) bodyOf(name string) string {
	e.t.Helper()
	doc, err := knowledgesync.ParseDocument(name, []byte(e.read(name)))
	must(e.t, err)
	return strings.TrimLeft(string(doc.Body), "\n")
}

// startGuide syncs other.md, so that the folder is never empty, then
// writes guide.md, new, and syncs it while fail makes a step of its
// page's creation fail. It returns the id of the page created, "" when
// none is left in the database.
func (e *env) startGuide(kv *countingKV, fail func(e *env, kv *countingKV)) string {
	e.t.Helper()
	writeFile(e.t, e.dir, "other.md", "# Other\n\nkept\n")
	e.run(false)
	writeFile(e.t, e.dir, "guide.md", guideBody)
	fail(e, kv)
	e.runFailing()
	ids := e.livePages()["Guide"]
	if len(ids) > 1 {
		e.t.Fatalf("%d pages for guide.md after the failed sync", len(ids))
	}
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// failedCreations are the steps of a page's creation for a new file that
// may fail, leaving the page in Notion and the file without its id.
var failedCreations = []struct {
	name string
	fail func(e *env, kv *countingKV)
	// blocks is how many blocks the page holds after the failure, -1 for
	// no page; linked says the file holds the page's id; unrecorded that
	// only the intent to create it was recorded, as when the process stops
	// as soon as Notion answered.
	blocks     int
	linked     bool
	unrecorded bool
	// actions are lines the next sync reports, dry run or not.
	actions []string
}{
	{"appending the content after the first 100 blocks", func(e *env, _ *countingKV) {
		e.fake.FailAfter(fakenotion.KindAppendChildren, 0, http.StatusInternalServerError)
	}, 100, false, false, []string{"link: guide.md → ", finishedAction}},
	{"appending the content, answered 503 (not sent again)", func(e *env, _ *countingKV) {
		e.fake.FailAfter(fakenotion.KindAppendChildren, 0, http.StatusServiceUnavailable)
	}, 100, false, false, []string{"link: guide.md → ", finishedAction}},
	{"reading the page to write its id into the file", func(e *env, _ *countingKV) {
		e.fake.FailAfter(fakenotion.KindRetrievePage, 0, http.StatusInternalServerError)
	}, 151, false, false, []string{"link: guide.md → "}},
	{"saving the state once the file holds the id", func(_ *env, kv *countingKV) {
		kv.fail = func(st map[string]any) bool {
			return st["path"] == "guide.md" && st["writing"] == nil && st["requested_at"] == nil
		}
	}, 151, true, false, nil},
	{"recording the creation", func(_ *env, kv *countingKV) {
		kv.fail = func(st map[string]any) bool { return st["path"] == "guide.md" && st["writing"] != nil }
	}, -1, false, false, []string{"new page: guide.md"}},
	{"recording the creation, then archiving the page", func(e *env, kv *countingKV) {
		kv.fail = func(st map[string]any) bool { return st["path"] == "guide.md" && st["writing"] != nil }
		e.fake.FailAfter(fakenotion.KindUpdatePage, 0, http.StatusInternalServerError)
	}, 100, false, true, []string{"found: guide.md → ", "link: guide.md → ", finishedAction}},
}

// TestSyncFinishesACreationThatStoppedHalfway: a page's creation for a
// new file that fails after Notion created the page leaves no duplicate:
// the next sync (a dry run only says what it would do) ends with one page
// for the file, holding exactly its content, the file holding the page's
// id and no other file in the folder. The sync after does nothing.
func TestSyncFinishesACreationThatStoppedHalfway(t *testing.T) {
	for _, tt := range failedCreations {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			kv := e.withCountingKV()
			id := e.startGuide(kv, tt.fail)
			switch doc, err := knowledgesync.ParseDocument("guide.md", []byte(e.read("guide.md"))); {
			case err != nil:
				t.Fatal(err)
			case tt.blocks < 0 && id != "":
				t.Fatalf("the page whose creation was not recorded is left in the database")
			case tt.blocks >= 0 && (len(e.fake.Content(id)) != tt.blocks || e.creationRecorded(id) == tt.unrecorded):
				t.Fatalf("after the failure the page holds %d blocks, want %d, its creation recorded: %v, want %v",
					len(e.fake.Content(id)), tt.blocks, e.creationRecorded(id), !tt.unrecorded)
			case (e.intents() == 1) != tt.unrecorded:
				t.Fatalf("after the failure %d creation intents are left", e.intents())
			case (doc.NotionID != "") != tt.linked:
				t.Fatalf("after the failure guide.md has notion_id %q", doc.NotionID)
			}

			before, file, writes := e.states(), e.read("guide.md"), e.fake.Writes()
			rep := e.run(true)
			for _, want := range tt.actions {
				if len(actionsWith(rep, want)) != 1 {
					t.Errorf("dry run report %v, want %q", rep.Actions, want)
				}
			}
			if e.fake.Writes() != writes || !maps.Equal(e.states(), before) || e.read("guide.md") != file {
				t.Errorf("a dry run wrote: %d writes to Notion", e.fake.Writes()-writes)
			}

			rep = e.run(false)
			for _, want := range tt.actions {
				if len(actionsWith(rep, want)) != 1 {
					t.Errorf("report %v, want %q", rep.Actions, want)
				}
			}
			if rep.ToLocal != 0 || rep.Conflicts != 0 || rep.Archived != 0 {
				t.Errorf("report %+v, want the creation finished and nothing else", rep)
			}
			e.checkGuide(guideBody)
			e.checkStable()
			if got := e.createdEvents("guide.md"); len(got) != 1 || hexID(got[0].NotionID) != hexID(e.pageOf("guide.md")) {
				t.Errorf("created events for guide.md: %+v, want one, for its page", got)
			}
		})
	}
}

// createdEvents returns the events that say a page was created for the
// file at path.
func (e *env) createdEvents(path string) []contracts.KnowledgePage {
	e.t.Helper()
	var out []contracts.KnowledgePage
	for _, kp := range e.events(events.SubjectKnowledgeSynced, contracts.TypeKnowledgePageSynced) {
		if kp.Path == path && kp.Action == contracts.ActionCreated && kp.Direction == contracts.DirectionToNotion {
			out = append(out, kp)
		}
	}
	return out
}

// checkGuide fails the test unless the database holds one page titled
// Guide besides other.md's, holding exactly body, and guide.md holds its
// id and body, and the folder holds only the two files.
func (e *env) checkGuide(body string) {
	e.t.Helper()
	ids := e.livePages()
	if len(ids["Guide"]) != 1 || len(ids["Other"]) != 1 || len(ids) != 2 {
		e.t.Fatalf("pages in the database by title: %v, want one Guide and one Other", ids)
	}
	id := ids["Guide"][0]
	if got := e.notionText(id); got != body {
		e.t.Errorf("Notion holds\n%s\nwant\n%s", got, body)
	}
	if got := e.pageOf("guide.md"); hexID(got) != hexID(id) {
		e.t.Errorf("guide.md names page %s, want %s", got, id)
	}
	if got := e.bodyOf("guide.md"); got != body {
		e.t.Errorf("guide.md holds\n%s\nwant\n%s", got, body)
	}
	if got := e.mdFiles(); !slices.Equal(got, []string{"guide.md", "other.md"}) {
		e.t.Errorf("the folder holds %v", got)
	}
	if e.creationRecorded(id) {
		e.t.Error("the state still records the creation as under way")
	}
	if n := e.intents(); n != 0 {
		e.t.Errorf("%d creation intents left in the state", n)
	}
}

// intents returns how many creation intents the sync state holds.
func (e *env) intents() int {
	e.t.Helper()
	n := 0
	for key := range e.states() {
		if strings.HasPrefix(key, "creating.") {
			n++
		}
	}
	return n
}

// TestSyncCreationStoppedHalfwayThenEdited: when the page was edited in
// Notion, or the file changed, after its creation stopped halfway, the
// file is linked to the page and the page is a conflict: no second page,
// no second file, the file keeps both versions between conflict markers
// and Notion holds the later edit.
func TestSyncCreationStoppedHalfwayThenEdited(t *testing.T) {
	tests := []struct {
		name string
		edit func(e *env, id string)
		// notion is what Notion holds after the conflict, given what it held
		// before; kept must be in the file besides its own lines.
		notion func(before string) string
		kept   string
	}{
		{"edited in Notion", func(e *env, id string) {
			e.touch("guide.md", time.Now().Add(-time.Hour))
			must(e.t, e.fake.EditPage(id, append(e.fake.Content(id), mdnotion.ToBlocks([]byte("Edited in Notion.\n"))...)))
		}, func(before string) string { return before }, "Edited in Notion."},
		{"file edited", func(e *env, _ string) {
			writeFile(e.t, e.dir, "guide.md", guideBody+"\nEdited in the file.\n")
			e.touch("guide.md", time.Now().Add(time.Minute))
		}, func(string) string { return guideBody + "\nEdited in the file.\n" }, "Edited in the file."},
	}
	for _, stop := range stoppedCreations() {
		for _, tt := range tests {
			t.Run(stop.name+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t)
				kv := e.withCountingKV()
				id := e.startGuide(kv, stop.fail)
				tt.edit(e, id)
				own := e.read("guide.md")
				before := e.notionText(id)

				rep := e.run(false)
				if rep.Conflicts != 1 || len(actionsWith(rep, "stopped halfway")) != 1 || len(actionsWith(rep, finishedAction)) != 0 {
					t.Fatalf("report %+v, want a conflict saying a write stopped halfway", rep)
				}
				ids := e.livePages()
				if len(ids["Guide"]) != 1 || len(ids) != 2 {
					t.Fatalf("pages in the database by title: %v, want one Guide and one Other", ids)
				}
				if got := e.mdFiles(); !slices.Equal(got, []string{"guide.md", "other.md"}) {
					t.Errorf("the folder holds %v", got)
				}
				if got := e.pageOf("guide.md"); hexID(got) != hexID(id) {
					t.Errorf("guide.md names page %s, want %s", got, id)
				}
				file := e.read("guide.md")
				if !strings.Contains(file, "<<<<<<< notion\n") || !strings.Contains(file, tt.kept) {
					t.Errorf("guide.md:\n%s\nwant both versions between markers, %q kept", file, tt.kept)
				}
				for line := range strings.Lines(own) {
					if !strings.Contains(file, line) {
						t.Errorf("guide.md lost the line %q of its version", line)
					}
				}
				if got := e.notionText(id); got != tt.notion(before) {
					t.Errorf("Notion holds\n%s\nwant the later edit\n%s", got, tt.notion(before))
				}
				if e.creationRecorded(id) {
					t.Error("the state still records the creation as under way")
				}
				writes := e.fake.Writes()
				if rep := e.run(false); rep.Unresolved != 1 || e.fake.Writes() != writes {
					t.Errorf("with markers in the file: %+v, %d writes", rep, e.fake.Writes()-writes)
				}
			})
		}
	}
}

// stoppedCreations are the failures of a page's creation that leave the
// page with part of its content and the file without its id: with the
// creation recorded, and with only the intent to create it recorded.
func stoppedCreations() []struct {
	name string
	fail func(e *env, kv *countingKV)
} {
	var out []struct {
		name string
		fail func(e *env, kv *countingKV)
	}
	for _, c := range failedCreations {
		if c.blocks == 100 { // the blocks the create request carries, and no more
			out = append(out, struct {
				name string
				fail func(e *env, kv *countingKV)
			}{c.name, c.fail})
		}
	}
	return out
}

// TestSyncCreationStoppedHalfwayFileGone: the file whose page's creation
// stopped halfway is deleted or moved before the next sync. The page,
// holding part of the file and nothing else, is the page of a deleted
// file: archived, never pulled as a file, and a moved file gets a page of
// its own. Edited in Notion meanwhile, it is a page changed while its file
// was deleted: the file is restored with the edit, nothing is deleted.
func TestSyncCreationStoppedHalfwayFileGone(t *testing.T) {
	tests := []struct {
		name   string
		gone   func(e *env, id string)
		report func(r knowledgesync.Report) bool
		// files are the folder's files after the sync; pages the database's
		// titles.
		files, pages []string
	}{
		{"deleted", func(e *env, _ string) {
			must(e.t, os.Remove(filepath.Join(e.dir, "guide.md")))
		}, func(r knowledgesync.Report) bool { return r.Archived == 1 && r.ToNotion == 0 && r.ToLocal == 0 },
			[]string{"other.md"}, []string{"Other"}},
		{"moved", func(e *env, _ string) {
			must(e.t, os.Rename(filepath.Join(e.dir, "guide.md"), filepath.Join(e.dir, "guides.md")))
		}, func(r knowledgesync.Report) bool { return r.Archived == 1 && r.ToNotion == 1 && r.ToLocal == 0 },
			[]string{"guides.md", "other.md"}, []string{"Guide", "Other"}},
		{"deleted, then edited in Notion", func(e *env, id string) {
			must(e.t, os.Remove(filepath.Join(e.dir, "guide.md")))
			must(e.t, e.fake.EditPage(id, append(e.fake.Content(id), mdnotion.ToBlocks([]byte("Edited in Notion.\n"))...)))
		}, func(r knowledgesync.Report) bool { return r.Archived == 0 && r.Conflicts == 1 && r.ToLocal == 1 },
			[]string{"guide.md", "other.md"}, []string{"Guide", "Other"}},
	}
	for _, stop := range stoppedCreations() {
		for _, tt := range tests {
			t.Run(stop.name+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t)
				kv := e.withCountingKV()
				id := e.startGuide(kv, stop.fail)
				tt.gone(e, id)
				if rep := e.run(false); !tt.report(rep) {
					t.Errorf("report %+v", rep)
				}
				if got := e.mdFiles(); !slices.Equal(got, tt.files) {
					t.Errorf("the folder holds %v, want %v", got, tt.files)
				}
				var titles []string
				for _, p := range e.fake.Pages(e.db) {
					titles = append(titles, p.Title())
				}
				slices.Sort(titles)
				if !slices.Equal(titles, tt.pages) {
					t.Errorf("the database holds %v, want %v", titles, tt.pages)
				}
				switch {
				case slices.Contains(tt.files, "guides.md") && e.notionText(e.pageOf("guides.md")) != guideBody:
					t.Errorf("the page of the moved file holds\n%s", e.notionText(e.pageOf("guides.md")))
				case slices.Contains(tt.files, "guide.md") && !strings.Contains(e.read("guide.md"), "Edited in Notion."):
					t.Errorf("guide.md restored without the edit:\n%s", e.read("guide.md"))
				}
				e.checkStable()
			})
		}
	}
}

// TestSyncCreatesPagesWithTheirRecords: a page created without a failure
// takes the same Notion requests as before its creation was recorded, and
// three writes of the sync state besides its state: the intent before the
// request, the record once Notion created the page, and the intent's
// removal.
func TestSyncCreatesPagesWithTheirRecords(t *testing.T) {
	e := newEnv(t)
	kv := e.withCountingKV()
	writeFile(t, e.dir, "guide.md", guideBody)
	writeFile(t, e.dir, "other.md", "# Other\n\nkept\n")
	rep := e.run(false)
	if rep.ToNotion != 2 || len(rep.Actions) != 2 {
		t.Fatalf("report %+v, want two pages created", rep)
	}
	want := map[string]int{fakenotion.KindQueryDatabase: 1, fakenotion.KindCreatePage: 2,
		fakenotion.KindAppendChildren: 1, fakenotion.KindRetrievePage: 2}
	for _, kind := range []string{fakenotion.KindRetrieveDatabase, fakenotion.KindQueryDatabase,
		fakenotion.KindRetrievePage, fakenotion.KindCreatePage, fakenotion.KindUpdatePage, fakenotion.KindListChildren,
		fakenotion.KindAppendChildren, fakenotion.KindDeleteBlock, fakenotion.KindRetrieveBotUser} {
		if got := e.fake.Count(kind); got != want[kind] {
			t.Errorf("%d %s requests, want %d", got, kind, want[kind])
		}
	}
	if puts, deletes := kv.Puts(), kv.Deletes(); puts != 2*3 || deletes != 2 {
		t.Errorf("%d state writes and %d removals for two pages created, want 6 and 2: the intent, the record and the state of each, its intent removed",
			puts, deletes)
	}
	if n := len(e.states()); n != 2 {
		t.Errorf("%d entries in the sync state, want the two pages'", n)
	}
	e.checkGuide(guideBody)
	e.checkStable()
}

// TestSyncCreationWithARefusedValueStoppedHalfway: a page created without
// its mapped values, one of which Notion refuses, whose content stops
// halfway, is not linked to its file with its content missing: the next
// sync gives the file the page's id and finishes the content, the refused
// value reported, the others written.
func TestSyncCreationWithARefusedValueStoppedHalfway(t *testing.T) {
	e := newPropsEnv(t, testProperties)
	e.mapProperties(testProperties, notion.WithTransport(refusing{property: "Owner"}))
	file := "---\nstatus: Draft\nowner: Ada\n---\n" + guideBody
	writeFile(t, e.dir, "guide.md", file)
	e.fake.FailAfter(fakenotion.KindAppendChildren, 0, http.StatusInternalServerError)
	rep, err := e.sync.Sync(context.Background(), false)
	must(t, err)
	pages := e.fake.Pages(e.db)
	if len(rep.Errors) != 1 || len(pages) != 1 || e.read("guide.md") != file {
		t.Fatalf("errors %v, %d pages, guide.md:\n%s\nwant the creation stopped, the file as it was",
			rep.Errors, len(pages), e.read("guide.md"))
	}
	id := pages[0].ID

	rep, err = e.sync.Sync(context.Background(), false)
	must(t, err)
	if len(rep.Errors) != 1 || !errors.Is(rep.Errors[0], knowledgesync.ErrPropertyValue) ||
		len(actionsWith(rep, finishedAction)) != 1 {
		t.Errorf("report %+v, want the write finished and Owner refused", rep)
	}
	if n := len(e.fake.Pages(e.db)); n != 1 {
		t.Errorf("%d pages in the database, want 1", n)
	}
	if got := e.pageOf("guide.md"); hexID(got) != hexID(id) {
		t.Errorf("guide.md names page %s, want %s", got, id)
	}
	if got := e.notionText(id); got != guideBody || e.shown(id, "Status") != "Draft" {
		t.Errorf("the page holds Status %q and\n%s\nwant Draft and the file's content", e.shown(id, "Status"), got)
	}
	if got := e.mdFiles(); !slices.Equal(got, []string{"guide.md"}) {
		t.Errorf("the folder holds %v", got)
	}
	if e.front("guide.md", "owner") != "Ada" || e.bodyOf("guide.md") != guideBody {
		t.Errorf("guide.md:\n%s\nwant its owner and body kept", e.read("guide.md"))
	}
}

// TestSyncSettlesACreationIntentWithoutItsPage: when the request to create
// a file's page failed before Notion made the page, the intent recorded
// before it finds no page at the next sync and is dropped, and the file
// gets one page. A page titled as the file that a person made in Notion
// meanwhile is not taken for it: it is pulled as a file of its own.
func TestSyncSettlesACreationIntentWithoutItsPage(t *testing.T) {
	tests := []struct {
		name string
		// status is Notion's answer to the create request; intent says the
		// intent is left after it (a 400 says no page was made).
		status int
		intent bool
		// meanwhile acts in Notion between the failed sync and the next.
		meanwhile func(e *env)
		// guides is how many pages titled Guide the database holds after
		// the next sync, files how many files the folder does.
		guides, files int
	}{
		{"500, nothing meanwhile", http.StatusInternalServerError, true, func(*env) {}, 1, 2},
		{"503, not tried again", http.StatusServiceUnavailable, true, func(*env) {}, 1, 2},
		{"400, the intent dropped at once", http.StatusBadRequest, false, func(*env) {}, 1, 2},
		{"500, a person made a page of the same title", http.StatusInternalServerError, true, func(e *env) {
			_, err := e.fake.AddPage(e.db, "Guide", nil, mdnotion.ToBlocks([]byte("Made by a person.\n")))
			must(e.t, err)
		}, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			kv := e.withCountingKV()
			id := e.startGuide(kv, func(e *env, _ *countingKV) {
				e.fake.FailAfter(fakenotion.KindCreatePage, 0, tt.status)
			})
			if id != "" || (e.intents() == 1) != tt.intent {
				t.Fatalf("after the failed request: page %q, %d intents, want no page, the intent left: %v", id, e.intents(), tt.intent)
			}
			tt.meanwhile(e)
			rep := e.run(false)
			if len(actionsWith(rep, "found: ")) != 0 || len(actionsWith(rep, "new page: guide.md")) != 1 {
				t.Errorf("report %v, want guide.md given a new page", rep.Actions)
			}
			if n := len(e.livePages()["Guide"]); n != tt.guides {
				t.Errorf("%d pages titled Guide, want %d", n, tt.guides)
			}
			if got := e.mdFiles(); len(got) != tt.files {
				t.Errorf("the folder holds %v, want %d files", got, tt.files)
			}
			page := e.pageOf("guide.md")
			if p, ok := e.fake.Page(page); !ok || hexID(p.CreatedBy.ID) != hexID(e.fake.BotUser().ID) {
				t.Errorf("guide.md names page %s, not one the sync created", page)
			}
			if got := e.notionText(page); got != guideBody {
				t.Errorf("guide.md's page holds\n%s", got)
			}
			if n := e.intents(); n != 0 {
				t.Errorf("%d creation intents left", n)
			}
			e.checkStable()
		})
	}
}

// archiveThenChange syncs other.md and guide.md, archives guide.md's page
// in Notion and gives the file the body changed, edited after it: the next
// sync gives it a new page. It returns the archived page's id.
func (e *env) archiveThenChange(changed string) string {
	e.t.Helper()
	writeFile(e.t, e.dir, "other.md", "# Other\n\nkept\n")
	writeFile(e.t, e.dir, "guide.md", guideBody)
	e.run(false)
	old := e.pageOf("guide.md")
	must(e.t, e.fake.ArchivePage(old))
	writeFile(e.t, e.dir, "guide.md", strings.Replace(e.read("guide.md"), guideBody, changed, 1))
	e.touch("guide.md", time.Now().Add(time.Minute))
	return old
}

// TestSyncFinishesARecreationThatStoppedHalfway: a file changed after its
// page was archived gets a new page; when that creation stops halfway, the
// file still naming the archived page, the next sync gives the file the
// new page's id and finishes its content: one page, no second file.
func TestSyncFinishesARecreationThatStoppedHalfway(t *testing.T) {
	changed := guideBody + "\nChanged after its page was archived.\n"
	for _, stop := range stoppedCreations() {
		t.Run(stop.name, func(t *testing.T) {
			e := newEnv(t)
			kv := e.withCountingKV()
			old := e.archiveThenChange(changed)
			stop.fail(e, kv)
			e.runFailing()

			rep := e.run(false)
			if len(actionsWith(rep, "link: guide.md → ")) != 1 {
				t.Errorf("report %v, want guide.md linked to its new page", rep.Actions)
			}
			ids := e.livePages()
			if len(ids["Guide"]) != 1 || len(ids) != 2 {
				t.Fatalf("pages in the database by title: %v, want one Guide and one Other", ids)
			}
			id := ids["Guide"][0]
			if hexID(id) == hexID(old) || hexID(e.pageOf("guide.md")) != hexID(id) {
				t.Errorf("guide.md names %s, want the new page %s (the archived one was %s)", e.pageOf("guide.md"), id, old)
			}
			if got := e.notionText(id); got != changed {
				t.Errorf("the new page holds\n%s\nwant\n%s", got, changed)
			}
			if got := e.mdFiles(); !slices.Equal(got, []string{"guide.md", "other.md"}) {
				t.Errorf("the folder holds %v", got)
			}
			if e.creationRecorded(id) || e.intents() != 0 {
				t.Error("the state still records the creation as under way")
			}
			e.checkStable()
		})
	}
}

// TestSyncRecreatesWhenTheNewPageWasNotMade: a file changed after its page
// was archived, whose new page Notion did not make (an error, or a refusal
// of the request), gets its new page at the next sync: it is never left
// naming the archived page.
func TestSyncRecreatesWhenTheNewPageWasNotMade(t *testing.T) {
	changed := guideBody + "\nChanged after its page was archived.\n"
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadRequest} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			e := newEnv(t)
			e.archiveThenChange(changed)
			e.fake.FailAfter(fakenotion.KindCreatePage, 0, status)
			e.runFailing()
			if ids := e.livePages(); len(ids["Guide"]) != 0 {
				t.Fatalf("pages titled Guide after the failed creation: %v", ids["Guide"])
			}

			rep := e.run(false)
			if len(rep.Errors) != 0 || len(actionsWith(rep, "new page: guide.md")) != 1 {
				t.Errorf("report %v, errors %v, want guide.md given a new page", rep.Actions, rep.Errors)
			}
			ids := e.livePages()
			if len(ids["Guide"]) != 1 {
				t.Fatalf("pages titled Guide: %v, want one", ids["Guide"])
			}
			if id := ids["Guide"][0]; hexID(e.pageOf("guide.md")) != hexID(id) || e.notionText(id) != changed {
				t.Errorf("guide.md names %s, want %s holding the changed file", e.pageOf("guide.md"), id)
			}
			if n := e.intents(); n != 0 {
				t.Errorf("%d creation intents left", n)
			}
			e.checkStable()
		})
	}
}
