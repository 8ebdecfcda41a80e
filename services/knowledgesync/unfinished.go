package knowledgesync

import (
	"context"
	"fmt"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// contentWrite is a write to a page's content under way, recorded in the
// page's state before the write begins. Notion has no transaction: a write
// appends the new blocks and then deletes the old ones, so one that stops
// halfway (an error, the process stopped) leaves both in the page.
type contentWrite struct {
	// LocalHash is the hash of the file the content is written from.
	LocalHash string `json:"local_hash"`
	// Content is the hash of the content written, as Markdown read back
	// from Notion.
	Content string `json:"content_hash"`
	// Kept says the file holds the page's content from before the write
	// between conflict markers: the write settles a conflict the file won.
	Kept bool `json:"kept,omitempty"`
	// Unlinked is set for the write of the content of a page created for
	// a file: the hash of the file before it got the page's id, LocalHash
	// being that of the file with it (see [pageState.creating]).
	Unlinked string `json:"unlinked_hash,omitempty"`
	// Replaces is, for the page created for a file changed after its page
	// was archived, the hyphen-less id of the archived page the file named
	// (see [NotionSync.recreatePage]).
	Replaces string `json:"replaces,omitempty"`
}

// markWriting records in the state st of the page id that a write from
// the file at path is under way, before anything is written. The state
// saved once the write is done carries no such record.
func (s *NotionSync) markWriting(ctx context.Context, id, path string, st pageState, w contentWrite) error {
	st.Path, st.Writing = path, &w
	if err := s.saveState(ctx, id, st); err != nil {
		return fmt.Errorf("record the write under way: %w", err)
	}
	return nil
}

// writeReachedEnd reports whether a page, read, holds the content of the
// write its state records as under way: the write got to its end and only
// the state after it was not saved, so the page is settled as any other.
func (s *NotionSync) writeReachedEnd(r *remoteSide, st pageState) bool {
	return hashBytes(r.md) == st.Writing.Content
}

// unfinished settles a page, changed in Notion since its state, whose
// state records a write to its content that stopped halfway: the page may
// hold the old content and the new together, so it is never pulled as it
// is. When the page's last edit is the sync's own and the file is the one
// the write was made from, or one settling the conflict whose Notion
// version the file was given with markers before the write, the file is
// written to the page, which keeps the blocks already written. Otherwise
// (the page edited in Notion since, or the file changed too) it is a
// conflict: the file keeps both versions between conflict markers.
func (s *NotionSync) unfinished(ctx context.Context, id string, l *localFile, r *remoteSide, st pageState,
	rep *Report) error {
	ours, err := s.editedBySync(ctx, r.page)
	if err != nil {
		return err
	}
	sameFile := l.Hash == st.Writing.LocalHash
	if ours && (sameFile || st.Writing.Kept) {
		return s.finishWrite(ctx, id, l, r, st, rep)
	}
	why := "the page was edited in Notion since"
	if ours {
		why = "the file changed since"
	} else if !sameFile {
		why = "the page and the file changed since"
	}
	return s.conflict(ctx, id, l, r, st, " (an earlier write stopped halfway, "+why+")", rep)
}

// finishWrite writes a file to its page, read, whose earlier write
// stopped halfway: the blocks that write appended and that the file holds
// are kept, the others deleted. A dry run only reports it.
func (s *NotionSync) finishWrite(ctx context.Context, id string, l *localFile, r *remoteSide, st pageState,
	rep *Report) error {
	rep.act("to notion: %s → %s write finished (an earlier write stopped halfway)", l.Path, id)
	rep.ToNotion++
	if rep.DryRun {
		return nil
	}
	action := contracts.ActionUpdated
	if st.creating() {
		action = contracts.ActionCreated
	}
	return s.pushFile(ctx, id, l, r, st, action, rep)
}

// editedBySync reports whether Notion names the integration's own user as
// the page's last editor. The user is read from Notion once; a page that
// names no last editor was not edited by the sync, as far as it can tell.
func (s *NotionSync) editedBySync(ctx context.Context, page notion.Page) (bool, error) {
	if page.LastEditedBy.ID == "" {
		return false, nil
	}
	bot, err := s.botUserID(ctx)
	if err != nil {
		return false, err
	}
	return normalizeID(page.LastEditedBy.ID) == bot, nil
}
