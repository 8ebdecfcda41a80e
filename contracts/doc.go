// Package contracts defines the events that gtmhub services exchange: the
// CloudEvent types, the JSON Schema for each type's data, and Go types that
// mirror those schemas.
//
// The schemas in schemas/ (JSON Schema 2020-12) are the source of truth. They
// are embedded in the package, and [Validate] checks event data against them,
// reporting every field error with its JSON pointer. [Catalog] lists each type
// with the subject it is published on and the stream that stores it.
//
// Validation runs on every event at every stage, so it has a fast path: the
// compiled schemas are also walked by a plan that only answers whether a
// document conforms, reading the data in place without decoding it into Go
// values, and the schema library is asked, and writes the errors, only when
// the plan does not say yes. [Validate], on the data as received, is
// therefore cheaper than [ValidateValue] on a value already decoded.
//
// A type's data is the body of a binary-mode CloudEvent; the envelope itself
// (id, source, time, subject) belongs to the events module. The Go types are
// for building and reading data. They do not enforce the schema on their own:
// marshal a value and pass the bytes to [Validate] where it matters.
//
// A breaking change to a schema gets a new schema version, with a new file and
// a new $id, never an edit to a published one.
package contracts
