package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/sluice-data/sluice/stage"
	"github.com/sluice-data/sluice/stages/builtin"
	"github.com/spf13/cobra"
)

func (a *app) stagesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stages [TYPE...]",
		Short: "List the stage types and their configuration fields",
		RunE: func(_ *cobra.Command, args []string) error {
			types := builtin.Registry().Types()
			if len(args) > 0 {
				var picked []stage.Type
				for _, name := range args {
					i := slices.IndexFunc(types, func(t stage.Type) bool { return t.Name == name })
					if i < 0 {
						return usageErr(fmt.Errorf("unknown stage type %q", name))
					}
					picked = append(picked, types[i])
				}
				types = picked
			}
			return writeTypes(a.stdout, types)
		},
	}
}

// writeTypes prints each type: its name, its description wrapped, and a
// table of its config fields.
func writeTypes(w io.Writer, types []stage.Type) error {
	for i, t := range types {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, t.Name)
		for _, line := range wrap(t.Doc, 76) {
			fmt.Fprintln(w, "    "+line)
		}
		if len(t.Fields) == 0 {
			continue
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "    field\ttype\tdefault\tdescription")
		for _, f := range t.Fields {
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", f.Name, f.Type, f.Default, f.Doc)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// wrap splits text into lines of at most width bytes, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, word := range strings.Fields(text) {
		if cur.Len() > 0 && cur.Len()+1+len(word) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(word)
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}
