package tokenizer

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzEncodePair: any input encodes without panicking; with BERT's template
// the result starts with [CLS], has [SEP] closing each part, respects the
// maximum length, and its type IDs are 0s then 1s. The batch encoder
// agrees with EncodePair.
func FuzzEncodePair(f *testing.F) {
	for _, s := range [][2]string{
		{"what is the capital of france?", "Paris is the capital and largest city of France."},
		{"", ""},
		{"[CLS] [SEP]", "[SEP][PAD]"},
		{"naïve café 東京 👨‍👩‍👧‍👦", "e\u0301\u200b\u00a0x"},
		{"\xff\xfe", "abc\xc3"},
	} {
		f.Add(s[0], s[1], uint8(16), false)
		f.Add(s[0], s[1], uint8(5), true)
	}
	tok := bert(f)
	f.Fuzz(func(t *testing.T, q, p string, maxLen uint8, left bool) {
		tr := Truncation{MaxLength: 3 + int(maxLen%125), Strategy: LongestFirst}
		if left {
			tr.Direction = Left
		}
		tk := tok.WithTruncation(tr)
		e, err := tk.EncodePair(q, p)
		if err != nil {
			t.Fatalf("EncodePair(%q, %q) with %+v: %v", q, p, tr, err)
		}
		n := len(e.IDs)
		if n > tr.MaxLength || n < 3 || len(e.TypeIDs) != n || len(e.AttentionMask) != n || len(e.Offsets) != n {
			t.Fatalf("lengths ids %d types %d mask %d offsets %d, max %d", n, len(e.TypeIDs), len(e.AttentionMask), len(e.Offsets), tr.MaxLength)
		}
		if e.IDs[0] != 101 || e.IDs[n-1] != 102 {
			t.Fatalf("ids %v: want [CLS] first and [SEP] last", e.IDs)
		}
		first := slices.Index(e.TypeIDs, 1)
		if first < 2 || e.IDs[first-1] != 102 {
			t.Fatalf("type ids %v ids %v: want [SEP] just before the first type-1 token", e.TypeIDs, e.IDs)
		}
		for i, ty := range e.TypeIDs {
			if want := int64(0); i >= first {
				want = 1
				if ty != want {
					t.Fatalf("type ids %v are not 0s then 1s", e.TypeIDs)
				}
			} else if ty != want {
				t.Fatalf("type ids %v are not 0s then 1s", e.TypeIDs)
			}
			if e.AttentionMask[i] != 1 {
				t.Fatalf("mask %v", e.AttentionMask)
			}
			text := q
			if i >= first {
				text = p
			}
			if o := e.Offsets[i]; o[0] < 0 || o[0] > o[1] || o[1] > len(text) {
				t.Fatalf("offset %v of token %d outside its text (%d bytes)", o, i, len(text))
			}
		}
		encs, err := tk.NewBatchEncoder().EncodePairs(q, []string{p})
		if err != nil || !slices.Equal(encs[0].IDs, e.IDs) || !slices.Equal(encs[0].TypeIDs, e.TypeIDs) {
			t.Fatalf("batch encoder: %v, %v; EncodePair: %v", encs, err, e.IDs)
		}
		if c := tok.CountTokens(q); c < 0 {
			t.Fatalf("CountTokens = %d", c)
		}
	})
}

// FuzzConfigs runs every test configuration (normalization forms, Replace,
// Strip, Prepend, split behaviours, added tokens) on arbitrary input: no
// panic, offsets inside the text, the batch encoder agreeing.
func FuzzConfigs(f *testing.F) {
	f.Add("naïve café ﬁnance Ǆ ½ e\u0301\u0326 한국어 '' <ent> new york ⅲ", "x")
	f.Add("\xff[CLS]\u0345\u0336\u032e", "")
	names := []string{"cased", "contiguous", "labse", "nfc_whitespace", "nfd_merged_next", "nfkc_digits", "no_normalizer", "removed_strip", "seq_nfkd", "strip_nolower"}
	var toks []*Tokenizer
	for _, n := range names {
		tok, err := FromBytes(configJSON(f, n))
		if err != nil {
			f.Fatalf("%s: %v", n, err)
		}
		toks = append(toks, tok.WithTruncation(Truncation{}))
	}
	f.Fuzz(func(t *testing.T, q, p string) {
		for i, tok := range toks {
			e, err := tok.EncodePair(q, p)
			if err != nil {
				continue // e.g. labse's vocabulary has no [UNK]: an error, as in the reference
			}
			for k, o := range e.Offsets {
				if o[0] < 0 || o[0] > o[1] || o[1] > max(len(q), len(p)) {
					t.Fatalf("%s: offset %v of token %d outside the text", names[i], o, k)
				}
			}
			encs, err := tok.NewBatchEncoder().EncodePairs(q, []string{p})
			if err != nil || !slices.Equal(encs[0].IDs, e.IDs) {
				t.Fatalf("%s: batch encoder %v, %v; EncodePair %v", names[i], encs, err, e.IDs)
			}
		}
	})
}

// fuzzFamily runs the family configurations of one model type on arbitrary
// input: no panic, errors only where the reference has them too (none of
// these configurations can fail without truncation), offsets inside the
// text they index, ids inside the vocabulary, and the batch encoder
// agreeing with EncodePair.
func fuzzFamily(f *testing.F, names ...string) {
	f.Add("naïve café ﬁnance Ǆ ½ e\u0301\u0326 한국어 '' <mask> [MASK] ▁▁ it's 👨‍👩‍👧‍👦", "x  y\r\n")
	f.Add("\xff<s>\u0345\u0336\u032e\u200d", "")
	f.Add("   ", "\u3000\u00a0\t")
	f.Add("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "<0x41><unk></s>")
	var toks []*Tokenizer
	for _, n := range names {
		tok, err := FromBytes(familyConfigJSON(f, n))
		if err != nil {
			f.Fatalf("%s: %v", n, err)
		}
		toks = append(toks, tok.WithTruncation(Truncation{}))
	}
	f.Fuzz(func(t *testing.T, q, p string) {
		for i, tok := range toks {
			e, seqs, err := tok.encodeTracked(q, &p)
			if err != nil {
				t.Fatalf("%s: %v", names[i], err)
			}
			for k, o := range e.Offsets {
				text := q
				if seqs[k] == 2 {
					text = p
				}
				if o[0] < 0 || o[0] > o[1] || o[1] > len(text) {
					t.Fatalf("%s: offset %v of token %d outside its text (%d bytes)", names[i], o, k, len(text))
				}
				if _, ok := tok.IDToToken(e.IDs[k]); !ok {
					t.Fatalf("%s: id %d has no token", names[i], e.IDs[k])
				}
			}
			encs, err := tok.NewBatchEncoder().EncodePairs(q, []string{p})
			if err != nil || !slices.Equal(encs[0].IDs, e.IDs) || !slices.Equal(encs[0].Offsets, e.Offsets) {
				t.Fatalf("%s: batch encoder %v, %v; EncodePair %v", names[i], encs, err, e.IDs)
			}
		}
	})
}

// FuzzUnigram: the SentencePiece Unigram families (Precompiled, Metaspace,
// byte fallback).
func FuzzUnigram(f *testing.F) {
	fuzzFamily(f, "xlmr", "deberta", "xlmr_first", "xlmr_never", "deberta_punct", "xlmr_added")
}

// FuzzBPE: the byte-level BPE families and the BPE options.
func FuzzBPE(f *testing.F) {
	fuzzFamily(f, "roberta", "modernbert", "roberta_noregex", "modernbert_seq", "bpe_opts", "bpe_opts_ignore", "bpe_bytes", "bpe_bytes_nofuse")
}

// FuzzWordLevel: WordLevel and the Split pre-tokenizer.
func FuzzWordLevel(f *testing.F) {
	fuzzFamily(f, "wordlevel", "split_mergedwithnext_re_inv", "split_contiguous_str")
}

// FuzzPrecompiled: an arbitrary charsmap either fails to load or
// normalizes any text without panicking (the double-array trie's offsets
// and the replacement indexes come from the file).
func FuzzPrecompiled(f *testing.F) {
	var c struct {
		Normalizer struct {
			Normalizers []struct {
				Charsmap string `json:"precompiled_charsmap"`
			} `json:"normalizers"`
		} `json:"normalizer"`
	}
	if err := json.Unmarshal(familyConfigJSON(f, "xlmr"), &c); err != nil {
		f.Fatal(err)
	}
	real, err := base64.StdEncoding.DecodeString(c.Normalizer.Normalizers[0].Charsmap)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real[:min(len(real), 4096)], "ﬁnance ＡＢＣ e\u0301 \u200b")
	f.Add([]byte{8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 'x', 0}, "abc")
	f.Fuzz(func(t *testing.T, charsmap []byte, text string) {
		p, err := parsePrecompiled(base64.StdEncoding.EncodeToString(charsmap), "normalizer")
		if err != nil {
			return
		}
		var src []nchar
		for i := 0; i < len(text); {
			r, n := utf8.DecodeRuneInString(text[i:])
			src = append(src, nchar{r, int32(i), int32(i + n)})
			i += n
		}
		var sc stepScratch
		for _, c := range p.apply(nil, src, &sc) {
			if c.s < 0 || c.e > int32(len(text)) || c.s > c.e {
				t.Fatalf("alignment %d..%d outside the text (%d bytes)", c.s, c.e, len(text))
			}
		}
	})
}
