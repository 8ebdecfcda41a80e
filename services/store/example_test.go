package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gtmhub/gtmhub/services/store"
)

// Open gives tools read access to the contacts the service keeps.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "gtmhub-store")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	cfg := store.DefaultConfig()
	cfg.DataDir = dir
	db, err := store.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	n, err := db.CountContacts(ctx)
	if err != nil {
		log.Fatal(err)
	}
	_, found, err := db.Contact(ctx, "ada@example.com")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(cfg.DBPath()), n, found)
	// Output: gtmhub.db 0 false
}

// Change event ids derive from the input event's id, so a write whose change
// event is published again, after a crash or a redelivery, is stored once.
func ExampleChangeEventID() {
	fmt.Println(store.ChangeEventID("contact", "lead-1") == store.ChangeEventID("contact", "lead-1"))
	fmt.Println(store.ChangeEventID("contact", "lead-1") == store.ChangeEventID("company", "lead-1"))
	// Output:
	// true
	// false
}
