package broker

import (
	"crypto/sha256"
	"sync"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// Roles a connection can authenticate as.
type role int

const (
	roleWorker role = iota // a `sluice worker`: the run's subjects only
	roleHead               // the head's own connections: the whole run account
	roleSys                // the head's system-account connection (advisories)
)

var roleNames = [...]string{roleWorker: "worker", roleHead: "head", roleSys: "system"}

// grant is what a token entitles its holder to.
type grant struct {
	role    role
	run     subject.Run // roleWorker only
	tokenID string      // roleWorker only
}

// authenticator implements server.Authentication: it maps each presented
// token to a grant and registers the connection as a user with that
// grant's account and permissions. Tokens are looked up by their SHA-256,
// so the secret is never compared byte by byte.
type authenticator struct {
	account, sys *server.Account

	mu       sync.RWMutex
	grants   map[[32]byte]grant
	insecure *grant // what a connection with no token gets (loopback dev mode), or nil
}

func (a *authenticator) set(token string, g grant) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.grants[sha256.Sum256([]byte(token))] = g
}

func (a *authenticator) setInsecure(g *grant) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.insecure = g
}

// lookup returns the grant of token.
func (a *authenticator) lookup(token string) (grant, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if token == "" {
		if a.insecure == nil {
			return grant{}, false
		}
		return *a.insecure, true
	}
	g, ok := a.grants[sha256.Sum256([]byte(token))]
	return g, ok
}

// Check authenticates one connection (server.Authentication).
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false // no routes, gateways or leaf nodes: a single-server run
	}
	opts := c.GetOpts()
	if opts.Username != "" || opts.Password != "" || opts.Nkey != "" || opts.JWT != "" {
		return false // a token is the only credential this server knows
	}
	g, ok := a.lookup(opts.Token)
	if !ok {
		return false
	}
	u := &server.User{Username: roleNames[g.role], Account: a.account}
	switch g.role {
	case roleWorker:
		u.Permissions = WorkerPermissions(g.run, g.tokenID)
	case roleSys:
		u.Account = a.sys
	}
	c.RegisterUser(u)
	return true
}

// WorkerPermissions are the subjects a worker of run may use, given the id
// of its token ([subject.TokenID]): the run's own subjects, its reply
// inboxes, the hello subject, and the JetStream API of the run's
// membership bucket (reading and writing keys, watching them). Anything
// else (other runs, the JetStream API at large, $SYS) is refused by the
// server with a permissions violation.
func WorkerPermissions(run subject.Run, tokenID string) *server.Permissions {
	inbox := subject.InboxPrefix(tokenID) + ".>"
	kv := "KV_" + run.Bucket()
	api := "$JS.API."
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			run.All(), inbox, subject.Hello(tokenID),
			"$KV." + run.Bucket() + ".>",
			api + "STREAM.INFO." + kv,
			api + "STREAM.MSG.GET." + kv,
			api + "DIRECT.GET." + kv,
			api + "DIRECT.GET." + kv + ".>",
			api + "CONSUMER.CREATE." + kv,
			api + "CONSUMER.CREATE." + kv + ".>",
			api + "CONSUMER.DELETE." + kv + ".>",
			api + "CONSUMER.INFO." + kv + ".>",
			"$JS.FC." + kv + ".>",
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{run.All(), inbox}},
	}
}
