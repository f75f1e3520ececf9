package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/crossrank/crossrank/sidecar/config"
	"github.com/crossrank/crossrank/sidecar/server"
)

func here(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Dir(file)
}

func read(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(here(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// k8s objects, only the fields the tests read.
type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name  string   `yaml:"name"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Readiness *probe `yaml:"readinessProbe"`
	Liveness  *probe `yaml:"livenessProbe"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	Mounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Selector yaml.Node `yaml:"selector"`
		Ports    []struct {
			Port       int `yaml:"port"`
			TargetPort any `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []container `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func objects(t *testing.T, rel string) []object {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(read(t, rel)))
	var out []object
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		out = append(out, o)
	}
}

// routeStatus sends GET path to a sidecar server (no model loaded) and
// returns the status, before and after it is marked ready.
func routeStatus(t *testing.T, path string) (before, after int) {
	t.Helper()
	srv := server.New(nil)
	get := func() int {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code
	}
	before = get()
	srv.SetReady(true)
	return before, get()
}

func TestProbePathsAreServerRoutes(t *testing.T) {
	if b, a := routeStatus(t, "/health"); b != 200 || a != 200 {
		t.Errorf("/health: %d then %d, want 200 always (liveness)", b, a)
	}
	if b, a := routeStatus(t, "/ready"); b != 503 || a != 200 {
		t.Errorf("/ready: %d then %d, want 503 until the model is loaded, then 200 (readiness)", b, a)
	}
}

// portOf resolves a probe or Service port (a name or a number) against a
// container's ports.
func portOf(t *testing.T, c container, p any) int {
	t.Helper()
	switch v := p.(type) {
	case int:
		return v
	case string:
		for _, cp := range c.Ports {
			if cp.Name == v {
				return cp.ContainerPort
			}
		}
	}
	t.Fatalf("container %s has no port %v", c.Name, p)
	return 0
}

// sidecarConfig loads the ConfigMap's crossrank.yaml with the real loader,
// with the container's args as flags.
func sidecarConfig(t *testing.T, cm object, args []string) config.Config {
	t.Helper()
	dir := t.TempDir()
	for name, body := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f := config.Register(fs)
	for i, a := range args {
		args[i] = strings.Replace(a, "/etc/crossrank", dir, 1)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatalf("args %v: %v", args, err)
	}
	cfg, err := f.Load(func(string) string { return "" })
	if err != nil {
		t.Fatalf("crossrank.yaml from the ConfigMap: %v", err)
	}
	if cfg.PipelinesFile != "" {
		var p struct {
			Pipelines map[string][]config.PipelineStep `yaml:"pipelines"`
		}
		b, err := os.ReadFile(strings.Replace(cfg.PipelinesFile, "/etc/crossrank", dir, 1))
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&p); err != nil || len(p.Pipelines) == 0 {
			t.Fatalf("pipelines.yaml: %v %v", p, err)
		}
		for name, steps := range p.Pipelines {
			for _, s := range steps {
				if _, err := os.Stat(filepath.Join(here(t), "../../plugins/std", s.Plugin)); err != nil {
					t.Errorf("pipeline %s: plugin %q is not a standard plugin", name, s.Plugin)
				}
			}
		}
	}
	return cfg
}

func addrPort(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

func TestKubernetesManifests(t *testing.T) {
	var cm, svc *object
	for _, f := range []string{"kubernetes/configmap.yaml", "kubernetes/service.yaml"} {
		for _, o := range objects(t, f) {
			switch o.Kind {
			case "ConfigMap":
				cm = &o
			case "Service":
				svc = &o
			}
		}
	}
	if cm == nil || svc == nil {
		t.Fatal("configmap.yaml or service.yaml lacks its object")
	}
	for _, f := range []string{"kubernetes/deployment.yaml", "kubernetes/sidecar-opensearch.yaml"} {
		t.Run(f, func(t *testing.T) {
			found := false
			for _, o := range objects(t, f) {
				if o.Kind != "Deployment" && o.Kind != "StatefulSet" {
					continue
				}
				for _, c := range o.Spec.Template.Spec.Containers {
					if c.Name != "crossrank" {
						continue
					}
					found = true
					if c.Readiness == nil || c.Readiness.HTTPGet.Path != "/ready" {
						t.Errorf("readiness probe %+v, want GET /ready", c.Readiness)
					}
					if c.Liveness == nil || c.Liveness.HTTPGet.Path != "/health" {
						t.Errorf("liveness probe %+v, want GET /health", c.Liveness)
					}
					cfg := sidecarConfig(t, *cm, append([]string(nil), c.Args...))
					port := addrPort(t, cfg.Addr)
					if portOf(t, c, c.Readiness.HTTPGet.Port) != port || portOf(t, c, c.Liveness.HTTPGet.Port) != port {
						t.Errorf("probes do not reach the sidecar's port %d", port)
					}
					if !strings.HasPrefix(cfg.Addr, "0.0.0.0:") {
						t.Errorf("addr %s: the kubelet's probes come from outside the pod", cfg.Addr)
					}
					for _, k := range []string{"cpu", "memory"} {
						if c.Resources.Requests[k] == "" || c.Resources.Limits[k] == "" {
							t.Errorf("resources: %s request or limit missing: %+v", k, c.Resources)
						}
					}
					mounted := false
					for _, m := range c.Mounts {
						for _, v := range o.Spec.Template.Spec.Volumes {
							if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name && m.MountPath == "/etc/crossrank" {
								mounted = true
							}
						}
					}
					if !mounted {
						t.Error("the ConfigMap is not mounted at /etc/crossrank")
					}
					if o.Kind == "Deployment" {
						var sel struct {
							MatchLabels map[string]string `yaml:"matchLabels"`
						}
						if err := o.Spec.Selector.Decode(&sel); err != nil {
							t.Fatal(err)
						}
						var svcSel map[string]string
						if err := svc.Spec.Selector.Decode(&svcSel); err != nil {
							t.Fatal(err)
						}
						for k, v := range svcSel {
							if o.Spec.Template.Metadata.Labels[k] != v {
								t.Errorf("Service selector %v does not select the pods (%v)", svcSel, o.Spec.Template.Metadata.Labels)
							}
						}
						if len(svc.Spec.Ports) != 1 || portOf(t, c, svc.Spec.Ports[0].TargetPort) != port {
							t.Errorf("Service ports %+v do not reach the sidecar's port %d", svc.Spec.Ports, port)
						}
					} else if cfg.Upstream != "http://127.0.0.1:9200" {
						t.Errorf("sidecar variant upstream %q, want the pod's own node", cfg.Upstream)
					}
				}
			}
			if !found {
				t.Fatal("no crossrank container")
			}
		})
	}
}

// dockerfile returns the runtime stage's ENV, EXPOSE and ENTRYPOINT.
func dockerfile(t *testing.T) (env map[string]string, expose []string, entry string, text string) {
	t.Helper()
	b := read(t, "../../Dockerfile")
	text = string(bytes.ReplaceAll(b, []byte("\\\n"), nil))
	env = map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "ENV "):
			for _, kv := range strings.Fields(line[4:]) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		case strings.HasPrefix(line, "EXPOSE "):
			expose = strings.Fields(line[7:])
		case strings.HasPrefix(line, "ENTRYPOINT "):
			entry = line[11:]
		}
	}
	return env, expose, entry, text
}

func TestDockerfile(t *testing.T) {
	env, expose, entry, text := dockerfile(t)
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg, err := config.Register(fs).Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("the image's ENV does not load: %v", err)
	}
	for k := range env {
		if strings.HasPrefix(k, "CROSSRANK_") {
			if fs.Lookup(strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k, "CROSSRANK_")), "_", "-")) == nil {
				t.Errorf("ENV %s is not a crossrank setting", k)
			}
		}
	}
	if len(expose) != 1 || expose[0] != strconv.Itoa(addrPort(t, cfg.Addr)) {
		t.Errorf("EXPOSE %v, but the sidecar listens on %s", expose, cfg.Addr)
	}
	if !strings.Contains(entry, `"serve"`) {
		t.Errorf("ENTRYPOINT %s does not run serve", entry)
	}
	for _, want := range []string{"AS build", "./scripts/setup-ort.sh", "make plugins-std", "CGO_ENABLED=1", "FROM debian:bookworm-slim", "USER crossrank"} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(here(t), "../../scripts/setup-ort.sh")); err != nil {
		t.Error(err)
	}
	mk, err := os.ReadFile(filepath.Join(here(t), "../../mk/plugins.mk"))
	if err != nil || !bytes.Contains(mk, []byte("plugins-std:")) {
		t.Errorf("mk/plugins.mk has no plugins-std target (%v)", err)
	}
	if !strings.HasPrefix(cfg.ORTLib, "/usr/local/lib/crossrank/") || !strings.Contains(text, "/out/lib/ /usr/local/lib/crossrank/") {
		t.Errorf("ORT library path %q is not where the image puts it", cfg.ORTLib)
	}
}

func TestSystemdUnit(t *testing.T) {
	unit := string(read(t, "systemd/crossrank.service"))
	var exec string
	for _, l := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			exec = v
		}
	}
	args := strings.Fields(exec)
	if len(args) < 4 || args[1] != "serve" || args[2] != "--config" {
		t.Fatalf("ExecStart=%s", exec)
	}
	cfg := config.Default()
	if err := config.Parse(read(t, "systemd/crossrank.yaml"), &cfg); err != nil {
		t.Fatalf("systemd/crossrank.yaml: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[Install]", "KillSignal=SIGTERM", "Restart=on-failure"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %s", want)
		}
	}
}

// TestCacheDirWritable: the Kubernetes Deployment (read-only root) points
// CROSSRANK_CACHE_DIR at a mounted emptyDir, and the systemd unit
// (ProtectSystem=strict) gives serve a CacheDirectory, so serve with
// pipelines can write its plugin compilation cache (issue 15).
func TestCacheDirWritable(t *testing.T) {
	var dep struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Env []struct {
							Name, Value string
						} `yaml:"env"`
						Mounts []struct {
							Name      string `yaml:"name"`
							MountPath string `yaml:"mountPath"`
						} `yaml:"volumeMounts"`
					} `yaml:"containers"`
					Volumes []struct {
						Name     string         `yaml:"name"`
						EmptyDir map[string]any `yaml:"emptyDir"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	doc := bytes.SplitN(read(t, "kubernetes/deployment.yaml"), []byte("\n---"), 2)[0]
	if err := yaml.Unmarshal(doc, &dep); err != nil {
		t.Fatal(err)
	}
	ps := dep.Spec.Template.Spec
	cacheDir := ""
	for _, e := range ps.Containers[0].Env {
		if e.Name == "CROSSRANK_CACHE_DIR" {
			cacheDir = e.Value
		}
	}
	vol := ""
	for _, m := range ps.Containers[0].Mounts {
		if cacheDir != "" && m.MountPath == cacheDir {
			vol = m.Name
		}
	}
	ok := false
	for _, v := range ps.Volumes {
		ok = ok || (v.Name == vol && v.EmptyDir != nil)
	}
	if cacheDir == "" || !ok {
		t.Errorf("deployment: CROSSRANK_CACHE_DIR %q is not a mounted emptyDir", cacheDir)
	}
	unit := string(read(t, "systemd/crossrank.service"))
	if !strings.Contains(unit, "\nCacheDirectory=crossrank") || !strings.Contains(unit, "--cache-dir ${CACHE_DIRECTORY}") {
		t.Error("systemd unit: no CacheDirectory= handed to --cache-dir")
	}
}
