package knowledgesync

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// paragraphs returns a paragraph block for each line of text.
func paragraphs(lines ...string) []notion.Block {
	out := make([]notion.Block, len(lines))
	for i, l := range lines {
		out[i] = notion.Block{Type: "paragraph", Content: notion.BlockContent{RichText: notion.Text(l)}}
	}
	return out
}

// numbered returns n lines "tag line i".
func numbered(n int, tag string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s line %d", tag, i)
	}
	return out
}

func TestMatchBlocks(t *testing.T) {
	big := numbered(1500, "same")
	for _, tt := range []struct {
		name      string
		old, next []string
		want      []int
	}{
		{"unchanged", []string{"a", "b", "c"}, []string{"a", "b", "c"}, []int{0, 1, 2}},
		{"one inserted", []string{"a", "c"}, []string{"a", "b", "c"}, []int{0, -1, 1}},
		{"one removed", []string{"a", "b", "c"}, []string{"a", "c"}, []int{0, 2}},
		{"changed in the middle", []string{"a", "x", "b", "c"}, []string{"a", "b", "y", "c"},
			[]int{0, 2, -1, 3}},
		{"all new", []string{"a", "b"}, []string{"c", "d"}, []int{-1, -1}},
		{"empty old", nil, []string{"a"}, []int{-1}},
		{"empty next", []string{"a"}, nil, []int{}},
		// 1,500 × 1,500 blocks between the shared start and end is past
		// the table's bound: only the start and the end are kept.
		{"too large to match the middle",
			slices.Concat([]string{"head"}, big, numbered(1500, "old"), []string{"tail"}),
			slices.Concat([]string{"head"}, numbered(1500, "new"), big, []string{"tail"}),
			slices.Concat([]int{0}, repeat(-1, 3000), []int{3001})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := matchBlocks(paragraphs(tt.old...), paragraphs(tt.next...))
			if !slices.Equal(got, tt.want) {
				t.Errorf("matchBlocks = %v\nwant %v", abbreviate(got), abbreviate(tt.want))
			}
		})
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func abbreviate(keep []int) string {
	s := fmt.Sprint(keep)
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// TestMatchBlocksMemoryIsBounded: two versions of 6,000 blocks with
// nothing in common once cost a 6,000 × 6,000 table (143 MiB); the table is
// now bounded, so matching their keys allocates little more than the
// result.
func TestMatchBlocksMemoryIsBounded(t *testing.T) {
	old, next := keys(paragraphs(numbered(6000, "a")...)), keys(paragraphs(numbered(6000, "b")...))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep := matchKeys(old, next)
	runtime.ReadMemStats(&after)
	const bound = 4 << 20 // the table at its bound, and keep; unbounded it was 143 MiB
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bound {
		t.Errorf("matching 6,000 × 6,000 blocks allocated %d MiB, want at most %d MiB", alloc>>20, bound>>20)
	}
	if strings.Count(fmt.Sprint(keep), "-1") != 6000 {
		t.Errorf("blocks kept between versions with nothing in common")
	}
}
