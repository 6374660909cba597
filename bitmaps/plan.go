package bitmaps

import "github.com/RoaringBitmap/roaring/v2"

// Node is a bitmap plan: a tree the Index evaluates to a set of user ids. The
// compiler builds plans; the index executes them. Plans are immutable values
// and safe to share between goroutines.
//
// Every leaf denotes users whose value is non-NULL and satisfies the test
// (NULL never matches); Not{X} is Universe \ X.
type Node interface{ isNode() }

// All is every live user (the universe).
type All struct{}

// None is the empty set.
type None struct{}

// Eq: Field == Value. Value is string (KindString), int64 (KindInt, KindTime:
// Unix seconds), float64 (KindFloat) or bool (KindBool). For KindStringList it
// means "the list contains Value (a string)".
type Eq struct {
	Field string
	Value any
}

// In: Field is one of Values (same value types as Eq). For KindStringList: the
// list contains any of Values.
type In struct {
	Field  string
	Values []any
}

// Range: Lo <(=) Field <(=) Hi for KindInt, KindFloat, KindTime. A nil bound
// is open. Bounds are int64 (KindInt, KindTime) or float64 (KindFloat).
type Range struct {
	Field          string
	Lo, Hi         any
	LoIncl, HiIncl bool
}

// Exists: Field is not NULL (for KindStringList: present and non-empty).
type Exists struct {
	Field string
}

// ListHas: a KindStringList field contains all of Values (All) or any (!All).
type ListHas struct {
	Field  string
	Values []string
	All    bool
}

// StrPred: a KindString field's value satisfies Fn (CONTAINS, STARTS WITH,
// ENDS WITH, MATCHES). The index tests each distinct value once and ORs the
// bitmaps of those that match. Desc is how the plan prints it.
type StrPred struct {
	Field string
	Desc  string
	Fn    func(string) bool
}

// Scan is the fallback for tests no index answers (e.g. attribute compared
// with attribute): Fn is called with the user's values of Fields (nil for
// NULL, types as in Row) and must be pure.
type Scan struct {
	Fields []string
	Desc   string
	Fn     func(vals []any) bool
}

// And is the intersection of Terms (n-ary; evaluated in the given order, so
// put the most selective first).
type And struct{ Terms []Node }

// Or is the union of Terms (n-ary, FastOr-style).
type Or struct{ Terms []Node }

// Not is Universe \ X.
type Not struct{ X Node }

// Const is a precomputed set (a cached cohort, a static cohort's members).
// Name is how the plan prints it. B is never modified by the executor.
type Const struct {
	Name string
	B    *roaring.Bitmap
}

func (All) isNode()      {}
func (None) isNode()     {}
func (*Eq) isNode()      {}
func (*In) isNode()      {}
func (*Range) isNode()   {}
func (*Exists) isNode()  {}
func (*ListHas) isNode() {}
func (*StrPred) isNode() {}
func (*Scan) isNode()    {}
func (*And) isNode()     {}
func (*Or) isNode()      {}
func (*Not) isNode()     {}
func (*Const) isNode()   {}
