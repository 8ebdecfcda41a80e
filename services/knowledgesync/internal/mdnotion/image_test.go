package mdnotion_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// findImage returns the first image among blocks and their children.
func findImage(blocks []notion.Block) (notion.Image, bool) {
	for _, b := range blocks {
		if img, ok := b.ImageContent(); ok {
			return img, true
		}
		if img, ok := findImage(b.Children); ok {
			return img, true
		}
	}
	return notion.Image{}, false
}

func TestImagesRoundTrip(t *testing.T) {
	tests := []struct {
		name, md string
		want     string // the Markdown read back, when normalized
		url      string // the image block's URL; "" when the image stays a link
		caption  string
	}{
		{name: "alone", md: "![A cat](https://example.com/cat.png)\n", url: "https://example.com/cat.png", caption: "A cat"},
		{name: "no alt text", md: "![](https://example.com/a.jpg)\n", url: "https://example.com/a.jpg"},
		{name: "styled alt text", md: "![A **big** `cat`](http://example.com/cat.GIF)\n", url: "http://example.com/cat.GIF", caption: "A big cat"},
		{name: "query string", md: "![x](https://cdn.example.com/a.webp?w=100&h=50)\n", url: "https://cdn.example.com/a.webp?w=100&h=50", caption: "x"},
		{name: "parentheses", md: "![x](<https://example.com/a(1).svg>)\n", url: "https://example.com/a(1).svg", caption: "x"},
		{name: "title dropped", md: "![x](https://example.com/a.png \"Title\")\n", want: "![x](https://example.com/a.png)\n",
			url: "https://example.com/a.png", caption: "x"},
		{name: "escapes in alt text", md: "![a \\[b\\] \\*c\\*](https://example.com/a.png)\n", url: "https://example.com/a.png", caption: "a [b] *c*"},
		{name: "in a list item", md: "- ![x](https://example.com/a.png)\n", url: "https://example.com/a.png", caption: "x"},
		{name: "in a to-do", md: "- [x] ![x](https://example.com/a.png)\n", url: "https://example.com/a.png", caption: "x"},
		{name: "in a quote", md: "> ![x](https://example.com/a.png)\n", url: "https://example.com/a.png", caption: "x"},
		{name: "relative path", md: "![x](img/a.png)\n", want: "x\n"}, // Notion links no relative path
		{name: "relative path without alt text", md: "![](img/a.png)\n", want: "img/a.png\n"},
		{name: "local path", md: "![x](/home/me/a.png)\n", want: "x\n"},
		{name: "file URL", md: "![x](file:///home/me/a.png)\n", want: "x\n"},
		{name: "no image type in the URL", md: "![x](https://example.com/photo)\n", want: "[x](https://example.com/photo)\n"},
		{name: "blanks in the URL", md: "![x](<https://example.com/a b.png>)\n", want: "[x](https://example.com/a%20b.png)\n"},
		{name: "with text", md: "see ![x](https://example.com/a.png)\n", want: "see [x](https://example.com/a.png)\n"},
		{name: "two images", md: "![a](https://example.com/a.png) ![b](https://example.com/b.png)\n",
			want: "[a](https://example.com/a.png) [b](https://example.com/b.png)\n"},
		{name: "linked image", md: "[![x](https://example.com/a.png)](https://example.com/)\n",
			want: "[x](https://example.com/a.png)\n"},
		{name: "link in the alt text", md: "![a [b](https://example.com/) c](https://example.com/a.png)\n",
			want: "[a ](https://example.com/a.png)[b](https://example.com/)[ c](https://example.com/a.png)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRoundTrip(t, tt.md, tt.want)
			img, ok := findImage(mdnotion.ToBlocks([]byte(tt.md)))
			switch {
			case tt.url == "" && ok:
				t.Errorf("an image block for %q, want a link", img.External.URL)
			case tt.url == "":
			case !ok:
				t.Fatal("no image block")
			case img.Type != "external" || img.External.URL != tt.url || notion.PlainText(img.Caption) != tt.caption || img.Caption == nil:
				t.Errorf("image %+v, caption %q; want %s, caption %q", img, notion.PlainText(img.Caption), tt.url, tt.caption)
			}
		})
	}
}

func TestImageCaptionKeepsStyles(t *testing.T) {
	img, _ := findImage(mdnotion.ToBlocks([]byte("![A **big** cat](https://example.com/cat.png)\n")))
	if len(img.Caption) != 3 || !img.Caption[1].Annotations.Bold || img.Caption[1].Content() != "big" {
		js, _ := json.Marshal(img.Caption)
		t.Errorf("caption %s", js)
	}
}

// TestImageIsAChildOfItsItem: Notion cannot hold an image in a list item's
// text, so the image is the item's child, and an item with no text and an
// image child reads back the same.
func TestImageIsAChildOfItsItem(t *testing.T) {
	blocks := mdnotion.ToBlocks([]byte("- ![x](https://example.com/a.png)\n"))
	if len(blocks) != 1 || len(blocks[0].Content.RichText) != 0 || len(blocks[0].Children) != 1 || blocks[0].Children[0].Type != "image" {
		js, _ := json.Marshal(blocks)
		t.Errorf("blocks %s", js)
	}
}

func TestImagesFromNotion(t *testing.T) {
	image := func(raw string) notion.Block { return notion.Block{Type: "image", Raw: json.RawMessage(raw)} }
	tests := []struct {
		name  string
		block notion.Block
		md    string // "" for a placeholder
	}{
		{"external with a caption", notion.ImageBlock("https://example.com/a.png", notion.Text("A cat")), "![A cat](https://example.com/a.png)\n"},
		{"as Notion lists it", image(`{"caption":[{"type":"text","text":{"content":"cap","link":null},"annotations":{"bold":false,"italic":true,"strikethrough":false,"underline":false,"code":false,"color":"default"},"plain_text":"cap","href":null}],"type":"external","external":{"url":"https://example.com/a.jpeg"}}`),
			"![_cap_](https://example.com/a.jpeg)\n"},
		{"caption blanks trimmed", notion.ImageBlock("https://example.com/a.png", notion.Text("  cap ")), "![cap](https://example.com/a.png)\n"},
		{"caption markup escaped", notion.ImageBlock("https://example.com/a.png", notion.Text("[a] *b* ![c]")), "![\\[a\\] \\*b\\* !\\[c\\]](https://example.com/a.png)\n"},
		{"uploaded to Notion", image(`{"caption":[],"file":{"expiry_time":"2025-01-01T00:00:00.000Z","url":"https://s3.example.com/a.png"},"type":"file"}`), ""},
		{"URL without an image type", notion.ImageBlock("https://example.com/photo", nil), ""},
		{"link in the caption", notion.ImageBlock("https://example.com/a.png", []notion.RichText{{Type: "text",
			Text: &notion.TextContent{Content: "l", Link: &notion.Link{URL: "https://example.com/"}}}}), ""},
		{"line break in the caption", notion.ImageBlock("https://example.com/a.png", notion.Text("a\nb")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := string(mdnotion.ToMarkdown([]notion.Block{tt.block}))
			back := mdnotion.ToBlocks([]byte(md))
			if tt.md == "" {
				a, _ := json.Marshal([]notion.Block{tt.block})
				b, _ := json.Marshal(back)
				if !strings.HasPrefix(md, "<!-- notion:block ") || string(a) != string(b) {
					t.Errorf("markdown %q read back as %s, want a placeholder of %s", md, b, a)
				}
				return
			}
			if md != tt.md {
				t.Errorf("markdown\n got %q\nwant %q", md, tt.md)
			}
			want, _ := tt.block.ImageContent()
			got, ok := findImage(back)
			if !ok || got.External.URL != want.External.URL ||
				strings.TrimSpace(notion.PlainText(got.Caption)) != strings.TrimSpace(notion.PlainText(want.Caption)) {
				t.Errorf("read back %+v", got)
			}
		})
	}
}

// TestBangBeforeALinkStaysText: "!" followed by a link would read as an
// image; it is escaped.
func TestBangBeforeALinkStaysText(t *testing.T) {
	p := notion.Block{Type: "paragraph", Content: notion.BlockContent{RichText: []notion.RichText{
		{Type: "text", Text: &notion.TextContent{Content: "Wow!"}},
		{Type: "text", Text: &notion.TextContent{Content: "a", Link: &notion.Link{URL: "https://example.com/a.png"}}},
	}}}
	md := mdnotion.ToMarkdown([]notion.Block{p})
	if string(md) != "Wow\\![a](https://example.com/a.png)\n" {
		t.Errorf("markdown %q", md)
	}
	back := mdnotion.ToBlocks(md)
	if len(back) != 1 || back[0].Type != "paragraph" || notion.PlainText(back[0].Content.RichText) != "Wow!a" {
		t.Errorf("read back as %+v", back)
	}
}
