package mdnotion_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// findTable returns the first table among blocks and their children.
func findTable(blocks []notion.Block) (notion.Block, bool) {
	for _, b := range blocks {
		if b.Type == "table" {
			return b, true
		}
		if t, ok := findTable(b.Children); ok {
			return t, true
		}
	}
	return notion.Block{}, false
}

// cells returns a table's width and the plain text of its cells, a row a
// line, cells separated by " ¦ ".
func cells(t *testing.T, table notion.Block) (int, string) {
	t.Helper()
	tc, ok := table.TableContent()
	if !ok {
		t.Fatalf("not a table: %s %s", table.Type, table.Raw)
	}
	var rows []string
	for _, r := range table.Children {
		row, ok := r.TableRowContent()
		if !ok {
			t.Fatalf("table child %s is not a row", r.Type)
		}
		var texts []string
		for _, c := range row.Cells {
			if c == nil {
				t.Errorf("a cell is null, Notion wants []")
			}
			texts = append(texts, notion.PlainText(c))
		}
		rows = append(rows, strings.Join(texts, " ¦ "))
	}
	return tc.TableWidth, strings.Join(rows, "\n")
}

func TestTablesRoundTrip(t *testing.T) {
	tests := []struct {
		name, md string
		want     string // the Markdown read back, when normalized
		width    int
		cells    string
	}{
		{name: "plain", md: "| Name | Score |\n| --- | --- |\n| Ada | 3 |\n| Bob | 5 |\n",
			width: 2, cells: "Name ¦ Score\nAda ¦ 3\nBob ¦ 5"},
		{name: "escaped pipes in cells", md: "| a \\| b | c |\n| --- | --- |\n| \\| | x\\|y |\n",
			width: 2, cells: "a | b ¦ c\n| ¦ x|y"},
		{name: "empty cells", md: "| a |  |\n| --- | --- |\n|  | d |\n|  |  |\n",
			width: 2, cells: "a ¦ \n ¦ d\n ¦ "},
		{name: "inline code with a pipe", md: "| `a\\|b` | `\\|` |\n| --- | --- |\n| `x \\| y` | 2 |\n",
			width: 2, cells: "a|b ¦ |\nx | y ¦ 2"},
		{name: "row wider than the header", md: "| a | b |\n| --- | --- |\n| 1 | 2 | 3 |\n| 4 |\n",
			want:  "| a | b |  |\n| --- | --- | --- |\n| 1 | 2 | 3 |\n| 4 |  |  |\n",
			width: 3, cells: "a ¦ b ¦ \n1 ¦ 2 ¦ 3\n4 ¦  ¦ "},
		{name: "wider row with code, pipes and styles", md: "| a |\n| --- |\n| 1 | `x\\|y` | **b** \\| c |\n",
			want:  "| a |  |  |\n| --- | --- | --- |\n| 1 | `x\\|y` | **b** \\| c |\n",
			width: 3, cells: "a ¦  ¦ \n1 ¦ x|y ¦ b | c"},
		{name: "row shorter than the header", md: "| a | b | c |\n| --- | --- | --- |\n| 1 |\n",
			want:  "| a | b | c |\n| --- | --- | --- |\n| 1 |  |  |\n",
			width: 3, cells: "a ¦ b ¦ c\n1 ¦  ¦ "},
		{name: "alignment and padding normalized", md: "|Name  |  Score|\n|:-----|------:|\n|Ada   |  3    |\n",
			want:  "| Name | Score |\n| --- | --- |\n| Ada | 3 |\n",
			width: 2, cells: "Name ¦ Score\nAda ¦ 3"},
		{name: "outer pipes added", md: "a | b\n:-: | -\n1 | 2\n",
			want:  "| a | b |\n| --- | --- |\n| 1 | 2 |\n",
			width: 2, cells: "a ¦ b\n1 ¦ 2"},
		{name: "single column", md: "| a |\n| --- |\n| b |\n", width: 1, cells: "a\nb"},
		{name: "header only", md: "| a | b |\n| --- | --- |\n", width: 2, cells: "a ¦ b"},
		{name: "inline formatting", md: "| **bold** | _it_ | ~~gone~~ | [link](https://example.com/x) |\n| --- | --- | --- | --- |\n| `code` | a _b_ c | 1. no list | # no heading |\n",
			width: 4, cells: "bold ¦ it ¦ gone ¦ link\ncode ¦ a b c ¦ 1. no list ¦ # no heading"},
		{name: "escapes in cells", md: "| a\\\\b | \\*x\\* | &amp; | \\<t> |\n| --- | --- | --- | --- |\n| 1 | 2 | 3 | 4 |\n",
			want:  "| a\\\\b | \\*x\\* | & | \\<t> |\n| --- | --- | --- | --- |\n| 1 | 2 | 3 | 4 |\n",
			width: 4, cells: "a\\b ¦ *x* ¦ & ¦ <t>\n1 ¦ 2 ¦ 3 ¦ 4"},
		{name: "in a list item", md: "- item\n\n  | a | b |\n  | --- | --- |\n  | 1 | 2 |\n", width: 2, cells: "a ¦ b\n1 ¦ 2"},
		{name: "in a quote", md: "> | a |\n> | --- |\n> | 1 |\n", width: 1, cells: "a\n1"},
		{name: "between paragraphs", md: "before\n\n| a |\n| --- |\n| 1 |\n\nafter\n", width: 1, cells: "a\n1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRoundTrip(t, tt.md, tt.want)
			table, ok := findTable(mdnotion.ToBlocks([]byte(tt.md)))
			if !ok {
				t.Fatal("no table block")
			}
			tc, _ := table.TableContent()
			if !tc.HasColumnHeader || tc.HasRowHeader {
				t.Errorf("table %+v, want a column header only", tc)
			}
			if w, c := cells(t, table); w != tt.width || c != tt.cells {
				t.Errorf("width %d, cells\n%s\nwant width %d, cells\n%s", w, c, tt.width, tt.cells)
			}
		})
	}
}

func TestTableCellsKeepInlineFormatting(t *testing.T) {
	table, _ := findTable(mdnotion.ToBlocks([]byte("| **b** `c\\|d` [l](https://example.com/) |\n| --- |\n")))
	row, _ := table.Children[0].TableRowContent()
	cell := row.Cells[0]
	if len(cell) != 5 || !cell[0].Annotations.Bold || !cell[2].Annotations.Code || cell[2].Content() != "c|d" ||
		cell[4].URL() != "https://example.com/" {
		js, _ := json.Marshal(cell)
		t.Errorf("cell %s", js)
	}
}

// rows builds table_row contents from plain strings.
func rows(texts ...[]string) [][][]notion.RichText {
	out := make([][][]notion.RichText, len(texts))
	for i, r := range texts {
		for _, c := range r {
			out[i] = append(out[i], notion.Text(c))
		}
	}
	return out
}

func TestTablesFromNotion(t *testing.T) {
	withBreak := notion.TableBlock(notion.Table{TableWidth: 1}, rows([]string{"two\nlines"}))
	ragged := notion.TableBlock(notion.Table{TableWidth: 2}, rows([]string{"a", "b"}, []string{"c"}))
	mention := notion.TableBlock(notion.Table{TableWidth: 1}, [][][]notion.RichText{{{{Type: "mention", PlainText: "@Ada"}}}})
	tests := []struct {
		name  string
		table notion.Block
		md    string // "" for a placeholder
		cells string // read back from md
	}{
		{"column header", notion.TableBlock(notion.Table{TableWidth: 2, HasColumnHeader: true}, rows([]string{"a", "b"}, []string{"1", "2"})),
			"| a | b |\n| --- | --- |\n| 1 | 2 |\n", "a ¦ b\n1 ¦ 2"},
		{"no column header: the first row heads it", notion.TableBlock(notion.Table{TableWidth: 1}, rows([]string{"a"}, []string{"b"})),
			"| a |\n| --- |\n| b |\n", "a\nb"},
		{"row header: not kept", notion.TableBlock(notion.Table{TableWidth: 1, HasRowHeader: true}, rows([]string{"a"})),
			"| a |\n| --- |\n", "a"},
		{"pipes, backslashes and markup", notion.TableBlock(notion.Table{TableWidth: 3},
			rows([]string{"a|b", `c\`, "*x* _y_ `z`"}, []string{"|", `\|`, "- not a list"})),
			"| a\\|b | c\\\\ | \\*x\\* \\_y\\_ \\`z\\` |\n| --- | --- | --- |\n| \\| | \\\\\\| | - not a list |\n",
			"a|b ¦ c\\ ¦ *x* _y_ `z`\n| ¦ \\| ¦ - not a list"},
		{"outer blanks trimmed, empty cells", notion.TableBlock(notion.Table{TableWidth: 2}, rows([]string{"  a ", ""}, []string{" ", "b"})),
			"| a |  |\n| --- | --- |\n|  | b |\n", "a ¦ \n ¦ b"},
		{"code with a pipe", notion.TableBlock(notion.Table{TableWidth: 1}, [][][]notion.RichText{{{{Type: "text",
			Text: &notion.TextContent{Content: "a|b"}, Annotations: notion.Annotations{Code: true}}}}}),
			"| `a\\|b` |\n| --- |\n", "a|b"},
		{"a line break in a cell", withBreak, "", ""},
		{"a row of the wrong width", ragged, "", ""},
		{"a mention in a cell", mention, "", ""},
		{"no rows", notion.Block{Type: "table", Raw: json.RawMessage(`{"table_width":1,"has_column_header":true,"has_row_header":false}`)}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := string(mdnotion.ToMarkdown([]notion.Block{tt.table}))
			if tt.md == "" {
				if !strings.HasPrefix(md, "<!-- notion:block ") {
					t.Fatalf("markdown %q, want a placeholder", md)
				}
				a, _ := json.Marshal(tt.table)
				b, _ := json.Marshal(mdnotion.ToBlocks([]byte(md)))
				if "["+string(a)+"]" != string(b) {
					t.Errorf("placeholder read back as\n%s\nwant\n[%s]", b, a)
				}
				return
			}
			if md != tt.md {
				t.Errorf("markdown\n got %q\nwant %q", md, tt.md)
			}
			back, ok := findTable(mdnotion.ToBlocks([]byte(md)))
			if !ok {
				t.Fatalf("%q reads back without a table", md)
			}
			if _, c := cells(t, back); c != tt.cells {
				t.Errorf("cells read back\n%s\nwant\n%s", c, tt.cells)
			}
		})
	}
}

// TestNotionTextThatLooksLikeATable: a paragraph whose lines could read as
// a table's header and delimiter rows stays a paragraph.
func TestNotionTextThatLooksLikeATable(t *testing.T) {
	bold := func(s string) notion.RichText {
		return notion.RichText{Type: "text", Text: &notion.TextContent{Content: s}, Annotations: notion.Annotations{Bold: true}}
	}
	tests := []struct {
		name string
		rt   []notion.RichText
		want string // the text read back, when not rt's
	}{
		{"colon delimiter", notion.Text("a | b\n:-- | --"), ""},
		{"single column", notion.Text("a\n:-"), ""},
		{"centred", notion.Text("x\n:-:|:-:"), ""},
		{"pipes", notion.Text("| a |\n| - |\n| 1 |"), ""},
		{"hyphens", notion.Text("a|b\n-|-"), ""},
		{"after blanks in bold", append(notion.Text("a | b\n"), bold(" "), notion.RichText{Type: "text", Text: &notion.TextContent{Content: ":--|--"}}),
			"a | b\n:--|--"}, // a line's leading blanks are not kept
		{"colon text", notion.Text("note\n: not a delimiter"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := mdnotion.ToMarkdown([]notion.Block{{Type: "paragraph", Content: notion.BlockContent{RichText: tt.rt}}})
			back := mdnotion.ToBlocks(md)
			types := make([]string, len(back))
			for i, b := range back {
				types[i] = b.Type
			}
			want := tt.want
			if want == "" {
				want = notion.PlainText(tt.rt)
			}
			if !slices.Equal(types, []string{"paragraph"}) || notion.PlainText(back[0].Content.RichText) != want {
				t.Errorf("%q read back as %v %q", md, types, notion.PlainText(back[0].Content.RichText))
			}
		})
	}
}
