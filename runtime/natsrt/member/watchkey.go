package member

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// WatchKey returns a channel that is closed once key is gone: absent when
// the watch starts, deleted, or expired. Workers watch the head's lease
// with it. The watch lasts until ctx ends or stop is called (the channel
// then stays open unless the key was already gone).
func WatchKey(ctx context.Context, kv jetstream.KeyValue, key string) (gone <-chan struct{}, stop func(), err error) {
	wctx, cancel := context.WithCancel(ctx)
	w, err := kv.Watch(wctx, key)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("member: watch %s: %w", key, err)
	}
	g := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.Stop()
		seen := false
		for {
			select {
			case <-wctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				switch {
				case e == nil && seen:
				case e == nil, e.Operation() != jetstream.KeyValuePut:
					close(g)
					return
				default:
					seen = true
				}
			}
		}
	}()
	return g, func() { cancel(); <-done }, nil
}
