package member

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-data/sluice/runtime/natsrt/subject"
)

// CreateBucket creates (or opens, when it exists with the same settings)
// the run's membership bucket: in memory, one revision per key, values
// expiring ttl after their last write, and a purge marker (kept for ttl) on
// expiry so that watchers learn of it.
func CreateBucket(ctx context.Context, js jetstream.JetStream, run subject.Run, ttl time.Duration) (jetstream.KeyValue, error) {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         run.Bucket(),
		Description:    "sluice run " + run.ID() + ": membership and leases",
		History:        1,
		TTL:            ttl,
		LimitMarkerTTL: max(ttl, time.Second), // the server's minimum
		Storage:        jetstream.MemoryStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("member: create bucket %s: %w", run.Bucket(), err)
	}
	return kv, nil
}

// OpenBucket opens the run's bucket, which the head created.
func OpenBucket(ctx context.Context, js jetstream.JetStream, run subject.Run) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, run.Bucket())
	if err != nil {
		return nil, fmt.Errorf("member: open bucket %s: %w", run.Bucket(), err)
	}
	return kv, nil
}

// DeleteBucket removes the run's bucket (the head does, at the end of a run).
func DeleteBucket(ctx context.Context, js jetstream.JetStream, run subject.Run) error {
	if err := js.DeleteKeyValue(ctx, run.Bucket()); err != nil {
		return fmt.Errorf("member: delete bucket %s: %w", run.Bucket(), err)
	}
	return nil
}
