package signature

import (
	"bytes"
	"testing"
	"time"
)

// BenchmarkVerify verifies a signed 1 KiB webhook under every scheme: with
// one accepted secret, and during a rotation (two accepted, the request
// signed with the second, so both are tried).
func BenchmarkVerify(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	for _, c := range schemeCases() {
		for _, v := range []struct {
			name    string
			secrets []string
		}{
			{"one-secret", []string{c.new}},
			{"rotating", []string{c.old, c.new}},
		} {
			b.Run(c.scheme+c.params.Encoding+"/"+v.name, func(b *testing.B) {
				verifier := c.verifier(b, v.secrets...)
				req := c.signed(b, c.new, body, time.Now())
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if err := verifier.Verify(req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
