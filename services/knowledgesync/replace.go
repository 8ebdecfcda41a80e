package knowledgesync

import (
	"context"
	"fmt"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// replaceContent makes a page's content next, writing as little as it can:
// top-level blocks that read the same in Markdown are kept, the others are
// deleted, and the new ones are inserted after the block they follow. Child
// pages and databases are never deleted. Blocks are compared as Markdown
// converted with opts.
func (s *NotionSync) replaceContent(ctx context.Context, pageID string, old, next []notion.Block,
	opts ...mdnotion.Option) error {
	keep := matchBlocks(old, next, opts...)
	if len(next) > 0 && keep[0] < 0 {
		// Notion can insert after a block, not before the first: a new first
		// block means writing the content again.
		for j := range keep {
			keep[j] = -1
		}
	}
	kept := make([]bool, len(old))
	for _, i := range keep {
		if i >= 0 {
			kept[i] = true
		}
	}
	for j := 0; j < len(next); {
		if keep[j] >= 0 {
			j++
			continue
		}
		run := j
		for j < len(next) && keep[j] < 0 {
			j++
		}
		after := ""
		if run > 0 {
			after = old[keep[run-1]].ID
		}
		if _, err := s.client.AppendChildren(ctx, pageID, after, next[run:j]); err != nil {
			return fmt.Errorf("write content: %w", err)
		}
	}
	for i, b := range old {
		if kept[i] || b.Type == "child_page" || b.Type == "child_database" {
			continue
		}
		if err := s.client.DeleteBlock(ctx, b.ID); err != nil && !notion.IsNotFound(err) {
			return fmt.Errorf("delete block: %w", err)
		}
	}
	return nil
}

// maxMatchCells bounds the table matchBlocks fills, one int32 a cell: past
// it, only the blocks both versions share at their start and at their end
// are kept, and the blocks between are written again.
const maxMatchCells = 1_000_000

// matchBlocks pairs old and next blocks that read the same, keeping their
// order (a longest common subsequence of what lies between the blocks both
// share at their start and end). keep[j] is the old index kept for next[j],
// or -1.
func matchBlocks(old, next []notion.Block, opts ...mdnotion.Option) []int {
	return matchKeys(keys(old, opts...), keys(next, opts...))
}

// matchKeys is matchBlocks over the blocks' keys.
func matchKeys(a, b []string) []int {
	keep := make([]int, len(b))
	for j := range keep {
		keep[j] = -1
	}
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		keep[pre] = pre
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		keep[len(b)-1-suf] = len(a) - 1 - suf
		suf++
	}
	a, b = a[pre:len(a)-suf], b[pre:len(b)-suf]
	if len(a)*len(b) <= maxMatchCells {
		matchMiddle(keep[pre:len(keep)-suf], a, b, pre)
	}
	return keep
}

// matchMiddle fills keep, one entry for each of b, with the index in a (plus
// offset) of a longest common subsequence of a and b.
func matchMiddle(keep []int, a, b []string, offset int) {
	n, m := len(a), len(b)
	w := m + 1
	lcs := make([]int32, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	for i, j := 0, 0; i < n && j < m; {
		switch {
		case a[i] == b[j]:
			keep[j] = offset + i
			i++
			j++
		case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			i++
		default:
			j++
		}
	}
}

// keys renders each block, with its children, to Markdown converted with
// opts: blocks that read the same are the same.
func keys(blocks []notion.Block, opts ...mdnotion.Option) []string {
	out := make([]string, len(blocks))
	for i, b := range blocks {
		out[i] = b.Type + "\x00" + string(mdnotion.ToMarkdown([]notion.Block{b}, opts...))
	}
	return out
}
