// Package broker runs the NATS server a head embeds and connects Sluice's
// processes to it (or to an existing NATS deployment).
//
// # The embedded server
//
// [Start] embeds a single nats-server with JetStream, bound to 127.0.0.1
// unless told otherwise, with a larger message limit (8 MiB, so a 1 MiB
// shuffle batch fits with room) and client pings every second, two missed
// pings ending the connection (NATS's defaults are two minutes × 2, far
// too slow to notice a dead worker).
//
// Security: a non-loopback listen address requires auth. Every client
// presents a bearer token (256 bits from crypto/rand); the server speaks
// TLS with a self-signed ECDSA P-256 certificate, which workers pin by its
// SHA-256 ([Broker.JoinLine] prints `sluice worker --join … --token …
// --ca-sha256 …`). A token grants a role:
//   - worker tokens ([Broker.OpenRun]) allow only the run's subjects
//     ([WorkerPermissions]); a wrong or missing token cannot connect at all;
//   - the head's token never leaves the process ([Broker.HeadConn]) and
//     allows the whole run account;
//   - a system token ([Broker.SysConn]) reads server advisories such as
//     client disconnects, which is how the head sees a worker die within
//     milliseconds.
//
// Only [Config.Insecure] (loopback addresses only) turns token and TLS off.
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// Defaults of the embedded server.
const (
	DefaultMaxPayload   = 8 << 20
	DefaultPingInterval = time.Second
	DefaultMaxPingsOut  = 2
	// Account is the NATS account of all run traffic on an embedded server.
	Account    = "SLUICE"
	sysAccount = "SYS"
	// storeMarker marks a JetStream store directory Sluice created, so that
	// wiping it at start never deletes files Sluice did not write.
	storeMarker = ".sluice-jetstream"
)

// Config configures an embedded server.
type Config struct {
	// Listen is the host:port workers connect to. "" means 127.0.0.1 on a
	// free port. A host that is not a loopback address requires auth (the
	// default); port 0 picks a free port.
	Listen string
	// Advertise is the host:port that goes into the join line. "" means
	// Listen's, with this machine's hostname when Listen's host is
	// unspecified (0.0.0.0 or ::).
	Advertise string
	// Insecure turns token and TLS off. Only loopback listen addresses
	// accept it.
	Insecure bool
	// StoreDir holds JetStream's files. It is wiped at start, and must be
	// empty, missing or a store an earlier Start created (it then holds a
	// marker file); "" means a fresh temporary directory, removed by
	// Shutdown.
	StoreDir string
	// CredsDir, when set, keeps the token and certificate across restarts
	// (see [LoadOrCreateCredentials]); "" means fresh ones in memory.
	CredsDir string
	// MaxPayload is the largest message in bytes (0: DefaultMaxPayload).
	MaxPayload int32
	// PingInterval and MaxPingsOut bound how long a silent client keeps its
	// connection (0: DefaultPingInterval, DefaultMaxPingsOut).
	PingInterval time.Duration
	MaxPingsOut  int
	// Logger receives the server's warnings and errors (nil: discarded).
	Logger *slog.Logger
}

// Broker is a running embedded server.
type Broker struct {
	srv       *server.Server
	auth      *authenticator
	creds     *Credentials // nil when insecure
	headToken string
	sysToken  string
	advertise string
	tmpStore  string // removed at Shutdown
}

// Start starts an embedded server and waits until it accepts connections.
func Start(cfg Config) (*Broker, error) {
	host, port, err := listenAddr(cfg.Listen)
	if err != nil {
		return nil, err
	}
	if cfg.Insecure && !IsLoopback(host) {
		return nil, fmt.Errorf("broker: refusing to listen on %s without auth: only loopback addresses may run insecure", net.JoinHostPort(host, strconv.Itoa(port)))
	}
	b := &Broker{headToken: randomToken(), sysToken: randomToken()}
	advHost, err := advertiseHost(cfg, host)
	if err != nil {
		return nil, err
	}
	if !cfg.Insecure {
		if cfg.CredsDir != "" {
			b.creds, err = LoadOrCreateCredentials(cfg.CredsDir, []string{advHost})
		} else {
			b.creds, err = NewCredentials([]string{advHost})
		}
		if err != nil {
			return nil, err
		}
	}
	store, err := b.prepareStore(cfg.StoreDir)
	if err != nil {
		return nil, err
	}
	if err := b.start(cfg, host, port, store); err != nil {
		b.removeTmpStore()
		return nil, err
	}
	b.advertise = b.advertiseAddr(cfg, advHost)
	return b, nil
}

// start builds the server options and runs the server.
func (b *Broker) start(cfg Config, host string, port int, store string) error {
	opts := &server.Options{
		Host:          host,
		Port:          port,
		ServerName:    "sluice-head",
		NoSigs:        true,
		NoLog:         cfg.Logger == nil,
		JetStream:     true,
		StoreDir:      store,
		MaxPayload:    cfg.MaxPayload,
		PingInterval:  cfg.PingInterval,
		MaxPingsOut:   cfg.MaxPingsOut,
		Accounts:      []*server.Account{server.NewAccount(Account), server.NewAccount(sysAccount)},
		SystemAccount: sysAccount,
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = DefaultMaxPayload
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.MaxPingsOut == 0 {
		opts.MaxPingsOut = DefaultMaxPingsOut
	}
	// A client may queue a few full messages before the server calls it slow.
	opts.MaxPending = 16 * int64(opts.MaxPayload)
	if b.creds != nil {
		opts.TLSConfig = serverTLS(b.creds)
		opts.TLSTimeout = 5
	}
	// The authenticator needs the accounts, which exist once the server
	// does; it is consulted only when clients connect, after Start.
	auth := &authenticator{grants: make(map[[32]byte]grant)}
	opts.CustomClientAuthentication = auth
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if cfg.Logger != nil {
		srv.SetLoggerV2(slogAdapter{cfg.Logger}, false, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("broker: server on %s did not start within 10s", net.JoinHostPort(host, strconv.Itoa(port)))
	}
	acc, err := srv.LookupAccount(Account)
	if err == nil {
		err = acc.EnableJetStream(nil, nil)
	}
	if err != nil {
		srv.Shutdown()
		return fmt.Errorf("broker: enable JetStream: %w", err)
	}
	auth.account, auth.sys = acc, srv.SystemAccount()
	auth.set(b.headToken, grant{role: roleHead})
	auth.set(b.sysToken, grant{role: roleSys})
	b.srv, b.auth = srv, auth
	return nil
}

// OpenRun lets holders of token join run as workers. token "" means the
// broker's own token (the one in [Broker.JoinLine]); on an insecure broker
// it means connections with no token. A token maps to one run: opening a
// new run with it replaces the old grant (connections already open keep
// theirs).
func (b *Broker) OpenRun(run subject.Run, token string) error {
	if run.ID() == "" {
		return errors.New("broker: OpenRun: empty run")
	}
	if token == "" && b.creds == nil {
		b.auth.setInsecure(&grant{role: roleWorker, run: run})
		return nil
	}
	if token == "" {
		token = b.creds.Token
	}
	b.auth.set(token, grant{role: roleWorker, run: run, tokenID: subject.TokenID(token)})
	return nil
}

// Token is the worker token of the join line ("" when insecure).
func (b *Broker) Token() string {
	if b.creds == nil {
		return ""
	}
	return b.creds.Token
}

// Pin is the SHA-256 of the server certificate ("" when insecure).
func (b *Broker) Pin() string {
	if b.creds == nil {
		return ""
	}
	return b.creds.Pin
}

// URL is the advertised address workers join: nats://HOST:PORT.
func (b *Broker) URL() string { return "nats://" + b.advertise }

// JoinLine is the command that joins a worker to this server.
func (b *Broker) JoinLine() string {
	if b.creds == nil {
		return "sluice worker --join " + b.URL()
	}
	return fmt.Sprintf("sluice worker --join %s --token %s --ca-sha256 %s", b.URL(), b.creds.Token, b.creds.Pin)
}

// Server is the embedded nats-server.
func (b *Broker) Server() *server.Server { return b.srv }

// HeadConn connects in process with the head's role (the whole run
// account). The token and the connection never leave the process.
func (b *Broker) HeadConn(opts ...nats.Option) (*nats.Conn, error) {
	return b.inProcess(b.headToken, "sluice-head", opts)
}

// SysConn connects in process to the system account, where the server
// publishes advisories ($SYS.ACCOUNT.SLUICE.DISCONNECT and others).
func (b *Broker) SysConn(opts ...nats.Option) (*nats.Conn, error) {
	return b.inProcess(b.sysToken, "sluice-head-sys", opts)
}

func (b *Broker) inProcess(token, name string, opts []nats.Option) (*nats.Conn, error) {
	base := []nats.Option{nats.InProcessServer(b.srv), nats.Token(token), nats.Name(name), nats.NoReconnect()}
	nc, err := nats.Connect("", append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("broker: in-process connection %s: %w", name, err)
	}
	return nc, nil
}

// Shutdown stops the server (closing every connection) and removes a
// temporary store.
func (b *Broker) Shutdown() {
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
	b.removeTmpStore()
}

// prepareStore returns the JetStream store directory, wiped.
func (b *Broker) prepareStore(dir string) (string, error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "sluice-jetstream-")
		if err != nil {
			return "", fmt.Errorf("broker: JetStream store: %w", err)
		}
		b.tmpStore = tmp
		return tmp, nil
	}
	return dir, WipeStore(dir)
}

func (b *Broker) removeTmpStore() {
	if b.tmpStore != "" {
		os.RemoveAll(b.tmpStore)
		b.tmpStore = ""
	}
}

// WipeStore empties dir, a JetStream store an earlier head left behind (a
// head killed with -9 cannot clean up), and marks it as Sluice's. It
// refuses a non-empty directory without the marker: Sluice never deletes
// files it did not write.
func WipeStore(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		entries, err = nil, os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return fmt.Errorf("broker: JetStream store %s: %w", dir, err)
	}
	marked := false
	for _, e := range entries {
		marked = marked || e.Name() == storeMarker
	}
	if len(entries) > 0 && !marked {
		return fmt.Errorf("broker: JetStream store %s is not empty and was not created by sluice; refusing to wipe it (choose an empty directory)", dir)
	}
	for _, e := range entries {
		if e.Name() != storeMarker {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("broker: wipe JetStream store: %w", err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, storeMarker), []byte("sluice JetStream store: wiped at every head start\n"), 0o600); err != nil {
		return fmt.Errorf("broker: JetStream store: %w", err)
	}
	return nil
}

// listenAddr splits Listen, defaulting to 127.0.0.1 on a free port.
func listenAddr(listen string) (string, int, error) {
	if listen == "" {
		return "127.0.0.1", server.RANDOM_PORT, nil
	}
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("broker: listen address %q: %w (want HOST:PORT)", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("broker: listen address %q: bad port %q", listen, p)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// IsLoopback reports whether host is a loopback address: "localhost" or an
// IP in 127.0.0.0/8 or ::1. Other names are not resolved (a name could
// resolve differently for the workers) and count as non-loopback.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// advertiseHost is the host of the join line.
func advertiseHost(cfg Config, host string) (string, error) {
	if cfg.Advertise != "" {
		h, _, err := net.SplitHostPort(cfg.Advertise)
		if err != nil {
			return "", fmt.Errorf("broker: advertise address %q: %w (want HOST:PORT)", cfg.Advertise, err)
		}
		return h, nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("broker: listen %s: no hostname to advertise (%w); set an advertise address", host, err)
		}
		return h, nil
	}
	return host, nil
}

func (b *Broker) advertiseAddr(cfg Config, advHost string) string {
	if cfg.Advertise != "" {
		return cfg.Advertise
	}
	port := b.srv.Addr().(*net.TCPAddr).Port
	return net.JoinHostPort(advHost, strconv.Itoa(port))
}
