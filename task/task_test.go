package task

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleBatch() *DocumentBatch {
	b := NewDocumentBatch("ds", "text", []string{"a", "héllo", ""})
	b.TaskID = "b1"
	b.Meta()["source"] = "x.jsonl"
	b.AddPerf(PerfRecord{Stage: "read", ProcessTime: time.Millisecond, ItemsIn: 1, ItemsOut: 3, Custom: map[string]float64{"bytes": 12.5}})
	b.SetColumn(&Column{Name: "raw", Type: Bytes, Bytes: [][]byte{[]byte(`{"a":1}`), nil, {0xff}}})
	b.SetColumn(&Column{Name: "id", Type: Int64, Ints: []int64{-1, 0, 1 << 40}})
	b.SetColumn(&Column{Name: "score", Type: Float64, Floats: []float64{0.5, -2, 1e300}})
	b.SetColumn(&Column{Name: "keep", Type: Bool, Bools: []bool{true, false, true}})
	b.SetColumn(&Column{Name: "sig", Type: Uint32List, U32s: [][]uint32{{1, 2}, {}, {1 << 31}}})
	return b
}

func TestCodecRoundTrip(t *testing.T) {
	c := NewCodecs()
	fg := NewFileGroup("ds", []string{"b.jsonl", "a.jsonl"})
	fg.Meta()["k"] = "v"
	batch := sampleBatch()
	failed := NewFailed(batch, "chaos", []Attempt{{Actor: "a1", Outcome: "panic", Error: "boom", At: time.Unix(5, 6).UTC()}})
	for _, tk := range []Task{NewEmpty(), fg, batch, failed} {
		b, err := c.Marshal(tk)
		if err != nil {
			t.Fatalf("marshal %s: %v", tk.Kind(), err)
		}
		got, err := c.Unmarshal(b)
		if err != nil {
			t.Fatalf("unmarshal %s: %v", tk.Kind(), err)
		}
		normalize(tk)
		normalize(got)
		if !reflect.DeepEqual(got, tk) {
			t.Errorf("%s round trip:\n got %#v\nwant %#v", tk.Kind(), got, tk)
		}
		// Every strict prefix must fail cleanly, never panic.
		for i := 0; i < len(b); i++ {
			if _, err := c.Unmarshal(b[:i]); err == nil {
				t.Fatalf("%s: truncated to %d of %d bytes decoded without error", tk.Kind(), i, len(b))
			}
		}
	}
	list, err := c.MarshalList([]Task{fg, batch})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.UnmarshalList(list)
	if err != nil || len(ts) != 2 || ts[0].ID() != fg.ID() || ts[1].NumItems() != 3 {
		t.Fatalf("list round trip: %v %v", ts, err)
	}
}

// normalize maps empty and nil byte slices alike, as the wire format does.
func normalize(t Task) {
	var b *DocumentBatch
	switch v := t.(type) {
	case *DocumentBatch:
		b = v
	case *Failed:
		b, _ = v.Original.(*DocumentBatch)
	}
	if b == nil {
		return
	}
	for _, c := range b.Columns {
		canonicalNulls(c)
		for i, x := range c.Bytes {
			if len(x) == 0 {
				c.Bytes[i] = []byte{}
			}
		}
		for i, x := range c.U32s {
			if len(x) == 0 {
				c.U32s[i] = []uint32{}
			}
		}
	}
}

func TestCodecUnknownKind(t *testing.T) {
	c := NewCodecs()
	if _, err := c.Marshal(&Failed{}); err != nil {
		t.Fatalf("failed without original must encode: %v", err)
	}
	b, _ := c.Marshal(NewEmpty())
	b[2] = 'x' // corrupt the kind name "empty" -> "xmpty"
	if _, err := c.Unmarshal(b); err == nil || !strings.Contains(err.Error(), "xmpty") {
		t.Fatalf("unknown kind error = %v", err)
	}
}

func TestDeriveIDs(t *testing.T) {
	mk := func(ids ...string) []Task {
		var ts []Task
		for _, id := range ids {
			e := &Empty{}
			e.TaskID = id
			ts = append(ts, &DocumentBatch{Header: Header{TaskID: id}})
		}
		return ts
	}
	ids := func(ts []Task) []string {
		var s []string
		for _, t := range ts {
			s = append(s, t.ID())
		}
		return s
	}
	// fan-out
	out := mk("", "", "")
	DeriveIDs(mk("p"), out)
	if got := ids(out); !reflect.DeepEqual(got, []string{"p_0", "p_1", "p_2"}) {
		t.Errorf("fan-out ids = %v", got)
	}
	// positional
	out = mk("", "")
	DeriveIDs(mk("a", "b"), out)
	if got := ids(out); !reflect.DeepEqual(got, []string{"a_0", "b_0"}) {
		t.Errorf("positional ids = %v", got)
	}
	// other shapes: random, distinct, prefixed r
	out = mk("", "")
	DeriveIDs(mk("a", "b", "c"), out)
	if a, b := out[0].ID(), out[1].ID(); !strings.HasPrefix(a, "r") || len(a) != 17 || a == b {
		t.Errorf("random ids = %q %q", a, b)
	}
	// source stage: content ids, deterministic and order-independent
	g1 := &FileGroup{Paths: []string{"x", "y"}}
	g2 := &FileGroup{Paths: []string{"y", "x"}}
	g3 := &FileGroup{Paths: []string{"x", "z"}}
	DeriveIDs([]Task{NewEmpty()}, []Task{g1, g2, g3})
	if g1.ID() != g2.ID() || g1.ID() == g3.ID() || !strings.HasPrefix(g1.ID(), "fg_") {
		t.Errorf("content ids = %q %q %q", g1.ID(), g2.ID(), g3.ID())
	}
}

func TestFilterTakeConcat(t *testing.T) {
	b := sampleBatch()
	f := b.Filter([]bool{true, false, true})
	if f.NumRows() != 2 || f.Texts()[1] != "" || f.Column("id").Ints[1] != 1<<40 {
		t.Fatalf("filter: %+v", f.Columns)
	}
	if b.NumRows() != 3 {
		t.Fatal("filter modified its input")
	}
	all, err := ConcatBatches([]*DocumentBatch{f, b})
	if err != nil || all.NumRows() != 5 || all.Validate() != nil {
		t.Fatalf("concat: %v %v", all, err)
	}
	other := NewDocumentBatch("ds", "text", []string{"z"})
	if _, err := ConcatBatches([]*DocumentBatch{b, other}); err == nil {
		t.Fatal("concat of different schemas must fail")
	}
	if err := b.RequireColumns("id", "nope", "gone"); err == nil || !strings.Contains(err.Error(), "nope, gone") {
		t.Fatalf("RequireColumns error = %v", err)
	}
	bad := NewDocumentBatch("ds", "text", []string{"a"})
	bad.SetColumn(&Column{Name: "id", Type: Int64})
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `"id"`) {
		t.Fatalf("Validate = %v", err)
	}
}
