//go:build lingua

package filter

import (
	"math"
	"testing"
)

// TestLanguageIDLingua runs the language_id test with detector lingua.
func TestLanguageIDLingua(t *testing.T) {
	testLanguageID(t, DetectorLingua)
}

// TestTrigramAgreesWithLingua checks that detector trigram, which scores
// lingua-go's trigram models as lingua-go's low-accuracy mode does, gives
// lingua's language and confidence on the sample (up to the rounding of the
// stored log-probabilities to 1/1024 nat).
func TestTrigramAgreesWithLingua(t *testing.T) {
	cands := []string{"cs", "de", "en", "es", "fr", "it", "nl", "pl", "pt", "sv", "tr", "da", "nb", "sk", "ca"}
	tri, err := NewLanguageID(LanguageIDConfig{Languages: cands, MaxChars: -1})
	if err != nil {
		t.Fatal(err)
	}
	lin, err := NewLanguageID(LanguageIDConfig{Detector: DetectorLingua, Languages: cands, MaxChars: -1})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"The river flows slowly past the old mill, and the children watch the water turn the wheel.",
		"Der Fluss fließt langsam an der alten Mühle vorbei, und die Kinder sehen zu, wie das Wasser das Rad dreht.",
		"El río pasa despacio junto al viejo molino, y los niños miran cómo el agua hace girar la rueda.",
		"O rio corre devagar junto ao velho moinho, e as crianças olham a água a fazer girar a roda.",
		"Floden rinner långsamt förbi den gamla kvarnen, och barnen tittar på när vattnet får hjulet att snurra.",
		"Elven renner sakte forbi den gamle mølla, og barna ser på at vannet får hjulet til å snurre.",
		"Řeka teče pomalu kolem starého mlýna a děti se dívají, jak voda otáčí kolem.",
		"El riu passa a poc a poc per davant del vell molí, i els nens miren com l'aigua fa girar la roda.",
		"Zobrazí informace o souborech v adresáři. Volby: -a, --all nevynechávat položky začínající tečkou.",
	}
	for _, text := range texts {
		lt, st := tri.Detect(text)
		ll, sl := lin.Detect(text)
		if lt != ll || math.Abs(st-sl) > 0.01 {
			t.Errorf("%.40q: trigram %s %.4f, lingua %s %.4f", text, lt, st, ll, sl)
		}
	}
}
