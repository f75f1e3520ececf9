//go:build integration

package deploy

// TestIntegrationReplicasSurviveFailure runs three `crossrank serve`
// replicas (bin/crossrank, the shape twin) behind a real HAProxy (Debian's
// package, `make setup-haproxy`) on loopback, with the HAProxy settings of
// haproxy/haproxy.cfg: active health checks on GET /ready, retries on
// connection failures and empty responses, redispatched to another replica.
// Four clients send a bounded load of /v1/rerank requests with distinct
// documents; one replica is killed with SIGKILL and another gets SIGTERM
// mid-load. Every request must succeed exactly once with the results a lone
// replica returns for it. The SIGTERM'd replica must answer /ready 503 while
// it still serves (--drain-delay), then exit 0. The replicas require an
// API key (--api-key-file): the clients send it, HAProxy's checks of the
// open /ready need none, and a request without it is a 401.
//
// Run it with `make integration`; CROSSRANK_BIN names another binary.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/testenv"
)

const (
	itClients  = 4
	itRequests = 12 // per client
	itDocs     = 8  // per request
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// replica is one `crossrank serve` process.
type replica struct {
	name, addr string
	cmd        *exec.Cmd
	log        *bytes.Buffer
	done       chan error
}

// startReplica starts one replica that requires the API keys of keyFile.
func startReplica(t *testing.T, bin, model, lib, keyFile, name string) *replica {
	t.Helper()
	r := &replica{name: name, addr: freeAddr(t), log: &bytes.Buffer{}, done: make(chan error, 1)}
	r.cmd = exec.Command(bin, "serve", "--model", model, "--addr", r.addr, "--ort-lib", lib,
		"--api-key-file", keyFile, "--workers", "1", "--threads", "1", "--cache-size", "0",
		"--drain-delay", "3s", "--shutdown-grace", "20s")
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, r.log.String())
		}
	})
	return r
}

func waitReady(t *testing.T, url string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s/ready not 200 within %s", url, within)
}

// haproxyConfig fills haproxy/haproxy.cfg's placeholders.
func haproxyConfig(t *testing.T, front, stats string, servers []*replica) string {
	t.Helper()
	var lines []string
	for _, r := range servers {
		lines = append(lines, fmt.Sprintf("    server %s %s check", r.name, r.addr))
	}
	cfg := string(read(t, "haproxy/haproxy.cfg"))
	for old, v := range map[string]string{
		"127.0.0.1:8080": front, "127.0.0.1:8404": stats,
		"    server crossrank-0 127.0.0.1:18080 check\n    server crossrank-1 127.0.0.1:18081 check\n    server crossrank-2 127.0.0.1:18082 check": strings.Join(lines, "\n"),
	} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("haproxy/haproxy.cfg has no %q to replace", old)
		}
		cfg = strings.Replace(cfg, old, v, 1)
	}
	return cfg
}

type rerankResult struct {
	Index int     `json:"index"`
	Score float64 `json:"relevance_score"`
}

type request struct {
	body []byte
	n    int
}

// rerank posts req to url with the API key and returns the scores by
// document index, checking each index comes back exactly once.
func rerank(client *http.Client, url, key string, req request) (map[int]float64, error) {
	hr, err := http.NewRequest(http.MethodPost, url+"/v1/rerank", bytes.NewReader(req.body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var out struct {
		Results []rerankResult `json:"results"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode %s: %w", b, err)
	}
	scores := map[int]float64{}
	for _, r := range out.Results {
		if _, dup := scores[r.Index]; dup {
			return nil, fmt.Errorf("index %d returned twice: %s", r.Index, b)
		}
		scores[r.Index] = r.Score
	}
	if len(scores) != req.n || len(out.Results) != req.n {
		return nil, fmt.Errorf("%d results for %d documents: %s", len(out.Results), req.n, b)
	}
	return scores, nil
}

// requests builds every client's requests: distinct documents of random
// words, deterministic.
func requests() [][]request {
	words := strings.Fields("search engine rerank cross encoder query passage relevance score token batch " +
		"replica cluster latency health check balance retry kernel vector index shard node river mountain " +
		"coffee bread music garden winter library bicycle ocean planet language history science")
	r := rand.New(rand.NewPCG(18, 5))
	text := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = words[r.IntN(len(words))]
		}
		return strings.Join(w, " ")
	}
	out := make([][]request, itClients)
	for c := range out {
		for i := range itRequests {
			docs := make([]string, itDocs)
			for j := range docs {
				docs[j] = fmt.Sprintf("document %d-%d-%d: %s", c, i, j, text(8+r.IntN(40)))
			}
			b, _ := json.Marshal(map[string]any{"query": text(3 + r.IntN(6)), "documents": docs})
			out[c] = append(out[c], request{body: b, n: itDocs})
		}
	}
	return out
}

func TestIntegrationReplicasSurviveFailure(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatal("no haproxy on PATH (make setup-haproxy installs Debian's package)")
	}
	root := testenv.Root(t)
	bin := os.Getenv("CROSSRANK_BIN")
	if bin == "" {
		bin = filepath.Join(root, "bin", "crossrank")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%v (make build)", err)
	}
	model, lib := testenv.TwinDir(t), testenv.ORTLib(t)

	// Every replica requires an API key (--api-key-file; the second line is
	// the one clients send); HAProxy's health checks on /ready need none.
	key := fmt.Sprintf("replicas-%016x", rand.Uint64())
	keyFile := filepath.Join(t.TempDir(), "api-keys")
	if err := os.WriteFile(keyFile, []byte("# keys\nother-key-"+key+"\n"+key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reps := make([]*replica, 3)
	for i := range reps {
		reps[i] = startReplica(t, bin, model, lib, keyFile, fmt.Sprintf("crossrank-%d", i))
	}
	for _, r := range reps {
		waitReady(t, "http://"+r.addr, 2*time.Minute)
	}

	front, stats := freeAddr(t), freeAddr(t)
	cfgPath := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(haproxyConfig(t, front, stats, reps)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(haproxy, "-c", "-f", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	var lbLog bytes.Buffer
	lb := exec.Command(haproxy, "-db", "-f", cfgPath)
	lb.Stdout, lb.Stderr = &lbLog, &lbLog
	if err := lb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = lb.Process.Signal(syscall.SIGTERM)
		_ = lb.Wait()
		if t.Failed() {
			t.Logf("haproxy log:\n%s", lbLog.String())
		}
	})
	lbURL := "http://" + front
	waitReady(t, lbURL, 30*time.Second)

	// Through the balancer, a request without the key or with a wrong one is
	// the replica's 401 with its Bearer challenge.
	for _, bad := range []string{"", "wrong-" + key} {
		hr, _ := http.NewRequest(http.MethodPost, lbURL+"/v1/rerank", strings.NewReader(`{"query":"q","documents":["d"]}`))
		hr.Header.Set("Content-Type", "application/json")
		if bad != "" {
			hr.Header.Set("Authorization", "Bearer "+bad)
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") ||
			!bytes.Contains(b, []byte(`"unauthorized"`)) {
			t.Errorf("POST /v1/rerank through HAProxy with key %q: %d, WWW-Authenticate %q, %s",
				bad, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), b)
		}
	}

	// What a lone replica returns for each request (fp32 scores do not depend
	// on batch-mates, so any replica gives the same).
	reqs := requests()
	client := &http.Client{Timeout: 2 * time.Minute}
	want := make([][]map[int]float64, itClients)
	for c := range reqs {
		for _, rq := range reqs[c] {
			s, err := rerank(client, "http://"+reps[0].addr, key, rq)
			if err != nil {
				t.Fatalf("reference: %v", err)
			}
			want[c] = append(want[c], s)
		}
	}

	total := itClients * itRequests
	var completed atomic.Int64
	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	answered := make([][]int, itClients)
	var wg sync.WaitGroup
	for c := range itClients {
		answered[c] = make([]int, itRequests)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, rq := range reqs[c] {
				got, err := rerank(client, lbURL, key, rq)
				completed.Add(1)
				if err != nil {
					fail("client %d request %d: %v", c, i, err)
					continue
				}
				answered[c][i]++
				for idx, w := range want[c][i] {
					if d := math.Abs(got[idx] - w); d > 1e-5 {
						fail("client %d request %d document %d: score %v through the balancer, %v from a lone replica", c, i, idx, got[idx], w)
					}
				}
			}
		}()
	}

	waitFor := func(n int) {
		for completed.Load() < int64(n) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	// SIGKILL: in-flight requests on crossrank-1 lose their connection;
	// HAProxy retries them on another replica.
	waitFor(total / 4)
	if err := reps[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := completed.Load()
	// SIGTERM: crossrank-2 must turn /ready to 503 while still answering,
	// so HAProxy's check takes it out before its listener closes.
	waitFor(total / 2)
	if err := reps[2].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termAt := completed.Load()
	direct := "http://" + reps[2].addr
	sawNotReady := false
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(direct + "/ready")
		if err != nil {
			t.Fatalf("crossrank-2 refused /ready right after SIGTERM (no drain delay): %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			sawNotReady = true
			break
		}
	}
	if !sawNotReady {
		t.Error("crossrank-2's /ready did not turn 503 after SIGTERM")
	} else if _, err := rerank(client, direct, key, reqs[0][0]); err != nil {
		t.Errorf("crossrank-2 stopped serving while draining: %v", err)
	}
	wg.Wait()

	select {
	case err := <-reps[2].done:
		reps[2].done <- err
		if err != nil {
			t.Errorf("crossrank-2 after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("crossrank-2 still running 30 s after SIGTERM")
	}
	if !strings.Contains(reps[2].log.String(), "draining") {
		t.Errorf("crossrank-2 did not log its drain:\n%s", reps[2].log.String())
	}
	for _, f := range failures {
		t.Error(f)
	}
	for c := range answered {
		for i, n := range answered[c] {
			if n != 1 {
				t.Errorf("client %d request %d answered %d times", c, i, n)
			}
		}
	}
	t.Logf("%d requests × %d documents from %d clients: %d failed; SIGKILL crossrank-1 after %d done, SIGTERM crossrank-2 after %d",
		total, itDocs, itClients, len(failures), killedAt, termAt)
	if resp, err := http.Get("http://" + stats + "/stats;csv"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("haproxy per-server stats (retries wretr, redispatches wredis, status):\n%s", statsSummary(string(b)))
	}
	// The survivor still answers through the balancer.
	if _, err := rerank(client, lbURL, key, reqs[1][0]); err != nil {
		t.Errorf("after the failures: %v", err)
	}
}

// statsSummary picks the name, status, requests, retries and redispatches
// of each backend server from HAProxy's CSV stats.
func statsSummary(csv string) string {
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) < 2 {
		return csv
	}
	head := strings.Split(strings.TrimPrefix(lines[0], "# "), ",")
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	var out []string
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		get := func(k string) string {
			if i, ok := col[k]; ok && i < len(f) {
				return f[i]
			}
			return "?"
		}
		if get("pxname") != "crossrank" {
			continue
		}
		out = append(out, fmt.Sprintf("  %-12s status=%s requests=%s wretr=%s wredis=%s hrsp_5xx=%s",
			get("svname"), get("status"), get("stot"), get("wretr"), get("wredis"), get("hrsp_5xx")))
	}
	return strings.Join(out, "\n")
}
