package natsrt

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-data/sluice/runtime"
	"github.com/sluice-data/sluice/runtime/natsrt/member"
	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
	"github.com/sluice-data/sluice/stage"
)

// Methods a worker serves (rpc.Request.Method); the actor is
// rpc.Request.Actor.
const (
	methodSetupNode = "setup_node" // body: setupNodeReq (JSON)
	methodSpawn     = "spawn"      // body: runtime.ActorSpec (JSON)
	methodSetup     = "setup"      // body: setupReq (JSON)
	methodCall      = "call"       // body: runtime.Wire call; reply: runtime.Wire reply
	methodStop      = "stop"       // no body
	methodPing      = "ping"       // a health check; reply: the worker's member.NodeInfo (JSON)
)

// methodStatus is served by the head: the reply is a Status (JSON).
const methodStatus = "status"

// setupNodeReq asks a worker to run a stage's SetupOnNode.
type setupNodeReq struct {
	Spec runtime.ActorSpec `json:"spec"`
	Node stage.Node        `json:"node"`
}

// setupReq asks a worker to set an actor up, in a group or not.
type setupReq struct {
	Group *runtime.Group `json:"group,omitempty"`
}

// goneMsg tells the workers that a rank of a group is gone (its node was
// lost, or its actor stopped): their transports to it fail with
// ErrPeerClosed instead of waiting for it. The head publishes it on the
// run's events subject "gone".
type goneMsg struct {
	Group string `json:"group"`
	Rank  int    `json:"rank"`
}

const goneEvents = "gone"

// NodeID is the stage.Node id of a worker incarnation: the worker's name
// and the first 12 hex digits of its incarnation, such as "w1-3fa2b9c01d2e".
// A worker that rejoins is a new incarnation, so a node id is never reused.
// Head and worker both derive it from the worker's NodeInfo.
func NodeID(info member.NodeInfo) string {
	inc := info.Incarnation
	if len(inc) > 12 {
		inc = inc[:12]
	}
	name := strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, info.Name)
	if name == "" {
		name = "worker"
	}
	return name + "-" + inc
}

// toNode is the stage.Node of a worker incarnation.
func toNode(info member.NodeInfo) stage.Node {
	return stage.Node{ID: NodeID(info), CPUs: info.CPUs, GPUs: float64(info.GPUs), GPUMemoryGB: info.GPUMemoryGB, ScratchDir: info.ScratchDir}
}

// kindRuntime is the rpc error kind of errors encoded by a runtime.ErrorCodec
// (the rpc error's data holds the encoding).
const kindRuntime = "sluice"

// errCodec carries the errors of the runtime's RPCs: the rpc layer's own
// errors (lost, not found, a handler panic) keep their kind; every other
// error goes through the runtime's ErrorCodec, so that a *DiedError,
// stage.IsPermanent and named sentinels survive the trip.
type errCodec struct{ rc *runtime.ErrorCodec }

// Encode implements rpc.ErrorCodec.
func (c errCodec) Encode(err error) (string, string, []byte) {
	var re *rpc.Error
	if errors.As(err, &re) {
		return re.Kind, re.Msg, re.Data
	}
	var pe *rpc.PanicError
	if errors.As(err, &pe) {
		return rpc.KindPanic, err.Error(), pe.Stack
	}
	return kindRuntime, err.Error(), c.rc.Marshal(err)
}

// Decode implements rpc.ErrorCodec.
func (c errCodec) Decode(kind, msg string, data []byte) error {
	if kind == kindRuntime {
		if e, err := c.rc.Unmarshal(data); err == nil && e != nil {
			return e
		}
	}
	return &rpc.Error{Kind: kind, Msg: msg, Data: data}
}

// lostErr is the error of an operation on a node that is gone.
func lostErr(nodeID string, cause error) error {
	if cause == nil {
		return fmt.Errorf("node %s: %w", nodeID, runtime.ErrNodeLost)
	}
	return fmt.Errorf("node %s: %w (%v)", nodeID, runtime.ErrNodeLost, cause)
}
