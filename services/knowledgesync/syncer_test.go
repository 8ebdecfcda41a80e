package knowledgesync_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/services/knowledgesync"
)

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestSyncerScan(t *testing.T) {
	dir := t.TempDir()
	outbound := "---\ntitle: Outbound\nnotion_id: 1f2e3d4c-5b6a-7988-1f2e-3d4c5b6a7988\ntags: [sales]\nowner: ada\n---\nSteps.\n"
	writeFile(t, dir, "playbooks/outbound.md", outbound)
	writeFile(t, dir, "faq.md", "# Pricing FAQ\n")
	writeFile(t, dir, "README.MD", "plain\n")
	writeFile(t, dir, "broken.md", "---\ntitle: [oops\n---\n")
	writeFile(t, dir, "notes.txt", "# not markdown\n")
	writeFile(t, dir, ".obsidian/workspace.md", "# hidden\n")
	writeFile(t, dir, ".draft.md", "# hidden\n")
	mtime := time.Date(2025, 11, 20, 9, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "faq.md"), mtime, mtime); err != nil {
		t.Fatal(err)
	}

	s := knowledgesync.NewSyncer(dir, nil)
	res, err := s.Scan(context.Background())
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if res.Pages != 3 || res.Added != 3 || res.Changed != 0 || res.Removed != 0 || len(res.Problems) != 1 {
		t.Fatalf("first scan %+v, want 3 pages added and 1 problem", res)
	}
	if !strings.Contains(res.Problems[0].Error(), "broken.md") {
		t.Errorf("problem %q does not name broken.md", res.Problems[0])
	}

	var paths []string
	for _, p := range s.Pages() {
		paths = append(paths, p.Path)
	}
	if want := []string{"README.MD", "faq.md", "playbooks/outbound.md"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("indexed %v, want %v", paths, want)
	}
	got, ok := s.Page("playbooks/outbound.md")
	if !ok {
		t.Fatal("outbound page not indexed")
	}
	if got.Title != "Outbound" || got.NotionID != "1f2e3d4c-5b6a-7988-1f2e-3d4c5b6a7988" ||
		!reflect.DeepEqual(got.Tags, []string{"sales"}) || got.Properties["owner"] != "ada" ||
		got.Hash != hashOf(outbound) || got.ModTime.IsZero() {
		t.Errorf("outbound page %+v", got)
	}
	if faq, _ := s.Page("faq.md"); faq.Title != "Pricing FAQ" || !faq.ModTime.Equal(mtime) {
		t.Errorf("faq page %+v, want the heading as title and mtime %s", faq, mtime)
	}
	if readme, _ := s.Page("README.MD"); readme.Title != "README" {
		t.Errorf("README title %q, want the file name", readme.Title)
	}

	// Change one page, fix the broken one, remove one, and scan again.
	writeFile(t, dir, "faq.md", "# Pricing FAQ\n\nNew answer.\n")
	writeFile(t, dir, "broken.md", "---\ntitle: Fixed\n---\n")
	if err := os.Remove(filepath.Join(dir, "README.MD")); err != nil {
		t.Fatal(err)
	}
	res, err = s.Scan(context.Background())
	if err != nil {
		t.Fatalf("second Scan: %v", err)
	}
	if res.Pages != 3 || res.Added != 1 || res.Changed != 1 || res.Removed != 1 || len(res.Problems) != 0 {
		t.Errorf("second scan %+v, want 3 pages: 1 added, 1 changed, 1 removed", res)
	}
	if fixed, ok := s.Page("broken.md"); !ok || fixed.Title != "Fixed" {
		t.Errorf("fixed page %+v, %v", fixed, ok)
	}

	res, err = s.Scan(context.Background())
	if err != nil || res.Added+res.Changed+res.Removed != 0 {
		t.Errorf("unchanged scan %+v, %v: want no differences", res, err)
	}
}

func TestSyncerScanFailsWithoutFolder(t *testing.T) {
	s := knowledgesync.NewSyncer(filepath.Join(t.TempDir(), "missing"), nil)
	if _, err := s.Scan(context.Background()); err == nil {
		t.Error("Scan of a missing folder succeeded")
	}
	if err := s.Check(context.Background()); err == nil {
		t.Error("Check of a missing folder succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s = knowledgesync.NewSyncer(t.TempDir(), nil)
	if _, err := s.Scan(ctx); err == nil {
		t.Error("Scan with a cancelled context succeeded")
	}
}
