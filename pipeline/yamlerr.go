package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file turns YAML and config errors into messages in the file's own
// terms: the key and its line, the kind of value wanted, the known keys
// and the nearest one, never a Go type or struct field.

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError reports a YAML syntax error at the line where it is. The
// parser names the line where the enclosing block starts (so a badly
// indented line 6 under a list that starts at line 4 is reported at line
// 4); the first prefix of the file, from that line on, that fails to parse
// for a reason other than ending early ends at the line at fault.
func (l *loader) syntaxError(data []byte, err error) error {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %s", l.path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[2]
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) <= 5000 { // the search parses a prefix per line
		for n := max(line, 1); n <= len(lines); n++ {
			var node yaml.Node
			perr := yaml.Unmarshal([]byte(strings.Join(lines[:n], "")), &node)
			if perr != nil && !strings.Contains(perr.Error(), "end of stream") {
				line = n
				break
			}
		}
	}
	hint := ""
	if strings.Contains(msg, "did not find expected key") || strings.Contains(msg, "did not find expected '-'") ||
		strings.Contains(msg, "indentation") || strings.Contains(msg, "mapping values are not allowed") {
		hint = "; check this line's indentation against the lines above (indent with spaces; the keys of one mapping line up, and list items start with \"- \")"
	}
	return l.errorf(line, "%s%s", msg, hint)
}

// decodeStruct decodes the mapping n into the struct v points to, key by
// key, by the fields' yaml tags. An unknown key is an error listing the
// known keys and suggesting the nearest; a value of the wrong kind is an
// error naming the key, its line and the kind of value wanted. section
// prefixes messages ("executor", "stage read").
func (l *loader) decodeStruct(n *yaml.Node, v any, section string) error {
	rv := reflect.ValueOf(v).Elem()
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return l.errorf(n.Line, "%s: want a mapping of keys to values, got %s", section, describeNode(n))
	}
	fields, keys := yamlFields(rv.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		if !ok {
			return l.unknownKey(k, section, keys)
		}
		if err := l.decodeValue(val, rv.Field(idx), section+": "+k.Value); err != nil {
			return err
		}
	}
	return nil
}

// unknownKey reports key k, not one of known, with the nearest known key.
func (l *loader) unknownKey(k *yaml.Node, section string, known []string) error {
	msg := fmt.Sprintf("%s: unknown key %q", section, k.Value)
	if near := nearest(k.Value, known); near != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", near)
	}
	return l.errorf(k.Line, "%s; known keys: %s", msg, strings.Join(known, ", "))
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	nodeType     = reflect.TypeFor[yaml.Node]()
)

// decodeValue decodes val into field, in the user's terms on error.
func (l *loader) decodeValue(val *yaml.Node, field reflect.Value, what string) error {
	t := field.Type()
	switch {
	case t == nodeType:
		field.Set(reflect.ValueOf(*val))
		return nil
	case t == durationType:
		if val.Kind == yaml.ScalarNode && (val.Tag == "!!int" || val.Tag == "!!float") {
			return l.errorf(val.Line, "%s: %s has no unit; write %ss (or a duration such as 500ms, 30s, 5m)", what, val.Value, val.Value)
		}
	case t.Kind() == reflect.Struct:
		return l.decodeStruct(val, field.Addr().Interface(), what)
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		p := reflect.New(t.Elem())
		if err := l.decodeStruct(val, p.Interface(), what); err != nil {
			return err
		}
		field.Set(p)
		return nil
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Struct:
		if val.Kind != yaml.MappingNode {
			break
		}
		m := reflect.MakeMap(t)
		for i := 0; i+1 < len(val.Content); i += 2 {
			e := reflect.New(t.Elem())
			if err := l.decodeStruct(val.Content[i+1], e.Interface(), what+": "+val.Content[i].Value); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(val.Content[i].Value), e.Elem())
		}
		field.Set(m)
		return nil
	}
	p := reflect.New(t)
	if err := val.Decode(p.Interface()); err != nil {
		return l.errorf(val.Line, "%s: want %s, got %s", what, kindWanted(t), describeNode(val))
	}
	field.Set(p.Elem())
	return nil
}

// yamlFields maps a struct's yaml keys to field indexes, and lists the keys
// in field order.
func yamlFields(t reflect.Type) (map[string]int, []string) {
	fields := make(map[string]int)
	var keys []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !t.Field(i).IsExported() {
			continue
		}
		fields[name] = i
		keys = append(keys, name)
	}
	return fields, keys
}

// kindWanted describes the values of type t in words.
func kindWanted(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 500ms, 30s or 5m"
	case t == nodeType:
		return "a value"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Map:
		return "a mapping of names to " + strings.TrimPrefix(kindWanted(t.Elem()), "a ") + "s"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Pointer:
		return "a mapping"
	}
	return "a value"
}

// describeNode describes a YAML value for a message: `"lots"`, `a list`.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing (null)"
		}
		return strconv.Quote(n.Value)
	}
	return "a " + n.ShortTag()
}

// configTypeError rewrites a stage config's JSON type error in the YAML's
// terms, with the key's line: "stage chaos: config: error_fraction: want a
// number, got a string".
func (l *loader) configTypeError(err error, label string, cfgNode *yaml.Node) (error, bool) {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" {
		return nil, false
	}
	key := te.Field[strings.LastIndexByte(te.Field, '.')+1:]
	line := cfgNode.Line
	if kl := findKey(cfgNode, key); kl > 0 {
		line = kl
	}
	return l.errorf(line, "stage %s: config: %s: want %s, got a %s", label, te.Field, kindWanted(te.Type), te.Value), true
}

// nearest returns the known key closest to key by edit distance, if it is
// close enough to be a typo (at most a third of the key's length, at
// least 1), or "".
func nearest(key string, known []string) string {
	best, bestD := "", max(len(key)/3, 1)+1
	for _, k := range known {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = slices.Min([]int{prev[j] + 1, cur[j-1] + 1, prev[j-1] + cost})
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
