package host

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestInstrument checks the rewrite of real modules of each toolchain: one
// check per loop, the global exported, and that no truncation of a module
// makes the rewriter panic.
func TestInstrument(t *testing.T) {
	root := filepath.Join("..", "..")
	files := []string{
		filepath.Join(root, "plugins", "wasm", "html.wasm"),
		filepath.Join(root, ".cache", "plugins", "example-c.wasm"),
		filepath.Join(root, ".cache", "plugins", "example-as.wasm"),
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatalf("%v: run make plugins", err)
			}
			out, err := instrument(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(out, []byte(InterruptGlobal)) {
				t.Error("interrupt global not exported")
			}
			tail := []byte{0x40, 0x00, 0x1a} // memory.grow 0; drop
			if bytes.Count(out, tail) <= bytes.Count(b, tail) {
				t.Error("no loop checks inserted")
			}
			// Instrumenting twice adds a second global: the rewrite composes.
			if _, err := instrument(out); err != nil {
				t.Errorf("instrumenting the output: %v", err)
			}
			step := len(b)/300 + 1
			for n := 0; n < len(b); n += step {
				_, _ = instrument(b[:n]) // must not panic
			}
		})
	}
	for _, bad := range [][]byte{nil, []byte("\x00asm"), []byte("\x00asm\x02\x00\x00\x00"), []byte("not wasm at all")} {
		if _, err := instrument(bad); err == nil {
			t.Errorf("instrument(%q) succeeded", bad)
		}
	}
}

// TestInstrumentLoops counts the inserted checks in a hand-assembled module
// with two nested loops in one function and one in another, and checks that
// a module without memory is refused (the check needs memory.grow).
func TestInstrumentLoops(t *testing.T) {
	body1 := []byte{0x00, 0x03, 0x40, 0x03, 0x40, 0x0b, 0x0b, 0x0b} // no locals; loop { loop {} } end
	body2 := []byte{0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b}       // loop { br 0 } end
	code := []byte{2, byte(len(body1))}
	code = append(code, body1...)
	code = append(code, byte(len(body2)))
	code = append(code, body2...)
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, 1, 4, 1, 0x60, 0, 0) // type: () -> ()
	m = append(m, 3, 3, 2, 0, 0)       // two functions of type 0
	m = append(m, 5, 3, 1, 0, 1)       // memory: min 1 page
	m = append(m, 10, byte(len(code)))
	m = append(m, code...)
	out, err := instrument(m)
	if err != nil {
		t.Fatal(err)
	}
	check := loopCheck(0, 1)
	if n := bytes.Count(out, check); n != 5 {
		t.Errorf("%d checks inserted, want 5 (one per loop and per function)", n)
	}
	noMem := bytes.Replace(m, []byte{5, 3, 1, 0, 1}, nil, 1)
	if _, err := instrument(noMem); err == nil {
		t.Error("a module without memory was instrumented")
	}
}

// FuzzInstrument: no input makes the rewriter or the structural checks
// panic, and whatever instrument accepts, validate accepts too (the
// rewrite keeps the bounds it checked).
func FuzzInstrument(f *testing.F) {
	for _, p := range []string{
		filepath.Join("..", "..", ".cache", "plugins", "example-c.wasm"),
		filepath.Join("..", "..", ".cache", "plugins", "example-as.wasm"),
	} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x02\x05\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = validate(b)
		out, err := instrument(b)
		if err != nil {
			return
		}
		if _, err := validate(out); err != nil {
			t.Errorf("instrumented module fails validation: %v", err)
		}
	})
}
