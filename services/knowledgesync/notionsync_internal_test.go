package knowledgesync

import (
	"context"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/fakenotion"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// countingFS counts the Markdown files opened through it.
type countingFS struct {
	fs.FS
	mu    sync.Mutex
	opens map[string]int
}

func (c *countingFS) Open(name string) (fs.File, error) {
	if strings.HasSuffix(name, ".md") {
		c.mu.Lock()
		c.opens[name]++
		c.mu.Unlock()
	}
	return c.FS.Open(name)
}

// take returns the counts so far and starts again from zero.
func (c *countingFS) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.opens
	c.opens = map[string]int{}
	return out
}

func TestSyncReadsEachFileOnce(t *testing.T) {
	const token = "secret_read_once_token"
	srv := eventstest.RunServer(t)
	ctx := context.Background()
	kv, err := srv.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: StateBucket})
	if err != nil {
		t.Fatal(err)
	}
	fake := fakenotion.New(t.Cleanup, token, fakenotion.WithRateLimit(300, 50))
	client, err := notion.New(token, notion.WithBaseURL(fake.URL), notion.WithRateLimit(200, 20))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"icp.md":                "# Ideal customer profile\n",
		"playbooks/outbound.md": "---\ntitle: Outbound\ntags: [sales]\n---\nSteps.\n",
		"playbooks-old.md":      "Old playbook.\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	index := NewSyncer(dir, nil)
	counter := &countingFS{FS: index.fsys, opens: map[string]int{}}
	index.fsys = counter
	s := NewNotionSync(index, fake.NewDatabase(), client, kv, nil, DefaultConfig().Knowledge, nil)

	want := map[string]int{"icp.md": 1, "playbooks/outbound.md": 1, "playbooks-old.md": 1}
	// The first sync creates a page per file, the second finds them all
	// linked and pushes the edited one.
	for i, edit := range []func(){nil, func() {
		p := filepath.Join(dir, "icp.md")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, append(b, "Edited.\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
	}} {
		if edit != nil {
			edit()
		}
		rep, err := s.Sync(ctx, false)
		if err != nil {
			t.Fatalf("sync %d: %v", i+1, err)
		}
		if len(rep.Errors) > 0 || len(rep.Problems) > 0 || rep.ToNotion == 0 {
			t.Fatalf("sync %d: %+v", i+1, rep)
		}
		if got := counter.take(); !maps.Equal(got, want) {
			t.Errorf("sync %d opened the files %v times, want each once: %v", i+1, got, want)
		}
	}
}

func TestReadLocalSortsByPath(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"playbooks/outbound.md", "playbooks-old.md", "icp.md"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("# "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := &NotionSync{index: NewSyncer(dir, nil)}
	_, fresh, problems, err := s.readLocal(context.Background())
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	var got []string
	for _, f := range fresh {
		got = append(got, f.Path)
	}
	// The walk visits playbooks/ before playbooks-old.md.
	want := []string{"icp.md", "playbooks-old.md", "playbooks/outbound.md"}
	if !slices.Equal(got, want) {
		t.Errorf("files %v, want them by path: %v", got, want)
	}
}
