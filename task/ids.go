package task

import (
	"encoding/hex"
	"math/rand/v2"
	"strconv"
)

// DeriveIDs assigns ids to the outputs a stage produced from inputs, with the
// same rules as NeMo Curator:
//
//   - a source stage (its inputs are Empty tasks) gives each output that has a
//     deterministic content id (see ContentIDer) that id;
//   - a single input that fans out into N outputs gives "parent_0" ... "parent_{N-1}";
//   - N inputs giving N outputs are positional: output i gets "parent_i" + "_0",
//     where parent_i is the id of input i;
//   - any other shape gives each output a random id prefixed with "r".
//
// A stage that returns nothing for an input has filtered it: nothing is assigned.
func DeriveIDs(inputs, outputs []Task) {
	if len(outputs) == 0 {
		return
	}
	source := len(inputs) > 0
	for _, in := range inputs {
		if _, ok := in.(*Empty); !ok {
			source = false
			break
		}
	}
	switch {
	case source:
		for _, out := range outputs {
			if c, ok := out.(ContentIDer); ok {
				out.SetID(c.ContentID())
			} else {
				out.SetID(RandomID())
			}
		}
	case len(inputs) == 1 && len(outputs) > 1:
		parent := inputs[0].ID()
		for i, out := range outputs {
			out.SetID(parent + "_" + strconv.Itoa(i))
		}
	case len(inputs) == len(outputs):
		for i, out := range outputs {
			out.SetID(inputs[i].ID() + "_0")
		}
	default:
		for _, out := range outputs {
			out.SetID(RandomID())
		}
	}
}

// RandomID returns a fresh random id: "r" followed by 16 hex digits.
func RandomID() string {
	var b [8]byte
	v := rand.Uint64()
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return "r" + hex.EncodeToString(b[:])
}
