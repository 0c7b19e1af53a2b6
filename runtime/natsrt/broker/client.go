package broker

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// ClientConfig says how a process outside the head (a worker, or a head
// using an existing NATS deployment) reaches a NATS server.
type ClientConfig struct {
	// URL is the server: nats://HOST:PORT (or tls://…); several may be
	// comma-separated for a NATS cluster.
	URL string
	// Token is the bearer token of a head's embedded server (--token).
	Token string
	// CASHA256 pins the server certificate by its SHA-256 (--ca-sha256):
	// the connection uses TLS and accepts exactly that certificate.
	CASHA256 string
	// CredsFile is a NATS .creds file (JWT + nkey seed) for an existing
	// deployment.
	CredsFile string
	// TLSCAFile trusts a CA bundle instead of a pin; TLSCertFile and
	// TLSKeyFile present a client certificate (mutual TLS).
	TLSCAFile, TLSCertFile, TLSKeyFile string
	// PingInterval and MaxPingsOut: how fast a dead server is noticed
	// (0: DefaultPingInterval, DefaultMaxPingsOut).
	PingInterval time.Duration
	MaxPingsOut  int
}

// Validate reports a configuration that cannot work, naming the flag.
func (c ClientConfig) Validate() error {
	if c.URL == "" {
		return errors.New("no server URL (--join or --nats)")
	}
	for _, u := range strings.Split(c.URL, ",") {
		pu, err := url.Parse(strings.TrimSpace(u))
		if err != nil || pu.Host == "" || (pu.Scheme != "nats" && pu.Scheme != "tls") {
			return fmt.Errorf("server URL %q: want nats://HOST:PORT or tls://HOST:PORT", u)
		}
	}
	if c.CASHA256 != "" {
		if _, err := PinnedTLS(c.CASHA256); err != nil {
			return err
		}
	}
	if c.CASHA256 != "" && c.TLSCAFile != "" {
		return errors.New("--ca-sha256 and a CA file both say whom to trust: give one")
	}
	if c.Token != "" && c.CredsFile != "" {
		return errors.New("a token and a creds file are two credentials: give one")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("a client certificate needs both its certificate and its key file")
	}
	return nil
}

// TokenID is the id of the token ([subject.TokenID]); "" without a token.
func (c ClientConfig) TokenID() string { return subject.TokenID(c.Token) }

// Options are the nats.go options that carry c's credentials, trust and
// timeouts, plus the inbox prefix the server's permissions allow. name
// names the connection in the server's monitoring and advisories.
// Reconnecting is off: Sluice treats a lost connection as a lost
// incarnation and starts over (see package member).
func (c ClientConfig) Options(name string) ([]nats.Option, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	ping, pings := c.PingInterval, c.MaxPingsOut
	if ping == 0 {
		ping = DefaultPingInterval
	}
	if pings == 0 {
		pings = DefaultMaxPingsOut
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.NoReconnect(),
		nats.PingInterval(ping),
		nats.MaxPingsOutstanding(pings),
		nats.Timeout(5 * time.Second),
		nats.CustomInboxPrefix(subject.InboxPrefix(c.TokenID())),
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.CASHA256 != "" {
		t, err := PinnedTLS(c.CASHA256)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Secure(t))
	}
	if c.TLSCAFile != "" {
		opts = append(opts, nats.RootCAs(c.TLSCAFile))
	}
	if c.TLSCertFile != "" {
		opts = append(opts, nats.ClientCert(c.TLSCertFile, c.TLSKeyFile))
	}
	return opts, nil
}

// Connect opens a connection named name with c's options plus extra.
func (c ClientConfig) Connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	opts, err := c.Options(name)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	nc, err := nats.Connect(c.URL, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("broker: connect to %s: %w", c.URL, err)
	}
	return nc, nil
}
