package knowledgesync_test

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gtmhub/gtmhub/services/knowledgesync"
)

func TestParseDocument(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		content  string
		want     knowledgesync.Document
		wantErrs []string // substrings of the error; nil: no error
	}{
		{
			name: "full front matter",
			file: "playbooks/outbound.md",
			content: "---\ntitle: Outbound playbook\nnotion_id: 1f2e3d4c5b6a79881f2e3d4c5b6a7988\n" +
				"tags: [sales, outbound]\nowner: ada\nreviewed: 03\nversions: [1.10, x]\n---\n# Ignored heading\nBody.\n",
			want: knowledgesync.Document{Title: "Outbound playbook", NotionID: "1f2e3d4c5b6a79881f2e3d4c5b6a7988",
				Tags:       []string{"sales", "outbound"},
				Properties: map[string]any{"owner": "ada", "reviewed": uint64(3), "versions": []any{1.1, "x"}},
				Texts:      map[string]any{"reviewed": "03", "versions": []any{"1.10", "x"}},
				Body:       []byte("# Ignored heading\nBody.\n")},
		},
		{
			name:    "one tag as a string, CRLF, BOM, dots closing",
			file:    "icp.md",
			content: "\ufeff---\r\ntitle: ICP\r\ntags: icp\r\n...\r\nText\r\n",
			want:    knowledgesync.Document{Title: "ICP", Tags: []string{"icp"}, Body: []byte("Text\r\n")},
		},
		{
			name:    "tags as a string of comma-separated tags",
			file:    "icp.md",
			content: "---\ntags: sales, outbound ,, icp\n---\nText\n",
			want:    knowledgesync.Document{Title: "icp", Tags: []string{"sales", "outbound", "icp"}, Body: []byte("Text\n")},
		},
		{
			name:    "empty front matter",
			file:    "notes/empty-front.md",
			content: "---\n---\n# From heading\n",
			want:    knowledgesync.Document{Title: "From heading", Body: []byte("# From heading\n")},
		},
		{
			name:    "no front matter, heading after a code fence",
			file:    "faq.md",
			content: "Intro\n\n```sh\n# not a heading\n```\n\n## Level two\n#Not a heading\n# Pricing FAQ ##\n",
			want: knowledgesync.Document{Title: "Pricing FAQ",
				Body: []byte("Intro\n\n```sh\n# not a heading\n```\n\n## Level two\n#Not a heading\n# Pricing FAQ ##\n")},
		},
		{
			name:    "no front matter, no heading",
			file:    "deep/folder/call-notes.md",
			content: "just text\n",
			want:    knowledgesync.Document{Title: "call-notes", Body: []byte("just text\n")},
		},
		{
			name:    "front matter without title falls back to the heading",
			file:    "a.md",
			content: "---\ntags: []\n---\n# C#\n",
			want:    knowledgesync.Document{Title: "C#", Tags: []string{}, Body: []byte("# C#\n")},
		},
		{
			name:     "unclosed front matter",
			file:     "broken/unclosed.md",
			content:  "---\ntitle: x\n# body\n",
			wantErrs: []string{"broken/unclosed.md", "no --- line closes it"},
		},
		{
			name:     "malformed YAML",
			file:     "broken/yaml.md",
			content:  "---\ntitle: [unclosed\n---\nbody\n",
			wantErrs: []string{"broken/yaml.md", "front matter: invalid YAML"},
		},
		{
			name:     "front matter is a list",
			file:     "broken/list.md",
			content:  "---\n- a\n- b\n---\n",
			wantErrs: []string{"broken/list.md", "front matter"},
		},
		{
			name:     "title of the wrong type",
			file:     "broken/title.md",
			content:  "---\ntitle: {a: 1}\n---\n",
			wantErrs: []string{"broken/title.md", "title must be a string"},
		},
		{
			name:     "tags of the wrong type",
			file:     "broken/tags.md",
			content:  "---\ntags: [a, {b: 1}]\n---\n",
			wantErrs: []string{"broken/tags.md", "tags[1] must be a string"},
		},
		{
			name:     "a tag with a comma",
			file:     "broken/comma.md",
			content:  "---\ntags: [sales, \"Doe, Jane\"]\n---\n",
			wantErrs: []string{"broken/comma.md", `tags[1] "Doe, Jane"`, "cannot hold a comma"},
		},
		{
			name:     "Latin-1 body",
			file:     "broken/cafe.md",
			content:  "# Caf\xe9\n\nPr\xe9sentation\n",
			wantErrs: []string{"broken/cafe.md", "not valid UTF-8", "byte 0xe9 at offset 5"},
		},
		{
			name:     "truncated sequence after a BOM and valid accents",
			file:     "broken/cut.md",
			content:  "\ufeff---\ntitle: Café\n---\nna\xc3",
			wantErrs: []string{"broken/cut.md", "not valid UTF-8", "byte 0xc3 at offset 26"},
		},
		{
			name:     "encoded surrogate",
			file:     "broken/surrogate.md",
			content:  "ok \xed\xa0\x80\n",
			wantErrs: []string{"broken/surrogate.md", "not valid UTF-8", "byte 0xed at offset 3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := knowledgesync.ParseDocument(tt.file, []byte(tt.content))
			if tt.wantErrs != nil {
				if err == nil {
					t.Fatalf("ParseDocument = %+v, want an error", got)
				}
				for _, want := range tt.wantErrs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDocument: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseDocument =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func FuzzParseDocument(f *testing.F) {
	f.Add("---\ntitle: x\n---\n# y\n")
	f.Add("---\n---\n")
	f.Add("---")
	f.Add("# t")
	f.Add("# Caf\xe9\n")
	f.Fuzz(func(t *testing.T, content string) {
		doc, err := knowledgesync.ParseDocument("fuzz.md", []byte(content))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.md: ") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if doc.Title == "" {
			t.Fatal("document without a title")
		}
		if !utf8.ValidString(doc.Title) || !utf8.Valid(doc.Body) {
			t.Fatalf("document %+v parsed from content that is not UTF-8", doc)
		}
	})
}
