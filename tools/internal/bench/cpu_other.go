//go:build !unix

package bench

import "time"

// cpuTime is 0 where the process's CPU time is not read: results then
// carry no CPU per operation.
func cpuTime() time.Duration { return 0 }
