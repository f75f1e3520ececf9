package main

import (
	"os"
	"path/filepath"

	"github.com/crossrank/crossrank/sidecar/server"
)

// securityOptions are the server options of --api-key/--api-key-file,
// --admin-key, --public-metrics, --tls-cert/--tls-key,
// --max-inflight-bytes and --max-conns. Keys are never logged: only their
// number is.
func (sc *sidecar) securityOptions(proxyMode bool) ([]server.Option, error) {
	cfg := sc.cfg
	keys, err := cfg.APIKeys()
	if err != nil {
		return nil, err
	}
	opts := []server.Option{
		server.WithAuth(server.AuthConfig{
			APIKeys: keys, AdminKey: cfg.AdminKey, PublicMetrics: cfg.PublicMetrics, ProxyMode: proxyMode,
		}),
		server.WithMaxInflightBytes(int64(cfg.MaxInflightBytes)),
		server.WithMaxConns(cfg.MaxConns),
	}
	sc.log.Info("access", "api_keys", len(keys), "admin_key", cfg.AdminKey != "", "public_metrics", cfg.PublicMetrics,
		"tls", cfg.TLSCert != "", "max_inflight_bytes", cfg.MaxInflightBytes, "max_conns", cfg.MaxConns)
	if len(keys) == 0 {
		sc.log.Warn("no --api-key: the rerank APIs answer every client that can reach " + cfg.Addr)
	}
	if cfg.TLSCert != "" {
		rl, err := server.NewTLSReloader(cfg.TLSCert, cfg.TLSKey, sc.log)
		if err != nil {
			return nil, err
		}
		opts = append(opts, server.WithTLS(rl.Config()))
	}
	return opts, nil
}

// pluginCacheDir is where the plugin host keeps wazero's compilation cache:
// --cache-dir (CROSSRANK_CACHE_DIR) when set ("off": none), else
// .cache/wazero when the working directory is writable, else the user's
// cache folder (os.UserCacheDir()/crossrank/wazero); when nothing is
// writable the cache is off (plugins compile at each start) and a warning
// says so, rather than failing to start.
func (sc *sidecar) pluginCacheDir() string {
	if d := sc.cfg.CacheDir; d != "" {
		return d
	}
	local := filepath.Join(".cache", "wazero")
	if writable(local) {
		return local
	}
	if ucd, err := os.UserCacheDir(); err == nil {
		d := filepath.Join(ucd, "crossrank", "wazero")
		if writable(d) {
			sc.log.Info("plugin compilation cache in the user's cache folder (the working directory is read-only)", "dir", d)
			return d
		}
	}
	sc.log.Warn("no writable folder for the plugin compilation cache (set --cache-dir): plugins compile at every start")
	return "off"
}

// writable creates dir if needed and says whether a file can be written in it.
func writable(dir string) bool {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return false
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return false
	}
	_ = f.Close()
	_ = os.Remove(f.Name())
	return true
}
