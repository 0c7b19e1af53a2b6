package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/observe"
)

// Exit codes of the sluice command.
const (
	exitOK     = 0
	exitFailed = 1 // tasks failed, or the run aborted or was interrupted
	exitUsage  = 2 // bad flags, arguments or configuration
)

// exitError carries the exit code an error maps to.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks err as a usage or configuration error.
func usageErr(err error) error { return &exitError{code: exitUsage, err: err} }

// configErr marks err as a configuration error.
func configErr(err error) error {
	return &exitError{code: exitUsage, err: fmt.Errorf("%w: %w", errConfig, err)}
}

// failedErr marks err as a failed run.
func failedErr(err error) error { return &exitError{code: exitFailed, err: err} }

// app holds what every command shares.
type app struct {
	stdout, stderr io.Writer
	logFormat      string
	logLevel       string
	logger         *slog.Logger
	cpuProfile     string
	stopProfile    func() error
	s3             dataio.S3Options // --s3-* flags; the rest from the environment
	obs            obsFlags         // progress lines, metrics, dashboard (observe.go)
	logRing        *observe.LogRing // the log's tail for the dashboard, with --ui
}

// run executes the sluice command line args, writing to stdout and stderr,
// and returns the process exit code. Interrupt and SIGTERM cancel the run.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if a.stopProfile != nil {
		if perr := a.stopProfile(); perr != nil && err == nil {
			err = failedErr(perr)
		}
	}
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// Errors cobra returns itself concern the command line.
		ee = &exitError{code: exitUsage, err: err}
	}
	// Package prefixes mean nothing to a user; the rest of a message names
	// the flag, file or record.
	fmt.Fprintf(stderr, "sluice: %s\n", strings.ReplaceAll(ee.err.Error(), "dataio: ", ""))
	if ee.code == exitUsage && !errors.Is(err, errConfig) {
		fmt.Fprintln(stderr, "Run 'sluice --help' for usage.")
	}
	return ee.code
}

// errConfig marks configuration errors, which need no usage hint.
var errConfig = errors.New("configuration error")

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "Sluice runs text-curation pipelines on pools of actors",
		Long: "Sluice runs text-curation pipelines described in YAML: stages run on pools of actors with retries,\n" +
			"actor replacement and a failed-task manifest.\n\n" +
			"Exit codes: 0 success; 1 tasks failed or the run aborted; 2 usage or configuration error.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			l, err := newLogger(a.stderr, a.logFormat, a.logLevel)
			if err != nil {
				return usageErr(err)
			}
			a.logger = l
			dataio.SetS3Options(a.s3)
			a.teeLog()
			if a.cpuProfile != "" {
				f, err := os.Create(a.cpuProfile)
				if err != nil {
					return usageErr(fmt.Errorf("--cpuprofile: %w", err))
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					f.Close()
					return usageErr(fmt.Errorf("--cpuprofile: %w", err))
				}
				a.stopProfile = func() error {
					pprof.StopCPUProfile()
					if err := f.Close(); err != nil {
						return fmt.Errorf("--cpuprofile: %w", err)
					}
					return nil
				}
			}
			return nil
		},
	}
	// --version prints what `sluice version` prints.
	root.Version = versionString()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	root.PersistentFlags().StringVar(&a.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (read it with 'go tool pprof')")
	root.PersistentFlags().StringVar(&a.s3.Endpoint, "s3-endpoint", "", "S3 API endpoint for s3:// paths, such as http://127.0.0.1:7070 for MinIO, Ceph or versitygw (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's endpoint_url, or AWS); see docs/storage.md")
	root.PersistentFlags().StringVar(&a.s3.Region, "s3-region", "", "region of the s3:// buckets (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's region)")
	root.PersistentFlags().StringVar(&a.s3.Addressing, "s3-addressing", "", "S3 bucket addressing: auto (virtual-hosted on AWS, path-style elsewhere), path or virtual (default: the profile's s3 addressing_style, or auto)")
	a.obs.register(root.PersistentFlags())
	root.AddCommand(a.runCmd(), a.dedupCmd(), a.filterCmd(), a.explainCmd(), a.stagesCmd(), a.versionCmd(), a.workerCmd(), a.statusCmd())
	return root
}

// newLogger returns a slog logger writing to w.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// exactArgs is cobra.ExactArgs returning a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageErr(err)
		}
		return nil
	}
}
