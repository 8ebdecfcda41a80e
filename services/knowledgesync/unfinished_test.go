package knowledgesync_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/services/knowledgesync"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/fakenotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
)

// finishedAction marks the report line of a write finished after an
// earlier one stopped halfway.
const finishedAction = "write finished (an earlier write stopped halfway)"

// runStopped syncs once while the fake stops a write halfway: the sync
// reports the one page it could not write, and nothing else fails.
func (e *env) runStopped() knowledgesync.Report {
	e.t.Helper()
	rep, err := e.sync.Sync(context.Background(), false)
	if err != nil {
		e.t.Fatalf("Sync: %v", err)
	}
	if len(rep.Errors) != 1 || e.fake.Count(fakenotion.KindInjected) != 1 {
		e.t.Fatalf("want one write stopped halfway: %d failures injected, errors %v",
			e.fake.Count(fakenotion.KindInjected), rep.Errors)
	}
	if r := e.fake.Rejections(); len(r) > 0 {
		e.t.Fatalf("the sync broke Notion's limits: %v", r)
	}
	return rep
}

// writing reports whether the sync state of the page of the file name
// records a write to its content under way.
func (e *env) writing(name string) bool {
	e.t.Helper()
	kv, err := e.srv.JS.KeyValue(context.Background(), knowledgesync.StateBucket)
	must(e.t, err)
	entry, err := kv.Get(context.Background(), hexID(e.pageOf(name)))
	must(e.t, err)
	var st map[string]json.RawMessage
	must(e.t, json.Unmarshal(entry.Value(), &st))
	_, ok := st["writing"]
	return ok
}

// actionsWith returns the report's lines holding text.
func actionsWith(rep knowledgesync.Report, text string) []string {
	var out []string
	for _, a := range rep.Actions {
		if strings.Contains(a, text) {
			out = append(out, a)
		}
	}
	return out
}

// stoppedWrite is a write the sync makes to a page's content, stopped
// halfway by the fake: the new blocks appended, an old one left.
type stoppedWrite struct {
	name string
	// stop sets up a synced file and makes the sync's write to its page
	// stop halfway; it returns the file's name.
	stop func(e *env) string
	// notion is the content the page holds once the write is done, as
	// Markdown.
	notion func(e *env) string
}

var stoppedWrites = []stoppedWrite{
	{"push of an edited file", func(e *env) string {
		writeFile(e.t, e.dir, "plan.md", "---\ntitle: Plan\n---\n# Plan\n\nfirst\n\nsecond\n")
		e.run(false)
		writeFile(e.t, e.dir, "plan.md", strings.Replace(e.read("plan.md"), "# Plan\n\nfirst\n\nsecond\n",
			"# Plan, second draft\n\nfirst, redone\n\nsecond, redone\n", 1))
		// The first block changes: the page is written again whole, the
		// new blocks appended, then the old ones deleted; the second
		// deletion fails.
		e.fake.FailAfter(fakenotion.KindDeleteBlock, 1, http.StatusInternalServerError)
		e.runStopped()
		return "plan.md"
	}, func(*env) string { return "# Plan, second draft\n\nfirst, redone\n\nsecond, redone\n" }},
	{"rewrite of an earlier conversion", func(e *env) string {
		writeFile(e.t, e.dir, "pricing.md", "# Pricing\n")
		writeFile(e.t, e.dir, "overview.md", "# Overview\n\nSee [the plans](./pricing.md).\n")
		e.run(false)
		e.unmapLinks("overview.md")
		e.fake.FailAfter(fakenotion.KindDeleteBlock, 0, http.StatusInternalServerError)
		e.runStopped()
		return "overview.md"
	}, func(e *env) string { return "# Overview\n\nSee [the plans](" + e.pageURL("pricing.md") + ").\n" }},
	{"relink to a page created later", func(e *env) string {
		writeFile(e.t, e.dir, "a.md", "# A\n\nintro\n")
		e.run(false)
		writeFile(e.t, e.dir, "a.md", e.read("a.md")+"\nSee [b](./b.md).\n")
		writeFile(e.t, e.dir, "b.md", "# B\n")
		// a.md is pushed with the link as its text, b.md gets its page,
		// and a.md's page is written again with the link: its paragraph
		// of text is not deleted.
		e.fake.FailAfter(fakenotion.KindDeleteBlock, 0, http.StatusInternalServerError)
		e.runStopped()
		return "a.md"
	}, func(e *env) string { return "# A\n\nintro\n\nSee [b](" + e.pageURL("b.md") + ").\n" }},
}

// TestSyncFinishesAWriteThatStoppedHalfway: a write to a page's content
// that stopped halfway leaves the old blocks and the new in the page. The
// next sync finishes it (a dry run only says so): the file is as it was,
// and Notion holds exactly its content. The sync after does nothing.
func TestSyncFinishesAWriteThatStoppedHalfway(t *testing.T) {
	for _, w := range stoppedWrites {
		t.Run(w.name, func(t *testing.T) {
			e := newEnv(t)
			name := w.stop(e)
			id, file, want := e.pageOf(name), e.read(name), w.notion(e)
			if !e.writing(name) {
				t.Fatalf("the state of %s records no write under way", name)
			}
			if got := e.notionText(id); got == want {
				t.Fatalf("the write did not stop halfway: Notion holds\n%s", got)
			}

			before, writes := e.states(), e.fake.Writes()
			rep := e.run(true)
			if rep.ToNotion != 1 || len(actionsWith(rep, finishedAction)) != 1 {
				t.Errorf("dry run report %+v, want the write finished", rep)
			}
			if e.fake.Writes() != writes || !maps.Equal(e.states(), before) || e.read(name) != file {
				t.Errorf("a dry run wrote: %d writes to Notion", e.fake.Writes()-writes)
			}

			rep = e.run(false)
			if rep.ToNotion != 1 || rep.ToLocal != 0 || rep.Conflicts != 0 || len(actionsWith(rep, finishedAction)) != 1 {
				t.Errorf("report %+v, want the write finished and nothing else", rep)
			}
			if got := e.read(name); got != file {
				t.Errorf("%s changed:\n%s\nwant\n%s", name, got, file)
			}
			if got := e.notionText(id); got != want {
				t.Errorf("Notion holds\n%s\nwant\n%s", got, want)
			}
			if e.writing(name) {
				t.Errorf("the state of %s still records a write under way", name)
			}
			e.checkStable()
			if n := e.fake.Count(fakenotion.KindRetrieveBotUser); n != 1 {
				t.Errorf("the integration's user was read %d times, want once", n)
			}
		})
	}
}

// TestSyncWriteStoppedHalfwayThenEdited: when the page was edited in
// Notion, or the file changed, after a write stopped halfway, the page is
// a conflict: the file keeps both versions between conflict markers, the
// later edit is what Notion holds, and nothing is lost. A file edited after
// the write is the later edit: Notion gets it, exactly.
func TestSyncWriteStoppedHalfwayThenEdited(t *testing.T) {
	tests := []struct {
		name string
		edit func(e *env, name string)
		// fileWins says the file's version is the later edit.
		fileWins bool
		// kept is the text the file's conflict must keep besides the file's
		// version.
		kept string
	}{
		{"edited in Notion", func(e *env, name string) {
			e.touch(name, time.Now().Add(-time.Hour)) // the file's edit is the earlier, whatever the clocks' grain
			e.editInNotion(name, "Edited in Notion.")
		}, false, "Edited in Notion."},
		{"file edited", func(e *env, name string) {
			writeFile(e.t, e.dir, name, e.read(name)+"\nEdited in the file.\n")
			e.touch(name, time.Now().Add(time.Minute))
		}, true, "Edited in the file."},
	}
	for _, w := range stoppedWrites {
		for _, tt := range tests {
			t.Run(w.name+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t)
				name := w.stop(e)
				id := e.pageOf(name)
				tt.edit(e, name)
				doc, err := knowledgesync.ParseDocument(name, []byte(e.read(name)))
				must(t, err)
				notionBefore := e.notionText(id)

				rep := e.run(false)
				if rep.Conflicts != 1 || len(actionsWith(rep, "stopped halfway")) != 1 || len(actionsWith(rep, finishedAction)) != 0 {
					t.Fatalf("report %+v, want a conflict saying a write stopped halfway", rep)
				}
				file := e.read(name)
				if !strings.Contains(file, "<<<<<<< notion\n") || !strings.Contains(file, tt.kept) {
					t.Errorf("%s:\n%s\nwant both versions between markers, %q kept", name, file, tt.kept)
				}
				for line := range strings.Lines(string(doc.Body)) {
					if !strings.Contains(file, line) {
						t.Errorf("%s lost the line %q of its version:\n%s", name, line, file)
					}
				}
				switch got := e.notionText(id); {
				case tt.fileWins && got != w.notion(e)+"\nEdited in the file.\n":
					t.Errorf("Notion holds\n%s\nwant the file's later version", got)
				case !tt.fileWins && got != notionBefore:
					t.Errorf("Notion holds\n%s\nwant the later edit made in it:\n%s", got, notionBefore)
				}
				if e.writing(name) {
					t.Errorf("the state of %s still records a write under way", name)
				}
				writes := e.fake.Writes()
				if rep := e.run(false); rep.Unresolved != 1 || e.fake.Writes() != writes {
					t.Errorf("with markers in the file: %+v, %d writes", rep, e.fake.Writes()-writes)
				}
			})
		}
	}
}

// TestSyncConflictWriteStoppedHalfway: the file wins a conflict, and the
// write of its version to Notion stops halfway. The file got both versions
// between markers first, so nothing is lost, and the page is left alone
// until they are resolved; the resolved file is then written to Notion,
// unless the page was edited in Notion meanwhile, which is a conflict
// again.
func TestSyncConflictWriteStoppedHalfway(t *testing.T) {
	for _, editedMeanwhile := range []bool{false, true} {
		t.Run(map[bool]string{false: "resolved", true: "edited in Notion before resolving"}[editedMeanwhile], func(t *testing.T) {
			e := newEnv(t)
			writeFile(t, e.dir, "plan.md", "---\ntitle: Plan\n---\n# Plan\n\nintro\n\nthe middle\n\nend\n")
			e.run(false)
			id := e.pageOf("plan.md")
			e.editInNotion("plan.md", "Notion text.")
			writeFile(t, e.dir, "plan.md", strings.Replace(e.read("plan.md"), "# Plan\n", "# Plan, local\n", 1))
			e.touch("plan.md", time.Now().Add(time.Minute))
			e.fake.FailAfter(fakenotion.KindDeleteBlock, 1, http.StatusInternalServerError)
			if rep := e.runStopped(); rep.Conflicts != 1 {
				t.Fatalf("report %+v, want a conflict", rep)
			}
			file := e.read("plan.md")
			if !strings.Contains(file, "<<<<<<< notion\n# Plan\n") || !strings.Contains(file, "Notion text.") ||
				!strings.Contains(file, "# Plan, local\n") {
				t.Fatalf("plan.md:\n%s\nwant both versions between markers", file)
			}
			writes := e.fake.Writes()
			if rep := e.run(false); rep.Unresolved != 1 || e.fake.Writes() != writes {
				t.Errorf("with markers in the file: %+v, %d writes", rep, e.fake.Writes()-writes)
			}
			if editedMeanwhile {
				e.editInNotion("plan.md", "More Notion text.")
			}
			resolved := "# Plan, local\n\nintro\n\nthe middle\n\nend\n\nNotion text.\n"
			doc, err := knowledgesync.ParseDocument("plan.md", []byte(file))
			must(t, err)
			writeFile(t, e.dir, "plan.md", strings.Replace(file, string(doc.Body), resolved, 1))

			rep := e.run(false)
			if editedMeanwhile {
				if rep.Conflicts != 1 || !strings.Contains(e.read("plan.md"), "More Notion text.") {
					t.Errorf("report %+v, plan.md:\n%s\nwant a conflict keeping the edit made in Notion", rep, e.read("plan.md"))
				}
				return
			}
			if rep.ToNotion != 1 || rep.Conflicts != 0 || len(actionsWith(rep, finishedAction)) != 1 {
				t.Errorf("report %+v, want the resolved file written to Notion", rep)
			}
			if got := e.notionText(id); got != resolved {
				t.Errorf("Notion holds\n%s\nwant\n%s", got, resolved)
			}
			e.checkStable()
		})
	}
}

// TestSyncWriteStoppedBeforeWritingAnything: a write that stopped before
// Notion took any of it leaves the page as the state says: the next sync
// settles the page by the usual rules, and writes it.
func TestSyncWriteStoppedBeforeWritingAnything(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.dir, "plan.md", "# Plan\n\nfirst\n")
	e.run(false)
	id := e.pageOf("plan.md")
	writeFile(t, e.dir, "plan.md", e.read("plan.md")+"\nsecond\n")
	e.fake.FailAfter(fakenotion.KindAppendChildren, 0, http.StatusInternalServerError)
	e.runStopped()
	if !e.writing("plan.md") {
		t.Fatal("no write recorded as under way")
	}
	rep := e.run(false)
	if rep.ToNotion != 1 || rep.ToLocal != 0 || rep.Conflicts != 0 || len(actionsWith(rep, finishedAction)) != 0 {
		t.Errorf("report %+v, want the file pushed", rep)
	}
	if got := e.notionText(id); got != "# Plan\n\nfirst\n\nsecond\n" {
		t.Errorf("Notion holds\n%s", got)
	}
	if e.writing("plan.md") {
		t.Error("the state still records a write under way")
	}
	e.checkStable()
}

// TestSyncStateWithoutAWriteUnderWay: a state that records no write under
// way, as every state written before writes were recorded, is settled as
// before, and the integration's user is never read for it. A write that
// succeeds leaves no record.
func TestSyncStateWithoutAWriteUnderWay(t *testing.T) {
	tests := []struct {
		name              string
		edit              func(e *env)
		toNotion, toLocal int
	}{
		{"unchanged", func(*env) {}, 0, 0},
		{"file edited", func(e *env) { writeFile(e.t, e.dir, "plan.md", e.read("plan.md")+"\nEdited.\n") }, 1, 0},
		{"edited in Notion", func(e *env) { e.editInNotion("plan.md", "Edited in Notion.") }, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			writeFile(t, e.dir, "plan.md", "# Plan\n\nfirst\n")
			e.run(false)
			writeFile(t, e.dir, "plan.md", e.read("plan.md")+"\nsecond\n")
			e.run(false)
			if e.writing("plan.md") {
				t.Fatal("a write that succeeded left a record of a write under way")
			}
			tt.edit(e)
			rep := e.run(false)
			if rep.ToNotion != tt.toNotion || rep.ToLocal != tt.toLocal || rep.Conflicts != 0 {
				t.Errorf("report %+v, want %d pushed and %d pulled", rep, tt.toNotion, tt.toLocal)
			}
			if n := e.fake.Count(fakenotion.KindRetrieveBotUser); n != 0 {
				t.Errorf("the integration's user was read %d times", n)
			}
			e.checkStable()
		})
	}
}

// TestSyncWriteDoneButNotRecorded: a write that got to its end, its state
// not saved after it, leaves the page holding what was written. The next
// sync writes nothing and drops the record of the write, so that a later
// edit in Notion is pulled as any other.
func TestSyncWriteDoneButNotRecorded(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.dir, "plan.md", "# Plan\n\nfirst\n")
	e.run(false)
	id := e.pageOf("plan.md")
	kv, err := e.srv.JS.KeyValue(context.Background(), knowledgesync.StateBucket)
	must(t, err)
	before, err := kv.Get(context.Background(), hexID(id))
	must(t, err)
	writeFile(t, e.dir, "plan.md", e.read("plan.md")+"\nsecond\n")
	e.run(false)

	// The state the sync saved before the write, the write recorded.
	var st map[string]any
	must(t, json.Unmarshal(before.Value(), &st))
	st["writing"] = map[string]any{"local_hash": hashOf(e.read("plan.md")),
		"content_hash": hashOf(string(mdnotion.ToMarkdown(e.fake.Content(id))))}
	raw, err := json.Marshal(st)
	must(t, err)
	_, err = kv.Put(context.Background(), hexID(id), raw)
	must(t, err)

	writes := e.fake.Writes()
	if rep := e.run(false); len(rep.Actions) != 0 || e.fake.Writes() != writes {
		t.Errorf("report %+v, %d writes, want nothing done", rep, e.fake.Writes()-writes)
	}
	if e.writing("plan.md") {
		t.Error("the state still records a write under way")
	}
	e.editInNotion("plan.md", "Edited in Notion.")
	if rep := e.run(false); rep.ToLocal != 1 || rep.Conflicts != 0 {
		t.Errorf("report %+v, want the edit in Notion pulled", rep)
	}
	e.checkStable()
}
