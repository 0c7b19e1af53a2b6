package subject

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	r := MustRun("r1")
	if r.All() != "sluice.r1.>" || r.Bucket() != "sluice_r1" || r.RPC("w") != "sluice.r1.rpc.w" || r.P2P("g", "3") != "sluice.r1.p2p.g.3" {
		t.Fatalf("names: %s %s %s %s", r.All(), r.Bucket(), r.RPC("w"), r.P2P("g", "3"))
	}
	for _, bad := range []string{"", "a.b", "a*", "a>", "a b", strings.Repeat("x", 65)} {
		if _, err := NewRun(bad); err == nil {
			t.Errorf("run id %q accepted", bad)
		}
	}
}

func TestTokenID(t *testing.T) {
	a, b := TokenID("secret-a"), TokenID("secret-b")
	if len(a) != 20 || a == b || strings.Contains(a, "secret") {
		t.Fatalf("token ids %q %q", a, b)
	}
	if TokenID("") != "" || InboxPrefix("") != "_INBOX" || Hello("") != "sluice.hello" {
		t.Fatal("no token must mean NATS's defaults")
	}
	if InboxPrefix(a) != "_INBOX."+a || Hello(a) != "sluice.hello."+a {
		t.Fatalf("inbox %q hello %q", InboxPrefix(a), Hello(a))
	}
}
