package fakenotion

import (
	"encoding/json"
	"fmt"
	"net/url"
	"unicode/utf8"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// maxNesting is how many levels of children one request may create.
const maxNesting = 2

// container is what a children array is appended to: a table takes only
// table_row children with one cell per column, anything else takes none.
type container struct {
	table bool
	width int
}

// containerOf returns what the page or block id takes as children.
func (s *Server) containerOf(id string) container {
	if b, ok := s.blocks[id]; ok {
		return containerFor(b.Block)
	}
	return container{}
}

func containerFor(b notion.Block) container {
	t, ok := b.TableContent()
	return container{table: ok, width: t.TableWidth}
}

// checkRequest enforces the limits on the children array of a request
// appending to in.
func checkRequest(blocks []notion.Block, in container) error {
	if n := elements(blocks); n > notion.MaxRequestElements {
		return validation("body failed validation: a request may carry at most `%d` block elements, instead was `%d`.",
			notion.MaxRequestElements, n)
	}
	return checkBlocks("body.children", blocks, 1, in)
}

// elements counts blocks with their children.
func elements(blocks []notion.Block) int {
	n := len(blocks)
	for _, b := range blocks {
		n += elements(b.Children)
	}
	return n
}

// checkBlocks enforces the limits on a children array sent at depth (1 for
// the top level of a request) to in.
func checkBlocks(path string, blocks []notion.Block, depth int, in container) error {
	if len(blocks) > notion.MaxChildren {
		return validation("body failed validation: %s.length should be ≤ `%d`, instead was `%d`.",
			path, notion.MaxChildren, len(blocks))
	}
	if depth > maxNesting && len(blocks) > 0 {
		return validation("body failed validation: %s: a request may nest children at most %d levels deep.",
			path, maxNesting)
	}
	for i, b := range blocks {
		if b.Type == "" {
			return validation("body failed validation: %s[%d].type should be defined.", path, i)
		}
		bp := fmt.Sprintf("%s[%d].%s", path, i, b.Type)
		if err := checkPlace(bp, b, in); err != nil {
			return err
		}
		if err := checkBlock(bp, b, in); err != nil {
			return err
		}
		if err := checkBlocks(bp+".children", b.Children, depth+1, containerFor(b)); err != nil {
			return err
		}
	}
	return nil
}

// checkPlace enforces that table rows live in tables and only there.
func checkPlace(path string, b notion.Block, in container) error {
	switch {
	case in.table && b.Type != "table_row":
		return validation("body failed validation: %s: the children of a table must be table_row blocks.", path)
	case !in.table && b.Type == "table_row":
		return validation("body failed validation: %s: a table_row can only be a child of a table.", path)
	}
	return nil
}

// checkBlock enforces the rules on one block's content.
func checkBlock(path string, b notion.Block, in container) error {
	switch b.Type {
	case "child_page", "child_database":
		return validation("%s: blocks of this type cannot be created by appending.", path)
	case "code":
		if !notion.CodeLanguages[b.Content.Language] {
			return validation("body failed validation: %s.language should be one of Notion's languages, instead was `%s`.",
				path, b.Content.Language)
		}
	case "table":
		return checkTable(path, b)
	case "table_row":
		return checkRow(path, b, in.width)
	case "image":
		return checkImage(path, b)
	}
	return checkRichTexts(path+".rich_text", b.Content.RichText)
}

// checkTable enforces that a table has a width and is created with its rows.
func checkTable(path string, b notion.Block) error {
	t, ok := b.TableContent()
	if !ok || t.TableWidth < 1 {
		return validation("body failed validation: %s.table_width should be a number ≥ 1.", path)
	}
	if len(b.Children) == 0 {
		return validation("body failed validation: %s.children should be defined: a table is created with at least one table_row.",
			path)
	}
	return nil
}

// checkRow enforces one cell a column, each a valid rich text array.
func checkRow(path string, b notion.Block, width int) error {
	row, ok := b.TableRowContent()
	if !ok {
		return validation("body failed validation: %s.cells should be an array of rich text arrays.", path)
	}
	if len(row.Cells) != width {
		return validation("body failed validation: %s.cells.length should be the table's width `%d`, instead was `%d`.",
			path, width, len(row.Cells))
	}
	for i, cell := range row.Cells {
		if err := checkRichTexts(fmt.Sprintf("%s.cells[%d]", path, i), cell); err != nil {
			return err
		}
	}
	return nil
}

// checkImage enforces an external image with an absolute URL within
// Notion's URL limit, and a valid caption. Images hosted by Notion cannot
// be created through this API version.
func checkImage(path string, b notion.Block) error {
	img, ok := b.ImageContent()
	if !ok || img.Type != "external" || img.External == nil {
		return validation("body failed validation: %s.type should be `external`, with external.url defined.", path)
	}
	u := img.External.URL
	if n := utf8.RuneCountInString(u); n > notion.MaxURLLength {
		return validation("body failed validation: %s.external.url.length should be ≤ `%d`, instead was `%d`.",
			path, notion.MaxURLLength, n)
	}
	if p, err := url.Parse(u); err != nil || !p.IsAbs() || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
		return validation("body failed validation: %s.external.url should be a valid URL, instead was `%s`.", path, u)
	}
	return checkRichTexts(path+".caption", img.Caption)
}

// checkRichTexts enforces the limits on a rich text array.
func checkRichTexts(path string, rts []notion.RichText) error {
	if n := len(rts); n > notion.MaxChildren {
		return validation("body failed validation: %s.length should be ≤ `%d`, instead was `%d`.",
			path, notion.MaxChildren, n)
	}
	for i, rt := range rts {
		if err := checkRichText(fmt.Sprintf("%s[%d]", path, i), rt); err != nil {
			return err
		}
	}
	return nil
}

// rawAsShown returns the content of a block kept in Raw as Notion shows it:
// the table's flags all set, plain text filled in for a row's cells and an
// external image's caption. The block is made again from its content with
// the constructors the client writes with. An image hosted by Notion, which
// only a person in the editor adds, is kept as given.
func rawAsShown(b notion.Block) json.RawMessage {
	switch b.Type {
	case "table":
		if t, ok := b.TableContent(); ok {
			return notion.TableBlock(t, nil).Raw
		}
	case "table_row":
		if row, ok := b.TableRowContent(); ok {
			for i := range row.Cells {
				row.Cells[i] = withPlainText(row.Cells[i])
			}
			return notion.TableRowBlock(row.Cells).Raw
		}
	case "image":
		if img, ok := b.ImageContent(); ok && img.Type == "external" && img.External != nil {
			return notion.ImageBlock(img.External.URL, withPlainText(img.Caption)).Raw
		}
	}
	return b.Raw
}
