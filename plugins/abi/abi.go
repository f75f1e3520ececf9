// Package abi is the wire format between the crossrank plugin host and a
// WASM guest (see sdk/ABI.md): the names of the exports and imports, the
// stage bits, and the encoding of the request batch the host writes into the
// guest's buffer and of the response the guest returns. It is portable Go,
// used by the host (plugins/host) and by the Go SDK (sdk/go) inside guests.
package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Version is the ABI version a guest reports from ExportVersion.
const Version = 1

// Names of the guest's exports.
const (
	ExportVersion    = "crossrank_abi_version" // () -> i32
	ExportStages     = "crossrank_stages"      // () -> i32 (bit set of Stage)
	ExportBuffer     = "crossrank_buffer"      // (size i32) -> ptr i32
	ExportConfigure  = "crossrank_configure"   // (len i32) -> packed i64
	ExportRun        = "crossrank_run"         // (stage i32, len i32) -> packed i64
	ExportInitialize = "_initialize"           // optional reactor initialiser
	ExportMemory     = "memory"
)

// Names of the host's imports, all in module ImportModule.
const (
	ImportModule      = "crossrank"
	ImportCountTokens = "count_tokens" // (ptr, len i32) -> i32
	ImportWordTokens  = "word_tokens"  // (ptr, len, out_ptr, out_cap, limit i32) -> i32
	ImportTokenize    = "tokenize"     // (ptr, len, out_ptr, out_cap i32) -> i32
	ImportLog         = "log"          // (level, ptr, len i32)
)

// Stage is one kind of work a plugin does. A guest reports the stages it
// implements as a bit set from ExportStages.
type Stage uint32

// The stages, in the order the host runs them within one pipeline step.
const (
	StageQuery    Stage = 1 // rewrite the query
	StagePassage  Stage = 2 // turn each document into passage text
	StageTruncate Stage = 4 // cut each passage to a token budget
)

// Stages lists every stage in run order.
var Stages = [...]Stage{StageQuery, StagePassage, StageTruncate}

// String returns the stage's name as the CLI spells it.
func (s Stage) String() string {
	switch s {
	case StageQuery:
		return "query"
	case StagePassage:
		return "passage"
	case StageTruncate:
		return "truncate"
	}
	return fmt.Sprintf("stage(%d)", uint32(s))
}

// ParseStage reads a stage name.
func ParseStage(name string) (Stage, error) {
	for _, s := range Stages {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("abi: unknown stage %q (want query, passage or truncate)", name)
}

// Kind says what an item's bytes are.
type Kind uint8

// Item kinds.
const (
	KindText Kind = 0 // UTF-8 text
	KindJSON Kind = 1 // a JSON value (object, array, number...) as sent by the client
)

// Item is one document or passage in a batch.
type Item struct {
	Kind Kind
	Data []byte
}

// Status is the first byte of every response.
const (
	StatusOK    = 0
	StatusError = 1
)

// Log levels for ImportLog.
const (
	LogDebug = 0
	LogInfo  = 1
	LogWarn  = 2
	LogError = 3
)

// Pack joins a guest pointer and length into the i64 that ExportRun and
// ExportConfigure return.
func Pack(ptr, n uint32) uint64 { return uint64(ptr)<<32 | uint64(n) }

// Unpack splits a packed result.
func Unpack(v uint64) (ptr, n uint32) { return uint32(v >> 32), uint32(v) }

// RequestSize is the encoded size of a request.
func RequestSize(query string, items []Item) int {
	n := 12 + len(query)
	for _, it := range items {
		n += 5 + len(it.Data)
	}
	return n
}

// AppendRequest encodes a request batch:
//
//	u32 max_tokens | u32 qlen | query | u32 n | n × (u8 kind | u32 len | bytes)
//
// all integers little-endian. max_tokens is an i32 for the guests: the
// caller range-checks it (the host answers a request outside [0, MaxInt32]
// with an error); a value outside saturates, it never wraps.
func AppendRequest(b []byte, maxTokens int, query string, items []Item) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(min(max(maxTokens, 0), math.MaxInt32)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(query)))
	b = append(b, query...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(items)))
	for _, it := range items {
		b = append(b, byte(it.Kind))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(it.Data)))
		b = append(b, it.Data...)
	}
	return b
}

// Request is a decoded request batch. Query and Items alias the decoded bytes.
type Request struct {
	MaxTokens int
	Query     []byte
	Items     []Item
}

// ErrShort reports a truncated message.
var ErrShort = errors.New("abi: message truncated")

// DecodeRequest decodes a request, reusing r.Items' backing array.
func DecodeRequest(b []byte, r *Request) error {
	if len(b) < 4 {
		return ErrShort
	}
	r.MaxTokens = int(binary.LittleEndian.Uint32(b))
	q, items, err := decodeBody(b[4:], r.Items[:0])
	r.Query, r.Items = q, items
	return err
}

// AppendResponse encodes a successful response:
//
//	u8 0 | u32 qlen | query | u32 n | n × (u8 kind | u32 len | bytes)
func AppendResponse(b []byte, query []byte, items []Item) []byte {
	b = append(b, StatusOK)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(query)))
	b = append(b, query...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(items)))
	for _, it := range items {
		b = append(b, byte(it.Kind))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(it.Data)))
		b = append(b, it.Data...)
	}
	return b
}

// AppendError encodes an error response: u8 1 | UTF-8 message.
func AppendError(b []byte, msg string) []byte {
	b = append(b, StatusError)
	return append(b, msg...)
}

// GuestError is an error a guest reported in a StatusError response.
type GuestError struct{ Msg string }

func (e *GuestError) Error() string { return e.Msg }

// DecodeResponse decodes a response. A StatusError response yields a
// *GuestError; anything that does not follow the format yields another error.
// query and items alias b.
func DecodeResponse(b []byte, items []Item) (query []byte, out []Item, err error) {
	if len(b) < 1 {
		return nil, items[:0], ErrShort
	}
	switch b[0] {
	case StatusOK:
		return decodeBody(b[1:], items[:0])
	case StatusError:
		return nil, items[:0], &GuestError{Msg: string(b[1:])}
	}
	return nil, items[:0], fmt.Errorf("abi: bad status byte %d", b[0])
}

func decodeBody(b []byte, items []Item) ([]byte, []Item, error) {
	if len(b) < 4 {
		return nil, items, ErrShort
	}
	ql := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(ql) > uint64(len(b)) {
		return nil, items, fmt.Errorf("abi: query length %d exceeds message", ql)
	}
	q := b[:ql:ql]
	b = b[ql:]
	if len(b) < 4 {
		return q, items, ErrShort
	}
	n := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if uint64(n)*5 > uint64(len(b)) {
		return q, items, fmt.Errorf("abi: %d items cannot fit in %d bytes", n, len(b))
	}
	for i := uint32(0); i < n; i++ {
		if len(b) < 5 {
			return q, items, ErrShort
		}
		k := Kind(b[0])
		if k != KindText && k != KindJSON {
			return q, items, fmt.Errorf("abi: item %d has bad kind %d", i, k)
		}
		l := binary.LittleEndian.Uint32(b[1:])
		b = b[5:]
		if uint64(l) > uint64(len(b)) {
			return q, items, fmt.Errorf("abi: item %d length %d exceeds message", i, l)
		}
		items = append(items, Item{Kind: k, Data: b[:l:l]})
		b = b[l:]
	}
	if len(b) != 0 {
		return q, items, fmt.Errorf("abi: %d trailing bytes", len(b))
	}
	return q, items, nil
}
