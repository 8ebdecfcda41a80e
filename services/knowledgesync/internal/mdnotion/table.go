package mdnotion

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark/ast"
	extast "github.com/yuin/goldmark/extension/ast"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// table converts a GFM table to a table block with a column header: the
// header row is its first row. A body row with more cells than the header
// widens the table (GFM would drop the extra cells), so no text is lost;
// shorter rows get empty cells.
func (c converter) table(t *extast.Table) notion.Block {
	var rows [][][]notion.RichText
	width := 0
	for r := t.FirstChild(); r != nil; r = r.NextSibling() {
		cells := c.row(r, len(t.Alignments))
		width = max(width, len(cells))
		rows = append(rows, cells)
	}
	for i := range rows {
		for len(rows[i]) < width {
			rows[i] = append(rows[i], nil)
		}
	}
	return notion.TableBlock(notion.Table{TableWidth: width, HasColumnHeader: true}, rows)
}

// row converts the cells of a table row, the ones beyond the header's
// columns included.
func (c converter) row(r ast.Node, columns int) [][]notion.RichText {
	if line := c.rowLine(r); rowCells(line) > columns {
		if cells, ok := c.wideRow(line); ok {
			return cells
		}
	}
	var cells [][]notion.RichText
	for cell := r.FirstChild(); cell != nil; cell = cell.NextSibling() {
		cells = append(cells, fitRichText(c.inline(cell)))
	}
	return cells
}

// rowLine returns the source line of a body row; nil for the header row,
// which is never wider than the table.
func (c converter) rowLine(r ast.Node) []byte {
	start := r.Pos()
	if _, body := r.(*extast.TableRow); !body || start < 0 || start >= len(c.src) {
		return nil
	}
	line := c.src[start:]
	if end := bytes.IndexByte(line, '\n'); end >= 0 {
		line = line[:end]
	}
	return bytes.TrimSpace(line)
}

// rowCells counts the cells of a row's line as goldmark splits it: at pipes
// not escaped with a backslash, without the outer pipes.
func rowCells(line []byte) int {
	line = bytes.TrimPrefix(line, []byte("|"))
	if len(line) > 0 && line[len(line)-1] == '|' {
		line = line[:len(line)-1]
	}
	if len(line) == 0 {
		return 0
	}
	n := 1
	for i, ch := range line {
		if ch == '|' && (i == 0 || line[i-1] != '\\') {
			n++
		}
	}
	return n
}

// wideRow converts all the cells of a row wider than its table by reading
// the line again as the header of a table of its own width.
func (c converter) wideRow(line []byte) ([][]notion.RichText, bool) {
	n := rowCells(line)
	src := "|" + strings.TrimPrefix(string(line), "|") + "\n|" + strings.Repeat(" - |", n) + "\n"
	wide := converter{src: []byte(src), links: c.links}
	t, ok := parse(wide.src).FirstChild().(*extast.Table)
	if !ok || t.FirstChild() == nil || t.FirstChild().ChildCount() != n {
		return nil, false
	}
	var cells [][]notion.RichText
	for cell := t.FirstChild().FirstChild(); cell != nil; cell = cell.NextSibling() {
		cells = append(cells, fitRichText(wide.inline(cell)))
	}
	return cells, true
}

// fitRichText keeps a rich text array that has no block to continue in
// within Notion's 100 elements: the text beyond the 99th is kept without its
// styles.
func fitRichText(rts []notion.RichText) []notion.RichText {
	if len(rts) <= notion.MaxChildren {
		return rts
	}
	keep := rts[: notion.MaxChildren-1 : notion.MaxChildren-1]
	return append(keep, notion.Text(notion.PlainText(rts[notion.MaxChildren-1:]))...)
}

// tableExpressible reports whether a table reads back the same from GFM:
// rows of one cell a column, with text on one line.
func tableExpressible(b notion.Block) bool {
	t, ok := b.TableContent()
	if !ok || t.TableWidth < 1 || len(b.Children) == 0 {
		return false
	}
	for _, r := range b.Children {
		row, ok := r.TableRowContent()
		if !ok || len(row.Cells) != t.TableWidth || len(r.Children) > 0 {
			return false
		}
		for _, cell := range row.Cells {
			if !inlineText(cell) {
				return false
			}
		}
	}
	return true
}

// renderTable renders a table in GFM: its first row is the header row,
// every column is left unaligned, cells are set off by one blank.
func (rn renderer) renderTable(b notion.Block) string {
	t, _ := b.TableContent()
	lines := make([]string, 0, len(b.Children)+1)
	for i, r := range b.Children {
		row, _ := r.TableRowContent()
		lines = append(lines, rn.renderRow(row.Cells))
		if i == 0 {
			lines = append(lines, "|"+strings.Repeat(" --- |", t.TableWidth))
		}
	}
	return strings.Join(lines, "\n")
}

func (rn renderer) renderRow(cells [][]notion.RichText) string {
	var b strings.Builder
	b.WriteString("|")
	for _, cell := range cells {
		b.WriteString(" " + rn.renderCell(cell) + " |")
	}
	return b.String()
}

// renderCell renders a cell's text without its outer blanks, which GFM
// trims, and with every pipe escaped: in a cell, even one in a code span.
func (rn renderer) renderCell(rts []notion.RichText) string {
	return strings.ReplaceAll(rn.renderInlineAt(trimText(rts), false), "|", `\|`)
}

// trimText returns a copy of rich text without its outer blanks.
func trimText(rts []notion.RichText) []notion.RichText {
	rts = merge(rts)
	for len(rts) > 0 && strings.TrimSpace(rts[0].Text.Content) == "" {
		rts = rts[1:]
	}
	for len(rts) > 0 && strings.TrimSpace(rts[len(rts)-1].Text.Content) == "" {
		rts = rts[:len(rts)-1]
	}
	if len(rts) > 0 {
		rts[0].Text.Content = strings.TrimLeft(rts[0].Text.Content, " \t")
		last := rts[len(rts)-1].Text
		last.Content = strings.TrimRight(last.Content, " \t")
	}
	return rts
}
