package fakenotion

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// paginate returns the page of ids starting at cursor (an id) with at most
// size entries.
func paginate(ids []string, cursor string, size int) (page []string, next *string, err error) {
	if size == 0 {
		size = notion.MaxChildren
	}
	if size < 1 || size > notion.MaxChildren {
		return nil, nil, validation("body failed validation: page_size should be ≤ `100`, instead was `%d`.", size)
	}
	start := 0
	if cursor != "" {
		start = slices.Index(ids, cursor)
		if start < 0 {
			return nil, nil, validation("The start_cursor provided is invalid: %s", cursor)
		}
	}
	end := min(start+size, len(ids))
	if end < len(ids) {
		c := ids[end]
		next = &c
	}
	return ids[start:end], next, nil
}

func (s *Server) queryDatabase(r *http.Request) (any, error) {
	db, ok := s.databases[normID(r.PathValue("id"))]
	if !ok {
		return nil, notFound(r.PathValue("id"))
	}
	var in struct {
		StartCursor string `json:"start_cursor"`
		PageSize    int    `json:"page_size"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var live []string
	for _, id := range db.pageIDs {
		if !s.pages[id].Archived {
			live = append(live, id)
		}
	}
	ids, next, err := paginate(live, in.StartCursor, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := notion.List[notion.Page]{Object: "list", Results: []notion.Page{}, NextCursor: next, HasMore: next != nil}
	for _, id := range ids {
		out.Results = append(out.Results, s.pages[id].Page)
	}
	return out, nil
}

func (s *Server) retrievePage(r *http.Request) (any, error) {
	p, ok := s.pages[normID(r.PathValue("id"))]
	if !ok {
		return nil, notFound(r.PathValue("id"))
	}
	return p.Page, nil
}

func (s *Server) createPage(r *http.Request) (any, error) {
	var in struct {
		Parent     notion.Parent              `json:"parent"`
		Properties map[string]json.RawMessage `json:"properties"`
		Children   []notion.Block             `json:"children"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	db, ok := s.databases[normID(in.Parent.DatabaseID)]
	if !ok {
		return nil, notFound(in.Parent.DatabaseID)
	}
	props, err := s.checkProperties(db, in.Properties)
	if err != nil {
		return nil, err
	}
	if err := checkRequest(in.Children, container{}); err != nil {
		return nil, err
	}
	now := s.stamp()
	p := &page{Page: notion.Page{Object: "page", ID: uuid.NewString(), CreatedTime: now, LastEditedTime: now,
		CreatedBy: partial(s.bot), LastEditedBy: partial(s.bot),
		Parent: notion.Parent{Type: "database_id", DatabaseID: db.id}, Properties: props}}
	for name, typ := range db.schema {
		if _, set := p.Properties[name]; !set {
			p.Properties[name] = emptyValue(name, typ)
		}
	}
	p.URL = "https://www.notion.so/" + uuidHex(p.ID)
	s.pages[p.ID] = p
	db.pageIDs = append(db.pageIDs, p.ID)
	p.children = s.insert(p.ID, in.Children, now)
	return p.Page, nil
}

func uuidHex(id string) string {
	u, _ := uuid.Parse(id)
	return fmt.Sprintf("%x", u[:])
}

func (s *Server) updatePage(r *http.Request) (any, error) {
	p, ok := s.pages[normID(r.PathValue("id"))]
	if !ok {
		return nil, notFound(r.PathValue("id"))
	}
	var in struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Archived   *bool                      `json:"archived"`
		InTrash    *bool                      `json:"in_trash"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if p.Archived && (in.Archived == nil || *in.Archived) && len(in.Properties) > 0 {
		return nil, validation("Can't edit block that is archived. You must unarchive the block before editing.")
	}
	props, err := s.checkProperties(s.databases[p.Parent.DatabaseID], in.Properties)
	if err != nil {
		return nil, err
	}
	for name, v := range props {
		p.Properties[name] = v
	}
	if in.Archived != nil {
		p.Archived = *in.Archived
	}
	if in.InTrash != nil {
		p.Archived = *in.InTrash
	}
	p.InTrash = p.Archived
	p.LastEditedTime, p.LastEditedBy = s.stamp(), partial(s.bot)
	return p.Page, nil
}

func checkRichText(path string, rt notion.RichText) error {
	if rt.Text == nil {
		return validation("%s.text should be defined, instead was `undefined`.", path)
	}
	if n := utf8.RuneCountInString(rt.Text.Content); n > notion.MaxTextLength {
		return validation("body failed validation: %s.text.content.length should be ≤ `%d`, instead was `%d`.",
			path, notion.MaxTextLength, n)
	}
	if rt.Text.Link == nil {
		return nil
	}
	if n := utf8.RuneCountInString(rt.Text.Link.URL); n > notion.MaxURLLength {
		return validation("body failed validation: %s.text.link.url.length should be ≤ `%d`, instead was `%d`.",
			path, notion.MaxURLLength, n)
	}
	if !notion.ValidLinkURL(rt.Text.Link.URL) {
		return validation("Content creation Failed. Fix the following: \nInvalid URL for link.")
	}
	return nil
}

// withPlainText fills in what Notion derives from the text written.
func withPlainText(rts []notion.RichText) []notion.RichText {
	for i := range rts {
		rts[i].Type = "text"
		rts[i].PlainText = rts[i].Content()
		if u := rts[i].URL(); u != "" {
			rts[i].Href = &u
		}
		if rts[i].Annotations.Color == "" {
			rts[i].Annotations.Color = "default"
		}
	}
	return rts
}

// insert stores blocks and their children under parent and returns their ids.
func (s *Server) insert(parent string, blocks []notion.Block, now time.Time) []string {
	ids := make([]string, 0, len(blocks))
	for _, b := range blocks {
		stored := &block{Block: b, parent: parent}
		stored.ID = uuid.NewString()
		stored.LastEditedTime = now
		stored.Content.RichText = withPlainText(stored.Content.RichText)
		stored.Raw = rawAsShown(b)
		stored.Children = nil
		s.blocks[stored.ID] = stored
		stored.children = s.insert(stored.ID, b.Children, now)
		ids = append(ids, stored.ID)
	}
	return ids
}

// blockOut is a stored block as Notion shows it.
func (s *Server) blockOut(b *block) notion.Block {
	out := b.Block
	out.HasChildren = len(b.children) > 0
	out.Children = nil
	return out
}

// childrenOf returns the child list of a page or block, and whether it is
// archived.
func (s *Server) childrenOf(id string) (*[]string, bool, bool) {
	if p, ok := s.pages[id]; ok {
		return &p.children, p.Archived, true
	}
	if b, ok := s.blocks[id]; ok {
		return &b.children, b.Archived, true
	}
	return nil, false, false
}

func (s *Server) listChildren(r *http.Request) (any, error) {
	id := normID(r.PathValue("id"))
	children, _, ok := s.childrenOf(id)
	if !ok {
		return nil, notFound(r.PathValue("id"))
	}
	size := 0
	if v := r.URL.Query().Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, validation("page_size should be a number, instead was `%s`.", v)
		}
		size = n
	}
	ids, next, err := paginate(*children, r.URL.Query().Get("start_cursor"), size)
	if err != nil {
		return nil, err
	}
	out := notion.List[notion.Block]{Object: "list", Results: []notion.Block{}, NextCursor: next, HasMore: next != nil}
	for _, cid := range ids {
		out.Results = append(out.Results, s.blockOut(s.blocks[cid]))
	}
	return out, nil
}

func (s *Server) appendChildren(r *http.Request) (any, error) {
	id := normID(r.PathValue("id"))
	children, archived, ok := s.childrenOf(id)
	if !ok {
		return nil, notFound(r.PathValue("id"))
	}
	if archived {
		return nil, validation("Can't edit block that is archived. You must unarchive the block before editing.")
	}
	var in struct {
		Children []notion.Block `json:"children"`
		After    string         `json:"after"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if err := checkRequest(in.Children, s.containerOf(id)); err != nil {
		return nil, err
	}
	at := len(*children)
	if in.After != "" {
		i := slices.Index(*children, normID(in.After))
		if i < 0 {
			return nil, validation("body.after: block %s is not a child of %s.", in.After, id)
		}
		at = i + 1
	}
	now := s.stamp()
	ids := s.insert(id, in.Children, now)
	*children = slices.Insert(*children, at, ids...)
	s.touch(id, now)
	out := notion.List[notion.Block]{Object: "list", Results: []notion.Block{}}
	for _, cid := range ids {
		out.Results = append(out.Results, s.blockOut(s.blocks[cid]))
	}
	return out, nil
}

func (s *Server) deleteBlock(r *http.Request) (any, error) {
	id := normID(r.PathValue("id"))
	if p, ok := s.pages[id]; ok {
		p.Archived, p.InTrash = true, true
		p.LastEditedTime, p.LastEditedBy = s.stamp(), partial(s.bot)
		return p.Page, nil
	}
	b, ok := s.blocks[id]
	if !ok || b.Archived {
		return nil, notFound(r.PathValue("id"))
	}
	now := s.stamp()
	b.Archived = true
	b.LastEditedTime = now
	if siblings, _, ok := s.childrenOf(b.parent); ok {
		*siblings = slices.DeleteFunc(*siblings, func(c string) bool { return c == id })
	}
	s.touch(b.parent, now)
	return s.blockOut(b), nil
}

// touch makes the page that holds id last edited at now by the
// integration's bot: touch serves the API's writes.
func (s *Server) touch(id string, now time.Time) {
	for {
		if p, ok := s.pages[id]; ok {
			p.LastEditedTime, p.LastEditedBy = now, partial(s.bot)
			return
		}
		b, ok := s.blocks[id]
		if !ok {
			return
		}
		id = b.parent
	}
}

// retrieveBotUser serves GET /v1/users/me: the bot user of the token, as
// Notion shows an internal integration's.
func (s *Server) retrieveBotUser(*http.Request) (any, error) {
	return map[string]any{"object": "user", "id": s.bot.ID, "name": s.bot.Name, "avatar_url": nil, "type": "bot",
		"bot": map[string]any{"owner": map[string]any{"type": "workspace", "workspace": true},
			"workspace_name": "Knowledge"}}, nil
}
