//go:build !lingua

package filter

import "errors"

// linguaCompiled reports whether detector lingua is in this binary.
const linguaCompiled = false

// errNoLingua explains why detector lingua is missing.
var errNoLingua = errors.New("detector lingua is not in this binary: build sluice with -tags lingua (its models add about 128 MB)")

func linguaKnows(string) bool { return false }

func newLinguaDetector([]string, string) (languageDetector, error) {
	return nil, errNoLingua
}
