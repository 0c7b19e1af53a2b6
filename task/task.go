// Package task defines the units of work that flow between stages: the Task
// interface, the concrete task types (DocumentBatch, FileGroup, Empty), the
// sentinels that never reach the next stage (Failed), the rules that derive
// task ids, and the binary codecs that move tasks between processes.
package task

import (
	"maps"
	"time"
)

// Task is one unit of work. Every task carries an id, the name of the dataset
// it belongs to, free-form string metadata, and the performance records of the
// stages that produced it.
type Task interface {
	// ID is the task's id. See DeriveIDs for how stages assign ids.
	ID() string
	// SetID replaces the task's id.
	SetID(id string)
	// Dataset is the name of the dataset the task belongs to.
	Dataset() string
	// Meta returns the task's metadata. The map is owned by the task; callers may modify it.
	Meta() map[string]string
	// Perf returns the per-stage performance records, oldest first.
	Perf() []PerfRecord
	// AddPerf appends a performance record.
	AddPerf(r PerfRecord)
	// NumItems is the number of items (documents, files, ...) the task holds.
	NumItems() int
	// Kind is the codec name of the task type (see Codec).
	Kind() string
	// header gives codecs access to the common fields.
	header() *Header
}

// PerfRecord is what one stage recorded while producing a task.
type PerfRecord struct {
	Stage       string
	ProcessTime time.Duration
	ItemsIn     int
	ItemsOut    int
	// Custom holds stage-specific metrics (for example "bytes_read").
	Custom map[string]float64
}

// Header holds the fields every task has. Concrete task types embed it.
type Header struct {
	TaskID      string
	DatasetName string
	Metadata    map[string]string
	Records     []PerfRecord
}

// ID implements Task.
func (h *Header) ID() string { return h.TaskID }

// SetID implements Task.
func (h *Header) SetID(id string) { h.TaskID = id }

// Dataset implements Task.
func (h *Header) Dataset() string { return h.DatasetName }

// Meta implements Task. It allocates the map on first use.
func (h *Header) Meta() map[string]string {
	if h.Metadata == nil {
		h.Metadata = make(map[string]string)
	}
	return h.Metadata
}

// Perf implements Task.
func (h *Header) Perf() []PerfRecord { return h.Records }

// AddPerf implements Task.
func (h *Header) AddPerf(r PerfRecord) { h.Records = append(h.Records, r) }

func (h *Header) header() *Header { return h }

// clone returns a deep copy of the header.
func (h *Header) clone() Header {
	c := Header{TaskID: h.TaskID, DatasetName: h.DatasetName, Metadata: maps.Clone(h.Metadata)}
	if h.Records != nil {
		c.Records = make([]PerfRecord, len(h.Records))
		for i, r := range h.Records {
			r.Custom = maps.Clone(r.Custom)
			c.Records[i] = r
		}
	}
	return c
}

// HeaderOf returns a copy of the common fields of t.
func HeaderOf(t Task) Header { return t.header().clone() }

// Empty is the start task: a stage pipeline with no initial tasks starts from one Empty.
type Empty struct{ Header }

// NewEmpty returns the start task.
func NewEmpty() *Empty { return &Empty{Header{TaskID: "empty"}} }

// NumItems implements Task.
func (*Empty) NumItems() int { return 0 }

// Kind implements Task.
func (*Empty) Kind() string { return KindEmpty }

// Codec names of the built-in task types.
const (
	KindEmpty         = "empty"
	KindFileGroup     = "file_group"
	KindDocumentBatch = "document_batch"
	KindFailed        = "failed"
)
