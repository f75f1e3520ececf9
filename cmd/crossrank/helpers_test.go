package main

import (
	"bytes"
	"strings"
	"testing"
)

// runCommand runs the command that newCmd builds in-process with ARGS and
// stdin, and returns what it wrote to stdout.
func runCommand(t *testing.T, newCmd command, stdin string, args ...string) (string, error) {
	t.Helper()
	c := newCmd()
	var out, errOut bytes.Buffer
	c.SetIn(strings.NewReader(stdin))
	c.SetOut(&out)
	c.SetErr(&errOut)
	c.SetArgs(args)
	err := c.Execute()
	return out.String(), err
}
