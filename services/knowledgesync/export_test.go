package knowledgesync

import (
	"context"
	"fmt"
	"time"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
)

// RecordUnmappedContent makes the state of the page id what a sync that
// did not map links left once it wrote body to the page: the content's
// fingerprint is that of body converted without the link table, and the
// page's edit time, read now, is the one recorded. The page's content is
// left as it is; the caller writes the same conversion of body to it.
func RecordUnmappedContent(ctx context.Context, s *NotionSync, id string, body []byte) error {
	key := normalizeID(id)
	st, ok, err := s.loadState(ctx, key)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no sync state for page %s", id)
	}
	page, err := s.client.RetrievePage(ctx, id)
	if err != nil {
		return fmt.Errorf("read page %s: %w", id, err)
	}
	r := &remoteSide{page: page}
	st.RemoteHash = s.remoteHashOf(page, r.tags(s.tagsKey), mdnotion.ToMarkdown(mdnotion.ToBlocks(body)))
	st.RemoteTime, st.SyncedAt = page.LastEditedTime, time.Now().UTC()
	return s.saveState(ctx, key, st)
}
