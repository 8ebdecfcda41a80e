package knowledgesync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/services/knowledgesync"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// syncWith returns a sync of e's folder and state with the database db,
// its client sending through rt when it is not nil.
func (e *env) syncWith(db string, rt http.RoundTripper) *knowledgesync.NotionSync {
	e.t.Helper()
	kv, err := e.srv.JS.KeyValue(context.Background(), knowledgesync.StateBucket)
	must(e.t, err)
	opts := []notion.Option{notion.WithBaseURL(e.fake.URL), notion.WithRateLimit(200, 20)}
	if rt != nil {
		opts = append(opts, notion.WithTransport(rt))
	}
	client, err := notion.New(testToken, opts...)
	must(e.t, err)
	return knowledgesync.NewNotionSync(knowledgesync.NewSyncer(e.dir, nil), db, client, kv, nil,
		knowledgesync.DefaultConfig().Knowledge, nil)
}

// writePages writes n files and syncs them, and returns their names.
func (e *env) writePages(n int) []string {
	e.t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("p%02d.md", i)
		writeFile(e.t, e.dir, names[i], fmt.Sprintf("# P%d\n\nimportant text %d\n", i, i))
	}
	e.run(false)
	return names
}

// exists reports whether the file name is in the folder.
func (e *env) exists(name string) bool {
	_, err := os.Stat(filepath.Join(e.dir, filepath.FromSlash(name)))
	return err == nil
}

// trashed returns the files in the trash, by their path in the folder.
func (e *env) trashed() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	root := filepath.Join(e.dir, knowledgesync.TrashDir)
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.SplitN(filepath.ToSlash(rel), "/", 2) // stamp/path
		b, _ := os.ReadFile(p)
		out[parts[1]] = string(b)
		return nil
	})
	return out
}

// forgetDatabases rewrites every state as it was written before states
// named their database.
func (e *env) forgetDatabases() {
	e.t.Helper()
	ctx := context.Background()
	kv, err := e.srv.JS.KeyValue(ctx, knowledgesync.StateBucket)
	must(e.t, err)
	keys, err := kv.Keys(ctx)
	must(e.t, err)
	for _, k := range keys {
		entry, err := kv.Get(ctx, k)
		must(e.t, err)
		var st map[string]any
		must(e.t, json.Unmarshal(entry.Value(), &st))
		if _, ok := st["database_id"]; !ok {
			e.t.Fatalf("state %s names no database", k)
		}
		delete(st, "database_id")
		b, _ := json.Marshal(st)
		_, err = kv.Put(ctx, k, b)
		must(e.t, err)
	}
}

// TestSyncWithAnotherDatabaseDeletesNothing: the state of a sync with one
// database is no evidence about another, with states that name their
// database and with those written before they did.
func TestSyncWithAnotherDatabaseDeletesNothing(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("states from before they named a database %v", legacy), func(t *testing.T) {
			e := newEnv(t)
			names := e.writePages(5)
			files := map[string]string{}
			for _, n := range names {
				files[n] = e.read(n)
			}
			if legacy {
				e.forgetDatabases()
			}
			other := e.fake.NewDatabase()
			rep, err := e.syncWith(other, nil).Sync(context.Background(), false)
			if err != nil || len(rep.Errors) != 0 {
				t.Fatalf("sync with another database: %v %v", err, rep.Errors)
			}
			if rep.Deleted != 0 || rep.Held != 0 || len(e.trashed()) != 0 {
				t.Errorf("sync with another database deleted %d files, held %d: %v", rep.Deleted, rep.Held, rep.Actions)
			}
			for _, n := range names {
				if got := e.read(n); got != files[n] {
					t.Errorf("%s changed:\n%s", n, got)
				}
			}
			if len(rep.Problems) != 5 {
				t.Errorf("problems %v, want each file reported", rep.Problems)
			}
			for _, p := range rep.Problems {
				if !errors.Is(p, knowledgesync.ErrNotInDatabase) {
					t.Errorf("problem %v, want %v", p, knowledgesync.ErrNotInDatabase)
				}
			}
			if n := len(e.fake.Pages(other)); n != 0 {
				t.Errorf("other database got %d pages", n)
			}

			// Back to the first database, nothing changed.
			writes := e.fake.Writes()
			if rep := e.run(false); rep.Unchanged != 5 || e.fake.Writes() != writes {
				t.Errorf("back with the first database: %+v, %d writes", rep, e.fake.Writes()-writes)
			}
		})
	}
}

// hidingTransport leaves pages out of the database's query results, as an
// incomplete listing would.
type hidingTransport struct {
	mu     sync.Mutex
	hidden map[string]bool // normalized page ids
}

func (h *hidingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !strings.HasSuffix(r.URL.Path, "/query") || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var list notion.List[notion.Page]
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	h.mu.Lock()
	kept := list.Results[:0]
	for _, p := range list.Results {
		if !h.hidden[strings.ReplaceAll(p.ID, "-", "")] {
			kept = append(kept, p)
		}
	}
	h.mu.Unlock()
	list.Results = kept
	body, _ = json.Marshal(list)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// TestSyncDeletesOnlyWhatNotionSaysIsGone: a page missing from the query is
// asked about; its file goes to the trash only when Notion says the page
// is archived or gone for good, and a live page is synced.
func TestSyncDeletesOnlyWhatNotionSaysIsGone(t *testing.T) {
	e := newEnv(t)
	names := e.writePages(4)
	ids := map[string]string{}
	for _, n := range names {
		ids[n] = strings.ReplaceAll(e.pageOf(n), "-", "")
	}
	hide := &hidingTransport{hidden: map[string]bool{}}
	s := e.syncWith(e.db, hide)

	// p00: missing from the query, live in Notion, edited locally → pushed.
	hide.hidden[ids["p00.md"]] = true
	writeFile(t, e.dir, "p00.md", strings.Replace(e.read("p00.md"), "important text", "edited text", 1))
	// p01: missing from the query, live, unchanged → kept.
	hide.hidden[ids["p01.md"]] = true
	// p02: archived → trash.
	must(t, e.fake.ArchivePage(ids["p02.md"]))
	// p03: archived and purged from Notion's trash (404) → trash.
	must(t, e.fake.ArchivePage(ids["p03.md"]))
	must(t, e.fake.Purge(ids["p03.md"]))
	p02, p03 := e.read("p02.md"), e.read("p03.md")

	rep, err := s.Sync(context.Background(), false)
	if err != nil || len(rep.Errors) != 0 {
		t.Fatalf("sync: %v %v", err, rep.Errors)
	}
	if rep.Deleted != 2 || rep.ToNotion != 1 || rep.Unchanged != 1 {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(e.notionText(ids["p00.md"]), "edited text") {
		t.Errorf("p00.md's edit not in Notion: %q", e.notionText(ids["p00.md"]))
	}
	if !e.exists("p01.md") || e.exists("p02.md") || e.exists("p03.md") {
		t.Errorf("files left: p01 %v p02 %v p03 %v, want only p01", e.exists("p01.md"), e.exists("p02.md"), e.exists("p03.md"))
	}
	if got := e.trashed(); len(got) != 2 || got["p02.md"] != p02 || got["p03.md"] != p03 {
		t.Errorf("trash holds %v, want p02.md and p03.md as they were", got)
	}

	// The trash is not synced.
	writes := e.fake.Writes()
	if rep := e.run(false); rep.Unchanged != 2 || len(rep.Problems) != 0 || e.fake.Writes() != writes {
		t.Errorf("sync after the deletions: %+v, %d writes", rep, e.fake.Writes()-writes)
	}
}

// TestSyncHoldsMassDeletions: a sync that would delete more than a handful
// of files and more than a tenth of the folder deletes none, until told to.
func TestSyncHoldsMassDeletions(t *testing.T) {
	for _, tt := range []struct {
		files, archived int
		held            bool
	}{
		{files: 20, archived: 5, held: false}, // a handful
		{files: 20, archived: 6, held: true},  // more than a handful and a tenth
		{files: 60, archived: 6, held: false}, // a tenth
		{files: 6, archived: 6, held: true},   // everything
		{files: 4, archived: 4, held: false},  // a handful, though everything
	} {
		t.Run(fmt.Sprintf("%d of %d", tt.archived, tt.files), func(t *testing.T) {
			e := newEnv(t)
			names := e.writePages(tt.files)
			for _, n := range names[:tt.archived] {
				must(t, e.fake.ArchivePage(e.pageOf(n)))
			}
			rep := e.run(false)
			wantDeleted, wantHeld := tt.archived, 0
			if tt.held {
				wantDeleted, wantHeld = 0, tt.archived
			}
			if rep.Deleted != wantDeleted || rep.Held != wantHeld {
				t.Fatalf("deleted %d, held %d; want %d, %d", rep.Deleted, rep.Held, wantDeleted, wantHeld)
			}
			if got := len(e.trashed()); got != wantDeleted {
				t.Errorf("%d files in the trash, want %d", got, wantDeleted)
			}
			if !tt.held {
				return
			}
			if !e.exists(names[0]) {
				t.Errorf("%s deleted though the deletions were held", names[0])
			}
			// A sync command that allows them deletes them.
			data, _ := json.Marshal(knowledgesync.SyncRequest{AllowMassDeletion: true})
			ev := event.New()
			ev.SetID("allow-mass-deletion")
			ev.SetSource("/test")
			ev.SetType(knowledgesync.TypeSyncRequested)
			must(t, ev.SetData(event.ApplicationJSON, data))
			must(t, e.sync.HandleCommand(context.Background(), ev))
			if got := len(e.trashed()); got != tt.archived || e.exists(names[0]) {
				t.Errorf("allowed: %d files in the trash, want %d", got, tt.archived)
			}
		})
	}
}

// TestSyncKeepsAFileWithConflictMarkersWhosePageWasArchived: a file
// holding the only copy of an edit between conflict markers is kept when
// its page is archived, and reported as a conflict; once resolved it gets
// a new page.
func TestSyncKeepsAFileWithConflictMarkersWhosePageWasArchived(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.dir, "plan.md", "---\ntitle: Plan\n---\n# Plan\n\nshared intro\n\nthe middle\n\nshared end\n")
	e.run(false)
	id := e.pageOf("plan.md")
	must(t, e.fake.EditPage(id, mdnotion.ToBlocks([]byte("# Plan\n\nshared intro\n\nnotion text\n\nshared end\n"))))
	writeFile(t, e.dir, "plan.md", strings.Replace(e.read("plan.md"), "the middle", "LOCAL ONLY EDIT", 1))
	e.touch("plan.md", time.Now().Add(-time.Hour)) // Notion's edit wins: the local one is only in the file
	if rep := e.run(false); rep.Conflicts != 1 || strings.Contains(e.notionText(id), "LOCAL ONLY EDIT") {
		t.Fatalf("conflict: %+v", rep)
	}
	withMarkers := e.read("plan.md")

	must(t, e.fake.ArchivePage(id))
	for i := range 2 {
		rep := e.run(false)
		if rep.Deleted != 0 || rep.Conflicts != 1 || e.read("plan.md") != withMarkers || len(e.trashed()) != 0 {
			t.Fatalf("sync %d after the archive: %+v; plan.md:\n%s", i+1, rep, e.read("plan.md"))
		}
	}
	var manual int
	for _, c := range e.events(events.SubjectKnowledgeConflict, contracts.TypeKnowledgePageConflict) {
		if c.Resolution == contracts.ResolutionManual && c.Path == "plan.md" && c.Direction == contracts.DirectionNone {
			manual++
		}
	}
	if manual != 1 {
		t.Errorf("%d manual conflict events for plan.md, want 1", manual)
	}

	// Resolved, the file gets a new page.
	resolved := strings.NewReplacer("<<<<<<< notion\n", "", "=======\n", "", ">>>>>>> local\n", "").Replace(withMarkers)
	writeFile(t, e.dir, "plan.md", resolved)
	e.run(false)
	if newID := e.pageOf("plan.md"); newID == id || !strings.Contains(e.notionText(newID), "LOCAL ONLY EDIT") {
		t.Errorf("resolved plan.md: page %s (was %s): %q", newID, id, e.notionText(newID))
	}
}

// TestSyncHoldsMassArchiving: files missing from the folder archive their
// pages only a few at a time; a folder emptied at once (a volume not
// mounted) archives none of the database's pages until a sync allows it.
func TestSyncHoldsMassArchiving(t *testing.T) {
	for _, tt := range []struct {
		files, removed int
		held           bool
	}{
		{files: 20, removed: 5, held: false}, // a handful
		{files: 20, removed: 6, held: true},  // more than a handful and a tenth
		{files: 60, removed: 6, held: false}, // a tenth
		{files: 8, removed: 8, held: true},   // the whole folder
		{files: 3, removed: 3, held: true},   // an empty folder, though a handful
		{files: 3, removed: 2, held: false},  // a handful, the folder not empty
	} {
		t.Run(fmt.Sprintf("%d of %d", tt.removed, tt.files), func(t *testing.T) {
			e := newEnv(t)
			names := e.writePages(tt.files)
			ids := make([]string, tt.removed)
			for i, n := range names[:tt.removed] {
				ids[i] = e.pageOf(n)
				must(t, os.Remove(filepath.Join(e.dir, n)))
			}
			archived := func() int {
				n := 0
				for _, id := range ids {
					if p, ok := e.fake.Page(id); ok && (p.Archived || p.InTrash) {
						n++
					}
				}
				return n
			}
			rep := e.run(false)
			wantArchived, wantHeld := tt.removed, 0
			if tt.held {
				wantArchived, wantHeld = 0, tt.removed
			}
			if rep.Archived != wantArchived || rep.Held != wantHeld || archived() != wantArchived {
				t.Fatalf("archived %d (%d in Notion), held %d; want %d, %d", rep.Archived, archived(), rep.Held,
					wantArchived, wantHeld)
			}
			if !tt.held {
				return
			}
			rep, err := e.sync.SyncWith(context.Background(), knowledgesync.SyncOptions{AllowMassDeletion: true})
			must(t, err)
			if rep.Archived != tt.removed || archived() != tt.removed {
				t.Errorf("allowed: archived %d (%d in Notion), want %d", rep.Archived, archived(), tt.removed)
			}
		})
	}
}

// TestSyncArchivesNothingItCannotRead: a file the sync cannot read (its
// folder's permissions) is not a deleted file: its page stays.
func TestSyncArchivesNothingItCannotRead(t *testing.T) {
	e := newEnv(t)
	e.writePages(12)
	team := filepath.Join(e.dir, "team")
	must(t, os.MkdirAll(team, 0o755))
	writeFile(t, e.dir, "team/plan.md", "# Plan\n\nthe plan\n")
	e.run(false)
	id := e.pageOf("team/plan.md")
	// A path whose stat fails for another reason than the file not
	// existing (here ENOTDIR; for a service's user, a folder without
	// permission, which tests running as root cannot make).
	must(t, os.RemoveAll(team))
	must(t, os.WriteFile(team, []byte("not a folder"), 0o644))
	rep := e.run(false)
	if p, ok := e.fake.Page(id); !ok || p.Archived || p.InTrash || rep.Archived != 0 {
		t.Errorf("archived %d, page archived %v: want the page of a file that could not be read kept", rep.Archived, p.Archived)
	}
}
