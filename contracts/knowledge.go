package contracts

import "time"

// KnowledgePage is the data of [TypeKnowledgePageSynced] and
// [TypeKnowledgePageConflict] events. Resolution, LocalUpdatedAt and
// RemoteUpdatedAt are required for a conflict; Resolution is absent from a
// plain sync.
type KnowledgePage struct {
	// Path is the page's slash-separated path in the Markdown folder.
	Path            string     `json:"path"`
	NotionID        string     `json:"notion_id"`
	Title           string     `json:"title,omitempty"`
	Direction       Direction  `json:"direction"`
	LocalUpdatedAt  *time.Time `json:"local_updated_at,omitempty"`
	RemoteUpdatedAt *time.Time `json:"remote_updated_at,omitempty"`
	Resolution      Resolution `json:"resolution,omitempty"`
	// Action is what a sync did to the side it wrote (synced events only).
	Action Action `json:"action,omitempty"`
	// LocalHash and RemoteHash are the SHA-256 (hex) of the Markdown file and
	// of the Notion page's title, tags and content after a sync (synced
	// events only).
	LocalHash  string `json:"local_hash,omitempty"`
	RemoteHash string `json:"remote_hash,omitempty"`
}

// Action is what a sync did to the side it wrote.
type Action string

// Actions.
const (
	ActionCreated Action = "created"
	ActionUpdated Action = "updated"
	ActionDeleted Action = "deleted" // a file removed, a Notion page archived
)

// Direction is the way a sync copied a page.
type Direction string

// Directions.
const (
	DirectionToNotion Direction = "to_notion" // the Markdown file was written to Notion
	DirectionToLocal  Direction = "to_local"  // the Notion page was written to the Markdown file
	DirectionNone     Direction = "none"      // nothing was copied
)

// Resolution is how a sync conflict was settled.
type Resolution string

// Resolutions.
const (
	ResolutionLocalWins  Resolution = "local_wins"  // the Markdown file was newer
	ResolutionRemoteWins Resolution = "remote_wins" // the Notion page was newer
	ResolutionManual     Resolution = "manual"      // no winner; a person must merge the conflict markers
)
