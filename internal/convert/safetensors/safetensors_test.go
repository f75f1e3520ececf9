package safetensors_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/convert/safetensors"
)

// file writes an 8-byte length, the header (padded with spaces to 8 bytes
// unless raw) and data, and returns its path.
func file(t testing.TB, header string, data []byte) string {
	t.Helper()
	h := []byte(header)
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	b = append(append(b, h...), data...)
	p := filepath.Join(t.TempDir(), "model.safetensors")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func f32(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func TestRead(t *testing.T) {
	// a: F32 [2,2]; b: F16 [3] (1, -2, 65504); c: BF16 [2] (1.5, -0.25); d: I64 [1].
	data := f32(1, -2, 3.5, 0)
	data = binary.LittleEndian.AppendUint16(data, 0x3c00)
	data = binary.LittleEndian.AppendUint16(data, 0xc000)
	data = binary.LittleEndian.AppendUint16(data, 0x7bff)
	data = binary.LittleEndian.AppendUint16(data, uint16(math.Float32bits(1.5)>>16))
	data = binary.LittleEndian.AppendUint16(data, uint16(math.Float32bits(-0.25)>>16))
	data = binary.LittleEndian.AppendUint64(data, 7)
	p := file(t, `{"__metadata__":{"format":"pt"},
		"b":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},
		"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},
		"c":{"dtype":"BF16","shape":[2],"data_offsets":[22,26]},
		"d":{"dtype":"I64","shape":[1],"data_offsets":[26,34]}}`, data)
	f, err := safetensors.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.Names(), ","); got != "a,b,c,d" {
		t.Errorf("names in data order: %s", got)
	}
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata)
	}
	for _, tc := range []struct {
		name  string
		shape []int64
		want  []float32
	}{
		{"a", []int64{2, 2}, []float32{1, -2, 3.5, 0}},
		{"b", []int64{3}, []float32{1, -2, 65504}},
		{"c", nil, []float32{1.5, -0.25}},
	} {
		got, err := f.Float32(tc.name, tc.shape)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tc.want {
			if got[i] != tc.want[i] {
				t.Errorf("%s[%d] = %v, want %v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
	for _, tc := range []struct {
		name  string
		shape []int64
		want  string
	}{
		{"a", []int64{4}, `tensor "a" has shape [2 2], the config expects [4]`},
		{"zz", nil, `no tensor "zz"`},
		{"d", nil, `tensor "d" is I64, want a floating-point type`},
	} {
		if _, err := f.Float32(tc.name, tc.shape); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("Float32(%s): err = %v, want the path and %q", tc.name, err, tc.want)
		}
	}
}

func TestHalf(t *testing.T) {
	for _, tc := range []struct {
		bits uint16
		want float64
	}{
		{0x0000, 0}, {0x8000, math.Copysign(0, -1)}, {0x0001, math.Ldexp(1, -24)}, {0x03ff, math.Ldexp(1023, -24)},
		{0x0400, math.Ldexp(1, -14)}, {0x3555, 0.333251953125}, {0x7c00, math.Inf(1)}, {0xfc00, math.Inf(-1)},
	} {
		p := file(t, `{"h":{"dtype":"F16","shape":[],"data_offsets":[0,2]}}`, binary.LittleEndian.AppendUint16(nil, tc.bits))
		f, err := safetensors.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Float32("h", []int64{})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if float64(got[0]) != tc.want || math.Signbit(float64(got[0])) != math.Signbit(tc.want) {
			t.Errorf("half %#04x = %v, want %v", tc.bits, got[0], tc.want)
		}
	}
	p := file(t, `{"h":{"dtype":"F16","shape":[],"data_offsets":[0,2]}}`, binary.LittleEndian.AppendUint16(nil, 0x7e00))
	f, err := safetensors.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, _ := f.Float32("h", nil); !math.IsNaN(float64(got[0])) {
		t.Errorf("half NaN = %v", got[0])
	}
}

func TestOpenErrors(t *testing.T) {
	ok := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	tests := []struct {
		name string
		path func(t *testing.T) string
		want string
	}{
		{"empty file", func(t *testing.T) string { return raw(t, nil) }, "shorter than the 8-byte header length"},
		{"header length 0", func(t *testing.T) string { return raw(t, make([]byte, 8)) }, "too small"},
		{"header length huge", func(t *testing.T) string { return raw(t, binary.LittleEndian.AppendUint64(nil, 1<<62)) }, "exceeds"},
		{"header beyond file", func(t *testing.T) string {
			return raw(t, append(binary.LittleEndian.AppendUint64(nil, 64), "{}"...))
		}, "truncated"},
		{"not JSON", func(t *testing.T) string { return file(t, "{nope", f32(1, 2)) }, "header"},
		{"not an object", func(t *testing.T) string { return file(t, "[1,2]", nil) }, "not a JSON object"},
		{"data after the object", func(t *testing.T) string { return file(t, ok+`{}`, f32(1, 2)) }, "data after the JSON object"},
		{"repeated key", func(t *testing.T) string {
			return file(t, `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(1, 2))
		}, `key "a" appears twice`},
		{"unknown dtype", func(t *testing.T) string {
			return file(t, `{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}`, f32(1, 2))
		}, `tensor "a": unknown dtype "F33"`},
		{"unknown field", func(t *testing.T) string {
			return file(t, `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`, f32(1, 2))
		}, `tensor "a": bad entry`},
		{"no shape", func(t *testing.T) string { return file(t, `{"a":{"dtype":"F32","data_offsets":[0,8]}}`, f32(1, 2)) }, "no shape"},
		{"negative dim", func(t *testing.T) string {
			return file(t, `{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, f32(1, 2))
		}, "negative dimension"},
		{"overflowing shape", func(t *testing.T) string {
			return file(t, `{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, f32(1, 2))
		}, "overflows"},
		{"shape vs bytes", func(t *testing.T) string {
			return file(t, `{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, f32(1, 2))
		}, `tensor "a": shape [3] of F32 is 12 bytes but data_offsets [0, 8] hold 8`},
		{"offsets reversed", func(t *testing.T) string {
			return file(t, `{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, f32(1, 2))
		}, "end before they begin"},
		{"three offsets", func(t *testing.T) string {
			return file(t, `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}`, f32(1, 2))
		}, "data_offsets has 3 values"},
		{"negative offset", func(t *testing.T) string {
			return file(t, `{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, f32(1, 2))
		}, "not a non-negative integer"},
		{"overlap", func(t *testing.T) string {
			return file(t, `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(1, 2))
		}, "overlap"},
		{"gap", func(t *testing.T) string {
			return file(t, `{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(1, 2))
		}, "gap"},
		{"truncated data", func(t *testing.T) string {
			return file(t, `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[4],"data_offsets":[4,20]}}`, f32(1, 2, 3))
		}, `tensor "b" needs bytes`},
		{"trailing bytes", func(t *testing.T) string { return file(t, ok, f32(1, 2, 3)) }, "4 bytes after the last tensor"},
		{"bad metadata", func(t *testing.T) string { return file(t, `{"__metadata__":{"a":1}}`, nil) }, "__metadata__"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path(t)
			f, err := safetensors.Open(p)
			if err == nil {
				f.Close()
				t.Fatal("opened a broken file")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want the path and %q", err, tc.want)
			}
		})
	}
	if _, err := safetensors.Open(filepath.Join(t.TempDir(), "missing.safetensors")); err == nil {
		t.Error("opened a missing file")
	}
}

func raw(t testing.TB, b []byte) string {
	p := filepath.Join(t.TempDir(), "model.safetensors")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzOpen: any bytes give a File whose tensors all read, or an error;
// never a panic.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`), f32(1, 2))
	f.Add([]byte(`{"a":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]},"__metadata__":{}}`), []byte{1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, header, data []byte) {
		p := file(t, string(header), data)
		sf, err := safetensors.Open(p)
		if err != nil {
			return
		}
		defer sf.Close()
		for _, n := range sf.Names() {
			info := sf.Info(n)
			if _, err := sf.Float32(n, info.Shape); err != nil && !strings.Contains(err.Error(), "floating-point") {
				t.Errorf("tensor %q of a validated file: %v", n, err)
			}
		}
	})
}

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "st")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "model.safetensors")
	header := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(append(b, header...), f32(0.5, -1)...)
	_ = os.WriteFile(p, b, 0o644)

	f, err := safetensors.Open(p)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	w, err := f.Float32("w", []int64{2})
	fmt.Println(w, err)
	// Output: [0.5 -1] <nil>
}
