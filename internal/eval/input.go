package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Query is one query of a labelled set: its text, the documents to rank in
// the engine's order (the baseline), their ids and the judgements.
type Query struct {
	ID   string
	Text string
	// Documents are sent to /v1/rerank as they are (strings or objects).
	Documents []json.RawMessage
	// DocIDs name Documents, index for index.
	DocIDs []string
	Qrels  Qrels
}

type jsonlLine struct {
	ID        string            `json:"id"`
	Query     *string           `json:"query"`
	Documents []json.RawMessage `json:"documents"`
	Labels    []json.Number     `json:"labels"`
}

// ReadJSONL reads a labelled set, one {"query", "documents", "labels"} per
// line (optional "id", default "q<line>"): documents are strings or objects
// in the engine's order, labels their integer grades. Blank lines are
// skipped. A malformed line, or labels that do not match the documents, is
// an error naming the line.
func ReadJSONL(r io.Reader) ([]Query, error) {
	br := bufio.NewReader(r)
	var qs []Query
	seen := map[string]int{}
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			q, perr := parseJSONLLine(t, n)
			if perr != nil {
				return nil, fmt.Errorf("line %d: %w", n, perr)
			}
			if prev, dup := seen[q.ID]; dup {
				return nil, fmt.Errorf("line %d: id %q already on line %d", n, q.ID, prev)
			}
			seen[q.ID] = n
			qs = append(qs, q)
		}
		if err != nil {
			break
		}
	}
	if len(qs) == 0 {
		return nil, errors.New("no queries")
	}
	return qs, nil
}

func parseJSONLLine(b []byte, n int) (Query, error) {
	var l jsonlLine
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&l); err != nil {
		return Query{}, fmt.Errorf("not a {\"query\", \"documents\", \"labels\"} object: %w", err)
	}
	if dec.More() {
		return Query{}, errors.New("more than one JSON value")
	}
	switch {
	case l.Query == nil || strings.TrimSpace(*l.Query) == "":
		return Query{}, errors.New("missing or empty \"query\"")
	case len(l.Documents) == 0:
		return Query{}, errors.New("no \"documents\"")
	case len(l.Labels) != len(l.Documents):
		return Query{}, fmt.Errorf("%d labels for %d documents", len(l.Labels), len(l.Documents))
	}
	q := Query{ID: l.ID, Text: *l.Query, Documents: l.Documents, Qrels: Qrels{}}
	if q.ID == "" {
		q.ID = "q" + strconv.Itoa(n)
	}
	for i, d := range l.Documents {
		if t := bytes.TrimSpace(d); len(t) == 0 || (t[0] != '"' && t[0] != '{') {
			return Query{}, fmt.Errorf("documents[%d] is not a string or an object", i)
		}
		f, err := strconv.ParseFloat(l.Labels[i].String(), 64)
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
			return Query{}, fmt.Errorf("labels[%d] = %s is not an integer grade", i, l.Labels[i])
		}
		v := int(f)
		id := strconv.Itoa(i)
		q.DocIDs = append(q.DocIDs, id)
		q.Qrels[id] = v
	}
	return q, nil
}

// ReadTREC builds a labelled set from TREC files: topics (`qid<TAB>text`
// per line), qrels (`qid iter docid label`), a run (`qid Q0 docid rank score
// tag`; each query's documents by score, best first, ties by rank, the
// first depth kept when depth > 0) and a corpus giving the documents' texts
// (JSONL with "_id" or "id" or "docid", "text" and an optional "title", or
// `docid<TAB>text` lines). Only queries with qrels and a run are kept. A
// malformed line is an error naming the file and the line.
func ReadTREC(topics, qrels, run, corpus io.Reader, depth int) ([]Query, error) {
	texts := map[string]string{}
	if err := eachLine(topics, func(n int, line string) error {
		id, text, ok := strings.Cut(line, "\t")
		if !ok || strings.TrimSpace(id) == "" || strings.TrimSpace(text) == "" {
			return fmt.Errorf("topics line %d: want qid<TAB>text", n)
		}
		texts[strings.TrimSpace(id)] = strings.TrimSpace(text)
		return nil
	}); err != nil {
		return nil, err
	}
	judged := map[string]Qrels{}
	if err := eachLine(qrels, func(n int, line string) error {
		f := strings.Fields(line)
		if len(f) != 4 {
			return fmt.Errorf("qrels line %d: want 4 fields (qid iter docid label), got %d", n, len(f))
		}
		v, err := strconv.Atoi(f[3])
		if err != nil {
			return fmt.Errorf("qrels line %d: label %q is not an integer", n, f[3])
		}
		if judged[f[0]] == nil {
			judged[f[0]] = Qrels{}
		}
		judged[f[0]][f[2]] = v
		return nil
	}); err != nil {
		return nil, err
	}
	type entry struct {
		doc   string
		rank  int
		score float64
	}
	runs := map[string][]entry{}
	if err := eachLine(run, func(n int, line string) error {
		f := strings.Fields(line)
		if len(f) != 6 {
			return fmt.Errorf("run line %d: want 6 fields (qid Q0 docid rank score tag), got %d", n, len(f))
		}
		rank, err := strconv.Atoi(f[3])
		if err != nil {
			return fmt.Errorf("run line %d: rank %q is not an integer", n, f[3])
		}
		score, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			return fmt.Errorf("run line %d: score %q is not a number", n, f[4])
		}
		runs[f[0]] = append(runs[f[0]], entry{f[2], rank, score})
		return nil
	}); err != nil {
		return nil, err
	}
	docs, err := readCorpus(corpus)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(judged))
	for id := range judged {
		if len(runs[id]) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var qs []Query
	for _, id := range ids {
		text, ok := texts[id]
		if !ok {
			return nil, fmt.Errorf("query %q has qrels and a run but no topic", id)
		}
		es := runs[id]
		sort.SliceStable(es, func(i, j int) bool {
			if es[i].score != es[j].score {
				return es[i].score > es[j].score
			}
			return es[i].rank < es[j].rank
		})
		if depth > 0 && len(es) > depth {
			es = es[:depth]
		}
		q := Query{ID: id, Text: text, Qrels: judged[id]}
		for _, e := range es {
			d, ok := docs[e.doc]
			if !ok {
				return nil, fmt.Errorf("query %q: run document %q is not in the corpus", id, e.doc)
			}
			raw, _ := json.Marshal(d)
			q.Documents = append(q.Documents, raw)
			q.DocIDs = append(q.DocIDs, e.doc)
		}
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		return nil, errors.New("no query has both qrels and a run")
	}
	return qs, nil
}

func readCorpus(r io.Reader) (map[string]string, error) {
	docs := map[string]string{}
	err := eachLine(r, func(n int, line string) error {
		if strings.HasPrefix(line, "{") {
			var d struct {
				ID    string `json:"_id"`
				ID2   string `json:"id"`
				DocID string `json:"docid"`
				Title string `json:"title"`
				Text  string `json:"text"`
			}
			if err := json.Unmarshal([]byte(line), &d); err != nil {
				return fmt.Errorf("corpus line %d: %w", n, err)
			}
			id := d.ID + d.ID2 + d.DocID
			if id == "" || d.Text == "" && d.Title == "" {
				return fmt.Errorf("corpus line %d: want an id (\"_id\", \"id\" or \"docid\") and a \"text\"", n)
			}
			text := d.Text
			if d.Title != "" {
				text = strings.TrimSpace(d.Title + ". " + d.Text)
			}
			docs[id] = text
			return nil
		}
		id, text, ok := strings.Cut(line, "\t")
		if !ok || id == "" || strings.TrimSpace(text) == "" {
			return fmt.Errorf("corpus line %d: want JSON or docid<TAB>text", n)
		}
		docs[id] = text
		return nil
	})
	return docs, err
}

// eachLine calls fn with each non-blank line (no line length limit).
func eachLine(r io.Reader, fn func(n int, line string) error) error {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if t := strings.TrimRight(line, "\r\n"); strings.TrimSpace(t) != "" {
			if ferr := fn(n, t); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return nil
		}
	}
}
