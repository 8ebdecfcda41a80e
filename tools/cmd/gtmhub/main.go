// Command gtmhub is the operator CLI: it runs the whole pipeline on one
// machine (up), shows the streams and consumers (status), the event
// contracts (contracts) and what the store holds (contacts).
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gtmhub:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	root := newRootCmd()
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
