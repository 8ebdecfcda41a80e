package fakenotion_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/time/rate"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/fakenotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

const token = "secret_fake_token"

// call sends one raw request and decodes the answer into a map.
func call(t *testing.T, s *fakenotion.Server, method, path string, body any, hdr map[string]string) (int, http.Header, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Notion-Version", notion.Version)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, out
}

func paragraph(text string) map[string]any {
	return map[string]any{"object": "block", "type": "paragraph", "paragraph": map[string]any{
		"rich_text": []any{map[string]any{"type": "text", "text": map[string]any{"content": text}}}}}
}

func paragraphs(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = paragraph(fmt.Sprint("p", i))
	}
	return out
}

func fast(t *testing.T) *fakenotion.Server {
	return fakenotion.New(t.Cleanup, token, fakenotion.WithRateLimit(rate.Inf, 1))
}

func newPage(t *testing.T, s *fakenotion.Server, db string, children []any) string {
	t.Helper()
	status, _, out := call(t, s, "POST", "/v1/pages", map[string]any{"parent": map[string]any{"database_id": db},
		"properties": map[string]any{"Name": map[string]any{"title": []any{map[string]any{"text": map[string]any{"content": "T"}}}}},
		"children":   children}, nil)
	if status != 200 {
		t.Fatalf("create page: %d %v", status, out)
	}
	return out["id"].(string)
}

func TestFakeEnforcesLimits(t *testing.T) {
	s := fast(t)
	db := s.NewDatabase()
	pageID := newPage(t, s, db, paragraphs(2))
	nested := paragraph("top")
	nested["paragraph"].(map[string]any)["children"] = []any{func() map[string]any {
		p := paragraph("child")
		p["paragraph"].(map[string]any)["children"] = []any{paragraph("grandchild")}
		return p
	}()}
	code := map[string]any{"type": "code", "code": map[string]any{"language": "klingon", "rich_text": []any{}}}
	tests := []struct {
		name, method, path string
		body               any
		hdr                map[string]string
		status             int
		code               string
	}{
		{"101 children on append", "PATCH", "/v1/blocks/" + pageID + "/children", map[string]any{"children": paragraphs(101)}, nil, 400, "validation_error"},
		{"101 children on create", "POST", "/v1/pages", map[string]any{"parent": map[string]any{"database_id": db},
			"properties": map[string]any{}, "children": paragraphs(101)}, nil, 400, "validation_error"},
		{"2001 characters", "PATCH", "/v1/blocks/" + pageID + "/children", map[string]any{"children": []any{paragraph(strings.Repeat("é", 2001))}}, nil, 400, "validation_error"},
		{"three levels", "PATCH", "/v1/blocks/" + pageID + "/children", map[string]any{"children": []any{nested}}, nil, 400, "validation_error"},
		{"unknown language", "PATCH", "/v1/blocks/" + pageID + "/children", map[string]any{"children": []any{code}}, nil, 400, "validation_error"},
		{"page_size 101", "POST", "/v1/databases/" + db + "/query", map[string]any{"page_size": 101}, nil, 400, "validation_error"},
		{"unknown property", "PATCH", "/v1/pages/" + pageID, map[string]any{"properties": map[string]any{"Owner": map[string]any{"rich_text": []any{}}}}, nil, 400, "validation_error"},
		{"no version", "GET", "/v1/pages/" + pageID, nil, map[string]string{"Notion-Version": ""}, 400, "missing_version"},
		{"bad token", "GET", "/v1/pages/" + pageID, nil, map[string]string{"Authorization": "Bearer nope"}, 401, "unauthorized"},
		{"unknown page", "GET", "/v1/pages/00000000-0000-0000-0000-000000000000", nil, nil, 404, "object_not_found"},
		{"2000 characters", "PATCH", "/v1/blocks/" + pageID + "/children", map[string]any{"children": []any{paragraph(strings.Repeat("é", 2000))}}, nil, 200, ""},
		{"100 children", "PATCH", "/v1/blocks/" + pageID + "/children", map[string]any{"children": paragraphs(100)}, nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, out := call(t, s, tt.method, tt.path, tt.body, tt.hdr)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if tt.code == "" {
				return
			}
			if out["object"] != "error" || out["code"] != tt.code || out["status"] != float64(tt.status) || out["message"] == "" {
				t.Errorf("error answer %v, want Notion's error object with code %s", out, tt.code)
			}
		})
	}
	if got := len(s.Content(pageID)); got != 103 {
		t.Errorf("page has %d blocks, want 103: rejected requests must change nothing", got)
	}
}

// TestFakeEnforcesRequestSizeLinksAndOptions: a body over 500KB or 1,000
// block elements, a link Notion cannot open and an option name with a comma
// are refused as Notion refuses them.
func TestFakeEnforcesRequestSizeLinksAndOptions(t *testing.T) {
	s := fast(t)
	db := s.NewDatabase()
	pageID := newPage(t, s, db, nil)
	linked := func(url string) []any {
		p := paragraph("see")
		p["paragraph"].(map[string]any)["rich_text"].([]any)[0].(map[string]any)["text"].(map[string]any)["link"] =
			map[string]any{"url": url}
		return []any{p}
	}
	big := make([]any, 100)
	for i := range big {
		big[i] = paragraph(strings.Repeat("漢", 1900)) // 5,700 bytes each
	}
	wide := make([]any, 11)
	for i := range wide {
		wide[i] = paragraph("item")
		wide[i].(map[string]any)["paragraph"].(map[string]any)["children"] = paragraphs(100)
	}
	tags := func(names ...string) map[string]any {
		var opts []any
		for _, n := range names {
			opts = append(opts, map[string]any{"name": n})
		}
		return map[string]any{"properties": map[string]any{"Tags": map[string]any{"multi_select": opts}}}
	}
	children := "/v1/blocks/" + pageID + "/children"
	for _, tt := range []struct {
		name, method, path string
		body               any
		status             int
		message            string
	}{
		{"body over 500KB", "PATCH", children, map[string]any{"children": big}, 400, "bytes"},
		{"1,100 block elements", "PATCH", children, map[string]any{"children": wide}, 400, "block elements"},
		{"relative link", "PATCH", children, map[string]any{"children": linked("./pricing.md")}, 400, "Invalid URL for link"},
		{"anchor link", "PATCH", children, map[string]any{"children": linked("#pricing")}, 400, "Invalid URL for link"},
		{"link without scheme", "PATCH", children, map[string]any{"children": linked("www.example.com")}, 400, "Invalid URL for link"},
		{"link over 2,000 characters", "PATCH", children,
			map[string]any{"children": linked("https://example.com/" + strings.Repeat("a", 1990))}, 400, "link.url.length"},
		{"comma in an option", "PATCH", "/v1/pages/" + pageID, tags("sales", "a, b"), 400, "commas not allowed"},
		{"https link", "PATCH", children, map[string]any{"children": linked("https://example.com/pricing#plans")}, 200, ""},
		{"mailto link", "PATCH", children, map[string]any{"children": linked("mailto:ada@example.com")}, 200, ""},
		{"options", "PATCH", "/v1/pages/" + pageID, tags("sales", "a; b"), 200, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, _, out := call(t, s, tt.method, tt.path, tt.body, nil)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if tt.message == "" {
				return
			}
			msg, _ := out["message"].(string)
			if out["object"] != "error" || out["code"] != "validation_error" || !strings.Contains(msg, tt.message) {
				t.Errorf("error answer %v, want a validation_error saying %q", out, tt.message)
			}
		})
	}
	if got := len(s.Content(pageID)); got != 2 {
		t.Errorf("page has %d blocks, want the 2 accepted: rejected requests must change nothing", got)
	}
}

func TestFakePaginates(t *testing.T) {
	s := fast(t)
	db := s.NewDatabase()
	pageID := newPage(t, s, db, paragraphs(100))
	call(t, s, "PATCH", "/v1/blocks/"+pageID+"/children", map[string]any{"children": paragraphs(50)}, nil)
	var texts []string
	cursor := ""
	for pages := 0; ; pages++ {
		path := "/v1/blocks/" + pageID + "/children?page_size=40"
		if cursor != "" {
			path += "&start_cursor=" + cursor
		}
		status, _, out := call(t, s, "GET", path, nil, nil)
		if status != 200 || out["object"] != "list" {
			t.Fatalf("list: %d %v", status, out)
		}
		for _, r := range out["results"].([]any) {
			b := r.(map[string]any)
			texts = append(texts, b["paragraph"].(map[string]any)["rich_text"].([]any)[0].(map[string]any)["plain_text"].(string))
		}
		if out["has_more"] != true {
			if out["next_cursor"] != nil || pages != 3 {
				t.Errorf("last page %d: next_cursor %v", pages, out["next_cursor"])
			}
			break
		}
		cursor = out["next_cursor"].(string)
	}
	if len(texts) != 150 || texts[0] != "p0" || texts[100] != "p0" || texts[149] != "p49" {
		t.Errorf("listed %d blocks: %v...", len(texts), texts[:3])
	}
}

func TestFakeInsertsAfter(t *testing.T) {
	s := fast(t)
	pageID := newPage(t, s, s.NewDatabase(), []any{paragraph("a"), paragraph("c")})
	first := s.Content(pageID)[0].ID
	status, _, out := call(t, s, "PATCH", "/v1/blocks/"+pageID+"/children",
		map[string]any{"children": []any{paragraph("b")}, "after": first}, nil)
	if status != 200 || len(out["results"].([]any)) != 1 {
		t.Fatalf("append after: %d %v", status, out)
	}
	var got []string
	for _, b := range s.Content(pageID) {
		got = append(got, notion.PlainText(b.Content.RichText))
	}
	if strings.Join(got, "") != "abc" {
		t.Errorf("content %v, want a b c", got)
	}
	if status, _, _ := call(t, s, "DELETE", "/v1/blocks/"+first, nil, nil); status != 200 {
		t.Fatalf("delete: %d", status)
	}
	if n := len(s.Content(pageID)); n != 2 {
		t.Errorf("%d blocks after a delete, want 2", n)
	}
}

func TestFakeRateLimit(t *testing.T) {
	s := fakenotion.New(t.Cleanup, token, fakenotion.WithRateLimit(3, 3))
	db := s.NewDatabase()
	limited := 0
	for range 6 {
		status, hdr, out := call(t, s, "POST", "/v1/databases/"+db+"/query", map[string]any{}, nil)
		if status == http.StatusTooManyRequests {
			limited++
			if hdr.Get("Retry-After") != "1" || out["code"] != "rate_limited" {
				t.Errorf("429 with Retry-After %q and %v", hdr.Get("Retry-After"), out)
			}
		}
	}
	if limited < 2 || s.Count(fakenotion.KindRateLimited) != limited || s.Count(fakenotion.KindQueryDatabase) != 6-limited {
		t.Errorf("%d of 6 immediate requests limited at 3/s with bursts of 3; counts %d/%d", limited,
			s.Count(fakenotion.KindRateLimited), s.Count(fakenotion.KindQueryDatabase))
	}
}

func TestFakeCountsWrites(t *testing.T) {
	s := fast(t)
	pageID := newPage(t, s, s.NewDatabase(), nil)
	call(t, s, "GET", "/v1/pages/"+pageID, nil, nil)
	call(t, s, "PATCH", "/v1/pages/"+pageID, map[string]any{"archived": true}, nil)
	if s.Writes() != 2 || s.Count(fakenotion.KindRetrievePage) != 1 {
		t.Errorf("writes %d, retrieves %d; want 2 and 1", s.Writes(), s.Count(fakenotion.KindRetrievePage))
	}
	s.FailNext(1, 503, 0)
	if status, hdr, _ := call(t, s, "GET", "/v1/pages/"+pageID, nil, nil); status != 503 || hdr.Get("Retry-After") != "0" {
		t.Errorf("injected failure answered %d", status)
	}
}

func TestFakeLimitsRichTextArrays(t *testing.T) {
	s := fast(t)
	pageID := newPage(t, s, s.NewDatabase(), nil)
	rts := make([]any, 101)
	for i := range rts {
		rts[i] = map[string]any{"type": "text", "text": map[string]any{"content": "x"}}
	}
	status, _, out := call(t, s, "PATCH", "/v1/blocks/"+pageID+"/children", map[string]any{"children": []any{
		map[string]any{"type": "paragraph", "paragraph": map[string]any{"rich_text": rts}}}}, nil)
	if status != 400 || out["code"] != "validation_error" {
		t.Errorf("101 rich text objects: %d %v", status, out)
	}
}

func text(s string) map[string]any {
	return map[string]any{"type": "text", "text": map[string]any{"content": s}}
}

// row is a table_row block with a cell holding each of texts ("" for an
// empty cell).
func row(texts ...string) map[string]any {
	cells := make([]any, len(texts))
	for i, s := range texts {
		cells[i] = []any{}
		if s != "" {
			cells[i] = []any{text(s)}
		}
	}
	return map[string]any{"type": "table_row", "table_row": map[string]any{"cells": cells}}
}

func table(width int, rows ...any) map[string]any {
	t := map[string]any{"table_width": width, "has_column_header": true}
	if rows != nil {
		t["children"] = rows
	}
	return map[string]any{"type": "table", "table": t}
}

func image(file map[string]any, caption ...any) map[string]any {
	file["caption"] = append([]any{}, caption...)
	return map[string]any{"type": "image", "image": file}
}

func external(u string) map[string]any {
	return map[string]any{"type": "external", "external": map[string]any{"url": u}}
}

func TestFakeEnforcesTablesAndImages(t *testing.T) {
	s := fast(t)
	pageID := newPage(t, s, s.NewDatabase(), []any{table(2, row("a", "b"))})
	tableID := s.Content(pageID)[0].ID
	long := "https://example.com/" + strings.Repeat("x", 1981) + ".png" // 2,005 characters
	captions := make([]any, 101)
	for i := range captions {
		captions[i] = text("c")
	}
	tests := []struct {
		name, to string
		children []any
		status   int
	}{
		{"table with rows", pageID, []any{table(3, row("a", "", "c"), row("", "", ""))}, 200},
		{"table without rows", pageID, []any{table(2)}, 400},
		{"table of width 0", pageID, []any{table(0, row())}, 400},
		{"row narrower than the table", pageID, []any{table(3, row("a", "b"))}, 400},
		{"row wider than the table", pageID, []any{table(1, row("a", "b"))}, 400},
		{"paragraph in a table", pageID, []any{table(1, paragraph("p"))}, 400},
		{"cell of 2001 characters", pageID, []any{table(1, row(strings.Repeat("é", 2001)))}, 400},
		{"row on a page", pageID, []any{row("a", "b")}, 400},
		{"rows appended to a table", tableID, []any{row("c", "d"), row("", "")}, 200},
		{"row of the wrong width appended", tableID, []any{row("c")}, 400},
		{"paragraph appended to a table", tableID, []any{paragraph("p")}, 400},
		{"101 rows in one request", tableID, func() []any {
			rows := make([]any, 101)
			for i := range rows {
				rows[i] = row("x", "y")
			}
			return rows
		}(), 400},
		{"external image", pageID, []any{image(external("https://example.com/a.png"), text("A caption"))}, 200},
		{"image hosted by Notion", pageID, []any{image(map[string]any{"type": "file", "file": map[string]any{"url": "https://s3.example.com/a.png"}})}, 400},
		{"relative image", pageID, []any{image(external("img/a.png"))}, 400},
		{"image URL of 2005 characters", pageID, []any{image(external(long))}, 400},
		{"caption of 101 objects", pageID, []any{image(external("https://example.com/a.png"), captions...)}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, out := call(t, s, "PATCH", "/v1/blocks/"+tt.to+"/children", map[string]any{"children": tt.children}, nil)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if status != 200 && out["code"] != "validation_error" {
				t.Errorf("error %v, want validation_error", out)
			}
		})
	}
	if n := len(s.Content(pageID)); n != 3 {
		t.Errorf("page has %d blocks, want 3", n)
	}
	if rows := s.Content(tableID); len(rows) != 3 {
		t.Errorf("table has %d rows, want 3", len(rows))
	}
}

// TestFakeListsTableRowsAsChildren: a table shows has_children and no rows;
// its rows come from listing its children, cells with plain text.
func TestFakeListsTableRowsAsChildren(t *testing.T) {
	s := fast(t)
	pageID := newPage(t, s, s.NewDatabase(), []any{table(2, row("a", ""), row("c", "d")),
		image(external("https://example.com/a.png"), text("cap"))})
	_, _, page := call(t, s, "GET", "/v1/blocks/"+pageID+"/children", nil, nil)
	results := page["results"].([]any)
	tbl := results[0].(map[string]any)
	if tbl["has_children"] != true || tbl["table"].(map[string]any)["children"] != nil ||
		tbl["table"].(map[string]any)["has_row_header"] != false {
		t.Errorf("table as listed: %v", tbl)
	}
	img := results[1].(map[string]any)["image"].(map[string]any)
	if img["caption"].([]any)[0].(map[string]any)["plain_text"] != "cap" || img["type"] != "external" {
		t.Errorf("image as listed: %v", img)
	}
	_, _, rows := call(t, s, "GET", "/v1/blocks/"+tbl["id"].(string)+"/children", nil, nil)
	var got [][]string
	for _, r := range rows["results"].([]any) {
		b := r.(map[string]any)
		if b["type"] != "table_row" || b["has_children"] == true {
			t.Errorf("row %v", b)
		}
		var cells []string
		for _, c := range b["table_row"].(map[string]any)["cells"].([]any) {
			cell := ""
			for _, rt := range c.([]any) {
				cell += rt.(map[string]any)["plain_text"].(string)
			}
			cells = append(cells, cell)
		}
		got = append(got, cells)
	}
	if fmt.Sprint(got) != "[[a ] [c d]]" {
		t.Errorf("rows %v, want [[a ] [c d]]", got)
	}
}

// propertyDB returns a database with a property of each type the sync
// writes, and one it cannot.
func propertyDB(t *testing.T, s *fakenotion.Server) string {
	t.Helper()
	db := s.NewDatabase()
	for name, typ := range map[string]string{"Status": "select", "Stage": "status", "Topics": "multi_select",
		"Owner": "rich_text", "Priority": "number", "Published": "checkbox", "Due": "date", "Link": "url",
		"Mail": "email", "Phone": "phone_number", "Score": "formula", "People": "people"} {
		if err := s.AddProperty(db, name, typ); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func TestPropertyValues(t *testing.T) {
	s := fast(t)
	db := propertyDB(t, s)
	id := newPage(t, s, db, nil)
	tests := []struct {
		name  string
		value map[string]any
		want  string // "" for accepted, else part of the message
		shown string // for accepted values, part of the property as shown
	}{
		{"Status", map[string]any{"select": map[string]any{"name": "Draft"}}, "", `"name":"Draft"`},
		{"Status", map[string]any{"select": nil}, "", `"select":null`},
		{"Status", map[string]any{"select": 3}, "body.properties.Status.select should be an object or `null`, instead was `3`", ""},
		{"Status", map[string]any{"number": 3}, "Status is expected to be select.", ""},
		{"Status", map[string]any{"select": map[string]any{"name": "a,b"}}, "commas not allowed", ""},
		{"Status", map[string]any{"select": map[string]any{"name": ""}}, "should be populated", ""},
		{"Status", map[string]any{"select": map[string]any{"name": strings.Repeat("x", 101)}}, "name.length should be ≤ `100`", ""},
		{"Stage", map[string]any{"status": map[string]any{"name": "Done"}}, "", `"name":"Done"`},
		{"Stage", map[string]any{"status": map[string]any{"name": "Shipped"}}, "Invalid status option", ""},
		{"Stage", map[string]any{"status": nil}, "should be an object", ""},
		{"Topics", map[string]any{"multi_select": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}}, "", `"name":"b"`},
		{"Topics", map[string]any{"multi_select": "a"}, "should be an array", ""},
		{"Topics", map[string]any{"multi_select": options(101)}, "length should be ≤ `100`", ""},
		{"Owner", map[string]any{"rich_text": []any{map[string]any{"text": map[string]any{"content": "Ada"}}}}, "", `"plain_text":"Ada"`},
		{"Owner", map[string]any{"rich_text": "Ada"}, "should be an array", ""},
		{"Owner", map[string]any{"rich_text": []any{map[string]any{"text": map[string]any{"content": strings.Repeat("x", 2001)}}}},
			"content.length should be ≤ `2000`", ""},
		{"Priority", map[string]any{"number": 2.5}, "", `"number":2.5`},
		{"Priority", map[string]any{"number": nil}, "", `"number":null`},
		{"Priority", map[string]any{"number": "2"}, "should be a number or `null`", ""},
		{"Published", map[string]any{"checkbox": true}, "", `"checkbox":true`},
		{"Published", map[string]any{"checkbox": "yes"}, "should be a boolean", ""},
		{"Due", map[string]any{"date": map[string]any{"start": "2024-05-01"}}, "", `"start":"2024-05-01"`},
		{"Due", map[string]any{"date": map[string]any{"start": "2024-05-01T10:00:00Z"}}, "", `"start":"2024-05-01T10:00:00.000+00:00"`},
		{"Due", map[string]any{"date": map[string]any{"start": "tomorrow"}}, "valid ISO 8601 date", ""},
		{"Due", map[string]any{"date": map[string]any{}}, "start should be defined", ""},
		{"Link", map[string]any{"url": "https://example.com"}, "", `"url":"https://example.com"`},
		{"Link", map[string]any{"url": ""}, "should be populated or `null`", ""},
		{"Link", map[string]any{"url": "https://x/" + strings.Repeat("x", 2000)}, "length should be ≤ `2000`", ""},
		{"Mail", map[string]any{"email": "ada@example.com"}, "", `"email":"ada@example.com"`},
		{"Mail", map[string]any{"email": 1}, "should be a string or `null`", ""},
		{"Phone", map[string]any{"phone_number": "+1 555 0100"}, "", `"phone_number":"+1 555 0100"`},
		{"Score", map[string]any{"formula": map[string]any{"number": 1}}, "cannot write", ""},
		{"People", map[string]any{"people": []any{}}, "does not write", ""},
		{"Missing", map[string]any{"url": "https://example.com"}, "Missing is not a property that exists.", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.name, tt.value), func(t *testing.T) {
			status, _, out := call(t, s, "PATCH", "/v1/pages/"+id, map[string]any{"properties": map[string]any{tt.name: tt.value}}, nil)
			if tt.want != "" {
				if status != 400 || out["code"] != "validation_error" || !strings.Contains(fmt.Sprint(out["message"]), tt.want) {
					t.Errorf("answer %d %v, want 400 validation_error with %q", status, out, tt.want)
				}
				return
			}
			if status != 200 {
				t.Fatalf("answer %d %v", status, out)
			}
			shown, err := json.Marshal(out["properties"].(map[string]any)[tt.name])
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(shown), tt.shown) {
				t.Errorf("shown %s, want %s in it", shown, tt.shown)
			}
		})
	}
}

func options(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"name": fmt.Sprint("o", i)}
	}
	return out
}

func TestRetrieveDatabaseServesTheSchema(t *testing.T) {
	s := fast(t)
	db := propertyDB(t, s)
	status, _, out := call(t, s, "GET", "/v1/databases/"+db, nil, nil)
	if status != 200 || out["object"] != "database" {
		t.Fatalf("answer %d %v", status, out)
	}
	props := out["properties"].(map[string]any)
	for name, typ := range map[string]string{"Name": "title", "Tags": "multi_select", "Status": "select",
		"Due": "date", "Score": "formula"} {
		p, ok := props[name].(map[string]any)
		if !ok || p["type"] != typ || p["name"] != name {
			t.Errorf("property %s: %v, want type %s", name, props[name], typ)
		}
	}
	stage := props["Stage"].(map[string]any)["status"].(map[string]any)["options"].([]any)
	if len(stage) != 3 {
		t.Errorf("status options %v, want Notion's three", stage)
	}
	if status, _, _ := call(t, s, "GET", "/v1/databases/"+strings.Repeat("0", 32), nil, nil); status != 404 {
		t.Errorf("unknown database: %d, want 404", status)
	}
}

// TestFakeNamesWhoEditedAPage: GET /v1/users/me serves the integration's
// bot user; pages name, as partial users, the bot for writes through the
// API and a person for edits made as in Notion's editor.
func TestFakeNamesWhoEditedAPage(t *testing.T) {
	s := fast(t)
	db := s.NewDatabase()
	status, _, me := call(t, s, "GET", "/v1/users/me", nil, nil)
	bot, person := s.BotUser().ID, s.Person().ID
	if status != 200 || me["object"] != "user" || me["type"] != "bot" || me["id"] != bot || me["bot"] == nil {
		t.Fatalf("users/me: %d %v", status, me)
	}
	if bot == person || bot == "" || person == "" {
		t.Fatalf("bot %q and person %q", bot, person)
	}
	editors := func(id string) (created, edited any) {
		t.Helper()
		_, _, p := call(t, s, "GET", "/v1/pages/"+id, nil, nil)
		return p["created_by"], p["last_edited_by"]
	}
	user := func(id string) map[string]any { return map[string]any{"object": "user", "id": id} }
	viaAPI := newPage(t, s, db, paragraphs(1))
	inEditor, err := s.AddPage(db, "Made in Notion", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name            string
		do              func()
		page            string
		created, edited string
	}{
		{"created through the API", func() {}, viaAPI, bot, bot},
		{"created in Notion", func() {}, inEditor, person, person},
		{"edited in Notion", func() { must(t, s.EditPage(viaAPI, nil)) }, viaAPI, bot, person},
		{"appended to through the API", func() {
			call(t, s, "PATCH", "/v1/blocks/"+inEditor+"/children", map[string]any{"children": paragraphs(1)}, nil)
		}, inEditor, person, bot},
	}
	for _, st := range steps {
		st.do()
		created, edited := editors(st.page)
		if fmt.Sprint(created) != fmt.Sprint(user(st.created)) || fmt.Sprint(edited) != fmt.Sprint(user(st.edited)) {
			t.Errorf("%s: created_by %v, last_edited_by %v; want %s and %s", st.name, created, edited, st.created, st.edited)
		}
	}
}

// TestFakeFailAfter: the request of a kind that follows the given number
// of them fails once; other kinds, and the requests after, are answered.
func TestFakeFailAfter(t *testing.T) {
	s := fast(t)
	pageID := newPage(t, s, s.NewDatabase(), paragraphs(3))
	blocks := s.Content(pageID)
	s.FailAfter(fakenotion.KindDeleteBlock, 1, http.StatusInternalServerError)
	var got []int
	for _, b := range blocks {
		status, hdr, out := call(t, s, "DELETE", "/v1/blocks/"+b.ID, nil, nil)
		got = append(got, status)
		if status == 500 && (out["code"] != "internal_server_error" || hdr.Get("Retry-After") != "") {
			t.Errorf("injected failure %v, Retry-After %q", out, hdr.Get("Retry-After"))
		}
		if status, _, _ := call(t, s, "GET", "/v1/pages/"+pageID, nil, nil); status != 200 {
			t.Errorf("a request of another kind answered %d", status)
		}
	}
	if fmt.Sprint(got) != "[200 500 200]" || s.Count(fakenotion.KindInjected) != 1 || len(s.Content(pageID)) != 1 {
		t.Errorf("deletions answered %v, %d injected, %d blocks left", got, s.Count(fakenotion.KindInjected),
			len(s.Content(pageID)))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
