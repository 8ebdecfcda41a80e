package mdnotion

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// ToMarkdown converts Notion blocks to Markdown ending in one newline, or to
// nothing when there are no blocks.
func ToMarkdown(blocks []notion.Block, opts ...Option) []byte {
	rn := renderer{links: configure(opts).links}
	s := rn.renderBlocks(blocks)
	if s == "" {
		return nil
	}
	return []byte(s + "\n")
}

// renderer renders blocks, mapping their links with links, if any.
type renderer struct {
	links Links
}

// renderBlocks renders blocks separated by blank lines, except consecutive
// items of one list.
func (rn renderer) renderBlocks(blocks []notion.Block) string {
	var b strings.Builder
	num := 0
	for i, blk := range blocks {
		if blk.Type == "numbered_list_item" {
			num++
		} else {
			num = 0
		}
		if i > 0 {
			if isItem(blk) && sameList(blocks[i-1], blk) {
				b.WriteString("\n")
			} else {
				b.WriteString("\n\n")
			}
		}
		b.WriteString(rn.renderBlock(blk, num))
	}
	return b.String()
}

func isItem(b notion.Block) bool {
	switch b.Type {
	case "bulleted_list_item", "numbered_list_item", "to_do":
		return expressible(b)
	}
	return false
}

// sameList reports whether b continues the list prev belongs to.
func sameList(prev, b notion.Block) bool {
	if !isItem(prev) {
		return false
	}
	return (prev.Type == "numbered_list_item") == (b.Type == "numbered_list_item")
}

// expressible reports whether a block has a Markdown form.
func expressible(b notion.Block) bool {
	switch b.Type {
	case "table":
		return tableExpressible(b)
	case "image":
		return imageExpressible(b)
	}
	if !notion.Supported[b.Type] {
		return false
	}
	switch b.Type {
	case "paragraph", "heading_1", "heading_2", "heading_3", "code", "divider":
		if len(b.Children) > 0 {
			return false
		}
	case "bulleted_list_item", "numbered_list_item", "to_do":
		if len(b.Content.RichText) == 0 && len(b.Children) == 0 {
			return false // a bare marker can read as a setext underline or a break
		}
	}
	for _, rt := range b.Content.RichText {
		if rt.Text == nil && rt.PlainText != "" && rt.Type != "text" {
			return false // a mention or an equation
		}
	}
	return true
}

// inlineText reports whether rich text has a Markdown form on one line:
// text without line breaks, no mention or equation.
func inlineText(rts []notion.RichText) bool {
	for _, rt := range rts {
		if rt.Text == nil && rt.PlainText != "" && rt.Type != "text" || strings.Contains(rt.Content(), "\n") {
			return false
		}
	}
	return true
}

func (rn renderer) renderBlock(b notion.Block, num int) string {
	if !expressible(b) {
		return renderPlaceholder(b)
	}
	switch b.Type {
	case "heading_1", "heading_2", "heading_3":
		text := strings.ReplaceAll(rn.renderInline(b.Content.RichText), "\n", " ")
		if strings.HasSuffix(text, "#") {
			text = text[:len(text)-1] + `\#`
		}
		return strings.Repeat("#", int(b.Type[len(b.Type)-1]-'0')) + " " + text
	case "paragraph":
		return rn.renderInline(b.Content.RichText)
	case "quote":
		return rn.renderQuote(b)
	case "code":
		return renderCode(b)
	case "divider":
		return "---"
	case "table":
		return rn.renderTable(b)
	case "image":
		return rn.renderImage(b)
	default:
		return rn.renderItem(b, num)
	}
}

func renderPlaceholder(b notion.Block) string {
	js, err := json.Marshal(stripIDs(b))
	if err != nil {
		js = []byte(fmt.Sprintf(`{"object":"block","type":%q}`, b.Type))
	}
	return placeholderOpen + string(js) + placeholderClose
}

// stripIDs drops what Notion sets itself, so the placeholder can be written
// back as a new block.
func stripIDs(b notion.Block) notion.Block {
	out := notion.Block{Type: b.Type, Content: b.Content, Raw: b.Raw}
	for _, ch := range b.Children {
		out.Children = append(out.Children, stripIDs(ch))
	}
	return out
}

func (rn renderer) renderQuote(b notion.Block) string {
	text := rn.renderInline(b.Content.RichText)
	children := rn.renderBlocks(b.Children)
	var body string
	switch {
	case children == "":
		body = text
	case text == "":
		body = children
	case isItem(b.Children[0]):
		body = text + "\n" + children
	default:
		body = text + "\n\n" + children
	}
	return prefixLines(body, "> ", ">")
}

// prefixLines prefixes every line of s, empty lines with empty.
func prefixLines(s, prefix, empty string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = empty
		} else {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

func renderCode(b notion.Block) string {
	content := notion.PlainText(b.Content.RichText)
	fence := "```"
	for strings.Contains(content, fence) {
		fence += "`"
	}
	return fence + fenceLanguage(b.Content.Language) + "\n" + content + "\n" + fence
}

func (rn renderer) renderItem(b notion.Block, num int) string {
	var marker string
	switch b.Type {
	case "numbered_list_item":
		marker = fmt.Sprintf("%d.", num)
	case "to_do":
		marker = "- [ ]"
		if b.Content.Checked != nil && *b.Content.Checked {
			marker = "- [x]"
		}
	default:
		marker = "-"
	}
	width := len(marker) + 1
	if b.Type == "to_do" {
		width = 2
	}
	indent := strings.Repeat(" ", width)
	text := rn.renderInline(b.Content.RichText)
	out := marker
	if text != "" {
		out += " " + strings.ReplaceAll(text, "\n", "\n"+indent)
	}
	if len(b.Children) == 0 {
		return out
	}
	children := prefixLines(rn.renderBlocks(b.Children), indent, "")
	if text == "" {
		// The first child starts on the marker's line: an empty marker line
		// could read as a setext underline.
		return marker + " " + strings.TrimPrefix(children, indent)
	}
	sep := "\n\n"
	if isItem(b.Children[0]) {
		sep = "\n"
	}
	return out + sep + children
}

// renderInline renders rich text that starts a line: runs with one link
// (after mapping) become one link, and each run's styles wrap it.
func (rn renderer) renderInline(rts []notion.RichText) string { return rn.renderInlineAt(rts, true) }

// renderInlineAt renders rich text, at the start of a line or not.
func (rn renderer) renderInlineAt(rts []notion.RichText, lineStart bool) string {
	rts = merge(rts)
	var b strings.Builder
	for i := 0; i < len(rts); {
		link := rn.dest(rts[i].URL())
		j := i + 1
		for j < len(rts) && rn.dest(rts[j].URL()) == link {
			j++
		}
		if link == "" {
			for _, rt := range rts[i:j] {
				b.WriteString(renderStyled(rt, &lineStart, b.String()))
			}
		} else {
			if s := b.String(); strings.HasSuffix(s, "!") {
				// "![" would open an image.
				b.Reset()
				b.WriteString(s[:len(s)-1] + `\!`)
			}
			var inner strings.Builder
			ls := false
			for _, rt := range rts[i:j] {
				inner.WriteString(renderStyled(rt, &ls, inner.String()))
			}
			b.WriteString("[" + inner.String() + "](" + destination(link) + ")")
			lineStart = false
		}
		i = j
	}
	return b.String()
}

// merge joins neighbouring rich text with the same style and link.
func merge(rts []notion.RichText) []notion.RichText {
	var out []notion.RichText
	for _, rt := range rts {
		text := rt.Content()
		if n := len(out); n > 0 && sameStyle(out[n-1], rt) {
			out[n-1].Text.Content += text
			continue
		}
		cp := notion.RichText{Type: "text", Annotations: rt.Annotations, Text: &notion.TextContent{Content: text}}
		if u := rt.URL(); u != "" {
			cp.Text.Link = &notion.Link{URL: u}
		}
		out = append(out, cp)
	}
	return out
}

func sameStyle(a, b notion.RichText) bool {
	x, y := a.Annotations, b.Annotations
	return x.Bold == y.Bold && x.Italic == y.Italic && x.Strikethrough == y.Strikethrough && x.Code == y.Code &&
		a.URL() == b.URL()
}

// renderStyled renders one run, moving its outer blanks outside the
// emphasis markers, which must hug text.
func renderStyled(rt notion.RichText, lineStart *bool, before string) string {
	text := rt.Content()
	a := rt.Annotations
	if !a.Code && !a.Bold && !a.Italic && !a.Strikethrough || strings.TrimSpace(text) == "" {
		s := escape(text, *lineStart)
		if s != "" {
			*lineStart = atLineStart(s, *lineStart)
		}
		return s
	}
	core := strings.TrimSpace(text)
	lead := text[:strings.Index(text, core)]
	trail := text[len(lead)+len(core):]
	var s string
	if a.Code {
		s = codeSpan(core)
	} else {
		s = escape(core, false)
	}
	if a.Italic {
		m := "_"
		prev, _ := utf8.DecodeLastRuneInString(before + lead)
		if isWordRune(prev) || strings.HasPrefix(s, "_") {
			m = "*"
		}
		s = m + s + m
	}
	if a.Bold {
		s = "**" + s + "**"
	}
	if a.Strikethrough {
		s = "~~" + s + "~~"
	}
	out := escape(lead, *lineStart) + s + escape(trail, false)
	*lineStart = atLineStart(out, false)
	return out
}

// atLineStart reports whether what follows s is still at the start of a
// line: s ends in a line break and blanks, or holds only blanks and was
// itself at the start.
func atLineStart(s string, wasAtStart bool) bool {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.Trim(s[i+1:], " \t") == ""
	}
	return wasAtStart && strings.Trim(s, " \t") == ""
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func codeSpan(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	ticks := "`"
	for strings.Contains(s, ticks) {
		ticks += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") ||
		(strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") && strings.TrimSpace(s) != "") {
		s = " " + s + " "
	}
	return ticks + s + ticks
}

// destination writes a link destination, in angle brackets when it has
// blanks or parentheses.
func destination(u string) string {
	if strings.ContainsAny(u, " ()<>\t\n") {
		r := strings.NewReplacer("<", `\<`, ">", `\>`, "\n", "%0A")
		return "<" + r.Replace(u) + ">"
	}
	return strings.ReplaceAll(u, `\`, `\\`)
}

// delimiterRow reports whether the line s starts could read as the
// delimiter row of a GFM table, which would turn the line above into a
// table's header: only blanks, pipes, colons and hyphens. A leading pipe or
// hyphen is escaped anyway; a leading colon is escaped where this says so.
func delimiterRow(s string) bool {
	line, _, _ := strings.Cut(s, "\n")
	return strings.Trim(line, " \t|:-") == "" && strings.Contains(line, "-")
}

var (
	entityRE     = regexp.MustCompile(`^&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});`)
	orderedRE    = regexp.MustCompile(`^([0-9]{1,9})([.)])`)
	alwaysEscape = "\\*_`[]<~"
	startEscape  = "#>-+=|"
)

// escape writes plain text so that Markdown reads it back unchanged: inline
// markup characters are escaped everywhere, block markers at the start of a
// line.
func escape(s string, lineStart bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if lineStart {
			if m := orderedRE.FindStringSubmatch(s[i:]); m != nil {
				b.WriteString(m[1] + `\` + m[2])
				i += len(m[0]) - 1
				lineStart = false
				continue
			}
			if c != ' ' && c != '\t' {
				lineStart = false
				if strings.IndexByte(startEscape, c) >= 0 || c == ':' && delimiterRow(s[i:]) {
					b.WriteByte('\\')
				}
			}
		}
		switch {
		case strings.IndexByte(alwaysEscape, c) >= 0:
			b.WriteByte('\\')
		case c == '&' && entityRE.MatchString(s[i:]):
			b.WriteByte('\\')
		case c == '\n':
			lineStart = true
		}
		b.WriteByte(c)
	}
	return b.String()
}
