package tokenizer

import "unicode/utf8"

// rangeTable is a sorted list of inclusive [lo, hi] scalar-value ranges, as
// pairs. The generated tables in unicode_tables.go use it.
type rangeTable []rune

// has reports whether r lies in one of t's ranges.
func (t rangeTable) has(r rune) bool {
	n := len(t) / 2
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r > t[2*m+1] {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < n && r >= t[2*lo]
}

// lowerEntry is one Lowercase mapping: from lowers to the string to.
type lowerEntry struct {
	from rune
	to   string
}

// lowerOf returns r's lowercase as the reference maps it (char::to_lowercase):
// one rune in the common case, else "" and the full string.
func lowerOf(r rune) (rune, string) {
	if r < 0x80 {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r, ""
	}
	lo, hi := 0, len(lowerTable)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if lowerTable[m].from < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(lowerTable) && lowerTable[lo].from == r {
		to := lowerTable[lo].to
		if c, n := utf8.DecodeRuneInString(to); n == len(to) {
			return c, ""
		}
		return -1, to
	}
	return r, ""
}

// Character classes for ASCII, from the same generated tables.
const (
	clsSpace uint8 = 1 << iota
	clsPunct
	clsWord
	clsNumeric
)

// asciiClass holds the classes of the 128 ASCII bytes; computed once from
// the generated tables and never written afterwards.
var asciiClass = func() (t [128]uint8) {
	for c := rune(0); c < 128; c++ {
		if spaceTable.has(c) {
			t[c] |= clsSpace
		}
		if punctTable.has(c) {
			t[c] |= clsPunct
		}
		if wordTable.has(c) {
			t[c] |= clsWord
		}
		if numericTable.has(c) {
			t[c] |= clsNumeric
		}
	}
	return t
}()

func isSpace(r rune) bool {
	if r < 0x80 {
		return asciiClass[r]&clsSpace != 0
	}
	return spaceTable.has(r)
}

func isPunct(r rune) bool {
	if r < 0x80 {
		return asciiClass[r]&clsPunct != 0
	}
	return punctTable.has(r)
}

func isWord(r rune) bool {
	if r < 0x80 {
		return asciiClass[r]&clsWord != 0
	}
	return wordTable.has(r)
}

func isNumeric(r rune) bool {
	if r < 0x80 {
		return asciiClass[r]&clsNumeric != 0
	}
	return numericTable.has(r)
}

// isChineseChar is BertNormalizer's CJK test (code point blocks, as in the
// reference).
func isChineseChar(c rune) bool {
	switch {
	case c >= 0x4E00 && c <= 0x9FFF, c >= 0x3400 && c <= 0x4DBF,
		c >= 0x20000 && c <= 0x2A6DF, c >= 0x2A700 && c <= 0x2B73F,
		c >= 0x2B740 && c <= 0x2B81F, c >= 0x2B920 && c <= 0x2CEAF,
		c >= 0xF900 && c <= 0xFAFF, c >= 0x2F800 && c <= 0x2FA1F:
		return true
	}
	return false
}
