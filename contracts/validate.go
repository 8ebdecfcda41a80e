package contracts

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// ErrUnknownType is returned, wrapped, for an event type that is not in the
// catalog.
var ErrUnknownType = errors.New("contracts: unknown event type")

// ErrInvalidJSON is returned, wrapped, when data is not a single JSON value.
var ErrInvalidJSON = errors.New("contracts: data is not valid JSON")

// ValidationError reports every way a document breaks its type's schema. Its
// JSON form is meant to be sent back to whoever sent the document, for
// example in an HTTP 422 response.
type ValidationError struct {
	// EventType is the type whose schema the document broke.
	EventType string `json:"event_type"`
	// Fields holds one entry per problem, sorted by pointer.
	Fields []FieldError `json:"fields"`
}

// FieldError is one problem with one value in a document.
type FieldError struct {
	// Pointer is the RFC 6901 JSON pointer to the value: "" for the whole
	// document, "/email", "/reasons/0/code". For a missing or unknown
	// property it points at the property itself.
	Pointer string `json:"pointer"`
	// Message says what is wrong, in words meant for the sender.
	Message string `json:"message"`
}

// Error lists every field error on one line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "contracts: invalid %s data: ", e.EventType)
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		if f.Pointer == "" {
			b.WriteString("(root)")
		} else {
			b.WriteString(f.Pointer)
		}
		b.WriteString(": ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// compiledSchemas compiles every event schema the first time it is called
// and returns the same result ever after.
var compiledSchemas = sync.OnceValues(compileSchemas)

// compiled is an event type's schema and the plan that checks documents
// against it before the library is asked.
type compiled struct {
	schema *jsonschema.Schema
	plan   *plan
}

func compileSchemas() (map[string]compiled, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertContent()
	c.RegisterFormat(&jsonschema.Format{Name: formatUTCTimestamp, Validate: validateUTCTimestamp})

	fsys := SchemaFS()
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, fmt.Errorf("contracts: listing schemas: %w", err)
	}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("contracts: reading schema %s: %w", name, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("contracts: parsing schema %s: %w", name, err)
		}
		if err := c.AddResource(schemaBase+name, doc); err != nil {
			return nil, fmt.Errorf("contracts: adding schema %s: %w", name, err)
		}
	}

	schemas := make(map[string]compiled)
	for _, e := range Catalog() {
		s, err := c.Compile(e.DataSchema)
		if err != nil {
			return nil, fmt.Errorf("contracts: compiling schema for %s: %w", e.Type, err)
		}
		schemas[e.Type] = compiled{schema: s, plan: newPlan(s)}
	}
	return schemas, nil
}

// Validate checks data, the data of a CloudEvent of type eventType, against
// the type's schema. It returns nil if data is valid, a *[ValidationError]
// listing every problem if it is not, an error wrapping [ErrInvalidJSON] if
// data is not JSON, and an error wrapping [ErrUnknownType] if eventType is
// not in the catalog.
//
// The schemas are compiled on the first call. Validate is safe for
// concurrent use.
func Validate(eventType string, data []byte) error {
	sch, err := schemaFor(eventType)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%w: %s: no data", ErrInvalidJSON, eventType)
	}
	if sch.plan.conformsData(data) == conforming {
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidJSON, eventType, err)
	}
	return validate(eventType, sch, doc)
}

// Decode is [Validate] for a consumer that wants the data as encoding/json
// decodes it into an any (objects as map[string]any, numbers as float64):
// it returns the document when it is valid, reading it once for both where
// [Validate] and [json.Unmarshal] would read it twice, and the errors of
// [Validate] otherwise.
func Decode(eventType string, data []byte) (any, error) {
	sch, err := schemaFor(eventType)
	if err != nil {
		return nil, err
	}
	if doc, ok := sch.plan.decodeConforming(data); ok {
		return doc, nil
	}
	if err := Validate(eventType, data); err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidJSON, eventType, err)
	}
	return doc, nil
}

// ValidateValue is [Validate] for data already decoded by encoding/json into
// an any (numbers as float64 or json.Number). Its fast path encodes v
// again, so a consumer that has the data as received should call
// [Validate] on it instead.
func ValidateValue(eventType string, v any) error {
	sch, err := schemaFor(eventType)
	if err != nil {
		return err
	}
	if sch.plan.conformsValue(v) == conforming {
		return nil
	}
	return validate(eventType, sch, v)
}

// schemaFor returns the compiled schema of eventType.
func schemaFor(eventType string) (compiled, error) {
	schemas, err := compiledSchemas()
	if err != nil {
		return compiled{}, err
	}
	sch, ok := schemas[eventType]
	if !ok {
		return compiled{}, fmt.Errorf("%w %q", ErrUnknownType, eventType)
	}
	return sch, nil
}

// validate returns the library's verdict on doc, with every problem it
// finds. It is asked when the plan does not find doc conforming.
// It also reports every number beyond a float64's range (numbers.go).
func validate(eventType string, sch compiled, doc any) error {
	var fields []FieldError
	err := sch.schema.Validate(doc)
	var verr *jsonschema.ValidationError
	switch {
	case err == nil:
	case errors.As(err, &verr):
		collect(verr, &fields)
	default:
		return fmt.Errorf("contracts: validating %s data: %w", eventType, err)
	}
	rangeErrors(doc, nil, &fields)
	if len(fields) == 0 {
		return nil
	}
	slices.SortFunc(fields, func(a, b FieldError) int {
		return cmp.Or(cmp.Compare(a.Pointer, b.Pointer), cmp.Compare(a.Message, b.Message))
	})
	return &ValidationError{EventType: eventType, Fields: slices.Compact(fields)}
}

// collect flattens the library's tree of errors into one entry per
// problem. Branch nodes ($ref, allOf, if/then) only group their causes and
// are dropped; anyOf, oneOf and not are reported as they are, since their
// causes describe alternatives rather than problems.
//
// The schemas do not use propertyNames: jsonschema v6.0.3 reports its errors
// at an instance location that later validation overwrites
// (santhosh-tekuri/jsonschema#258). patternProperties with
// additionalProperties: false expresses the same and reports each bad key at
// its own pointer.
func collect(e *jsonschema.ValidationError, fields *[]FieldError) {
	add := func(loc []string, msg string) {
		*fields = append(*fields, FieldError{Pointer: pointer(loc), Message: msg})
	}
	loc := e.InstanceLocation
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, p := range k.Missing {
			add(slices.Concat(loc, []string{p}), "is required")
		}
		return
	case *kind.DependentRequired:
		for _, p := range k.Missing {
			add(slices.Concat(loc, []string{p}), fmt.Sprintf("is required when %q is present", k.Prop))
		}
		return
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			add(slices.Concat(loc, []string{p}), "is not an allowed property")
		}
		return
	case *kind.AnyOf, *kind.OneOf, *kind.Not:
		add(loc, describe(e.ErrorKind))
		return
	}
	if len(e.Causes) == 0 {
		add(loc, describe(e.ErrorKind))
		return
	}
	for _, c := range e.Causes {
		collect(c, fields)
	}
}

// describe says what a leaf error means. The library's own messages are
// written for schema authors; these are for senders.
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.FalseSchema:
		return "is not allowed"
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, t := range k.Want {
			want[i] = withArticle(t)
		}
		return fmt.Sprintf("must be %s, not %s", strings.Join(want, " or "), withArticle(k.Got))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, v := range k.Want {
			want[i] = jsonText(v)
		}
		return "must be one of " + strings.Join(want, ", ")
	case *kind.Const:
		return "must be " + jsonText(k.Want)
	case *kind.Format:
		return fmt.Sprintf("is not a valid %s: %v", k.Want, k.Err)
	case *kind.ContentEncoding:
		return fmt.Sprintf("is not valid %s: %v", k.Want, k.Err)
	case *kind.Pattern:
		return "does not match the pattern " + k.Want
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %s long", count(k.Want, "character"))
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %s long", count(k.Want, "character"))
	case *kind.Minimum:
		return "must be at least " + number(k.Want)
	case *kind.Maximum:
		return "must be at most " + number(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be greater than " + number(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be less than " + number(k.Want)
	case *kind.MinItems:
		return "must have at least " + count(k.Want, "item")
	case *kind.MaxItems:
		return "must have at most " + count(k.Want, "item")
	case *kind.MinProperties:
		return "must have at least " + count(k.Want, "property")
	case *kind.MaxProperties:
		return "must have at most " + count(k.Want, "property")
	case *kind.UniqueItems:
		return fmt.Sprintf("must not repeat items: %d and %d are equal", k.Duplicates[0], k.Duplicates[1])
	default:
		return k.LocalizedString(message.NewPrinter(language.English))
	}
}

// pointer encodes a location as an RFC 6901 JSON pointer.
func pointer(loc []string) string {
	escape := strings.NewReplacer("~", "~0", "/", "~1")
	var b strings.Builder
	for _, tok := range loc {
		b.WriteByte('/')
		b.WriteString(escape.Replace(tok))
	}
	return b.String()
}

func withArticle(jsonType string) string {
	switch jsonType {
	case "null":
		return jsonType
	case "integer", "object", "array":
		return "an " + jsonType
	default:
		return "a " + jsonType
	}
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func number(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if noun == "property" {
		return strconv.Itoa(n) + " properties"
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
