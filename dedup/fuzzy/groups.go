package fuzzy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"

	"github.com/sluice-data/sluice/dedup/internal/flow"
	dataio "github.com/sluice-data/sluice/io"
	"github.com/sluice-data/sluice/task"
)

// LargestGroup is one of the largest groups, with a few of its members
// named (see flow.DescribeGroups).
type LargestGroup = flow.LargestGroup

// GroupMember is one document of a group of near-duplicates, as the user
// knows it.
type GroupMember = flow.GroupMember

// GroupSize is one group and its number of documents.
type GroupSize = flow.GroupSize

// describeGroups names, for each of the first few of the largest groups,
// its first few documents: the kept one and the earliest removed ones, with
// their files, record numbers and original ids (flow.DescribeGroups). The
// original ids come from the MinHash phase's id stores (mhOut) when it kept
// them, else from the inputs. A failure is logged, not fatal: the summary
// then lacks the members.
func (w *Workflow) describeGroups(ctx context.Context, c Config, groups []LargestGroup, ccOut, idTasks, mhOut []task.Task) {
	groups = groups[:min(len(groups), flow.DescribedGroups)]
	if len(groups) == 0 {
		return
	}
	members, err := smallestMembers(groups, ccOut)
	if err != nil {
		w.logger().Warn("summary: cannot name the members of the largest groups", "err", err)
		return
	}
	var orig flow.OriginalIDs
	if refs, err := storesOf(mhOut); err == nil && len(refs) > 0 && refs[0].IDs != "" {
		ids, err := openIDStores(ctx, refs, "")
		if err != nil {
			w.logger().Warn("summary: cannot open the id stores", "err", err)
			return
		}
		defer ids.close()
		orig = func(id int64) (json.RawMessage, error) {
			js, err := ids.read(id)
			if js == nil || err != nil {
				return nil, err
			}
			return json.RawMessage(*js), nil
		}
	}
	flow.DescribeGroups(ctx, c.io(), w.logger(), groups, members, idTasks, orig)
}

// smallestMembers scans the components files for the flow.MembersPerGroup
// smallest ids of each group (a group's id is its smallest member's).
func smallestMembers(groups []LargestGroup, ccOut []task.Task) (map[int64][]int64, error) {
	members := make(map[int64][]int64, len(groups))
	for _, g := range groups {
		members[g.Group] = nil
	}
	for _, t := range ccOut {
		fg, ok := t.(*task.FileGroup)
		if !ok || len(fg.Paths) == 0 {
			continue
		}
		r, err := dataio.OpenGroupFile(fg.Paths[0], 0)
		if err != nil {
			return nil, err
		}
		for {
			ids, gs, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return nil, err
			}
			for i, g := range gs {
				if m, want := members[g]; want {
					m = append(m, ids[i])
					slices.Sort(m)
					members[g] = m[:min(len(m), flow.MembersPerGroup)]
				}
			}
		}
		r.Close()
	}
	return members, nil
}
