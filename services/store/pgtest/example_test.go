package pgtest_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/gtmhub/gtmhub/services/store/pgtest"
)

// A test binary keeps one Server, asks it for the URL wherever a test needs
// PostgreSQL, and stops it when its tests are done (in TestMain).
func Example() {
	var pg pgtest.Server
	defer pg.Stop()
	url, err := pg.URL()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(url, "postgres://"))
	// Output: true
}

// A test that creates tables works in a scratch schema of its own, which it
// drops when it is done.
func ExampleSchema() {
	var pg pgtest.Server
	defer pg.Stop()
	base, err := pg.URL()
	if err != nil {
		fmt.Println(err)
		return
	}
	dsn, drop, err := pgtest.Schema(context.Background(), base, "example_")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Contains(dsn, "search_path=example_"), drop())
	// Output: true <nil>
}
