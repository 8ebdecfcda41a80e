package knowledgesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/events"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// StateBucket is the JetStream key-value bucket holding, per Notion page,
// what both sides looked like at the last sync.
const StateBucket = "knowledge-state"

// Source is the CloudEvents source of the events the service publishes.
const Source = "/gtmhub/knowledge-sync"

// ErrSharedNotionID is wrapped by the problem of a file left out of a sync
// because its notion_id names a page that another file keeps.
var ErrSharedNotionID = errors.New("notion_id already used by another file")

// ErrNotInDatabase is wrapped by the problem of a file left out of a sync
// because its notion_id names a page that is not in the database synced:
// a page of another database, or one the last sync of this database did
// not link to the file.
var ErrNotInDatabase = errors.New("notion_id names a page that is not in the database")

// Deletion safety: a sync that would delete more than MassDeletionFiles
// files and more than MassDeletionShare of the folder's files deletes none
// of them, and one that would archive more than MassDeletionFiles pages and
// more than MassDeletionShare of the database's pages (their files missing:
// an empty folder looks like one whose files were all deleted) archives
// none, unless [SyncOptions.AllowMassDeletion] says to.
const (
	MassDeletionFiles = 5
	MassDeletionShare = 0.10
)

// TrashDir is the folder, inside the knowledge folder, where the files of
// archived pages are moved, each under the time of its sync. Like any
// hidden folder it is not synced.
const TrashDir = ".trash"

// eventNamespace derives deterministic event ids.
var eventNamespace = uuid.MustParse("6f1d3c2e-8b0a-4e57-9a43-2b8f0d6c5e11")

// Publisher publishes one CloudEvent; [events.Publisher] is one.
type Publisher interface {
	Publish(ctx context.Context, subject string, ev event.Event) error
}

// pageState is what both sides of a page looked like at the last sync.
type pageState struct {
	// DatabaseID is the database the page was synced with, hyphen-less; a
	// state written before it was recorded has none.
	DatabaseID string    `json:"database_id,omitempty"`
	Path       string    `json:"path"`
	LocalHash  string    `json:"local_hash"`
	RemoteHash string    `json:"remote_hash"`
	LocalTime  time.Time `json:"local_time"`
	RemoteTime time.Time `json:"remote_time"`
	SyncedAt   time.Time `json:"synced_at"`
	// Properties are the mapped properties' values at the last sync, in
	// the form both sides compare by, by [mapping.stateKey].
	Properties map[string]string `json:"properties,omitempty"`
	// Writing is the write to the page's content under way, recorded
	// before the write begins; the state saved once it is done has none.
	// A state carrying it at a sync is a write that stopped halfway (see
	// [NotionSync.unfinished]); the first write of a page created for a
	// file is recorded as soon as Notion created the page, before the file
	// holds its id (see [pageState.creating]).
	Writing *contentWrite `json:"writing,omitempty"`
}

// Report says what one sync did, or would do on a dry run.
type Report struct {
	DryRun    bool
	ToNotion  int // pages written to Notion (created or updated)
	ToLocal   int // files written from Notion (created or updated)
	Archived  int // Notion pages archived because their file was deleted
	Deleted   int // files moved to the trash because their page was archived
	Conflicts int
	Unchanged int
	// Unresolved counts files left alone because they hold conflict markers.
	Unresolved int
	// Held counts the files not deleted and the pages not archived
	// because the sync would have deleted too many (see
	// [MassDeletionFiles]); they stay until a sync with
	// [SyncOptions.AllowMassDeletion].
	Held int
	// Actions lists what was done (or planned), one line a page.
	Actions []string
	// Errors lists pages that failed, the others were synced, and values
	// of files left out of an otherwise synced page ([ErrPropertyValue]).
	Errors []error
	// Problems lists the files left out of the sync until they are fixed,
	// each error naming its file: unreadable, not valid UTF-8, with
	// malformed front matter, naming by its notion_id a page another file
	// keeps ([ErrSharedNotionID]), or a page not in the database
	// ([ErrNotInDatabase]). Such a file is neither read into Notion nor
	// written.
	Problems []error
}

func (r *Report) act(format string, args ...any) {
	r.Actions = append(r.Actions, fmt.Sprintf(format, args...))
}

// NotionSync keeps a Markdown folder and a Notion database in step. It is
// safe for concurrent use; syncs run one at a time.
type NotionSync struct {
	index    *Syncer
	dir      string
	db       string
	client   *notion.Client
	kv       jetstream.KeyValue
	pub      Publisher
	log      *slog.Logger
	titleKey string
	tagsKey  string
	// props is knowledge.properties; mapped are those the database backs,
	// read at the start of each sync.
	props  map[string]string
	mapped []mapping
	// granularity is how coarse Notion's last_edited_time is: a page edited
	// in the same minute as a sync keeps the same time.
	granularity time.Duration
	tracer      trace.Tracer
	// links maps the synced files to their pages for the links between
	// them, built at the start of each sync.
	links *linkTable
	// botID is the id of the integration's own user, hyphen-less, read
	// from Notion the first time a sync needs it.
	botID string

	mu sync.Mutex
}

// NewNotionSync returns a sync of the folder indexed by index with the
// database, keeping state in kv and publishing events with pub.
func NewNotionSync(index *Syncer, databaseID string, client *notion.Client, kv jetstream.KeyValue, pub Publisher,
	k Knowledge, log *slog.Logger) *NotionSync {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &NotionSync{index: index, dir: index.Dir(), db: databaseID, client: client, kv: kv, pub: pub, log: log,
		titleKey: k.TitleProperty, tagsKey: k.TagsProperty, props: maps.Clone(k.Properties), granularity: time.Minute,
		tracer: otel.GetTracerProvider().Tracer("github.com/gtmhub/gtmhub/services/knowledgesync")}
}

// remoteSide is a Notion page with its content, read when needed.
type remoteSide struct {
	page notion.Page
	tree []notion.Block
	md   []byte
	hash string
	read bool
}

func (r *remoteSide) tags(key string) []string {
	var out []string
	for _, o := range r.page.Properties[key].MultiSelect {
		out = append(out, o.Name)
	}
	return out
}

// SyncOptions change what one sync does.
type SyncOptions struct {
	// DryRun reports what the sync would do, changing nothing.
	DryRun bool
	// AllowMassDeletion deletes the files of archived pages, and archives
	// the pages of deleted files, even when they are more than
	// [MassDeletionFiles] and [MassDeletionShare] allow.
	AllowMassDeletion bool
}

// Sync brings the folder and the database in step once, as [SyncWith]
// does.
func (s *NotionSync) Sync(ctx context.Context, dryRun bool) (Report, error) {
	return s.SyncWith(ctx, SyncOptions{DryRun: dryRun})
}

// SyncWith brings the folder and the database in step once. A page that
// fails is reported and tried again at the next sync; SyncWith fails as a
// whole only when the folder, the database or the state cannot be read.
//
// A file is deleted only when Notion says its page, linked to the file by
// the last sync of this database, is archived, in the trash or gone; the
// file is moved to [TrashDir], never removed.
func (s *NotionSync) SyncWith(ctx context.Context, opts SyncOptions) (Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() { s.links = nil }() // one sync's table is not the next's
	start := time.Now()
	dryRun := opts.DryRun
	rep := Report{DryRun: dryRun}
	ctx, span := s.tracer.Start(ctx, "knowledge sync", trace.WithAttributes(attribute.Bool("gtmhub.dry_run", dryRun)))
	defer span.End()

	claims, fresh, problems, err := s.readLocal(ctx)
	if err != nil {
		return rep, err
	}
	rep.Problems = problems
	if err := s.loadSchema(ctx, &rep); err != nil {
		return rep, err
	}
	pages, err := s.client.QueryDatabase(ctx, s.db)
	if err != nil {
		return rep, fmt.Errorf("query Notion database: %w", err)
	}
	remote := map[string]*remoteSide{}
	for _, p := range pages {
		remote[normalizeID(p.ID)] = &remoteSide{page: p}
	}
	states, intents, err := s.loadStates(ctx)
	if err != nil {
		return rep, err
	}
	local, shared := keepers(claims, states)
	held := s.resolveIntents(ctx, intents, pages, states, local, &fresh, remote, &rep)
	fresh = adoptCreated(local, fresh, states, remote)
	for _, e := range shared {
		s.log.WarnContext(ctx, "knowledge file not synced", "err", e)
	}
	rep.Problems = append(rep.Problems, shared...)
	ids := map[string]bool{}
	for id := range local {
		ids[id] = true
	}
	for id := range remote {
		ids[id] = true
	}
	for id := range states {
		ids[id] = true
	}
	order := slices.Sorted(maps.Keys(ids))
	p := &pass{taken: map[string]bool{}, newFiles: map[string]string{}, stamp: start.UTC().Format("2006-01-02T15-04-05Z")}
	s.nameNewFiles(order, local, remote, states, p)
	s.links = linksOf(local, remote, p.newFiles, fresh)
	for _, id := range order {
		l, r := local[id], remote[id]
		st, hasState := states[id]
		if err := s.syncPage(ctx, id, l, r, st, hasState, p, &rep); err != nil {
			rep.Errors = append(rep.Errors, fmt.Errorf("page %s: %w", id, err))
			if d, ok := events.RetryDelay(err); ok && d > 0 {
				break // the breaker is open: the rest would fail too
			}
		}
	}
	files := len(local) + len(fresh) + len(shared)
	s.deleteFiles(ctx, p, files, opts.AllowMassDeletion, &rep)
	s.archivePages(ctx, p, len(remote), files == 0, opts.AllowMassDeletion, &rep)
	for _, f := range fresh {
		if held[f.Path] {
			continue // its last creation is not settled: it might be made twice
		}
		if err := s.createPage(ctx, f, &rep); err != nil {
			rep.Errors = append(rep.Errors, fmt.Errorf("%s: %w", f.Path, err))
		}
	}
	s.relinkPages(ctx, &rep)
	for _, e := range rep.Errors {
		s.log.WarnContext(ctx, "knowledge page not synced", "err", e)
	}
	s.log.InfoContext(ctx, "knowledge synced", "dry_run", dryRun, "to_notion", rep.ToNotion, "to_local", rep.ToLocal,
		"archived", rep.Archived, "deleted", rep.Deleted, "held", rep.Held, "conflicts", rep.Conflicts, "unchanged", rep.Unchanged,
		"unresolved", rep.Unresolved, "failed", len(rep.Errors), "left_out", len(rep.Problems), "duration", time.Since(start))
	return rep, nil
}

// loadSchema reads the types of the properties knowledge.properties maps
// from the database. An entry the database cannot back is a problem of the
// report; the others are synced.
func (s *NotionSync) loadSchema(ctx context.Context, rep *Report) error {
	s.mapped = nil
	if len(s.props) == 0 {
		return nil
	}
	db, err := s.client.RetrieveDatabase(ctx, s.db)
	if err != nil {
		return fmt.Errorf("read Notion database schema: %w", err)
	}
	var problems []error
	s.mapped, problems = resolveMappings(s.props, db)
	for _, e := range problems {
		s.log.WarnContext(ctx, "knowledge property not synced", "err", e)
	}
	rep.Problems = append(rep.Problems, problems...)
	return nil
}

// propsSynced reports whether the state holds a last synced value of every
// mapped property: a key newly mapped makes the page read again.
func (s *NotionSync) propsSynced(st pageState) bool {
	for _, m := range s.mapped {
		if _, ok := st.Properties[m.stateKey()]; !ok {
			return false
		}
	}
	return true
}

// remoteHashOf fingerprints a page as Notion has it, its content as md.
func (s *NotionSync) remoteHashOf(page notion.Page, tags []string, md []byte) string {
	return remoteHash(page.Title(), tags, md, remoteValues(s.mapped, page).fingerprint(s.mapped))
}

// normalizeID gives a Notion id in its hyphen-less lowercase form, the
// state's key.
func normalizeID(id string) string {
	if u, err := uuid.Parse(id); err == nil {
		return strings.ReplaceAll(u.String(), "-", "")
	}
	return strings.ToLower(strings.ReplaceAll(id, "-", ""))
}

// readLocal scans the folder: per page, the files whose notion_id names it,
// sorted by path; the files without one; and the files left out, each
// problem naming its file. Each file is read and parsed once, by the scan.
func (s *NotionSync) readLocal(ctx context.Context) (claims map[string][]*localFile, fresh []*localFile, problems []error, err error) {
	scan, files, err := s.index.scanFiles(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	claims = map[string][]*localFile{}
	for _, f := range files {
		if f.NotionID == "" {
			fresh = append(fresh, f)
			continue
		}
		id := normalizeID(f.NotionID)
		claims[id] = append(claims[id], f)
	}
	return claims, fresh, scan.Problems, nil
}

// keepers picks, of the files claiming each page, the one that keeps it,
// and reports each of the others: syncing a copy that kept its original's
// notion_id would overwrite the original's page.
func keepers(claims map[string][]*localFile, states map[string]pageState) (map[string]*localFile, []error) {
	linked := make(map[string]*localFile, len(claims))
	var problems []error
	for _, id := range slices.Sorted(maps.Keys(claims)) {
		keeper := keeperOf(claims[id], states[id])
		linked[id] = keeper
		for _, f := range claims[id] {
			if f != keeper {
				problems = append(problems, fmt.Errorf("%s: %w: page %s stays linked to %s; "+
					"remove notion_id from %s to sync it as a new page", f.Path, ErrSharedNotionID, id, keeper.Path, f.Path))
			}
		}
	}
	return linked, problems
}

// keeperOf returns, of files sorted by path, the one the last sync linked
// to the page, else one whose content the last sync saw (the linked file
// was moved), else the first.
func keeperOf(files []*localFile, st pageState) *localFile {
	for _, f := range files {
		if f.Path == st.Path {
			return f
		}
	}
	for _, f := range files {
		if st.LocalHash != "" && f.Hash == st.LocalHash {
			return f
		}
	}
	return files[0]
}

// pass is what one sync carries from page to page.
type pass struct {
	// taken holds the paths given to new files, and those of files that
	// may be restored.
	taken map[string]bool
	// newFiles are the paths of the files of pages new in Notion, by page
	// id.
	newFiles map[string]string
	// deletions are the files whose pages were archived, deleted once
	// every page is settled, if they are not too many.
	deletions []deletion
	// archives are the pages whose files were deleted, archived once every
	// page is settled, if they are not too many.
	archives []archive
	// stamp names the pass's folder in the trash.
	stamp string
}

// newFile returns the path of the new file of a page new in Notion, the
// same each time it is asked for the page.
func (p *pass) newFile(dir, id, title string) string {
	if path, ok := p.newFiles[id]; ok {
		return path
	}
	path := freePath(dir, title, p.taken)
	p.taken[path] = true
	p.newFiles[id] = path
	return path
}

// nameNewFiles gives the pages new in Notion the paths of their new files
// before any page is synced, so that links to them from other pages read
// as links to their files. The files of synced pages whose files were
// deleted keep their paths, which a restored file takes again.
func (s *NotionSync) nameNewFiles(order []string, local map[string]*localFile, remote map[string]*remoteSide,
	states map[string]pageState, p *pass) {
	for _, id := range order {
		if st, ok := states[id]; ok && local[id] == nil && remote[id] != nil {
			p.taken[st.Path] = true
		}
	}
	for _, id := range order {
		if _, ok := states[id]; !ok && local[id] == nil && remote[id] != nil {
			p.newFile(s.dir, id, remote[id].page.Title())
		}
	}
}

// archive is a page to archive because its file was deleted.
type archive struct {
	id string
	r  *remoteSide
	st pageState
}

// deletion is a file to delete because its page was archived.
type deletion struct {
	id string
	l  *localFile
}

// syncPage settles one page known to the folder, the database or the state.
func (s *NotionSync) syncPage(ctx context.Context, id string, l *localFile, r *remoteSide, st pageState, hasState bool,
	p *pass, rep *Report) error {
	switch {
	case l != nil && r != nil:
		return s.syncBoth(ctx, id, l, r, st, hasState, rep)
	case l != nil && hasState: // not in the query: ask Notion about the page
		return s.syncAbsent(ctx, id, l, st, p, rep)
	case l != nil:
		s.notInDatabase(ctx, id, l, rep)
		return nil
	case r != nil && hasState: // the file was deleted
		// Only a file known not to exist is deleted: one the scan could not
		// read (a folder without permission, say) is still there.
		if _, err := os.Stat(filepath.Join(s.dir, filepath.FromSlash(st.Path))); !errors.Is(err, fs.ErrNotExist) {
			s.log.WarnContext(ctx, "file of a synced page unreadable or unlinked; leaving the page", "file", st.Path, "page", id)
			return nil
		}
		if st.creating() {
			return s.createdFileGone(ctx, id, r, st, p, rep)
		}
		changed, err := s.remoteChanged(ctx, r, st.Path, st, true)
		if err != nil {
			return err
		}
		if !changed {
			p.archives = append(p.archives, archive{id: id, r: r, st: st})
			return nil
		}
		return s.restoreFile(ctx, id, r, st, rep)
	case r != nil:
		path := p.newFile(s.dir, id, r.page.Title())
		return s.pull(ctx, id, r, path, nil, pageState{}, contracts.ActionCreated, rep)
	default: // gone on both sides
		if rep.DryRun || st.DatabaseID == "" {
			return nil // a state of unknown database may be another's
		}
		return s.kv.Delete(ctx, id)
	}
}

// notInDatabase reports a file linking a page the sync does not know in
// this database; the file is left as it is.
func (s *NotionSync) notInDatabase(ctx context.Context, id string, l *localFile, rep *Report) {
	err := fmt.Errorf("%s: %w: page %s; remove notion_id from %s to sync it as a new page",
		l.Path, ErrNotInDatabase, id, l.Path)
	s.log.WarnContext(ctx, "knowledge file not synced", "err", err)
	rep.Problems = append(rep.Problems, err)
}

// absence is what Notion says of a synced page missing from the query.
type absence int

const (
	// absentUnknown: no evidence either way; the page may be another
	// database's, or the state may be.
	absentUnknown absence = iota
	// absentArchived: the page is archived, in the trash or deleted.
	absentArchived
	// absentLive: the page lives in the database; the query missed it.
	absentLive
)

// whyAbsent asks Notion about a page the state links to a file but the
// database's query did not list. Only Notion's word that the page is
// archived, in the trash, or gone (object_not_found, for a page the state
// ties to this database) counts as archived.
func (s *NotionSync) whyAbsent(ctx context.Context, id string, st pageState) (absence, notion.Page, error) {
	page, err := s.client.RetrievePage(ctx, id)
	switch {
	case notion.IsNotFound(err):
		if st.DatabaseID == normalizeID(s.db) {
			return absentArchived, page, nil
		}
		return absentUnknown, page, nil
	case err != nil:
		return absentUnknown, page, err
	case normalizeID(page.Parent.DatabaseID) != normalizeID(s.db):
		return absentUnknown, page, nil
	case page.Archived || page.InTrash:
		return absentArchived, page, nil
	}
	return absentLive, page, nil
}

// syncAbsent settles a file whose page, linked by the state, is not in the
// query: the file is deleted only when Notion says the page was archived
// and the file did not change since; a file with conflict markers is never
// deleted.
func (s *NotionSync) syncAbsent(ctx context.Context, id string, l *localFile, st pageState, p *pass, rep *Report) error {
	why, page, err := s.whyAbsent(ctx, id, st)
	switch {
	case err != nil:
		return err
	case why == absentLive:
		return s.syncBoth(ctx, id, l, &remoteSide{page: page}, st, true, rep)
	case why == absentUnknown:
		s.notInDatabase(ctx, id, l, rep)
		return nil
	case hasMarkers(l.doc.Body):
		return s.archivedWithMarkers(ctx, id, l, page, rep)
	case l.Hash == st.LocalHash:
		p.deletions = append(p.deletions, deletion{id: id, l: l})
		return nil
	}
	return s.recreatePage(ctx, id, l, rep)
}

// archivedWithMarkers reports a file holding conflict markers whose page
// was archived: it may hold the only copy of an edit, so it is left as it
// is, and stays a conflict until its markers are resolved (the file then
// gets a new page).
func (s *NotionSync) archivedWithMarkers(ctx context.Context, id string, l *localFile, page notion.Page, rep *Report) error {
	rep.Conflicts++
	rep.act("conflict: %s has conflict markers, its page %s was archived: file kept", l.Path, id)
	s.log.WarnContext(ctx, "knowledge page archived while its file has conflict markers; file kept",
		"file", l.Path, "page", id)
	if rep.DryRun {
		return nil
	}
	return s.conflictEvent(ctx, id, l.Path, l.doc.Title, contracts.DirectionNone, contracts.ResolutionManual,
		l.ModTime, page.LastEditedTime, "archived-with-markers:"+l.Hash)
}

// deleteFiles deletes the files of archived pages, unless they are more
// than the safety limit allows of the folder's files: then it deletes none
// and says so.
func (s *NotionSync) deleteFiles(ctx context.Context, p *pass, files int, allowMass bool, rep *Report) {
	n := len(p.deletions)
	if tooMany(n, files) && !allowMass {
		held := make([]string, n)
		for i, d := range p.deletions {
			held[i] = fmt.Sprintf("held: %s not deleted (page %s archived): too many deletions at once", d.l.Path, d.id)
		}
		s.hold(ctx, rep, "knowledge sync held back file deletions: too many pages missing at once", held, "files", files)
		return
	}
	for _, d := range p.deletions {
		if err := s.deleteFile(ctx, d.id, d.l, p.stamp, rep); err != nil {
			rep.Errors = append(rep.Errors, fmt.Errorf("page %s: %w", d.id, err))
		}
	}
}

// hold reports deletions held back by the safety limit: each as an action
// and held, and all of them in one error log line saying how to let them.
func (s *NotionSync) hold(ctx context.Context, rep *Report, msg string, held []string, attrs ...any) {
	rep.Held += len(held)
	for _, h := range held {
		rep.act("%s", h)
	}
	s.log.ErrorContext(ctx, msg, append(attrs, "held", len(held), "limit", MassDeletionFiles,
		"limit_share", MassDeletionShare, "force", "gtmhub knowledge sync --allow-mass-deletion")...)
}

// tooMany reports whether n deletions out of total exceed the safety limit.
func tooMany(n, total int) bool {
	return n > MassDeletionFiles && float64(n) > MassDeletionShare*float64(total)
}

// archivePages archives the pages whose files were deleted, unless they are
// more than the safety limit allows of the database's pages, or the folder
// is empty: a folder that is empty or half there (a volume not mounted, a
// checkout under way) looks like a folder whose files were deleted. It then
// archives none and says so.
func (s *NotionSync) archivePages(ctx context.Context, p *pass, pages int, emptyFolder, allowMass bool, rep *Report) {
	n := len(p.archives)
	if (tooMany(n, pages) || emptyFolder && n > 0) && !allowMass {
		held := make([]string, n)
		for i, a := range p.archives {
			held[i] = fmt.Sprintf("held: page %s not archived (file %s missing): too many deletions at once", a.id, a.st.Path)
		}
		s.hold(ctx, rep, "knowledge sync held back page archiving: too many files missing at once", held,
			"pages", pages, "empty_folder", emptyFolder)
		return
	}
	for _, a := range p.archives {
		if err := s.archivePage(ctx, a.id, a.r, a.st, rep); err != nil {
			rep.Errors = append(rep.Errors, fmt.Errorf("page %s: %w", a.id, err))
			if d, ok := events.RetryDelay(err); ok && d > 0 {
				return // the breaker is open: the rest would fail too
			}
		}
	}
}

// syncBoth settles a page present on both sides. A page unchanged on
// both sides whose content an earlier conversion wrote is written again
// (see [NotionSync.convertedBefore]).
func (s *NotionSync) syncBoth(ctx context.Context, id string, l *localFile, r *remoteSide, st pageState, hasState bool, rep *Report) error {
	if hasMarkers(l.doc.Body) {
		rep.Unresolved++
		s.log.WarnContext(ctx, "knowledge page has unresolved conflict markers; not synced", "file", l.Path, "page", id)
		return nil
	}
	// A page an earlier sync created for the file, which stopped before it
	// said so: the page's first write to Notion is its creation.
	created, action := st.creating(), contracts.ActionUpdated
	if created {
		action = contracts.ActionCreated
	}
	if created && normalizeID(l.NotionID) != id { // adopted by the page created for it (see adoptCreated)
		linked, err := s.linkCreated(ctx, id, l, r, rep)
		if err != nil {
			return err
		}
		l = linked
	}
	local, refused := localValues(s.mapped, l.doc.Properties, l.doc.Texts)
	reportRefused(l.Path, refused, rep)
	remoteChanged, err := s.remoteChanged(ctx, r, l.Path, st, hasState)
	if err != nil {
		return err
	}
	localChanged := !hasState || l.Hash != st.LocalHash
	localMD, blocks, waits := s.links.roundTrip(l.Path, l.doc.Body)
	if st.Writing != nil && remoteChanged && !s.writeReachedEnd(r, st) {
		return s.unfinished(ctx, id, l, r, st, rep)
	}
	if localChanged && remoteChanged &&
		remoteHash(l.doc.Title, l.doc.Tags, localMD, local.fingerprint(s.mapped)) == r.hash {
		localChanged, remoteChanged = false, false // linked by hand, or the same edit on both sides
	}
	switch {
	case localChanged && remoteChanged && s.sameContent(l, localMD, r):
		// Only mapped properties differ: each is settled on its own.
		return s.pull(ctx, id, r, l.Path, l, st, contracts.ActionUpdated, rep)
	case localChanged && remoteChanged:
		return s.conflict(ctx, id, l, r, st, "", rep)
	case localChanged:
		return s.push(ctx, id, l, r, st, action, rep)
	case remoteChanged:
		return s.pull(ctx, id, r, l.Path, l, st, contracts.ActionUpdated, rep)
	}
	if waits && !rep.DryRun {
		// Both sides hold the file's body, a link of it still text: it
		// becomes a link once the file it names has a page.
		s.links.relinkLater(relink{id: id, path: l.Path, body: l.doc.Body, written: blocks})
	}
	if hasState && s.convertedBefore(l, r, st, localMD) {
		if rewritten, err := s.rewrite(ctx, id, l, r, st, localMD, blocks, rep); rewritten || err != nil {
			return err
		}
	}
	rep.Unchanged++
	if rep.DryRun {
		return nil
	}
	st, err = s.recordUnchanged(ctx, id, l, r, st, hasState)
	if err != nil || !created {
		return err
	}
	return s.synced(ctx, id, l.doc.Title, contracts.DirectionToNotion, contracts.ActionCreated, st)
}

// recordUnchanged records what was read of a page unchanged on both sides,
// so that the next sync can trust the edit time once it is a whole granule
// older than the sync, and returns the page's state as it is then.
func (s *NotionSync) recordUnchanged(ctx context.Context, id string, l *localFile, r *remoteSide, st pageState,
	hasState bool) (pageState, error) {
	if hasState && !r.read && r.page.LastEditedTime.Equal(st.RemoteTime) && st.Path == l.Path && st.Writing == nil {
		return st, nil
	}
	st.Path, st.LocalHash, st.LocalTime, st.Writing = l.Path, l.Hash, l.ModTime, nil
	if r.read {
		st.RemoteHash = r.hash
		st.Properties = remoteValues(s.mapped, r.page).canons(s.mapped)
	}
	st.RemoteTime, st.SyncedAt = r.page.LastEditedTime, time.Now().UTC()
	return st, s.saveState(ctx, id, st)
}

// remoteChanged reports whether the page, synced with the file at path,
// differs from the state. The content is read only when the edit time says
// it may have changed.
func (s *NotionSync) remoteChanged(ctx context.Context, r *remoteSide, path string, st pageState, hasState bool) (bool, error) {
	if hasState && r.page.LastEditedTime.Equal(st.RemoteTime) && st.SyncedAt.Sub(st.RemoteTime) >= s.granularity &&
		s.propsSynced(st) {
		return false, nil
	}
	if err := s.read(ctx, r, path); err != nil {
		return false, err
	}
	return !hasState || r.hash != st.RemoteHash, nil
}

// read fetches a page's content once, as Markdown for the file at path.
func (s *NotionSync) read(ctx context.Context, r *remoteSide, path string) error {
	if r.read {
		return nil
	}
	tree, err := s.client.BlockTree(ctx, r.page.ID)
	if err != nil {
		return fmt.Errorf("read Notion page: %w", err)
	}
	r.tree, r.md, r.read = tree, s.links.toMarkdown(path, tree), true
	r.hash = s.remoteHashOf(r.page, r.tags(s.tagsKey), r.md)
	return nil
}

// sameContent reports whether a file and its page, read, hold the same
// title, tags and content, whatever their mapped properties.
func (s *NotionSync) sameContent(l *localFile, localMD []byte, r *remoteSide) bool {
	return remoteHash(l.doc.Title, l.doc.Tags, localMD, "") == remoteHash(r.page.Title(), r.tags(s.tagsKey), r.md, "")
}

// planFor merges the mapped properties of a file (nil for none) and its
// page, read, against the last sync's st; localNewer says the file's edit
// is the later.
func (s *NotionSync) planFor(l *localFile, r *remoteSide, st pageState, localNewer bool) propPlan {
	var front, texts map[string]any
	ed := edits{remote: st.RemoteTime.IsZero() || !r.page.LastEditedTime.Equal(st.RemoteTime), localNewer: localNewer}
	if l != nil {
		front, texts = l.doc.Properties, l.doc.Texts
		ed.local = st.LocalHash == "" || l.Hash != st.LocalHash
	}
	return planProps(s.mapped, front, texts, remoteValues(s.mapped, r.page), st.Properties, ed)
}

// reportRefused adds the errors of a file's values its properties cannot
// take, or Notion refused, to the report: the rest of the page is synced.
func reportRefused(path string, errs []error, rep *Report) {
	for _, err := range errs {
		rep.Errors = append(rep.Errors, fmt.Errorf("%s: %w", path, err))
	}
}

// updateProps writes properties of a page and returns the page. When
// Notion refuses the request, each property is written on its own: a
// mapped property's value Notion refuses is reported for the file at path
// and left out, so that it keeps neither the other properties nor the
// page's content from syncing; the title or tags refused fail the page.
func (s *NotionSync) updateProps(ctx context.Context, pageID, path string, props map[string]notion.Property,
	rep *Report) (notion.Page, error) {
	page, err := s.client.UpdatePage(ctx, pageID, props)
	if !notion.IsRefused(err) {
		return page, err
	}
	written := false
	for _, name := range sortedKeys(props) {
		one, err := s.client.UpdatePage(ctx, pageID, map[string]notion.Property{name: props[name]})
		m, mapped := s.mappingOf(name)
		switch {
		case notion.IsRefused(err) && mapped:
			reportRefused(path, []error{m.refused(fmt.Errorf("Notion refused it: %w", err))}, rep)
		case err != nil:
			return page, err
		default:
			page, written = one, true
		}
	}
	if !written {
		return s.client.RetrievePage(ctx, pageID)
	}
	return page, nil
}

// mappingOf returns the mapping of the property name, if it is mapped.
func (s *NotionSync) mappingOf(name string) (mapping, bool) {
	for _, m := range s.mapped {
		if m.name == name {
			return m, true
		}
	}
	return mapping{}, false
}

// reportProps says which mapped properties were changed on both sides and
// settled by the later edit.
func reportProps(rep *Report, path string, plan propPlan, localWins bool) {
	if len(plan.conflicted) == 0 {
		return
	}
	winner := "notion wins"
	if localWins {
		winner = "local wins"
	}
	rep.act("property conflict: %s %s, %s (later edit)", path, strings.Join(plan.conflicted, ", "), winner)
}

// push writes a file's title, tags, mapped properties and content to its
// page. A mapped property changed only in Notion since st is kept there
// and written into the file.
func (s *NotionSync) push(ctx context.Context, id string, l *localFile, r *remoteSide, st pageState,
	action contracts.Action, rep *Report) error {
	rep.act("to notion: %s → %s", l.Path, id)
	rep.ToNotion++
	if rep.DryRun {
		return nil
	}
	return s.pushFile(ctx, id, l, r, st, action, rep)
}

// pushFile does the work of [NotionSync.push], reported: the write under
// way is recorded in the page's state before anything is written, and the
// state saved once the page is written has no such record.
func (s *NotionSync) pushFile(ctx context.Context, id string, l *localFile, r *remoteSide, st pageState,
	action contracts.Action, rep *Report) error {
	if err := s.read(ctx, r, l.Path); err != nil {
		return err
	}
	plan := s.planFor(l, r, st, true)
	reportProps(rep, l.Path, plan, true)
	localMD, blocks, waits := s.links.roundTrip(l.Path, l.doc.Body)
	if err := s.markWriting(ctx, id, l.Path, st, contentWrite{LocalHash: l.Hash, Content: hashBytes(localMD)}); err != nil {
		return err
	}
	written, err := s.writeToNotion(ctx, id, l, r, plan, blocks, waits, rep)
	if err != nil {
		return err
	}
	if plan.fileChanged {
		return s.writeMerged(ctx, id, l, written, plan, action, rep)
	}
	st = pageState{Path: l.Path, LocalHash: l.Hash, LocalTime: l.ModTime, RemoteTime: written.page.LastEditedTime,
		RemoteHash: written.hash, SyncedAt: time.Now().UTC(),
		Properties: remoteValues(s.mapped, written.page).canons(s.mapped)}
	if err := s.saveState(ctx, id, st); err != nil {
		return err
	}
	return s.synced(ctx, written.page.ID, l.doc.Title, contracts.DirectionToNotion, action, st)
}

// writeToNotion writes a file's title and tags, when its page, read,
// differs, the mapped properties of plan that Notion lacks, and blocks,
// the file's content, to the page, and returns the page as written. waits
// says a link of the content waits for its file's page: the page is
// written again once it has one.
func (s *NotionSync) writeToNotion(ctx context.Context, id string, l *localFile, r *remoteSide, plan propPlan,
	blocks []notion.Block, waits bool, rep *Report) (*remoteSide, error) {
	props := plan.toNotion
	if r.page.Title() != l.doc.Title || !slices.Equal(r.tags(s.tagsKey), l.doc.Tags) {
		maps.Copy(props, s.properties(l.doc, hasProperty(r.page, s.tagsKey)))
	}
	if len(props) > 0 {
		if _, err := s.updateProps(ctx, r.page.ID, l.Path, props, rep); err != nil {
			return nil, fmt.Errorf("update properties: %w", err)
		}
	}
	if err := s.replaceContent(ctx, r.page.ID, r.tree, blocks, s.links.options(l.Path)...); err != nil {
		return nil, err
	}
	if waits {
		s.links.relinkLater(relink{id: id, path: l.Path, body: l.doc.Body, written: blocks})
	}
	page, err := s.client.RetrievePage(ctx, r.page.ID)
	if err != nil {
		return nil, err
	}
	return &remoteSide{page: page, read: true,
		hash: s.remoteHashOf(page, l.doc.Tags, s.links.toMarkdown(l.Path, blocks))}, nil
}

// writeMerged writes a pushed file again with the mapped properties it
// took from its page.
func (s *NotionSync) writeMerged(ctx context.Context, id string, l *localFile, r *remoteSide, plan propPlan,
	action contracts.Action, rep *Report) error {
	content, err := composeFile(l.doc.Title, r.page.ID, l.doc.Tags, plan.front, l.doc.Body)
	if err != nil {
		return err
	}
	st, err := s.writeLocal(l.Path, content, r)
	if err != nil {
		return err
	}
	if err := s.saveState(ctx, id, st); err != nil {
		return err
	}
	rep.act("to local: %s properties → %s", id, l.Path)
	return s.synced(ctx, r.page.ID, l.doc.Title, contracts.DirectionToNotion, action, st)
}

// properties are a file's title and tags as page properties. The tags are
// left out when there are none and the database may lack the property.
func (s *NotionSync) properties(doc Document, hasTags bool) map[string]notion.Property {
	props := map[string]notion.Property{s.titleKey: notion.TitleProperty(doc.Title)}
	if hasTags || len(doc.Tags) > 0 {
		props[s.tagsKey] = notion.MultiSelectProperty(doc.Tags)
	}
	return props
}

func hasProperty(p notion.Page, key string) bool {
	_, ok := p.Properties[key]
	return ok
}

// pull writes a page to the file at path: l, the file there if any, keeps
// its front-matter keys that are not mapped. A mapped property changed
// only in the file since st is kept and written to Notion.
func (s *NotionSync) pull(ctx context.Context, id string, r *remoteSide, path string, l *localFile, st pageState,
	action contracts.Action, rep *Report) error {
	rep.act("to local: %s → %s", id, path)
	rep.ToLocal++
	if rep.DryRun {
		return nil
	}
	if err := s.read(ctx, r, path); err != nil {
		return err
	}
	localNewer := l != nil && l.ModTime.After(r.page.LastEditedTime)
	plan := s.planFor(l, r, st, localNewer)
	if len(plan.conflicted) > 0 {
		rep.Conflicts++
		reportProps(rep, path, plan, localNewer)
	}
	if len(plan.toNotion) > 0 {
		page, err := s.updateProps(ctx, r.page.ID, path, plan.toNotion, rep)
		if err != nil {
			return fmt.Errorf("update properties: %w", err)
		}
		rep.act("to notion: %s properties → %s", path, id)
		r.page = page
		r.hash = s.remoteHashOf(page, r.tags(s.tagsKey), r.md)
	}
	content, err := composeFile(r.page.Title(), r.page.ID, r.tags(s.tagsKey), plan.front, r.md)
	if err != nil {
		return err
	}
	st, err = s.writeLocal(path, content, r)
	if err != nil {
		return err
	}
	if err := s.saveState(ctx, id, st); err != nil {
		return err
	}
	return s.synced(ctx, r.page.ID, r.page.Title(), contracts.DirectionToLocal, action, st)
}

// writeLocal writes a file and returns the state of the page after it.
func (s *NotionSync) writeLocal(path string, content []byte, r *remoteSide) (pageState, error) {
	if err := writeFile(s.dir, path, content); err != nil {
		return pageState{}, fmt.Errorf("write %s: %w", path, err)
	}
	var mtime time.Time
	if info, err := os.Stat(filepath.Join(s.dir, filepath.FromSlash(path))); err == nil {
		mtime = info.ModTime().UTC()
	}
	return pageState{Path: path, LocalHash: hashBytes(content), LocalTime: mtime, RemoteHash: r.hash,
		RemoteTime: r.page.LastEditedTime, SyncedAt: time.Now().UTC(),
		Properties: remoteValues(s.mapped, r.page).canons(s.mapped)}, nil
}

// createPage creates a page for a file without a notion_id and writes the
// new id into the file's front matter.
func (s *NotionSync) createPage(ctx context.Context, l *localFile, rep *Report) error {
	rep.act("new page: %s", l.Path)
	rep.ToNotion++
	if rep.DryRun {
		return nil
	}
	if hasMarkers(l.doc.Body) {
		rep.ToNotion--
		rep.Unresolved++
		return nil
	}
	local, refused := localValues(s.mapped, l.doc.Properties, l.doc.Texts)
	reportRefused(l.Path, refused, rep)
	mapped := map[string]notion.Property{}
	for _, m := range s.mapped {
		if v, ok := local[m.key]; ok && v.canon != "" {
			mapped[m.name] = v.prop
		}
	}
	props := s.properties(l.doc, false)
	maps.Copy(props, mapped)
	blocks, waits := s.links.toBlocks(l.Path, l.doc.Body)
	localMD := s.links.toMarkdown(l.Path, blocks)
	if err := s.recordIntent(ctx, l, creationWrite(l, localMD)); err != nil {
		return err
	}
	recordCreation, made := s.recordCreation(l, localMD), false
	record := func(ctx context.Context, p notion.Page) error { made = true; return recordCreation(ctx, p) }
	created, err := s.client.CreatePageThen(ctx, s.db, props, blocks, record)
	withoutMapped := false
	if notion.IsRefused(err) && created.ID == "" && len(mapped) > 0 {
		// Perhaps a mapped value: create the page without them, then
		// write them one by one, reporting those Notion refuses.
		withoutMapped = true
		created, err = s.createThenUpdate(ctx, l, blocks, mapped, record, rep)
	}
	switch {
	case !made && notion.IsRefused(err) && l.NotionID == "":
		// Notion refused the request: it made no page to find. (The intent
		// of a file naming its archived page stays: the next sync, finding
		// no page, gives the file one again.)
		return errors.Join(fmt.Errorf("create page: %w", err), s.dropIntent(ctx, l.Path))
	case created.ID == "" && err != nil:
		// The page may have been made all the same: the intent stays, and
		// the next sync looks for it.
		return fmt.Errorf("create page: %w", err)
	case err != nil && !withoutMapped:
		// A page created is recorded in its state (recordCreation): the
		// next sync gives the file its id and finishes the content.
		return fmt.Errorf("create page: %w", err)
	}
	if waits {
		s.links.relinkLater(relink{id: normalizeID(created.ID), path: l.Path, body: l.doc.Body, written: blocks})
	}
	return errors.Join(err, s.linkFile(ctx, l, created.ID, blocks, contracts.ActionCreated))
}

// createThenUpdate creates a page for a file with its title, tags and
// content, record called once Notion created it, and writes the mapped
// properties' values mapped, each refused one reported and left out. The
// page is returned when it was created with all its content, even with an
// error writing the properties; a page whose content was not all written
// is not, and is left to the next sync by its record.
func (s *NotionSync) createThenUpdate(ctx context.Context, l *localFile, blocks []notion.Block,
	mapped map[string]notion.Property, record func(context.Context, notion.Page) error, rep *Report) (notion.Page, error) {
	created, err := s.client.CreatePageThen(ctx, s.db, s.properties(l.doc, false), blocks, record)
	if err != nil {
		return notion.Page{}, err
	}
	_, err = s.updateProps(ctx, created.ID, l.Path, mapped, rep)
	return created, err
}

// linkFile writes a new page's id into the file, records the state and
// maps the links to the file to the page.
func (s *NotionSync) linkFile(ctx context.Context, l *localFile, pageID string, blocks []notion.Block, action contracts.Action) error {
	page, err := s.client.RetrievePage(ctx, pageID)
	if err != nil {
		return err
	}
	s.links.add(l.Path, page)
	content, err := composeFile(l.doc.Title, page.ID, l.doc.Tags, s.frontAsWritten(l.doc), l.doc.Body)
	if err != nil {
		return err
	}
	r := &remoteSide{page: page, hash: s.remoteHashOf(page, l.doc.Tags, s.links.toMarkdown(l.Path, blocks))}
	st, err := s.writeLocal(l.Path, content, r)
	if err != nil {
		return err
	}
	if err := s.saveState(ctx, normalizeID(page.ID), st); err != nil {
		return err
	}
	return s.synced(ctx, page.ID, l.doc.Title, contracts.DirectionToNotion, action, st)
}

// frontAsWritten is a file's front matter to write it again: the values
// of mapped properties holding text as written (owner: 007 as "007"), so
// that YAML does not read them as numbers once written.
func (s *NotionSync) frontAsWritten(doc Document) map[string]any {
	front := maps.Clone(doc.Properties)
	for _, m := range s.mapped {
		if v := m.frontValue(doc.Properties, doc.Texts); v != nil {
			front[m.key] = v
		}
	}
	return front
}

// recreatePage handles a file changed while its page was archived in
// Notion: nothing is deleted; the file gets a new page.
func (s *NotionSync) recreatePage(ctx context.Context, oldID string, l *localFile, rep *Report) error {
	rep.Conflicts++
	rep.act("conflict: %s changed, its page %s was archived: new page", l.Path, oldID)
	if rep.DryRun {
		return nil
	}
	if err := s.conflictEvent(ctx, oldID, l.Path, l.doc.Title, contracts.DirectionToNotion,
		contracts.ResolutionLocalWins, l.ModTime, time.Now().UTC(), "recreated:"+l.Hash); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, oldID); err != nil {
		return err
	}
	return s.createPage(ctx, l, rep)
}

// restoreFile handles a page changed in Notion while its file was deleted:
// nothing is deleted; the file comes back.
func (s *NotionSync) restoreFile(ctx context.Context, id string, r *remoteSide, st pageState, rep *Report) error {
	rep.Conflicts++
	if !rep.DryRun {
		if err := s.conflictEvent(ctx, id, st.Path, r.page.Title(), contracts.DirectionToLocal,
			contracts.ResolutionRemoteWins, st.LocalTime, r.page.LastEditedTime, "restored:"+r.hash); err != nil {
			return err
		}
	}
	return s.pull(ctx, id, r, st.Path, nil, pageState{}, contracts.ActionCreated, rep)
}

// deleteFile moves a file whose page was archived in Notion to the
// trash, under stamp.
func (s *NotionSync) deleteFile(ctx context.Context, id string, l *localFile, stamp string, rep *Report) error {
	rep.act("delete file: %s (page %s archived): moved to %s/%s/", l.Path, id, TrashDir, stamp)
	rep.Deleted++
	if rep.DryRun {
		return nil
	}
	if err := s.trash(l.Path, stamp); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, id); err != nil {
		return err
	}
	return s.synced(ctx, id, l.doc.Title, contracts.DirectionToLocal, contracts.ActionDeleted,
		pageState{Path: l.Path, SyncedAt: time.Now().UTC()})
}

// trash moves the file at the slash-separated path rel to
// TrashDir/stamp/rel.
func (s *NotionSync) trash(rel, stamp string) error {
	src := filepath.Join(s.dir, filepath.FromSlash(rel))
	dst := filepath.Join(s.dir, TrashDir, stamp, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("move %s to the trash: %w", rel, err)
	}
	if err := os.Rename(src, dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("move %s to the trash: %w", rel, err)
	}
	return nil
}

// archivePage archives a page whose file was deleted.
func (s *NotionSync) archivePage(ctx context.Context, id string, r *remoteSide, st pageState, rep *Report) error {
	rep.act("archive page: %s (file %s deleted)", id, st.Path)
	rep.Archived++
	if rep.DryRun {
		return nil
	}
	if err := s.client.ArchivePage(ctx, r.page.ID); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, id); err != nil {
		return err
	}
	return s.synced(ctx, r.page.ID, r.page.Title(), contracts.DirectionToNotion, contracts.ActionDeleted,
		pageState{Path: st.Path, SyncedAt: time.Now().UTC()})
}

// conflict settles a page changed on both sides: the later edit wins and is
// written to Notion; the file keeps both versions between conflict markers.
// Each mapped property changed on one side only keeps that side's value;
// one changed on both takes the later edit's. note, if any, ends the
// report's line.
func (s *NotionSync) conflict(ctx context.Context, id string, l *localFile, r *remoteSide, st pageState, note string,
	rep *Report) error {
	rep.Conflicts++
	if err := s.read(ctx, r, l.Path); err != nil {
		return err
	}
	localWins := l.ModTime.After(r.page.LastEditedTime)
	resolution, direction := contracts.ResolutionRemoteWins, contracts.DirectionToLocal
	if localWins {
		resolution, direction = contracts.ResolutionLocalWins, contracts.DirectionToNotion
	}
	rep.act("conflict: %s ⇄ %s, %s%s", l.Path, id, resolution, note)
	if rep.DryRun {
		return nil
	}
	plan := s.planFor(l, r, st, localWins)
	if err := s.conflictEvent(ctx, id, l.Path, l.doc.Title, direction, resolution, l.ModTime,
		r.page.LastEditedTime, l.Hash+":"+r.hash); err != nil {
		return err
	}
	if localWins {
		return s.conflictToNotion(ctx, id, l, r, st, plan, rep)
	}
	if len(plan.toNotion) > 0 {
		reportProps(rep, l.Path, plan, false)
		page, err := s.updateProps(ctx, r.page.ID, l.Path, plan.toNotion, rep)
		if err != nil {
			return fmt.Errorf("update properties: %w", err)
		}
		r.page = page
		r.hash = s.remoteHashOf(page, r.tags(s.tagsKey), r.md)
	}
	content, err := composeFile(r.page.Title(), r.page.ID, r.tags(s.tagsKey), plan.front, conflictBody(r.md, l.doc.Body))
	if err != nil {
		return err
	}
	st, err = s.writeLocal(l.Path, content, r)
	if err != nil {
		return err
	}
	if err := s.saveState(ctx, id, st); err != nil {
		return err
	}
	return s.synced(ctx, r.page.ID, r.page.Title(), contracts.DirectionToLocal, contracts.ActionUpdated, st)
}

// conflictToNotion settles a conflict the file wins, its page read: the
// file gets both versions between conflict markers before the page is
// written, so that a write that stops halfway leaves the Notion version in
// the file; the write under way is recorded in the page's state first.
func (s *NotionSync) conflictToNotion(ctx context.Context, id string, l *localFile, r *remoteSide, st pageState,
	plan propPlan, rep *Report) error {
	rep.act("to notion: %s → %s", l.Path, id)
	rep.ToNotion++
	reportProps(rep, l.Path, plan, true)
	localMD, blocks, waits := s.links.roundTrip(l.Path, l.doc.Body)
	content, err := composeFile(l.doc.Title, r.page.ID, l.doc.Tags, plan.front, conflictBody(r.md, l.doc.Body))
	if err != nil {
		return err
	}
	pending := contentWrite{LocalHash: l.Hash, Content: hashBytes(localMD), Kept: true}
	if err := s.markWriting(ctx, id, l.Path, st, pending); err != nil {
		return err
	}
	if st, err = s.writeLocal(l.Path, content, r); err != nil {
		return err
	}
	written, err := s.writeToNotion(ctx, id, l, r, plan, blocks, waits, rep)
	if err != nil {
		return err
	}
	st.RemoteHash, st.RemoteTime, st.SyncedAt = written.hash, written.page.LastEditedTime, time.Now().UTC()
	st.Properties = remoteValues(s.mapped, written.page).canons(s.mapped)
	if err := s.saveState(ctx, id, st); err != nil {
		return err
	}
	if err := s.synced(ctx, written.page.ID, l.doc.Title, contracts.DirectionToNotion, contracts.ActionUpdated, st); err != nil {
		return err
	}
	return s.synced(ctx, written.page.ID, l.doc.Title, contracts.DirectionToLocal, contracts.ActionUpdated, st)
}

// loadStates reads the state of every page synced with this database, and
// of those synced before states named their database, and the intents to
// create a page in it that are left (see [creationIntent]), by path.
func (s *NotionSync) loadStates(ctx context.Context) (map[string]pageState, []creationIntent, error) {
	out := map[string]pageState{}
	var intents []creationIntent
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list sync state: %w", err)
	}
	defer lister.Stop()
	for key := range lister.Keys() {
		entry, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read sync state %s: %w", key, err)
		}
		if strings.HasPrefix(key, intentPrefix) {
			var in creationIntent
			if err := json.Unmarshal(entry.Value(), &in); err != nil || in.Path == "" {
				s.log.WarnContext(ctx, "unreadable creation intent ignored", "key", key, "err", err)
			} else if in.DatabaseID == normalizeID(s.db) {
				in.key = key
				intents = append(intents, in)
			}
			continue
		}
		var st pageState
		if err := json.Unmarshal(entry.Value(), &st); err != nil {
			s.log.WarnContext(ctx, "unreadable sync state dropped", "page", key, "err", err)
			continue
		}
		if st.DatabaseID != "" && st.DatabaseID != normalizeID(s.db) {
			continue // another database's: no evidence about this one
		}
		out[key] = st
	}
	slices.SortFunc(intents, func(a, b creationIntent) int { return strings.Compare(a.Path, b.Path) })
	return out, intents, nil
}

func (s *NotionSync) saveState(ctx context.Context, id string, st pageState) error {
	st.DatabaseID = normalizeID(s.db)
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, id, b); err != nil {
		return fmt.Errorf("save sync state: %w", err)
	}
	return nil
}

// synced publishes com.gtmhub.knowledge.page.synced for a page written.
func (s *NotionSync) synced(ctx context.Context, pageID, title string, dir contracts.Direction, action contracts.Action, st pageState) error {
	data := contracts.KnowledgePage{Path: st.Path, NotionID: pageID, Title: title, Direction: dir, Action: action,
		LocalHash: st.LocalHash, RemoteHash: st.RemoteHash}
	if !st.LocalTime.IsZero() {
		t := st.LocalTime
		data.LocalUpdatedAt = &t
	}
	if !st.RemoteTime.IsZero() {
		t := st.RemoteTime
		data.RemoteUpdatedAt = &t
	}
	key := strings.Join([]string{"synced", normalizeID(pageID), string(dir), string(action), st.LocalHash, st.RemoteHash}, ":")
	return s.publish(ctx, events.SubjectKnowledgeSynced, contracts.TypeKnowledgePageSynced, key, st.Path, data)
}

// conflictEvent publishes com.gtmhub.knowledge.page.conflict.
func (s *NotionSync) conflictEvent(ctx context.Context, pageID, path, title string, dir contracts.Direction,
	res contracts.Resolution, localAt, remoteAt time.Time, key string) error {
	localAt, remoteAt = localAt.UTC(), remoteAt.UTC()
	data := contracts.KnowledgePage{Path: path, NotionID: pageID, Title: title, Direction: dir, Resolution: res,
		LocalUpdatedAt: &localAt, RemoteUpdatedAt: &remoteAt}
	return s.publish(ctx, events.SubjectKnowledgeConflict, contracts.TypeKnowledgePageConflict,
		"conflict:"+normalizeID(pageID)+":"+key, path, data)
}

// publish validates and publishes one event whose id derives from key, so
// that publishing the same outcome again is deduplicated.
func (s *NotionSync) publish(ctx context.Context, subject, typ, key, ceSubject string, data contracts.KnowledgePage) error {
	if s.pub == nil {
		return nil
	}
	body, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if err := contracts.Validate(typ, body); err != nil {
		s.log.ErrorContext(ctx, "knowledge event does not match its contract; not published", "type", typ, "err", err)
		return nil
	}
	ev := event.New()
	ev.SetID(uuid.NewSHA1(eventNamespace, []byte(Name+":"+key)).String())
	ev.SetSource(Source)
	ev.SetType(typ)
	ev.SetSubject(ceSubject)
	ev.SetTime(time.Now().UTC())
	if err := ev.SetData(event.ApplicationJSON, body); err != nil {
		return err
	}
	if err := s.pub.Publish(ctx, subject, ev); err != nil {
		return fmt.Errorf("publish %s: %w", typ, err)
	}
	return nil
}
