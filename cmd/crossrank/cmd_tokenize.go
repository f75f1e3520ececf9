package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/crossrank/crossrank/models/tokenizer"
)

func newTokenizeCmd() *cobra.Command {
	var (
		path, dir, strategy, direction string
		maxLength                      int
		jsonl, tokens                  bool
	)
	c := &cobra.Command{
		Use:   "tokenize (--tokenizer FILE | --model DIR) [TEXT [PAIR]]",
		Short: "Encode a text or a (query, passage) pair with a tokenizer.json",
		Long: `tokenize encodes TEXT (and PAIR, as the second sequence) with a Hugging Face
tokenizer.json, exactly as the Hugging Face tokenizers library does, and
prints {"ids", "type_ids", "offsets"} as JSON (offsets are byte ranges).

Any tokenizer.json of the WordPiece (BERT), SentencePiece Unigram (XLM-R,
DeBERTa-v3), byte-level BPE (RoBERTa, ModernBERT) and WordLevel families
loads; --model DIR reads DIR/tokenizer.json. --tokens adds each token's
string ("tokens").

Truncation is the file's own "truncation" block, else model_max_length from
the tokenizer_config.json beside it, unless --max-length, --truncation or
--direction change it; --max-length 0 turns it off.

With --jsonl it reads lines {"text": "...", "pair": "..."} ("pair" optional)
from stdin and writes one line {"ids": [...], "type_ids": [...]} per input,
in order; an input that cannot be encoded gets {"error": "..."} on its line.

Example:
  crossrank tokenize --tokenizer internal/assets/bert-base-uncased.json --max-length 128 "what is bm25?" "BM25 is a ranking function."`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case path == "" && dir == "":
				return fmt.Errorf("tokenize: --tokenizer FILE or --model DIR is required")
			case path != "" && dir != "":
				return fmt.Errorf("tokenize: --tokenizer and --model are exclusive")
			case dir != "":
				path = filepath.Join(dir, "tokenizer.json")
			}
			tok, err := tokenizer.Load(path)
			if err != nil {
				return fmt.Errorf("tokenize: %w", err)
			}
			tr := tok.Truncation()
			if tr.MaxLength == 0 {
				tr.MaxLength = tok.ModelMaxLength()
			}
			f := cmd.Flags()
			if f.Changed("max-length") {
				if maxLength < 0 {
					return fmt.Errorf("tokenize: --max-length %d is negative", maxLength)
				}
				tr.MaxLength = maxLength
			}
			if f.Changed("truncation") {
				if tr.Strategy, err = tokenizer.ParseStrategy(strategy); err != nil {
					return fmt.Errorf("tokenize: --truncation: %w", err)
				}
			}
			if f.Changed("direction") {
				if tr.Direction, err = tokenizer.ParseDirection(direction); err != nil {
					return fmt.Errorf("tokenize: --direction: %w", err)
				}
			}
			tok = tok.WithTruncation(tr)
			if jsonl {
				if len(args) > 0 {
					return fmt.Errorf("tokenize: --jsonl reads stdin; no TEXT arguments")
				}
				return tokenizeJSONL(cmd, tok, tokens, cmd.InOrStdin(), cmd.OutOrStdout())
			}
			if len(args) == 0 {
				return fmt.Errorf("tokenize: TEXT is required (or --jsonl)")
			}
			var enc tokenizer.Encoding
			if len(args) == 2 {
				enc, err = tok.EncodePair(args[0], args[1])
			} else {
				enc, err = tok.Encode(args[0])
			}
			if err != nil {
				return fmt.Errorf("tokenize: %w", err)
			}
			b, err := json.Marshal(struct {
				IDs     []int64  `json:"ids"`
				TypeIDs []int64  `json:"type_ids"`
				Offsets [][2]int `json:"offsets"`
				Tokens  []string `json:"tokens,omitempty"`
			}{enc.IDs, enc.TypeIDs, enc.Offsets, tokenStrings(tok, enc, tokens)})
			if err != nil {
				return fmt.Errorf("tokenize: %w", err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&path, "tokenizer", "", "tokenizer.json file")
	f.StringVar(&dir, "model", "", "model directory (reads DIR/tokenizer.json and DIR/tokenizer_config.json)")
	f.BoolVar(&tokens, "tokens", false, `print the token strings too ("tokens")`)
	f.IntVar(&maxLength, "max-length", 0, "truncate to N tokens, specials included (0: no truncation; default: the file's setting)")
	f.StringVar(&strategy, "truncation", "longest_first", "truncation strategy: longest_first, only_first or only_second")
	f.StringVar(&direction, "direction", "right", "truncation direction: right or left")
	f.BoolVar(&jsonl, "jsonl", false, `read {"text", "pair"} lines from stdin, write {"ids", "type_ids"} lines`)
	return c
}

// tokenStrings returns the token strings of enc when want is set.
func tokenStrings(tok *tokenizer.Tokenizer, enc tokenizer.Encoding, want bool) []string {
	if !want {
		return nil
	}
	out := make([]string, len(enc.IDs))
	for i, id := range enc.IDs {
		out[i], _ = tok.IDToToken(id)
	}
	return out
}

// tokenizeJSONL encodes each stdin line; bad lines get an error line.
func tokenizeJSONL(cmd *cobra.Command, tok *tokenizer.Tokenizer, tokens bool, in io.Reader, out io.Writer) error {
	ctx := cmd.Context()
	be := tok.NewBatchEncoder()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	w := bufio.NewWriter(out)
	one := make([]string, 1)
	type result struct {
		IDs     []int64  `json:"ids"`
		TypeIDs []int64  `json:"type_ids"`
		Tokens  []string `json:"tokens,omitempty"`
	}
	line := 0
	for sc.Scan() {
		line++
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("tokenize: %w", err)
			}
		}
		var rec struct {
			Text *string `json:"text"`
			Pair *string `json:"pair"`
		}
		var v any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			v = map[string]string{"error": fmt.Sprintf("line %d: %v", line, err)}
		} else if rec.Text == nil {
			v = map[string]string{"error": fmt.Sprintf(`line %d: missing "text"`, line)}
		} else {
			var enc tokenizer.Encoding
			var err error
			if rec.Pair != nil {
				one[0] = *rec.Pair
				var encs []tokenizer.Encoding
				if encs, err = be.EncodePairs(*rec.Text, one); err == nil {
					enc = encs[0]
				}
			} else {
				enc, err = be.Encode(*rec.Text)
			}
			if err != nil {
				v = map[string]string{"error": fmt.Sprintf("line %d: %v", line, err)}
			} else {
				v = result{enc.IDs, enc.TypeIDs, tokenStrings(tok, enc, tokens)}
			}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("tokenize: line %d: %w", line, err)
		}
		w.Write(b)
		if err := w.WriteByte('\n'); err != nil {
			return fmt.Errorf("tokenize: write: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		w.Flush()
		return fmt.Errorf("tokenize: read stdin: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("tokenize: write: %w", err)
	}
	return nil
}
