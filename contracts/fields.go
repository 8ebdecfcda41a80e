package contracts

import (
	"fmt"
	"slices"
	"strings"
)

// PathError says that a path into an event's data names a member its
// schema does not declare: a misspelled field in a rule, say, which would
// otherwise find nothing on every event.
type PathError struct {
	Type string   // the event type
	Path []string // the path asked about, from the data's root
	At   int      // the index in Path of the first name not declared
	// Known are the names the schema declares where Path[At] was looked
	// for, sorted; none when the value there is not an object.
	Known []string
}

func (e *PathError) Error() string {
	where := "the data"
	if e.At > 0 {
		where = strings.Join(e.Path[:e.At], ".")
	}
	msg := fmt.Sprintf("%s has no field %q in %s", e.Type, e.Path[e.At], where)
	if len(e.Known) == 0 {
		return msg + ", which is not an object"
	}
	return msg + "; it has " + strings.Join(e.Known, ", ")
}

// CheckPath reports whether the data of an event of eventType can have a
// value at path, a chain of member names from the data's root
// (["contact", "signal_score"] for data.contact.signal_score). It returns
// nil when the schema declares every name along path, or when path leads
// into a part of the data the schema leaves open (a map of any names, a
// value of any type); a *[PathError] naming the first name the schema
// does not declare and the names it does; and an error wrapping
// [ErrUnknownType] for a type not in the catalog.
func CheckPath(eventType string, path ...string) error {
	sch, err := schemaFor(eventType)
	if err != nil {
		return err
	}
	at := []*plan{sch.plan}
	for i, name := range path {
		next, open, known := members(at, name)
		switch {
		case open:
			return nil
		case len(next) > 0:
			at = next
		default:
			return &PathError{Type: eventType, Path: path, At: i, Known: known}
		}
	}
	return nil
}

// members returns the schemas of the member name of a value that the
// schemas at describe (declared, or through additionalProperties or a
// matching patternProperties), whether one of them says nothing of the
// value at all, and the names they declare.
func members(at []*plan, name string) (next []*plan, open bool, known []string) {
	for _, p := range alternatives(at) {
		if sub, ok := p.properties[name]; ok {
			next = append(next, sub)
		} else if p.additional != nil {
			next = append(next, p.additional)
		}
		for _, pp := range p.patterns {
			if pp.re.match([]byte(name)) {
				next = append(next, pp.plan)
			}
		}
		for n := range p.properties {
			known = append(known, n)
		}
		open = open || p.unconstrained()
	}
	slices.Sort(known)
	return next, open, slices.Compact(known)
}

// unconstrained reports whether p admits a value of any shape: the schema
// true, or one that says nothing of objects and their members.
func (p *plan) unconstrained() bool {
	if p.boolean != nil {
		return *p.boolean
	}
	anyObject := p.types == 0 || p.types&typeObject != 0
	return anyObject && !p.noAdditional && len(p.properties) == 0 && len(p.patterns) == 0 &&
		p.additional == nil && p.ref == nil && len(p.allOf)+len(p.anyOf)+len(p.oneOf) == 0 &&
		p.thenP == nil && p.elseP == nil
}

// alternatives returns the schemas at and every schema they apply to the
// same value through $ref, allOf, anyOf, oneOf, then and else.
func alternatives(at []*plan) []*plan {
	seen := map[*plan]bool{}
	var out []*plan
	var visit func(p *plan, depth int)
	visit = func(p *plan, depth int) {
		if p == nil || seen[p] || depth > maxDepth {
			return
		}
		seen[p] = true
		out = append(out, p)
		visit(p.ref, depth+1)
		visit(p.thenP, depth+1)
		visit(p.elseP, depth+1)
		for _, subs := range [][]*plan{p.allOf, p.anyOf, p.oneOf} {
			for _, s := range subs {
				visit(s, depth+1)
			}
		}
	}
	for _, p := range at {
		visit(p, 0)
	}
	return out
}
