// Package mdnotion converts Markdown to Notion blocks and back.
//
// Markdown is parsed with goldmark and its GFM strikethrough, task-list and
// table extensions. Headings 1–3 (deeper ones become heading 3), paragraphs,
// bulleted, numbered and to-do lists with nesting, block quotes, fenced and
// indented code (with the language, when Notion knows it), thematic breaks
// and inline bold, italic, code, strikethrough and links map to their Notion
// counterparts. Only links to absolute http(s) URLs and mailto addresses
// within Notion's 2,000 characters are kept: a relative link
// ("./pricing.md", "#anchor"), which Notion refuses, keeps its text
// without the link. Rich text is split at Notion's 2,000-character limit, and a
// block with more than 100 rich text objects continues in paragraphs.
//
// [WithLinks] maps links between files and pages: converting Markdown, a
// link Notion refuses becomes a link to the URL the mapping gives for its
// destination (the page of the file "./pricing.md" names, say), and keeps
// its text only when the mapping gives none (an anchor, a file that is not
// synced); converting blocks, a link whose URL the mapping knows (that
// page's) is written with the mapping's destination ("./pricing.md").
// Images and autolinks are not mapped. Without the option, links are
// written as they are.
//
// A GFM table becomes a table block with a column header (the header row is
// its first table_row child) and a table_row for each row, each cell rich
// text with its inline styles. A row longer than the header widens the
// table rather than losing cells (GFM would drop them); shorter rows get
// empty cells. Written back, a table's first row is the header row whatever
// has_column_header says, has_row_header is not kept, columns are written
// unaligned ("| --- |"), cells are set off by one blank, without their
// outer blanks, and every pipe in a cell is escaped, in code spans too.
//
// An image alone in its paragraph (after a to-do's box) at an absolute
// http(s) URL whose path names an image type Notion documents (.png, .jpg,
// .gif, .svg, .webp...) becomes an external image block with the alt text,
// styles kept, as its caption; a title is dropped. In a list item or a
// quote it is a child of the item or quote, as Notion's text holds no
// image. Any other image stays a link to it, with its alt text, or its
// address when it has none, as the link text: the API cannot upload a
// relative or local file, and Notion has refused URLs that name no image
// type.
//
// A block with no Markdown form (an image uploaded to Notion, a callout, a
// toggle, a paragraph with children, a table with line breaks in its
// cells...) is written as one HTML comment,
//
//	<!-- notion:block {"object":"block","type":"callout",...} -->
//
// and read back into the same block, so a round trip through Markdown never
// drops it.
//
// Converting Markdown to blocks and back normalizes it (list markers,
// emphasis markers, escapes, blank lines, table alignment and padding);
// converting the result again changes nothing.
package mdnotion

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// placeholder prefix and suffix of a block kept as an HTML comment.
const (
	placeholderOpen  = "<!-- notion:block "
	placeholderClose = " -->"
)

// ToBlocks converts Markdown to Notion blocks.
func ToBlocks(md []byte, opts ...Option) []notion.Block {
	c := converter{src: md, links: configure(opts).links}
	return limitRichText(c.blocks(parse(md)))
}

// parse reads Markdown with the GFM extensions this package converts.
func parse(md []byte) ast.Node {
	p := goldmark.New(goldmark.WithExtensions(extension.Strikethrough, extension.TaskList, extension.Table)).Parser()
	return p.Parse(text.NewReader(md))
}

// limitRichText keeps every rich text array within Notion's 100 elements: a
// block with more continues in paragraphs after it.
func limitRichText(blocks []notion.Block) []notion.Block {
	out := make([]notion.Block, 0, len(blocks))
	for _, b := range blocks {
		b.Children = limitRichText(b.Children)
		rt := b.Content.RichText
		if len(rt) <= notion.MaxChildren {
			out = append(out, b)
			continue
		}
		b.Content.RichText = rt[:notion.MaxChildren]
		out = append(out, b)
		for rest := rt[notion.MaxChildren:]; len(rest) > 0; {
			n := min(len(rest), notion.MaxChildren)
			out = append(out, notion.Block{Type: "paragraph", Content: notion.BlockContent{RichText: rest[:n]}})
			rest = rest[n:]
		}
	}
	return out
}

// converter converts the Markdown src, mapping its links with links, if
// any.
type converter struct {
	src   []byte
	links Links
}

// blocks converts the block children of n.
func (c converter) blocks(n ast.Node) []notion.Block {
	var out []notion.Block
	for ch := n.FirstChild(); ch != nil; ch = ch.NextSibling() {
		out = append(out, c.block(ch)...)
	}
	return out
}

func (c converter) block(n ast.Node) []notion.Block {
	switch n := n.(type) {
	case *ast.Heading:
		typ := "heading_" + string(rune('0'+min(max(n.Level, 1), 3)))
		return []notion.Block{{Type: typ, Content: notion.BlockContent{RichText: c.inline(n)}}}
	case *ast.Paragraph, *ast.TextBlock:
		if img, ok := c.image(n); ok {
			return []notion.Block{img}
		}
		rt := c.inline(n)
		if len(rt) == 0 {
			return nil
		}
		return []notion.Block{{Type: "paragraph", Content: notion.BlockContent{RichText: rt}}}
	case *ast.List:
		return c.list(n)
	case *ast.Blockquote:
		q := notion.Block{Type: "quote", Content: notion.BlockContent{RichText: []notion.RichText{}}}
		first := n.FirstChild()
		if _, ok := first.(*ast.Paragraph); ok && !c.isImage(first) {
			q.Content.RichText = c.inline(first)
			first = first.NextSibling()
		}
		for ch := first; ch != nil; ch = ch.NextSibling() {
			q.Children = append(q.Children, c.block(ch)...)
		}
		return []notion.Block{q}
	case *ast.FencedCodeBlock:
		return []notion.Block{codeBlock(language(string(n.Language(c.src))), c.lines(n))}
	case *ast.CodeBlock:
		return []notion.Block{codeBlock("plain text", c.lines(n))}
	case *ast.ThematicBreak:
		return []notion.Block{{Type: "divider"}}
	case *extast.Table:
		return []notion.Block{c.table(n)}
	case *ast.HTMLBlock:
		raw := c.lines(n)
		if n.HasClosure() {
			raw += string(n.ClosureLine.Value(c.src))
		}
		if b, ok := placeholder(raw); ok {
			return []notion.Block{b}
		}
		raw = strings.TrimRight(raw, "\n")
		return []notion.Block{{Type: "paragraph", Content: notion.BlockContent{RichText: notion.Text(raw)}}}
	default:
		return c.blocks(n)
	}
}

// lines joins a block's raw lines, without the final line ending.
func (c converter) lines(n ast.Node) string {
	var b bytes.Buffer
	for i := 0; i < n.Lines().Len(); i++ {
		seg := n.Lines().At(i)
		b.Write(seg.Value(c.src))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func codeBlock(lang, content string) notion.Block {
	rt := notion.Text(content)
	if rt == nil {
		rt = []notion.RichText{}
	}
	return notion.Block{Type: "code", Content: notion.BlockContent{RichText: rt, Language: lang}}
}

// placeholder reads a block kept as an HTML comment.
func placeholder(raw string) (notion.Block, bool) {
	s := strings.TrimSpace(raw)
	if !strings.HasPrefix(s, placeholderOpen) || !strings.HasSuffix(s, placeholderClose) {
		return notion.Block{}, false
	}
	var b notion.Block
	js := strings.TrimSuffix(strings.TrimPrefix(s, placeholderOpen), placeholderClose)
	if err := json.Unmarshal([]byte(js), &b); err != nil || b.Type == "" {
		return notion.Block{}, false
	}
	return b, true
}

// list converts list items: bulleted, numbered or to-do.
func (c converter) list(l *ast.List) []notion.Block {
	var out []notion.Block
	for item := l.FirstChild(); item != nil; item = item.NextSibling() {
		b := notion.Block{Type: "bulleted_list_item", Content: notion.BlockContent{RichText: []notion.RichText{}}}
		if l.IsOrdered() {
			b.Type = "numbered_list_item"
		}
		first := item.FirstChild()
		switch first.(type) {
		case *ast.Paragraph, *ast.TextBlock:
			if box, ok := first.FirstChild().(*extast.TaskCheckBox); ok && !l.IsOrdered() {
				checked := box.IsChecked
				b.Type, b.Content.Checked = "to_do", &checked
			}
			if !c.isImage(first) {
				b.Content.RichText = c.inline(first)
				first = first.NextSibling()
			}
		}
		for ch := first; ch != nil; ch = ch.NextSibling() {
			b.Children = append(b.Children, c.block(ch)...)
		}
		out = append(out, b)
	}
	return out
}

// style is the formatting in effect while walking inline nodes.
type style struct {
	ann  notion.Annotations
	link string
}

// inline converts the inline children of n to rich text: merged where the
// style does not change, trimmed, and split at the length limit.
func (c converter) inline(n ast.Node) []notion.RichText {
	var segs []notion.RichText
	c.walkInline(n, style{}, &segs)
	return finish(segs)
}

func (c converter) walkInline(n ast.Node, st style, segs *[]notion.RichText) {
	for ch := n.FirstChild(); ch != nil; ch = ch.NextSibling() {
		switch ch := ch.(type) {
		case *extast.TaskCheckBox:
		case *ast.Text:
			add(segs, st, unescape(ch.Segment.Value(c.src)))
			switch {
			case ch.HardLineBreak(), ch.SoftLineBreak():
				add(segs, st, "\n")
			}
		case *ast.String:
			add(segs, st, string(ch.Value))
		case *ast.CodeSpan:
			code := st
			code.ann.Code = true
			var b strings.Builder
			for t := ch.FirstChild(); t != nil; t = t.NextSibling() {
				if txt, ok := t.(*ast.Text); ok {
					b.Write(txt.Segment.Value(c.src))
				} else if s, ok := t.(*ast.String); ok {
					b.Write(s.Value)
				}
			}
			add(segs, code, strings.ReplaceAll(b.String(), "\n", " "))
		case *ast.Emphasis:
			inner := st
			if ch.Level >= 2 {
				inner.ann.Bold = true
			} else {
				inner.ann.Italic = true
			}
			c.walkInline(ch, inner, segs)
		case *extast.Strikethrough:
			inner := st
			inner.ann.Strikethrough = true
			c.walkInline(ch, inner, segs)
		case *ast.Link:
			inner := st
			inner.link = c.linkDest(unescape(ch.Destination))
			c.walkInline(ch, inner, segs)
		case *ast.Image:
			// An image that is not an image block is a link to it; without
			// alt text, its text is its address.
			inner := st
			dest := unescape(ch.Destination)
			inner.link = linkTarget(dest)
			n := len(*segs)
			c.walkInline(ch, inner, segs)
			if len(*segs) == n {
				add(segs, inner, dest)
			}
		case *ast.AutoLink:
			inner := st
			dest := string(ch.URL(c.src))
			if ch.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(strings.ToLower(dest), "mailto:") {
				dest = "mailto:" + dest
			}
			inner.link = linkTarget(dest)
			add(segs, inner, string(ch.Label(c.src)))
		case *ast.RawHTML:
			var b strings.Builder
			for i := 0; i < ch.Segments.Len(); i++ {
				seg := ch.Segments.At(i)
				b.Write(seg.Value(c.src))
			}
			add(segs, st, b.String())
		default:
			c.walkInline(ch, st, segs)
		}
	}
}

// linkTarget returns a link's destination, blanks escaped, if Notion can
// link to it, else "" and the link's text stays as plain text: Notion
// refuses relative links ("./pricing.md", "#anchor") and URLs over its
// length limit.
func linkTarget(dest string) string {
	dest = strings.ReplaceAll(dest, " ", "%20")
	if notion.ValidLinkURL(dest) {
		return dest
	}
	return ""
}

// add appends text in style st, merging with the previous segment when the
// style is the same.
func add(segs *[]notion.RichText, st style, s string) {
	if s == "" {
		return
	}
	if n := len(*segs); n > 0 {
		last := &(*segs)[n-1]
		if last.Annotations == st.ann && last.URL() == st.link {
			last.Text.Content += s
			return
		}
	}
	rt := notion.RichText{Type: "text", Text: &notion.TextContent{Content: s}, Annotations: st.ann}
	if st.link != "" {
		rt.Text.Link = &notion.Link{URL: st.link}
	}
	*segs = append(*segs, rt)
}

// finish trims the text's outer blanks and line breaks, and splits long
// segments.
func finish(segs []notion.RichText) []notion.RichText {
	for len(segs) > 0 {
		first := segs[0].Text
		first.Content = strings.TrimLeft(first.Content, " \t\n")
		if first.Content != "" {
			break
		}
		segs = segs[1:]
	}
	for len(segs) > 0 {
		last := segs[len(segs)-1].Text
		last.Content = strings.TrimRight(last.Content, " \t\n")
		if last.Content != "" {
			break
		}
		segs = segs[:len(segs)-1]
	}
	out := make([]notion.RichText, 0, len(segs))
	for _, s := range segs {
		for _, part := range notion.SplitText(s.Text.Content) {
			cp := s
			cp.Text = &notion.TextContent{Content: part, Link: s.Text.Link}
			out = append(out, cp)
		}
	}
	return out
}

// unescape resolves backslash escapes and entity references in one pass, as
// CommonMark reads text.
func unescape(b []byte) string {
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '\\' && i+1 < len(b) && util.IsPunct(b[i+1]):
			out.WriteByte(b[i+1])
			i++
		case b[i] == '&':
			if j := bytes.IndexByte(b[i:min(len(b), i+40)], ';'); j > 0 {
				ref := b[i : i+j+1]
				if dec := util.ResolveNumericReferences(util.ResolveEntityNames(ref)); !bytes.Equal(dec, ref) {
					out.Write(dec)
					i += j
					continue
				}
			}
			out.WriteByte('&')
		default:
			out.WriteByte(b[i])
		}
	}
	return out.String()
}

// language maps a fenced code block's info word to a Notion language.
func language(info string) string {
	l := strings.ToLower(strings.TrimSpace(info))
	if alias, ok := languageAliases[l]; ok {
		return alias
	}
	if notion.CodeLanguages[l] {
		return l
	}
	return "plain text"
}

var languageAliases = map[string]string{
	"": "plain text", "text": "plain text", "txt": "plain text", "plaintext": "plain text", "plain": "plain text",
	"js": "javascript", "ts": "typescript", "sh": "shell", "zsh": "shell", "console": "shell", "py": "python",
	"yml": "yaml", "golang": "go", "rb": "ruby", "rs": "rust", "md": "markdown", "dockerfile": "docker",
	"cpp": "c++", "cs": "c#", "csharp": "c#", "fsharp": "f#", "objc": "objective-c", "vb": "visual basic",
	"kt": "kotlin", "tf": "plain text", "proto": "protobuf", "ps1": "powershell", "jsx": "javascript",
	"tsx": "typescript", "htm": "html", "make": "makefile",
}

// fenceLanguage is the info word written for a Notion language.
func fenceLanguage(lang string) string {
	switch lang {
	case "plain text", "":
		return ""
	case "visual basic":
		return "vb"
	case "java/c/c++/c#":
		return "java"
	}
	return lang
}
