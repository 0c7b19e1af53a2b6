package p2p

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// Chunk headers. Short names: they travel with every chunk.
const (
	hFrom   = "S-F" // sender id, as the application named it
	hStream = "S-I" // stream instance (random per Stream), so a restarted sender starts afresh
	hSeq    = "S-Q" // message sequence number in the stream, from 1
	hPart   = "S-P" // "i/n": chunk i of n, from 0
	hMeta   = "S-M" // application metadata of the message (on chunk 0)
	hErr    = "S-E" // in an ack: the handler's error
)

// chunkHeader is what a chunk says about itself.
type chunkHeader struct {
	from, stream, meta string
	seq                uint64
	part, parts        int
}

func (h chunkHeader) encode() nats.Header {
	m := nats.Header{
		hFrom:   []string{h.from},
		hStream: []string{h.stream},
		hSeq:    []string{strconv.FormatUint(h.seq, 10)},
		hPart:   []string{strconv.Itoa(h.part) + "/" + strconv.Itoa(h.parts)},
	}
	if h.part == 0 && h.meta != "" {
		m[hMeta] = []string{h.meta}
	}
	return m
}

func decodeChunkHeader(m nats.Header) (chunkHeader, error) {
	h := chunkHeader{from: m.Get(hFrom), stream: m.Get(hStream), meta: m.Get(hMeta)}
	if h.stream == "" {
		return h, fmt.Errorf("p2p: chunk without a stream id")
	}
	seq, err := strconv.ParseUint(m.Get(hSeq), 10, 64)
	if err != nil || seq == 0 {
		return h, fmt.Errorf("p2p: chunk with bad sequence %q", m.Get(hSeq))
	}
	h.seq = seq
	i, n, ok := strings.Cut(m.Get(hPart), "/")
	if !ok {
		return h, fmt.Errorf("p2p: chunk with bad part %q", m.Get(hPart))
	}
	if h.part, err = strconv.Atoi(i); err == nil {
		h.parts, err = strconv.Atoi(n)
	}
	if err != nil || h.parts < 1 || h.part < 0 || h.part >= h.parts {
		return h, fmt.Errorf("p2p: chunk with bad part %q", m.Get(hPart))
	}
	return h, nil
}
