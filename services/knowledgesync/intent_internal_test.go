package knowledgesync

import (
	"slices"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// TestCreatedFor: the page a creation's request made is the first one the
// integration created since the minute before the request, titled as the
// file, and not taken.
func TestCreatedFor(t *testing.T) {
	requested := time.Date(2026, 3, 2, 10, 0, 20, 0, time.UTC)
	in := creationIntent{Path: "guide.md", Title: "Guide", Requested: requested}
	page := func(id, by, title string, created time.Time) notion.Page {
		return notion.Page{ID: id, CreatedBy: notion.User{Object: "user", ID: by}, CreatedTime: created,
			Properties: map[string]notion.Property{"Name": notion.TitleProperty(title)}}
	}
	const bot, person = "b0", "p1"
	minute := requested.Truncate(time.Minute)
	tests := []struct {
		name  string
		pages []notion.Page
		taken string
		want  string
	}{
		{"none", nil, "", ""},
		{"made in the minute of the request", []notion.Page{page("a1", bot, "Guide", minute)}, "", "a1"},
		{"made a minute earlier by Notion's clock", []notion.Page{page("a1", bot, "Guide", minute.Add(-time.Minute))}, "", "a1"},
		{"made long before", []notion.Page{page("a1", bot, "Guide", minute.Add(-10*time.Minute))}, "", ""},
		{"made by a person", []notion.Page{page("a1", person, "Guide", minute)}, "", ""},
		{"titled otherwise", []notion.Page{page("a1", bot, "Guides", minute)}, "", ""},
		{"taken", []notion.Page{page("a1", bot, "Guide", minute)}, "a1", ""},
		{"the first of two", []notion.Page{page("a2", bot, "Guide", minute.Add(time.Minute)), page("a3", bot, "Guide", minute)}, "", "a3"},
		{"the same minute: by id", []notion.Page{page("a5", bot, "Guide", minute), page("a4", bot, "Guide", minute)}, "", "a4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := createdFor(in, tt.pages, bot, func(id string) bool { return id == tt.taken })
			if got.ID != tt.want {
				t.Errorf("createdFor = %q, want %q", got.ID, tt.want)
			}
		})
	}
}

// TestPagesFor: intents for files of one title each take a page, in the
// order they were asked for, only when there are as many pages as intents.
func TestPagesFor(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 20, 0, time.UTC)
	intent := func(path string, after time.Duration) creationIntent {
		return creationIntent{Path: path, Title: "Guide", Requested: at.Add(after)}
	}
	page := func(id string, after time.Duration) notion.Page {
		return notion.Page{ID: id, CreatedBy: notion.User{ID: "b0"}, CreatedTime: at.Add(after).Truncate(time.Minute),
			Properties: map[string]notion.Property{"Name": notion.TitleProperty("Guide")}}
	}
	tests := []struct {
		name    string
		intents []creationIntent
		pages   []notion.Page
		want    []string
	}{
		{"one intent", []creationIntent{intent("a.md", 0)}, []notion.Page{page("p1", 0)}, []string{"p1"}},
		{"two intents, two pages", []creationIntent{intent("a.md", 0), intent("b.md", 2*time.Minute)},
			[]notion.Page{page("p2", 2*time.Minute), page("p1", 0)}, []string{"p1", "p2"}},
		{"two intents, one page", []creationIntent{intent("a.md", 0), intent("b.md", time.Second)},
			[]notion.Page{page("p1", 0)}, []string{"", ""}},
		{"two intents, no page", []creationIntent{intent("a.md", 0), intent("b.md", time.Second)}, nil, []string{"", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found := pagesFor(tt.intents, tt.pages, "b0", func(string) bool { return false })
			got := make([]string, len(found))
			for i, p := range found {
				got[i] = p.ID
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("pagesFor = %q, want %q", got, tt.want)
			}
		})
	}
}
