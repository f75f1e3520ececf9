//go:build integration

package proxy_test

import "testing"

func (e *itEnv) readmeSuite(t *testing.T) { t.Skip("todo") }
