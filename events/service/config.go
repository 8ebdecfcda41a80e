package service

import (
	"errors"
	"fmt"
	"os"

	"github.com/goccy/go-yaml"
)

// LoadFile decodes the YAML file at path into dst, leaving fields the file
// does not mention at their current (default) values. Keys that dst does not
// know are ignored, so every service reads its own part of one gtmhub.yaml.
// An empty path is not an error: defaults apply.
func LoadFile(path string, dst any) error {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := yaml.Unmarshal(b, dst); err != nil {
		// The line and column, not the source around them: the lines next
		// to a mistake are often secrets.
		return fmt.Errorf("config %s: %s", path, yaml.FormatError(err, false, false))
	}
	return nil
}

// Env returns the value of the first set variable among names, or def.
func Env(def string, names ...string) string {
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok && v != "" {
			return v
		}
	}
	return def
}

// Problems collects configuration problems so that all of them are reported
// at once.
type Problems []error

// Addf records a problem.
func (p *Problems) Addf(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// Err returns nil or every problem joined.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration:\n%w", errors.Join(p...))
}
