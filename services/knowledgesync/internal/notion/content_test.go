package notion_test

import (
	"encoding/json"
	"testing"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

func TestBlockContentInNotionsShape(t *testing.T) {
	tests := []struct {
		name  string
		block notion.Block
		want  string
	}{
		{"table with its rows", notion.TableBlock(notion.Table{TableWidth: 2, HasColumnHeader: true},
			[][][]notion.RichText{{notion.Text("a"), nil}}),
			`{"object":"block","type":"table","table":{"children":[{"object":"block","type":"table_row","table_row":{"cells":[[{"type":"text","text":{"content":"a"},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false}}],[]]}}],"has_column_header":true,"has_row_header":false,"table_width":2}}`},
		{"row to append", notion.TableRowBlock([][]notion.RichText{nil, notion.Text("b")}),
			`{"object":"block","type":"table_row","table_row":{"cells":[[],[{"type":"text","text":{"content":"b"},"annotations":{"bold":false,"italic":false,"strikethrough":false,"underline":false,"code":false}}]]}}`},
		{"external image", notion.ImageBlock("https://example.com/a.png", nil),
			`{"object":"block","type":"image","image":{"caption":[],"external":{"url":"https://example.com/a.png"},"type":"external"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.block)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("JSON\n got %s\nwant %s", got, tt.want)
			}
			var back notion.Block
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			again, _ := json.Marshal(back)
			if string(again) != tt.want {
				t.Errorf("decoded and encoded again:\n%s", again)
			}
		})
	}
}

func TestBlockContentAccessors(t *testing.T) {
	table := notion.TableBlock(notion.Table{TableWidth: 1}, [][][]notion.RichText{{notion.Text("x")}})
	image := notion.ImageBlock("https://example.com/a.png", notion.Text("cap"))
	if tc, ok := table.TableContent(); !ok || tc.TableWidth != 1 {
		t.Errorf("table content %+v %v", tc, ok)
	}
	if row, ok := table.Children[0].TableRowContent(); !ok || notion.PlainText(row.Cells[0]) != "x" {
		t.Errorf("row content %+v %v", row, ok)
	}
	if img, ok := image.ImageContent(); !ok || img.External.URL != "https://example.com/a.png" || notion.PlainText(img.Caption) != "cap" {
		t.Errorf("image content %+v %v", img, ok)
	}
	if _, ok := image.TableContent(); ok {
		t.Error("an image read as a table")
	}
	if _, ok := (notion.Block{Type: "image", Raw: json.RawMessage(`[1]`)}).ImageContent(); ok {
		t.Error("malformed content read as an image")
	}
}
