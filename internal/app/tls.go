package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// certReloader serves the certificate of --tls-cert/--tls-key, read again
// on Reload (SIGHUP), so a renewed certificate is served without a
// restart. A pair that does not load leaves the one being served.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// newCertReloader loads the pair once; Open fails if it does not load.
func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if _, err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the pair again and serves it from the next handshake on.
func (r *certReloader) Reload() (*x509.Certificate, error) {
	c, err := loadPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, err
	}
	r.cert.Store(c)
	return c.Leaf, nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// loadPair loads a certificate and key, in the operator's terms.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s and --tls-key %s (%s, %s) do not load as a certificate and its key: %w",
			certFile, keyFile, EnvName("tls-cert"), EnvName("tls-key"), err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("--tls-cert %s: %w", certFile, err)
		}
	}
	return &c, nil
}

// tlsConfig is the server's TLS configuration on r.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.getCertificate}
}

// ReloadTLS reads --tls-cert and --tls-key again (what SIGHUP does): new
// handshakes get the new certificate. A pair that does not load is
// refused, logged with the reason, and the old certificate is kept.
func (a *App) ReloadTLS() error {
	if a.certs == nil {
		return errors.New("no TLS certificate to reload: the server runs without --tls-cert")
	}
	leaf, err := a.certs.Reload()
	if err != nil {
		a.log.Warn("TLS certificate not reloaded; still serving the previous one", "err", err)
		return err
	}
	a.log.Info("TLS certificate reloaded", slog.String("subject", leaf.Subject.String()),
		slog.Time("not_after", leaf.NotAfter), slog.String("serial", leaf.SerialNumber.String()))
	return nil
}
