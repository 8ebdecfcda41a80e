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
