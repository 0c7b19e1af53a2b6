package normalize

import "testing"

func TestAppend(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"Hello,  World!", "hello world"},
		{"  --a_b--  ", "a b"},
		{"Ünïcode  ÉTÉ\n\tx", "ünïcode été x"},
		{"snake_case and CamelCase", "snake case and camelcase"},
		{"1,000.5", "1 000 5"},
		{"\xff bad", "bad"},
	} {
		if got := string(Append(nil, c.in)); got != c.want {
			t.Errorf("Append(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// Append appends: what dst holds is kept.
	if got := string(Append([]byte("x:"), "A B")); got != "x:a b" {
		t.Errorf("Append onto x: = %q", got)
	}
}
