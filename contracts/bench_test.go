package contracts

import (
	"bytes"
	"encoding/json"
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
		raw := compacted(b, example(b, typ))
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

// BenchmarkDecode validates and decodes the change events notify reads:
// with Decode, and with Validate then json.Unmarshal as before it.
func BenchmarkDecode(b *testing.B) {
	for _, typ := range []string{TypeContactCreated, TypeContactUpdated} {
		raw := compacted(b, example(b, typ))
		b.Run(typ+"/Decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(typ, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(typ+"/Validate+Unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Validate(typ, raw); err != nil {
					b.Fatal(err)
				}
				var v any
				if err := json.Unmarshal(raw, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeReadsOnce: the example of every type whose documents the plan
// judges is decoded from its one parse, not handed on to Validate and
// encoding/json; the change events notify reads are among them.
func TestDecodeReadsOnce(t *testing.T) {
	schemas, err := compiledSchemas()
	if err != nil {
		t.Fatal(err)
	}
	judged := 0
	for _, e := range Catalog() {
		t.Run(e.Type, func(t *testing.T) {
			data, p := example(t, e.Type), schemas[e.Type].plan
			if p.conformsData(data) == unknown {
				return // left to the library: a schema the plan does not cover
			}
			judged++
			if _, ok := p.decodeConforming(data); !ok {
				t.Errorf("the example of %s was not decoded from its parse", e.Type)
			}
		})
	}
	for _, typ := range []string{TypeContactCreated, TypeContactUpdated, TypeCompanyCreated, TypeCompanyUpdated} {
		if schemas[typ].plan.conformsData(example(t, typ)) == unknown {
			t.Errorf("the plan leaves %s to the library", typ)
		}
	}
	if judged == 0 {
		t.Error("the plan judged no example")
	}
}

// compacted returns raw without insignificant space, as events travel.
func compacted(b *testing.B, raw []byte) []byte {
	b.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}
