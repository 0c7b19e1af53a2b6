package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/sluice-data/sluice/executor"
	"github.com/sluice-data/sluice/observe"
	"github.com/sluice-data/sluice/runtime/natsrt/broker"
)

// obsFlags are the flags that show a run while it happens: progress lines,
// metrics and the dashboard. They are global (every command that runs a
// job reads them), registered by register.
type obsFlags struct {
	progressInterval time.Duration
	metricsAddr      string
	ui               string
	uiToken          string
	linger           lingerFlag
}

// register adds the flags to fl.
func (f *obsFlags) register(fl *pflag.FlagSet) {
	fl.DurationVar(&f.progressInterval, "progress-interval", 30*time.Second,
		"when stderr is not a terminal, log a progress line this often (per running stage: tasks done/total, items, records and bytes read, rate, ETA, actors, retries, deaths, failures); 0 turns them off. On a terminal, live bars are drawn instead")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "",
		"serve Prometheus metrics at http://ADDR/metrics during the run, e.g. :9090 (a bare port binds 127.0.0.1; give 0.0.0.0:9090 to let another host scrape); see docs/observability.md")
	fl.StringVar(&f.ui, "ui", "",
		"serve the live dashboard at http://ADDR/ during the run, e.g. :8080 (a bare port binds 127.0.0.1; a non-loopback address needs --ui-token); it also serves /metrics")
	fl.StringVar(&f.uiToken, "ui-token", "",
		"token the dashboard requires (open it as http://HOST:PORT/?token=TOKEN, or send 'Authorization: Bearer TOKEN'); required to serve --ui on a non-loopback address; also read from SLUICE_UI_TOKEN")
	fl.Var(&f.linger, "linger",
		"after the run, keep serving the dashboard and /metrics, showing the final state, for this long (e.g. 10m), or 'forever' until Ctrl-C or SIGTERM; the exit code stays the run's (default: forever with --ui on a terminal, otherwise 0: exit at once)")
}

// lingerFlag is a duration, or "forever" (negative).
type lingerFlag struct {
	d   time.Duration
	set bool
}

func (l *lingerFlag) String() string {
	switch {
	case !l.set:
		return ""
	case l.d < 0:
		return "forever"
	}
	return l.d.String()
}

func (l *lingerFlag) Set(s string) error {
	if s == "forever" {
		l.d, l.set = -1, true
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as 10m, or forever")
	}
	l.d, l.set = d, true
	return nil
}

func (l *lingerFlag) Type() string { return "duration" }

// teeLog wraps the app's logger so that the dashboard can show the log's
// tail (only when it is served).
func (a *app) teeLog() {
	if a.obs.ui == "" {
		return
	}
	a.logRing = observe.NewLogRing(500)
	a.logger = slog.New(a.logRing.Tee(a.logger.Handler()))
}

// observer watches one command's run: the monitor that the executor
// reports to, its progress lines and its HTTP servers.
type observer struct {
	mon     *observe.Monitor
	log     *slog.Logger
	servers []*http.Server
	stop    context.CancelFunc
	linger  time.Duration
	urls    []string
}

// observe starts watching a run titled title: progress lines when stderr
// is not a terminal, and the servers of --metrics-addr and --ui (listening
// before the run, so that a bad address fails before any work). Call
// finish when the run is over and close before the command returns.
func (a *app) observe(ctx context.Context, title string) (*observer, error) {
	f := &a.obs
	if f.progressInterval < 0 {
		return nil, usageErr(fmt.Errorf("--progress-interval %s: must not be negative (0 turns progress lines off)", f.progressInterval))
	}
	token := f.uiToken
	if token == "" {
		token = os.Getenv("SLUICE_UI_TOKEN")
	}
	o := &observer{log: a.logger, linger: f.linger.d}
	if !f.linger.set && f.ui != "" && isTerminal(a.stderr) {
		o.linger = -1
	}
	o.mon = observe.NewMonitor(observe.Options{Title: title, Log: a.logRing, History: f.ui != ""})
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	o.stop = stop
	o.mon.Start(bg)
	if !isTerminal(a.stderr) {
		o.mon.LogProgress(bg, a.logger, f.progressInterval)
	}
	if err := o.listen(f, token); err != nil {
		o.shutdown()
		return nil, usageErr(err)
	}
	return o, nil
}

// listen starts the metrics and dashboard servers (one server when both
// flags name the same address).
func (o *observer) listen(f *obsFlags, token string) error {
	uiAddr, err := normalizeAddr("--ui", f.ui)
	if err != nil {
		return err
	}
	metricsAddr, err := normalizeAddr("--metrics-addr", f.metricsAddr)
	if err != nil {
		return err
	}
	if uiAddr != "" {
		host, _, _ := net.SplitHostPort(uiAddr)
		if !broker.IsLoopback(host) && token == "" {
			return fmt.Errorf("--ui %s: refusing to serve the dashboard on a non-loopback address without a token "+
				"(it shows file names and the log): set --ui-token or SLUICE_UI_TOKEN, or bind 127.0.0.1 and reach it through an SSH tunnel", f.ui)
		}
		if err := o.serve(uiAddr, observe.HandlerOptions{UI: true, Metrics: true, Token: token}, "dashboard", "/"); err != nil {
			return fmt.Errorf("--ui %s: %w", f.ui, err)
		}
	}
	if metricsAddr != "" && metricsAddr != uiAddr {
		if err := o.serve(metricsAddr, observe.HandlerOptions{Metrics: true}, "metrics", "/metrics"); err != nil {
			return fmt.Errorf("--metrics-addr %s: %w", f.metricsAddr, err)
		}
	} else if metricsAddr != "" {
		o.log.Info("serving metrics", "url", o.urls[0]+"metrics")
	}
	return nil
}

// serve listens on addr and serves the monitor there.
func (o *observer) serve(addr string, ho observe.HandlerOptions, what, path string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: o.mon.Handler(ho), ReadHeaderTimeout: 10 * time.Second}
	o.servers = append(o.servers, srv)
	go srv.Serve(ln)
	url := "http://" + ln.Addr().String() + "/"
	o.urls = append(o.urls, url)
	o.log.Info("serving "+what, "url", strings.TrimSuffix(url, "/")+path)
	return nil
}

// normalizeAddr turns a port ("8080" or ":8080") into a loopback address.
func normalizeAddr(flag, addr string) (string, error) {
	if addr == "" {
		return "", nil
	}
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%s %q: want HOST:PORT or a port: %w", flag, addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// config wires the monitor into an executor configuration.
func (o *observer) config(cfg executor.Config) executor.Config {
	cfg.Observer = o.mon
	return cfg
}

// finish records how the run ended (err nil: success) and its summary.
func (o *observer) finish(ctx context.Context, err error, result any) {
	state := observe.StateSucceeded
	switch {
	case err != nil && ctx.Err() != nil:
		state = observe.StateInterrupted
	case err != nil:
		state = observe.StateFailed
	}
	if result != nil {
		o.mon.SetResult(result)
	}
	o.mon.Finish(state, err)
}

// close stops the progress lines and, after --linger (cut short by Ctrl-C
// or SIGTERM, which end ctx), the servers.
func (o *observer) close(ctx context.Context) {
	if o == nil {
		return
	}
	o.stop()
	if len(o.servers) > 0 && o.linger != 0 && ctx.Err() == nil {
		msg := "the run is over; still serving until Ctrl-C or SIGTERM"
		var timeout <-chan time.Time
		if o.linger > 0 {
			msg = "the run is over; still serving for " + o.linger.String() + " (--linger), or until Ctrl-C"
			t := time.NewTimer(o.linger)
			defer t.Stop()
			timeout = t.C
		}
		o.log.Info(msg, "url", o.urls[0])
		select {
		case <-ctx.Done():
		case <-timeout:
		}
	}
	o.shutdown()
}

// shutdown stops the servers.
func (o *observer) shutdown() {
	o.stop()
	for _, srv := range o.servers {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			o.log.Warn("stopping the HTTP server", "err", err)
		}
		cancel()
		srv.Close()
	}
	o.servers = nil
}
