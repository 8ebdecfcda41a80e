package knowledgesync

import (
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

// intentKey is the key of the creation intent for the file at path.
func intentKey(path string) string {
	sum := sha256.Sum256([]byte(path))
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
}

// recordIntent records, before the request, that the sync is about to
// create a page titled title for the file l, whose creation will be
// recorded with w.
func (s *NotionSync) recordIntent(ctx context.Context, l *localFile, title string, w contentWrite) error {
	in := creationIntent{DatabaseID: normalizeID(s.db), Path: l.Path, Title: title, Write: w, Requested: time.Now().UTC()}
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, intentKey(l.Path), b); err != nil {
		return fmt.Errorf("record the page's creation before asking for it: %w", err)
	}
	return nil
}

// dropIntent removes the creation intent for the file at path, once the
// creation is recorded or known not to have happened.
func (s *NotionSync) dropIntent(ctx context.Context, path string) error {
	if err := s.kv.Delete(ctx, intentKey(path)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("remove the creation intent for %s: %w", path, err)
	}
	return nil
}

// resolveIntents settles the creation intents a sync finds: for each, the
// page its request created, if any (see [createdFor]), gets the record
// of its creation in states, and the intent is dropped. The record's
// LocalHash is that of the file at the intent's path with the page's id
// when the file is still the one the page was created for, else none,
// and the file, changed since, makes the page a conflict. Pages claimed
// by a file's notion_id are not taken. A dry run records and drops nothing
// in the state it keeps, but plans with the record, so that it reports
// what the sync will do.
func (s *NotionSync) resolveIntents(ctx context.Context, intents []creationIntent, pages []notion.Page,
	states map[string]pageState, local map[string]*localFile, fresh []*localFile, rep *Report) error {
	if len(intents) == 0 {
		return nil
	}
	bot, err := s.botUserID(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, in := range intents {
		page := createdFor(in, pages, bot, func(id string) bool { _, ok := states[id]; return ok || local[id] != nil })
		if id := normalizeID(page.ID); page.ID != "" {
			w := in.Write
			w.LocalHash = ""
			if i := slices.IndexFunc(fresh, func(f *localFile) bool { return f.Path == in.Path }); i >= 0 && fresh[i].Hash == w.Unlinked {
				linked, err := s.linkedContent(fresh[i], page.ID)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", in.Path, err))
					continue
				}
				w.LocalHash = hashBytes(linked)
			}
			st := pageState{Path: in.Path, Writing: &w}
			states[id] = st
			rep.act("found: %s → %s (created for it, the creation not recorded)", in.Path, id)
			if rep.DryRun {
				continue
			}
			if err := s.saveState(ctx, id, st); err != nil {
				errs = append(errs, fmt.Errorf("%s: record the page created for it: %w", in.Path, err))
				continue
			}
			s.log.InfoContext(ctx, "knowledge page found that was created for a file without a record", "file", in.Path, "page", id)
		}
		if !rep.DryRun {
			errs = append(errs, s.dropIntent(ctx, in.Path))
		}
	}
	return errors.Join(errs...)
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
