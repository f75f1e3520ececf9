package tokenizer

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// fileJSON is the part of tokenizer.json the tokenizer reads. padding and
// decoder are ignored: encodings come back unpadded (models.Batch pads) and
// decoding is not offered.
type fileJSON struct {
	Truncation    json.RawMessage `json:"truncation"`
	AddedTokens   []addedJSON     `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	Model         json.RawMessage `json:"model"`
	PostProcessor json.RawMessage `json:"post_processor"`
}

type addedJSON struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

// typeOf returns the "type" field of a component object.
func typeOf(raw json.RawMessage, where string) (string, error) {
	var t struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	if t.Type == nil {
		return "", nil
	}
	return *t.Type, nil
}

func unsupported(where, what string) error {
	return fmt.Errorf("%s: unsupported %s", where, what)
}

func parseNormalizer(raw json.RawMessage, where string, steps []normStep) ([]normStep, error) {
	typ, err := typeOf(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "BertNormalizer":
		var c struct {
			CleanText          *bool `json:"clean_text"`
			HandleChineseChars *bool `json:"handle_chinese_chars"`
			StripAccents       *bool `json:"strip_accents"`
			Lowercase          *bool `json:"lowercase"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (BertNormalizer): %w", where, err)
		}
		def := func(p *bool) bool { return p == nil || *p }
		lower := def(c.Lowercase)
		strip := lower // strip_accents null follows lowercase
		if c.StripAccents != nil {
			strip = *c.StripAccents
		}
		if def(c.CleanText) {
			steps = append(steps, cleanStep{})
		}
		if def(c.HandleChineseChars) {
			steps = append(steps, chineseStep{})
		}
		if strip {
			steps = append(steps, formStep{norm.NFD, nfdInertTable}, filterStep{bertMnTable})
		}
		if lower {
			steps = append(steps, lowerStep{})
		}
	case "Sequence":
		var c struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (Sequence): %w", where, err)
		}
		for i, n := range c.Normalizers {
			if steps, err = parseNormalizer(n, fmt.Sprintf("%s.normalizers[%d]", where, i), steps); err != nil {
				return nil, err
			}
		}
	case "NFC":
		steps = append(steps, formStep{norm.NFC, nfcInertTable})
	case "NFD":
		steps = append(steps, formStep{norm.NFD, nfdInertTable})
	case "NFKC":
		steps = append(steps, formStep{norm.NFKC, nfkcInertTable})
	case "NFKD":
		steps = append(steps, formStep{norm.NFKD, nfkdInertTable})
	case "Lowercase":
		steps = append(steps, lowerStep{})
	case "StripAccents":
		steps = append(steps, filterStep{stripMarkTable})
	case "Strip":
		var c struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (Strip): %w", where, err)
		}
		steps = append(steps, stripStep{c.Left, c.Right})
	case "Prepend":
		var c struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (Prepend): %w", where, err)
		}
		steps = append(steps, prependStep{[]rune(c.Prepend)})
	case "Replace":
		var c struct {
			Pattern struct {
				String *string `json:"String"`
				Regex  *string `json:"Regex"`
			} `json:"pattern"`
			Content string `json:"content"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (Replace): %w", where, err)
		}
		if c.Pattern.String != nil && c.Pattern.Regex == nil {
			steps = append(steps, replaceStep{[]rune(*c.Pattern.String), []rune(c.Content)})
			break
		}
		p, err := newPattern(c.Pattern.String, c.Pattern.Regex, where+".pattern")
		if err != nil {
			return nil, err
		}
		steps = append(steps, regexReplaceStep{p, []rune(c.Content)})
	case "Precompiled":
		var c struct {
			Charsmap *string `json:"precompiled_charsmap"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (Precompiled): %w", where, err)
		}
		if c.Charsmap == nil {
			return nil, fmt.Errorf("%s.precompiled_charsmap: missing", where)
		}
		if *c.Charsmap == "" {
			break // the reference treats an empty charsmap as no normalization
		}
		p, err := parsePrecompiled(*c.Charsmap, where)
		if err != nil {
			return nil, err
		}
		steps = append(steps, p)
	case "":
		return nil, fmt.Errorf("%s: normalizer without a \"type\"", where)
	default:
		return nil, unsupported(where, fmt.Sprintf("normalizer %q", typ))
	}
	return steps, nil
}

func parseBehavior(s, where string) (behavior, error) {
	switch s {
	case "Removed":
		return removed, nil
	case "", "Isolated":
		return isolated, nil
	case "MergedWithPrevious":
		return mergedWithPrevious, nil
	case "MergedWithNext":
		return mergedWithNext, nil
	case "Contiguous":
		return contiguous, nil
	}
	return 0, unsupported(where+".behavior", fmt.Sprintf("split behavior %q", s))
}

func parsePreTokenizer(raw json.RawMessage, where string, steps []preStep) ([]preStep, error) {
	typ, err := typeOf(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "BertPreTokenizer":
		steps = append(steps, bertPre{})
	case "Whitespace":
		steps = append(steps, whitespacePre{})
	case "WhitespaceSplit":
		steps = append(steps, charSplit{isSpace, removed})
	case "Punctuation":
		var c struct {
			Behavior string `json:"behavior"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (Punctuation): %w", where, err)
		}
		b, err := parseBehavior(c.Behavior, where)
		if err != nil {
			return nil, err
		}
		steps = append(steps, charSplit{isPunct, b})
	case "Digits":
		var c struct {
			Individual bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (Digits): %w", where, err)
		}
		b := contiguous
		if c.Individual {
			b = isolated
		}
		steps = append(steps, charSplit{isNumeric, b})
	case "Metaspace":
		var c struct {
			Replacement   *string `json:"replacement"`
			PrependScheme *string `json:"prepend_scheme"`
			AddPrefix     *bool   `json:"add_prefix_space"`
			Split         *bool   `json:"split"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (Metaspace): %w", where, err)
		}
		m := metaspacePre{repl: metaspace, prepend: prependAlways, split: true}
		if c.Replacement != nil {
			rs := []rune(*c.Replacement)
			if len(rs) != 1 {
				return nil, fmt.Errorf("%s.replacement: %q is not one character", where, *c.Replacement)
			}
			m.repl = rs[0]
		}
		if c.Split != nil {
			m.split = *c.Split
		}
		switch {
		case c.PrependScheme != nil:
			switch *c.PrependScheme {
			case "always":
			case "first":
				m.prepend = prependFirst
			case "never":
				m.prepend = prependNever
			default:
				return nil, unsupported(where+".prepend_scheme", fmt.Sprintf("prepend scheme %q", *c.PrependScheme))
			}
		case c.AddPrefix != nil && !*c.AddPrefix: // older files
			m.prepend = prependNever
		}
		steps = append(steps, m)
	case "ByteLevel":
		var c struct {
			AddPrefix *bool `json:"add_prefix_space"`
			UseRegex  *bool `json:"use_regex"`
			Trim      *bool `json:"trim_offsets"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (ByteLevel): %w", where, err)
		}
		def := func(p *bool) bool { return p == nil || *p }
		steps = append(steps, byteLevelPre{addPrefix: def(c.AddPrefix), useRegex: def(c.UseRegex)})
	case "Split":
		var c struct {
			Pattern struct {
				String *string `json:"String"`
				Regex  *string `json:"Regex"`
			} `json:"pattern"`
			Behavior string `json:"behavior"`
			Invert   bool   `json:"invert"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (Split): %w", where, err)
		}
		p, err := newPattern(c.Pattern.String, c.Pattern.Regex, where+".pattern")
		if err != nil {
			return nil, err
		}
		b, err := parseBehavior(c.Behavior, where)
		if err != nil {
			return nil, err
		}
		steps = append(steps, splitPre{p, b, c.Invert})
	case "Sequence":
		var c struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (Sequence): %w", where, err)
		}
		for i, p := range c.PreTokenizers {
			if steps, err = parsePreTokenizer(p, fmt.Sprintf("%s.pretokenizers[%d]", where, i), steps); err != nil {
				return nil, err
			}
		}
	case "":
		return nil, fmt.Errorf("%s: pre-tokenizer without a \"type\"", where)
	default:
		return nil, unsupported(where, fmt.Sprintf("pre-tokenizer %q", typ))
	}
	return steps, nil
}

// parseModel reads the model. Files without a "type" (older format) are
// recognised by their fields, as the reference does.
func parseModel(raw json.RawMessage) (model, error) {
	const where = "model"
	if isNull(raw) {
		return nil, fmt.Errorf("%s: missing", where)
	}
	typ, err := typeOf(raw, where)
	if err != nil {
		return nil, err
	}
	var c struct {
		UnkToken     *string         `json:"unk_token"`
		UnkID        *int            `json:"unk_id"`
		Prefix       *string         `json:"continuing_subword_prefix"`
		MaxChars     *int            `json:"max_input_chars_per_word"`
		Vocab        json.RawMessage `json:"vocab"`
		Merges       json.RawMessage `json:"merges"`
		EndOfWordSfx *string         `json:"end_of_word_suffix"`
		Dropout      *float64        `json:"dropout"`
		FuseUnk      bool            `json:"fuse_unk"`
		ByteFallback bool            `json:"byte_fallback"`
		IgnoreMerges bool            `json:"ignore_merges"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if typ == "" {
		switch {
		case c.Merges != nil:
			typ = "BPE"
		case strings.HasPrefix(strings.TrimSpace(string(c.Vocab)), "["):
			typ = "Unigram"
		case c.Prefix != nil || c.MaxChars != nil:
			typ = "WordPiece"
		default:
			typ = "WordLevel"
		}
	}
	switch typ {
	case "WordPiece":
		var vocab map[string]int64
		if err := json.Unmarshal(c.Vocab, &vocab); err != nil {
			return nil, fmt.Errorf("%s.vocab: %w", where, err)
		}
		if len(vocab) == 0 {
			return nil, fmt.Errorf("%s.vocab: empty", where)
		}
		unk, prefix, maxChars := "[UNK]", "##", 100
		if c.UnkToken != nil {
			unk = *c.UnkToken
		}
		if c.Prefix != nil {
			prefix = *c.Prefix
		}
		if c.MaxChars != nil {
			maxChars = *c.MaxChars
		}
		return newWordPiece(vocab, unk, prefix, maxChars)
	case "Unigram":
		pieces, scores, ok := parseUnigramVocab(c.Vocab)
		if !ok {
			var rawVocab [][2]json.RawMessage
			if err := json.Unmarshal(c.Vocab, &rawVocab); err != nil {
				return nil, fmt.Errorf("%s.vocab: %w", where, err)
			}
			pieces = make([]string, len(rawVocab))
			scores = make([]float64, len(rawVocab))
			for i, v := range rawVocab {
				if err := json.Unmarshal(v[0], &pieces[i]); err != nil {
					return nil, fmt.Errorf("%s.vocab[%d][0]: %w", where, i, err)
				}
				if err := json.Unmarshal(v[1], &scores[i]); err != nil {
					return nil, fmt.Errorf("%s.vocab[%d][1]: %w", where, i, err)
				}
			}
		}
		unk := -1
		if c.UnkID != nil {
			if *c.UnkID < 0 {
				return nil, fmt.Errorf("%s.unk_id: %d is negative", where, *c.UnkID)
			}
			unk = *c.UnkID
		}
		return newUnigram(pieces, scores, unk, c.ByteFallback)
	case "BPE":
		if c.Dropout != nil && *c.Dropout != 0 {
			return nil, unsupported(where+".dropout", fmt.Sprintf("BPE dropout %v (only null: encodings would be random)", *c.Dropout))
		}
		var vocab map[string]int64
		if err := json.Unmarshal(c.Vocab, &vocab); err != nil {
			return nil, fmt.Errorf("%s.vocab: %w", where, err)
		}
		merges, err := parseMerges(c.Merges, where+".merges")
		if err != nil {
			return nil, err
		}
		return newBPE(vocab, merges, c.UnkToken, c.Prefix, c.EndOfWordSfx, c.ByteFallback, c.FuseUnk, c.IgnoreMerges)
	case "WordLevel":
		var vocab map[string]int64
		if err := json.Unmarshal(c.Vocab, &vocab); err != nil {
			return nil, fmt.Errorf("%s.vocab: %w", where, err)
		}
		unk := "<unk>"
		if c.UnkToken != nil {
			unk = *c.UnkToken
		}
		return newWordLevel(vocab, unk)
	}
	return nil, unsupported(where, fmt.Sprintf("model %q", typ))
}

// parseMerges reads BPE merges, as "a b" strings or ["a", "b"] pairs.
func parseMerges(raw json.RawMessage, where string) ([][2]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	out := make([][2]string, len(items))
	for i, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			a, b, ok := strings.Cut(s, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, fmt.Errorf("%s[%d]: %q is not two tokens separated by a space", where, i, s)
			}
			out[i] = [2]string{a, b}
			continue
		}
		var p []string
		if err := json.Unmarshal(it, &p); err != nil || len(p) != 2 {
			return nil, fmt.Errorf("%s[%d]: want \"a b\" or [\"a\", \"b\"]", where, i)
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

func parseTruncation(raw json.RawMessage) (Truncation, error) {
	const where = "truncation"
	if isNull(raw) {
		return Truncation{}, nil
	}
	var c struct {
		Direction string `json:"direction"`
		MaxLength int    `json:"max_length"`
		Strategy  string `json:"strategy"`
		Stride    int    `json:"stride"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return Truncation{}, fmt.Errorf("%s: %w", where, err)
	}
	t := Truncation{MaxLength: c.MaxLength}
	switch c.Strategy {
	case "", "LongestFirst":
		t.Strategy = LongestFirst
	case "OnlyFirst":
		t.Strategy = OnlyFirst
	case "OnlySecond":
		t.Strategy = OnlySecond
	default:
		return Truncation{}, unsupported(where+".strategy", fmt.Sprintf("strategy %q", c.Strategy))
	}
	switch c.Direction {
	case "", "Right":
		t.Direction = Right
	case "Left":
		t.Direction = Left
	default:
		return Truncation{}, unsupported(where+".direction", fmt.Sprintf("direction %q", c.Direction))
	}
	if t.MaxLength < 0 || t.MaxLength > math.MaxInt32 {
		return Truncation{}, fmt.Errorf("%s.max_length: %d out of range", where, t.MaxLength)
	}
	return t, nil
}

// parsePostProcessor reads BertProcessing, RobertaProcessing,
// TemplateProcessing, ByteLevel, or a Sequence of them, into a template
// and the offset trimmings applied before it.
func parsePostProcessor(raw json.RawMessage) (*template, []trimPass, error) {
	var trims []trimPass
	tpl, err := parsePost(raw, "post_processor", &trims)
	return tpl, trims, err
}

func parsePost(raw json.RawMessage, where string, trims *[]trimPass) (*template, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := typeOf(raw, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var c struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (Sequence): %w", where, err)
		}
		var tpl *template
		for i, p := range c.Processors {
			w := fmt.Sprintf("%s.processors[%d]", where, i)
			t, err := parsePost(p, w, trims)
			if err != nil {
				return nil, err
			}
			if t != nil {
				if tpl != nil {
					return nil, unsupported(w, "second processor adding special tokens")
				}
				tpl = t
			} else if tpl != nil {
				return nil, unsupported(w, "ByteLevel offset trimming after special tokens were added")
			}
		}
		return tpl, nil
	case "ByteLevel":
		var c struct {
			AddPrefix *bool `json:"add_prefix_space"`
			Trim      *bool `json:"trim_offsets"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (ByteLevel): %w", where, err)
		}
		if c.Trim == nil || *c.Trim {
			*trims = append(*trims, trimPass{addPrefix: c.AddPrefix == nil || *c.AddPrefix})
		}
		return nil, nil
	case "RobertaProcessing":
		var c struct {
			Sep       [2]json.RawMessage `json:"sep"`
			Cls       [2]json.RawMessage `json:"cls"`
			Trim      *bool              `json:"trim_offsets"`
			AddPrefix *bool              `json:"add_prefix_space"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (RobertaProcessing): %w", where, err)
		}
		var sepID, clsID int64
		if err := json.Unmarshal(c.Sep[1], &sepID); err != nil {
			return nil, fmt.Errorf("%s.sep: %w", where, err)
		}
		if err := json.Unmarshal(c.Cls[1], &clsID); err != nil {
			return nil, fmt.Errorf("%s.cls: %w", where, err)
		}
		if c.Trim == nil || *c.Trim {
			*trims = append(*trims, trimPass{addPrefix: c.AddPrefix == nil || *c.AddPrefix})
		}
		cls := piece{ids: []int64{clsID}}
		sep := piece{ids: []int64{sepID}}
		// every type id is 0, as RoBERTa has a single token type
		return &template{
			single:  []piece{cls, {seq: seqA}, sep},
			pair:    []piece{cls, {seq: seqA}, sep, sep, {seq: seqB}, sep},
			hasPair: true,
			nSingle: 2,
			nPair:   4,
		}, nil
	case "BertProcessing":
		var c struct {
			Sep [2]json.RawMessage `json:"sep"`
			Cls [2]json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (BertProcessing): %w", where, err)
		}
		var sepID, clsID int64
		if err := json.Unmarshal(c.Sep[1], &sepID); err != nil {
			return nil, fmt.Errorf("%s.sep: %w", where, err)
		}
		if err := json.Unmarshal(c.Cls[1], &clsID); err != nil {
			return nil, fmt.Errorf("%s.cls: %w", where, err)
		}
		cls := piece{ids: []int64{clsID}}
		sep := piece{ids: []int64{sepID}}
		sep1 := sep
		sep1.typeID = 1
		return &template{
			single:  []piece{cls, {seq: seqA}, sep},
			pair:    []piece{cls, {seq: seqA}, sep, {seq: seqB, typeID: 1}, sep1},
			hasPair: true,
			nSingle: 2,
			nPair:   3,
		}, nil
	case "TemplateProcessing":
		var c struct {
			Single        []json.RawMessage `json:"single"`
			Pair          []json.RawMessage `json:"pair"`
			SpecialTokens map[string]struct {
				ID  string  `json:"id"`
				IDs []int64 `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("%s (TemplateProcessing): %w", where, err)
		}
		specials := map[string][]int64{}
		for k, v := range c.SpecialTokens {
			specials[k] = v.IDs
		}
		t := &template{hasPair: c.Pair != nil}
		var err error
		if t.single, t.nSingle, err = parseTemplate(c.Single, specials, where+".single"); err != nil {
			return nil, err
		}
		if t.pair, t.nPair, err = parseTemplate(c.Pair, specials, where+".pair"); err != nil {
			return nil, err
		}
		return t, nil
	case "":
		return nil, fmt.Errorf("%s: post-processor without a \"type\"", where)
	default:
		return nil, unsupported(where, fmt.Sprintf("post-processor %q", typ))
	}
}

func parseTemplate(raw []json.RawMessage, specials map[string][]int64, where string) ([]piece, int, error) {
	var out []piece
	n := 0
	for i, r := range raw {
		w := fmt.Sprintf("%s[%d]", where, i)
		var p piece
		var s string
		if json.Unmarshal(r, &s) == nil { // "$A:0" / "[CLS]:0" string form
			var err error
			if p, err = parsePieceString(s, specials, w); err != nil {
				return nil, 0, err
			}
		} else {
			var o struct {
				Special *struct {
					ID     string `json:"id"`
					TypeID int64  `json:"type_id"`
				} `json:"SpecialToken"`
				Sequence *struct {
					ID     string `json:"id"`
					TypeID int64  `json:"type_id"`
				} `json:"Sequence"`
			}
			if err := json.Unmarshal(r, &o); err != nil {
				return nil, 0, fmt.Errorf("%s: %w", w, err)
			}
			switch {
			case o.Special != nil:
				ids, ok := specials[o.Special.ID]
				if !ok {
					return nil, 0, fmt.Errorf("%s: special token %q missing from special_tokens", w, o.Special.ID)
				}
				p = piece{ids: ids, typeID: o.Special.TypeID}
			case o.Sequence != nil:
				switch o.Sequence.ID {
				case "A":
					p = piece{seq: seqA, typeID: o.Sequence.TypeID}
				case "B":
					p = piece{seq: seqB, typeID: o.Sequence.TypeID}
				default:
					return nil, 0, fmt.Errorf("%s: sequence id %q is neither A nor B", w, o.Sequence.ID)
				}
			default:
				return nil, 0, fmt.Errorf("%s: neither SpecialToken nor Sequence", w)
			}
		}
		n += len(p.ids)
		out = append(out, p)
	}
	return out, n, nil
}

func parsePieceString(s string, specials map[string][]int64, where string) (piece, error) {
	name, typeID := s, int64(0)
	if i := strings.LastIndexByte(s, ':'); i > 0 {
		var t int64
		if _, err := fmt.Sscanf(s[i+1:], "%d", &t); err == nil {
			name, typeID = s[:i], t
		}
	}
	if strings.HasPrefix(name, "$") {
		switch rest := name[1:]; rest {
		case "", "A", "a":
			return piece{seq: seqA, typeID: typeID}, nil
		case "B", "b":
			return piece{seq: seqB, typeID: typeID}, nil
		default:
			var t int64
			if _, err := fmt.Sscanf(rest, "%d", &t); err == nil {
				return piece{seq: seqA, typeID: t}, nil
			}
			return piece{}, fmt.Errorf("%s: cannot parse template piece %q", where, s)
		}
	}
	ids, ok := specials[name]
	if !ok {
		return piece{}, fmt.Errorf("%s: special token %q missing from special_tokens", where, name)
	}
	return piece{ids: ids, typeID: typeID}, nil
}

// parseAdded builds the added vocabulary; normalized tokens are matched
// after normalization, so their patterns are normalized here. As in the
// reference, the file's ids are not used: a token in the model's vocabulary
// gets its id there, any other the next id after the vocabulary (and after
// the added tokens before it).
func parseAdded(list []addedJSON, n *normalizer, m model) (*addedVocab, error) {
	av := &addedVocab{byID: map[int32]string{}}
	size := m.vocabSize()
	ids := map[string]int32{}
	maxID := int32(-1)
	for i, a := range list {
		if a.Content == "" {
			return nil, fmt.Errorf("added_tokens[%d]: empty content", i)
		}
		id, ok := ids[a.Content]
		if !ok {
			if id, ok = m.tokenID(a.Content); !ok {
				id = int32(size)
				if maxID >= int32(size) {
					id = maxID + 1
				}
			}
			ids[a.Content] = id
			maxID = max(maxID, id)
		}
		av.byID[id] = a.Content
		t := addedToken{content: a.Content, id: id, singleWord: a.SingleWord, lstrip: a.LStrip, rstrip: a.RStrip}
		if a.Normalized {
			if n != nil {
				t.content = string(n.normalizeString(a.Content))
			}
			if t.content == "" {
				continue
			}
			av.normalized.add(t)
		} else {
			av.raw.add(t)
		}
	}
	av.raw.finish()
	av.normalized.finish()
	return av, nil
}

// sortPatterns orders candidates longest first.
func sortPatterns(p []addedToken) {
	sort.SliceStable(p, func(i, j int) bool { return len(p[i].content) > len(p[j].content) })
}
