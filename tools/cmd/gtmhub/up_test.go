package main

import (
	"strings"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	tests := []struct {
		flag, gomemlimit string
		want             int64
		wantErr          string
	}{
		{flag: "192MiB", want: 192 << 20},
		{flag: "1GiB", want: 1 << 30},
		{flag: "512 MB", want: 512_000_000},
		{flag: "off", want: 0},
		{flag: "OFF", want: 0},
		{flag: "0", want: 0},
		{flag: "192MiB", gomemlimit: "1GiB", want: 0}, // the runtime applied GOMEMLIMIT already
		{flag: "lots", wantErr: "want a size"},
		{flag: "-5MiB", wantErr: "want a size"},
		{flag: "1MiB", wantErr: "at least 32MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.flag+"/"+tt.gomemlimit, func(t *testing.T) {
			got, err := memoryLimit(tt.flag, tt.gomemlimit)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("memoryLimit(%q) error %v, want one saying %q", tt.flag, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("memoryLimit(%q, %q) = %d, %v; want %d", tt.flag, tt.gomemlimit, got, err, tt.want)
			}
		})
	}
}
