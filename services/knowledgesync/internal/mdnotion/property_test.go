package mdnotion_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
)

// The generated subset: headings, paragraphs of words with inline styles
// and links, nested bulleted, numbered and to-do lists, quotes, fenced code
// and dividers. Styled spans are separated from their neighbours by blanks.

var (
	plainWord = rapid.OneOf(
		rapid.StringMatching(`[A-Za-z0-9]{1,8}`),
		rapid.SampledFrom([]string{`\*`, `\_`, `#`, `&amp;`, `R&D`, `1.`, `-`, `(x)`, `a\[b\]`, `C#`, `"q"`, `it's`, `x>y`, `ü`, `🚀`, `a+b`, `50%`}),
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

var block = rapid.Custom(func(t *rapid.T) string {
	switch rapid.IntRange(0, 6).Draw(t, "block") {
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
