package abi_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/crossrank/crossrank/plugins/abi"
)

func TestRequestRoundTrip(t *testing.T) {
	items := []abi.Item{{Kind: abi.KindText, Data: []byte("héllo")}, {Kind: abi.KindJSON, Data: []byte(`{"a":1}`)}, {Kind: abi.KindText, Data: nil}}
	b := abi.AppendRequest(nil, 256, "a query", items)
	if len(b) != abi.RequestSize("a query", items) {
		t.Errorf("RequestSize %d, encoded %d", abi.RequestSize("a query", items), len(b))
	}
	var r abi.Request
	if err := abi.DecodeRequest(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.MaxTokens != 256 || string(r.Query) != "a query" || len(r.Items) != 3 {
		t.Fatalf("decoded %+v", r)
	}
	for i := range items {
		if r.Items[i].Kind != items[i].Kind || !bytes.Equal(r.Items[i].Data, items[i].Data) {
			t.Errorf("item %d: %+v, want %+v", i, r.Items[i], items[i])
		}
	}
}

func TestResponse(t *testing.T) {
	ok := abi.AppendResponse(nil, []byte("q"), []abi.Item{{Kind: abi.KindText, Data: []byte("p")}})
	cases := []struct {
		name    string
		in      []byte
		query   string
		n       int
		wantErr string
		guest   bool
	}{
		{name: "ok", in: ok, query: "q", n: 1},
		{name: "guest error", in: abi.AppendError(nil, "bad input"), wantErr: "bad input", guest: true},
		{name: "empty", in: nil, wantErr: "truncated"},
		{name: "bad status", in: []byte{7}, wantErr: "bad status"},
		{name: "truncated item", in: ok[:len(ok)-1], wantErr: "exceeds message"},
		{name: "trailing bytes", in: append(append([]byte(nil), ok...), 0), wantErr: "trailing"},
		{name: "huge count", in: []byte{0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, wantErr: "cannot fit"},
		{name: "bad kind", in: abi.AppendResponse(nil, nil, []abi.Item{{Kind: 9}}), wantErr: "bad kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, items, err := abi.DecodeResponse(c.in, nil)
			if c.wantErr == "" {
				if err != nil || string(q) != c.query || len(items) != c.n {
					t.Fatalf("got %q %v %v", q, items, err)
				}
				return
			}
			var ge *abi.GuestError
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.wantErr)) || errors.As(err, &ge) != c.guest {
				t.Fatalf("error %v, want %q (guest error: %v)", err, c.wantErr, c.guest)
			}
		})
	}
}

func TestStages(t *testing.T) {
	for _, s := range abi.Stages {
		got, err := abi.ParseStage(s.String())
		if err != nil || got != s {
			t.Errorf("%v: %v %v", s, got, err)
		}
	}
	if _, err := abi.ParseStage("rank"); err == nil {
		t.Error("unknown stage accepted")
	}
	if p, n := abi.Unpack(abi.Pack(0xdeadbeef, 42)); p != 0xdeadbeef || n != 42 {
		t.Errorf("Unpack(Pack) = %#x %d", p, n)
	}
}

func ExampleAppendRequest() {
	b := abi.AppendRequest(nil, 128, "q", []abi.Item{{Kind: abi.KindText, Data: []byte("passage")}})
	var r abi.Request
	_ = abi.DecodeRequest(b, &r)
	fmt.Println(len(b), r.MaxTokens, string(r.Query), string(r.Items[0].Data))
	// Output: 25 128 q passage
}

// TestAppendRequestSaturates: max_tokens outside an i32 saturates, never
// wraps (4294967297 used to arrive as 1).
func TestAppendRequestSaturates(t *testing.T) {
	for _, c := range []struct{ in, want int }{
		{4294967297, math.MaxInt32}, {1 << 40, math.MaxInt32}, {-1, 0}, {math.MinInt64, 0}, {512, 512}, {math.MaxInt32, math.MaxInt32},
	} {
		var r abi.Request
		if err := abi.DecodeRequest(abi.AppendRequest(nil, c.in, "q", nil), &r); err != nil {
			t.Fatal(err)
		}
		if r.MaxTokens != c.want {
			t.Errorf("max_tokens %d arrived as %d, want %d", c.in, r.MaxTokens, c.want)
		}
	}
}
