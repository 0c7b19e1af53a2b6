package dataio

import (
	"bytes"
	"encoding/json"
	"testing"
)

var scanSeeds = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":-0.5e-3,"b":[true,false,null],"c":{"d":"e"}}`,
	`{"a":"\u00e9\n\"\\\/\b\f\r\t"}`, `{"a":[]}`, `{"a":[[],{}]}`, `{"a":1e5}`, `{"a":1E+5}`,
	`{"a":0}`, `{"a":-0}`, "{\"a\":1}\r", `{"a":"x"}` + " \t",
	// Invalid ones.
	``, ` `, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":1 "b":2}`, `{"a":01}`, `{"a":1.}`,
	`{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":+1}`, `{"a":tru}`, `{"a":nulll}`, `{"a":"\x"}`,
	`{"a":"\u12"}`, `{"a":"\u12g4"}`, "{\"a\":\"\x1f\"}", `{"a":[1,]}`, `{"a":[1 2]}`, `{a:1}`,
	`{'a':1}`, `[]`, `1`, `"s"`, `{"a":1}}`, `{"a":1}x`, `{"a":NaN}`, `{"a":Infinity}`, `{"a":"x"`,
	`{"a":"12345678\"}`, `{"a":"123456789012345\\"}`, "{\"a\":\"1234567\x001\"}",
}

// validObject is the reference: encoding/json's Valid plus "is an object".
func validObject(s []byte) bool {
	t := bytes.TrimLeft(s, " \t\r\n")
	return json.Valid(s) && len(t) > 0 && t[0] == '{'
}

func TestScanObjectMatchesEncodingJSON(t *testing.T) {
	for _, s := range scanSeeds {
		got := scanObjectFields([]byte(s), nil, nil) == nil
		if want := validObject([]byte(s)); got != want {
			t.Errorf("%q: scanner says valid=%v, encoding/json says %v", s, got, want)
		}
	}
}

func TestScanObjectSpans(t *testing.T) {
	s := []byte(`{"x":{"text":"inner"},"text" : "a\"b" ,"id":[1, 2],"text2":"z"}`)
	spans := make([]jsonSpan, 3)
	if err := scanObjectFields(s, []string{"text", "id", "missing"}, spans); err != nil {
		t.Fatal(err)
	}
	if got := string(s[spans[0].start:spans[0].end]); got != `"a\"b"` || !spans[0].escaped {
		t.Fatalf("text span %q escaped=%v", got, spans[0].escaped)
	}
	if got := string(s[spans[1].start:spans[1].end]); got != `[1, 2]` {
		t.Fatalf("id span %q", got)
	}
	if spans[2].found {
		t.Fatal("missing key found")
	}
}

func FuzzScanObject(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		spans := make([]jsonSpan, 1)
		err := scanObjectFields(s, []string{"text"}, spans)
		if want := validObject(s); (err == nil) != want {
			t.Fatalf("%q: scanner error %v, encoding/json valid=%v", s, err, want)
		}
		if err == nil && spans[0].found {
			var m map[string]json.RawMessage
			if json.Unmarshal(s, &m) == nil {
				// encoding/json matches keys exactly in maps; last wins.
				if got, want := s[spans[0].start:spans[0].end], m["text"]; !bytes.Equal(got, want) {
					t.Fatalf("%q: span %q, encoding/json %q", s, got, want)
				}
			}
		}
	})
}

func TestAppendUnescapedMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`plain`, `a\"b\\c\/d`, `\b\f\n\r\t`, `\u00e9\u00E9x`, `\ud83d\ude00`, `\ud83d`, `\ud83dx`, `\ude00\ud83d`,
		`\ud83d\u0041`, `\u0000`, `end\\`, `\ud83d\ud83d\ude00`,
	} {
		var want string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got := string(appendUnescaped(nil, []byte(s))); got != want {
			t.Errorf("%q: got %q, want %q", s, got, want)
		}
	}
}
