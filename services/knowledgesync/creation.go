package knowledgesync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// A page created for a file takes several steps: Notion's create request
// carries at most 100 blocks, the rest of the content is appended in later
// requests, and the page's id is then written into the file's front matter
// and the page's state saved. Each step may fail, or the process stop,
// with the page in Notion and the file still without its id: the next sync
// would create a second page for the file and pull the first as a new
// file. So the creation is recorded in the page's state as soon as Notion
// gives the page's id (see [NotionSync.recordCreation]), as a write to its
// content under way whose [contentWrite.Unlinked] holds the hash of the
// file without the id, and the next sync links that file to the page
// (see [adoptCreated]) and finishes the write as any other that stopped
// halfway (see [NotionSync.unfinished]).

// creating reports whether the state records the creation of its page for
// the file at its path, which may not hold the page's id yet.
func (st pageState) creating() bool {
	return st.Writing != nil && st.Writing.Unlinked != ""
}

// recordCreation returns what to call once Notion created a page for the
// file l, before the rest of the content, localMD as Notion gives it back,
// is appended and before the page's id is written into the file: it
// records the creation in the page's state, with the hash of the file as
// it will be once it holds the page's id, and drops the intent recorded
// before the request (see [NotionSync.recordIntent]), which the next sync
// would otherwise settle. When the record cannot be saved the page is
// archived, and the intent dropped: without a record, the next sync would
// take the page for one new in Notion and pull it as a second file, while
// the file, still without an id, gets a page of its own. When the page
// cannot be archived either, the intent stays for the next sync to find
// the page by.
func (s *NotionSync) recordCreation(l *localFile, localMD []byte) func(context.Context, notion.Page) error {
	return func(ctx context.Context, page notion.Page) error {
		linked, err := s.linkedContent(l, page.ID)
		if err == nil {
			w := creationWrite(l, localMD)
			w.LocalHash = hashBytes(linked)
			err = s.markWriting(ctx, normalizeID(page.ID), l.Path, pageState{}, w)
		}
		if err == nil {
			if err := s.dropIntent(ctx, l.Path); err != nil {
				// The next sync drops it: the page it would find is recorded.
				s.log.WarnContext(ctx, "creation intent left", "file", l.Path, "err", err)
			}
			return nil
		}
		if aerr := s.client.ArchivePage(ctx, page.ID); aerr != nil {
			// The intent stays: the next sync finds the page by it.
			return errors.Join(err, fmt.Errorf("archive page %s, created without a record: %w", page.ID, aerr))
		}
		return errors.Join(fmt.Errorf("page %s archived: %w", page.ID, err), s.dropIntent(ctx, l.Path))
	}
}

// creationWrite is the record of the creation of a page for the file l
// with content localMD, but for the hash of the file with the page's id.
func creationWrite(l *localFile, localMD []byte) contentWrite {
	w := contentWrite{Content: hashBytes(localMD), Unlinked: l.Hash}
	if l.NotionID != "" {
		w.Replaces = normalizeID(l.NotionID)
	}
	return w
}

// linkedContent is the file l as it is once it holds the id of its page
// pageID: its front matter written again with the id, its body as it is.
func (s *NotionSync) linkedContent(l *localFile, pageID string) ([]byte, error) {
	return composeFile(l.doc.Title, pageID, l.doc.Tags, s.frontAsWritten(l.doc), l.doc.Body)
}

// adoptCreated gives each page whose state records its creation for a
// file (see [pageState.creating]), and that no file claims by its
// notion_id, the file at the path recorded that has no page yet (see
// [unlinkedAt]): it is the file the page was created for, and gets the
// page's id at this sync ([NotionSync.linkCreated]) instead of a second
// page. It returns the other files without a notion_id, which get pages of
// their own.
//
// A file moved or deleted since is not adopted: a moved file, new at its
// path, gets a page of its own, and the page created for it is settled
// as the page of a deleted file ([NotionSync.createdFileGone]).
func adoptCreated(local map[string]*localFile, fresh []*localFile, states map[string]pageState,
	remote map[string]*remoteSide) []*localFile {
	for _, id := range slices.Sorted(maps.Keys(states)) {
		st := states[id]
		if !st.creating() || local[id] != nil {
			continue
		}
		f, claimed := unlinkedAt(st.Path, st.Writing.Replaces, local, fresh, states, remote)
		if f == nil {
			continue
		}
		local[id] = f
		if claimed != "" {
			delete(local, claimed)
		} else {
			fresh = slices.DeleteFunc(fresh, func(g *localFile) bool { return g == f })
		}
	}
	return fresh
}

// unlinkedAt returns the file at path that has no page: one without a
// notion_id, or one whose notion_id is replaces, the id of a page that is
// neither in the database nor in the sync state (the archived page of a
// file changed since, which is given a new page: see
// [NotionSync.recreatePage]), with the id it claims. It returns nil when
// there is none.
func unlinkedAt(path, replaces string, local map[string]*localFile, fresh []*localFile, states map[string]pageState,
	remote map[string]*remoteSide) (f *localFile, claimed string) {
	if i := slices.IndexFunc(fresh, func(f *localFile) bool { return f.Path == path }); i >= 0 {
		return fresh[i], ""
	}
	if f := local[replaces]; replaces != "" && f != nil && f.Path == path && remote[replaces] == nil {
		if _, known := states[replaces]; !known {
			return f, replaces
		}
	}
	return nil, ""
}

// linkCreated writes the id of the page r, created for the file l, into
// the file, which [adoptCreated] adopted without it, and returns the file
// as it is then: its hash is the one the record of the creation expects
// when the file did not change since, so that the write is finished, or
// made a conflict, as any other that stopped halfway. Its edit time stays
// the one the file had, the id being no edit of it. A dry run writes
// nothing and returns the file as it would be.
func (s *NotionSync) linkCreated(ctx context.Context, id string, l *localFile, r *remoteSide, rep *Report) (*localFile, error) {
	rep.act("link: %s → %s (the page was created for it, the file did not get its id)", l.Path, id)
	content, err := s.linkedContent(l, r.page.ID)
	if err != nil {
		return nil, err
	}
	doc, err := ParseDocument(l.Path, content)
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", l.Path, err)
	}
	if !rep.DryRun {
		if err := writeFile(s.dir, l.Path, content); err != nil {
			return nil, fmt.Errorf("write %s: %w", l.Path, err)
		}
		s.log.InfoContext(ctx, "knowledge file linked to the page created for it", "file", l.Path, "page", id)
	}
	page := Page{Path: l.Path, Title: doc.Title, NotionID: doc.NotionID, Tags: doc.Tags, Properties: doc.Properties,
		Hash: hashBytes(content), ModTime: l.ModTime}
	return &localFile{Page: page, doc: doc}, nil
}

// createdFileGone settles a page created for a file that is gone from its
// path, deleted or moved (a moved file, without the page's id, gets a page
// of its own), before it got the page's id. The page holds the file's
// content, some of it or all, and nothing else when Notion names the
// integration as its last editor: it is then the page of a deleted file,
// archived under the same limits as any other, never pulled as a file.
// Edited in Notion since, it is a page changed while its file was deleted:
// a conflict, the file restored at its path, so that the edit is not lost.
func (s *NotionSync) createdFileGone(ctx context.Context, id string, r *remoteSide, st pageState, p *pass,
	rep *Report) error {
	ours, err := s.editedBySync(ctx, r.page)
	if err != nil {
		return err
	}
	if ours {
		p.archives = append(p.archives, archive{id: id, r: r, st: st})
		return nil
	}
	return s.restoreFile(ctx, id, r, st, rep)
}
