package knowledgesync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gtmhub/gtmhub/events/service"
)

// Page is one Markdown file in the index.
type Page struct {
	// Path is the file's slash-separated path in the folder.
	Path       string
	Title      string
	NotionID   string
	Tags       []string
	Properties map[string]any
	// Hash is the SHA-256 of the file's content, in hex.
	Hash    string
	ModTime time.Time
}

// ScanResult says what one scan found.
type ScanResult struct {
	Pages   int // pages in the index after the scan
	Added   int // pages new since the previous scan
	Changed int // pages whose content changed
	Removed int // pages gone, or no longer readable
	// Problems lists the files left out of the index, each error naming its
	// file: unreadable, or with malformed front matter.
	Problems []error
}

// Syncer keeps the index of a Markdown folder. It is safe for concurrent use.
type Syncer struct {
	dir  string
	fsys fs.FS // the folder, as scans read it
	log  *slog.Logger
	scan sync.Mutex // one scan at a time

	mu    sync.RWMutex
	pages map[string]Page
}

// NewSyncer returns a Syncer over the folder dir with an empty index. A nil
// logger discards.
func NewSyncer(dir string, log *slog.Logger) *Syncer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Syncer{dir: dir, fsys: os.DirFS(dir), log: log, pages: map[string]Page{}}
}

// Dir returns the folder the Syncer indexes.
func (s *Syncer) Dir() string { return s.dir }

// Scan walks the folder for *.md files, skipping hidden files and folders
// (a leading dot) and anything that is not a regular file, and replaces the
// index with what it finds. A file that cannot be read or parsed is left out
// and reported in the result; Scan fails only when the folder itself cannot
// be walked or ctx ends.
func (s *Syncer) Scan(ctx context.Context) (ScanResult, error) {
	res, _, err := s.scanFiles(ctx)
	return res, err
}

// localFile is one Markdown file as a scan read it: its index entry and
// its parsed content.
type localFile struct {
	Page
	doc Document
}

// scanFiles is [Syncer.Scan], and also returns the files the scan read and
// parsed, sorted by path, so that a sync need not read them again.
func (s *Syncer) scanFiles(ctx context.Context) (ScanResult, []*localFile, error) {
	s.scan.Lock()
	defer s.scan.Unlock()
	start := time.Now()

	var files []*localFile
	var problems []error
	err := fs.WalkDir(s.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			if p == "." {
				return err
			}
			problems = append(problems, err)
			return nil
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.EqualFold(path.Ext(p), ".md") {
			return nil
		}
		f, err := readLocalFile(s.fsys, p, d)
		if err != nil {
			problems = append(problems, err)
			return nil
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return ScanResult{}, nil, fmt.Errorf("scan %s: %w", s.dir, err)
	}
	// The walk goes folder by folder, which is not the order of the paths:
	// "a-b.md" sorts before "a/c.md" but is walked after it.
	slices.SortFunc(files, func(a, b *localFile) int { return strings.Compare(a.Path, b.Path) })

	res := s.replace(files)
	res.Problems = problems
	for _, p := range problems {
		s.log.WarnContext(ctx, "knowledge file left out of the index", "err", p)
	}
	s.log.InfoContext(ctx, "knowledge folder scanned", "dir", s.dir, "pages", res.Pages, "added", res.Added,
		"changed", res.Changed, "removed", res.Removed, "failed", len(problems), "duration", time.Since(start))
	return res, files, nil
}

// readLocalFile reads and parses one file.
func readLocalFile(fsys fs.FS, p string, d fs.DirEntry) (*localFile, error) {
	info, err := d.Info()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	content, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	doc, err := ParseDocument(p, content)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(content)
	page := Page{Path: p, Title: doc.Title, NotionID: doc.NotionID, Tags: doc.Tags, Properties: doc.Properties,
		Hash: hex.EncodeToString(sum[:]), ModTime: info.ModTime().UTC()}
	return &localFile{Page: page, doc: doc}, nil
}

// replace swaps in the files as the new index and counts the differences.
func (s *Syncer) replace(files []*localFile) ScanResult {
	next := make(map[string]Page, len(files))
	for _, f := range files {
		next[f.Path] = f.Page
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := ScanResult{Pages: len(next)}
	for p, page := range next {
		old, ok := s.pages[p]
		switch {
		case !ok:
			res.Added++
		case old.Hash != page.Hash:
			res.Changed++
		}
	}
	for p := range s.pages {
		if _, ok := next[p]; !ok {
			res.Removed++
		}
	}
	s.pages = next
	return res
}

// Pages returns the indexed pages sorted by path.
func (s *Syncer) Pages() []Page {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Page, 0, len(s.pages))
	for _, p := range s.pages {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Page) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Page returns the indexed page at the slash-separated path p.
func (s *Syncer) Page(p string) (Page, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	page, ok := s.pages[p]
	return page, ok
}

// Check is the readiness check "knowledge": the folder can be read.
func (s *Syncer) Check(context.Context) error {
	f, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("knowledge folder: %w", err)
	}
	defer f.Close()
	if _, err := f.ReadDir(1); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("knowledge folder %s: %w", s.dir, err)
	}
	return nil
}

// Run scans now and then every interval until ctx is cancelled, and returns
// nil then. A failed scan is logged and tried again at the next tick.
func (s *Syncer) Run(ctx context.Context, interval time.Duration) error {
	service.Every(ctx, interval, func(ctx context.Context) {
		if _, err := s.Scan(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "knowledge scan failed", "err", err)
		}
	})
	return nil
}
