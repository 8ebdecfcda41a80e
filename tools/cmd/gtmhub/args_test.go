package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestCommandsWithoutArgumentsRefuseThem: every command whose usage names
// no argument refuses one, rather than running as if it were not there.
func TestCommandsWithoutArgumentsRefuseThem(t *testing.T) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && !strings.Contains(c.Use, " ") {
			if c.Args == nil || c.Args(c, []string{"extra-arg"}) == nil {
				t.Errorf("%q accepts an argument its usage does not name", c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
}
