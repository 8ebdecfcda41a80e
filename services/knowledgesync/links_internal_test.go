package knowledgesync

import "testing"

func TestResolveLink(t *testing.T) {
	tests := []struct {
		dir, dest, file, fragment string
	}{
		{".", "./pricing.md", "pricing.md", ""},
		{".", "pricing.md", "pricing.md", ""},
		{".", "./pricing.md#tiers", "pricing.md", "tiers"},
		{"sales", "../pricing.md", "pricing.md", ""},
		{"sales/emea", "../../product/./specs/../plan.md", "product/plan.md", ""},
		{".", "./my%20notes.md#a%20b", "my notes.md", "a%20b"},
		{".", "./préface.md#été", "préface.md", "%C3%A9t%C3%A9"},
		{".", "../outside.md", "", ""},
		{"sales", "../../outside.md", "", ""},
		{".", "#plans", "", ""},
		{".", "/pricing.md", "", ""},
		{".", "https://example.com/pricing.md", "", ""},
		{".", "//example.com/pricing.md", "", ""},
		{".", "./pricing.md?v=2", "", ""},
		{".", "./100%.md", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.dir+" "+tt.dest, func(t *testing.T) {
			file, fragment, ok := resolveLink(tt.dir, tt.dest)
			if file != tt.file || fragment != tt.fragment || ok != (tt.file != "") {
				t.Errorf("resolveLink = %q, %q, %v; want %q, %q", file, fragment, ok, tt.file, tt.fragment)
			}
		})
	}
}

func TestRelativePath(t *testing.T) {
	tests := []struct{ dir, target, want string }{
		{".", "pricing.md", "./pricing.md"},
		{".", "sales/playbook.md", "./sales/playbook.md"},
		{"sales", "sales/playbook.md", "./playbook.md"},
		{"sales", "pricing.md", "../pricing.md"},
		{"product", "sales/playbook.md", "../sales/playbook.md"},
		{"sales/emea", "sales/amer/plan.md", "../amer/plan.md"},
		{"sales", "sales/emea/plan.md", "./emea/plan.md"},
		{"a/b/c", "x.md", "../../../x.md"},
	}
	for _, tt := range tests {
		got := relativePath(tt.dir, tt.target)
		if got != tt.want {
			t.Errorf("relativePath(%q, %q) = %q, want %q", tt.dir, tt.target, got, tt.want)
		}
		if file, _, ok := resolveLink(tt.dir, got); !ok || file != tt.target {
			t.Errorf("%q from %q resolves to %q, want %q", got, tt.dir, file, tt.target)
		}
	}
}
