package executor

import (
	"errors"
	"slices"
	"testing"

	"github.com/sluice-data/sluice/stage"
)

// TestLedgerPlacesByNode: actors go to the node with the most CPUs left;
// whole GPUs take free devices of their node, fractions pack onto one
// device; a device is never handed out twice unless overcommitted; released
// bookings free their devices; a lost node gets nothing.
func TestLedgerPlacesByNode(t *testing.T) {
	l := newLedger()
	l.join(stage.Node{ID: "a", CPUs: 4, GPUs: 2, GPUMemoryGB: 16})
	l.join(stage.Node{ID: "b", CPUs: 2})
	if c, g := l.totals(); c != 6 || g != 2 {
		t.Fatalf("totals %g %g", c, g)
	}

	// CPU-only actors spread by free CPUs: a (4), a (3), then a 2 / b 2 tie → fewer actors: b.
	var nodes []string
	var pls []placement
	for range 3 {
		p, err := l.acquire(stage.Resources{CPUs: 1})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, p.node.ID)
		pls = append(pls, p)
	}
	if !slices.Equal(nodes, []string{"a", "a", "b"}) {
		t.Fatalf("cpu placements %v", nodes)
	}
	for _, p := range pls {
		l.release(p)
	}

	// Two 1-GPU actors get devices 0 and 1 of node a; a third finds none free.
	g1, err1 := l.acquire(stage.Resources{CPUs: 1, GPUs: 1})
	g2, err2 := l.acquire(stage.Resources{CPUs: 1, GPUs: 1})
	if err1 != nil || err2 != nil || g1.node.ID != "a" || g2.node.ID != "a" || slices.Equal(g1.devices, g2.devices) {
		t.Fatalf("gpu placements %+v %+v (%v %v)", g1, g2, err1, err2)
	}
	if _, err := l.acquire(stage.Resources{CPUs: 1, GPUs: 1}); !errors.Is(err, errNoFreeGPU) {
		t.Fatalf("third GPU actor: %v, want errNoFreeGPU", err)
	}
	over, err := l.overcommit(stage.Resources{CPUs: 1, GPUs: 1})
	if err != nil || over.node.ID != "a" || len(over.devices) != 1 {
		t.Fatalf("overcommit %+v %v", over, err)
	}
	l.release(over)
	l.release(g1)
	g3, err := l.acquire(stage.Resources{GPUs: 1})
	if err != nil || !slices.Equal(g3.devices, g1.devices) {
		t.Fatalf("after release got %+v %v, want device %v", g3, err, g1.devices)
	}
	l.release(g2)
	l.release(g3)

	// Fractions pack: four 8 GB actors on 16 GB devices use two devices, two each.
	count := map[int]int{}
	var frac []placement
	for range 4 {
		p, err := l.acquire(stage.Resources{GPUMemoryGB: 8})
		if err != nil {
			t.Fatal(err)
		}
		count[p.devices[0]]++
		frac = append(frac, p)
	}
	if count[0] != 2 || count[1] != 2 {
		t.Fatalf("fractions placed %v", count)
	}
	if _, err := l.acquire(stage.Resources{GPUMemoryGB: 8}); !errors.Is(err, errNoFreeGPU) {
		t.Fatalf("fifth fraction: %v", err)
	}
	for _, p := range frac {
		l.release(p)
	}
	// A 2-GPU actor takes both devices.
	if p, err := l.acquire(stage.Resources{GPUs: 2}); err != nil || !slices.Equal(p.devices, []int{0, 1}) {
		t.Fatalf("2 GPUs: %+v %v", p, err)
	}

}

// TestLedgerLostNodes: a lost node takes nothing, even if listed again
// later, and leaves the totals.
func TestLedgerLostNodes(t *testing.T) {
	l := newLedger()
	l.join(stage.Node{ID: "a", CPUs: 4, GPUs: 2, GPUMemoryGB: 16})
	l.join(stage.Node{ID: "b", CPUs: 2})
	l.lose("b")
	l.join(stage.Node{ID: "b", CPUs: 2})
	for range 5 {
		p, err := l.acquire(stage.Resources{CPUs: 1})
		if err != nil || p.node.ID != "a" {
			t.Fatalf("after losing b: %+v %v", p, err)
		}
	}
	if c, _ := l.totals(); c != 4 {
		t.Fatalf("totals after the loss: %g CPUs", c)
	}
	l.lose("a")
	if _, err := l.acquire(stage.Resources{CPUs: 1}); err == nil {
		t.Fatal("placed on no live node")
	}
	rep := l.report(nil)
	if len(rep) != 2 || !rep[0].Lost || !rep[1].Lost || rep[0].ActorsStarted == 0 {
		t.Fatalf("report %+v", rep)
	}
}

// TestLedgerNoGPUs: a GPU request on a cluster without GPUs fails clearly.
func TestLedgerNoGPUs(t *testing.T) {
	l := newLedger()
	l.join(stage.Node{ID: "a", CPUs: 2})
	if _, err := l.acquire(stage.Resources{GPUs: 1}); err == nil || errors.Is(err, errNoFreeGPU) {
		t.Fatalf("err = %v", err)
	}
	if _, err := l.overcommit(stage.Resources{GPUs: 1}); err == nil {
		t.Fatal("overcommitted GPUs that do not exist")
	}
}
