package bitmaps

// Kind is the type of an indexed field.
type Kind int

const (
	KindString Kind = iota
	KindInt
	KindFloat
	KindBool
	KindTime       // Unix seconds (int64), second resolution
	KindStringList // []string; NULL = absent or empty
)

// Field is one indexed attribute.
type Field struct {
	Name string
	Kind Kind
}

// Schema lists the indexed fields (the key attribute is not among them).
type Schema []Field

// Row holds one user's values aligned with the Schema: nil is NULL; otherwise
// string, int64, float64, bool, int64 (KindTime, Unix seconds) or []string.
type Row []any
