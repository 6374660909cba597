package clickhouse

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cohortd/cohortd/bitmaps"
)

// chType is a parsed ClickHouse type such as Nullable(DateTime('UTC')).
type chType struct {
	name string   // "Nullable", "Array", "String", "DateTime64", ...
	args []string // the top-level arguments as written, trimmed
}

// parseType parses a type as system.columns prints it.
func parseType(s string) (chType, error) {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open < 0 {
		if s == "" || strings.ContainsAny(s, ")',") {
			return chType{}, fmt.Errorf("cannot parse ClickHouse type %q", s)
		}
		return chType{name: s}, nil
	}
	if !strings.HasSuffix(s, ")") {
		return chType{}, fmt.Errorf("cannot parse ClickHouse type %q", s)
	}
	t := chType{name: strings.TrimSpace(s[:open])}
	args, ok := splitArgs(s[open+1 : len(s)-1])
	if !ok || t.name == "" {
		return chType{}, fmt.Errorf("cannot parse ClickHouse type %q", s)
	}
	t.args = args
	return t, nil
}

// splitArgs splits a type's argument list at top-level commas (outside
// parentheses and quoted strings).
func splitArgs(s string) ([]string, bool) {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			switch c {
			case '\\':
				i++
			case '\'':
				inQuote = false
			}
		case c == '\'':
			inQuote = true
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, false
			}
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if depth != 0 || inQuote {
		return nil, false
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" || len(out) > 0 {
		out = append(out, rest)
	}
	return out, true
}

// inner returns the parsed single argument of a wrapper type.
func (t chType) inner() (chType, error) {
	if len(t.args) != 1 {
		return chType{}, fmt.Errorf("%s takes one type argument", t.name)
	}
	return parseType(t.args[0])
}

// unwrap strips Nullable and LowCardinality (in any order) and reports
// whether a Nullable was among them.
func unwrap(t chType) (base chType, nullable bool, err error) {
	for t.name == "Nullable" || t.name == "LowCardinality" {
		if t.name == "Nullable" {
			nullable = true
		}
		if t, err = t.inner(); err != nil {
			return chType{}, false, err
		}
	}
	return t, nullable, nil
}

// scanKind is the Go type a column's select expression is scanned into.
type scanKind int

const (
	scanString  scanKind = iota // String
	scanInt64                   // Int64
	scanUInt64                  // UInt64 (checked to fit int64)
	scanFloat64                 // Float64
	scanBool                    // UInt8 (checked to be 0 or 1)
	scanList                    // Array(String) as one length-prefixed string (see listSel)
)

// column is how one catalog attribute is read from its table column.
type column struct {
	attr     string // attribute name = column name
	kind     bitmaps.Kind
	key      bool
	typ      string // the ClickHouse type as declared
	nullable bool
	// sel is the expression ReadIndex selects (of the Go type scan says);
	// view is the expression pushed-down queries see under the attribute's
	// name, "" when the raw column already fits the compiler's SQL.
	sel  string
	view string
	scan scanKind
}

var (
	intTypes   = map[string]bool{"Int8": true, "Int16": true, "Int32": true, "Int64": true, "UInt8": true, "UInt16": true, "UInt32": true, "UInt64": true}
	floatTypes = map[string]bool{"Float32": true, "Float64": true, "Decimal": true, "Decimal32": true, "Decimal64": true, "Decimal128": true, "Decimal256": true}
	strTypes   = map[string]bool{"String": true, "FixedString": true, "Enum8": true, "Enum16": true, "Enum": true, "UUID": true}
)

// wants says which column types an attribute kind accepts, for errors.
func wants(k bitmaps.Kind, key bool) string {
	if key {
		return "String, FixedString, UUID or an integer type, not Nullable"
	}
	switch k {
	case bitmaps.KindString:
		return "String, LowCardinality(String), FixedString, Enum8/16 or UUID, optionally Nullable"
	case bitmaps.KindInt:
		return "Int8…Int64 or UInt8…UInt64, optionally Nullable"
	case bitmaps.KindFloat:
		return "Float32, Float64 or Decimal, optionally Nullable"
	case bitmaps.KindBool:
		return "UInt8 or Bool, optionally Nullable"
	case bitmaps.KindTime:
		return "DateTime, DateTime64, Date or an integer of Unix seconds, optionally Nullable"
	case bitmaps.KindStringList:
		return "Array(String) or Array(LowCardinality(String))"
	}
	return "a supported type"
}

func kindName(k bitmaps.Kind, key bool) string {
	if key {
		return "the key"
	}
	switch k {
	case bitmaps.KindString:
		return "string"
	case bitmaps.KindInt:
		return "int"
	case bitmaps.KindFloat:
		return "float"
	case bitmaps.KindBool:
		return "bool"
	case bitmaps.KindTime:
		return "timestamp"
	case bitmaps.KindStringList:
		return "list<string>"
	}
	return k.String()
}

// mapColumn decides how the column of attribute name, of ClickHouse type
// typ, is read as kind k (key: the key attribute, a string). It returns a
// message (not an error: the caller collects them) when it cannot be.
func mapColumn(name string, k bitmaps.Kind, key bool, typ string) (column, string) {
	c := column{attr: name, kind: k, key: key, typ: typ}
	bad := func() (column, string) {
		return column{}, fmt.Sprintf("column %s is %s but %s attribute %q needs %s",
			Ident(name), typ, kindName(k, key), name, wants(k, key))
	}
	t, err := parseType(typ)
	if err != nil {
		return column{}, fmt.Sprintf("column %s: %v", Ident(name), err)
	}
	base, nullable, err := unwrap(t)
	if err != nil {
		return column{}, fmt.Sprintf("column %s is %s: %v", Ident(name), typ, err)
	}
	c.nullable = nullable
	id := Ident(name)
	if key {
		k = bitmaps.KindString
		if nullable {
			return bad()
		}
		switch {
		case base.name == "String":
			c.sel = id
		case base.name == "FixedString":
			c.sel = trimNUL(id)
		case base.name == "UUID" || intTypes[base.name]:
			c.sel = "toString(" + id + ")"
		default:
			return bad()
		}
		if c.sel != id {
			c.view = c.sel
		}
		c.scan = scanString
		return c, ""
	}
	switch k {
	case bitmaps.KindString:
		c.scan = scanString
		switch base.name {
		case "String":
			c.sel = id
		case "FixedString":
			c.sel, c.view = trimNUL(id), trimNUL(id)
		case "UUID":
			c.sel, c.view = "toString("+id+")", "toString("+id+")"
		case "Enum8", "Enum16", "Enum":
			c.sel = "toString(" + id + ")"
			if nullable {
				// toString and CAST fail on a Nullable(Enum)'s NULL rows
				// (18.16 checks the hidden 0 against the names): map the
				// numbers to the names instead.
				e, ok := enumString(id, base)
				if !ok {
					return bad()
				}
				c.sel = e
			}
			c.view = c.sel
		default:
			return bad()
		}
	case bitmaps.KindInt:
		switch {
		case base.name == "Int64":
			c.sel, c.scan = id, scanInt64
		case base.name == "UInt64":
			// Read raw so that values beyond int64 are caught, not wrapped.
			c.sel, c.view, c.scan = id, "toInt64("+id+")", scanUInt64
		case intTypes[base.name]:
			c.sel, c.view, c.scan = "toInt64("+id+")", "toInt64("+id+")", scanInt64
		default:
			return bad()
		}
	case bitmaps.KindFloat:
		c.scan = scanFloat64
		switch {
		case base.name == "Float64":
			c.sel = id
		case floatTypes[base.name]:
			c.sel, c.view = "toFloat64("+id+")", "toFloat64("+id+")"
		default:
			return bad()
		}
	case bitmaps.KindBool:
		c.scan = scanBool
		switch base.name {
		case "UInt8":
			c.sel = id
		case "Bool", "Boolean":
			c.sel, c.view = "toUInt8("+id+")", "toUInt8("+id+")"
		default:
			return bad()
		}
	case bitmaps.KindTime:
		c.scan = scanInt64
		switch {
		case base.name == "DateTime":
			// The compiler reads timestamps with toInt64(col): a raw
			// DateTime fits the pushdown as it is.
			c.sel = "toInt64(" + id + ")"
		case base.name == "Date" || base.name == "Date32":
			c.sel = "(toInt64(" + id + ") * 86400)"
			c.view = c.sel
		case base.name == "DateTime64":
			// Floor to the second, also before 1970 (% truncates).
			ms := "toUnixTimestamp64Milli(" + id + ")"
			c.sel = "(intDiv(" + ms + ", 1000) - if(" + ms + " % 1000 < 0, 1, 0))"
			c.view = c.sel
		case base.name == "Int64":
			c.sel = id
		case intTypes[base.name] && base.name != "UInt64":
			c.sel, c.view = "toInt64("+id+")", "toInt64("+id+")"
		default:
			return bad()
		}
	case bitmaps.KindStringList:
		c.scan = scanList
		if t.name != "Array" || nullable {
			return bad()
		}
		elem, err := t.inner()
		if err != nil {
			return bad()
		}
		eb, enull, err := unwrap(elem)
		if err != nil || enull || eb.name != "String" {
			return bad()
		}
		arr := id
		if elem.name == "LowCardinality" {
			arr = "CAST(" + id + " AS Array(String))"
		}
		c.sel = listSel(arr)
	default:
		return bad()
	}
	return c, ""
}

// listSel encodes an Array(String) as one string, each element as its byte
// length, ':' and its bytes ("3:abc1:x"): scanning one string per row is
// several times cheaper in the client than scanning an array.
func listSel(arr string) string {
	return "arrayStringConcat(arrayMap(x -> concat(toString(length(x)), ':', x), " + arr + "), '')"
}

// decodeList decodes listSel's encoding, appending to dst; the elements
// are substrings of s.
func decodeList(dst []string, s string) ([]string, bool) {
	for len(s) > 0 {
		var e string
		var ok bool
		if e, s, ok = cutLenPrefixed(s); !ok {
			return dst, false
		}
		dst = append(dst, e)
	}
	return dst, true
}

// enumString returns an expression mapping a Nullable enum column's
// numbers to its names (NULL stays NULL), from the type's arguments as
// system.columns prints them: 'name' = number, ...
func enumString(id string, t chType) (string, bool) {
	if len(t.args) == 0 {
		return "", false
	}
	nums := make([]string, len(t.args))
	names := make([]string, len(t.args))
	for i, a := range t.args {
		eq := strings.LastIndexByte(a, '=')
		if eq < 0 {
			return "", false
		}
		name, num := strings.TrimSpace(a[:eq]), strings.TrimSpace(a[eq+1:])
		if len(name) < 2 || name[0] != '\'' || name[len(name)-1] != '\'' {
			return "", false
		}
		if _, err := strconv.ParseInt(num, 10, 16); err != nil {
			return "", false
		}
		nums[i], names[i] = num, name // the literal as ClickHouse printed it
	}
	width := "Int16"
	if t.name == "Enum8" {
		width = "Int8"
	}
	return "transform(CAST(" + id + " AS Nullable(" + width + ")), [" + strings.Join(nums, ", ") + "], [" +
		strings.Join(names, ", ") + "], '')", true
}

// trimNUL drops a FixedString's padding: what ClickHouse's own comparisons
// with a shorter String ignore.
func trimNUL(expr string) string {
	return "replaceRegexpOne(toString(" + expr + "), '\\\\x00+$', '')"
}

// SchemaError says that a table does not fit the attribute catalog. It
// lists every problem, one per column.
type SchemaError struct {
	Table    string   // `database`.`table`
	Problems []string // one sentence each, naming the column
}

func (e *SchemaError) Error() string {
	if len(e.Problems) == 1 {
		return fmt.Sprintf("table %s does not fit the cohorts catalog: %s", e.Table, e.Problems[0])
	}
	return fmt.Sprintf("table %s does not fit the cohorts catalog:\n  %s", e.Table, strings.Join(e.Problems, "\n  "))
}
