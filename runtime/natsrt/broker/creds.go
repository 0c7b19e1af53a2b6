package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Credentials are what a worker needs to join a head's embedded server: a
// 256-bit bearer token and the SHA-256 of the server's self-signed
// certificate, which the worker pins instead of trusting any CA.
type Credentials struct {
	// Token is 64 hex digits (256 bits from crypto/rand).
	Token string
	// Cert is the server's TLS certificate and key (ECDSA P-256).
	Cert tls.Certificate
	// Pin is the hex SHA-256 of Cert's DER encoding.
	Pin string
}

// NewCredentials makes a fresh token and a self-signed certificate valid
// for hosts (IP addresses or DNS names; loopback names are always added)
// for one year.
func NewCredentials(hosts []string) (*Credentials, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("broker: token: %w", err)
	}
	certPEM, keyPEM, err := selfSigned(hosts, time.Now())
	if err != nil {
		return nil, err
	}
	return credentialsFrom(hex.EncodeToString(raw[:]), certPEM, keyPEM)
}

func credentialsFrom(token string, certPEM, keyPEM []byte) (*Credentials, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("broker: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("broker: certificate: %w", err)
	}
	cert.Leaf = leaf
	return &Credentials{Token: token, Cert: cert, Pin: CertPin(cert.Certificate[0])}, nil
}

// CertPin is the pin of a DER certificate: its SHA-256 in hex.
func CertPin(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// selfSigned makes a PEM certificate and key for hosts, valid from now.
func selfSigned(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("broker: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("broker: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "sluice head"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range append([]string{"localhost", "127.0.0.1", "::1"}, hosts...) {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("broker: certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("broker: key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// Files in a credentials directory.
const (
	tokenFile = "token"
	certFile  = "cert.pem"
	keyFile   = "key.pem"
)

// LoadOrCreateCredentials returns the credentials kept in dir, creating
// them (dir 0700, files 0600) when dir holds none, or when the kept
// certificate expires within a day. Keeping them lets a restarted head
// accept the workers that joined its predecessor. dir must not be readable
// by other users: LoadOrCreateCredentials refuses a group- or
// world-accessible dir.
func LoadOrCreateCredentials(dir string, hosts []string) (*Credentials, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("broker: credentials dir: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("broker: credentials dir: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("broker: credentials dir %s has mode %v: other users could read the token (chmod 700 it)", dir, st.Mode().Perm())
	}
	c, err := loadCredentials(dir)
	if err == nil && time.Until(c.Cert.Leaf.NotAfter) > 24*time.Hour && c.coversHosts(hosts) {
		return c, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	token := ""
	if c != nil {
		token = c.Token // a renewed certificate keeps the token
	}
	return createCredentials(dir, hosts, token)
}

func loadCredentials(dir string) (*Credentials, error) {
	token, err := os.ReadFile(filepath.Join(dir, tokenFile))
	if err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, certFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, err
	}
	c, err := credentialsFrom(strings.TrimSpace(string(token)), certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("broker: credentials in %s: %w", dir, err)
	}
	if len(c.Token) != 64 {
		return nil, fmt.Errorf("broker: credentials in %s: token is %d characters, want 64", dir, len(c.Token))
	}
	return c, nil
}

func createCredentials(dir string, hosts []string, token string) (*Credentials, error) {
	c, err := NewCredentials(hosts)
	if err != nil {
		return nil, err
	}
	if token != "" {
		c.Token = token
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Certificate[0]})
	keyDER, err := x509.MarshalECPrivateKey(c.Cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return nil, fmt.Errorf("broker: key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	for name, data := range map[string][]byte{tokenFile: []byte(c.Token + "\n"), certFile: certPEM, keyFile: keyPEM} {
		if err := writePrivate(filepath.Join(dir, name), data); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// writePrivate writes data to path (mode 0600) through a temporary file
// and a rename, so that a crash never leaves half a key.
func writePrivate(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("broker: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("broker: rename %s: %w", tmp, err)
	}
	return nil
}

// coversHosts reports whether the certificate names every host.
func (c *Credentials) coversHosts(hosts []string) bool {
	for _, h := range hosts {
		if h != "" && c.Cert.Leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// PinnedTLS returns a client TLS configuration that accepts exactly the
// server certificate whose SHA-256 is pin (hex), whatever its name or
// issuer: the worker trusts the head it was told to trust, and nothing else.
func PinnedTLS(pin string) (*tls.Config, error) {
	want, err := hex.DecodeString(strings.ToLower(strings.TrimSpace(pin)))
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("broker: --ca-sha256 %q: want 64 hex digits (the SHA-256 the head printed)", pin)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Chain and name checks are replaced by the pin check below.
		InsecureSkipVerify: true, //nolint:gosec // the certificate is pinned in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("broker: server sent no certificate")
			}
			got := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(got[:], want) != 1 {
				return fmt.Errorf("broker: server certificate sha256 %x does not match the pinned --ca-sha256 %s", got, pin)
			}
			return nil
		},
	}, nil
}
