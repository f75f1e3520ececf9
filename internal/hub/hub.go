// Package hub downloads a cross-encoder from a Hugging Face hub-compatible
// server into a crossrank model folder: config.json, tokenizer.json and one
// ONNX file (onnx/model.onnx, or the Xenova-style onnx/model_quantized.onnx
// when quantized, falling back to model.onnx at the repository root).
//
// Downloads resume: bytes land in <file>.part and an interrupted transfer
// continues with an HTTP Range request, both within one Pull (a dropped
// connection is retried) and across runs (a .part left behind is resumed).
// Every file is verified before it is renamed into place: LFS files against
// the sha256 the hub publishes (the revision API's lfs.sha256, or the
// X-Linked-Etag header), other files against their git blob sha1 (the ETag),
// and sizes against X-Linked-Size or Content-Length. All files are fetched at
// the one commit the revision resolved to (X-Repo-Commit or the API's sha).
package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultEndpoint is the Hugging Face hub.
const DefaultEndpoint = "https://huggingface.co"

// ErrChecksum is wrapped by Pull when a downloaded file does not match the
// checksum or size the hub published for it.
var ErrChecksum = errors.New("hub: checksum mismatch")

// ErrNotFound is wrapped by Pull when the repository, revision or a required
// file does not exist.
var ErrNotFound = errors.New("not found")

// Options configures Pull. The zero value pulls the main revision of the
// fp32 ONNX file from DefaultEndpoint.
type Options struct {
	Revision  string       // branch, tag or commit (default "main")
	Endpoint  string       // hub base URL (default DefaultEndpoint, or $HF_ENDPOINT)
	Quantized bool         // fetch onnx/model_quantized.onnx instead of onnx/model.onnx
	Token     string       // bearer token for gated or private repositories (default $HF_TOKEN)
	Client    *http.Client // default: a client with a 30 s header timeout
	Retries   int          // extra attempts per file after a dropped transfer (default 3)
	Log       io.Writer    // progress lines (nil: quiet)
}

// File is one downloaded file.
type File struct {
	Name     string // path inside the repository, e.g. onnx/model.onnx
	Path     string // local path
	Size     int64
	SHA256   string // hex sha256 of the content (always computed)
	Verified string // what it was checked against: "sha256", "git-sha1" or "size"
	Cached   bool   // already present and verified; not downloaded again
}

// Result describes a finished pull.
type Result struct {
	Repo   string
	Commit string // the commit the revision resolved to ("" if the hub did not say)
	Dir    string
	ONNX   string // repository path of the ONNX file fetched ("" when the repository has none)
	// Safetensors is "model.safetensors" when the repository has no ONNX
	// file and its weights were fetched instead (a checkpoint for
	// internal/convert); "" otherwise.
	Safetensors string
	Files       []File
}

var repoRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$`)

// Pull downloads repoID (e.g. "cross-encoder/ms-marco-MiniLM-L-6-v2") into
// outDir, creating it, and returns what it fetched. Files already in outDir
// that match the hub's checksums are kept.
func Pull(ctx context.Context, repoID, outDir string, opts Options) (*Result, error) {
	if !repoRE.MatchString(repoID) || strings.Contains(repoID, "..") {
		return nil, fmt.Errorf("hub: invalid repository id %q (want owner/name)", repoID)
	}
	if outDir == "" {
		return nil, fmt.Errorf("hub: pull %s: no output folder", repoID)
	}
	p, err := newPuller(repoID, opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("hub: pull %s: %w", repoID, err)
	}
	res := &Result{Repo: repoID, Dir: outDir}

	// The revision API pins a commit and lists sizes and LFS sha256s. A hub
	// without it (or a mirror that serves only resolve URLs) still works:
	// the resolve responses' headers carry the same facts.
	info, err := p.revisionInfo(ctx)
	if err != nil {
		return nil, err
	}
	rev := p.rev
	if info != nil && info.SHA != "" {
		res.Commit, rev = info.SHA, info.SHA
	}

	onnxCandidates := []string{"onnx/model.onnx", "model.onnx"}
	if opts.Quantized {
		onnxCandidates = []string{"onnx/model_quantized.onnx", "model_quantized.onnx"}
	}
	onnxName, err := p.pickONNX(ctx, rev, info, onnxCandidates)
	var names []string
	switch {
	case err == nil:
		res.ONNX = onnxName
		names = []string{"config.json", "tokenizer.json", onnxName}
	case errors.Is(err, ErrNotFound) && !opts.Quantized:
		// Most reranker repositories ship only safetensors: fetch the
		// checkpoint (the caller converts it, see internal/convert).
		st, serr := p.pickONNX(ctx, rev, info, []string{"model.safetensors"})
		if serr != nil {
			return nil, fmt.Errorf("%w; no model.safetensors either", err)
		}
		res.Safetensors = st
		names = []string{"config.json", "tokenizer.json", st}
		for _, extra := range []string{"tokenizer_config.json", "special_tokens_map.json"} {
			if info != nil {
				if _, ok := info.sibling(extra); ok {
					names = append(names, extra)
				}
			}
		}
	default:
		return nil, err
	}
	if info != nil && res.ONNX != "" { // external weights beside a large graph
		for _, ext := range []string{"_data", ".data"} {
			if _, ok := info.sibling(onnxName + ext); ok {
				names = append(names, onnxName+ext)
			}
		}
	}
	for _, name := range names {
		f, commit, err := p.fetch(ctx, rev, name, info, outDir)
		if err != nil {
			return nil, err
		}
		if res.Commit == "" && commit != "" {
			res.Commit, rev = commit, commit
		}
		res.Files = append(res.Files, *f)
	}
	// A folder fetched with --quantized keeps the Xenova layout, so
	// modeldir.WithQuantized (or --file) finds it; say so in the log.
	p.logf("pulled %s@%s into %s (%s)", repoID, firstNonEmpty(res.Commit, p.rev), outDir, firstNonEmpty(res.ONNX, res.Safetensors))
	return res, nil
}

type puller struct {
	repo     string
	rev      string
	endpoint string
	token    string
	client   *http.Client
	noFollow *http.Client
	retries  int
	log      io.Writer
}

func newPuller(repo string, o Options) (*puller, error) {
	p := &puller{repo: repo, rev: o.Revision, endpoint: o.Endpoint, token: o.Token, client: o.Client, retries: o.Retries, log: o.Log}
	if p.rev == "" {
		p.rev = "main"
	}
	if p.endpoint == "" {
		p.endpoint = firstNonEmpty(os.Getenv("HF_ENDPOINT"), DefaultEndpoint)
	}
	u, err := url.Parse(p.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hub: invalid endpoint %q (want http(s)://host)", p.endpoint)
	}
	p.endpoint = strings.TrimRight(p.endpoint, "/")
	if p.token == "" {
		p.token = os.Getenv("HF_TOKEN")
	}
	if p.client == nil {
		p.client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			ResponseHeaderTimeout: 30 * time.Second,
			TLSHandshakeTimeout:   15 * time.Second,
		}}
	}
	nf := *p.client
	nf.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p.noFollow = &nf
	if p.retries <= 0 {
		p.retries = 3
	}
	return p, nil
}

func (p *puller) logf(format string, args ...any) {
	if p.log != nil {
		fmt.Fprintf(p.log, format+"\n", args...)
	}
}

func (p *puller) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("hub: %s %s: %w", method, u, err)
	}
	req.Header.Set("User-Agent", "crossrank/hub")
	// Byte offsets (Range, sizes) must be those of the file itself.
	req.Header.Set("Accept-Encoding", "identity")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	return req, nil
}

func (p *puller) resolveURL(rev, name string) string {
	return p.endpoint + "/" + p.repo + "/resolve/" + url.PathEscape(rev) + "/" + escapePath(name)
}

func escapePath(name string) string {
	parts := strings.Split(name, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// revision is the part of /api/models/{repo}/revision/{rev} used here.
type revision struct {
	SHA      string `json:"sha"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
		Size      int64  `json:"size"`
		BlobID    string `json:"blobId"`
		LFS       *struct {
			SHA256 string `json:"sha256"`
			Size   int64  `json:"size"`
		} `json:"lfs"`
	} `json:"siblings"`
}

type sibling struct {
	size   int64
	sha256 string // LFS files
	sha1   string // git blob id (non-LFS)
}

func (r *revision) sibling(name string) (sibling, bool) {
	for _, s := range r.Siblings {
		if s.RFilename != name {
			continue
		}
		sb := sibling{size: s.Size, sha1: s.BlobID}
		if s.LFS != nil {
			sb.sha256, sb.sha1 = strings.ToLower(s.LFS.SHA256), ""
			if s.LFS.Size > 0 {
				sb.size = s.LFS.Size
			}
		}
		return sb, true
	}
	return sibling{}, false
}

func (p *puller) revisionInfo(ctx context.Context) (*revision, error) {
	u := p.endpoint + "/api/models/" + p.repo + "/revision/" + url.PathEscape(p.rev) + "?blobs=true"
	req, err := p.newRequest(ctx, http.MethodGet, u)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("hub: %s@%s: %w", p.repo, p.rev, ctx.Err())
		}
		return nil, fmt.Errorf("hub: %s@%s: %w (is %s reachable? HF_ENDPOINT selects a mirror)", p.repo, p.rev, err, p.endpoint)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("hub: %s@%s: %s (gated or private repository? set HF_TOKEN)", p.repo, p.rev, resp.Status)
	default:
		// Not every server has the API; fall back to resolve headers.
		p.logf("revision API unavailable (%s); using resolve headers", resp.Status)
		return nil, nil
	}
	var r revision
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&r); err != nil {
		return nil, fmt.Errorf("hub: %s@%s: decode revision info: %w", p.repo, p.rev, err)
	}
	return &r, nil
}

func (p *puller) pickONNX(ctx context.Context, rev string, info *revision, candidates []string) (string, error) {
	if info != nil && len(info.Siblings) > 0 {
		for _, c := range candidates {
			if _, ok := info.sibling(c); ok {
				return c, nil
			}
		}
		return "", fmt.Errorf("hub: %s@%s: %w: no ONNX file (looked for %v); the repository has no ONNX export",
			p.repo, p.rev, ErrNotFound, candidates)
	}
	for _, c := range candidates {
		_, err := p.head(ctx, rev, c)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		return c, nil
	}
	return "", fmt.Errorf("hub: %s@%s: %w: no ONNX file (looked for %v)", p.repo, p.rev, ErrNotFound, candidates)
}

// meta is what a HEAD on a resolve URL says about a file.
type meta struct {
	size   int64  // -1 unknown
	sha256 string // X-Linked-Etag of an LFS file
	sha1   string // ETag of a regular file (git blob sha1)
	commit string // X-Repo-Commit
}

var (
	hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)
	hex40 = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

func etagValue(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	return strings.ToLower(strings.Trim(s, `"`))
}

// head asks the hub about one file without following a redirect to a CDN
// (the LFS headers are on the hub's own redirect response); same-host
// redirects (a renamed repository) are followed.
func (p *puller) head(ctx context.Context, rev, name string) (meta, error) {
	u := p.resolveURL(rev, name)
	for range 5 {
		req, err := p.newRequest(ctx, http.MethodHead, u)
		if err != nil {
			return meta{}, err
		}
		resp, err := p.noFollow.Do(req)
		if err != nil {
			return meta{}, fmt.Errorf("hub: HEAD %s: %w", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err == nil && loc.Host == req.URL.Host && resp.Header.Get("X-Linked-Etag") == "" {
				u = loc.String()
				continue
			}
		} else if resp.StatusCode == http.StatusNotFound {
			return meta{}, fmt.Errorf("hub: %s@%s/%s: %w", p.repo, p.rev, name, ErrNotFound)
		} else if resp.StatusCode != http.StatusOK {
			return meta{}, fmt.Errorf("hub: HEAD %s: %s", u, resp.Status)
		}
		m := meta{size: -1, commit: resp.Header.Get("X-Repo-Commit")}
		if s := resp.Header.Get("X-Linked-Size"); s != "" {
			m.size, _ = strconv.ParseInt(s, 10, 64)
		} else if resp.StatusCode == http.StatusOK && resp.ContentLength >= 0 {
			m.size = resp.ContentLength
		}
		if e := etagValue(resp.Header.Get("X-Linked-Etag")); hex64.MatchString(e) {
			m.sha256 = e
		} else if e := etagValue(resp.Header.Get("ETag")); resp.StatusCode == http.StatusOK && hex40.MatchString(e) {
			m.sha1 = e
		} else if hex64.MatchString(e) {
			m.sha256 = e
		}
		return m, nil
	}
	return meta{}, fmt.Errorf("hub: HEAD %s: too many redirects", name)
}

// fetch downloads one file (or keeps a verified local copy) and returns it
// with the commit the hub reported.
func (p *puller) fetch(ctx context.Context, rev, name string, info *revision, outDir string) (*File, string, error) {
	want := meta{size: -1}
	if info != nil {
		if sb, ok := info.sibling(name); ok {
			want.sha256, want.sha1 = sb.sha256, sb.sha1
			if sb.size > 0 {
				want.size = sb.size
			}
		}
	}
	// HEAD for what the API did not say (and always for the commit when
	// there is no API); a 404 here is a missing required file.
	if want.sha256 == "" && want.sha1 == "" || info == nil {
		m, err := p.head(ctx, rev, name)
		if err != nil {
			return nil, "", err
		}
		if want.sha256 == "" && want.sha1 == "" {
			want.sha256, want.sha1 = m.sha256, m.sha1
		}
		if want.size < 0 {
			want.size = m.size
		}
		want.commit = m.commit
	}
	local := filepath.Join(outDir, filepath.FromSlash(path.Clean(name)))
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return nil, "", fmt.Errorf("hub: %s: %w", name, err)
	}
	f := &File{Name: name, Path: local}
	if sum, size, err := hashFile(local); err == nil {
		if verr := verify(name, want, sum, size); verr == nil {
			f.Size, f.SHA256, f.Verified, f.Cached = size, sum.sha256, verifiedBy(want), true
			p.logf("%s: up to date", name)
			return f, want.commit, nil
		}
	}
	part := local + ".part"
	var lastErr error
	for attempt := 0; attempt <= p.retries; attempt++ {
		if attempt > 0 {
			p.logf("%s: retrying (%v)", name, lastErr)
			select {
			case <-ctx.Done():
				return nil, "", fmt.Errorf("hub: %s: %w", name, ctx.Err())
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		lastErr = p.download(ctx, rev, name, part, want.size)
		if lastErr == nil || ctx.Err() != nil || !retryable(lastErr) {
			break
		}
	}
	if lastErr != nil {
		return nil, "", lastErr
	}
	sum, size, err := hashFile(part)
	if err != nil {
		return nil, "", fmt.Errorf("hub: %s: %w", name, err)
	}
	if err := verify(name, want, sum, size); err != nil {
		os.Remove(part)
		return nil, "", err
	}
	if err := os.Rename(part, local); err != nil {
		return nil, "", fmt.Errorf("hub: %s: %w", name, err)
	}
	f.Size, f.SHA256, f.Verified = size, sum.sha256, verifiedBy(want)
	p.logf("%s: %d bytes, %s verified", name, size, f.Verified)
	return f, want.commit, nil
}

func verifiedBy(m meta) string {
	switch {
	case m.sha256 != "":
		return "sha256"
	case m.sha1 != "":
		return "git-sha1"
	case m.size >= 0:
		return "size"
	}
	return "none"
}

type sums struct{ sha256, gitSHA1 string }

func hashFile(p string) (sums, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return sums{}, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return sums{}, 0, err
	}
	h256 := sha256.New()
	h1 := sha1.New()
	fmt.Fprintf(h1, "blob %d\x00", st.Size())
	n, err := io.Copy(io.MultiWriter(h256, h1), f)
	if err != nil {
		return sums{}, 0, err
	}
	return sums{sha256: hexSum(h256), gitSHA1: hexSum(h1)}, n, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

func verify(name string, want meta, got sums, size int64) error {
	if want.size >= 0 && size != want.size {
		return fmt.Errorf("%w: %s is %d bytes, the hub says %d", ErrChecksum, name, size, want.size)
	}
	if want.sha256 != "" && got.sha256 != want.sha256 {
		return fmt.Errorf("%w: %s sha256 %s, the hub says %s", ErrChecksum, name, got.sha256, want.sha256)
	}
	if want.sha1 != "" && got.gitSHA1 != want.sha1 {
		return fmt.Errorf("%w: %s git blob sha1 %s, the hub says %s", ErrChecksum, name, got.gitSHA1, want.sha1)
	}
	return nil
}

// transferError marks an error worth retrying (a dropped connection or a
// server hiccup), as opposed to a 404 or a checksum mismatch.
type transferError struct{ err error }

func (e *transferError) Error() string { return e.err.Error() }
func (e *transferError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var te *transferError
	return errors.As(err, &te)
}

// download appends to part from where it ends, with a Range request.
func (p *puller) download(ctx context.Context, rev, name, part string, size int64) error {
	fh, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("hub: %s: %w", name, err)
	}
	defer fh.Close()
	have, err := fh.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("hub: %s: %w", name, err)
	}
	if size >= 0 && have > size { // longer than the file: start over
		if err := fh.Truncate(0); err != nil {
			return fmt.Errorf("hub: %s: %w", name, err)
		}
		have, _ = fh.Seek(0, io.SeekStart)
	}
	if size >= 0 && have == size {
		return nil // complete; verified by the caller
	}
	req, err := p.newRequest(ctx, http.MethodGet, p.resolveURL(rev, name))
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		p.logf("%s: resuming at byte %d", name, have)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("hub: %s: %w", name, ctx.Err())
		}
		return &transferError{fmt.Errorf("hub: GET %s: %w", name, err)}
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if have > 0 { // server ignored the range: start over
			if err := fh.Truncate(0); err != nil {
				return fmt.Errorf("hub: %s: %w", name, err)
			}
			if _, err := fh.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("hub: %s: %w", name, err)
			}
		}
	case http.StatusPartialContent:
		start, err := contentRangeStart(resp.Header.Get("Content-Range"))
		if err != nil || start != have {
			return fmt.Errorf("hub: GET %s: bad Content-Range %q for a request from byte %d", name, resp.Header.Get("Content-Range"), have)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		return nil // nothing left to fetch; the checksum decides
	case http.StatusNotFound:
		return fmt.Errorf("hub: %s@%s/%s: %w", p.repo, p.rev, name, ErrNotFound)
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("hub: GET %s: %s (gated or private repository? set HF_TOKEN)", name, resp.Status)
	default:
		err := fmt.Errorf("hub: GET %s: %s", name, resp.Status)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return &transferError{err}
		}
		return err
	}
	if _, err := io.Copy(fh, resp.Body); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("hub: %s: %w", name, ctx.Err())
		}
		return &transferError{fmt.Errorf("hub: GET %s: transfer interrupted: %w", name, err)}
	}
	if err := fh.Sync(); err != nil {
		return fmt.Errorf("hub: %s: %w", name, err)
	}
	return nil
}

func contentRangeStart(h string) (int64, error) {
	// "bytes START-END/TOTAL"
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, fmt.Errorf("no bytes unit")
	}
	startS, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, fmt.Errorf("no range")
	}
	return strconv.ParseInt(startS, 10, 64)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
