package knowledgesync

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Front-matter keys with a meaning of their own; every other key is kept in
// [Document.Properties].
const (
	keyTitle    = "title"
	keyNotionID = "notion_id"
	keyTags     = "tags"
)

// ErrNotUTF8 is wrapped by the error of a file that is not valid UTF-8.
var ErrNotUTF8 = errors.New("not valid UTF-8")

// ErrTagComma is wrapped by the error of a file with a tag, in a list of
// tags, holding a comma: Notion refuses commas in multi-select options.
var ErrTagComma = errors.New("a tag cannot hold a comma, as Notion's multi-select options cannot")

// Document is one parsed Markdown file.
type Document struct {
	// Title comes from the front matter's title, else the first level-one
	// heading, else the file name without its extension.
	Title string
	// NotionID is the Notion page the file is linked to, if any.
	NotionID string
	// Tags come from the front matter's tags: a list, or one string of
	// comma-separated tags.
	Tags []string
	// Properties are the other front-matter keys, as YAML decoded them.
	Properties map[string]any
	// Texts are those of Properties that YAML read as a number or a
	// boolean, as written: "007" for owner: 007, which YAML reads as 7,
	// "1.10" for 1.10; a list's such elements likewise. A property holding
	// text takes these.
	Texts map[string]any
	// Body is the Markdown after the front matter.
	Body []byte
}

// ParseDocument parses the Markdown file name (a slash-separated path, used
// for the fallback title and in errors) with content. YAML front matter is
// optional: a first line of "---", the YAML, and a closing "---" or "..."
// line. Content that is not valid UTF-8 ([ErrNotUTF8]), and front matter that
// is not closed, is not valid YAML, is not a mapping, or has a title,
// notion_id or tags of the wrong type, or a tag in a list holding a comma
// ([ErrTagComma]), are errors naming the file.
func ParseDocument(name string, content []byte) (Document, error) {
	if err := checkUTF8(content); err != nil {
		return Document{}, fmt.Errorf("%s: %w", name, err)
	}
	content = bytes.TrimPrefix(content, []byte("\ufeff"))
	front, body, found, err := splitFrontMatter(content)
	if err != nil {
		return Document{}, fmt.Errorf("%s: %w", name, err)
	}
	doc := Document{Body: body}
	if found {
		if err := doc.setFrontMatter(front); err != nil {
			return Document{}, fmt.Errorf("%s: front matter: %w", name, err)
		}
	}
	if doc.Title == "" {
		doc.Title = firstHeading(body)
	}
	if doc.Title == "" {
		doc.Title = strings.TrimSuffix(path.Base(name), path.Ext(name))
	}
	return doc, nil
}

// checkUTF8 reports the offset of the first byte of content that is not
// part of a valid UTF-8 sequence.
func checkUTF8(content []byte) error {
	for off := 0; off < len(content); {
		r, size := utf8.DecodeRune(content[off:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("%w: byte 0x%02x at offset %d; save the file as UTF-8", ErrNotUTF8, content[off], off)
		}
		off += size
	}
	return nil
}

// splitFrontMatter separates the front matter from the body. found is false
// when the content does not start with a "---" line.
func splitFrontMatter(content []byte) (front, body []byte, found bool, err error) {
	first, rest, _ := cutLine(content)
	if !isLine(first, "---") {
		return nil, content, false, nil
	}
	for off := 0; ; {
		line, next, more := cutLine(rest[off:])
		if isLine(line, "---") || isLine(line, "...") {
			return rest[:off], next, true, nil
		}
		if !more {
			return nil, nil, true, errors.New("front matter starts with --- but no --- line closes it")
		}
		off = len(rest) - len(next)
	}
}

// cutLine returns the first line of b without its line ending, and the rest
// after it. more is false when b has no line ending.
func cutLine(b []byte) (line, rest []byte, more bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil, false
	}
	return bytes.TrimSuffix(b[:i], []byte("\r")), b[i+1:], true
}

// isLine reports whether line is marker, ignoring trailing blanks.
func isLine(line []byte, marker string) bool {
	return string(bytes.TrimRight(line, " \t")) == marker
}

// setFrontMatter decodes front into d.
func (d *Document) setFrontMatter(front []byte) error {
	if len(bytes.TrimSpace(front)) == 0 {
		return nil
	}
	var props map[string]any
	// The leading newline stands for the opening --- line, so that the
	// positions in YAML errors are the file's lines.
	if err := yaml.Unmarshal(append([]byte("\n"), front...), &props); err != nil {
		return fmt.Errorf("invalid YAML: %s", yaml.FormatError(err, false, false))
	}
	if props == nil {
		return fmt.Errorf("want a mapping of keys to values")
	}
	var err error
	if d.Title, err = stringValue(props, keyTitle); err != nil {
		return err
	}
	if d.NotionID, err = stringValue(props, keyNotionID); err != nil {
		return err
	}
	if d.Tags, err = tagsValue(props); err != nil {
		return err
	}
	delete(props, keyTitle)
	delete(props, keyNotionID)
	delete(props, keyTags)
	if len(props) > 0 {
		d.Properties = props
		d.Texts = literalTexts(front, props)
	}
	return nil
}

// literalTexts returns the values of the top-level keys of front that YAML
// read as a number or a boolean, as written, by key; props are the values
// as decoded. A list gets its decoded elements with such elements as
// written.
func literalTexts(front []byte, props map[string]any) map[string]any {
	f, err := parser.ParseBytes(front, 0)
	if err != nil || len(f.Docs) == 0 {
		return nil
	}
	var pairs []*ast.MappingValueNode
	switch body := f.Docs[0].Body.(type) {
	case *ast.MappingNode:
		pairs = body.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{body}
	}
	out := map[string]any{}
	for _, kv := range pairs {
		key := kv.Key.GetToken().Value
		if text, ok := literalText(kv.Value); ok {
			out[key] = text
			continue
		}
		seq, isSeq := kv.Value.(*ast.SequenceNode)
		list, isList := props[key].([]any)
		if !isSeq || !isList || len(seq.Values) != len(list) {
			continue
		}
		texts, literal := slices.Clone(list), false
		for i, e := range seq.Values {
			if text, ok := literalText(e); ok {
				texts[i], literal = text, true
			}
		}
		if literal {
			out[key] = texts
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// literalText returns a YAML number or boolean as written.
func literalText(n ast.Node) (string, bool) {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

func stringValue(props map[string]any, key string) (string, error) {
	switch v := props[key].(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	default:
		return "", fmt.Errorf("%s must be a string, not %T", key, v)
	}
}

func tagsValue(props map[string]any) ([]string, error) {
	switch v := props[keyTags].(type) {
	case nil:
		return nil, nil
	case string:
		var tags []string
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
		return tags, nil
	case []any:
		tags := make([]string, 0, len(v))
		for i, t := range v {
			s, ok := t.(string)
			if !ok {
				return nil, fmt.Errorf("tags[%d] must be a string, not %T", i, t)
			}
			if strings.Contains(s, ",") {
				return nil, fmt.Errorf("tags[%d] %q: %w; write it as separate tags", i, s, ErrTagComma)
			}
			if s = strings.TrimSpace(s); s != "" {
				tags = append(tags, s)
			}
		}
		return tags, nil
	default:
		return nil, fmt.Errorf("tags must be a list of strings, not %T", v)
	}
}

// firstHeading returns the text of the first ATX level-one heading ("# Title")
// outside fenced code blocks, or "".
func firstHeading(body []byte) string {
	fence := ""
	for raw := range bytes.Lines(body) {
		line := strings.TrimRight(string(raw), " \t\r\n")
		trimmed := strings.TrimLeft(line, " ")
		if len(line)-len(trimmed) > 3 {
			continue // indented code
		}
		switch {
		case fence != "":
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
		case strings.HasPrefix(trimmed, "```"):
			fence = "```"
		case strings.HasPrefix(trimmed, "~~~"):
			fence = "~~~"
		case trimmed == "#" || strings.HasPrefix(trimmed, "# ") || strings.HasPrefix(trimmed, "#\t"):
			if title := headingText(trimmed[1:]); title != "" {
				return title
			}
		}
	}
	return ""
}

// headingText strips an ATX heading's optional closing sequence: "Title ##"
// is "Title", "C#" stays "C#".
func headingText(s string) string {
	s = strings.TrimSpace(s)
	if strings.Trim(s, "#") == "" {
		return ""
	}
	if i := strings.LastIndexAny(s, " \t"); i >= 0 && strings.Trim(s[i+1:], "#") == "" {
		s = strings.TrimSpace(s[:i])
	}
	return s
}
