package dataio

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluice-data/sluice/task"
)

// pqKind says how the values of a Parquet leaf become column values.
type pqKind uint8

const (
	pqBool pqKind = iota + 1
	pqInt32
	pqUint32
	pqInt64
	pqFloat
	pqDouble
	pqString
	pqBytes
)

// pqColumn maps one top-level Parquet field to one task.Column.
type pqColumn struct {
	name   string
	typ    task.ColumnType
	kind   pqKind
	leaf   int  // (first) leaf column index in the file
	list   bool // a list<uint32>
	maxDef int  // definition level of a present (non-null) value
	// For lists: definition levels below elemDef mean a null or empty list;
	// elemDef with a nullable element means a null element.
	elemDef int
	// leaves is the number of leaf columns of the field: 1, except for
	// Opaque columns of nested fields.
	leaves int
	// optional: the field itself may be null.
	optional bool
	// node is the field; source its encoding for task.Column.SourceType
	// (set by the readers that want it).
	node   parquet.Node
	source string
}

// mapSchema maps the top-level fields of schema named by want (all when
// want is nil) to columns, in file order, leaving out those named by drop.
func mapSchema(path string, schema *parquet.Schema, want, drop map[string]bool) ([]pqColumn, error) {
	leafIndex := 0
	var cols []pqColumn
	for _, field := range schema.Fields() {
		name := field.Name()
		nLeaves := countLeaves(field)
		first := leafIndex
		leafIndex += nLeaves
		if (want != nil && !want[name]) || drop[name] {
			continue
		}
		col, err := mapField(path, schema, field, first)
		if err != nil {
			return nil, err
		}
		cols = append(cols, col)
	}
	return cols, nil
}

func countLeaves(n parquet.Node) int {
	if n.Leaf() {
		return 1
	}
	c := 0
	for _, f := range n.Fields() {
		c += countLeaves(f)
	}
	return c
}

// mapField maps field to a column of its own type where task has one, and
// to an Opaque column otherwise.
func mapField(path string, schema *parquet.Schema, field parquet.Field, leaf int) (pqColumn, error) {
	col := pqColumn{name: field.Name(), leaf: leaf, leaves: countLeaves(field), optional: field.Optional(), node: field}
	native, err := mapNative(path, schema, field, &col)
	if err != nil || native {
		return col, err
	}
	col.typ, col.kind, col.list, col.maxDef, col.elemDef = task.Opaque, 0, false, 0, 0
	return col, nil
}

// mapNative fills col for a field that maps to a column type of its own:
// a scalar of a supported kind, or a list<uint32> whose elements cannot be
// null. It reports false for any other field.
func mapNative(path string, schema *parquet.Schema, field parquet.Field, col *pqColumn) (bool, error) {
	if field.Leaf() {
		kind, typ, _ := leafKind(field.Type())
		if field.Repeated() {
			// A bare repeated primitive is a legacy list.
			if kind != pqUint32 {
				return false, nil
			}
			col.typ, col.kind, col.list = task.Uint32List, kind, true
			col.maxDef, col.elemDef = 1, 1
			return true, nil
		}
		if kind == 0 {
			return false, nil
		}
		col.typ, col.kind = typ, kind
		if field.Optional() {
			col.maxDef = 1
		}
		return true, nil
	}
	lt := field.Type().LogicalType()
	if lt == nil || !isListType(lt) || field.Repeated() {
		return false, nil // a struct, a map or a repeated group
	}
	// LIST: <opt|req> group name (LIST) { repeated <group|leaf> { <opt|req> element } }
	inner := field.Fields()
	if len(inner) != 1 || !inner[0].Repeated() {
		return false, nil
	}
	def := 0
	if field.Optional() {
		def++
	}
	def++ // the repeated level
	elem := parquet.Node(inner[0])
	if !elem.Leaf() {
		f := elem.Fields()
		if len(f) != 1 || !f[0].Leaf() || f[0].Optional() {
			return false, nil // a list of groups, or elements that may be null
		}
		elem = f[0]
	}
	if kind, _, _ := leafKind(elem.Type()); kind != pqUint32 {
		return false, nil
	}
	col.typ, col.kind, col.list = task.Uint32List, pqUint32, true
	col.elemDef, col.maxDef = def, def
	if lc, ok := schema.Lookup(leafPath(field)...); ok && lc.MaxDefinitionLevel != col.maxDef {
		return false, fmt.Errorf("dataio: parquet %s: column %q: unexpected definition level %d (want %d)", path, field.Name(), lc.MaxDefinitionLevel, col.maxDef)
	}
	return true, nil
}

func leafPath(n parquet.Field) []string {
	p := []string{n.Name()}
	var node parquet.Node = n
	for !node.Leaf() {
		f := node.Fields()[0]
		p = append(p, f.Name())
		node = f
	}
	return p
}

func isListType(lt *format.LogicalType) bool {
	_, ok := lt.Value.(*format.ListType)
	return ok
}

// leafKind classifies a leaf type. kind is 0 when unsupported; what then
// describes the type.
func leafKind(t parquet.Type) (kind pqKind, typ task.ColumnType, what string) {
	lt := t.LogicalType()
	var lv format.LogicalTypeValue
	if lt != nil {
		lv = lt.Value
	}
	switch t.Kind() {
	case parquet.Boolean:
		return pqBool, task.Bool, "boolean"
	case parquet.Int32:
		switch v := lv.(type) {
		case nil:
			return pqInt32, task.Int64, "int32"
		case *format.IntType:
			if v.IsSigned {
				return pqInt32, task.Int64, fmt.Sprintf("int%d", v.BitWidth)
			}
			return pqUint32, task.Int64, fmt.Sprintf("uint%d", v.BitWidth)
		}
		return 0, 0, "int32 (" + lt.String() + ")"
	case parquet.Int64:
		switch v := lv.(type) {
		case nil:
			return pqInt64, task.Int64, "int64"
		case *format.IntType:
			if v.IsSigned {
				return pqInt64, task.Int64, "int64"
			}
			return 0, 0, "uint64"
		}
		return 0, 0, "int64 (" + lt.String() + ")"
	case parquet.Float:
		return pqFloat, task.Float64, "float"
	case parquet.Double:
		return pqDouble, task.Float64, "double"
	case parquet.ByteArray:
		switch lv.(type) {
		case nil, *format.BsonType:
			return pqBytes, task.Bytes, "binary"
		case *format.StringType, *format.EnumType, *format.JsonType:
			return pqString, task.String, "string"
		}
		return 0, 0, "binary (" + lt.String() + ")"
	case parquet.Int96:
		return 0, 0, "int96"
	case parquet.FixedLenByteArray:
		if lv != nil {
			return 0, 0, "fixed_len_byte_array (" + lt.String() + ")"
		}
		return 0, 0, "fixed_len_byte_array"
	}
	return 0, 0, t.String()
}

// orderedGroup is a Parquet group node whose fields keep the order given,
// unlike parquet.Group, which sorts them by name.
type orderedGroup []orderedField

type orderedField struct {
	parquet.Node
	name string
}

func (f orderedField) Name() string                           { return f.name }
func (f orderedField) Value(base reflect.Value) reflect.Value { return base.FieldByName(f.name) }

func (g orderedGroup) ID() int { return 0 }
func (g orderedGroup) String() string {
	var b strings.Builder
	_ = parquet.PrintSchema(&b, "", g)
	return b.String()
}
func (g orderedGroup) Type() parquet.Type          { return parquet.Group(nil).Type() }
func (g orderedGroup) Optional() bool              { return false }
func (g orderedGroup) Repeated() bool              { return false }
func (g orderedGroup) Required() bool              { return true }
func (g orderedGroup) Leaf() bool                  { return false }
func (g orderedGroup) Encoding() encoding.Encoding { return nil }
func (g orderedGroup) Compression() compress.Codec { return nil }
func (g orderedGroup) GoType() reflect.Type        { return reflect.TypeFor[struct{}]() }
func (g orderedGroup) Fields() []parquet.Field {
	out := make([]parquet.Field, len(g))
	for i := range g {
		out[i] = g[i]
	}
	return out
}

// nodeFor returns the Parquet node written for a column type.
func nodeFor(t task.ColumnType) (parquet.Node, error) {
	switch t {
	case task.String:
		return parquet.String(), nil
	case task.Bytes:
		return parquet.Leaf(parquet.ByteArrayType), nil
	case task.Int64:
		return parquet.Int(64), nil
	case task.Float64:
		return parquet.Leaf(parquet.DoubleType), nil
	case task.Bool:
		return parquet.Leaf(parquet.BooleanType), nil
	case task.Uint32List:
		return parquet.List(parquet.Uint(32)), nil
	}
	return nil, fmt.Errorf("unknown column type %s", t)
}
