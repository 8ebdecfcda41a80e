package knowledgesync

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// Notion's create request has no idempotency key: when the process stops
// after Notion created a page and before the creation is recorded (see
// [NotionSync.recordCreation]), nothing names the page as the file's, and
// the next sync would create a second one and pull the first as a new
// file. So the sync records its intent to create a page for a file before
// it asks (see [NotionSync.recordIntent]), and the next sync that finds
// the intent still there looks in the database for the page the request
// made: one the integration created since, titled as the file, that no
// state or file claims (see [NotionSync.resolveIntents]). Found, it is
// recorded as created for the file, and linked and finished as any
// creation that stopped halfway; not found, the request never reached
// Notion and the file gets its page at this sync.

// clockSkew is how far Notion's clock is taken to be from this machine's.
const clockSkew = time.Minute

// intentPrefix begins the sync state's keys that hold a creation intent;
// the others are page ids.
const intentPrefix = "creating."

// intentKey is the key of the creation intent for the file at path in
// the database db.
func intentKey(db, path string) string {
	sum := sha256.Sum256([]byte(normalizeID(db) + "\x00" + path))
	return intentPrefix + hex.EncodeToString(sum[:16])
}

// creationIntent is what the sync knows, before it asks Notion to create
// a page for a file, of the page it will have: the state its creation is
// recorded with, and how to tell it in the database.
type creationIntent struct {
	// DatabaseID is the database the page is created in, hyphen-less.
	DatabaseID string `json:"database_id"`
	Path       string `json:"path"`
	Title      string `json:"title"`
	// Write is the creation's record as [NotionSync.recordCreation]
	// saves it once Notion gave the page's id, but for its LocalHash,
	// the hash of the file with that id.
	Write contentWrite `json:"write"`
	// Requested is when the sync asked. Notion gives a page's creation
	// time to the minute.
	Requested time.Time `json:"requested_at"`
	// key is the key the intent was read from.
	key string
}

// recordIntent records, before the request, that the sync is about to
// create a page for the file l, whose creation will be recorded with w.
func (s *NotionSync) recordIntent(ctx context.Context, l *localFile, w contentWrite) error {
	in := creationIntent{DatabaseID: normalizeID(s.db), Path: l.Path, Title: l.doc.Title, Write: w, Requested: time.Now().UTC()}
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, intentKey(s.db, l.Path), b); err != nil {
		return fmt.Errorf("record the page's creation before asking for it: %w", err)
	}
	return nil
}

// dropIntent removes the creation intent for the file at path, once the
// creation is recorded or known not to have happened.
func (s *NotionSync) dropIntent(ctx context.Context, path string) error {
	return s.dropKey(ctx, intentKey(s.db, path))
}

// dropKey removes the creation intent at key.
func (s *NotionSync) dropKey(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("remove the creation intent %s: %w", key, err)
	}
	return nil
}

// resolveIntents settles the creation intents a sync finds: for each, the
// page its request created, if any (see [createdFor]), gets the record
// of its creation in states, and the intent is dropped. The record's
// LocalHash is that of the file at the intent's path with the page's id
// when the file is still the one the page was created for, else none,
// and the file, changed since, makes the page a conflict. Pages claimed
// by a file's notion_id or a state are not taken. Where intents for
// several files share a title, each takes a page only when there are as
// many pages to take as intents, in the order they were asked for;
// otherwise none can be told apart, and their pages, if any, are pulled
// as pages new in Notion. A dry run records and drops nothing in the
// state it keeps, but plans with the record, so that it reports what the
// sync will do. It returns the paths whose intent could not be settled,
// each with an error in the report: their files get no page at this
// sync, lest one be made twice.
func (s *NotionSync) resolveIntents(ctx context.Context, intents []creationIntent, pages []notion.Page,
	states map[string]pageState, local map[string]*localFile, fresh *[]*localFile, remote map[string]*remoteSide,
	rep *Report) (held map[string]bool) {
	held = map[string]bool{}
	if len(intents) == 0 {
		return held
	}
	bot, err := s.botUserID(ctx)
	if err != nil {
		for _, in := range intents {
			held[in.Path] = true
		}
		rep.Errors = append(rep.Errors, fmt.Errorf("settle %d page creations: %w", len(intents), err))
		return held
	}
	taken := func(id string) bool { _, ok := states[id]; return ok || local[id] != nil }
	for _, same := range byTitle(intents) {
		found := pagesFor(same, pages, bot, taken)
		for k, in := range same {
			if err := s.settleIntent(ctx, in, found[k], states, local, fresh, remote, rep); err != nil {
				held[in.Path] = true
				rep.Errors = append(rep.Errors, fmt.Errorf("%s: %w", in.Path, err))
			}
		}
	}
	return held
}

// byTitle groups intents by the title of their file, each group in the
// order the intents were recorded.
func byTitle(intents []creationIntent) [][]creationIntent {
	groups := map[string][]creationIntent{}
	var titles []string
	for _, in := range intents {
		if _, ok := groups[in.Title]; !ok {
			titles = append(titles, in.Title)
		}
		groups[in.Title] = append(groups[in.Title], in)
	}
	out := make([][]creationIntent, 0, len(titles))
	for _, t := range titles {
		g := groups[t]
		slices.SortStableFunc(g, func(a, b creationIntent) int { return a.Requested.Compare(b.Requested) })
		out = append(out, g)
	}
	return out
}

// pagesFor returns, for intents sharing a title in the order they were
// asked for, the page each one's request created, a zero Page for none:
// for one intent, the page [createdFor] finds; for several, the pages
// created for the first of them in the order they were created, when
// there are exactly as many, else none.
func pagesFor(same []creationIntent, pages []notion.Page, bot string, taken func(id string) bool) []notion.Page {
	found := make([]notion.Page, len(same))
	if len(same) == 1 {
		found[0] = createdFor(same[0], pages, bot, taken)
		return found
	}
	var candidates []notion.Page
	for {
		p := createdFor(same[0], pages, bot, func(id string) bool {
			return taken(id) || slices.ContainsFunc(candidates, func(c notion.Page) bool { return normalizeID(c.ID) == id })
		})
		if p.ID == "" {
			break
		}
		candidates = append(candidates, p)
	}
	if len(candidates) == len(same) {
		copy(found, candidates)
	}
	return found
}

// settleIntent records page, when it is not a zero Page, as created for
// the file of intent in, and drops the intent. With no page, a file that
// names the archived page the intent's page was to replace is moved to
// fresh, to get its page at this sync.
func (s *NotionSync) settleIntent(ctx context.Context, in creationIntent, page notion.Page, states map[string]pageState,
	local map[string]*localFile, fresh *[]*localFile, remote map[string]*remoteSide, rep *Report) error {
	if page.ID != "" {
		id := normalizeID(page.ID)
		w := in.Write // its LocalHash, the hash of the file with the page's id, is set here
		if f, _ := unlinkedAt(in.Path, w.Replaces, local, *fresh, states, remote); f != nil && f.Hash == w.Unlinked {
			linked, err := s.linkedContent(f, page.ID)
			if err != nil {
				return err
			}
			w.LocalHash = hashBytes(linked)
		}
		st := pageState{Path: in.Path, Writing: &w}
		states[id] = st
		rep.act("found: %s → %s (created for it, the creation not recorded)", in.Path, id)
		if rep.DryRun {
			return nil
		}
		if err := s.saveState(ctx, id, st); err != nil {
			return fmt.Errorf("record the page created for it: %w", err)
		}
		s.log.InfoContext(ctx, "knowledge page found that was created for a file without a record", "file", in.Path, "page", id)
	} else if f, claimed := unlinkedAt(in.Path, in.Write.Replaces, local, *fresh, states, remote); claimed != "" {
		// A file changed after its page was archived, whose new page was
		// not made: it gets one at this sync.
		delete(local, claimed)
		*fresh = append(*fresh, f)
	}
	if rep.DryRun {
		return nil
	}
	return s.dropKey(ctx, cmp.Or(in.key, intentKey(s.db, in.Path)))
}

// createdFor returns the page the request of intent in created, a zero
// Page when none: of the pages the integration bot created since the
// request, titled as the file and not taken, the one created first.
// Notion gives creation times to the minute, by its own clock: the pages
// of the minute before the request's are looked at too. A page
// the integration created is always recorded, so one of them not taken
// is a creation whose record was lost, and the file's to take.
func createdFor(in creationIntent, pages []notion.Page, bot string, taken func(id string) bool) notion.Page {
	since := in.Requested.Add(-clockSkew).Truncate(time.Minute)
	var found notion.Page
	for _, p := range pages {
		id := normalizeID(p.ID)
		switch {
		case normalizeID(p.CreatedBy.ID) != bot, p.CreatedTime.Before(since), p.Title() != in.Title, taken(id):
		case found.ID == "" || p.CreatedTime.Before(found.CreatedTime) ||
			p.CreatedTime.Equal(found.CreatedTime) && id < normalizeID(found.ID):
			found = p
		}
	}
	return found
}

// botUserID returns the hyphen-less id of the integration's own user,
// read once.
func (s *NotionSync) botUserID(ctx context.Context) (string, error) {
	if s.botID == "" {
		bot, err := s.client.BotUser(ctx)
		if err != nil {
			return "", fmt.Errorf("read the integration's user: %w", err)
		}
		s.botID = normalizeID(bot.ID)
	}
	return s.botID, nil
}
