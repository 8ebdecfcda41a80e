package knowledgesync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// linkTable maps the files of one sync to the URLs of their Notion pages
// and back, so that a relative link between two synced files is, in
// Notion, a link between their pages.
type linkTable struct {
	urls  map[string]string // page URL by file path
	files map[string]string // file path by page id, hyphen-less
	// waiting holds the files that get their page later in the sync.
	waiting map[string]bool
	// relinks are the pages written while a file they link to was
	// waiting for its page.
	relinks []relink
}

// relink is a page whose content, the body of the file at path, was
// written while a file it links to was waiting for its page.
type relink struct {
	id      string // hyphen-less
	path    string
	body    []byte
	written []notion.Block
}

// linksOf maps each file linked to a page of the database, and each page
// new in Notion to the path of its new file (newFiles, by page id); the
// files without a page wait for theirs.
func linksOf(local map[string]*localFile, remote map[string]*remoteSide, newFiles map[string]string,
	fresh []*localFile) *linkTable {
	t := &linkTable{urls: map[string]string{}, files: map[string]string{}, waiting: map[string]bool{}}
	for id, l := range local {
		if r := remote[id]; r != nil {
			t.add(l.Path, r.page)
		}
	}
	for id, p := range newFiles {
		t.add(p, remote[id].page)
	}
	for _, f := range fresh {
		t.waiting[f.Path] = true
	}
	return t
}

// add records that the file at path is synced with page.
func (t *linkTable) add(path string, page notion.Page) {
	if t == nil {
		return
	}
	t.urls[path] = notion.PageURL(page)
	t.files[normalizeID(page.ID)] = path
	delete(t.waiting, path)
}

// relinkLater records a page to write again once the files it links to
// have their pages.
func (t *linkTable) relinkLater(rl relink) {
	if t != nil {
		t.relinks = append(t.relinks, rl)
	}
}

// options are the conversion options of the file at path.
func (t *linkTable) options(path string) []mdnotion.Option {
	if t == nil {
		return nil
	}
	return []mdnotion.Option{mdnotion.WithLinks(t.forFile(path))}
}

func (t *linkTable) forFile(p string) *fileLinks {
	return &fileLinks{t: t, dir: path.Dir(p)}
}

// toBlocks converts the body of the file at path to Notion blocks, its
// links mapped; waits says a link named a file still waiting for its page,
// and stays text until then.
func (t *linkTable) toBlocks(path string, body []byte) (blocks []notion.Block, waits bool) {
	if t == nil {
		return mdnotion.ToBlocks(body), false
	}
	f := t.forFile(path)
	return mdnotion.ToBlocks(body, mdnotion.WithLinks(f)), f.waits
}

// toMarkdown converts the content of the page of the file at path to
// Markdown, its links mapped.
func (t *linkTable) toMarkdown(path string, blocks []notion.Block) []byte {
	return mdnotion.ToMarkdown(blocks, t.options(path)...)
}

// roundTrip is a file's body as Notion would give it back.
func (t *linkTable) roundTrip(path string, body []byte) (md []byte, blocks []notion.Block, waits bool) {
	blocks, waits = t.toBlocks(path, body)
	return t.toMarkdown(path, blocks), blocks, waits
}

// fileLinks is the [mdnotion.Links] of the file in the folder dir.
type fileLinks struct {
	t     *linkTable
	dir   string
	waits bool
}

// NotionURL gives a relative link to a synced file the URL of the file's
// page. The fragment is kept: Notion takes any absolute URL, its own links
// to a block are the page's URL and #<block id>, and one it does not know
// opens the page at its top; kept, the link reads back the same.
func (f *fileLinks) NotionURL(dest string) (string, bool) {
	file, fragment, ok := resolveLink(f.dir, dest)
	if !ok {
		return "", false
	}
	u, ok := f.t.urls[file]
	if !ok {
		f.waits = f.waits || f.t.waiting[file]
		return "", false
	}
	if fragment != "" {
		u += "#" + fragment
	}
	return u, true
}

// MarkdownDest gives a link to the page of a synced file the relative
// link from the folder dir to the file, with the URL's fragment.
func (f *fileLinks) MarkdownDest(u string) (string, bool) {
	id, ok := notion.PageIDOf(u)
	if !ok {
		return "", false
	}
	file, ok := f.t.files[id]
	if !ok {
		return "", false
	}
	dest := escapeDest(relativePath(f.dir, file), "%", " ", "#", "?")
	if p, err := url.Parse(u); err == nil && p.Fragment != "" {
		dest += "#" + escapeDest(p.Fragment, "%", " ")
	}
	return dest, true
}

// resolveLink returns the file, slash-separated in the knowledge folder, a
// relative link's destination names from the folder dir, with the path
// cleaned, and the link's fragment as written in a URL; false for a
// destination with a scheme, a host, a query or an absolute path, for an
// anchor alone and for a file outside the folder.
func resolveLink(dir, dest string) (file, fragment string, ok bool) {
	u, err := url.Parse(dest)
	if err != nil || u.Scheme != "" || u.Host != "" || u.RawQuery != "" || u.ForceQuery ||
		u.Path == "" || strings.HasPrefix(u.Path, "/") {
		return "", "", false
	}
	file = path.Join(dir, u.Path)
	if file == ".." || strings.HasPrefix(file, "../") {
		return "", "", false
	}
	return file, u.EscapedFragment(), true
}

// relativePath is the relative link from the folder dir to the file at
// target: "./pricing.md", "../sales/playbook.md".
func relativePath(dir, target string) string {
	var from []string
	if dir != "." {
		from = strings.Split(dir, "/")
	}
	to := strings.Split(target, "/")
	common := 0
	for common < len(from) && common < len(to)-1 && from[common] == to[common] {
		common++
	}
	parts := make([]string, 0, len(from)-common+len(to)-common)
	for range from[common:] {
		parts = append(parts, "..")
	}
	rel := strings.Join(append(parts, to[common:]...), "/")
	if !strings.HasPrefix(rel, "../") {
		rel = "./" + rel
	}
	return rel
}

// escapeDest percent-encodes the characters chars in s, a part of a link's
// destination; the others, letters of any script included, stay as
// written.
func escapeDest(s string, chars ...string) string {
	pairs := make([]string, 0, 2*len(chars))
	for _, c := range chars {
		pairs = append(pairs, c, fmt.Sprintf("%%%02X", c[0]))
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// relinkPages writes again the content of the pages written while a file
// they link to was waiting for its page, now that the files have theirs.
func (s *NotionSync) relinkPages(ctx context.Context, rep *Report) {
	if s.links == nil {
		return
	}
	for _, rl := range s.links.relinks {
		if err := s.relink(ctx, rl, rep); err != nil {
			rep.Errors = append(rep.Errors, fmt.Errorf("page %s: %w", rl.id, err))
		}
	}
	s.links.relinks = nil
}

// relink writes a page's links to the files that got their pages, and
// records the page's content in its state; the write is recorded in the
// state before it begins.
func (s *NotionSync) relink(ctx context.Context, rl relink, rep *Report) error {
	blocks, _ := s.links.toBlocks(rl.path, rl.body)
	if bytes.Equal(mdnotion.ToMarkdown(blocks), mdnotion.ToMarkdown(rl.written)) {
		return nil // none of the files it links to got a page
	}
	st, ok, err := s.loadState(ctx, rl.id)
	if err != nil || !ok {
		return err
	}
	rep.act("to notion: %s links → %s", rl.path, rl.id)
	tree, err := s.client.BlockTree(ctx, rl.id)
	if err != nil {
		return fmt.Errorf("read Notion page: %w", err)
	}
	md := s.links.toMarkdown(rl.path, blocks)
	if err := s.markWriting(ctx, rl.id, rl.path, st, contentWrite{LocalHash: st.LocalHash, Content: hashBytes(md)}); err != nil {
		return err
	}
	if err := s.replaceContent(ctx, rl.id, tree, blocks, s.links.options(rl.path)...); err != nil {
		return err
	}
	page, err := s.client.RetrievePage(ctx, rl.id)
	if err != nil {
		return err
	}
	written := &remoteSide{page: page}
	st.RemoteHash = s.remoteHashOf(page, written.tags(s.tagsKey), md)
	st.RemoteTime, st.SyncedAt, st.Writing = page.LastEditedTime, time.Now().UTC(), nil
	if err := s.saveState(ctx, rl.id, st); err != nil {
		return err
	}
	return s.synced(ctx, page.ID, page.Title(), contracts.DirectionToNotion, contracts.ActionUpdated, st)
}

// loadState reads the state of one page; false when it has none.
func (s *NotionSync) loadState(ctx context.Context, id string) (pageState, bool, error) {
	entry, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return pageState{}, false, nil
	}
	if err != nil {
		return pageState{}, false, fmt.Errorf("read sync state %s: %w", id, err)
	}
	var st pageState
	if err := json.Unmarshal(entry.Value(), &st); err != nil {
		return pageState{}, false, fmt.Errorf("read sync state %s: %w", id, err)
	}
	return st, true, nil
}
