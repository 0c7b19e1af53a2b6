package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/sluice-data/sluice/internal/version"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/runtime/natsrt"
	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/head"
	"github.com/sluice-data/sluice/stages/builtin"
)

// clusterFlags are the flags every command that runs a job shares: where
// its actors run. Without --listen or --nats they run in this process (the
// local runtime); with one of them they run in `sluice worker` processes
// joined through NATS, and this process is the head.
type clusterFlags struct {
	listen, advertise, credsDir string
	insecure                    bool
	nats                        string
	natsTokenFile, natsCreds    string
	natsCA, natsCert, natsKey   string
	natsSysCreds, natsAccount   string
	minWorkers                  int
	waitWorkers                 time.Duration
	sharedDir                   string
}

// defaultWaitWorkers is how long a head waits for --min-workers.
const defaultWaitWorkers = 2 * time.Minute

func (f *clusterFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.listen, "listen", "", "run the job on 'sluice worker' processes: embed a NATS server listening on `ADDR`, HOST:PORT (a bare PORT or :PORT binds 127.0.0.1; "+
		"give 0.0.0.0:PORT or an address of this machine for workers on other machines) and print the 'sluice worker --join …' command that joins it")
	fl.StringVar(&f.advertise, "advertise", "", "with --listen: the HOST:PORT workers reach this server at, for the printed join command (default: the listen address, or this machine's hostname for 0.0.0.0)")
	fl.StringVar(&f.credsDir, "creds-dir", "", "with --listen: keep the token and TLS certificate in this directory (mode 0700), so that a restarted head on the same address accepts the workers already started")
	fl.BoolVar(&f.insecure, "insecure", false, "with --listen on a loopback address only: no token and no TLS")
	fl.StringVar(&f.nats, "nats", "", "run the job on 'sluice worker' processes through an existing NATS deployment at `URL` (nats://HOST:PORT or tls://…, comma-separated for a cluster); see --nats-creds")
	fl.StringVar(&f.natsCreds, "nats-creds", "", "with --nats: NATS credentials file (JWT and nkey) of this head")
	fl.StringVar(&f.natsTokenFile, "nats-token-file", "", "with --nats: read a NATS token from this file (or set SLUICE_NATS_TOKEN)")
	fl.StringVar(&f.natsCA, "nats-tls-ca", "", "with --nats: CA bundle to trust for TLS")
	fl.StringVar(&f.natsCert, "nats-tls-cert", "", "with --nats: client certificate (mutual TLS), with --nats-tls-key")
	fl.StringVar(&f.natsKey, "nats-tls-key", "", "with --nats: client certificate key")
	fl.StringVar(&f.natsSysCreds, "nats-sys-creds", "", "with --nats: credentials of the system account, to hear of a dead worker within milliseconds from the server's disconnect advisories (without them: after the lease TTL, about 2 s)")
	fl.StringVar(&f.natsAccount, "nats-account", "", "with --nats-sys-creds: the account (public key or name) the workers connect as, whose advisories to follow")
	fl.IntVar(&f.minWorkers, "min-workers", 0, "with --listen or --nats: wait until this many workers joined before starting the job (default 1)")
	fl.DurationVar(&f.waitWorkers, "wait-workers", defaultWaitWorkers, "with --listen or --nats: how long to wait for --min-workers before giving up (exit 1), and, during the job, for a worker to join when every worker is lost")
	fl.StringVar(&f.sharedDir, "shared-dir", "", "with --listen or --nats: a directory on the filesystem shared by the head and every worker; the head writes a probe file there that a worker must read back to join "+
		"(default: the job's cache or output location; inputs, outputs and caches must be at the same paths on every machine)")
}

// enabled reports whether the job runs on workers.
func (f *clusterFlags) enabled() bool { return f.listen != "" || f.nats != "" }

// check rejects flag combinations that cannot work (usage errors).
func (f *clusterFlags) check(fl *pflag.FlagSet) error {
	if f.listen != "" && f.nats != "" {
		return errors.New("--listen and --nats: give one (embed a server, or use an existing deployment)")
	}
	if !f.enabled() {
		for _, name := range []string{"advertise", "creds-dir", "insecure", "nats-creds", "nats-token-file", "nats-tls-ca", "nats-tls-cert", "nats-tls-key",
			"nats-sys-creds", "nats-account", "min-workers", "wait-workers", "shared-dir"} {
			if fl.Changed(name) {
				return fmt.Errorf("--%s needs --listen or --nats (the job runs on this machine without them)", name)
			}
		}
		return nil
	}
	if f.nats == "" {
		for _, name := range []string{"nats-creds", "nats-token-file", "nats-tls-ca", "nats-tls-cert", "nats-tls-key", "nats-sys-creds", "nats-account"} {
			if fl.Changed(name) {
				return fmt.Errorf("--%s needs --nats", name)
			}
		}
	} else {
		for _, name := range []string{"advertise", "creds-dir", "insecure"} {
			if fl.Changed(name) {
				return fmt.Errorf("--%s needs --listen (the head embeds no server with --nats)", name)
			}
		}
	}
	if f.minWorkers < 0 || (fl.Changed("min-workers") && f.minWorkers == 0) {
		return fmt.Errorf("--min-workers %d: want at least 1", f.minWorkers)
	}
	if f.waitWorkers <= 0 {
		return fmt.Errorf("--wait-workers %s: want a positive duration such as 2m", f.waitWorkers)
	}
	return nil
}

// prepare checks the flags of a job command (fl) and, when the job runs on
// workers, makes paths absolute: a worker resolves a relative path in its
// own working directory. It refuses --workers, --cpus and --gpus, which
// size this machine's actors.
func (f *clusterFlags) prepare(fl *pflag.FlagSet, paths ...*string) error {
	if err := f.check(fl); err != nil {
		return err
	}
	if !f.enabled() {
		return nil
	}
	for _, name := range []string{"workers", "cpus", "gpus"} {
		if fl.Lookup(name) != nil && fl.Changed(name) {
			return fmt.Errorf("--%s sizes this machine's actors; with --listen or --nats each worker offers its own (sluice worker --cpus, --gpus)", name)
		}
	}
	for _, p := range paths {
		if *p == "" || dataio.IsURL(*p) { // s3:// reads the same from every node
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return nil
}

// ptrs returns pointers to the elements of s.
func ptrs(s []string) []*string {
	out := make([]*string, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}

// listenAddr fills in 127.0.0.1 for a listen address without a host.
func listenAddr(s string) (string, error) {
	if _, err := strconv.Atoi(s); err == nil {
		s = ":" + s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("--listen %q: want HOST:PORT, :PORT or PORT", s)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// headConfig builds the head's configuration from the flags; probeDir is
// where the shared-filesystem probe goes.
func (f *clusterFlags) headConfig(a *app, probeDir string) (head.Config, error) {
	cfg := head.Config{ProbeDir: probeDir, Logger: a.logger}
	cfg.Version, _ = version.Module()
	if f.listen != "" {
		addr, err := listenAddr(f.listen)
		if err != nil {
			return cfg, usageErr(err)
		}
		cfg.Embedded = &broker.Config{Listen: addr, Advertise: f.advertise, Insecure: f.insecure, CredsDir: f.credsDir,
			Logger: a.logger.With("component", "nats-server")}
		return cfg, nil
	}
	token, err := readTokenFile(f.natsTokenFile, "SLUICE_NATS_TOKEN", "--nats-token-file")
	if err != nil {
		return cfg, usageErr(err)
	}
	cfg.External = broker.ClientConfig{URL: f.nats, Token: token, CredsFile: f.natsCreds, TLSCAFile: f.natsCA, TLSCertFile: f.natsCert, TLSKeyFile: f.natsKey}
	if err := cfg.External.Validate(); err != nil {
		return cfg, usageErr(fmt.Errorf("--nats: %w", err))
	}
	if f.natsSysCreds != "" {
		if f.natsAccount == "" {
			return cfg, usageErr(errors.New("--nats-sys-creds needs --nats-account (the account whose disconnects to follow)"))
		}
		sys := broker.ClientConfig{URL: f.nats, CredsFile: f.natsSysCreds, TLSCAFile: f.natsCA, TLSCertFile: f.natsCert, TLSKeyFile: f.natsKey}
		cfg.ExternalSys, cfg.ExternalAccount = &sys, f.natsAccount
	}
	return cfg, nil
}

// readTokenFile reads a token from file, or else from the environment.
func readTokenFile(file, env, flag string) (string, error) {
	if file == "" {
		return os.Getenv(env), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// startCluster starts the head of a job that runs on workers: it prints the
// command that joins a worker and waits for --min-workers. defaultShared is
// the probe directory when --shared-dir is not given; it is created.
func (a *app) startCluster(ctx context.Context, f *clusterFlags, defaultShared string) (*natsrt.Runtime, error) {
	shared := f.sharedDir
	if shared == "" {
		shared = defaultShared
	}
	if dataio.IsURL(shared) && f.sharedDir == "" {
		// A cache on an object store needs no shared filesystem: no probe
		// (give --shared-dir when local paths must be shared too).
		shared = ""
	} else {
		var err error
		if shared, err = filepath.Abs(shared); err != nil {
			return nil, usageErr(fmt.Errorf("--shared-dir: %w", err))
		}
		if err := os.MkdirAll(shared, 0o755); err != nil {
			return nil, configErr(fmt.Errorf("--shared-dir %s: %w", shared, err))
		}
	}
	hc, err := f.headConfig(a, shared)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rt, err := natsrt.Start(sctx, natsrt.Config{Head: hc, Registry: builtin.Registry(), Logger: a.logger, RejoinWait: f.waitWorkers})
	if err != nil {
		if f.listen != "" {
			return nil, configErr(fmt.Errorf("--listen %s: %w", f.listen, err))
		}
		return nil, failedErr(fmt.Errorf("--nats %s: %w", f.nats, err))
	}
	n := max(f.minWorkers, 1)
	a.printJoin(rt, f, shared, n)
	wctx, wcancel := context.WithTimeout(ctx, f.waitWorkers)
	defer wcancel()
	nodes, err := rt.WaitWorkers(wctx, n)
	if err != nil {
		rt.Close()
		if ctx.Err() != nil {
			return nil, failedErr(fmt.Errorf("interrupted while waiting for workers: %w", ctx.Err()))
		}
		return nil, failedErr(fmt.Errorf("only %d of %d workers joined within %s (--wait-workers); start them with the command printed above, "+
			"check their logs (a worker that cannot read the probe file in %s is refused), or lower --min-workers", len(nodes), n, f.waitWorkers, shared))
	}
	var cpus float64
	for _, nd := range nodes {
		cpus += nd.CPUs
	}
	a.logger.Info("workers joined; starting the job", "workers", len(nodes), "cpus", cpus, "run", rt.Head().Run.ID())
	return rt, nil
}

// printJoin tells the user how to start workers.
func (a *app) printJoin(rt *natsrt.Runtime, f *clusterFlags, shared string, n int) {
	line := rt.Head().JoinLine()
	if line == "" { // an existing deployment: the workers bring their own credentials
		line = "sluice worker --join " + f.nats
		if f.natsCreds != "" {
			line += " --creds WORKER.creds"
		}
		if f.natsCA != "" {
			line += " --tls-ca " + f.natsCA
		}
	}
	fmt.Fprintf(a.stderr, "sluice: run %s: waiting up to %s for %d worker(s). On each machine (the shared directory %s must be visible there at the same path), run:\n\n    %s\n\n",
		rt.Head().Run.ID(), f.waitWorkers, n, shared, line)
}
