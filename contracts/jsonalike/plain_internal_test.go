package jsonalike

import (
	"bytes"
	"strings"
	"testing"
)

// TestHasControl holds the word-at-a-time scan to a byte-at-a-time one for
// every byte value at every place of a word and in the tail after it, among
// neighbours that could carry a borrow or hide one.
func TestHasControl(t *testing.T) {
	for _, fill := range []byte{' ', '"', 0x7f, 0x80, 0xff} {
		for n := 1; n <= 19; n++ {
			for at := range n {
				for c := range 256 {
					data := bytes.Repeat([]byte{fill}, n)
					data[at] = byte(c)
					want := false
					for _, b := range data {
						want = want || b < 0x20
					}
					if got := hasControl(data); got != want {
						t.Fatalf("hasControl(%q) = %v, want %v", data, got, want)
					}
				}
			}
		}
	}
}

// TestPlainStringsFastPath checks that documents taking the fast path (no
// escape, no control character) and those that do not get the same answer
// as the byte-at-a-time scan.
func TestPlainStringsFastPath(t *testing.T) {
	tests := []struct {
		doc  string
		want bool
	}{
		{`{"a":"b","c":[1,2,{"d":null}]}`, true},
		{`{"long":"` + strings.Repeat("x", 100) + `"}`, true},
		{"{\"a\":\n\t\"b\"}", true},
		{"{\"a\":\"b\x1f\"}", false},
		{"{\"a\":\"" + strings.Repeat("y", 13) + "\x00\"}", false},
		{`{"a":"\ud800"}`, false},
		{`{"a":"\\ud800"}`, true},
		{`{"a":"\n"}`, true},
	}
	for _, tt := range tests {
		if got := plainStrings([]byte(tt.doc)); got != tt.want {
			t.Errorf("plainStrings(%q) = %v, want %v", tt.doc, got, tt.want)
		}
	}
}
