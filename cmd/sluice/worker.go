package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sluice-data/sluice/internal/version"
	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/runtime/natsrt"
	"github.com/sluice-data/sluice/runtime/natsrt/broker"
	"github.com/sluice-data/sluice/runtime/natsrt/logfwd"
	"github.com/sluice-data/sluice/runtime/natsrt/worker"
	"github.com/sluice-data/sluice/stages/builtin"
)

// clientFlags say how a process reaches a NATS server: `sluice worker`
// and `sluice status`.
type clientFlags struct {
	url, token, tokenFile, pin    string
	creds, tlsCA, tlsCert, tlsKey string
}

func (f *clientFlags) add(fl *pflag.FlagSet, urlFlag, urlDoc string) {
	fl.StringVar(&f.url, urlFlag, "", urlDoc)
	fl.StringVar(&f.token, "token", "", "the head's token (or use --token-file or SLUICE_TOKEN)")
	fl.StringVar(&f.tokenFile, "token-file", "", "read the token from this file")
	fl.StringVar(&f.pin, "ca-sha256", "", "SHA-256 of the head's TLS certificate, as printed by the head: only that certificate is trusted")
	fl.StringVar(&f.creds, "creds", "", "NATS credentials file, for an existing NATS deployment")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "CA bundle to trust, for an existing NATS deployment with TLS")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "client certificate (mutual TLS), with --tls-key")
	fl.StringVar(&f.tlsKey, "tls-key", "", "client certificate key, with --tls-cert")
}

// config checks the flags and returns the client configuration.
func (f *clientFlags) config(urlFlag, hint string) (broker.ClientConfig, error) {
	if f.url == "" {
		return broker.ClientConfig{}, fmt.Errorf("--%s is required (%s)", urlFlag, hint)
	}
	token, err := f.resolveToken()
	if err != nil {
		return broker.ClientConfig{}, err
	}
	c := broker.ClientConfig{URL: f.url, Token: token, CASHA256: f.pin, CredsFile: f.creds,
		TLSCAFile: f.tlsCA, TLSCertFile: f.tlsCert, TLSKeyFile: f.tlsKey}
	return c, c.Validate()
}

// workerFlags are the flags of `sluice worker`.
type workerFlags struct {
	client        clientFlags
	cpus          float64
	gpus          int
	scratch, name string
}

func (a *app) workerCmd() *cobra.Command {
	var f workerFlags
	cmd := &cobra.Command{
		Use:   "worker --join nats://HOST:PORT --token TOKEN --ca-sha256 PIN",
		Short: "Serve a head's jobs on this machine (a cluster worker)",
		Long: "Join the NATS server of a head (or an existing NATS deployment) and run the actors of its jobs on this\n" +
			"machine, across many jobs, until stopped with SIGTERM or Ctrl-C. The head prints the exact command.\n\n" +
			"The token may also come from --token-file or the SLUICE_TOKEN environment variable (kept out of 'ps').\n" +
			"When the job ends or the head dies, the worker stops that job's actors and waits for the next job.\n" +
			"A worker that loses its connection or lease stops its actors and rejoins as a new node.\n\n" +
			"Inputs, outputs and caches are read and written at the paths the head gives: they must be on a filesystem\n" +
			"shared by the head and every worker, at the same path (the worker proves it by reading a probe file the head\n" +
			"wrote, or is refused, naming the file). Shuffle spills go to the node-local --scratch directory.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(a)
			if err != nil {
				return usageErr(err)
			}
			a.logger.Info("worker starting", "server", cfg.Client.URL, "name", cfg.Name, "cpus", cfg.CPUs, "gpus", cfg.GPUs, "scratch", cfg.Scratch)
			if err := worker.Run(cmd.Context(), cfg); err != nil {
				if errors.Is(err, worker.ErrStuck) {
					return failedErr(err)
				}
				return usageErr(err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	f.client.add(fl, "join", "the server to join: nats://HOST:PORT as printed by the head (required)")
	fl.Float64Var(&f.cpus, "cpus", 0, "CPUs this worker offers (default: the number of logical CPUs)")
	fl.IntVar(&f.gpus, "gpus", 0, "GPUs this worker offers (-1: detect with nvidia-smi)")
	fl.StringVar(&f.scratch, "scratch", "", "node-local directory for spills and shuffle files (default: the temp dir)")
	fl.StringVar(&f.name, "name", "", "name of this worker in logs and status (default: the hostname)")
	return cmd
}

// config checks the flags and builds the worker's configuration.
func (f *workerFlags) config(a *app) (worker.Config, error) {
	client, err := f.client.config("join", "the head prints the full 'sluice worker --join …' command")
	if err != nil {
		return worker.Config{}, err
	}
	if f.cpus < 0 {
		return worker.Config{}, fmt.Errorf("--cpus %v: must not be negative", f.cpus)
	}
	// Records at info and above also reach the head's log while a job runs.
	fwd := logfwd.NewHandler(a.logger.Handler(), slog.LevelInfo)
	cfg := worker.Config{
		Client: client,
		Name:   f.name, CPUs: f.cpus, GPUs: f.gpus, Scratch: f.scratch,
		Logger: slog.New(fwd), LogForward: fwd,
	}
	natsrt.NewHost(builtin.Registry(), cfg.Logger).Configure(&cfg)
	cfg.Version, _ = version.Module()
	if f.gpus < 0 {
		n, mem, err := local.DetectGPUs()
		if err != nil {
			return worker.Config{}, fmt.Errorf("--gpus -1: %w", err)
		}
		cfg.GPUs, cfg.GPUMemoryGB = n, mem
	}
	return cfg, nil
}

// resolveToken takes the token from --token, --token-file or SLUICE_TOKEN.
func (f *clientFlags) resolveToken() (string, error) {
	if f.token != "" && f.tokenFile != "" {
		return "", errors.New("--token and --token-file: give one")
	}
	if f.token != "" {
		return f.token, nil
	}
	return readTokenFile(f.tokenFile, "SLUICE_TOKEN", "--token-file")
}
