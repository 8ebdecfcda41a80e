package notion

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// QueryDatabase returns every page of the database that is not archived,
// following next_cursor until has_more is false.
func (c *Client) QueryDatabase(ctx context.Context, databaseID string) ([]Page, error) {
	var pages []Page
	cursor := ""
	for {
		in := map[string]any{"page_size": MaxChildren}
		if cursor != "" {
			in["start_cursor"] = cursor
		}
		var list List[Page]
		if err := c.do(ctx, http.MethodPost, "query database", "/v1/databases/"+url.PathEscape(databaseID)+"/query",
			nil, in, &list); err != nil {
			return nil, err
		}
		pages = append(pages, list.Results...)
		if !list.HasMore || list.NextCursor == nil || *list.NextCursor == "" {
			return pages, nil
		}
		cursor = *list.NextCursor
	}
}

// Database is a Notion database object: what the sync reads of it, the
// schema of its properties by name.
type Database struct {
	Object     string                    `json:"object"` // "database"
	ID         string                    `json:"id"`
	Properties map[string]PropertySchema `json:"properties"`
}

// PropertySchema is one property of a database: its name, its type, and
// the options of a select, multi_select or status property. The rest of a
// type's configuration (number format...) is not read.
type PropertySchema struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Type        string         `json:"type"`
	Select      *OptionsConfig `json:"select,omitempty"`
	MultiSelect *OptionsConfig `json:"multi_select,omitempty"`
	Status      *OptionsConfig `json:"status,omitempty"`
}

// OptionsConfig is the configuration of a select, multi_select or status
// property: its options.
type OptionsConfig struct {
	Options []SelectOption `json:"options"`
}

// OptionNames returns the names of the options of a select, multi_select
// or status property; nil for a property of another type, or one whose
// options the schema does not list.
func (p PropertySchema) OptionNames() []string {
	config := map[string]*OptionsConfig{"select": p.Select, "multi_select": p.MultiSelect, "status": p.Status}[p.Type]
	if config == nil {
		return nil
	}
	names := make([]string, 0, len(config.Options))
	for _, o := range config.Options {
		names = append(names, o.Name)
	}
	return names
}

// RetrieveDatabase returns the database with id, with the schema of its
// properties.
func (c *Client) RetrieveDatabase(ctx context.Context, id string) (Database, error) {
	var db Database
	err := c.do(ctx, http.MethodGet, "retrieve database", "/v1/databases/"+url.PathEscape(id), nil, nil, &db)
	return db, err
}

// RetrievePage returns the page with id.
func (c *Client) RetrievePage(ctx context.Context, id string) (Page, error) {
	var p Page
	err := c.do(ctx, http.MethodGet, "retrieve page", "/v1/pages/"+url.PathEscape(id), nil, nil, &p)
	return p, err
}

// BotUser returns the bot user of the client's integration token: the
// user Notion names as the last editor of what the client writes.
func (c *Client) BotUser(ctx context.Context) (User, error) {
	var u User
	err := c.do(ctx, http.MethodGet, "retrieve bot user", "/v1/users/me", nil, nil, &u)
	return u, err
}

// CreatePage creates a page in the database with properties and content.
// Content beyond what one request may carry, with the properties, is
// appended in further requests. The create request is tried again only
// when Notion answers 429: a 503 or 529 may come from a request that made
// the page all the same.
func (c *Client) CreatePage(ctx context.Context, databaseID string, props map[string]Property, content []Block) (Page, error) {
	return c.CreatePageThen(ctx, databaseID, props, content, nil)
}

// CreatePageThen creates a page as [Client.CreatePage] does, and calls
// created, when not nil, with the new page as soon as Notion has answered
// the create request: before any of the content left for further requests
// is appended. An error from created stops the creation there; the page is
// returned with it, its content perhaps incomplete. So is the page with
// the error of a later request.
func (c *Client) CreatePageThen(ctx context.Context, databaseID string, props map[string]Property, content []Block,
	created func(context.Context, Page) error) (Page, error) {
	in := map[string]any{"parent": Parent{DatabaseID: databaseID}, "properties": props}
	head, err := json.Marshal(in)
	if err != nil {
		return Page{}, fmt.Errorf("notion: create page: %w", err)
	}
	first, rest := splitWithin(content, maxRequestBytes-len(head))
	if len(first) > 0 {
		in["children"] = shallow(first)
	}
	var p Page
	// Only a 429 is tried again: a 503 or 529 may answer a request that
	// made the page all the same, which Notion's create cannot be asked
	// not to make twice. The caller finds the page it made, if any.
	if err := c.doRetrying(ctx, (*Error).rateLimited, http.MethodPost, "create page", "/v1/pages", nil, in, &p); err != nil {
		return Page{}, err
	}
	if created != nil {
		if err := created(ctx, p); err != nil {
			return p, err
		}
	}
	if deferred := deferredChildren(first); len(deferred) > 0 {
		listed, err := c.listAll(ctx, p.ID)
		if err != nil {
			return p, err
		}
		if err := c.appendDeferred(ctx, first, listed, deferred); err != nil {
			return p, err
		}
	}
	if len(rest) > 0 {
		if _, err := c.AppendChildren(ctx, p.ID, "", rest); err != nil {
			return p, err
		}
	}
	return p, nil
}

// UpdatePage sets properties of the page and returns the page.
func (c *Client) UpdatePage(ctx context.Context, id string, props map[string]Property) (Page, error) {
	var p Page
	err := c.do(ctx, http.MethodPatch, "update page", "/v1/pages/"+url.PathEscape(id), nil,
		map[string]any{"properties": props}, &p)
	return p, err
}

// ArchivePage moves the page to the trash.
func (c *Client) ArchivePage(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPatch, "archive page", "/v1/pages/"+url.PathEscape(id), nil,
		map[string]any{"archived": true}, nil)
}

// Children returns the direct children of a block or page, following
// next_cursor until has_more is false.
func (c *Client) Children(ctx context.Context, id string) ([]Block, error) {
	return c.listAll(ctx, id)
}

func (c *Client) listAll(ctx context.Context, id string) ([]Block, error) {
	var blocks []Block
	q := url.Values{"page_size": {strconv.Itoa(MaxChildren)}}
	for {
		var list List[Block]
		if err := c.do(ctx, http.MethodGet, "list block children", "/v1/blocks/"+url.PathEscape(id)+"/children",
			q, nil, &list); err != nil {
			return nil, err
		}
		blocks = append(blocks, list.Results...)
		if !list.HasMore || list.NextCursor == nil || *list.NextCursor == "" {
			return blocks, nil
		}
		q.Set("start_cursor", *list.NextCursor)
	}
}

// BlockTree returns the children of a page or block with their own
// children, recursively: a table's rows, for one, are listed only as its
// children. The content of child pages and databases is not read: they are
// pages of their own.
func (c *Client) BlockTree(ctx context.Context, id string) ([]Block, error) {
	blocks, err := c.listAll(ctx, id)
	if err != nil {
		return nil, err
	}
	for i, b := range blocks {
		if !b.HasChildren || b.Type == "child_page" || b.Type == "child_database" {
			continue
		}
		if blocks[i].Children, err = c.BlockTree(ctx, b.ID); err != nil {
			return nil, err
		}
	}
	return blocks, nil
}

// AppendChildren appends blocks, with their children, under the block or
// page id, after the child block after (at the end when after is ""). It
// sends at most [MaxChildren] blocks in one array and one level of nesting
// a request, and appends deeper or longer children in further requests; a
// table always carries its first rows, as Notion requires. It returns the
// created top-level blocks. A request is tried again only when Notion
// answers 429: a 503 or 529 may come from one that appended its blocks.
func (c *Client) AppendChildren(ctx context.Context, id, after string, blocks []Block) ([]Block, error) {
	var created []Block
	for len(blocks) > 0 {
		var chunk []Block
		chunk, blocks = splitRequest(blocks)
		in := map[string]any{"children": shallow(chunk)}
		if after != "" {
			in["after"] = after
		}
		var list List[Block]
		// As for a page's creation, only a 429 is tried again: a 503 or
		// 529 may answer a request that appended the blocks all the same,
		// and sending it again would append them twice.
		if err := c.doRetrying(ctx, (*Error).rateLimited, http.MethodPatch, "append block children",
			"/v1/blocks/"+url.PathEscape(id)+"/children", nil, in, &list); err != nil {
			return created, err
		}
		results := list.Results
		if after != "" {
			// Notion answers with every child of the parent; the new ones follow after.
			results = newAfter(results, after, len(chunk))
		} else if len(results) > len(chunk) {
			results = results[len(results)-len(chunk):]
		}
		if len(results) != len(chunk) {
			return created, fmt.Errorf("notion: append block children: %d blocks created, want %d", len(results), len(chunk))
		}
		if err := c.appendDeferred(ctx, chunk, results, deferredChildren(chunk)); err != nil {
			return created, err
		}
		created = append(created, results...)
		after = results[len(results)-1].ID
	}
	return created, nil
}

// newAfter picks the n blocks that follow the block after in results.
func newAfter(results []Block, after string, n int) []Block {
	for i, b := range results {
		if b.ID == after && i+1+n <= len(results) {
			return results[i+1 : i+1+n]
		}
	}
	if len(results) == n {
		return results
	}
	return nil
}

// appendDeferred appends the children that were held back from sent to the
// blocks Notion created for them.
func (c *Client) appendDeferred(ctx context.Context, sent, created []Block, deferred []int) error {
	for _, i := range deferred {
		if i >= len(created) {
			return fmt.Errorf("notion: append block children: created block %d missing", i)
		}
		_, later := carried(sent[i])
		if _, err := c.AppendChildren(ctx, created[i].ID, "", later); err != nil {
			return err
		}
	}
	return nil
}

// DeleteBlock moves the block to the trash.
func (c *Client) DeleteBlock(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "delete block", "/v1/blocks/"+url.PathEscape(id), nil, nil, nil)
}

// maxRequestBytes is the most bytes of blocks sent in one request: under
// [MaxRequestBytes], with room for the rest of the request (a new page's
// properties, "after").
const maxRequestBytes = MaxRequestBytes - 100_000

// splitRequest takes the blocks the next request may carry: at most
// [MaxChildren], at most [MaxRequestElements] counting the children that
// go along, and at most maxRequestBytes as JSON; always at least one.
func splitRequest(blocks []Block) (chunk, rest []Block) {
	chunk, rest = splitWithin(blocks, maxRequestBytes)
	if len(chunk) == 0 && len(blocks) > 0 {
		return blocks[:1], blocks[1:]
	}
	return chunk, rest
}

// splitWithin takes the blocks that fit in budget bytes of a request: at
// most [MaxChildren], at most [MaxRequestElements] counting the children
// that go along, and at most budget bytes as JSON; none when the first
// does not fit.
func splitWithin(blocks []Block, budget int) (chunk, rest []Block) {
	n, elements, size := 0, 0, 0
	for n < len(blocks) && n < MaxChildren {
		now, _ := carried(blocks[n])
		count, bytes := 1+len(now), sentBytes(blocks[n], now)
		if elements+count > MaxRequestElements || size+bytes > budget {
			break
		}
		elements += count
		size += bytes
		n++
	}
	return blocks[:n], blocks[n:]
}

// sentBytes is the size of a block as sent with the children now, and the
// comma that follows it.
func sentBytes(b Block, now []Block) int {
	b.Children = now
	raw, err := json.Marshal(forWrite(b))
	if err != nil {
		return maxRequestBytes // fails again when sent, and says why
	}
	return len(raw) + 1
}

// carried splits a block's children into those sent with it and those
// appended to it once it exists. Children go along when there are at most
// [MaxChildren] of them, none with children of its own, and they fit in one
// request with the block. A table goes with as many of its first
// [MaxChildren] rows as fit, at least one, since Notion creates a table
// only with its rows (which never have children); the rest follow.
func carried(b Block) (now, later []Block) {
	if len(b.Children) <= MaxChildren && !slices.ContainsFunc(b.Children, hasChildren) &&
		sentBytes(b, b.Children) <= maxRequestBytes {
		return b.Children, nil
	}
	if b.Type == "table" {
		n := rowsThatFit(b)
		return b.Children[:n], b.Children[n:]
	}
	return nil, b.Children
}

// rowsThatFit counts the first rows of a table that go with it: at most
// [MaxChildren] and maxRequestBytes, at least one.
func rowsThatFit(b Block) int {
	size := sentBytes(b, nil)
	n := 0
	for n < len(b.Children) && n < MaxChildren {
		size += sentBytes(b.Children[n], nil)
		if n > 0 && size > maxRequestBytes {
			break
		}
		n++
	}
	return n
}

func hasChildren(b Block) bool { return len(b.Children) > 0 }

// shallow returns the blocks as sent in one request: children that cannot
// go along are left out, to be appended by appendDeferred.
func shallow(blocks []Block) []Block {
	out := make([]Block, len(blocks))
	for i, b := range blocks {
		b.Children, _ = carried(b)
		out[i] = forWrite(b)
	}
	return out
}

// forWrite strips what Notion sets itself from a block and its children.
func forWrite(b Block) Block {
	w := Block{Type: b.Type, Content: b.Content, Raw: b.Raw}
	for _, ch := range b.Children {
		w.Children = append(w.Children, forWrite(ch))
	}
	return w
}

// deferredChildren lists the indexes of the blocks with children left out
// by shallow.
func deferredChildren(blocks []Block) []int {
	var idx []int
	for i, b := range blocks {
		if _, later := carried(b); len(later) > 0 {
			idx = append(idx, i)
		}
	}
	return idx
}
