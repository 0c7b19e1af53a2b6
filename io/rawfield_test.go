package dataio

import "testing"

func TestSetJSONField(t *testing.T) {
	for _, c := range []struct{ line, name, value, want string }{
		{`{"id":1,"text":"a"}`, "text", `"b"`, `{"id":1,"text":"b"}`},
		{`{"text":"a","text":"b"}`, "text", `"c"`, `{"text":"a","text":"c"}`}, // the last occurrence, the one readers use
		{`{"id":1}`, "score", `0.5`, `{"id":1,"score":0.5}`},
		{`{ }`, "score", `1`, `{ "score":1}`},
		{` {"a" : [1, {"b":2}] }  `, "c", `"x"`, ` {"a" : [1, {"b":2}] ,"c":"x"}  `},
		{"\xef\xbb\xbf{\"text\":\"a\"}", "text", `"é"`, "\xef\xbb\xbf{\"text\":\"é\"}"},
		{`{"nested":{"text":"keep"},"text":"x"}`, "text", `"y"`, `{"nested":{"text":"keep"},"text":"y"}`},
	} {
		got, err := SetJSONField(nil, []byte(c.line), c.name, []byte(c.value))
		if err != nil || string(got) != c.want {
			t.Errorf("SetJSONField(%q, %s) = %q, %v; want %q", c.line, c.name, got, err, c.want)
		}
	}
	for _, bad := range []string{``, `[1]`, `{"a":}`, `{"a":1} x`} {
		if _, err := SetJSONField(nil, []byte(bad), "a", []byte("1")); err == nil {
			t.Errorf("SetJSONField(%q) accepted a bad line", bad)
		}
	}
}
