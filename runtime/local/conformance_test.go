package local_test

import (
	"testing"

	"github.com/sluice-data/sluice/runtime/local"
	"github.com/sluice-data/sluice/runtime/runtimetest"
	"github.com/sluice-data/sluice/stage"
)

// TestConformance runs the runtime conformance suite against the local
// runtime: isolated (actors built from descriptors, everything through its
// wire form, a small shuffle message limit, two virtual nodes, one with
// GPUs), with virtual nodes but no isolation, and as it runs by default
// (one node, zero-copy calls: the ownership checks are skipped, and a node
// cannot be lost).
func TestConformance(t *testing.T) {
	nodes := func() []stage.Node {
		return []stage.Node{{ID: "n1", CPUs: 2}, {ID: "n2", CPUs: 2, GPUs: 2, GPUMemoryGB: 16}}
	}
	t.Run("isolated", func(t *testing.T) {
		runtimetest.Run(t, func(t *testing.T, reg *stage.Registry) runtimetest.Harness {
			rt := newRuntime(t, local.Options{Isolate: true, Registry: reg, MaxMessageBytes: 4096, Nodes: nodes()})
			return runtimetest.Harness{Runtime: rt, LoseNode: rt.LoseNode}
		})
	})
	t.Run("virtual-nodes", func(t *testing.T) {
		runtimetest.Run(t, func(t *testing.T, reg *stage.Registry) runtimetest.Harness {
			rt := newRuntime(t, local.Options{Nodes: nodes()})
			return runtimetest.Harness{Runtime: rt, LoseNode: rt.LoseNode, ZeroCopy: true}
		})
	})
	t.Run("default", func(t *testing.T) {
		runtimetest.Run(t, func(t *testing.T, reg *stage.Registry) runtimetest.Harness {
			return runtimetest.Harness{Runtime: newRuntime(t, local.Options{CPUs: 2}), ZeroCopy: true}
		})
	})
}
