// Package natsrt is the Runtime that runs actors in `sluice worker`
// processes joined through NATS.
//
// The head (the process that runs the job) uses a [Runtime] ([Start]): its
// nodes are the worker incarnations in the run's membership, and each
// runtime.Actor method is an RPC to the worker that hosts the actor (spawn
// with the JSON ActorSpec, setup with the Group, call with the runtime.Wire
// encodings of the call and its reply, stop). A worker runs its actors in
// a [Host]: per session, a runtime/local runtime whose one node is the
// worker and whose groups talk over NATS (collectives through
// p2p.Transport, shuffles through acknowledged p2p data into each rank's
// engine on the worker's scratch directory). A node declared lost fails
// its calls in flight at once (runtime.DiedError, reason lost), and the
// head tells the other workers which group ranks it hosted, so that their
// transports to it fail with ErrPeerClosed. [QueryStatus] is `sluice
// status`. The whole of it passes runtime/runtimetest.
//
// It is assembled from sub-packages, each tested against a real embedded
// nats-server:
//
//	subject   every subject, bucket and inbox name of a run, in one place
//	broker    the embedded server (JetStream, 8 MiB messages, 1 s pings,
//	          loopback by default), token + pinned self-signed TLS, per-run
//	          worker permissions, the join line, client options for
//	          workers and for an existing NATS deployment
//	member    membership: KV leases with a TTL, the head's monitor (KV watch
//	          plus $SYS disconnect advisories), fencing of lost incarnations,
//	          the hello that tells a worker which run to join, the
//	          shared-filesystem probe
//	p2p       ordered, acknowledged, chunked, windowed streams over core
//	          NATS; collective.Transport on them; acknowledged data for
//	          shuffles (DataSender, ListenData, shuffle adapters)
//	rpc       actor-addressed calls: ids, deadlines, cancel, error kinds,
//	          lost targets failed at once; one request/reply when the call
//	          fits one message, streams when it does not
//	logfwd    workers' log records in the head's log, tagged node=<name>
//	head      the head's side of a run, wired in the right order
//	worker    the body of `sluice worker`: sessions, one per incarnation,
//	          fenced on lease loss, ended when the head goes; a pluggable
//	          Host runs the actors
//	natstest  test helpers: a cluster on loopback, a pausable TCP proxy,
//	          re-executed test binaries as worker processes
//
// # Design
//
// Two roles: the head (the process running the job) and workers.
// With an embedded server the head's server is the hub; with --nats an
// existing deployment is.
//
// Identity. Every start of a worker, and every rejoin, is a new
// incarnation with a random id. The incarnation names the worker's
// connections (so the server's disconnect advisory names it), its
// membership key, and its RPC subjects. A lost incarnation never comes
// back: the head deletes its key and remembers it; its lease then fails
// and it stops its actors. Work of the old incarnation cannot be mistaken
// for work of the new one, and calls to it fail at once.
//
// Failure detection (measured on loopback, see docs/benchmarks.md):
//   - a crash closes the TCP connection: the server's DISCONNECT advisory
//     reaches the head within milliseconds, and its calls in flight fail;
//   - a partition or a hung process: the lease (0.5 s beats, 2 s TTL)
//     expires on the server, which publishes a purge marker the head's
//     watch sees about one TTL after the last beat; the worker fences
//     itself at the same time, counting from its last acknowledged beat;
//   - the head's death: its server (embedded) or its lease (external)
//     disappears, and every worker stops the run's actors and waits for
//     the next run.
//
// Separate connections. A worker has a control connection (lease,
// membership) and a data connection (calls, collectives, shuffles): a
// renewal never waits behind megabytes of data.
//
// Data path. Everything is core NATS request/reply: acknowledged, flow
// controlled by a window, chunked above the message limit. JetStream holds
// only the membership bucket (in memory). Every byte between workers goes
// through the server, so the head's NIC carries each shuffle byte twice
// with an embedded server; per-node servers or direct transfers are the
// next step when shuffles outgrow it.
//
// Security. A non-loopback listener requires auth: a 256-bit token and TLS
// with a self-signed certificate that workers pin by SHA-256. A worker
// token grants only its run's subjects, its token's inboxes and the run's
// bucket; another run's data, the JetStream API at large and $SYS are
// refused by the server.
package natsrt
