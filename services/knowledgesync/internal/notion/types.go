package notion

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxTextLength is the most characters one rich text object's content may
// hold.
const MaxTextLength = 2000

// MaxRichTextElements is the most rich text objects one rich text array (a
// rich_text property's value, a block's text) may hold: with
// [MaxTextLength] each, a rich_text value holds at most 200,000
// characters.
const MaxRichTextElements = 100

// MaxChildren is the most block children one request may carry in one array,
// and the largest page_size of a paginated request.
const MaxChildren = 100

// Limits of property values, as Notion documents them.
const (
	// MaxOptions is the most options one multi_select value may hold.
	MaxOptions = 100
	// MaxOptionLength is the most characters a select option's name may
	// hold.
	MaxOptionLength = 100
	// MaxEmailLength and MaxPhoneLength bound an email and a phone_number
	// value, in characters.
	MaxEmailLength = 200
	MaxPhoneLength = 200
)

// List is one page of a paginated list.
type List[T any] struct {
	Object     string  `json:"object"` // "list"
	Results    []T     `json:"results"`
	NextCursor *string `json:"next_cursor"`
	HasMore    bool    `json:"has_more"`
}

// Parent is where a page lives.
type Parent struct {
	Type       string `json:"type,omitempty"`
	DatabaseID string `json:"database_id,omitempty"`
	PageID     string `json:"page_id,omitempty"`
}

// Page is a Notion page object.
type Page struct {
	Object         string    `json:"object"` // "page"
	ID             string    `json:"id"`
	CreatedTime    time.Time `json:"created_time"`
	LastEditedTime time.Time `json:"last_edited_time"`
	// CreatedBy and LastEditedBy are the users who created the page and
	// edited it last, as partial users (object and id): a person in
	// Notion's editor, or the bot of an integration writing through the
	// API ([Client.BotUser] is this client's).
	CreatedBy    User                `json:"created_by,omitzero"`
	LastEditedBy User                `json:"last_edited_by,omitzero"`
	Archived     bool                `json:"archived"`
	InTrash      bool                `json:"in_trash,omitempty"`
	Parent       Parent              `json:"parent"`
	Properties   map[string]Property `json:"properties"`
	URL          string              `json:"url,omitempty"`
}

// User is a Notion user: a person, or the bot of an integration. Page
// objects name their users partially, by object and id only.
type User struct {
	Object string `json:"object"` // "user"
	ID     string `json:"id"`
	// Type is "person" or "bot"; empty in a partial user.
	Type string `json:"type,omitempty"`
	Name string `json:"name,omitempty"`
}

// Title returns the plain text of the page's title property.
func (p Page) Title() string {
	for _, prop := range p.Properties {
		if prop.Type == "title" {
			return PlainText(prop.Title)
		}
	}
	return ""
}

// Property is a page property value. Only the field of its Type is set;
// values of the types this package does not model (people, relation,
// files, formula, rollup...) are dropped when read.
type Property struct {
	ID          string         `json:"id,omitempty"`
	Type        string         `json:"type,omitempty"`
	Title       []RichText     `json:"title,omitempty"`
	RichText    []RichText     `json:"rich_text,omitempty"`
	MultiSelect []SelectOption `json:"multi_select,omitempty"`
	Select      *SelectOption  `json:"select,omitempty"`
	Status      *SelectOption  `json:"status,omitempty"`
	Number      *float64       `json:"number,omitempty"`
	Checkbox    *bool          `json:"checkbox,omitempty"`
	Date        *Date          `json:"date,omitempty"`
	URL         *string        `json:"url,omitempty"`
	Email       *string        `json:"email,omitempty"`
	PhoneNumber *string        `json:"phone_number,omitempty"`
}

// Date is the value of a date property: a date (2006-01-02) or a date and
// time (ISO 8601), and an optional end making it a range.
type Date struct {
	Start    string  `json:"start"`
	End      *string `json:"end,omitempty"`
	TimeZone *string `json:"time_zone,omitempty"`
}

// Nullable reports whether an empty value of the property type typ is
// written as null, which is how Notion clears it.
func Nullable(typ string) bool {
	switch typ {
	case "select", "status", "number", "date", "url", "email", "phone_number":
		return true
	}
	return false
}

// isEmpty reports whether p holds no value of its type.
func (p Property) isEmpty() bool {
	switch p.Type {
	case "select":
		return p.Select == nil
	case "status":
		return p.Status == nil
	case "number":
		return p.Number == nil
	case "date":
		return p.Date == nil
	case "url":
		return p.URL == nil
	case "email":
		return p.Email == nil
	case "phone_number":
		return p.PhoneNumber == nil
	case "multi_select":
		return len(p.MultiSelect) == 0
	case "title":
		return len(p.Title) == 0
	case "rich_text":
		return len(p.RichText) == 0
	}
	return false
}

// TitleProperty returns a title property value holding text.
func TitleProperty(text string) Property {
	return Property{Type: "title", Title: Text(text)}
}

// MultiSelectProperty returns a multi_select property value with the named
// options.
func MultiSelectProperty(names []string) Property {
	opts := make([]SelectOption, 0, len(names))
	for _, n := range names {
		opts = append(opts, SelectOption{Name: n})
	}
	return Property{Type: "multi_select", MultiSelect: opts}
}

// MarshalJSON writes an empty multi_select, title or rich_text value as an
// empty array, and an empty value of a [Nullable] type as null, which is
// how Notion clears them.
func (p Property) MarshalJSON() ([]byte, error) {
	type plain Property
	b, err := json.Marshal(plain(p))
	if err != nil {
		return nil, err
	}
	if !p.isEmpty() {
		return b, nil
	}
	empty := "[]"
	if Nullable(p.Type) {
		empty = "null"
	}
	sep := ","
	if len(b) == 2 { // {}
		sep = ""
	}
	return append(b[:len(b)-1], []byte(fmt.Sprintf("%s%q:%s}", sep, p.Type, empty))...), nil
}

// SelectOption is one option of a select or multi_select property.
type SelectOption struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name"`
	Color string `json:"color,omitempty"`
}

// RichText is a rich text object. Only text objects are written; mentions
// and equations read from Notion keep their PlainText.
type RichText struct {
	Type        string       `json:"type"`
	Text        *TextContent `json:"text,omitempty"`
	Annotations Annotations  `json:"annotations"`
	PlainText   string       `json:"plain_text,omitempty"`
	Href        *string      `json:"href,omitempty"`
}

// TextContent is the text of a rich text object.
type TextContent struct {
	Content string `json:"content"`
	Link    *Link  `json:"link,omitempty"`
}

// Link is a rich text link.
type Link struct {
	URL string `json:"url"`
}

// Annotations are the styles of a rich text object.
type Annotations struct {
	Bold          bool   `json:"bold"`
	Italic        bool   `json:"italic"`
	Strikethrough bool   `json:"strikethrough"`
	Underline     bool   `json:"underline"`
	Code          bool   `json:"code"`
	Color         string `json:"color,omitempty"`
}

// Content returns the text of r: its text content, else its plain text.
func (r RichText) Content() string {
	if r.Text != nil {
		return r.Text.Content
	}
	return r.PlainText
}

// URL returns the link of r, or "".
func (r RichText) URL() string {
	switch {
	case r.Text != nil && r.Text.Link != nil:
		return r.Text.Link.URL
	case r.Href != nil:
		return *r.Href
	}
	return ""
}

// Text returns text as rich text objects of at most [MaxTextLength]
// characters each.
func Text(text string) []RichText {
	var out []RichText
	for _, part := range SplitText(text) {
		out = append(out, RichText{Type: "text", Text: &TextContent{Content: part}})
	}
	return out
}

// SplitText cuts s into parts of at most [MaxTextLength] characters, never
// inside a character. The empty string gives no parts.
func SplitText(s string) []string {
	var parts []string
	for s != "" {
		if utf8.RuneCountInString(s) <= MaxTextLength {
			return append(parts, s)
		}
		n, i := 0, 0
		for i = range s {
			if n == MaxTextLength {
				break
			}
			n++
		}
		parts = append(parts, s[:i])
		s = s[i:]
	}
	return parts
}

// PlainText concatenates the text of rich text objects.
func PlainText(rt []RichText) string {
	var b bytes.Buffer
	for _, r := range rt {
		b.WriteString(r.Content())
	}
	return b.String()
}

// Block is a Notion block object. The content of the block types in
// [Supported] is decoded into Content; the content of any other type is kept
// verbatim in Raw, so such a block can be written back unchanged. Tables,
// their rows and images are among the latter: [TableBlock], [TableRowBlock]
// and [ImageBlock] make them, and [Block.TableContent],
// [Block.TableRowContent] and [Block.ImageContent] read them.
type Block struct {
	ID             string
	Type           string
	HasChildren    bool
	Archived       bool
	LastEditedTime time.Time
	// Content is the type-specific content of a supported block type.
	Content BlockContent
	// Raw is the type-specific content of any other block type, as JSON.
	Raw json.RawMessage
	// Children are the block's children: read with [Client.BlockTree], or
	// to be written with the block.
	Children []Block
}

// BlockContent is the type-specific content of the supported block types.
type BlockContent struct {
	RichText []RichText `json:"rich_text"`
	Checked  *bool      `json:"checked,omitempty"`  // to_do
	Language string     `json:"language,omitempty"` // code
}

// Supported block types, whose content is decoded into [BlockContent].
var Supported = map[string]bool{
	"paragraph": true, "heading_1": true, "heading_2": true, "heading_3": true,
	"bulleted_list_item": true, "numbered_list_item": true, "to_do": true,
	"quote": true, "code": true, "divider": true,
}

// blockJSON is the wire shape shared by reading and writing.
type blockJSON struct {
	Object         string    `json:"object"`
	ID             string    `json:"id,omitempty"`
	Type           string    `json:"type"`
	HasChildren    bool      `json:"has_children,omitempty"`
	Archived       bool      `json:"archived,omitempty"`
	LastEditedTime time.Time `json:"last_edited_time,omitzero"`
}

// MarshalJSON writes the block in Notion's shape, its children nested in its
// type object as the append and create endpoints take them.
func (b Block) MarshalJSON() ([]byte, error) {
	head, err := json.Marshal(blockJSON{Object: "block", ID: b.ID, Type: b.Type, HasChildren: b.HasChildren,
		Archived: b.Archived, LastEditedTime: b.LastEditedTime})
	if err != nil {
		return nil, err
	}
	body, err := b.contentJSON()
	if err != nil {
		return nil, err
	}
	typeKey, err := json.Marshal(b.Type)
	if err != nil {
		return nil, err
	}
	out := append(head[:len(head)-1], ',')
	out = append(out, typeKey...)
	out = append(out, ':')
	return append(append(out, body...), '}'), nil
}

// contentJSON is the block's type object, with its children if any.
func (b Block) contentJSON() ([]byte, error) {
	var fields map[string]json.RawMessage
	switch {
	case b.Type == "divider":
		fields = map[string]json.RawMessage{}
	case Supported[b.Type]:
		raw, err := json.Marshal(b.Content)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, err
		}
	case len(b.Raw) > 0:
		if err := json.Unmarshal(b.Raw, &fields); err != nil {
			return nil, fmt.Errorf("block %s: content: %w", b.Type, err)
		}
	}
	if fields == nil {
		fields = map[string]json.RawMessage{}
	}
	if len(b.Children) > 0 {
		raw, err := json.Marshal(b.Children)
		if err != nil {
			return nil, err
		}
		fields["children"] = raw
	} else {
		delete(fields, "children")
	}
	return json.Marshal(fields)
}

// UnmarshalJSON reads a block in Notion's shape.
func (b *Block) UnmarshalJSON(data []byte) error {
	var head blockJSON
	if err := json.Unmarshal(data, &head); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	*b = Block{ID: head.ID, Type: head.Type, HasChildren: head.HasChildren, Archived: head.Archived,
		LastEditedTime: head.LastEditedTime}
	body := all[head.Type]
	if len(body) == 0 {
		return nil
	}
	var withChildren struct {
		Children []Block `json:"children"`
	}
	if err := json.Unmarshal(body, &withChildren); err != nil {
		return fmt.Errorf("block %s: children: %w", head.Type, err)
	}
	b.Children = withChildren.Children
	if Supported[head.Type] {
		if err := json.Unmarshal(body, &b.Content); err != nil {
			return fmt.Errorf("block %s: %w", head.Type, err)
		}
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return fmt.Errorf("block %s: %w", head.Type, err)
	}
	delete(fields, "children")
	raw, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	b.Raw = raw
	return nil
}

// CodeLanguages are the languages Notion accepts for a code block.
var CodeLanguages = map[string]bool{
	"abap": true, "arduino": true, "bash": true, "basic": true, "c": true, "clojure": true,
	"coffeescript": true, "c++": true, "c#": true, "css": true, "dart": true, "diff": true,
	"docker": true, "elixir": true, "elm": true, "erlang": true, "flow": true, "fortran": true,
	"f#": true, "gherkin": true, "glsl": true, "go": true, "graphql": true, "groovy": true,
	"haskell": true, "html": true, "java": true, "javascript": true, "json": true, "julia": true,
	"kotlin": true, "latex": true, "less": true, "lisp": true, "livescript": true, "lua": true,
	"makefile": true, "markdown": true, "markup": true, "matlab": true, "mermaid": true,
	"nix": true, "objective-c": true, "ocaml": true, "pascal": true, "perl": true, "php": true,
	"plain text": true, "powershell": true, "prolog": true, "protobuf": true, "python": true,
	"r": true, "reason": true, "ruby": true, "rust": true, "sass": true, "scala": true,
	"scheme": true, "scss": true, "shell": true, "sql": true, "swift": true, "typescript": true,
	"vb.net": true, "verilog": true, "vhdl": true, "visual basic": true, "webassembly": true,
	"xml": true, "yaml": true, "java/c/c++/c#": true,
}

// ParseDate reads a date property's start or end as Notion writes it and
// takes it: an ISO 8601 date, or a date and time with or without an offset
// (seconds optional); the zero time if it is neither.
func ParseDate(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.DateOnly, time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
