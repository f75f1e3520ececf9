package tokenizer_test

import (
	"fmt"
	"log"

	"github.com/crossrank/crossrank/internal/assets"
	"github.com/crossrank/crossrank/models/tokenizer"
)

func ExampleTokenizer_EncodePair() {
	tok, err := tokenizer.FromBytes(assets.BertBaseUncasedTokenizer())
	if err != nil {
		log.Fatal(err)
	}
	enc, err := tok.EncodePair("capital of France?", "Paris is the capital.")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(enc.IDs)
	fmt.Println(enc.TypeIDs)
	// Output:
	// [101 3007 1997 2605 1029 102 3000 2003 1996 3007 1012 102]
	// [0 0 0 0 0 0 1 1 1 1 1 1]
}

func ExampleTokenizer_WithTruncation() {
	tok, err := tokenizer.FromBytes(assets.BertBaseUncasedTokenizer())
	if err != nil {
		log.Fatal(err)
	}
	tok = tok.WithTruncation(tokenizer.Truncation{MaxLength: 8, Strategy: tokenizer.LongestFirst, Direction: tokenizer.Right})
	enc, err := tok.EncodePair("capital of France?", "Paris is the capital.")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(enc.IDs)
	// Output:
	// [101 3007 1997 102 3000 2003 1996 102]
}

func ExampleTokenizer_NewBatchEncoder() {
	tok, err := tokenizer.FromBytes(assets.BertBaseUncasedTokenizer())
	if err != nil {
		log.Fatal(err)
	}
	be := tok.NewBatchEncoder() // one per goroutine
	encs, err := be.EncodePairs("capital of France?", []string{"Paris.", "Berlin is in Germany."})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range encs {
		fmt.Println(e.IDs)
	}
	// Output:
	// [101 3007 1997 2605 1029 102 3000 1012 102]
	// [101 3007 1997 2605 1029 102 4068 2003 1999 2762 1012 102]
}

func ExampleTokenizer_CountTokens() {
	tok, err := tokenizer.FromBytes(assets.BertBaseUncasedTokenizer())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.CountTokens("Unaffable tokenization!"))
	// Output: 6
}

// A SentencePiece Unigram tokenizer converted as XLM-RoBERTa's is (the test
// family in testdata/families/xlmr; ids and tokens as the reference gives
// them).
func ExampleLoadDir() {
	tok, err := tokenizer.LoadDir("testdata/families/xlmr")
	if err != nil {
		log.Fatal(err)
	}
	enc, err := tok.EncodePair("Hello, World!", "café")
	if err != nil {
		log.Fatal(err)
	}
	var toks []string
	for _, id := range enc.IDs {
		s, _ := tok.IDToToken(id)
		toks = append(toks, s)
	}
	fmt.Println(enc.IDs)
	fmt.Printf("%q\n", toks)
	fmt.Println(tok.ModelMaxLength())
	// Output:
	// [0 156 2816 81 2849 2 2 215 2]
	// ["<s>" "▁Hello" "," "▁World" "!" "</s>" "</s>" "▁café" "</s>"]
	// 512
}
