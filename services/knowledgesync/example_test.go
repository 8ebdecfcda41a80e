package knowledgesync_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gtmhub/gtmhub/services/knowledgesync"
)

func ExampleParseDocument() {
	doc, err := knowledgesync.ParseDocument("playbooks/outbound.md", []byte(`---
title: Outbound playbook
notion_id: 1f2e3d4c5b6a79881f2e3d4c5b6a7988
tags: [sales, outbound]
owner: ada
---
# Steps
`))
	if err != nil {
		panic(err)
	}
	fmt.Println(doc.Title, doc.Tags, doc.Properties["owner"])

	_, err = knowledgesync.ParseDocument("broken.md", []byte("---\ntitle: [oops\n---\n"))
	fmt.Println(err)
	// Output:
	// Outbound playbook [sales outbound] ada
	// broken.md: front matter: invalid YAML: [2:8] sequence end token ']' not found
}

func ExampleSyncer_Scan() {
	dir, err := os.MkdirTemp("", "knowledge")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "icp.md"), []byte("# Ideal customer profile\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "call-notes.md"), []byte("no heading\n"), 0o644)

	s := knowledgesync.NewSyncer(dir, nil)
	res, err := s.Scan(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println("pages:", res.Pages, "added:", res.Added)
	for _, p := range s.Pages() {
		fmt.Printf("%s: %s\n", p.Path, p.Title)
	}
	// Output:
	// pages: 2 added: 2
	// call-notes.md: call-notes
	// icp.md: Ideal customer profile
}
