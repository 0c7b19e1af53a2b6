package text

import "testing"

func TestFixMojibake(t *testing.T) {
	for in, want := range map[string]string{
		"cafÃ©":                 "café",
		"itâ€™s":                "it’s",      // cp1252 reading of U+2019
		"it\u00e2\u0080\u0099s": "it’s",      // Latin-1 reading (C1 controls)
		"Ã¼ber \u00c3\u00a0 la": "über à la", // "Ã" and NBSP is à
		"cafÃƒÂ©":               "café",      // encoded twice
		"ÐŸÑ€Ð¸Ð²ÐµÑ‚":          "Привет",    // Cyrillic
		"ðŸ˜€ ok":               "😀 ok",      // four-byte sequence
		"„Fuß“":                 "„Fuß“",     // ß“ would decode to U+07D3: left alone
		"Ã alone":               "Ã alone",
		"plain ascii":           "plain ascii",
		"naïve café":            "naïve café",
	} {
		if got := FixMojibake(in); got != want {
			t.Errorf("FixMojibake(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFix(t *testing.T) {
	all := FixOptions{Mojibake: true, Newlines: true, Controls: true, Form: "NFC"}
	cases := []struct {
		in   string
		o    FixOptions
		want string
	}{
		{"a\r\nb\rc\u2028d\u0085e", FixOptions{Newlines: true}, "a\nb\nc\nd\ne"},
		{"a\x00b\x1bc\u200bd\ufeffe\u0080\tf\n", FixOptions{Controls: true}, "abc\u200bde\tf\n"},
		{"a\rb", FixOptions{Controls: true}, "a\rb"}, // \r is kept when newlines are not normalised
		{"e\u0301 ﬁ", FixOptions{Form: "NFC"}, "é ﬁ"},
		{"e\u0301 ﬁ", FixOptions{Form: "NFKC"}, "é fi"},
		{"a\n\n\n\nb\r\n\r\n\r\nc", FixOptions{CollapseNewlines: true}, "a\n\nb\r\n\r\nc"},
		{"cafÃ©\r\n\x07ok", all, "café\nok"},
		{"plain text\n", all, "plain text\n"},
	}
	for _, c := range cases {
		if got := Fix(c.in, c.o); got != c.want {
			t.Errorf("Fix(%q, %+v) = %q, want %q", c.in, c.o, got, c.want)
		}
	}
	if err := (FixOptions{Form: "NFD"}).Validate(); err == nil {
		t.Error("NFD accepted")
	}
}

func TestRemoveURLs(t *testing.T) {
	for in, want := range map[string]string{
		"see https://x.org/a?b=1, now":     "see  now", // \S+ takes the comma
		"WWW.Example.com/x and HTTP://A.B": " and ",
		"http:// x":                        "http:// x", // nothing after the scheme
		"no links here":                    "no links here",
		"xwww.a.b y":                       "x y",
	} {
		if got := RemoveURLs(in); got != want {
			t.Errorf("RemoveURLs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPythonSplitting(t *testing.T) {
	words := AppendWords(nil, " a\x1cb\u3000c\u00a0d\u200be ")
	if len(words) != 4 || words[3] != "d\u200be" { // U+200B is not white space in Python
		t.Errorf("words %q", words)
	}
	lines := pyLines(nil, "a\x1cb\x0bc\x0cd\re\r\nf\u0085g\u2028h\x1fi\n")
	want := []string{"a", "b", "c", "d", "e", "f", "g", "h\x1fi"}
	if len(lines) != len(want) {
		t.Fatalf("lines %q", lines)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, lines[i], want[i])
		}
	}
	if got := Strip("\x1f\u3000 a b\u2029"); got != "a b" {
		t.Errorf("Strip = %q", got)
	}
	if got := string(AppendLower(nil, "AİK")); got != "ai\u0307k" {
		t.Errorf("AppendLower = %q", got)
	}
}
