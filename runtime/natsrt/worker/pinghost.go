package worker

import (
	"context"
	"encoding/json"

	"github.com/sluice-data/sluice/runtime/natsrt/rpc"
)

// PingHost is the Host of a worker that hosts no actors yet: it answers
// "ping" with the node's NodeInfo (JSON) and "echo" with the call's body,
// and refuses anything else with a KindNotFound error. runtime/natsrt
// plugs in the Host that builds stages from descriptors.
type PingHost struct{}

// Open returns the ping handler.
func (PingHost) Open(s *Session) (rpc.Handler, error) {
	info, err := json.Marshal(s.Node)
	if err != nil {
		return nil, err
	}
	return func(_ context.Context, in *rpc.Incoming) ([]byte, error) {
		switch in.Method {
		case "ping":
			return info, nil
		case "echo":
			return in.Body, nil
		}
		return nil, &rpc.Error{Kind: rpc.KindNotFound, Msg: "worker hosts no actors: method " + in.Method + " is not served"}
	}, nil
}

// Close does nothing: there are no actors.
func (PingHost) Close(*Session, error) {}
