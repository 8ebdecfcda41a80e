package replay

import "time"

// SetFetchWait shortens how long one read waits, so a test can make reads
// come back empty while messages are still pending.
func SetFetchWait(r *Replayer, d time.Duration) { r.fetchWait = d }

// SubsetOf exposes subsetOf to the table test.
func SubsetOf(sub, filter string) bool { return subsetOf(sub, filter) }
