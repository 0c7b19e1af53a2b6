package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-data/sluice/runtime/natsrt"
)

type statusFlags struct {
	client  clientFlags
	json    bool
	timeout time.Duration
}

func (a *app) statusCmd() *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status --nats nats://HOST:PORT --token TOKEN --ca-sha256 PIN",
		Short: "Show the workers of the job running on a NATS server, and their actors",
		Long: "Ask the head of the job running on a NATS server (a head started with --listen, or one using --nats) for its\n" +
			"workers: their resources, and the stages and actors each one runs. Give the server and the credentials of the\n" +
			"'sluice worker --join …' command the head printed (--join's URL goes to --nats). Exit 1 if no job is running.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client.config("nats", "the server in the head's 'sluice worker --join …' command")
			if err != nil {
				return usageErr(err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
			defer cancel()
			st, err := natsrt.QueryStatus(ctx, c)
			if err != nil {
				if errors.Is(err, natsrt.ErrNoRun) {
					return failedErr(fmt.Errorf("%s: %w", c.URL, err))
				}
				return failedErr(fmt.Errorf("status of %s: %w", c.URL, err))
			}
			if f.json {
				b, _ := json.MarshalIndent(st, "", "  ")
				_, err = fmt.Fprintf(a.stdout, "%s\n", b)
				return err
			}
			return writeStatus(a.stdout, st, time.Now())
		},
	}
	fl := cmd.Flags()
	f.client.add(fl, "nats", "the server: nats://HOST:PORT, as in the head's join command (required)")
	fl.BoolVar(&f.json, "json", false, "print the status as JSON")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "give up after this long")
	return cmd
}

// writeStatus prints a run's nodes, their resources, and the stages and
// actors on each.
func writeStatus(w io.Writer, st natsrt.Status, now time.Time) error {
	fmt.Fprintf(w, "run %s: %d worker(s), started %s ago (sluice %s)\n\n", st.Run, len(st.Nodes), now.Sub(st.Started).Round(time.Second), st.Version)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tHOST\tPID\tCPUS\tGPUS\tSCRATCH\tUP\tACTORS\tSTAGES")
	for _, n := range st.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%g\t%d\t%s\t%s\t%d\t%s\n", n.ID, n.Hostname, n.PID, n.CPUs, n.GPUs, n.ScratchDir,
			now.Sub(n.Started).Round(time.Second), len(n.Actors), stagesOf(n.Actors))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range st.Nodes {
		if len(n.Actors) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", n.ID)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ACTOR\tSTAGE\tSTATE\tFOR\tCALLS")
		for _, a := range n.Actors {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\n", a.ID, a.Stage, a.State, now.Sub(a.Since).Round(time.Millisecond), a.Calls)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// stagesOf is "stage (n), stage (m)" of a node's actors, or "-".
func stagesOf(actors []natsrt.ActorStatus) string {
	count := map[string]int{}
	for _, a := range actors {
		count[a.Stage]++
	}
	names := make([]string, 0, len(count))
	for s := range count {
		names = append(names, s)
	}
	sort.Strings(names)
	for i, s := range names {
		names[i] = fmt.Sprintf("%s (%d)", s, count[s])
	}
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ", ")
}
