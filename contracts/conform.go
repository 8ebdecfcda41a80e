package contracts

import (
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/valyala/fastjson"
)

// The schema library validates a document as if it had to explain every
// problem: it allocates a scope for every subschema it enters, tracks
// unevaluated properties and parses every number into a big.Rat. Nearly
// every event is valid, so validation first asks the cheaper question
// "does it conform?" of a plan walked over the same compiled schemas, and
// asks the library only when the answer is not a plain yes. The plan reads
// the document parsed in place (see parsed.go) and evaluates the keywords
// the catalog uses, with the library's own format checkers and regular
// expressions; a schema that uses any other keyword is left to the library
// whole.

// verdict is what the plan can say of a value.
type verdict uint8

const (
	// unknown: the schema uses a keyword the plan does not evaluate, or a
	// number it cannot compare exactly; only the library can tell.
	unknown verdict = iota
	conforming
	nonconforming
)

// maxDepth bounds how deep the plan follows references into one value; a
// schema that recurses further is left to the library, which detects
// reference cycles.
const maxDepth = 64

// typeSet is a set of JSON types.
type typeSet uint8

const (
	typeNull typeSet = 1 << iota
	typeBoolean
	typeNumber
	typeInteger
	typeString
	typeArray
	typeObject
)

var typeNames = map[string]typeSet{
	"null": typeNull, "boolean": typeBoolean, "number": typeNumber, "integer": typeInteger,
	"string": typeString, "array": typeArray, "object": typeObject,
}

// plan is one compiled schema, ready to be asked whether a value conforms.
type plan struct {
	s       *jsonschema.Schema
	known   bool    // every keyword of s is one the plan evaluates
	boolean *bool   // a boolean schema
	types   typeSet // 0: any type
	enum    []string
	min     *float64 // integer bounds, exact as float64
	max     *float64

	pattern             *pattern  // s.Pattern, nil for none
	formatted           *accepted // the strings s.Format accepted lately, when s has a format
	ref                 *plan
	properties          map[string]*plan
	patterns            []patternPlan
	additional          *plan // nil: see noAdditional
	noAdditional        bool  // additionalProperties: false
	items               *plan
	ifP, thenP, elseP   *plan
	allOf, anyOf, oneOf []*plan
	not                 *plan

	// names holds, in the plan of a whole schema, every property name its
	// schemas declare: a decoded document's member names are these
	// strings rather than a copy of each. values holds the same names as
	// values of an any (a change event lists field names as values), each
	// boxed once.
	names  map[string]string
	values map[string]any
}

type patternPlan struct {
	re   *pattern
	plan *plan
}

// newPlan compiles the plan of s and of every schema it reaches.
func newPlan(s *jsonschema.Schema) *plan {
	seen := map[*jsonschema.Schema]*plan{}
	p := planOf(s, seen)
	p.names, p.values = map[string]string{}, map[string]any{}
	for _, sub := range seen {
		for name := range sub.properties {
			p.names[name], p.values[name] = name, name
		}
	}
	return p
}

func planOf(s *jsonschema.Schema, seen map[*jsonschema.Schema]*plan) *plan {
	if s == nil {
		return nil
	}
	if p, ok := seen[s]; ok {
		return p
	}
	p := &plan{s: s, boolean: s.Bool}
	seen[s] = p
	p.known = s.DraftVersion >= 2020 && plainKeywords(s) && p.setEnum(s) && p.setBounds(s)
	if s.Types != nil {
		for _, name := range s.Types.ToStrings() {
			p.types |= typeNames[name]
		}
	}
	if s.Pattern != nil {
		p.pattern = newPattern(s.Pattern)
	}
	if s.Format != nil {
		p.formatted = newAccepted()
	}
	p.ref = planOf(s.Ref, seen)
	if len(s.Properties) > 0 {
		p.properties = make(map[string]*plan, len(s.Properties))
		for name, sub := range s.Properties {
			p.properties[name] = planOf(sub, seen)
		}
	}
	for re, sub := range s.PatternProperties {
		p.patterns = append(p.patterns, patternPlan{re: newPattern(re), plan: planOf(sub, seen)})
	}
	switch a := s.AdditionalProperties.(type) {
	case bool:
		p.noAdditional = !a
	case *jsonschema.Schema:
		p.additional = planOf(a, seen)
	}
	p.items = planOf(s.Items2020, seen)
	p.ifP, p.thenP, p.elseP = planOf(s.If, seen), planOf(s.Then, seen), planOf(s.Else, seen)
	p.not = planOf(s.Not, seen)
	p.allOf, p.anyOf, p.oneOf = plansOf(s.AllOf, seen), plansOf(s.AnyOf, seen), plansOf(s.OneOf, seen)
	return p
}

func plansOf(schemas []*jsonschema.Schema, seen map[*jsonschema.Schema]*plan) []*plan {
	var out []*plan
	for _, s := range schemas {
		out = append(out, planOf(s, seen))
	}
	return out
}

// plainKeywords reports whether s uses only keywords the plan evaluates.
func plainKeywords(s *jsonschema.Schema) bool {
	return s.RecursiveRef == nil && s.DynamicRef == nil && len(s.Extensions) == 0 &&
		s.PropertyNames == nil && len(s.Dependencies) == 0 && len(s.DependentRequired) == 0 &&
		len(s.DependentSchemas) == 0 && s.UnevaluatedProperties == nil &&
		!s.UniqueItems && s.Contains == nil && s.Items == nil && s.AdditionalItems == nil &&
		len(s.PrefixItems) == 0 && s.UnevaluatedItems == nil &&
		s.ContentEncoding == nil && s.ContentMediaType == nil && s.ContentSchema == nil &&
		s.ExclusiveMaximum == nil && s.ExclusiveMinimum == nil && s.MultipleOf == nil &&
		(s.Format == nil || s.Format.Name != "regex")
}

// setEnum takes enum and const when every value is a string.
func (p *plan) setEnum(s *jsonschema.Schema) bool {
	if s.Const != nil {
		c, ok := (*s.Const).(string)
		if !ok {
			return false
		}
		p.enum = []string{c}
	}
	if s.Enum != nil {
		if s.Const != nil || len(s.Enum.Values) == 0 {
			return false // an empty enum allows nothing: the library says so
		}
		for _, v := range s.Enum.Values {
			str, ok := v.(string)
			if !ok {
				return false
			}
			p.enum = append(p.enum, str)
		}
	}
	return true
}

// setBounds takes minimum and maximum when a float64 holds them exactly.
func (p *plan) setBounds(s *jsonschema.Schema) bool {
	exact := func(r *big.Rat) (*float64, bool) {
		if r == nil {
			return nil, true
		}
		if !r.IsInt() || r.Num().BitLen() > 53 {
			return nil, false
		}
		f, _ := r.Float64()
		return &f, true
	}
	var okMin, okMax bool
	p.min, okMin = exact(s.Minimum)
	p.max, okMax = exact(s.Maximum)
	return okMin && okMax
}

// conforms tells whether v, a document parsed in place, satisfies the
// schema.
func (p *plan) conforms(v *fastjson.Value) verdict { return check(p, v, 0) }

// check tells whether v satisfies p's schema.
func check(p *plan, v *fastjson.Value, depth int) verdict {
	if p.boolean != nil {
		return either(*p.boolean)
	}
	if !p.known || depth > maxDepth {
		return unknown
	}
	t := kindOf(v)
	if t == 0 {
		return unknown
	}
	if p.types != 0 && p.types&t == 0 {
		if p.types&typeInteger == 0 || t != typeNumber {
			return nonconforming
		}
		if r := isInteger(numberText(v)); r != conforming {
			return r
		}
	}
	str := v.GetStringBytes() // nil unless a string
	if p.enum != nil && (t != typeString || !slices.ContainsFunc(p.enum, func(e string) bool { return e == string(str) })) {
		return nonconforming
	}
	if p.s.Format != nil {
		if r := p.checkFormat(v, t, str); r != conforming {
			return r
		}
	}
	r := conforming
	if p.ref != nil {
		// Stop at the first unknown wherever a schema applies several
		// subschemas to the same value: a schema that recurses through
		// two of them would otherwise branch at every level.
		if r = check(p.ref, v, depth+1); r == unknown {
			return unknown
		}
	}
	switch t {
	case typeObject:
		r = join(r, checkObject(p, v.GetObject(), depth))
	case typeArray:
		r = join(r, checkArray(p, v.GetArray(), depth))
	case typeString:
		r = join(r, p.checkString(str))
	case typeNumber:
		if p.min != nil || p.max != nil { // the text costs allocations
			r = join(r, p.checkNumber(numberText(v)))
		}
	}
	if r != conforming {
		return r
	}
	return checkApplicators(p, v, depth)
}

// checkFormat asks the library's format checker, giving it v as
// encoding/json would decode it.
func (p *plan) checkFormat(v *fastjson.Value, t typeSet, str []byte) verdict {
	var decoded any
	switch t {
	case typeString:
		return either(p.formatted.check(str, func(b []byte) bool {
			return p.s.Format.Name == "date-time" && plainDateTime(b) || p.s.Format.Validate(string(b)) == nil
		}))
	case typeNumber:
		decoded = numberText(v)
	case typeBoolean:
		decoded = v.GetBool()
	case typeNull:
	default:
		return unknown
	}
	return either(p.s.Format.Validate(decoded) == nil)
}

func checkObject(p *plan, obj *fastjson.Object, depth int) verdict {
	s := p.s
	if s.MinProperties != nil && obj.Len() < *s.MinProperties ||
		s.MaxProperties != nil && obj.Len() > *s.MaxProperties {
		return nonconforming
	}
	for _, name := range s.Required {
		if obj.Get(name) == nil {
			return nonconforming
		}
	}
	r := conforming
	obj.Visit(func(key []byte, val *fastjson.Value) {
		if r != nonconforming {
			r = join(r, p.checkMember(key, val, depth))
		}
	})
	return r
}

// checkMember checks the object member name: val against the properties,
// patternProperties and additionalProperties of p.
func (p *plan) checkMember(name []byte, val *fastjson.Value, depth int) verdict {
	r := conforming
	evaluated := false
	if sub, ok := p.properties[string(name)]; ok {
		evaluated = true
		r = join(r, check(sub, val, depth+1))
	}
	for _, pp := range p.patterns {
		if pp.re.match(name) {
			evaluated = true
			r = join(r, check(pp.plan, val, depth+1))
		}
	}
	switch {
	case evaluated:
	case p.noAdditional:
		return nonconforming
	case p.additional != nil:
		r = join(r, check(p.additional, val, depth+1))
	}
	return r
}

func checkArray(p *plan, arr []*fastjson.Value, depth int) verdict {
	s := p.s
	if s.MinItems != nil && len(arr) < *s.MinItems || s.MaxItems != nil && len(arr) > *s.MaxItems {
		return nonconforming
	}
	r := conforming
	if p.items != nil {
		for _, item := range arr {
			if r = join(r, check(p.items, item, depth+1)); r == nonconforming {
				return r
			}
		}
	}
	return r
}

func (p *plan) checkString(str []byte) verdict {
	s := p.s
	if s.MinLength != nil || s.MaxLength != nil {
		n := utf8.RuneCount(str)
		if s.MinLength != nil && n < *s.MinLength || s.MaxLength != nil && n > *s.MaxLength {
			return nonconforming
		}
	}
	if p.pattern != nil && !p.pattern.match(str) {
		return nonconforming
	}
	return conforming
}

// checkNumber compares n with integer bounds. The library compares the
// number's decimal text exactly; a float64 compares the same way with a
// bound it holds exactly when it is the number itself (a plain integer),
// or when it is not the bound.
func (p *plan) checkNumber(n json.Number) verdict {
	f, exact, ok := numberValue(n)
	if !ok {
		return unknown
	}
	for _, b := range []struct {
		bound *float64
		below bool
	}{{p.min, true}, {p.max, false}} {
		switch {
		case b.bound == nil:
		case f == *b.bound && !exact:
			return unknown
		case b.below && f < *b.bound, !b.below && f > *b.bound:
			return nonconforming
		}
	}
	return conforming
}

// numberValue returns n as a float64, and whether that float64 is exactly
// the number n stands for.
func numberValue(n json.Number) (f float64, exact, ok bool) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil && i > -1<<53 && i < 1<<53 {
		return float64(i), true, true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, false, err == nil
}

// checkApplicators evaluates if/then/else, allOf, anyOf, oneOf and not.
func checkApplicators(p *plan, v *fastjson.Value, depth int) verdict {
	r := conforming
	if p.ifP != nil {
		switch check(p.ifP, v, depth+1) {
		case unknown:
			return unknown
		case conforming:
			if p.thenP != nil {
				r = check(p.thenP, v, depth+1)
			}
		case nonconforming:
			if p.elseP != nil {
				r = check(p.elseP, v, depth+1)
			}
		}
	}
	if r != conforming {
		return r
	}
	for _, sub := range p.allOf {
		if r = check(sub, v, depth+1); r != conforming {
			return r
		}
	}
	if len(p.anyOf) > 0 {
		if r = matching(p.anyOf, v, depth, func(n int) bool { return n > 0 }); r != conforming {
			return r
		}
	}
	if len(p.oneOf) > 0 {
		if r = matching(p.oneOf, v, depth, func(n int) bool { return n == 1 }); r != conforming {
			return r
		}
	}
	if p.not != nil {
		switch check(p.not, v, depth+1) {
		case unknown:
			return unknown
		case conforming:
			return nonconforming
		}
	}
	return r
}

// matching checks v against every schema in subs and tells whether the number
// that v conforms to satisfies want.
func matching(subs []*plan, v *fastjson.Value, depth int, want func(n int) bool) verdict {
	n := 0
	for _, sub := range subs {
		switch check(sub, v, depth+1) {
		case unknown:
			return unknown
		case conforming:
			n++
		}
	}
	return either(want(n))
}

// isInteger tells whether a number is an integer, as the library does
// (its decimal text has no fractional part).
func isInteger(n json.Number) verdict {
	if _, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return conforming
	}
	return unknown
}

func either(ok bool) verdict {
	if ok {
		return conforming
	}
	return nonconforming
}

// join combines the verdicts on two parts of one value: any nonconforming
// part makes it nonconforming, any unknown one unknown.
func join(a, b verdict) verdict {
	switch {
	case a == nonconforming || b == nonconforming:
		return nonconforming
	case a == unknown || b == unknown:
		return unknown
	}
	return conforming
}
