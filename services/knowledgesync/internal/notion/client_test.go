package notion_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/fakenotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

const token = "secret_client_test_token"

func setup(t *testing.T, fakeOpts []fakenotion.Option, opts ...notion.Option) (*fakenotion.Server, *notion.Client) {
	t.Helper()
	if fakeOpts == nil {
		fakeOpts = []fakenotion.Option{fakenotion.WithRateLimit(rate.Inf, 1)}
	}
	f := fakenotion.New(t.Cleanup, token, fakeOpts...)
	opts = append([]notion.Option{notion.WithBaseURL(f.URL), notion.WithRateLimit(rate.Inf, 1)}, opts...)
	c, err := notion.New(token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func para(text string) notion.Block {
	return notion.Block{Type: "paragraph", Content: notion.BlockContent{RichText: notion.Text(text)}}
}

func texts(blocks []notion.Block) []string {
	var out []string
	for _, b := range blocks {
		out = append(out, notion.PlainText(b.Content.RichText))
	}
	return out
}

func TestCreatePageSendsLongContentInChunks(t *testing.T) {
	f, c := setup(t, nil)
	db := f.NewDatabase()
	var content []notion.Block
	for i := range 250 {
		content = append(content, para(fmt.Sprint("paragraph ", i)))
	}
	list := notion.Block{Type: "bulleted_list_item", Content: notion.BlockContent{RichText: notion.Text("list")}}
	for i := range 150 {
		item := notion.Block{Type: "bulleted_list_item", Content: notion.BlockContent{RichText: notion.Text(fmt.Sprint("item ", i))}}
		if i == 0 {
			item.Children = []notion.Block{{Type: "to_do", Content: notion.BlockContent{RichText: notion.Text("deep")}}}
		}
		list.Children = append(list.Children, item)
	}
	content = append(content[:10], append([]notion.Block{list}, content[10:]...)...)
	content = append(content, para(strings.Repeat("x", 4500)))

	page, err := c.CreatePage(context.Background(), db, map[string]notion.Property{
		"Name": notion.TitleProperty("Long"), "Tags": notion.MultiSelectProperty([]string{"a", "b"})}, content)
	if err != nil {
		t.Fatalf("CreatePage: %v", err)
	}
	if r := f.Rejections(); len(r) != 0 {
		t.Fatalf("the client broke Notion's limits: %v", r)
	}
	got, err := c.BlockTree(context.Background(), page.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 252 || notion.PlainText(got[10].Content.RichText) != "list" || len(got[10].Children) != 150 ||
		len(got[10].Children[0].Children) != 1 || texts(got)[251] != strings.Repeat("x", 4500) {
		t.Fatalf("page content: %d blocks, list has %d items", len(got), len(got[10].Children))
	}
	if texts(got)[0] != "paragraph 0" || texts(got)[11] != "paragraph 10" || texts(got)[250] != "paragraph 249" {
		t.Errorf("blocks out of order: %v", texts(got)[:12])
	}
	if page.Title() != "Long" {
		t.Errorf("title %q", page.Title())
	}
}

func TestQueryDatabaseFollowsCursors(t *testing.T) {
	f, c := setup(t, nil)
	db := f.NewDatabase()
	for i := range 230 {
		if _, err := f.AddPage(db, fmt.Sprint("page ", i), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	pages, err := c.QueryDatabase(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 230 || pages[229].Title() != "page 229" || f.Count(fakenotion.KindQueryDatabase) != 3 {
		t.Errorf("%d pages in %d queries", len(pages), f.Count(fakenotion.KindQueryDatabase))
	}
}

func TestInsertAfterAndDelete(t *testing.T) {
	f, c := setup(t, nil)
	ctx := context.Background()
	page, err := c.CreatePage(ctx, f.NewDatabase(), nil, []notion.Block{para("a"), para("d")})
	if err != nil {
		t.Fatal(err)
	}
	blocks, _ := c.Children(ctx, page.ID)
	created, err := c.AppendChildren(ctx, page.ID, blocks[0].ID, []notion.Block{para("b"), para("c")})
	if err != nil || len(created) != 2 {
		t.Fatalf("append after: %v, %d created", err, len(created))
	}
	if err := c.DeleteBlock(ctx, blocks[1].ID); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(texts(f.Content(page.ID)), ""); got != "abc" {
		t.Errorf("content %q, want abc", got)
	}
	if err := c.ArchivePage(ctx, page.ID); err != nil {
		t.Fatal(err)
	}
	if p, _ := f.Page(page.ID); !p.Archived {
		t.Error("page not archived")
	}
}

func TestRetriesHonourRetryAfter(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable, 529} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f, c := setup(t, nil)
			db := f.NewDatabase()
			f.FailNext(2, status, time.Second)
			start := time.Now()
			if _, err := c.QueryDatabase(context.Background(), db); err != nil {
				t.Fatalf("query after two %d answers: %v", status, err)
			}
			if d := time.Since(start); d < 2*time.Second {
				t.Errorf("retried after %s, want the 2×1s Retry-After honoured", d)
			}
			if f.Count(fakenotion.KindInjected) != 2 || f.Count(fakenotion.KindQueryDatabase) != 1 {
				t.Errorf("counts: injected %d, queries %d", f.Count(fakenotion.KindInjected), f.Count(fakenotion.KindQueryDatabase))
			}
		})
	}
}

func TestErrorsNeverShowTheToken(t *testing.T) {
	f, _ := setup(t, nil)
	c, err := notion.New("secret_wrong_token", notion.WithBaseURL(f.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.RetrievePage(context.Background(), "00000000-0000-0000-0000-000000000000")
	var apiErr *notion.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != "unauthorized" {
		t.Fatalf("error %v, want Notion's 401", err)
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, apiErr), "secret_wrong_token") {
		t.Errorf("the token shows in the error: %v", err)
	}
	_, c = setup(t, nil)
	if _, err := c.RetrievePage(context.Background(), "00000000-0000-0000-0000-000000000000"); !notion.IsNotFound(err) {
		t.Errorf("unknown page: %v, want not found", err)
	}
	t.Setenv("GTMHUB_TEST_EMPTY_NOTION_TOKEN", "")
	if _, err := notion.FromEnv("GTMHUB_TEST_EMPTY_NOTION_TOKEN"); !errors.Is(err, notion.ErrNoToken) {
		t.Errorf("FromEnv with no token: %v", err)
	}
}

func TestBreakerOpensOnOutage(t *testing.T) {
	b := events.NewBreakers(events.WithTripAfter(2), events.WithBreakerTimeout(time.Minute))
	f, c := setup(t, nil, notion.WithBreakers(b), notion.WithRetries(0))
	db := f.NewDatabase()
	f.FailNext(2, http.StatusServiceUnavailable, 0)
	for range 2 {
		if _, err := c.QueryDatabase(context.Background(), db); err == nil {
			t.Fatal("query succeeded through an outage")
		}
	}
	_, err := c.QueryDatabase(context.Background(), db)
	if d, ok := events.RetryDelay(err); !ok || d <= 0 {
		t.Errorf("with the breaker open: %v, want a retry-after error", err)
	}
	if n := f.Count(fakenotion.KindInjected) + f.Count(fakenotion.KindQueryDatabase); n != 2 {
		t.Errorf("%d requests reached Notion, want 2: an open breaker sends none", n)
	}
}

// TestRealRateLimit runs the client at its default pace against the fake at
// Notion's documented 3 requests a second.
func TestRealRateLimit(t *testing.T) {
	f := fakenotion.New(t.Cleanup, token) // 3/s, Notion's average
	c, err := notion.New(token, notion.WithBaseURL(f.URL))
	if err != nil {
		t.Fatal(err)
	}
	db := f.NewDatabase()
	const n = 14
	start := time.Now()
	for range n {
		if _, err := c.QueryDatabase(context.Background(), db); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	if got := f.Count(fakenotion.KindRateLimited); got != 0 {
		t.Errorf("%d requests rate limited at the default pace", got)
	}
	if want := time.Duration(n-notion.DefaultBurst-1) * time.Second / 3; elapsed < want {
		t.Errorf("%d requests in %s: faster than 3/s after the burst (want ≥ %s)", n, elapsed, want)
	}
}

// tableOf returns a table of n rows of width cells, "r{row} c{col}" each.
func tableOf(n, width int) notion.Block {
	rows := make([][][]notion.RichText, n)
	for r := range rows {
		rows[r] = make([][]notion.RichText, width)
		for c := range rows[r] {
			rows[r][c] = notion.Text(fmt.Sprintf("r%d c%d", r, c))
		}
	}
	return notion.TableBlock(notion.Table{TableWidth: width, HasColumnHeader: true}, rows)
}

// cellTexts returns the plain text of a table's rows, as read back.
func cellTexts(t *testing.T, table notion.Block) []string {
	t.Helper()
	var out []string
	for _, r := range table.Children {
		row, ok := r.TableRowContent()
		if !ok {
			t.Fatalf("child %s of the table is not a row", r.Type)
		}
		for _, cell := range row.Cells {
			out = append(out, notion.PlainText(cell))
		}
	}
	return out
}

// TestTablesTravelWithTheirRows: Notion creates a table only with rows in
// the same request and lists them as the table's children; the client sends
// the first 100 with the table, appends the rest, and reads them back.
func TestTablesTravelWithTheirRows(t *testing.T) {
	tests := []struct {
		name    string
		rows    int
		nested  bool
		appends int // append requests, for the page's content written after creating it
	}{
		{"one row", 1, false, 1},
		{"100 rows", 100, false, 1},
		{"101 rows", 101, false, 2},
		{"250 rows", 250, false, 3},
		{"in a list item", 3, true, 2},
		{"150 rows in a list item", 150, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := setup(t, nil)
			ctx := context.Background()
			want := tableOf(tt.rows, 3)
			block := want
			if tt.nested {
				block = notion.Block{Type: "bulleted_list_item", Content: notion.BlockContent{RichText: notion.Text("item")},
					Children: []notion.Block{want}}
			}
			page, err := c.CreatePage(ctx, f.NewDatabase(), nil, []notion.Block{para("first")})
			if err != nil {
				t.Fatal(err)
			}
			appends := f.Count(fakenotion.KindAppendChildren)
			if _, err := c.AppendChildren(ctx, page.ID, "", []notion.Block{block}); err != nil {
				t.Fatalf("append: %v (rejected: %v)", err, f.Rejections())
			}
			if n := f.Count(fakenotion.KindAppendChildren) - appends; n != tt.appends {
				t.Errorf("%d append requests, want %d", n, tt.appends)
			}
			tree, err := c.BlockTree(ctx, page.ID)
			if err != nil {
				t.Fatal(err)
			}
			got := tree[1]
			if tt.nested {
				got = got.Children[0]
			}
			if tc, ok := got.TableContent(); !ok || tc.TableWidth != 3 || !tc.HasColumnHeader || !got.HasChildren {
				t.Fatalf("read back %s %+v, want a table of width 3 with a header and rows", got.Type, tc)
			}
			if g, w := cellTexts(t, got), cellTexts(t, want); !slices.Equal(g, w) {
				t.Errorf("read back %d cells, want %d; first %v", len(g), len(w), g[:min(3, len(g))])
			}
		})
	}
}

// TestCreatePageWithALongTable: the same through CreatePage.
func TestCreatePageWithALongTable(t *testing.T) {
	f, c := setup(t, nil)
	ctx := context.Background()
	want := tableOf(230, 2)
	page, err := c.CreatePage(ctx, f.NewDatabase(), nil, []notion.Block{para("a"), want, para("b")})
	if err != nil {
		t.Fatalf("create: %v (rejected: %v)", err, f.Rejections())
	}
	tree, err := c.BlockTree(ctx, page.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tree) != 3 || !slices.Equal(cellTexts(t, tree[1]), cellTexts(t, want)) || texts(tree)[2] != "b" {
		t.Errorf("page of %d blocks, table of %d rows", len(tree), len(tree[1].Children))
	}
}

// TestRequestsStayUnderNotionsSizeLimit: content of many large blocks
// (100 paragraphs of 1,900 CJK characters made a 584,668-byte request),
// a list item whose children are too large to go along, and a table whose
// rows are, all go in requests under Notion's 500KB, in order, with the
// page's properties however large.
func TestRequestsStayUnderNotionsSizeLimit(t *testing.T) {
	tests := []struct {
		name  string
		owner string // a rich_text property's value
	}{
		{"title only", ""},
		{"a rich_text of 190,000 characters", strings.Repeat("x", 190_000)},
		{"a rich_text as large as Notion takes", strings.Repeat("x", notion.MaxRichTextElements*notion.MaxTextLength)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkRequestsUnderLimit(t, tt.owner) })
	}
}

func checkRequestsUnderLimit(t *testing.T, owner string) {
	wide := strings.Repeat("漢", 1900) // 5,700 bytes
	var content []notion.Block
	for i := range 100 {
		content = append(content, para(fmt.Sprint(i, wide)))
	}
	item := notion.Block{Type: "bulleted_list_item", Content: notion.BlockContent{RichText: notion.Text("item")}}
	for i := range 100 {
		item.Children = append(item.Children, para(fmt.Sprint("child ", i, wide)))
	}
	var rows [][][]notion.RichText
	for i := range 100 {
		rows = append(rows, [][]notion.RichText{notion.Text(fmt.Sprint(i)), notion.Text(wide), notion.Text(wide)})
	}
	table := notion.TableBlock(notion.Table{TableWidth: 3, HasColumnHeader: true}, rows)
	content = append(content, item, table, para("last"))

	rt := &largestBody{}
	f, c := setup(t, nil, notion.WithTransport(rt))
	db := f.NewDatabase()
	if err := f.AddProperty(db, "Owner", "rich_text"); err != nil {
		t.Fatal(err)
	}
	page, err := c.CreatePage(context.Background(), db, map[string]notion.Property{"Name": notion.TitleProperty("Big"),
		"Owner": {Type: "rich_text", RichText: notion.Text(owner)}}, content)
	if err != nil {
		t.Fatalf("CreatePage: %v (rejected: %v)", err, f.Rejections())
	}
	if rt.max > notion.MaxRequestBytes {
		t.Errorf("largest request %d bytes, over %d", rt.max, notion.MaxRequestBytes)
	}
	got, err := c.BlockTree(context.Background(), page.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 103 || texts(got)[99] != fmt.Sprint(99, wide) || texts(got)[102] != "last" ||
		len(got[100].Children) != 100 || notion.PlainText(got[100].Children[99].Content.RichText) != fmt.Sprint("child 99", wide) ||
		!slices.Equal(cellTexts(t, got[101]), cellTexts(t, table)) {
		t.Errorf("page read back: %d blocks", len(got))
	}
}

// largestBody records the largest request body sent.
type largestBody struct {
	mu  sync.Mutex
	max int
}

func (l *largestBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		l.max = max(l.max, len(b))
		l.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestPropertyValuesRoundTrip(t *testing.T) {
	f, c := setup(t, nil)
	ctx := context.Background()
	db := f.NewDatabase()
	for name, typ := range map[string]string{"Status": "select", "Stage": "status", "Priority": "number",
		"Published": "checkbox", "Due": "date", "Link": "url", "Mail": "email", "Phone": "phone_number", "Owner": "rich_text"} {
		if err := f.AddProperty(db, name, typ); err != nil {
			t.Fatal(err)
		}
	}
	schema, err := c.RetrieveDatabase(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if got := schema.Properties["Due"]; got.Type != "date" || got.Name != "Due" {
		t.Errorf("schema of Due: %+v", got)
	}
	if got := schema.Properties["Stage"].OptionNames(); !slices.Equal(got, []string{"Not started", "In progress", "Done"}) {
		t.Errorf("options of the status Stage: %q, want Notion's three", got)
	}
	if got := schema.Properties["Due"].OptionNames(); got != nil {
		t.Errorf("options of the date Due: %q, want none", got)
	}
	num, yes, link, end := 2.5, true, "https://example.com", "2024-05-03"
	set := map[string]notion.Property{
		"Name":      notion.TitleProperty("Props"),
		"Status":    {Type: "select", Select: &notion.SelectOption{Name: "Draft"}},
		"Stage":     {Type: "status", Status: &notion.SelectOption{Name: "Done"}},
		"Priority":  {Type: "number", Number: &num},
		"Published": {Type: "checkbox", Checkbox: &yes},
		"Due":       {Type: "date", Date: &notion.Date{Start: "2024-05-01", End: &end}},
		"Link":      {Type: "url", URL: &link},
		"Owner":     {Type: "rich_text", RichText: notion.Text("Ada")},
	}
	page, err := c.CreatePage(ctx, db, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := page.Properties
	if p["Status"].Select.Name != "Draft" || p["Stage"].Status.Name != "Done" || *p["Priority"].Number != 2.5 ||
		!*p["Published"].Checkbox || p["Due"].Date.Start != "2024-05-01" || *p["Due"].Date.End != end ||
		*p["Link"].URL != link || notion.PlainText(p["Owner"].RichText) != "Ada" || p["Mail"].Email != nil {
		t.Errorf("properties as created: %+v", p)
	}
	// Empty values clear the properties: null, or an empty array.
	cleared, err := c.UpdatePage(ctx, page.ID, map[string]notion.Property{"Status": {Type: "select"},
		"Priority": {Type: "number"}, "Due": {Type: "date"}, "Link": {Type: "url"}, "Owner": {Type: "rich_text"}})
	if err != nil {
		t.Fatalf("clear: %v (rejections %v)", err, f.Rejections())
	}
	p = cleared.Properties
	if p["Status"].Select != nil || p["Priority"].Number != nil || p["Due"].Date != nil || p["Link"].URL != nil ||
		len(p["Owner"].RichText) != 0 {
		t.Errorf("properties after clearing: %+v", p)
	}
}

// TestBotUserAndLastEditor: the client reads its integration's bot user,
// and the pages it reads name their last editor, the bot once it wrote
// them, a person once edited in Notion.
func TestBotUserAndLastEditor(t *testing.T) {
	f, c := setup(t, nil)
	ctx := context.Background()
	bot, err := c.BotUser(ctx)
	if err != nil || bot.Type != "bot" || bot.ID != f.BotUser().ID || bot.Object != "user" {
		t.Fatalf("bot user %+v, %v; want %s", bot, err, f.BotUser().ID)
	}
	page, err := c.CreatePage(ctx, f.NewDatabase(), nil, []notion.Block{para("a")})
	if err != nil {
		t.Fatal(err)
	}
	if page.CreatedBy.ID != bot.ID || page.LastEditedBy.ID != bot.ID {
		t.Errorf("created page names %+v and %+v, want the bot", page.CreatedBy, page.LastEditedBy)
	}
	if err := f.EditPage(page.ID, []notion.Block{para("b")}); err != nil {
		t.Fatal(err)
	}
	pages, err := c.QueryDatabase(ctx, page.Parent.DatabaseID)
	if err != nil || len(pages) != 1 {
		t.Fatalf("query: %d pages, %v", len(pages), err)
	}
	if got := pages[0].LastEditedBy; got.ID != f.Person().ID || got.Object != "user" || pages[0].CreatedBy.ID != bot.ID {
		t.Errorf("page edited in Notion names %+v as its last editor, want %s", got, f.Person().ID)
	}
}

// TestServerErrorIsNotRetried: a 500 from Notion is returned at once,
// the request sent once.
func TestServerErrorIsNotRetried(t *testing.T) {
	f, c := setup(t, nil)
	ctx := context.Background()
	page, err := c.CreatePage(ctx, f.NewDatabase(), nil, []notion.Block{para("a")})
	if err != nil {
		t.Fatal(err)
	}
	f.FailAfter(fakenotion.KindDeleteBlock, 0, http.StatusInternalServerError)
	err = c.DeleteBlock(ctx, f.Content(page.ID)[0].ID)
	var apiErr *notion.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 500 || f.Count(fakenotion.KindInjected) != 1 {
		t.Errorf("delete: %v after %d injected failures, want one 500", err, f.Count(fakenotion.KindInjected))
	}
}

// TestCreatePageThenCallsBackBeforeAppending: the callback gets the new
// page once Notion created it with the first 100 blocks, before the rest
// is appended; its error stops the creation there and comes back with the
// page.
func TestCreatePageThenCallsBackBeforeAppending(t *testing.T) {
	var content []notion.Block
	for i := range 150 {
		content = append(content, para(fmt.Sprint("paragraph ", i)))
	}
	stop := errors.New("stop")
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("callback fails ", fail), func(t *testing.T) {
			f, c := setup(t, nil)
			calls, seen, appendsThen := 0, 0, -1
			page, err := c.CreatePageThen(context.Background(), f.NewDatabase(), nil, content,
				func(_ context.Context, p notion.Page) error {
					calls++
					seen, appendsThen = len(f.Content(p.ID)), f.Count(fakenotion.KindAppendChildren)
					if fail {
						return stop
					}
					return nil
				})
			if calls != 1 || seen != notion.MaxChildren || appendsThen != 0 {
				t.Errorf("callback called %d times, with %d blocks written and %d appends, want once with %d and none",
					calls, seen, appendsThen, notion.MaxChildren)
			}
			want, wantErr := len(content), error(nil)
			if fail {
				want, wantErr = notion.MaxChildren, stop
			}
			if page.ID == "" || !errors.Is(err, wantErr) || len(f.Content(page.ID)) != want {
				t.Errorf("page %q, %v, %d blocks; want the page, %v, %d blocks", page.ID, err, len(f.Content(page.ID)), wantErr, want)
			}
		})
	}
}
