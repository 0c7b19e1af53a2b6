package dataio

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// JSON rendering of opaque Parquet values (see appendOpaqueValue): the
// record assembly of the Dremel paper, from the values' repetition and
// definition levels, into the JSON a user expects:
//
//   - a struct is an object of its fields, in schema order;
//   - a list (LIST, or a repeated field) is an array;
//   - a map (MAP) is an object when its keys are strings, else an array of
//     {"key": k, "value": v} objects;
//   - a null (struct, list, map, element or value) is null;
//   - strings, enums and JSON text are strings; other binary is base64;
//   - integers are numbers (unsigned ones read as such); decimals are
//     strings holding the exact decimal ("-12.34"); timestamps (and INT96)
//     are RFC 3339 strings (ending in "Z" when adjusted to UTC), dates
//     "2006-01-02", times "15:04:05.000000"; UUIDs their canonical text;
//   - floats follow the NaN policy.

// jnode is a Parquet node prepared for assembly.
type jnode struct {
	node     parquet.Node
	name     string
	def, rep int  // levels at which the node is present / repeats
	optional bool // may be null at def
	repeated bool
	lo, hi   int // its leaves, as indexes among the top field's leaves
	shape    jshape
	children []*jnode
	elem     *jnode // lists and maps: the node rendered per element
	key, val *jnode // maps
	strKeys  bool   // maps: keys are strings, rendered as an object
}

type jshape uint8

const (
	jLeaf jshape = iota
	jStruct
	jList
	jMap
)

// prepareJSON returns the assembly tree of a top-level field.
func prepareJSON(n parquet.Node) *jnode {
	leaf := 0
	return buildJNode(n, "", 0, 0, &leaf)
}

func buildJNode(n parquet.Node, name string, def, rep int, leaf *int) *jnode {
	j := &jnode{node: n, name: name, optional: n.Optional(), repeated: n.Repeated(), def: def, rep: rep, lo: *leaf}
	if j.optional || j.repeated {
		j.def++
	}
	if j.repeated {
		j.rep++
	}
	if n.Leaf() {
		*leaf++
		j.hi = *leaf
		return j
	}
	for _, f := range n.Fields() {
		j.children = append(j.children, buildJNode(f, f.Name(), j.def, j.rep, leaf))
	}
	j.hi = *leaf
	j.shape = jStruct
	lt := n.Type().LogicalType()
	if lt == nil || len(j.children) != 1 || !j.children[0].repeated {
		return j
	}
	r := j.children[0]
	switch lt.Value.(type) {
	case *format.ListType:
		j.shape, j.elem = jList, r
		if r.shape == jStruct && len(r.children) == 1 {
			j.elem = r.children[0] // the three-level form: the element inside
		}
	case *format.MapType:
		if r.shape == jStruct && len(r.children) == 2 {
			j.shape, j.elem, j.key, j.val = jMap, r, r.children[0], r.children[1]
			if k := j.key.node; k.Leaf() {
				kind, _, _ := leafKind(k.Type())
				j.strKeys = kind == pqString
			}
		}
	}
	return j
}

// assembler walks the values of one row, leaf by leaf.
type assembler struct {
	vals [][]parquet.Value // per leaf of the top field
	pos  []int
	nan  NaNPolicy
}

var errLevels = errors.New("corrupt opaque parquet value: levels do not match the type")

func (a *assembler) peek(leaf int) (*parquet.Value, bool) {
	if a.pos[leaf] >= len(a.vals[leaf]) {
		return nil, false
	}
	return &a.vals[leaf][a.pos[leaf]], true
}

// skip consumes the one value each leaf of j has where j is null or empty.
func (a *assembler) skip(j *jnode) {
	for l := j.lo; l < j.hi; l++ {
		a.pos[l]++
	}
}

// value appends one instance of j.
func (a *assembler) value(dst []byte, j *jnode) ([]byte, error) {
	v, ok := a.peek(j.lo)
	if !ok {
		return dst, errLevels
	}
	if j.optional && v.DefinitionLevel() < j.def {
		a.skip(j)
		return append(dst, "null"...), nil
	}
	switch j.shape {
	case jLeaf:
		a.pos[j.lo]++
		return appendScalarJSON(dst, j.node, v, a.nan)
	case jList:
		return a.repeated(dst, j.children[0], '[', ']', func(dst []byte) ([]byte, error) { return a.value(dst, j.elem) })
	case jMap:
		open, closing := byte('{'), byte('}')
		if !j.strKeys {
			open, closing = '[', ']'
		}
		return a.repeated(dst, j.elem, open, closing, func(dst []byte) ([]byte, error) { return a.mapEntry(dst, j) })
	}
	dst = append(dst, '{')
	for i, c := range j.children {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, c.name)
		dst = append(dst, ':')
		var err error
		if c.repeated {
			dst, err = a.repeated(dst, c, '[', ']', func(dst []byte) ([]byte, error) { return a.instance(dst, c) })
		} else {
			dst, err = a.value(dst, c)
		}
		if err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// instance appends one element of a repeated node rendered as itself.
func (a *assembler) instance(dst []byte, r *jnode) ([]byte, error) {
	if r.shape == jLeaf {
		v, ok := a.peek(r.lo)
		if !ok {
			return dst, errLevels
		}
		a.pos[r.lo]++
		return appendScalarJSON(dst, r.node, v, a.nan)
	}
	c := *r
	c.optional, c.repeated = false, false
	return a.value(dst, &c)
}

func (a *assembler) mapEntry(dst []byte, j *jnode) ([]byte, error) {
	var err error
	if j.strKeys {
		if dst, err = a.value(dst, j.key); err != nil {
			return dst, err
		}
		dst = append(dst, ':')
		return a.value(dst, j.val)
	}
	dst = append(dst, `{"key":`...)
	if dst, err = a.value(dst, j.key); err != nil {
		return dst, err
	}
	dst = append(dst, `,"value":`...)
	if dst, err = a.value(dst, j.val); err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

// repeated appends the elements of repeated node r at the current position
// between open and closing, each rendered by elem.
func (a *assembler) repeated(dst []byte, r *jnode, open, closing byte, elem func([]byte) ([]byte, error)) ([]byte, error) {
	v, ok := a.peek(r.lo)
	if !ok {
		return dst, errLevels
	}
	dst = append(dst, open)
	if v.DefinitionLevel() < r.def {
		a.skip(r) // an empty list or map
		return append(dst, closing), nil
	}
	for first := true; ; first = false {
		if !first {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = elem(dst); err != nil {
			return dst, err
		}
		if v, ok = a.peek(r.lo); !ok || v.RepetitionLevel() != r.rep {
			break
		}
	}
	return append(dst, closing), nil
}

// appendOpaqueJSON appends the JSON form of opaque value b of the top-level
// field whose assembly tree is j (see prepareJSON; nil b: a null).
func appendOpaqueJSON(dst []byte, j *jnode, b []byte, nan NaNPolicy) ([]byte, error) {
	if b == nil {
		return append(dst, "null"...), nil
	}
	vals, err := decodeOpaque(nil, b, 0)
	if err != nil {
		return dst, err
	}
	a := &assembler{vals: make([][]parquet.Value, j.hi), pos: make([]int, j.hi), nan: nan}
	for _, v := range vals {
		c := v.Column()
		if c < 0 || c >= j.hi {
			return dst, errCorruptOpaque
		}
		a.vals[c] = append(a.vals[c], v)
	}
	if j.repeated { // a top-level repeated field: a legacy list
		return a.repeated(dst, j, '[', ']', func(dst []byte) ([]byte, error) { return a.instance(dst, j) })
	}
	return a.value(dst, j)
}

// appendScalarJSON appends the JSON form of non-null value v of leaf n.
func appendScalarJSON(dst []byte, n parquet.Node, v *parquet.Value, nan NaNPolicy) ([]byte, error) {
	t := n.Type()
	var lv format.LogicalTypeValue
	if lt := t.LogicalType(); lt != nil {
		lv = lt.Value
	}
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.AppendBool(dst, v.Boolean()), nil
	case parquet.Int32:
		return appendInt32JSON(dst, lv, v.Int32()), nil
	case parquet.Int64:
		return appendInt64JSON(dst, lv, v.Int64()), nil
	case parquet.Int96:
		x := v.Int96()
		nanos := int64(x[0]) | int64(x[1])<<32
		days := int64(x[2]) - 2440588 // Julian day of 1970-01-01
		ts := time.Unix(days*86400, nanos).UTC()
		return appendJSONString(dst, ts.Format(time.RFC3339Nano)), nil
	case parquet.Float:
		return appendFloatJSON(dst, float64(v.Float()), 32, nan)
	case parquet.Double:
		return appendFloatJSON(dst, v.Double(), 64, nan)
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return appendBytesJSON(dst, lv, v.ByteArray(), nan)
	}
	return dst, fmt.Errorf("parquet value of kind %s has no JSON form", v.Kind())
}

func appendInt32JSON(dst []byte, lv format.LogicalTypeValue, x int32) []byte {
	switch l := lv.(type) {
	case *format.IntType:
		if !l.IsSigned {
			return strconv.AppendUint(dst, uint64(uint32(x)), 10)
		}
	case *format.DateType:
		return appendJSONString(dst, time.Unix(int64(x)*86400, 0).UTC().Format("2006-01-02"))
	case *format.TimeType:
		return appendJSONString(dst, timeOfDay(int64(x), time.Millisecond))
	case *format.DecimalType:
		return appendJSONString(dst, decimalText(big.NewInt(int64(x)), int(l.Scale)))
	}
	return strconv.AppendInt(dst, int64(x), 10)
}

func appendInt64JSON(dst []byte, lv format.LogicalTypeValue, x int64) []byte {
	switch l := lv.(type) {
	case *format.IntType:
		if !l.IsSigned {
			return strconv.AppendUint(dst, uint64(x), 10)
		}
	case *format.TimestampType:
		unit := timeUnit(l.Unit)
		per := int64(time.Second / unit)
		sec, frac := x/per, x%per
		if frac < 0 {
			sec, frac = sec-1, frac+per
		}
		ts := time.Unix(sec, frac*int64(unit))
		if l.IsAdjustedToUTC {
			return appendJSONString(dst, ts.UTC().Format(time.RFC3339Nano))
		}
		return appendJSONString(dst, ts.UTC().Format("2006-01-02T15:04:05.999999999"))
	case *format.TimeType:
		return appendJSONString(dst, timeOfDay(x, timeUnit(l.Unit)))
	case *format.DecimalType:
		return appendJSONString(dst, decimalText(big.NewInt(x), int(l.Scale)))
	}
	return strconv.AppendInt(dst, x, 10)
}

func timeUnit(u format.TimeUnit) time.Duration {
	if u.Value == nil {
		return time.Nanosecond
	}
	return u.Value.Duration()
}

func timeOfDay(x int64, unit time.Duration) string {
	return time.Unix(0, 0).UTC().Add(time.Duration(x) * unit).Format("15:04:05.999999999")
}

func appendBytesJSON(dst []byte, lv format.LogicalTypeValue, b []byte, nan NaNPolicy) ([]byte, error) {
	switch l := lv.(type) {
	case *format.StringType, *format.EnumType, *format.JsonType:
		return appendJSONString(dst, string(b)), nil
	case *format.UUIDType:
		if len(b) == 16 {
			return appendJSONString(dst, fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])), nil
		}
	case *format.DecimalType:
		x := new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 { // two's complement negative
			x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		return appendJSONString(dst, decimalText(x, int(l.Scale))), nil
	case *format.Float16Type:
		if len(b) == 2 {
			return appendFloatJSON(dst, float16(binary.LittleEndian.Uint16(b)), 32, nan)
		}
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"'), nil
}

// decimalText renders unscaled·10^-scale exactly.
func decimalText(unscaled *big.Int, scale int) string {
	s := new(big.Int).Abs(unscaled).String()
	if scale > 0 {
		for len(s) <= scale {
			s = "0" + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if unscaled.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// float16 converts an IEEE 754 half-precision value.
func float16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}
