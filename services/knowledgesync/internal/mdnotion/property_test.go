package mdnotion_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// The generated subset: headings, paragraphs of words with inline styles
// and links, nested bulleted, numbered and to-do lists, quotes, fenced code,
// dividers, GFM tables (any alignment, rows shorter or longer than the
// header, escaped pipes, code with pipes, empty cells) and images (alone or
// not, absolute or relative). Styled spans are separated from their
// neighbours by blanks.

var (
	plainWord = rapid.OneOf(
		rapid.StringMatching(`[A-Za-z0-9]{1,8}`),
		rapid.SampledFrom([]string{`\*`, `\_`, `#`, `&amp;`, `R&D`, `1.`, `-`, `(x)`, `a\[b\]`, `C#`, `"q"`, `it's`, `x>y`, `ü`, `🚀`, `a+b`, `50%`,
			`\|`, `a\|b`, `:--`, `-:`, `!`}),
	)
	styledWord = rapid.Custom(func(t *rapid.T) string {
		w := plainWord.Draw(t, "w")
		switch rapid.IntRange(0, 5).Draw(t, "style") {
		case 0:
			return "**" + w + "**"
		case 1:
			return "_" + w + "_"
		case 2:
			return "`" + strings.ReplaceAll(w, "`", "") + "`"
		case 3:
			return "~~" + w + "~~"
		case 4:
			return "[" + w + "](https://example.com/" + rapid.StringMatching(`[a-z0-9_]{0,6}`).Draw(t, "path") + ")"
		}
		return w
	})
	inline = rapid.Custom(func(t *rapid.T) string {
		return strings.Join(rapid.SliceOfN(styledWord, 1, 8).Draw(t, "words"), " ")
	})
)

func list(depth int) *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		kind := rapid.IntRange(0, 2).Draw(t, "kind")
		n := rapid.IntRange(1, 4).Draw(t, "items")
		var lines []string
		for i := range n {
			marker := "-"
			switch kind {
			case 1:
				marker = fmt.Sprintf("%d.", i+1)
			case 2:
				marker = rapid.SampledFrom([]string{"- [ ]", "- [x]"}).Draw(t, "box")
			}
			indent := strings.Repeat(" ", len(marker)+1)
			if kind == 2 {
				indent = "  "
			}
			lines = append(lines, marker+" "+inline.Draw(t, "item"))
			if depth < 2 && rapid.IntRange(0, 3).Draw(t, "nest") == 0 {
				for _, l := range strings.Split(list(depth+1).Draw(t, "sub"), "\n") {
					lines = append(lines, indent+l)
				}
			}
		}
		return strings.Join(lines, "\n")
	})
}

// cell is the text of a table cell: styled words, pipes escaped (in code
// spans too, as GFM wants), or nothing.
var cell = rapid.Custom(func(t *rapid.T) string {
	words := rapid.SliceOfN(styledWord, 0, 3).Draw(t, "words")
	if rapid.IntRange(0, 4).Draw(t, "code") == 0 {
		words = append(words, "`"+rapid.SampledFrom([]string{`a\|b`, `\|`, `x \| y`, `c`}).Draw(t, "piped")+"`")
	}
	return strings.Join(words, " ")
})

// table is a GFM table whose rows may be shorter or longer than its header.
var table = rapid.Custom(func(t *rapid.T) string {
	width := rapid.IntRange(1, 4).Draw(t, "width")
	row := func(n int) string {
		cells := rapid.SliceOfN(cell, n, n).Draw(t, "cells")
		return "| " + strings.Join(cells, " | ") + " |"
	}
	lines := []string{row(width), "|" + strings.Repeat(rapid.SampledFrom([]string{"---|", ":--|", "--:|", ":-:|", " - |"}).Draw(t, "align"), width)}
	for range rapid.IntRange(0, 4).Draw(t, "rows") {
		lines = append(lines, row(rapid.IntRange(1, width+2).Draw(t, "row width")))
	}
	return strings.Join(lines, "\n")
})

// image is an image, alone in its paragraph or not, at an absolute URL that
// names an image type or not, or at a relative path.
var image = rapid.Custom(func(t *rapid.T) string {
	alt := strings.Join(rapid.SliceOfN(plainWord, 0, 3).Draw(t, "alt"), " ")
	if rapid.Bool().Draw(t, "bold") && alt != "" {
		alt = "**" + alt + "**"
	}
	u := rapid.SampledFrom([]string{"https://example.com/a.png", "http://example.com/b/c.JPG?w=1", "https://example.com/photo",
		"img/a.png", "/abs/a.gif"}).Draw(t, "url")
	img := "![" + alt + "](" + u + ")"
	if rapid.IntRange(0, 3).Draw(t, "with text") == 0 {
		return inline.Draw(t, "text") + " " + img
	}
	return img
})

var block = rapid.Custom(func(t *rapid.T) string {
	switch rapid.IntRange(0, 8).Draw(t, "block") {
	case 0:
		return strings.Repeat("#", rapid.IntRange(1, 6).Draw(t, "level")) + " " + inline.Draw(t, "heading")
	case 1:
		return list(0).Draw(t, "list")
	case 2:
		return "> " + strings.Join(rapid.SliceOfN(inline, 1, 3).Draw(t, "quote"), "\n> ")
	case 3:
		lang := rapid.SampledFrom([]string{"", "go", "js", "python", "yaml", "text"}).Draw(t, "lang")
		code := rapid.SliceOfN(rapid.StringMatching(`[ -_a-~]{0,20}`), 1, 4).Draw(t, "code")
		return "```" + lang + "\n" + strings.Join(code, "\n") + "\n```"
	case 4:
		return rapid.SampledFrom([]string{"---", "***", "___"}).Draw(t, "divider")
	case 5:
		return table.Draw(t, "table")
	case 6:
		return image.Draw(t, "image")
	}
	return strings.Join(rapid.SliceOfN(inline, 1, 3).Draw(t, "lines"), "\n")
})

func TestRoundTripIsStable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		md := strings.Join(rapid.SliceOfN(block, 1, 8).Draw(t, "blocks"), "\n\n") + "\n"
		once := roundTrip(md)
		twice := roundTrip(once)
		if once != twice {
			t.Fatalf("not stable after one pass\n  input %q\n   once %q\n  twice %q", md, once, twice)
		}
		a, _ := json.Marshal(mdnotion.ToBlocks([]byte(once)))
		b, _ := json.Marshal(mdnotion.ToBlocks([]byte(twice)))
		if string(a) != string(b) {
			t.Fatalf("blocks differ after one pass for %q", once)
		}
		if strings.TrimSpace(md) != "" && len(mdnotion.ToBlocks([]byte(md))) == 0 {
			t.Fatalf("no blocks from %q", md)
		}
	})
}

// The Notion side: tables, images and paragraphs whose text has the
// characters Markdown gives a meaning to, in runs with styles and links
// separated by blanks (as on the Markdown side: emphasis next to
// punctuation may not read back).

var (
	runs = rapid.Custom(func(t *rapid.T) []notion.RichText {
		var out []notion.RichText
		for i, rt := range rapid.SliceOfN(run, 0, 3).Draw(t, "runs") {
			if i > 0 {
				out = append(out, notion.Text(" ")...)
			}
			out = append(out, rt)
		}
		return out
	})
	run = rapid.Custom(func(t *rapid.T) notion.RichText {
		text := rapid.StringMatching("[a-z0-9 |\\\\*_`\\[\\]<>&#:!~()-]{1,8}").Draw(t, "text")
		rt := notion.RichText{Type: "text", Text: &notion.TextContent{Content: text}}
		switch rapid.IntRange(0, 5).Draw(t, "style") {
		case 0:
			rt.Annotations.Bold = true
		case 1:
			rt.Annotations.Italic = true
		case 2:
			rt.Annotations.Code = true
		case 3:
			rt.Text.Link = &notion.Link{URL: "https://example.com/" + rapid.StringMatching(`[a-z|()]{0,4}`).Draw(t, "path")}
		}
		return rt
	})
	notionTable = rapid.Custom(func(t *rapid.T) notion.Block {
		width := rapid.IntRange(1, 4).Draw(t, "width")
		rows := make([][][]notion.RichText, rapid.IntRange(1, 4).Draw(t, "rows"))
		for i := range rows {
			rows[i] = rapid.SliceOfN(runs, width, width).Draw(t, "cells")
		}
		return notion.TableBlock(notion.Table{TableWidth: width, HasColumnHeader: rapid.Bool().Draw(t, "header")}, rows)
	})
	notionImage = rapid.Custom(func(t *rapid.T) notion.Block {
		u := rapid.SampledFrom([]string{"https://example.com/a.png", "https://example.com/a_(1).svg?x=|",
			"https://example.com/photo", "http://example.com/a.tiff#top"}).Draw(t, "url")
		return notion.ImageBlock(u, runs.Draw(t, "caption"))
	})
	notionParagraph = rapid.Custom(func(t *rapid.T) notion.Block {
		word := rapid.SampledFrom([]string{"a", "b|c", "|", ":--", "-|-", ":-:", "--:", "-", "!", "[x]", "1."})
		var lines []string
		for range rapid.IntRange(1, 3).Draw(t, "lines") {
			lines = append(lines, strings.Join(rapid.SliceOfN(word, 1, 4).Draw(t, "words"), rapid.SampledFrom([]string{" ", ""}).Draw(t, "sep")))
		}
		return notion.Block{Type: "paragraph", Content: notion.BlockContent{RichText: notion.Text(strings.Join(lines, "\n"))}}
	})
)

// cellTexts returns the plain text of every cell of the tables among blocks,
// without outer blanks, which Markdown does not keep.
func cellTexts(blocks []notion.Block) []string {
	var out []string
	for _, b := range blocks {
		for _, r := range b.Children {
			if row, ok := r.TableRowContent(); ok {
				for _, c := range row.Cells {
					out = append(out, strings.TrimSpace(notion.PlainText(c)))
				}
			}
		}
	}
	return out
}

// TestNotionBlocksRoundTrip: tables, images and paragraphs written as
// Markdown read back as the same blocks with the same text, and their
// Markdown is written again unchanged.
func TestNotionBlocksRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		blocks := rapid.SliceOfN(rapid.OneOf(notionTable, notionImage, notionParagraph), 1, 5).Draw(t, "blocks")
		md := mdnotion.ToMarkdown(blocks)
		back := mdnotion.ToBlocks(md)
		if again := mdnotion.ToMarkdown(back); string(again) != string(md) {
			t.Fatalf("Markdown changed on the way back\n first %q\nsecond %q", md, again)
		}
		if len(back) != len(blocks) {
			t.Fatalf("%d blocks read back from %q, want %d", len(back), md, len(blocks))
		}
		for i, b := range blocks {
			if back[i].Type != b.Type {
				t.Fatalf("block %d read back as %s, want %s, from %q", i, back[i].Type, b.Type, md)
			}
			if b.Type == "paragraph" && notion.PlainText(back[i].Content.RichText) != notion.PlainText(b.Content.RichText) {
				t.Fatalf("paragraph %q read back as %q from %q", notion.PlainText(b.Content.RichText),
					notion.PlainText(back[i].Content.RichText), md)
			}
		}
		if got, want := cellTexts(back), cellTexts(blocks); !slices.Equal(got, want) {
			t.Fatalf("cells %q read back as %q from %q", want, got, md)
		}
	})
}
