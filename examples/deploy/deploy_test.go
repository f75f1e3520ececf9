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
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/crossrank/crossrank/internal/metrics/prom"
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
	PeriodSeconds    int `yaml:"periodSeconds"`
	FailureThreshold int `yaml:"failureThreshold"`
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
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Selector yaml.Node `yaml:"selector"`
		Replicas *int      `yaml:"replicas"`
		// PodDisruptionBudget
		MinAvailable   any `yaml:"minAvailable"`
		MaxUnavailable any `yaml:"maxUnavailable"`
		// HorizontalPodAutoscaler
		ScaleTargetRef struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Name       string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicas int         `yaml:"minReplicas"`
		MaxReplicas int         `yaml:"maxReplicas"`
		Metrics     []hpaMetric `yaml:"metrics"`
		// PodMonitor
		PodMetricsEndpoints []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"podMetricsEndpoints"`
		Ports []struct {
			Port       int `yaml:"port"`
			TargetPort any `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds *int        `yaml:"terminationGracePeriodSeconds"`
				Containers                    []container `yaml:"containers"`
				Volumes                       []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type hpaMetric struct {
	Type string `yaml:"type"`
	Pods *struct {
		Metric struct {
			Name string `yaml:"name"`
		} `yaml:"metric"`
		Target struct {
			Type         string `yaml:"type"`
			AverageValue string `yaml:"averageValue"`
		} `yaml:"target"`
	} `yaml:"pods"`
	Resource *struct {
		Name   string `yaml:"name"`
		Target struct {
			Type               string `yaml:"type"`
			AverageUtilization int    `yaml:"averageUtilization"`
		} `yaml:"target"`
	} `yaml:"resource"`
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

// exportedMetrics scrapes a real sidecar metrics registry (the one serve
// mounts on GET /metrics) and returns each metric's name and type.
func exportedMetrics(t *testing.T) map[string]string {
	t.Helper()
	rec := prom.New()
	defer rec.Close()
	w := httptest.NewRecorder()
	rec.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(w.Body.Bytes()))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = f[3]
		}
	}
	if len(out) == 0 {
		t.Fatalf("no metrics in the exposition:\n%s", w.Body.Bytes())
	}
	return out
}

// matchLabels decodes a selector's matchLabels.
func matchLabels(t *testing.T, o object) map[string]string {
	t.Helper()
	var sel struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	if err := o.Spec.Selector.Decode(&sel); err != nil {
		t.Fatalf("%s %s selector: %v", o.Kind, o.Metadata.Name, err)
	}
	if len(sel.MatchLabels) == 0 {
		t.Fatalf("%s %s: empty selector", o.Kind, o.Metadata.Name)
	}
	return sel.MatchLabels
}

func selects(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetesAutoscaling checks the HorizontalPodAutoscaler, the
// Prometheus adapter rule it depends on, the PodDisruptionBudget, the
// PodMonitor and the drain timing against the Deployment, the ConfigMap
// loaded with the real config loader, and the metrics the sidecar really
// exports.
func TestKubernetesAutoscaling(t *testing.T) {
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(read(t, "kubernetes/kustomization.yaml"), &kust); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(kust.Resources, "hpa.yaml") {
		t.Errorf("kustomization.yaml resources %v lack hpa.yaml", kust.Resources)
	}
	for _, r := range kust.Resources {
		if _, err := os.Stat(filepath.Join(here(t), "kubernetes", r)); err != nil {
			t.Errorf("kustomization.yaml: %v", err)
		}
	}
	byKind := map[string]object{}
	for _, f := range []string{"kubernetes/deployment.yaml", "kubernetes/hpa.yaml", "kubernetes/configmap.yaml", "kubernetes/autoscaling/podmonitor.yaml"} {
		for _, o := range objects(t, f) {
			if _, dup := byKind[o.Kind]; dup {
				t.Fatalf("two %s objects", o.Kind)
			}
			byKind[o.Kind] = o
		}
	}
	dep, hpa, pdb, cm, pm := byKind["Deployment"], byKind["HorizontalPodAutoscaler"], byKind["PodDisruptionBudget"], byKind["ConfigMap"], byKind["PodMonitor"]
	for _, k := range []string{"Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "PodMonitor"} {
		if _, ok := byKind[k]; !ok {
			t.Fatalf("no %s in the manifests", k)
		}
	}
	podLabels := dep.Spec.Template.Metadata.Labels
	var c container
	for _, x := range dep.Spec.Template.Spec.Containers {
		if x.Name == "crossrank" {
			c = x
		}
	}

	t.Run("hpa", func(t *testing.T) {
		ref := hpa.Spec.ScaleTargetRef
		if hpa.APIVersion != "autoscaling/v2" || ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != dep.Metadata.Name {
			t.Errorf("HPA %s targets %+v, want autoscaling/v2 on the Deployment %s", hpa.APIVersion, ref, dep.Metadata.Name)
		}
		if hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas <= hpa.Spec.MinReplicas {
			t.Errorf("replicas %d..%d: want at least 2 (one can fail or drain) and room to grow", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
		}
		if dep.Spec.Replicas != nil {
			t.Errorf("Deployment sets replicas: %d, which every apply would reset under the HPA", *dep.Spec.Replicas)
		}
		exported := exportedMetrics(t)
		var adapter struct {
			Rules struct {
				Custom []struct {
					SeriesQuery string `yaml:"seriesQuery"`
					Resources   struct {
						Overrides map[string]struct {
							Resource string `yaml:"resource"`
						} `yaml:"overrides"`
					} `yaml:"resources"`
					Name struct {
						Matches string `yaml:"matches"`
						As      string `yaml:"as"`
					} `yaml:"name"`
					MetricsQuery string `yaml:"metricsQuery"`
				} `yaml:"custom"`
			} `yaml:"rules"`
		}
		dec := yaml.NewDecoder(bytes.NewReader(read(t, "kubernetes/autoscaling/prometheus-adapter-values.yaml")))
		if err := dec.Decode(&adapter); err != nil {
			t.Fatal(err)
		}
		pods := 0
		for _, m := range hpa.Spec.Metrics {
			switch m.Type {
			case "Pods":
				pods++
				name := m.Pods.Metric.Name
				if typ, ok := exported[name]; !ok || typ != "gauge" {
					t.Errorf("Pods metric %s: the sidecar exports it as %q, want a gauge (exported: %v)", name, typ, exported)
				}
				if v, err := strconv.ParseFloat(m.Pods.Target.AverageValue, 64); err != nil || v <= 0 || m.Pods.Target.Type != "AverageValue" {
					t.Errorf("Pods metric %s target %+v, want a positive AverageValue", name, m.Pods.Target)
				}
				found := false
				for _, r := range adapter.Rules.Custom {
					if r.Name.As != name {
						continue
					}
					found = true
					series, _, _ := strings.Cut(r.SeriesQuery, "{")
					if _, ok := exported[series]; !ok {
						t.Errorf("adapter rule for %s queries %q, which the sidecar does not export", name, series)
					}
					if ok, err := regexp.MatchString(r.Name.Matches, series); err != nil || !ok {
						t.Errorf("adapter rule name.matches %q does not match %s (%v)", r.Name.Matches, series, err)
					}
					for _, label := range []string{"namespace", "pod"} {
						if r.Resources.Overrides[label].Resource != label {
							t.Errorf("adapter rule for %s does not map the %s label to the %s resource: %+v", name, label, label, r.Resources.Overrides)
						}
					}
					for _, want := range []string{"<<.Series>>", "<<.LabelMatchers>>"} {
						if !strings.Contains(r.MetricsQuery, want) {
							t.Errorf("adapter rule for %s: metricsQuery %q lacks %s", name, r.MetricsQuery, want)
						}
					}
				}
				if !found {
					t.Errorf("no Prometheus adapter rule exposes %s (autoscaling/prometheus-adapter-values.yaml)", name)
				}
			case "Resource":
				if m.Resource.Name == "cpu" && c.Resources.Requests["cpu"] == "" {
					t.Error("CPU utilisation target without a CPU request")
				}
			default:
				t.Errorf("metric type %s", m.Type)
			}
		}
		if pods == 0 {
			t.Error("the HPA has no Pods (queue) metric")
		}
	})

	t.Run("pdb", func(t *testing.T) {
		if pdb.APIVersion != "policy/v1" || !selects(matchLabels(t, pdb), podLabels) {
			t.Errorf("PodDisruptionBudget %s selector does not select the pods %v", pdb.APIVersion, podLabels)
		}
		switch {
		case pdb.Spec.MaxUnavailable != nil && pdb.Spec.MinAvailable == nil:
			if n, ok := pdb.Spec.MaxUnavailable.(int); !ok || n < 1 {
				t.Errorf("maxUnavailable %v: want a positive count (a drain must be able to evict)", pdb.Spec.MaxUnavailable)
			}
		case pdb.Spec.MinAvailable != nil && pdb.Spec.MaxUnavailable == nil:
			if n, ok := pdb.Spec.MinAvailable.(int); !ok || n >= hpa.Spec.MinReplicas {
				t.Errorf("minAvailable %v with minReplicas %d blocks every voluntary eviction", pdb.Spec.MinAvailable, hpa.Spec.MinReplicas)
			}
		default:
			t.Errorf("PodDisruptionBudget needs exactly one of minAvailable/maxUnavailable: %+v / %+v", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
		}
	})

	t.Run("scrape", func(t *testing.T) {
		if !selects(matchLabels(t, pm), podLabels) || len(pm.Spec.PodMetricsEndpoints) != 1 {
			t.Fatalf("PodMonitor does not select the pods %v", podLabels)
		}
		ep := pm.Spec.PodMetricsEndpoints[0]
		cfg := sidecarConfig(t, cm, append([]string(nil), c.Args...))
		if ep.Path != "/metrics" || portOf(t, c, ep.Port) != addrPort(t, cfg.Addr) {
			t.Errorf("PodMonitor scrapes %s on %s, want /metrics on the sidecar's port", ep.Path, ep.Port)
		}
		ann := dep.Spec.Template.Metadata.Annotations
		if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" || ann["prometheus.io/port"] != strconv.Itoa(addrPort(t, cfg.Addr)) {
			t.Errorf("pod annotations %v do not point a Prometheus at /metrics on port %d", ann, addrPort(t, cfg.Addr))
		}
	})

	t.Run("drain", func(t *testing.T) {
		cfg := sidecarConfig(t, cm, append([]string(nil), c.Args...))
		r := c.Readiness
		notice := time.Duration(r.PeriodSeconds*max(r.FailureThreshold, 1)) * time.Second
		if cfg.DrainDelay.D() < notice {
			t.Errorf("drain_delay %s is shorter than the readiness probe takes to notice (%d s × %d)", cfg.DrainDelay.D(), r.PeriodSeconds, r.FailureThreshold)
		}
		tg := dep.Spec.Template.Spec.TerminationGracePeriodSeconds
		if tg == nil || time.Duration(*tg)*time.Second < cfg.DrainDelay.D()+cfg.ShutdownGrace.D() {
			t.Errorf("terminationGracePeriodSeconds %v < drain_delay %s + shutdown_grace %s: the kubelet would SIGKILL a draining pod", tg, cfg.DrainDelay.D(), cfg.ShutdownGrace.D())
		}
	})
}
