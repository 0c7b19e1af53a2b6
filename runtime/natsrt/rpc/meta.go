package rpc

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Message kinds on an endpoint's subject.
const (
	msgCall   = "call"
	msgCancel = "cancel"
	msgReply  = "reply"
	// msgReplyStream answers a direct call whose reply is too large for
	// one message: the reply follows on the caller's stream.
	msgReplyStream = "reply_stream"
)

// hMeta is the header that carries meta on direct messages.
const hMeta = "S-RPC"

// meta is what travels in a p2p message's metadata (URL-encoded).
type meta struct {
	kind    string
	id      string        // call id, unique per caller
	caller  string        // the caller's endpoint (where the reply goes)
	actor   string        // call: the target actor on the endpoint
	method  string        // call: the method
	timeout time.Duration // call: time left until the caller's deadline at send time; 0 for none
	attempt int           // call: the executor's attempt number (informational)
	errKind string        // reply: "" for success
	errMsg  string
}

func (m meta) encode() string {
	v := url.Values{"k": {m.kind}, "i": {m.id}}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("c", m.caller)
	set("a", m.actor)
	set("m", m.method)
	if m.timeout > 0 {
		v.Set("d", strconv.FormatInt(int64(m.timeout), 10))
	}
	if m.attempt != 0 {
		v.Set("n", strconv.Itoa(m.attempt))
	}
	set("ek", m.errKind)
	set("em", m.errMsg)
	return v.Encode()
}

func decodeMeta(s string) (meta, error) {
	v, err := url.ParseQuery(s)
	if err != nil {
		return meta{}, fmt.Errorf("rpc: bad message metadata: %w", err)
	}
	m := meta{kind: v.Get("k"), id: v.Get("i"), caller: v.Get("c"), actor: v.Get("a"), method: v.Get("m"),
		errKind: v.Get("ek"), errMsg: v.Get("em")}
	if d := v.Get("d"); d != "" {
		ns, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return meta{}, fmt.Errorf("rpc: bad deadline %q", d)
		}
		m.timeout = time.Duration(ns)
	}
	if n := v.Get("n"); n != "" {
		if m.attempt, err = strconv.Atoi(n); err != nil {
			return meta{}, fmt.Errorf("rpc: bad attempt %q", n)
		}
	}
	if m.id == "" {
		return meta{}, fmt.Errorf("rpc: message %q without a call id", m.kind)
	}
	return m, nil
}
