package contracts

import (
	"testing"
)

// BenchmarkValidate validates the examples of the types every lead goes
// through: as Validate does (the plan reads the data in place), as
// ValidateValue does (a decoded value), and with the library alone.
func BenchmarkValidate(b *testing.B) {
	schemas, err := compiledSchemas()
	if err != nil {
		b.Fatal(err)
	}
	for _, typ := range []string{TypeLeadCaptured, TypeLeadEnriched, TypeContactCreated} {
		raw := example(b, typ)
		doc := decodings(b, raw)[0]
		sch := schemas[typ]
		b.Run(typ+"/bytes", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Validate(typ, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(typ+"/value", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := ValidateValue(typ, doc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(typ+"/library", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := sch.schema.Validate(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
