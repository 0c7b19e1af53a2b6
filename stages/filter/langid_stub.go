//go:build nolangid

package filter

import (
	"errors"

	"github.com/sluice-data/sluice/stage"
)

// LanguageIDType is the registry name of the language identification stage.
const LanguageIDType = "language_id"

// languageIDType returns a language_id entry that explains its absence:
// this binary was built with -tags nolangid, without lingua-go's models
// (about 130 MB).
func languageIDType(textField, rejected stage.Field) stage.Type {
	return stage.Type{
		Name:   LanguageIDType,
		Doc:    "Not available: this binary was built with -tags nolangid (without lingua-go's language models).",
		Fields: []stage.Field{textField, rejected},
		New: func([]byte) (stage.Stage, error) {
			return nil, errors.New("language_id is not available: this sluice was built with -tags nolangid; build without it to identify languages")
		},
	}
}
