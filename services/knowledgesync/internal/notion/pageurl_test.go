package notion_test

import (
	"strings"
	"testing"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/notion"
)

func TestPageIDOf(t *testing.T) {
	const id = "251d2b5f268c4de2afe9c71ff92ca95c"
	tests := []struct {
		url, want string
	}{
		{"https://www.notion.so/" + id, id},
		{"https://www.notion.so/Avocado-" + id, id},
		{"https://notion.so/acme/Pricing-Plans-" + id + "?pvs=4#tiers", id},
		{"http://www.notion.so/" + id, id},
		{"https://acme.notion.site/Pricing-" + id, id},
		{"/" + id, id},
		{"/" + id + "#0f8fad5bd9cb469fa16570867728950e", id},
		{"https://www.notion.so/251D2B5F268C4DE2AFE9C71FF92CA95C", id},
		{"https://example.com/" + id, ""},
		{"https://www.notion.so.example.com/" + id, ""},
		{"https://www.notion.so/Pricing" + id, ""},
		{"https://www.notion.so/" + id[:31], ""},
		{"https://www.notion.so/" + id[:31] + "g", ""},
		{"https://www.notion.so/" + id + "/more", ""},
		{"./pricing.md", ""},
		{id, ""},
		{"//www.notion.so/" + id, ""},
		{"mailto:" + id + "@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, ok := notion.PageIDOf(tt.url)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("PageIDOf = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestPageURL(t *testing.T) {
	tests := []struct {
		page notion.Page
		want string
	}{
		{notion.Page{ID: "251d2b5f-268c-4de2-afe9-c71ff92ca95c", URL: "https://www.notion.so/Avocado-251d2b5f268c4de2afe9c71ff92ca95c"},
			"https://www.notion.so/Avocado-251d2b5f268c4de2afe9c71ff92ca95c"},
		{notion.Page{ID: "251D2B5F-268C-4DE2-AFE9-C71FF92CA95C"}, "https://www.notion.so/251d2b5f268c4de2afe9c71ff92ca95c"},
	}
	for _, tt := range tests {
		if got := notion.PageURL(tt.page); got != tt.want {
			t.Errorf("PageURL(%+v) = %q, want %q", tt.page, got, tt.want)
		}
		if id, ok := notion.PageIDOf(notion.PageURL(tt.page)); !ok || id != "251d2b5f268c4de2afe9c71ff92ca95c" {
			t.Errorf("PageIDOf(PageURL(%+v)) = %q, %v", tt.page, id, ok)
		}
	}
}

func TestWorkspaceURL(t *testing.T) {
	const id = "251d2b5f268c4de2afe9c71ff92ca95c"
	tests := []struct {
		url, want string
	}{
		{"/" + id, "https://www.notion.so/" + id},
		{"/" + strings.ToUpper(id) + "?pvs=4#0f8fad5bd9cb469fa16570867728950e",
			"https://www.notion.so/" + id + "?pvs=4#0f8fad5bd9cb469fa16570867728950e"},
		{"/acme/Pricing-" + id, "https://www.notion.so/" + id},
		{"https://www.notion.so/" + id, ""}, // already an address Notion takes
		{"/docs/pricing", ""},
		{"./" + id, ""},
		{"//www.notion.so/" + id, ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, ok := notion.WorkspaceURL(tt.url)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("WorkspaceURL = %q, %v; want %q", got, ok, tt.want)
			}
			if ok && !notion.ValidLinkURL(got) {
				t.Errorf("Notion would refuse %q", got)
			}
		})
	}
}
