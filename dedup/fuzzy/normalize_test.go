package fuzzy

import "testing"

func TestNormalizeText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"Hello,  World!", "hello world"},
		{"  --a_b--  ", "a b"},
		{"Ünïcode  ÉTÉ\n\tx", "ünïcode été x"},
		{"snake_case and CamelCase", "snake case and camelcase"},
		{"1,000.5", "1 000 5"},
		{"\xff bad", "bad"},
	} {
		if got := string(normalizeText(nil, c.in)); got != c.want {
			t.Errorf("normalizeText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
