package mdnotion

import "github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"

// Links maps the links of one Markdown file to Notion and back: a relative
// link to another file, which Notion refuses, can stand for a link to the
// Notion page that file is synced with.
type Links interface {
	// NotionURL returns the URL to write to Notion for a link whose
	// destination dest Notion refuses, such as "./pricing.md", or false
	// for the link to keep its text only.
	NotionURL(dest string) (string, bool)
	// MarkdownDest returns the destination to write to Markdown for a link
	// to url, or false to write url itself.
	MarkdownDest(url string) (string, bool)
}

// Option changes how [ToBlocks] and [ToMarkdown] convert.
type Option func(*config)

// config is what the options of one conversion set.
type config struct {
	links Links
}

// WithLinks maps links with l: [ToBlocks] asks it for the URL of each link
// Notion refuses (images and autolinks aside), [ToMarkdown] for the
// destination of each link of rich text.
func WithLinks(l Links) Option {
	return func(c *config) { c.links = l }
}

func configure(opts []Option) config {
	var c config
	for _, opt := range opts {
		opt(&c)
	}
	return c
}

// linkDest is the URL written to Notion for a link to dest: [linkTarget],
// the address of a page linked by a path alone as Notion gives it, else
// what the links mapping, if any, gives when Notion takes it.
func (c converter) linkDest(dest string) string {
	if u := linkTarget(dest); u != "" {
		return u
	}
	if u, ok := notion.WorkspaceURL(dest); ok {
		return u
	}
	if c.links == nil {
		return ""
	}
	if u, ok := c.links.NotionURL(dest); ok && notion.ValidLinkURL(u) {
		return u
	}
	return ""
}

// dest is the destination written to Markdown for a link to u: what the
// links mapping, if any, gives; else, for a page linked by a path alone as
// Notion gives it, the page's address, which Notion takes back when the
// file is pushed; else u.
func (r renderer) dest(u string) string {
	if u == "" {
		return u
	}
	if r.links != nil {
		if d, ok := r.links.MarkdownDest(u); ok {
			return d
		}
	}
	if abs, ok := notion.WorkspaceURL(u); ok {
		return abs
	}
	return u
}
