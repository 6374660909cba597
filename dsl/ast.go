package dsl

import "time"

// Pos is a position in a source file. Line and Column are 1-based; Column
// counts characters (runes), not bytes, so it is the column an editor shows
// (a tab counts as one character; an invalid UTF-8 byte too). Offset is the
// byte offset into the expression source (not the file).
type Pos struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Offset int    `json:"-"`
}

// Node is any AST node.
type Node interface {
	Position() Pos
	// String prints the node in canonical cohort-language syntax; parsing the
	// printed text gives an equal tree (parse → print → parse is stable).
	String() string
}

// Expr is a boolean expression (a predicate or a combination of predicates).
type Expr interface {
	Node
	exprNode()
}

// Value is an operand: an attribute reference, a literal or a call.
type Value interface {
	Node
	valueNode()
}

// ---- boolean expressions ----

// LogicOp is AND or OR.
type LogicOp int

const (
	OpAnd LogicOp = iota
	OpOr
)

// Logic is an n-ary AND / OR (the parser flattens a AND b AND c into one node).
type Logic struct {
	Pos   Pos
	Op    LogicOp
	Terms []Expr // len >= 2
}

// Not is NOT x.
type Not struct {
	Pos Pos
	X   Expr
}

// BoolConst is the literal true/false used as a predicate.
type BoolConst struct {
	Pos   Pos
	Value bool
}

// CohortRef is cohort('name').
type CohortRef struct {
	Pos     Pos
	Name    string
	NamePos Pos // position of the string literal
}

// CmpOp is a comparison operator. `=` parses as OpEq, `<>` as OpNe.
type CmpOp int

const (
	OpEq CmpOp = iota
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
)

// Compare is `value cmp value`.
type Compare struct {
	Pos         Pos
	Op          CmpOp
	Left, Right Value
}

// In is `value [NOT] IN (lit, ...)`.
type In struct {
	Pos   Pos
	Value Value
	Not   bool
	List  []*Literal
}

// Member is `literal [NOT] IN attribute` (list<string> contains).
type Member struct {
	Pos  Pos
	Elem *Literal
	Not  bool
	Attr *Ident
}

// Has is `attribute HAS ANY (...)` / `HAS ALL (...)`.
type Has struct {
	Pos    Pos
	Attr   *Ident
	All    bool
	Values []*Literal // string literals
}

// Between is `value [NOT] BETWEEN lo AND hi` (inclusive).
type Between struct {
	Pos    Pos
	Value  Value
	Not    bool
	Lo, Hi *Literal
}

// IsNull is `attribute IS [NOT] NULL`.
type IsNull struct {
	Pos  Pos
	Attr *Ident
	Not  bool
}

// MatchOp is a string test.
type MatchOp int

const (
	OpContains MatchOp = iota
	OpStartsWith
	OpEndsWith
	OpMatches
)

// Match is `attribute [NOT] (CONTAINS | STARTS WITH | ENDS WITH | MATCHES) 'str'`.
type Match struct {
	Pos     Pos
	Attr    *Ident
	Not     bool
	Op      MatchOp
	Pattern *Literal // string literal
}

// Truthy is a value used alone as a predicate (a bool attribute, or a derived
// name). The checker decides whether that is allowed.
type Truthy struct {
	Pos   Pos
	Value Value
}

// Paren keeps explicit parentheses so printing is faithful; it is otherwise
// transparent.
type Paren struct {
	Pos Pos
	X   Expr
}

// ---- values ----

// Ident is an attribute or derived name.
type Ident struct {
	Pos  Pos
	Name string
}

// LitKind says which kind of literal a Literal is.
type LitKind int

const (
	LitString LitKind = iota
	LitNumber
	LitBool
	LitDuration
)

// Literal is a string, number, bool or duration literal.
type Literal struct {
	Pos  Pos
	Kind LitKind
	// Raw is the literal as written in the source (for numbers: the digits,
	// e.g. "-12.50"; for strings: including quotes).
	Raw string
	// Str is the decoded string (LitString).
	Str string
	// Num is the value of a number; IsInt says the literal had no fraction
	// part, and then Int holds it exactly.
	Num   float64
	Int   int64
	IsInt bool
	// Bool (LitBool).
	Bool bool
	// Dur (LitDuration): 7d = 168h, 2w = 14*24h.
	Dur time.Duration
}

// CallKind names the built-in functions.
type CallKind int

const (
	CallDaysSince CallKind = iota // days_since(attr)
	CallNow                       // now() [± duration]
)

// Call is days_since(attr) or now() with an optional signed duration offset.
type Call struct {
	Pos    Pos
	Kind   CallKind
	Arg    *Ident        // days_since argument
	Offset time.Duration // now() + Offset (negative for now() - d)
	OffLit *Literal      // the duration literal as written, nil when absent
}

func (*Logic) exprNode()     {}
func (*Not) exprNode()       {}
func (*BoolConst) exprNode() {}
func (*CohortRef) exprNode() {}
func (*Compare) exprNode()   {}
func (*In) exprNode()        {}
func (*Member) exprNode()    {}
func (*Has) exprNode()       {}
func (*Between) exprNode()   {}
func (*IsNull) exprNode()    {}
func (*Match) exprNode()     {}
func (*Truthy) exprNode()    {}
func (*Paren) exprNode()     {}

func (*Ident) valueNode()   {}
func (*Literal) valueNode() {}
func (*Call) valueNode()    {}

func (n *Logic) Position() Pos     { return n.Pos }
func (n *Not) Position() Pos       { return n.Pos }
func (n *BoolConst) Position() Pos { return n.Pos }
func (n *CohortRef) Position() Pos { return n.Pos }
func (n *Compare) Position() Pos   { return n.Pos }
func (n *In) Position() Pos        { return n.Pos }
func (n *Member) Position() Pos    { return n.Pos }
func (n *Has) Position() Pos       { return n.Pos }
func (n *Between) Position() Pos   { return n.Pos }
func (n *IsNull) Position() Pos    { return n.Pos }
func (n *Match) Position() Pos     { return n.Pos }
func (n *Truthy) Position() Pos    { return n.Pos }
func (n *Paren) Position() Pos     { return n.Pos }
func (n *Ident) Position() Pos     { return n.Pos }
func (n *Literal) Position() Pos   { return n.Pos }
func (n *Call) Position() Pos      { return n.Pos }
