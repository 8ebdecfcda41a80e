package knowledgesync

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/goccy/go-yaml"
	"golang.org/x/text/unicode/norm"
)

// Conflict markers around the two versions of a page.
const (
	markerNotion = "<<<<<<< notion"
	markerSplit  = "======="
	markerLocal  = ">>>>>>> local"
)

func hashBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// remoteHash fingerprints what the sync copies of a Notion page: its title,
// tags, content as Markdown and, when properties are mapped, their values
// (props, from [propValues.fingerprint]; "" when none are mapped, which
// keeps the fingerprints of syncs without mapped properties).
func remoteHash(title string, tags []string, md []byte, props string) string {
	var b bytes.Buffer
	b.WriteString(title)
	b.WriteByte(0)
	b.WriteString(strings.Join(tags, "\x1f"))
	b.WriteByte(0)
	b.Write(md)
	if props != "" {
		b.WriteByte(0)
		b.WriteString(props)
	}
	return hashBytes(b.Bytes())
}

// composeFile writes a Markdown file: front matter with the title, the
// Notion id, the tags and the other properties in key order, then the body.
func composeFile(title, notionID string, tags []string, props map[string]any, body []byte) ([]byte, error) {
	front := yaml.MapSlice{{Key: keyTitle, Value: title}, {Key: keyNotionID, Value: notionID}}
	if len(tags) > 0 {
		front = append(front, yaml.MapItem{Key: keyTags, Value: tags})
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		front = append(front, yaml.MapItem{Key: k, Value: props[k]})
	}
	y, err := yaml.Marshal(front)
	if err != nil {
		return nil, fmt.Errorf("front matter: %w", err)
	}
	var b bytes.Buffer
	b.WriteString("---\n")
	b.Write(y)
	b.WriteString("---\n")
	if len(body) > 0 {
		b.WriteString("\n")
		b.Write(bytes.TrimLeft(body, "\n"))
	}
	return b.Bytes(), nil
}

// conflictBody keeps both versions of a page: the lines they share stay as
// they are, the lines in between are put between conflict markers, the
// Notion version first.
func conflictBody(notion, local []byte) []byte {
	a := strings.Split(strings.Trim(string(notion), "\n"), "\n")
	b := strings.Split(strings.Trim(string(local), "\n"), "\n")
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var out []string
	out = append(out, a[:pre]...)
	out = append(out, markerNotion)
	out = append(out, a[pre:len(a)-suf]...)
	out = append(out, markerSplit)
	out = append(out, b[pre:len(b)-suf]...)
	out = append(out, markerLocal)
	out = append(out, a[len(a)-suf:]...)
	return []byte(strings.Join(out, "\n") + "\n")
}

// hasMarkers reports whether a body holds an unresolved conflict.
func hasMarkers(body []byte) bool {
	for line := range bytes.Lines(body) {
		if string(bytes.TrimRight(line, "\r\n")) == markerNotion {
			return true
		}
	}
	return false
}

// slug makes a file name from a title: lowercase letters and digits joined
// by dashes.
func slug(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(strings.ToLower(title)) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= 80 {
			break
		}
	}
	if b.Len() == 0 {
		return "page"
	}
	return b.String()
}

// freePath returns a slash-separated path in dir for the title that no file
// uses yet, and that taken does not hold.
func freePath(dir, title string, taken map[string]bool) string {
	base := slug(title)
	for i := 1; ; i++ {
		name := base + ".md"
		if i > 1 {
			name = fmt.Sprintf("%s-%d.md", base, i)
		}
		if taken[name] {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, name)); os.IsNotExist(err) {
			return name
		}
	}
}

// writeFile replaces a file atomically.
func writeFile(dir, rel string, data []byte) error {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".knowledge-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}
