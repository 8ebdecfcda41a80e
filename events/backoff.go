package events

import (
	"math/rand/v2"
	"time"
)

// Backoff returns the delay before redelivering after a failed attempt.
type Backoff func(attempt int) time.Duration

// ExponentialBackoff doubles the delay from min with every attempt, caps it
// at max, and spreads it with "equal jitter": a random delay in [d/2, d], so
// that many failing messages do not come back in lockstep.
func ExponentialBackoff(minDelay, maxDelay time.Duration) Backoff {
	return func(attempt int) time.Duration {
		d := minDelay
		for i := 1; i < attempt && d < maxDelay; i++ {
			d *= 2
		}
		d = min(d, maxDelay)
		half := d / 2
		if half <= 0 {
			return d
		}
		return half + rand.N(half+1)
	}
}
