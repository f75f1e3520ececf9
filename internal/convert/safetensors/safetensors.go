// Package safetensors reads Hugging Face safetensors files: an 8-byte
// little-endian header length N, N bytes of JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (plus an optional
// "__metadata__" string map), then the tensors' little-endian bytes, offsets
// relative to the end of the header.
//
// Open checks the whole header against the file before any tensor is read:
// the header size is within bounds, the JSON is one object without repeated
// keys, every dtype is known, every shape × dtype size equals its byte
// range, the ranges lie within the file, start at 0, neither overlap nor
// leave gaps, and end exactly at the end of the file. A truncated or
// corrupted file is an error naming the file, the tensor and what was
// expected. Tensor data is read on demand with ReadAt.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"sort"
)

// MaxHeaderSize bounds the JSON header (100 MB, what the reference
// implementation accepts).
const MaxHeaderSize = 100 << 20

// DType is a safetensors element type ("F32", "BF16", ...).
type DType string

// Size is the element size in bytes (0 for an unknown type).
func (d DType) Size() int {
	switch d {
	case "BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2":
		return 1
	case "I16", "U16", "F16", "BF16":
		return 2
	case "I32", "U32", "F32":
		return 4
	case "I64", "U64", "F64":
		return 8
	}
	return 0
}

// Info describes one tensor of the file.
type Info struct {
	Name  string
	DType DType
	Shape []int64
	Begin int64 // absolute offset of the first byte in the file
	End   int64 // absolute offset one past the last byte
}

// NumElements is the product of the shape (1 for a scalar).
func (i *Info) NumElements() int64 {
	n := int64(1)
	for _, d := range i.Shape {
		n *= d
	}
	return n
}

// File is an opened safetensors file.
type File struct {
	Path     string
	Metadata map[string]string
	tensors  map[string]*Info
	names    []string // in data order
	f        *os.File
}

// Open opens path and validates its header against the file.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	sf, err := parse(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return sf, nil
}

// Close closes the file.
func (s *File) Close() error { return s.f.Close() }

// Names returns the tensor names in data order.
func (s *File) Names() []string { return append([]string(nil), s.names...) }

// Info returns the description of the named tensor, or nil.
func (s *File) Info(name string) *Info { return s.tensors[name] }

type entry struct {
	DType   DType             `json:"dtype"`
	Shape   []int64           `json:"shape"`
	Offsets []json.RawMessage `json:"data_offsets"`
}

func parse(path string, f *os.File) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("safetensors: %s: %d bytes, shorter than the 8-byte header length (truncated?)", path, size)
	}
	var lenBuf [8]byte
	if _, err := f.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: %s: read header length: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	switch {
	case n < 2:
		return nil, fmt.Errorf("safetensors: %s: header length %d is too small for a JSON object", path, n)
	case n > MaxHeaderSize:
		return nil, fmt.Errorf("safetensors: %s: header length %d exceeds the %d-byte limit (not a safetensors file?)", path, n, MaxHeaderSize)
	case int64(n) > size-8:
		return nil, fmt.Errorf("safetensors: %s: header length %d but the file has only %d bytes after it (truncated?)", path, n, size-8)
	}
	hdr := make([]byte, n)
	if _, err := f.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("safetensors: %s: read header: %w", path, err)
	}
	raw, err := objectFields(hdr)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: header: %w", path, err)
	}
	base := 8 + int64(n)
	sf := &File{Path: path, f: f, tensors: map[string]*Info{}}
	for _, kv := range raw {
		if kv.key == "__metadata__" {
			if err := json.Unmarshal(kv.value, &sf.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: %s: __metadata__ must map strings to strings: %w", path, err)
			}
			continue
		}
		info, err := tensorInfo(kv.key, kv.value, base)
		if err != nil {
			return nil, fmt.Errorf("safetensors: %s: %w", path, err)
		}
		sf.tensors[kv.key] = info
		sf.names = append(sf.names, kv.key)
	}
	sort.SliceStable(sf.names, func(i, j int) bool { return sf.tensors[sf.names[i]].Begin < sf.tensors[sf.names[j]].Begin })
	next := base
	for _, name := range sf.names {
		t := sf.tensors[name]
		switch {
		case t.Begin < next:
			return nil, fmt.Errorf("safetensors: %s: tensor %q bytes [%d, %d) overlap the previous tensor's (which end at %d)", path, name, t.Begin-base, t.End-base, next-base)
		case t.Begin > next:
			return nil, fmt.Errorf("safetensors: %s: tensor %q starts at data offset %d, leaving a gap after offset %d", path, name, t.Begin-base, next-base)
		case t.End > size:
			return nil, fmt.Errorf("safetensors: %s: tensor %q needs bytes [%d, %d) of the file but it has only %d bytes (truncated?)", path, name, t.Begin, t.End, size)
		}
		next = t.End
	}
	if next != size {
		return nil, fmt.Errorf("safetensors: %s: %d bytes after the last tensor (data ends at %d, file has %d)", path, size-next, next, size)
	}
	return sf, nil
}

func tensorInfo(name string, value json.RawMessage, base int64) (*Info, error) {
	var e entry
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("tensor %q: bad entry: %w", name, err)
	}
	if e.DType.Size() == 0 {
		return nil, fmt.Errorf("tensor %q: unknown dtype %q", name, e.DType)
	}
	if e.Shape == nil {
		return nil, fmt.Errorf("tensor %q: no shape", name)
	}
	if len(e.Offsets) != 2 {
		return nil, fmt.Errorf("tensor %q: data_offsets has %d values, want [begin, end]", name, len(e.Offsets))
	}
	var off [2]uint64
	for i, r := range e.Offsets {
		if err := json.Unmarshal(r, &off[i]); err != nil {
			return nil, fmt.Errorf("tensor %q: data_offsets[%d] = %s is not a non-negative integer", name, i, r)
		}
	}
	if off[1] < off[0] {
		return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] end before they begin", name, off[0], off[1])
	}
	bytesWant := uint64(e.DType.Size())
	for _, d := range e.Shape {
		if d < 0 {
			return nil, fmt.Errorf("tensor %q: negative dimension in shape %v", name, e.Shape)
		}
		hi, lo := bits.Mul64(bytesWant, uint64(d))
		if hi != 0 || lo > math.MaxInt64/2 {
			return nil, fmt.Errorf("tensor %q: shape %v of %s overflows", name, e.Shape, e.DType)
		}
		bytesWant = lo
	}
	if off[1]-off[0] != bytesWant {
		return nil, fmt.Errorf("tensor %q: shape %v of %s is %d bytes but data_offsets [%d, %d] hold %d", name, e.Shape, e.DType, bytesWant, off[0], off[1], off[1]-off[0])
	}
	if off[1] > math.MaxInt64/2 {
		return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] out of range", name, off[0], off[1])
	}
	return &Info{Name: name, DType: e.DType, Shape: e.Shape, Begin: base + int64(off[0]), End: base + int64(off[1])}, nil
}

type field struct {
	key   string
	value json.RawMessage
}

// objectFields splits a JSON object into its fields, rejecting repeated keys
// (encoding/json would keep the last silently) and trailing data.
func objectFields(b []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	var out []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("unexpected %v", tok)
		}
		if seen[key] {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("value of %q: %w", key, err)
		}
		out = append(out, field{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	// Only padding may follow the object (writers pad with spaces to 8 bytes).
	rest, _ := io.ReadAll(dec.Buffered())
	off := dec.InputOffset()
	if len(bytes.TrimSpace(rest)) != 0 || len(bytes.TrimSpace(b[off:])) != 0 {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// Float32 reads the named tensor as float32 (from F32, F16, BF16 or F64),
// checking that its shape equals want (nil: any shape).
func (s *File) Float32(name string, want []int64) ([]float32, error) {
	t := s.tensors[name]
	if t == nil {
		return nil, fmt.Errorf("safetensors: %s: no tensor %q", s.Path, name)
	}
	if want != nil && !equalShape(t.Shape, want) {
		return nil, fmt.Errorf("safetensors: %s: tensor %q has shape %v, the config expects %v", s.Path, name, t.Shape, want)
	}
	raw := make([]byte, t.End-t.Begin)
	if _, err := s.f.ReadAt(raw, t.Begin); err != nil {
		return nil, fmt.Errorf("safetensors: %s: read tensor %q: %w", s.Path, name, err)
	}
	n := int(t.NumElements())
	out := make([]float32, n)
	switch t.DType {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	case "F16":
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	default:
		return nil, fmt.Errorf("safetensors: %s: tensor %q is %s, want a floating-point type (F32, F16, BF16, F64)", s.Path, name, t.DType)
	}
	return out, nil
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// halfToFloat converts an IEEE 754 binary16 value exactly.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(mant) / (1 << 24) // subnormal: mant × 2^-24
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
