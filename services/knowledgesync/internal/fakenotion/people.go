package fakenotion

import (
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

// The methods below act as a person working in Notion's editor: they bypass
// the rate limit and the request counts.

// AddPage creates a page in the database with a title, tags and content,
// and returns its id.
func (s *Server) AddPage(databaseID, title string, tags []string, content []notion.Block) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, ok := s.databases[normID(databaseID)]
	if !ok {
		return "", fmt.Errorf("no database %s", databaseID)
	}
	now := s.stamp()
	raw, err := rawProperties(map[string]notion.Property{"Name": notion.TitleProperty(title),
		"Tags": notion.MultiSelectProperty(tags)})
	if err != nil {
		return "", err
	}
	props, err := s.checkProperties(db, raw)
	if err != nil {
		return "", err
	}
	p := &page{Page: notion.Page{Object: "page", ID: uuid.NewString(), CreatedTime: now, LastEditedTime: now,
		CreatedBy: partial(s.person), LastEditedBy: partial(s.person),
		Parent: notion.Parent{Type: "database_id", DatabaseID: db.id}, Properties: props}}
	for name, typ := range db.schema {
		if _, set := props[name]; !set {
			props[name] = emptyValue(name, typ)
		}
	}
	p.URL = "https://www.notion.so/" + uuidHex(p.ID)
	s.pages[p.ID] = p
	db.pageIDs = append(db.pageIDs, p.ID)
	p.children = s.insert(p.ID, content, now)
	return p.ID, nil
}

// EditPage replaces the content of a page, as a person editing it in
// Notion does.
func (s *Server) EditPage(id string, content []notion.Block) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pages[normID(id)]
	if !ok {
		return fmt.Errorf("no page %s", id)
	}
	for _, c := range p.children {
		s.blocks[c].Archived = true
	}
	now := s.stamp()
	p.children = s.insert(p.ID, content, now)
	p.LastEditedTime, p.LastEditedBy = now, partial(s.person)
	return nil
}

// ArchivePage moves a page to the trash.
func (s *Server) ArchivePage(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pages[normID(id)]
	if !ok {
		return fmt.Errorf("no page %s", id)
	}
	p.Archived, p.InTrash = true, true
	p.LastEditedTime, p.LastEditedBy = s.stamp(), partial(s.person)
	return nil
}

// Purge deletes an archived page for good, as emptying Notion's trash
// does: retrieving it then answers 404 object_not_found.
func (s *Server) Purge(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pages[normID(id)]
	if !ok || !p.Archived {
		return fmt.Errorf("no archived page %s", id)
	}
	delete(s.pages, p.ID)
	if db, ok := s.databases[p.Parent.DatabaseID]; ok {
		db.pageIDs = slices.DeleteFunc(db.pageIDs, func(c string) bool { return c == p.ID })
	}
	return nil
}

// Page returns a page as Notion shows it.
func (s *Server) Page(id string) (notion.Page, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pages[normID(id)]
	if !ok {
		return notion.Page{}, false
	}
	return p.Page, true
}

// Pages returns the pages of a database that are not archived, in creation
// order.
func (s *Server) Pages(databaseID string) []notion.Page {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []notion.Page
	if db, ok := s.databases[normID(databaseID)]; ok {
		for _, id := range db.pageIDs {
			if p := s.pages[id]; !p.Archived {
				out = append(out, p.Page)
			}
		}
	}
	return out
}

// Content returns the blocks of a page or block with their children.
func (s *Server) Content(id string) []notion.Block {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tree(normID(id))
}

func (s *Server) tree(id string) []notion.Block {
	children, _, _ := s.childrenOf(id)
	if children == nil {
		return nil
	}
	out := make([]notion.Block, 0, len(*children))
	for _, c := range *children {
		b := s.blockOut(s.blocks[c])
		b.Children = s.tree(c)
		out = append(out, b)
	}
	return out
}
