package swar

import "testing"

func TestMasks(t *testing.T) {
	cases := []struct {
		in      string
		rep     byte
		eq, ctl uint64
	}{
		{"abcdefgh", ' ', 0, 0},
		{"a b c d ", ' ', 0x8000800080008000, 0},
		{"\tx\ny\rz\x00 ", ' ', 0x8000000000000000, 0x0080008000800080},
		{"\xc2\xa0\xc2\xa0abcd", 0xC2, 0x0000000000800080, 0},
		{"\x7f\x80\xff\x1f    ", ' ', 0x8080808000000000, 0x0000000080000000},
	}
	for _, c := range cases {
		b := []byte(c.in)
		x := Load64(b, 0)
		if got := EqMask(x, uint64(c.rep)*0x0101010101010101); got != c.eq {
			t.Errorf("EqMask(%q, %q) = %#x, want %#x", c.in, c.rep, got, c.eq)
		}
		if got := CtlMask(x); got != c.ctl {
			t.Errorf("CtlMask(%q) = %#x, want %#x", c.in, got, c.ctl)
		}
		out := make([]byte, 8)
		Store64(out, 0, x)
		if string(out) != c.in {
			t.Errorf("Store64(Load64(%q)) = %q", c.in, out)
		}
	}
}
