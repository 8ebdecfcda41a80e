package mdnotion_test

import (
	"fmt"

	"github.com/gtmhub/gtmhub/services/knowledgesync/internal/mdnotion"
)

func Example() {
	blocks := mdnotion.ToBlocks([]byte("# Outbound\n\n* [ ] write the *first* touch\n    * ask `ops`\n\n***\n"))
	for _, b := range blocks {
		fmt.Println(b.Type, len(b.Children))
	}
	fmt.Print(string(mdnotion.ToMarkdown(blocks)))
	// Output:
	// heading_1 0
	// to_do 1
	// divider 0
	// # Outbound
	//
	// - [ ] write the _first_ touch
	//   - ask `ops`
	//
	// ---
}

func Example_table() {
	blocks := mdnotion.ToBlocks([]byte("Plan|Seats\n:--|--:\n**Team**|`5\\|10`\n\n![Logo](https://example.com/logo.png)\n"))
	for _, b := range blocks {
		fmt.Println(b.Type, len(b.Children))
	}
	fmt.Print(string(mdnotion.ToMarkdown(blocks)))
	// Output:
	// table 2
	// image 0
	// | Plan | Seats |
	// | --- | --- |
	// | **Team** | `5\|10` |
	//
	// ![Logo](https://example.com/logo.png)
}

// sitePages maps the relative links of a file to the pages of the files
// they name.
type sitePages map[string]string // page URL by destination

func (p sitePages) NotionURL(dest string) (string, bool) {
	u, ok := p[dest]
	return u, ok
}

func (p sitePages) MarkdownDest(url string) (string, bool) {
	for dest, u := range p {
		if u == url {
			return dest, true
		}
	}
	return "", false
}

func ExampleWithLinks() {
	links := mdnotion.WithLinks(sitePages{"./pricing.md": "https://www.notion.so/251d2b5f268c4de2afe9c71ff92ca95c"})
	blocks := mdnotion.ToBlocks([]byte("See [pricing](./pricing.md) and [plans](#plans).\n"), links)
	fmt.Println(blocks[0].Content.RichText[1].URL())
	fmt.Print(string(mdnotion.ToMarkdown(blocks, links)))
	// Output:
	// https://www.notion.so/251d2b5f268c4de2afe9c71ff92ca95c
	// See [pricing](./pricing.md) and plans.
}
