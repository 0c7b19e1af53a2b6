package member

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// Protocol is the version of the head–worker protocol. A worker refuses a
// head that speaks another (head and workers must run the same sluice).
const Protocol = 1

// Hello is the head's answer to a worker that asks which run to join.
type Hello struct {
	Protocol int    `json:"protocol"`
	Run      string `json:"run"`
	// Head is the head's RPC endpoint id.
	Head string `json:"head"`
	// Beat and TTL are the membership timings the worker must use.
	Beat time.Duration `json:"beat"`
	TTL  time.Duration `json:"ttl"`
	// Probe, when set, is a file the head wrote on the shared filesystem:
	// the worker must read it back with this SHA-256 before it joins, or it
	// cannot see the run's inputs and outputs.
	Probe *Probe `json:"probe,omitempty"`
	// Version is the head's sluice version, for messages.
	Version string `json:"version,omitempty"`
}

// Probe names a file and the SHA-256 of its content.
type Probe struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// HelloRequest is what a worker says when it asks.
type HelloRequest struct {
	Incarnation string `json:"inc"`
	Name        string `json:"name"`
	Host        string `json:"host,omitempty"`
	Protocol    int    `json:"protocol"`
	Version     string `json:"version,omitempty"`
	// Refused, when set, tells the head why this worker cannot join the
	// run it was told about (it cannot read the probe file).
	Refused string `json:"refused,omitempty"`
}

// ServeHello answers workers holding the token with id tokenID
// (subject.Hello) with h until the subscription is removed. onRefused,
// when set, hears of the workers that could not join (see TellRefused).
func ServeHello(nc *nats.Conn, tokenID string, h Hello, onRefused func(HelloRequest)) (*nats.Subscription, error) {
	h.Protocol = Protocol
	data, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	sub, err := nc.Subscribe(subject.Hello(tokenID), func(m *nats.Msg) {
		var req HelloRequest
		if json.Unmarshal(m.Data, &req) == nil && req.Refused != "" {
			if onRefused != nil {
				onRefused(req)
			}
			m.Respond(nil)
			return
		}
		m.Respond(data)
	})
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("member: serve hello: %w", err)
	}
	return sub, nil
}

// ErrNoHead is returned by AskHello when no head answers.
var ErrNoHead = errors.New("member: no head is running a job on this server")

// AskHello asks the head which run to join.
func AskHello(ctx context.Context, nc *nats.Conn, tokenID string, req HelloRequest) (Hello, error) {
	req.Protocol = Protocol
	data, _ := json.Marshal(req)
	msg, err := nc.RequestWithContext(ctx, subject.Hello(tokenID), data)
	if errors.Is(err, nats.ErrNoResponders) {
		return Hello{}, ErrNoHead
	}
	if err != nil {
		return Hello{}, fmt.Errorf("member: ask the head: %w", err)
	}
	var h Hello
	if err := json.Unmarshal(msg.Data, &h); err != nil {
		return Hello{}, fmt.Errorf("member: the head's answer: %w", err)
	}
	if h.Protocol != Protocol {
		return Hello{}, fmt.Errorf("member: the head speaks protocol %d (sluice %s), this worker %d: run the same sluice version on head and workers", h.Protocol, h.Version, Protocol)
	}
	if _, err := subject.NewRun(h.Run); err != nil {
		return Hello{}, fmt.Errorf("member: the head's answer: %w", err)
	}
	return h, nil
}

// TellRefused tells the head that the worker req describes cannot join,
// and why (best effort: the head logs it).
func TellRefused(ctx context.Context, nc *nats.Conn, tokenID string, req HelloRequest, why error) {
	req.Protocol, req.Refused = Protocol, why.Error()
	data, _ := json.Marshal(req)
	nc.RequestWithContext(ctx, subject.Hello(tokenID), data)
}

// CheckProbe reads the probe file and compares its SHA-256. The error says
// what a user must fix: the worker does not see the head's filesystem.
func CheckProbe(p *Probe) error {
	if p == nil {
		return nil
	}
	data, err := os.ReadFile(p.Path)
	if err != nil {
		return fmt.Errorf("this worker cannot read the head's probe file %s (%w): input, output and cache paths must be on a filesystem shared by the head and every worker, at the same path", p.Path, err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != p.SHA256 {
		return fmt.Errorf("the head's probe file %s has different content here: this worker sees another filesystem at that path; input, output and cache paths must be shared by the head and every worker", p.Path)
	}
	return nil
}
