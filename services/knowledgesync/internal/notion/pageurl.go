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

// WorkspaceURL returns, for a link Notion gives as a path alone (/<id>, a
// page of the same workspace, with any query and fragment), the address
// that opens the same page and that Notion takes back in a link:
// https://www.notion.so/<id>. Notion refuses a path alone in a link it is
// sent, so a Markdown file keeps a link to a page that is not synced in
// this form. Any other link returns false.
func WorkspaceURL(u string) (string, bool) {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "" || p.Host != "" || !strings.HasPrefix(p.Path, "/") {
		return "", false
	}
	id, ok := PageIDOf(u)
	if !ok {
		return "", false
	}
	out := "https://www.notion.so/" + id
	if p.RawQuery != "" {
		out += "?" + p.RawQuery
	}
	if p.Fragment != "" {
		out += "#" + p.EscapedFragment()
	}
	return out, true
}
