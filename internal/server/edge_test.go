package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/config"
	"github.com/aigate/aigate/internal/server"
	"github.com/aigate/aigate/internal/servertest"
	"github.com/aigate/aigate/internal/testdb"
	"github.com/aigate/aigate/internal/testlog"
)

func getBody(t *testing.T, client *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(raw)
}

// Issue 15, acceptance 3: /metrics on the public address answers 404; on
// the metrics address it serves, provider and model names included.
func TestMetricsOnlyOnTheMetricsAddress(t *testing.T) {
	t.Parallel()
	r := servertest.Start(t, servertest.Options{})
	resp, body := getBody(t, http.DefaultClient, r.URL+"/metrics")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	var e struct{ Message, Detail string }
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	require.Equal(t, "Not found.", e.Message)
	require.NotContains(t, body, "aigate_")

	resp, body = getBody(t, http.DefaultClient, r.MetricsURL+"/metrics")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "aigate_build_info{")
	require.Contains(t, body, `aigate_http_requests_total{code="404",method="GET",route="/metrics"} 1`)
	require.Contains(t, body, "aigate_gateway_providers")
	require.NotEqual(t, r.Addr().String(), r.MetricsAddr().String())
}

func baseConfig(t *testing.T) config.Server {
	return config.Server{
		HTTPAddress: "127.0.0.1:0", ShutdownTimeout: 10 * time.Second, EncryptionKeys: testKeys, ProviderReloadInterval: time.Hour,
		Database: config.Database{PostgresURL: testdb.URL(t), PostgresConnectTimeout: 10 * time.Second},
	}
}

// An empty --metrics-address turns the listener off; a taken one fails
// startup naming the option.
func TestMetricsAddressOffOrTaken(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	sys, err := server.New(baseConfig(t), server.Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	require.NoError(t, sys.Start(context.Background()))
	require.Nil(t, sys.MetricsAddr())
	require.Contains(t, logs.String(), "metrics listener off")
	require.NoError(t, sys.Stop(context.Background()))
	require.NotContains(t, stoppedParts(t, logs), "metrics")

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	cfg := baseConfig(t)
	cfg.MetricsAddress = taken.Addr().String()
	logs = &testlog.Buffer{}
	sys, err = server.New(cfg, server.Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Registry: prometheus.NewRegistry()})
	require.NoError(t, err)
	err = sys.Start(context.Background())
	require.ErrorContains(t, err, "choose another --metrics-address (AIGATE_METRICS_ADDRESS)")
	require.Equal(t, []string{"http"}, stoppedParts(t, logs), "the public listener, already open, is stopped")
}

// writePair writes a self-signed certificate for 127.0.0.1 and its key.
func writePair(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "aigate server test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err = x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile, cert
}

// With --tls-cert-file and --tls-key-file the System serves HTTPS with
// HTTP/2; the metrics listener stays plain HTTP on its private address.
// A half-given pair fails New, before anything starts.
func TestTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, cert := writePair(t, t.TempDir())
	cfg := baseConfig(t)
	cfg.TLSKeyFile = keyFile
	_, err := server.New(cfg, server.Deps{})
	require.ErrorContains(t, err, "--tls-key-file (AIGATE_TLS_KEY_FILE) is set but --tls-cert-file (AIGATE_TLS_CERT_FILE) is not")

	cfg.TLSCertFile, cfg.MetricsAddress = certFile, "127.0.0.1:0"
	logs := &testlog.Buffer{}
	sys, err := server.New(cfg, server.Deps{Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	require.NoError(t, sys.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, sys.Stop(context.Background())) })
	require.True(t, sys.TLS())
	require.Contains(t, logs.String(), "aigate login https://"+sys.Addr().String(), "the first-owner hint names the scheme served")

	pool := x509.NewCertPool()
	pool.AddCert(cert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, body := getBody(t, &http.Client{Transport: tr}, "https://"+sys.Addr().String()+"/readyz")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "HTTP/2.0", resp.Proto)

	resp, _ = getBody(t, http.DefaultClient, "http://"+sys.MetricsAddr().String()+"/metrics")
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
