package ort_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/models/ort"
)

func TestFindLibrary(t *testing.T) {
	real, err := ort.FindLibrary("")
	if err != nil {
		t.Fatalf("FindLibrary: %v (run make setup-ort)", err)
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "libfake.so")
	if err := os.WriteFile(fake, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A checkout-like tree: .cache/ort/<lib> two folders above the cwd.
	tree := t.TempDir()
	cached := filepath.Join(tree, ".cache", "ort", ort.LibraryName())
	deep := filepath.Join(tree, "a", "b")
	for _, d := range []string{filepath.Dir(cached), deep} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(cached, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()

	tests := []struct {
		name    string
		flag    string
		env     string
		cwd     string
		home    string
		want    string
		wantErr string
	}{
		{name: "flag wins over env", flag: fake, env: real, want: fake},
		{name: "env", env: fake, want: fake},
		{name: "flag missing", flag: filepath.Join(dir, "nope.so"), env: real, wantErr: "--ort-lib names"},
		{name: "env missing", env: filepath.Join(dir, "nope.so"), wantErr: "$CROSSRANK_ORT_LIB names"},
		{name: "cache above cwd", cwd: deep, home: empty, want: cached},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(ort.EnvLibrary, tc.env)
			if tc.home != "" {
				t.Setenv("HOME", tc.home)
			}
			if tc.cwd != "" {
				t.Chdir(tc.cwd)
			}
			got, err := ort.FindLibrary(tc.flag)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "make setup-ort") {
					t.Fatalf("FindLibrary error = %v, want %q and the fix", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("FindLibrary = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestFindLibraryMissing runs from an empty folder with no env, no home cache
// and (test binaries live in a temp folder) nothing beside the executable.
func TestFindLibraryMissing(t *testing.T) {
	t.Setenv(ort.EnvLibrary, "")
	t.Setenv("HOME", t.TempDir())
	t.Chdir(t.TempDir())
	_, err := ort.FindLibrary("")
	if !errors.Is(err, ort.ErrLibraryNotFound) {
		t.Fatalf("FindLibrary error = %v, want ErrLibraryNotFound", err)
	}
	for _, want := range []string{"make setup-ort", "CROSSRANK_ORT_LIB", "--ort-lib"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestVersion(t *testing.T) {
	lib, err := ort.FindLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	v, err := ort.Version(lib)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "1.") {
		t.Fatalf("version %q", v)
	}
	// A second call in the same process reuses the environment.
	if _, err := ort.Version(lib); err != nil {
		t.Fatalf("second Version: %v", err)
	}
	t.Logf("ONNX Runtime %s from %s", v, lib)
}
