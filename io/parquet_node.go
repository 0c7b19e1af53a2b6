package dataio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// parquetSourcePrefix starts the task.Column.SourceType of columns read
// from Parquet. The rest is a Parquet file without rows whose schema holds
// the column's field (type, repetition, logical type, field id, children):
// the file format's own description of the type, decoded by parquet-go.
const parquetSourcePrefix = "parquet:"

// encodeNode returns the SourceType describing node.
func encodeNode(node parquet.Node) (string, error) {
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, parquet.NewSchema("sluice", orderedGroup{{Node: node, name: "c"}}))
	if err := w.Close(); err != nil {
		return "", err
	}
	return parquetSourcePrefix + buf.String(), nil
}

// decodeNode returns the Parquet node a SourceType describes, or ok false
// when it does not describe one (it came from another format, or none).
func decodeNode(source string) (node parquet.Node, ok bool, err error) {
	if !strings.HasPrefix(source, parquetSourcePrefix) {
		return nil, false, nil
	}
	data := source[len(parquetSourcePrefix):]
	defer func() {
		if r := recover(); r != nil {
			node, ok, err = nil, false, fmt.Errorf("corrupt parquet source type: %v", r)
		}
	}()
	f, err := parquet.OpenFile(strings.NewReader(data), int64(len(data)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, false, fmt.Errorf("corrupt parquet source type: %w", err)
	}
	fields := f.Schema().Fields()
	if len(fields) != 1 {
		return nil, false, fmt.Errorf("corrupt parquet source type: %d fields", len(fields))
	}
	return fields[0], true, nil
}

// describeNode names a Parquet type the way users write it, for example
// "int16", "timestamp(us, UTC)", "list<string>", "struct<a: int32, b:
// string>" or "map<string, int64>"; "optional" is left out.
func describeNode(n parquet.Node) string {
	if n.Leaf() {
		_, _, what := leafKind(n.Type())
		if n.Repeated() {
			return "repeated " + what
		}
		return what
	}
	if lt := n.Type().LogicalType(); lt != nil && !n.Repeated() {
		switch lt.Value.(type) {
		case *format.ListType:
			if f := n.Fields(); len(f) == 1 && f[0].Repeated() {
				if e := f[0].Fields(); !f[0].Leaf() && len(e) == 1 {
					return "list<" + describeNode(e[0]) + ">"
				}
				return "list<" + describeNode(parquet.Required(f[0])) + ">"
			}
		case *format.MapType:
			if f := n.Fields(); len(f) == 1 && !f[0].Leaf() && len(f[0].Fields()) == 2 {
				kv := f[0].Fields()
				return "map<" + describeNode(kv[0]) + ", " + describeNode(kv[1]) + ">"
			}
		}
	}
	var b strings.Builder
	if n.Repeated() {
		b.WriteString("repeated ")
	}
	b.WriteString("struct<")
	for i, f := range n.Fields() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name() + ": " + describeNode(f))
	}
	b.WriteString(">")
	return b.String()
}

// Opaque values. A Parquet field that has no task.Column type of its own
// (nested groups, lists other than list<uint32>, maps, timestamps,
// decimals, uint64, ...) is read into an Opaque column: each row's value is
// the sequence of the field's leaf values in that row, leaf by leaf, each
// with its levels, which is exactly what a Parquet writer needs to write
// the row back. One value is encoded as
//
//	uvarint leaf (index among the field's leaves)
//	byte    repetition level
//	byte    definition level
//	byte    0 for a null, else parquet.Kind+1, followed by the value:
//	        boolean 1 byte; int32 and float 4 bytes, int64 and double 8,
//	        int96 12 (little endian); byte arrays a uvarint length and
//	        the bytes.
//
// A null row (an optional field that is null) has no values (nil).

// appendOpaqueValue appends v, a value of the field's leaf, to dst.
func appendOpaqueValue(dst []byte, leaf int, v *parquet.Value) []byte {
	dst = binary.AppendUvarint(dst, uint64(leaf))
	dst = append(dst, byte(v.RepetitionLevel()), byte(v.DefinitionLevel()))
	if v.IsNull() {
		return append(dst, 0)
	}
	k := v.Kind()
	dst = append(dst, byte(k)+1)
	switch k {
	case parquet.Boolean:
		if v.Boolean() {
			return append(dst, 1)
		}
		return append(dst, 0)
	case parquet.Int32:
		return binary.LittleEndian.AppendUint32(dst, uint32(v.Int32()))
	case parquet.Int64:
		return binary.LittleEndian.AppendUint64(dst, uint64(v.Int64()))
	case parquet.Int96:
		x := v.Int96()
		for _, w := range x {
			dst = binary.LittleEndian.AppendUint32(dst, w)
		}
		return dst
	case parquet.Float:
		return binary.LittleEndian.AppendUint32(dst, math.Float32bits(v.Float()))
	case parquet.Double:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Double()))
	default: // ByteArray, FixedLenByteArray
		b := v.ByteArray()
		dst = binary.AppendUvarint(dst, uint64(len(b)))
		return append(dst, b...)
	}
}

var errCorruptOpaque = errors.New("corrupt opaque parquet value")

// decodeOpaque appends the values encoded in b to dst, each with its
// levels and column index first+leaf. Byte-array values alias b.
func decodeOpaque(dst []parquet.Value, b []byte, first int) ([]parquet.Value, error) {
	for len(b) > 0 {
		leaf, n := binary.Uvarint(b)
		if n <= 0 || len(b) < n+3 {
			return dst, errCorruptOpaque
		}
		rep, def, tag := int(b[n]), int(b[n+1]), b[n+2]
		b = b[n+3:]
		var v parquet.Value
		var size int
		switch k := parquet.Kind(int8(tag) - 1); {
		case tag == 0:
			v = parquet.NullValue()
		case k == parquet.Boolean && len(b) >= 1:
			v, size = parquet.BooleanValue(b[0] != 0), 1
		case k == parquet.Int32 && len(b) >= 4:
			v, size = parquet.Int32Value(int32(binary.LittleEndian.Uint32(b))), 4
		case k == parquet.Int64 && len(b) >= 8:
			v, size = parquet.Int64Value(int64(binary.LittleEndian.Uint64(b))), 8
		case k == parquet.Int96 && len(b) >= 12:
			v, size = parquet.Int96Value(deprecated.Int96{binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])}), 12
		case k == parquet.Float && len(b) >= 4:
			v, size = parquet.FloatValue(math.Float32frombits(binary.LittleEndian.Uint32(b))), 4
		case k == parquet.Double && len(b) >= 8:
			v, size = parquet.DoubleValue(math.Float64frombits(binary.LittleEndian.Uint64(b))), 8
		case k == parquet.ByteArray || k == parquet.FixedLenByteArray:
			l, m := binary.Uvarint(b)
			if m <= 0 || uint64(len(b)-m) < l {
				return dst, errCorruptOpaque
			}
			data := b[m : m+int(l) : m+int(l)]
			if k == parquet.ByteArray {
				v = parquet.ByteArrayValue(data)
			} else {
				v = parquet.FixedLenByteArrayValue(data)
			}
			size = m + int(l)
		default:
			return dst, errCorruptOpaque
		}
		b = b[size:]
		dst = append(dst, v.Level(rep, def, first+int(leaf)))
	}
	return dst, nil
}
