package stack

import (
	"fmt"
	"path/filepath"

	"github.com/gofrs/flock"
)

// lockFile is the file in the data directory a running stack holds locked.
const lockFile = "gtmhub.lock"

// lockDataDir locks dir for one stack: two stacks on one data directory
// would write the same JetStream files and database, and lose data. The
// lock is an flock(2) on dir/gtmhub.lock, so the system releases it when
// the process ends, however it ends.
func lockDataDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, lockFile)
	lock := flock.New(path)
	ok, err := lock.TryLock()
	if err != nil {
		return nil, fmt.Errorf("data dir: lock %s: %w", path, err)
	}
	if !ok {
		return nil, fmt.Errorf("data dir %s is in use by another gtmhub up: stop that one first, or pass another --data-dir", dir)
	}
	return func() { _ = lock.Unlock() }, nil
}
