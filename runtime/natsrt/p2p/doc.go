// Package p2p carries messages between two Sluice processes over core NATS
// with the guarantees the executor needs and NATS alone does not give:
// delivery is acknowledged, ordered per stream, survives a receiver that
// subscribes late, and is not limited by the server's message size.
//
// # Streams
//
// A [Stream] sends messages from one sender to one receiving subject; a
// [Receiver] subscribes to the subject and hands each complete message to
// its handler, one at a time per stream, in send order.
//
//   - Chunking: a message larger than the chunk size (the server's max
//     payload minus room for headers) travels as several NATS messages and
//     is reassembled by the receiver.
//   - Acks and flow control: every chunk is a NATS request. The receiver
//     acknowledges a chunk when it has stored it, and a message's last chunk
//     when the handler has returned (the ack carries the handler's error).
//     At most Window chunks are unacknowledged at any time, so a slow
//     receiver slows its senders instead of growing their buffers, and the
//     receiver holds at most Window chunks per stream that it cannot yet
//     deliver.
//   - Late receivers: a chunk sent before anyone subscribes gets NATS's "no
//     responders" at once, and is retried with backoff, so a group can start
//     sending before every member has subscribed.
//   - Retries are safe: chunks carry (stream, sequence, part), and the
//     receiver drops duplicates and answers them with the recorded outcome.
//   - Failure: a stream ends, failing every unacknowledged message, when it
//     is closed or when its peer is declared gone (Options.Gone, fed by
//     membership), instead of retrying into the void.
//
// Messages queued by Send are not copied: the stream owns them until they
// are acknowledged.
//
// On top of streams, [Transport] implements collective.Transport and
// [DataSender] is the acknowledged point-to-point data path of shuffles.
package p2p
