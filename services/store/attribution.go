package store

// positionCredit is the share of a conversion that the position-based
// (U-shaped) attribution model gives the i-th of a contact's n touches,
// counted from 0 in time order: the touch that brought the contact in and
// the one that converted it matter most, the ones in between a little.
//
//   - one touch takes all the credit;
//   - two touches take half each;
//   - of three or more, the first and the last take 40 % each and the
//     middle ones share the remaining 20 % equally.
//
// The credits of a contact's touches add up to 1. It is 0 for an i outside
// [0, n).
func positionCredit(i, n int) float64 {
	switch {
	case i < 0 || i >= n:
		return 0
	case n == 1:
		return 1
	case n == 2:
		return 0.5
	case i == 0 || i == n-1:
		return 0.4
	default:
		return 0.2 / float64(n-2)
	}
}
