// Package knowledgesync keeps a folder of Markdown pages and a Notion
// database in step.
//
// On start, every interval (15 minutes by default) and on demand (a
// [TypeSyncRequested] command on [SubjectSyncCommand], which `gtmhub
// knowledge sync` publishes), it walks the folder for *.md files with
// optional YAML front matter (title, notion_id, tags, and any other keys as
// properties), queries the database, and compares both with the state of
// the last sync, kept per page in the JetStream key-value bucket
// [StateBucket]:
//
//   - changed on one side only: copied to the other;
//   - changed on both: the later edit wins and is written to Notion, the
//     file keeps both versions between conflict markers, and a
//     com.gtmhub.knowledge.page.conflict event is published; the file of
//     a conflict it wins gets its conflict markers before Notion is
//     written;
//   - a write to a page's content is recorded in the page's state before
//     it begins. One that stopped halfway, the page holding old and new
//     blocks, is finished by the next sync when Notion names the
//     integration as the page's last editor (GET /v1/users/me) and the
//     file is still the one written from (for the write of a conflict,
//     once its markers are resolved); otherwise the page is a conflict.
//     It is never pulled as it is;
//   - the creation of a page for a file is recorded in the page's state as
//     soon as Notion gives its id, before the content beyond the create
//     request's 100 blocks is appended and the id written into the file.
//     One that stopped before the file got its id is finished by the next
//     sync, never duplicated: the file without a notion_id at the path
//     recorded gets the page's id, and the page's content is finished or
//     made a conflict as above. The page of a file deleted or moved since
//     is a deleted file's (a moved file gets a page of its own), or, edited
//     in Notion since, a page changed while its file was deleted;
//   - deleted on one side and unchanged on the other: deleted (archived in
//     Notion) on the other; deleted on one side and changed on the other: a
//     conflict, and nothing is deleted;
//   - a file is deleted only when Notion says its page, which the last sync
//     of this database linked to it, is archived, in the trash or gone; a
//     page merely missing from the database's listing is asked about, and
//     the state of another database is no evidence at all. The file is
//     moved to [TrashDir] inside the folder, never removed; a file with
//     conflict markers is kept and reported as a conflict; and a sync that
//     would delete more than [MassDeletionFiles] files and more than
//     [MassDeletionShare] of the folder deletes none of them unless the
//     sync command allows it (`gtmhub knowledge sync --allow-mass-deletion`);
//   - a deleted file archives its page, under the same limit against the
//     database's pages, so that an empty or unmounted folder archives none;
//   - a file without a notion_id creates a page (the id is written into its
//     front matter); a page without a file creates one named after its title;
//   - files sharing a notion_id (a copy keeps its original's): the page
//     stays with the file the last sync linked to it, even if moved since,
//     else with the first by path; the others are left as they are and
//     reported until their notion_id is removed, which makes each a page of
//     its own;
//   - a file that is not valid UTF-8 or has malformed front matter is left
//     as it is and reported.
//
// Front-matter keys named in knowledge.properties ([Knowledge.Properties])
// sync with database properties, whose types are read from the database
// at the start of each sync: select, status, multi_select (a list, or one
// string of comma-separated names), rich_text (plain text), number,
// checkbox, date (2006-01-02, an RFC 3339 date and time, or a range
// start/end), url, email and phone_number. Each mapped property is
// settled on its own against its value at the last sync: changed on one
// side, it is copied to the other; changed on both, the later edit wins
// and the report says so; the body keeps its conflict markers only when
// the content differs. An empty property and a missing key are the same
// (an unchecked checkbox too): clearing one removes the other, except that
// the API cannot empty a status, so its removed key comes back. A value
// equal on both sides stays as the file writes it. A property the database
// lacks, or of a type the sync cannot write (people, relation, files, and
// the read-only formula, rollup, created_time...), is a problem of the
// report and the others sync; a front-matter value its property cannot
// take (a status not among the property's options included), or that
// Notion refuses, is reported and left as it is on both sides until it is
// fixed, while the rest of the page syncs ([ErrPropertyValue]).
//
// Every page or file written publishes com.gtmhub.knowledge.page.synced.
// Markdown is converted to Notion blocks and back by package
// internal/mdnotion; Notion is called through internal/notion, paced to 3
// requests a second. Without a database id and a token the service only
// indexes the folder.
package knowledgesync

import (
	"strings"
	"time"

	"github.com/gtmhub/gtmhub/events/service"
)

// Name is the service name, as the binary and the logs know it.
const Name = "knowledge-sync"

// Defaults of the knowledge: section.
const (
	DefaultDir            = "./data/knowledge"
	DefaultInterval       = 15 * time.Minute
	DefaultNotionTokenEnv = "NOTION_TOKEN"
	DefaultTitleProperty  = "Name"
	DefaultTagsProperty   = "Tags"
	DefaultRequestsPerSec = 3
	DefaultBurst          = 5
)

// Config is the knowledge-sync service's configuration.
type Config struct {
	// Knowledge is the knowledge: section of gtmhub.yaml.
	Knowledge Knowledge `yaml:"knowledge"`
	// NATSURL is where to connect when the host passes no connection.
	NATSURL string `yaml:"-"`
}

// Knowledge configures the Markdown folder and its Notion database.
type Knowledge struct {
	// Dir is the Markdown folder, created if missing.
	// Default ./data/knowledge; GTMHUB_KNOWLEDGE_DIR overrides it.
	Dir string `yaml:"dir"`
	// Interval is the time between scans. Default 15m.
	Interval time.Duration `yaml:"interval"`
	// NotionDatabaseID is the Notion database the folder syncs with. Empty:
	// no Notion sync.
	NotionDatabaseID string `yaml:"notion_database_id"`
	// NotionTokenEnv names the environment variable holding the Notion
	// integration token. Default NOTION_TOKEN.
	NotionTokenEnv string `yaml:"notion_token_env"`
	// NotionBaseURL is where the Notion API is served. Empty:
	// https://api.notion.com.
	NotionBaseURL string `yaml:"notion_base_url"`
	// TitleProperty is the database's title property. Default Name.
	TitleProperty string `yaml:"title_property"`
	// TagsProperty is the database's multi-select property holding the
	// tags. Default Tags.
	TagsProperty string `yaml:"tags_property"`
	// Properties maps front-matter keys to database properties, e.g.
	// status: Status. The property's type is read from the database at
	// each sync; see [PropertyTypes]. Title and tags have their own
	// settings.
	Properties map[string]string `yaml:"properties"`
	// RequestsPerSecond paces Notion requests on average. Default 3, Notion's
	// documented limit.
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	// Burst is how many Notion requests may go at once above the average.
	// Default 5.
	Burst int `yaml:"burst"`
}

// DefaultConfig returns the configuration used when gtmhub.yaml says
// nothing: ./data/knowledge scanned every 15 minutes, no Notion database.
func DefaultConfig() Config {
	return Config{Knowledge: Knowledge{Dir: DefaultDir, Interval: DefaultInterval,
		NotionTokenEnv: DefaultNotionTokenEnv, TitleProperty: DefaultTitleProperty, TagsProperty: DefaultTagsProperty,
		RequestsPerSecond: DefaultRequestsPerSec, Burst: DefaultBurst}}
}

// EnvDir names the environment variable that overrides knowledge.dir, for
// a container whose folder is a mounted volume.
const EnvDir = "GTMHUB_KNOWLEDGE_DIR"

// WithEnv returns c with the environment's overrides applied: [EnvDir]
// over knowledge.dir.
func (c Config) WithEnv() Config {
	c.Knowledge.Dir = service.Env(c.Knowledge.Dir, EnvDir)
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var p service.Problems
	k := c.Knowledge
	if strings.TrimSpace(k.Dir) == "" {
		p.Addf("knowledge.dir is required")
	}
	if k.Interval < time.Second {
		p.Addf("knowledge.interval must be at least 1s, not %s", k.Interval)
	}
	if id := k.NotionDatabaseID; id != "" && !isNotionID(id) {
		p.Addf("knowledge.notion_database_id %q: want the database's 32 hexadecimal digits", id)
	}
	if strings.TrimSpace(k.NotionTokenEnv) == "" {
		p.Addf("knowledge.notion_token_env is required")
	}
	if strings.TrimSpace(k.TitleProperty) == "" || strings.TrimSpace(k.TagsProperty) == "" {
		p.Addf("knowledge.title_property and knowledge.tags_property are required")
	}
	if k.RequestsPerSecond <= 0 || k.Burst < 1 {
		p.Addf("knowledge.requests_per_second must be above 0 and knowledge.burst at least 1")
	}
	if u := k.NotionBaseURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		p.Addf("knowledge.notion_base_url %q: want an http(s) URL", u)
	}
	k.validateProperties(&p)
	return p.Err()
}

// validateProperties checks knowledge.properties: keys a front matter can
// hold other than the sync's own, each mapped to a property of its own
// other than the title and tags properties.
func (k Knowledge) validateProperties(p *service.Problems) {
	byName := map[string]string{}
	for _, key := range sortedKeys(k.Properties) {
		name := k.Properties[key]
		switch {
		case !isFrontMatterKey(key):
			p.Addf("knowledge.properties: %q is not a front-matter key: want a letter or _ then letters, digits, _ or -", key)
		case key == keyTitle || key == keyTags || key == keyNotionID:
			p.Addf("knowledge.properties.%s: %s is synced already; the title and tags properties are "+
				"knowledge.title_property and knowledge.tags_property", key, key)
		case strings.TrimSpace(name) == "":
			p.Addf("knowledge.properties.%s: want the name of a Notion property", key)
		case name == k.TitleProperty || name == k.TagsProperty:
			p.Addf("knowledge.properties.%s: %q is the title or tags property, synced already", key, name)
		case byName[name] != "":
			p.Addf("knowledge.properties: %s and %s both map to Notion property %q", byName[name], key, name)
		default:
			byName[name] = key
		}
	}
}

// isFrontMatterKey reports whether key is a plain front-matter key: a
// letter or underscore, then letters, digits, underscores or dashes.
func isFrontMatterKey(key string) bool {
	for i, c := range key {
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c != '-' && (c < '0' || c > '9')) {
			return false
		}
	}
	return key != ""
}

// isNotionID reports whether id is a Notion id: 32 hex digits, dashes
// allowed (the UUID form).
func isNotionID(id string) bool {
	hex := strings.ReplaceAll(id, "-", "")
	if len(hex) != 32 {
		return false
	}
	for _, c := range hex {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
