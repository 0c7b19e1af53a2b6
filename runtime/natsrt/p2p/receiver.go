package p2p

import (
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
)

// Message is a complete message as a Receiver delivers it.
type Message struct {
	// From is the sender's name (NewStream's from).
	From string
	// Meta is the sender's metadata.
	Meta string
	// Data is the payload; the handler owns it.
	Data []byte
}

// Handler handles one message. The receiver acknowledges the message when
// the handler returns, with its error. Messages of one stream are handled
// one at a time, in order; different streams run concurrently.
type Handler func(Message) error

// keepResults is how many handled messages per stream keep their outcome
// for answering duplicate chunks. Senders never have more than their
// window of chunks unacknowledged, so this is plenty.
const keepResults = 1024

// Receiver subscribes to one subject and delivers the messages of every
// stream that sends to it.
type Receiver struct {
	nc  *nats.Conn
	sub *nats.Subscription
	h   Handler

	mu      sync.Mutex
	streams map[string]*rstream
	closed  bool
	wg      sync.WaitGroup
}

// rstream is the receiving end of one Stream.
type rstream struct {
	from    string
	next    uint64               // the next sequence to hand to the worker
	partial map[uint64]*assembly // messages still missing chunks, or waiting for earlier ones
	waiting map[uint64][]string  // handed over, handler not done: final-chunk reply subjects
	results map[uint64]string    // handled: the handler's error text ("" for ok)
	queue   []Message            // complete, in order, for the worker
	seqs    []uint64             // sequences of queue
	wake    chan struct{}
}

type assembly struct {
	parts   [][]byte
	got     int
	meta    string
	replies []string // reply subjects of the final chunk
}

// Listen subscribes to subject and delivers to h.
func Listen(nc *nats.Conn, subject string, h Handler) (*Receiver, error) {
	r := &Receiver{nc: nc, h: h, streams: make(map[string]*rstream)}
	sub, err := nc.Subscribe(subject, r.onChunk)
	if err != nil {
		return nil, fmt.Errorf("p2p: subscribe %s: %w", subject, err)
	}
	// Senders' windows bound what can be pending; never drop as a slow consumer.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("p2p: subscribe %s: %w", subject, err)
	}
	if err := nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("p2p: subscribe %s: %w", subject, err)
	}
	r.sub = sub
	return r, nil
}

// Close unsubscribes and waits for running handlers. Messages not yet
// handled are dropped (their senders get no ack).
func (r *Receiver) Close() {
	r.sub.Unsubscribe()
	r.mu.Lock()
	r.closed = true
	for _, st := range r.streams {
		close(st.wake)
	}
	r.streams = nil
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *Receiver) respond(reply, errText string) {
	if reply == "" {
		return
	}
	m := &nats.Msg{Subject: reply}
	if errText != "" {
		m.Header = nats.Header{hErr: []string{errText}}
	}
	r.nc.PublishMsg(m) // a lost ack is resent by the sender's retry
}

// onChunk runs on the subscription's goroutine: it files the chunk and
// never blocks on a handler.
func (r *Receiver) onChunk(m *nats.Msg) {
	h, err := decodeChunkHeader(m.Header)
	if err != nil {
		r.respond(m.Reply, err.Error())
		return
	}
	final := h.part == h.parts-1
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	st := r.stream(h)
	if h.seq < st.next { // a duplicate of a message already handed over
		if res, done := st.results[h.seq]; done || !final {
			r.mu.Unlock()
			r.respond(m.Reply, res)
			return
		}
		st.waiting[h.seq] = append(st.waiting[h.seq], m.Reply)
		r.mu.Unlock()
		return
	}
	a := st.partial[h.seq]
	if a == nil {
		a = &assembly{parts: make([][]byte, h.parts)}
		st.partial[h.seq] = a
	}
	if a.parts[h.part] == nil {
		a.parts[h.part] = m.Data
		if a.parts[h.part] == nil {
			a.parts[h.part] = []byte{}
		}
		a.got++
	}
	if h.part == 0 {
		a.meta = h.meta
	}
	reply := ""
	if final {
		a.replies = append(a.replies, m.Reply)
	} else {
		reply = m.Reply
	}
	r.advance(st)
	r.mu.Unlock()
	r.respond(reply, "")
}

// stream returns (creating) the state of h's stream; r.mu is held.
func (r *Receiver) stream(h chunkHeader) *rstream {
	st := r.streams[h.stream]
	if st == nil {
		st = &rstream{from: h.from, next: 1, partial: make(map[uint64]*assembly), waiting: make(map[uint64][]string),
			results: make(map[uint64]string), wake: make(chan struct{}, 1)}
		r.streams[h.stream] = st
		r.wg.Add(1)
		go r.work(st)
	}
	return st
}

// advance hands complete messages to the worker in order; r.mu is held.
func (r *Receiver) advance(st *rstream) {
	moved := false
	for {
		a := st.partial[st.next]
		if a == nil || a.got < len(a.parts) {
			break
		}
		delete(st.partial, st.next)
		st.queue = append(st.queue, Message{From: st.from, Meta: a.meta, Data: join(a.parts)})
		st.seqs = append(st.seqs, st.next)
		st.waiting[st.next] = a.replies
		st.next++
		moved = true
	}
	if moved {
		select {
		case st.wake <- struct{}{}:
		default:
		}
	}
}

func join(parts [][]byte) []byte {
	if len(parts) == 1 {
		return parts[0]
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// work runs the handler on st's messages in order and acknowledges them.
func (r *Receiver) work(st *rstream) {
	defer r.wg.Done()
	for range st.wake {
		for {
			r.mu.Lock()
			if r.closed || len(st.queue) == 0 {
				r.mu.Unlock()
				break
			}
			msg, seq := st.queue[0], st.seqs[0]
			st.queue, st.seqs = st.queue[1:], st.seqs[1:]
			r.mu.Unlock()

			res := ""
			if err := r.h(msg); err != nil {
				res = err.Error()
			}
			r.mu.Lock()
			replies := st.waiting[seq]
			delete(st.waiting, seq)
			st.results[seq] = res
			delete(st.results, seq-keepResults)
			r.mu.Unlock()
			for _, reply := range replies {
				r.respond(reply, res)
			}
		}
	}
}
