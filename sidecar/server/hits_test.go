package server_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/sidecar/rerank"
)

// objectKeys returns an object's keys in the order written.
func objectKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestRerankHits(t *testing.T) {
	m := twin(t)
	sc := start(t, []rerank.Model{m}, nil)
	sources := []string{
		`{"title": "coffee recipe", "body": "how to brew a strong cup", "price": 1.50, "tags": ["a", "b"]}`,
		`{"title":"river bridge","body":"the old bridge over the river","extra":{"deep":[1,2,{"x":null}]}}`,
		`{"body": "music festival in the mountain city", "title": "festival"}`,
		`{"title": "planet science", "body": "museum of planets and science \u00e9t\u00e9"}`,
	}
	texts := []string{"coffee recipe. how to brew a strong cup", "river bridge. the old bridge over the river", "festival. music festival in the mountain city", "planet science. museum of planets and science été"}
	orig := []string{"9.25", "8.0", "7.125", "1e0"}
	var hits []string
	for i, src := range sources {
		hits = append(hits, `{"_index":"docs","_id":"d`+strconv.Itoa(i)+`","_score":`+orig[i]+`,"_source":`+src+`,"sort":[`+strconv.Itoa(i)+`]}`)
	}
	after := `{"_index":"docs","_id":"tail","_score":0.875,"_source":{"title":"tail hit"}}`
	resp := `{"took":12,"timed_out":false,"_shards":{"total":1,"successful":1},"hits":{"total":{"value":5,"relation":"eq"},"max_score":9.25,"hits":[` +
		strings.Join(hits, ",") + "," + after + `]},"aggregations":{"genres":{"buckets":[]}}}`
	query := "music festival"
	ref := reference(t, m, query, texts)

	body := []byte(`{"query":"music festival","fields":["title","body"],"window":4,"response":` + resp + `}`)
	r := post(t, sc.base+"/v1/rerank/hits", body)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if got, want := objectKeys(t, r.body), []string{"took", "timed_out", "_shards", "hits", "aggregations"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("top-level keys %v, want %v", got, want)
	}
	for _, s := range append(sources, after, `"aggregations":{"genres":{"buckets":[]}}`, `"_shards":{"total":1,"successful":1}`) {
		if !bytes.Contains(r.body, []byte(s)) {
			t.Errorf("output lost the bytes of %s", s)
		}
	}
	var out struct {
		Hits struct {
			MaxScore json.RawMessage `json:"max_score"`
			Hits     []struct {
				ID     string          `json:"_id"`
				Score  json.RawMessage `json:"_score"`
				Rerank struct {
					OriginalScore json.RawMessage `json:"original_score"`
				} `json:"_rerank"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Hits.Hits) != 5 || out.Hits.Hits[4].ID != "tail" {
		t.Fatalf("hits: %+v", out.Hits.Hits)
	}
	want := make([]float64, len(ref))
	for i, l := range ref {
		want[i] = sigmoid(l)
	}
	maxScore := 0.875
	for k, i := range rerank.Order(want) {
		h := out.Hits.Hits[k]
		if h.ID != "d"+strconv.Itoa(i) {
			t.Errorf("rank %d: %s, want d%d (scores %v)", k, h.ID, i, want)
			continue
		}
		if !bytes.Contains(h.Score, []byte(".")) {
			t.Errorf("%s: _score %s is not written as a float", h.ID, h.Score)
		}
		s, _ := strconv.ParseFloat(string(h.Score), 64)
		if math.Abs(s-want[i]) > 1e-4 {
			t.Errorf("%s: _score %v, direct %v", h.ID, s, want[i])
		}
		if string(h.Rerank.OriginalScore) != orig[i] {
			t.Errorf("%s: original_score %s, want %s", h.ID, h.Rerank.OriginalScore, orig[i])
		}
		maxScore = max(maxScore, s)
	}
	if ms, _ := strconv.ParseFloat(string(out.Hits.MaxScore), 64); ms != maxScore {
		t.Errorf("max_score %s, want %v", out.Hits.MaxScore, maxScore)
	}

	// No hits: the response comes back as it was.
	empty := `{"took":1,"hits":{"total":{"value":0},"max_score":null,"hits":[]}}`
	r = post(t, sc.base+"/v1/rerank/hits", []byte(`{"query":"q","response":`+empty+`}`))
	if r.status != 200 || string(r.body) != empty {
		t.Errorf("empty hits: %d %s", r.status, r.body)
	}
}
