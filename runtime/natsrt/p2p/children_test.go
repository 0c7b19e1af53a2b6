package p2p_test

import "github.com/sluice-data/sluice/runtime/natsrt/natstest"

// children are the roles this package's re-executed test binary can play.
var children = natstest.Children{"rank": rankChild, "data-sender": dataSenderChild}
