package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// AttributionRequest is the window [Since, Until) whose conversions the
// attribution credits. A contact converted in the window when one of its
// touches (activities) falls in it; all its touches before Until, however
// old, share that conversion's credit. A zero Since is the beginning of
// time, a zero Until no end.
type AttributionRequest struct {
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
}

// validate checks that the window is not empty.
func (r AttributionRequest) validate() error {
	if !r.Until.IsZero() && !r.Until.After(r.Since) {
		return fmt.Errorf("until (%s) must be after since (%s)", r.Until.Format(time.RFC3339Nano), r.Since.Format(time.RFC3339Nano))
	}
	return nil
}

// Attribution is the credit of the conversions of a window by the source
// of the touches that led to them, under the position-based model (see
// [DB.Attribution]).
type Attribution struct {
	AttributionRequest
	// Contacts is how many contacts converted in the window; each one
	// is a credit of 1 shared by its touches.
	Contacts int `json:"contacts"`
	// Touches is how many touches were credited.
	Touches int `json:"touches"`
	// Sources holds the credit of each source, most credited first (by
	// name on a tie).
	Sources []SourceAttribution `json:"sources"`
}

// SourceAttribution is the credit of one touch source: an activity's
// source, such as form, clay or hubspot.
type SourceAttribution struct {
	Source string `json:"source"`
	// Credit is the contacts credited to the source: the sum of its
	// touches' credit.
	Credit float64 `json:"credit"`
	// Touches is how many of the credited touches came from the source.
	Touches int `json:"touches"`
	// FirstTouches and LastTouches count the contacts whose first, or
	// last, touch came from the source; a contact's only touch is both.
	FirstTouches int `json:"first_touches"`
	LastTouches  int `json:"last_touches"`
}

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

// Attribution credits the conversions of the window of req to the sources
// of the touches that led to them, multi-touch and position-based: every
// contact with a touch in the window counts once, and its credit of 1 is
// shared by all its touches before req.Until, the ones before req.Since
// included, as [positionCredit] says: 40 % to the first, 40 % to the last,
// 20 % to those between. A touch is an activity of the contact; touches at
// the same time are in the order they were stored.
func (db *DB) Attribution(ctx context.Context, req AttributionRequest) (Attribution, error) {
	if err := req.validate(); err != nil {
		return Attribution{}, fmt.Errorf("attribution: %w", err)
	}
	return db.sql.attribution(ctx, req)
}

// attributor adds up the credit of contacts' touches, read one contact at
// a time in time order.
type attributor struct {
	out      Attribution
	bySource map[string]*SourceAttribution
	// email and touches are the contact being read and the sources of
	// its touches so far.
	email   string
	touches []string
}

func newAttributor(req AttributionRequest) *attributor {
	return &attributor{out: Attribution{AttributionRequest: req}, bySource: map[string]*SourceAttribution{}}
}

// add takes the next touch, which comes after every touch of its contact
// read before it.
func (a *attributor) add(email, source string) {
	if email != a.email {
		a.flush()
		a.email = email
	}
	a.touches = append(a.touches, source)
}

// flush credits the touches of the contact being read.
func (a *attributor) flush() {
	n := len(a.touches)
	if n == 0 {
		return
	}
	a.out.Contacts++
	a.out.Touches += n
	for i, src := range a.touches {
		s := a.bySource[src]
		if s == nil {
			s = &SourceAttribution{Source: src}
			a.bySource[src] = s
		}
		s.Credit += positionCredit(i, n)
		s.Touches++
		if i == 0 {
			s.FirstTouches++
		}
		if i == n-1 {
			s.LastTouches++
		}
	}
	a.touches = a.touches[:0]
}

// result returns the credit of every contact added, most credited source
// first.
func (a *attributor) result() Attribution {
	a.flush()
	out := a.out
	out.Sources = make([]SourceAttribution, 0, len(a.bySource))
	for _, s := range a.bySource {
		out.Sources = append(out.Sources, *s)
	}
	slices.SortFunc(out.Sources, func(x, y SourceAttribution) int {
		return cmp.Or(cmp.Compare(y.Credit, x.Credit), cmp.Compare(x.Source, y.Source))
	})
	return out
}

// noEnd stands for a window without an end: a stored time after every
// other, in the layout of formatTime.
const noEnd = "9999-12-31T23:59:59.999999999Z"

// attribution streams the touches of the contacts that converted in the
// window of req, ordered by contact and time, through one query.
func (s *sqlStore) attribution(ctx context.Context, req AttributionRequest) (Attribution, error) {
	until := noEnd
	if !req.Until.IsZero() {
		until = formatTime(req.Until)
	}
	rows, err := s.reader.QueryContext(ctx, s.q.attribution, until, formatTime(req.Since), until)
	if err != nil {
		return Attribution{}, fmt.Errorf("attribution: %w", err)
	}
	defer rows.Close()
	a := newAttributor(req)
	var email, source string
	for rows.Next() {
		if err := rows.Scan(&email, &source); err != nil {
			return Attribution{}, fmt.Errorf("attribution: %w", err)
		}
		a.add(email, source)
	}
	if err := rows.Err(); err != nil {
		return Attribution{}, fmt.Errorf("attribution: %w", err)
	}
	return a.result(), nil
}
