package knowledgesync

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// convertedBefore reports whether the state says that the page of a file,
// unchanged on both sides since the last sync, holds content that reads
// neither as the file's body nor as localMD, the body as Notion would give
// it back once written with today's conversion: content written by an
// earlier conversion, such as a link between synced files written as its
// text. It reads nothing from Notion: the page's title, tags and mapped
// properties, unchanged since the state was written, are taken from the
// page as listed, so that the hashes differ by their content only.
//
// Content that reads as the file's body (a page pulled from Notion, or
// written by a conversion that gave the body back as it is) is never taken
// for an earlier conversion's: writing today's conversion over it could
// only lose what the file holds.
func (s *NotionSync) convertedBefore(l *localFile, r *remoteSide, st pageState, localMD []byte) bool {
	last := st.RemoteHash
	if r.read {
		last = r.hash
	}
	tags := r.tags(s.tagsKey)
	return last != s.remoteHashOf(r.page, tags, localMD) && last != s.remoteHashOf(r.page, tags, asPulled(l.doc.Body))
}

// asPulled is a file's body as the Markdown read from Notion that a pull
// writes it from: without the blank line a pull puts between the front
// matter and the body.
func asPulled(body []byte) []byte {
	return bytes.TrimLeft(body, "\n")
}

// rewrite writes again the content of a page that [convertedBefore] says
// an earlier conversion wrote: blocks, today's conversion of the file's
// body, which Notion gives back as localMD. Its title, tags and properties
// are left as they are. The page's content is read first, and one that
// already reads as the file's body or as localMD is not written; the write
// is recorded in the page's state st before it begins.
// rewritten reports whether the page was written, or would be on a dry
// run.
func (s *NotionSync) rewrite(ctx context.Context, id string, l *localFile, r *remoteSide, st pageState, localMD []byte,
	blocks []notion.Block, rep *Report) (rewritten bool, err error) {
	if err := s.read(ctx, r, l.Path); err != nil {
		return false, err
	}
	if bytes.Equal(r.md, localMD) || bytes.Equal(r.md, asPulled(l.doc.Body)) {
		return false, nil
	}
	rep.act("to notion: %s → %s rewritten (conversion changed)", l.Path, id)
	rep.ToNotion++
	if rep.DryRun {
		return true, nil
	}
	if err := s.markWriting(ctx, id, l.Path, st, contentWrite{LocalHash: l.Hash, Content: hashBytes(localMD)}); err != nil {
		return true, err
	}
	if err := s.replaceContent(ctx, r.page.ID, r.tree, blocks, s.links.options(l.Path)...); err != nil {
		return true, err
	}
	return true, s.recordRewrite(ctx, id, l, r.page.ID, localMD)
}

// recordRewrite records the state of a page whose content was written
// again, localMD as Notion gives it back, and publishes its sync.
func (s *NotionSync) recordRewrite(ctx context.Context, id string, l *localFile, pageID string, localMD []byte) error {
	page, err := s.client.RetrievePage(ctx, pageID)
	if err != nil {
		return fmt.Errorf("read the page written: %w", err)
	}
	written := &remoteSide{page: page}
	st := pageState{Path: l.Path, LocalHash: l.Hash, LocalTime: l.ModTime, RemoteTime: page.LastEditedTime,
		RemoteHash: s.remoteHashOf(page, written.tags(s.tagsKey), localMD), SyncedAt: time.Now().UTC(),
		Properties: remoteValues(s.mapped, page).canons(s.mapped)}
	if err := s.saveState(ctx, id, st); err != nil {
		return err
	}
	return s.synced(ctx, page.ID, l.doc.Title, contracts.DirectionToNotion, contracts.ActionUpdated, st)
}
