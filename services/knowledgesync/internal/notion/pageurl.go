package notion

import (
	"net/url"
	"strings"
)

// pageIDLength is the length of a page id without its hyphens.
const pageIDLength = 32

// PageURL returns a page's address: its url, or for a page object without
// one https://www.notion.so/ and the page's id without hyphens, which
// Notion's web app opens.
func PageURL(p Page) string {
	if p.URL != "" {
		return p.URL
	}
	return "https://www.notion.so/" + strings.ToLower(strings.ReplaceAll(p.ID, "-", ""))
}

// PageIDOf returns the id, hyphen-less and lowercase, of the page a link's
// URL u opens, and false when u opens no Notion page. It takes the forms
// Notion gives: a page's url (https://www.notion.so/Pricing-<id>, with or
// without the title or a workspace's name before it), an address on a
// public notion.site, and a path alone (/<id>), which is how the API gives
// a link to a page of the same workspace. The query and the fragment (a
// block on the page) do not change the page.
func PageIDOf(u string) (string, bool) {
	p, err := url.Parse(u)
	if err != nil {
		return "", false
	}
	host := strings.ToLower(p.Hostname())
	switch {
	case p.Scheme == "" && p.Host == "" && strings.HasPrefix(p.Path, "/"):
	case (p.Scheme == "https" || p.Scheme == "http") &&
		(host == "notion.so" || host == "www.notion.so" || strings.HasSuffix(host, ".notion.site")):
	default:
		return "", false
	}
	seg := p.Path[strings.LastIndexByte(p.Path, '/')+1:]
	if len(seg) < pageIDLength || len(seg) > pageIDLength && seg[len(seg)-pageIDLength-1] != '-' {
		return "", false
	}
	id := strings.ToLower(seg[len(seg)-pageIDLength:])
	if strings.Trim(id, "0123456789abcdef") != "" {
		return "", false
	}
	return id, true
}
