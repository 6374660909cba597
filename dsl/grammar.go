package dsl

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// This file holds the participle grammar of spec §2. The structs are internal:
// the parser converts them to the AST of ast.go (convert.go), which is the
// only tree other packages see.

// exprLexer splits an expression into tokens. Rules are tried in order, so
// the longer operators come before their prefixes, durations before numbers
// and keywords before identifiers. A keyword only matches as a whole word, so
// `index`, `notes`, `order_count`, `now_ms` and `is_vip` are identifiers.
// Numbers carry no sign: the parser joins a "-" that touches a number, so
// `now() - 30w` and `now()-30w` are a subtraction.
var exprLexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Whitespace", Pattern: `[ \t\r\n\f\v]+`},
	{Name: "String", Pattern: `'(?:\\(?s:.)|[^'\\])*'|"(?:\\(?s:.)|[^"\\])*"`},
	// An opening quote that is never closed: reported as "unterminated string".
	{Name: "BadString", Pattern: `(?s)['"].*`},
	{Name: "Duration", Pattern: `[0-9]+[hdw]\b`},
	{Name: "Number", Pattern: `[0-9]+(?:\.[0-9]+)?`},
	{Name: "Keyword", Pattern: `(?i)(?:AND|OR|NOT|IN|HAS|ANY|ALL|BETWEEN|IS|NULL|CONTAINS|STARTS|WITH|ENDS|MATCHES|TRUE|FALSE|COHORT|DAYS_SINCE|NOW)\b`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_]*`},
	{Name: "Operator", Pattern: `==|!=|<>|<=|>=|&&|\|\||[=<>!(),+\-]`},
	// Anything else is one bad character, reported with its position.
	{Name: "Bad", Pattern: `(?s).`},
})

// keywords lists the reserved words of the cohort language (lower case). They
// cannot name an attribute or a derived value (expressions could not refer
// to it); a cohort may use one, since cohort('x') quotes the name.
var keywords = []string{
	"and", "or", "not", "in", "has", "any", "all", "between", "is", "null",
	"contains", "starts", "with", "ends", "matches", "true", "false",
	"cohort", "days_since", "now",
}

type gExpr struct {
	Pos   lexer.Position
	Terms []*gAnd `parser:"@@ ( ( 'OR' | '||' ) @@ )*"`
}

type gAnd struct {
	Pos   lexer.Position
	Terms []*gUnary `parser:"@@ ( ( 'AND' | '&&' ) @@ )*"`
}

type gUnary struct {
	Pos  lexer.Position
	Not  *gUnary `parser:"  ( 'NOT' | '!' ) @@"`
	Pred *gPred  `parser:"| @@"`
}

type gPred struct {
	Pos    lexer.Position
	Paren  *gExpr   `parser:"  '(' @@ ')'"`
	Cohort *gString `parser:"| 'cohort' '(' @@ ')'"`
	Value  *gValue  `parser:"| @@"`
	Suffix *gSuffix `parser:"  @@?"`
}

type gSuffix struct {
	Pos     lexer.Position
	Cmp     *gCmp     `parser:"  @@"`
	IsNull  *gIsNull  `parser:"| @@"`
	Has     *gHas     `parser:"| @@"`
	Not     bool      `parser:"| ( @'NOT'?"`
	In      *gIn      `parser:"    ( @@"`
	Between *gBetween `parser:"    | @@"`
	Match   *gMatch   `parser:"    | @@ ) )"`
}

type gCmp struct {
	Pos   lexer.Position
	Op    string  `parser:"@( '==' | '=' | '!=' | '<>' | '<=' | '>=' | '<' | '>' )"`
	Right *gValue `parser:"@@"`
}

type gIsNull struct {
	Pos lexer.Position
	Not bool `parser:"'IS' @'NOT'? 'NULL'"`
}

type gHas struct {
	Pos    lexer.Position
	All    bool    `parser:"'HAS' ( @'ALL' | 'ANY' )"`
	Values []*gLit `parser:"( '(' @@ ( ',' @@ )* ')' )"`
}

type gIn struct {
	Pos  lexer.Position
	List []*gLit `parser:"'IN' ( '(' @@ ( ',' @@ )* ')'"`
	Attr *gIdent `parser:"     | @@ )"`
}

type gBetween struct {
	Pos lexer.Position
	Lo  *gLit `parser:"'BETWEEN' @@"`
	Hi  *gLit `parser:"'AND' @@"`
}

type gMatch struct {
	Pos        lexer.Position
	Contains   bool     `parser:"(   @'CONTAINS'"`
	StartsWith bool     `parser:"  | @'STARTS' 'WITH'"`
	EndsWith   bool     `parser:"  | @'ENDS' 'WITH'"`
	Matches    bool     `parser:"  | @'MATCHES' )"`
	Pattern    *gString `parser:"@@"`
}

type gValue struct {
	Pos       lexer.Position
	DaysSince *gIdent `parser:"  'days_since' '(' @@ ')'"`
	Now       *gNow   `parser:"| @@"`
	Lit       *gLit   `parser:"| @@"`
	Ident     *gIdent `parser:"| @@"`
}

type gNow struct {
	Pos    lexer.Position
	Now    bool   `parser:"@'now' '(' ')'"`
	Sign   string `parser:"( @( '+' | '-' )"`
	Offset *gLit  `parser:"  @@ )?"`
}

type gLit struct {
	Pos      lexer.Position
	EndPos   lexer.Position
	Str      *string `parser:"  @String"`
	Minus    bool    `parser:"| ( @'-'?"`
	Number   *string `parser:"    @Number )"`
	Duration *string `parser:"| @Duration"`
	Bool     *string `parser:"| @( 'true' | 'false' )"`
}

type gString struct {
	Pos lexer.Position
	Str string `parser:"@String"`
}

type gIdent struct {
	Pos  lexer.Position
	Name string `parser:"@Ident"`
}

var exprParser = participle.MustBuild[gExpr](
	participle.Lexer(exprLexer),
	participle.Elide("Whitespace"),
	participle.CaseInsensitive("Keyword"),
	participle.UseLookahead(2),
)
