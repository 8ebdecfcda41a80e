package notion

import (
	"encoding/json"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxURLLength is the most characters Notion accepts in a URL, such as an
// external file's or a link's.
const MaxURLLength = 2000

// MaxRequestBytes is the most bytes Notion takes in one request body (its
// documented 500KB, read as 500,000).
const MaxRequestBytes = 500_000

// MaxRequestElements is the most block elements, children included, one
// request may carry.
const MaxRequestElements = 1000

// ValidLinkURL reports whether Notion takes u as a rich text link: an
// absolute http or https URL with a host, or a mailto address, of at most
// [MaxURLLength] characters and without blanks. Notion refuses relative
// links ("./pricing.md", "#anchor") with "Invalid URL for link".
func ValidLinkURL(u string) bool {
	if u == "" || utf8.RuneCountInString(u) > MaxURLLength || strings.ContainsFunc(u, unicode.IsSpace) {
		return false
	}
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	switch strings.ToLower(p.Scheme) {
	case "http", "https":
		return p.Host != ""
	case "mailto":
		return p.Opaque != ""
	}
	return false
}

// Table is the content of a table block. Its rows are its children,
// table_row blocks: Notion creates a table only with at least one row sent
// as its child in the same request, and lists the rows only as the children
// of the table block (has_children is true), never inside it.
type Table struct {
	TableWidth      int  `json:"table_width"`
	HasColumnHeader bool `json:"has_column_header"`
	HasRowHeader    bool `json:"has_row_header"`
}

// TableRow is the content of a table_row block: one rich text array for each
// of its table's table_width cells.
type TableRow struct {
	Cells [][]RichText `json:"cells"`
}

// Image is the content of an image block: a file object and a caption. Only
// external images (Type "external") can be created through the API; images
// uploaded to Notion (Type "file") are read with a URL that expires.
type Image struct {
	Type     string        `json:"type"`
	External *ExternalFile `json:"external,omitempty"`
	Caption  []RichText    `json:"caption"`
}

// ExternalFile is a file object's link to a file hosted outside Notion.
type ExternalFile struct {
	URL string `json:"url"`
}

// TableBlock returns a table block whose children are a table_row for each
// of rows. Missing rich text arrays are written as empty ones.
func TableBlock(t Table, rows [][][]RichText) Block {
	b := Block{Type: "table", Raw: rawJSON(t)}
	for _, cells := range rows {
		b.Children = append(b.Children, TableRowBlock(cells))
	}
	return b
}

// TableRowBlock returns a table_row block with one cell for each of cells,
// to append to a table. Missing rich text arrays are written as empty ones.
func TableRowBlock(cells [][]RichText) Block {
	row := TableRow{Cells: make([][]RichText, len(cells))}
	for i, c := range cells {
		row.Cells[i] = nonNil(c)
	}
	return Block{Type: "table_row", Raw: rawJSON(row)}
}

// ImageBlock returns an image block showing the external file at url, with
// caption.
func ImageBlock(url string, caption []RichText) Block {
	return Block{Type: "image", Raw: rawJSON(Image{Type: "external", External: &ExternalFile{URL: url},
		Caption: nonNil(caption)})}
}

// TableContent returns the content of a table block.
func (b Block) TableContent() (Table, bool) { return rawContent[Table](b, "table") }

// TableRowContent returns the content of a table_row block.
func (b Block) TableRowContent() (TableRow, bool) { return rawContent[TableRow](b, "table_row") }

// ImageContent returns the content of an image block.
func (b Block) ImageContent() (Image, bool) { return rawContent[Image](b, "image") }

// rawContent decodes the content of a block of type typ kept in Raw.
func rawContent[T any](b Block, typ string) (T, bool) {
	var v T
	if b.Type != typ || json.Unmarshal(b.Raw, &v) != nil {
		return v, false
	}
	return v, true
}

// rawJSON encodes a block content struct of this file: strings, numbers,
// booleans and slices of them, which always encode.
func rawJSON(v any) json.RawMessage {
	raw, _ := json.Marshal(v)
	return raw
}

func nonNil(rt []RichText) []RichText {
	if rt == nil {
		return []RichText{}
	}
	return rt
}
