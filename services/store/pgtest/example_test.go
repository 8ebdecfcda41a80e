package pgtest_test

import (
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
