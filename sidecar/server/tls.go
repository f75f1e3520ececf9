package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// TLSReloader serves a PEM certificate and key from files and reloads them
// when they change on disk (a renewed certificate is picked up by the next
// handshake; open connections keep theirs and are never dropped). The files
// are checked at most once per CheckEvery on handshakes; a pair that fails
// to load is logged and the previous one kept.
type TLSReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	// CheckEvery is how often handshakes look at the files (default 1 s).
	CheckEvery time.Duration

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // the files' size and modification times
	checked time.Time
}

// NewTLSReloader loads certFile and keyFile (PEM) now; an error names the
// file that could not be loaded.
func NewTLSReloader(certFile, keyFile string, log *slog.Logger) (*TLSReloader, error) {
	if log == nil {
		log = slog.Default()
	}
	t := &TLSReloader{certFile: certFile, keyFile: keyFile, log: log, CheckEvery: time.Second}
	stamp, err := t.stat()
	if err != nil {
		return nil, err
	}
	if err := t.load(stamp); err != nil {
		return nil, err
	}
	return t, nil
}

// Config returns a TLS 1.2+ server configuration whose certificate comes
// from the reloader.
func (t *TLSReloader) Config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: t.GetCertificate}
}

func (t *TLSReloader) stat() (string, error) {
	var stamp string
	for _, f := range []string{t.certFile, t.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		stamp += fmt.Sprintf("%d:%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return stamp, nil
}

func (t *TLSReloader) load(stamp string) error {
	c, err := tls.LoadX509KeyPair(t.certFile, t.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s and %s: %w", t.certFile, t.keyFile, err)
	}
	t.cert, t.stamp = &c, stamp
	return nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (t *TLSReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now := time.Now(); now.Sub(t.checked) >= t.CheckEvery {
		t.checked = now
		stamp, err := t.stat()
		switch {
		case err != nil:
			t.log.Warn("tls: cannot check the certificate files; keeping the loaded certificate", "err", err)
		case stamp != t.stamp:
			if err := t.load(stamp); err != nil {
				t.log.Warn("tls: reload failed; keeping the loaded certificate", "err", err)
			} else {
				t.log.Info("tls: certificate reloaded", "cert", t.certFile)
			}
		}
	}
	return t.cert, nil
}
