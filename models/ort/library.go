package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// EnvLibrary is the environment variable naming the ONNX Runtime library.
const EnvLibrary = "CROSSRANK_ORT_LIB"

// LibraryName is the file name of the ONNX Runtime shared library on this
// platform (libonnxruntime.so.1, or libonnxruntime.dylib on macOS).
func LibraryName() string {
	if runtime.GOOS == "darwin" {
		return "libonnxruntime.dylib"
	}
	return "libonnxruntime.so.1"
}

// ErrLibraryNotFound is wrapped by FindLibrary when no library is found.
var ErrLibraryNotFound = errors.New("ONNX Runtime library not found")

// FindLibrary returns the path of the ONNX Runtime shared library. It looks,
// in order, at flag (the --ort-lib value), $CROSSRANK_ORT_LIB,
// .cache/ort/<lib> in the working directory and each folder above it,
// .cache/ort/<lib> beside the executable and in each folder above it, and
// ~/.cache/crossrank/ort/<lib>. A path given by flag or environment must
// exist; it is never silently replaced by a later candidate.
func FindLibrary(flag string) (string, error) {
	name := LibraryName()
	if flag != "" {
		return existing(flag, "--ort-lib")
	}
	if env := os.Getenv(EnvLibrary); env != "" {
		return existing(env, "$"+EnvLibrary)
	}
	var tried []string
	try := func(dir string) (string, bool) {
		p := filepath.Join(dir, ".cache", "ort", name)
		tried = append(tried, p)
		return p, isFile(p)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if p, ok := try(d); ok {
				return p, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		for d := filepath.Dir(exe); ; d = filepath.Dir(d) {
			if p := filepath.Join(d, name); isFile(p) {
				return p, nil
			}
			if p, ok := try(d); ok {
				return p, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "crossrank", "ort", name)
		tried = append(tried, p)
		if isFile(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("ort: %w (%s; looked in %s): run `make setup-ort` in the crossrank checkout, "+
		"or set %s or --ort-lib to the library's path", ErrLibraryNotFound, name, strings.Join(dedupe(tried), ", "), EnvLibrary)
}

func existing(p, source string) (string, error) {
	if !isFile(p) {
		return "", fmt.Errorf("ort: %w: %s names %s, which is not a file: run `make setup-ort`, or point %s at libonnxruntime",
			ErrLibraryNotFound, source, p, source)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("ort: %s: %w", p, err)
	}
	return abs, nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// environment is the process-wide ONNX Runtime environment. onnxruntime_go
// keeps the library handle and the OrtEnv in package-level variables, and ONNX
// Runtime allows one OrtEnv per process, so this guard is necessarily
// process-global too: it initialises the environment once, with the first
// library asked for, and never tears it down (sessions come and go; the
// environment lives as long as the process). Every Load goes through it, so
// any number of packages, tests and sessions in one process can load models.
var environment struct {
	mu  sync.Mutex
	lib string // library the environment was initialised with ("?" if by someone else)
}

// initEnvironment makes sure the ONNX Runtime environment is up, loaded from
// lib. Asking for a different library once one is loaded is an error.
func initEnvironment(lib string) error {
	environment.mu.Lock()
	defer environment.mu.Unlock()
	if environment.lib != "" || onnxruntime.IsInitialized() {
		if environment.lib == "" {
			environment.lib = "?"
		}
		if environment.lib != lib && environment.lib != "?" {
			return fmt.Errorf("ort: this process already loaded ONNX Runtime from %s; cannot also load %s (one library per process)",
				environment.lib, lib)
		}
		return nil
	}
	onnxruntime.SetSharedLibraryPath(lib)
	if err := onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelError()); err != nil {
		return fmt.Errorf("ort: initialise ONNX Runtime from %s: %w", lib, err)
	}
	environment.lib = lib
	return nil
}

// Version initialises ONNX Runtime from lib (see FindLibrary) and returns its
// version string.
func Version(lib string) (string, error) {
	if err := initEnvironment(lib); err != nil {
		return "", err
	}
	return onnxruntime.GetVersion(), nil
}
