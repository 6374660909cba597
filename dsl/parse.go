package dsl

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// PosMapper maps a byte offset in an expression's source to a position in
// the file that holds it. Line and Column (1-based, counting characters,
// not bytes) of the result are used; File and Offset are filled by the
// parser. An offset equal to len(src) (the end of the
// expression) must be mapped too.
type PosMapper func(offset int) Pos

// LineMapper returns the PosMapper of an expression that stands alone: line 1
// column 1 is its first character, and a newline in it starts a new line.
// Columns count characters (runes), not bytes, like those of a file.
func LineMapper(src string) PosMapper {
	// Line starts and multi-byte characters are indexed once, so mapping is
	// O(log n) per offset and a long expression does not cost quadratic
	// time.
	ix := newSrcIndex([]byte(src))
	return func(offset int) Pos { return ix.pos("", offset) }
}

// ParseExpr parses an expression that stands alone (a query on the command
// line or in an API request). Positions are relative to src: line 1, column
// 1 is its first character, and columns count characters, not bytes. The
// error, if any, is an ErrorList of *Error whose SourceLine is the offending
// line of src.
func ParseExpr(src string) (Expr, error) {
	return ParseExprAt(src, "", nil)
}

// ParseExprAt parses an expression found in file; mapper maps byte offsets
// in src to file positions, so every node's Pos and every error point into the
// file. A nil mapper means LineMapper(src). Errors are an ErrorList of *Error;
// their SourceLine is filled only when mapper is nil (the caller owns the file
// text otherwise, see File.Errorf).
func ParseExprAt(src string, file string, mapper PosMapper) (Expr, error) {
	p := &exprConv{src: src, file: file, mapper: mapper}
	if mapper == nil {
		p.mapper = LineMapper(src)
		p.ownLines = true
	}
	e := p.parse()
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return e, nil
}

// exprConv parses one expression and converts the participle tree to the AST.
type exprConv struct {
	src      string
	file     string
	mapper   PosMapper
	ownLines bool
	tokens   []lexer.Token // significant tokens (no whitespace), for error messages
	errs     ErrorList
}

func (p *exprConv) pos(offset int) Pos {
	pos := p.mapper(offset)
	pos.File = p.file
	pos.Offset = offset
	return pos
}

func (p *exprConv) lpos(lp lexer.Position) Pos { return p.pos(lp.Offset) }

func (p *exprConv) errorf(offset int, format string, args ...any) {
	e := Errorf(p.pos(offset), format, args...)
	if p.ownLines {
		e.SourceLine = lineAt(p.src, offset)
	}
	p.errs = append(p.errs, e)
}

// lineAt returns the line of src holding byte offset.
func lineAt(src string, offset int) string {
	if offset > len(src) {
		offset = len(src)
	}
	start := strings.LastIndexByte(src[:offset], '\n') + 1
	end := strings.IndexByte(src[offset:], '\n')
	if end < 0 {
		return src[start:]
	}
	return src[start : offset+end]
}

func (p *exprConv) parse() Expr {
	if !p.lex() {
		return nil
	}
	g, err := exprParser.ParseString("", p.src)
	if err != nil {
		p.syntaxError(err)
		return nil
	}
	e := p.expr(g)
	if len(p.errs) > 0 {
		return nil
	}
	return e
}

// maxDepth bounds nesting (parentheses, and NOTs in a row) so a hostile
// expression cannot make the parser recurse without limit.
const maxDepth = 100

// lex tokenizes the source once to report lexical errors (a bad character, an
// unterminated string, a number glued to a name) with a clear message before
// the grammar runs.
func (p *exprConv) lex() bool {
	if !utf8.ValidString(p.src) {
		for i := 0; i < len(p.src); {
			r, n := utf8.DecodeRuneInString(p.src[i:])
			if r == utf8.RuneError && n == 1 {
				p.errorf(i, "invalid UTF-8 byte %#x", p.src[i])
				return false
			}
			i += n
		}
	}
	lx, err := exprLexer.LexString("", p.src)
	if err != nil {
		p.errorf(0, "%s", err)
		return false
	}
	syms := exprLexer.Symbols()
	var prev lexer.Token
	depth, notRun := 0, 0
	for {
		t, err := lx.Next()
		if err != nil {
			var lerr *lexer.Error
			if errors.As(err, &lerr) {
				p.errorf(lerr.Pos.Offset, "%s", lerr.Msg)
			} else {
				p.errorf(0, "%s", err)
			}
			return false
		}
		if t.EOF() {
			break
		}
		switch t.Type {
		case syms["Whitespace"]:
			prev = t
			continue
		case syms["BadString"]:
			p.errorf(t.Pos.Offset, "unterminated string")
			return false
		case syms["Bad"]:
			p.errorf(t.Pos.Offset, "unexpected character %q", t.Value)
			return false
		case syms["Ident"], syms["Keyword"]:
			if prev.Type == syms["Number"] || prev.Type == syms["Duration"] {
				p.errorf(prev.Pos.Offset, "invalid number %q (a duration ends in h, d or w)", prev.Value+t.Value)
				return false
			}
		}
		// Bound the parser's recursion (parentheses and runs of NOT).
		switch strings.ToUpper(t.Value) {
		case "(":
			depth++
			notRun = 0
		case ")":
			depth--
			notRun = 0
		case "NOT", "!":
			notRun++
		default:
			notRun = 0
		}
		if depth > maxDepth || notRun > maxDepth {
			p.errorf(t.Pos.Offset, "expression nested too deeply (more than %d levels)", maxDepth)
			return false
		}
		p.tokens = append(p.tokens, t)
		prev = t
	}
	return true
}

// syntaxError turns a participle error into a positioned message saying what
// was expected in words rather than in grammar.
func (p *exprConv) syntaxError(err error) {
	var uerr *participle.UnexpectedTokenError
	if errors.As(err, &uerr) {
		tok := uerr.Unexpected
		if tok.Value == "," && strings.HasSuffix(uerr.Message(), `(expected ")")`) && p.inList(tok.Pos.Offset) {
			// participle gave up at the comma of a list whose next item is
			// bad; the item after the comma is the real culprit.
			next := p.nextToken(tok.Pos.Offset)
			offset := next.Pos.Offset
			if next.EOF() {
				offset = len(strings.TrimRight(p.src, " \t\r\n\f\v"))
			}
			p.errorf(offset, "unexpected %s (expected a string)", describeToken(next))
			return
		}
		what := describeToken(tok)
		offset := tok.Pos.Offset
		if tok.EOF() {
			// Point just after the last token, not after trailing blanks
			// or the line break that ends a YAML block scalar.
			offset = len(strings.TrimRight(p.src, " \t\r\n\f\v"))
		}
		if exp := p.expected(tok, uerr.Message()); exp != "" {
			hint := ""
			if tok.Type == exprLexer.Symbols()["Keyword"] && (exp == "a value" || exp == "a condition" || exp == "an attribute" || exp == "a literal") {
				switch strings.ToUpper(tok.Value) {
				case "NULL":
					hint = "; to test for a missing value write attr IS NULL"
				case "AND", "OR", "NOT":
					// A misplaced operator, not a name: no hint.
				default:
					hint = fmt.Sprintf("; %q is a reserved word", strings.ToLower(tok.Value))
				}
			}
			p.errorf(offset, "unexpected %s (expected %s%s)", what, exp, hint)
		} else {
			p.errorf(offset, "unexpected %s", what)
		}
		return
	}
	var perr participle.Error
	if errors.As(err, &perr) {
		p.errorf(perr.Position().Offset, "%s", perr.Message())
		return
	}
	p.errorf(0, "%s", err)
}

func describeToken(t lexer.Token) string {
	if t.EOF() {
		return "end of expression"
	}
	return strconv.Quote(t.Value)
}

// prevToken returns the significant token before offset, or nil.
func (p *exprConv) prevToken(offset int) *lexer.Token {
	var prev *lexer.Token
	for i := range p.tokens {
		if p.tokens[i].Pos.Offset >= offset {
			break
		}
		prev = &p.tokens[i]
	}
	return prev
}

// nextToken returns the significant token after offset (EOF at the end).
func (p *exprConv) nextToken(offset int) lexer.Token {
	for _, t := range p.tokens {
		if t.Pos.Offset > offset {
			return t
		}
	}
	return lexer.Token{Type: lexer.EOF, Pos: lexer.Position{Offset: len(p.src)}}
}

// expected says in words what the grammar wanted at tok, from participle's
// expectation (an EBNF fragment) and the token before.
func (p *exprConv) expected(tok lexer.Token, msg string) string {
	exp := ""
	if i := strings.Index(msg, "(expected "); i >= 0 {
		exp = strings.TrimSuffix(msg[i+len("(expected "):], ")")
	}
	offset := tok.Pos.Offset
	if tok.EOF() {
		offset = len(p.src)
	}
	prev := p.prevToken(offset)
	prevUp := ""
	if prev != nil {
		prevUp = strings.ToUpper(prev.Value)
	}
	switch {
	case exp == "":
		if prev != nil && prevUp == "NOT" {
			return "IN, BETWEEN, CONTAINS, STARTS WITH, ENDS WITH or MATCHES"
		}
		return "AND, OR or the end of the expression"
	case strings.HasPrefix(exp, "GString"):
		return "a string"
	case strings.HasPrefix(exp, "GIdent"):
		return "an attribute"
	case strings.HasPrefix(exp, `("ALL" | "ANY")`):
		return "ANY or ALL"
	case strings.HasPrefix(exp, "(GIn"):
		return "IN, BETWEEN, CONTAINS, STARTS WITH, ENDS WITH or MATCHES"
	case strings.HasPrefix(exp, `"AND" GLit`):
		return `"AND"`
	case strings.HasPrefix(exp, `"`):
		// A single expected token such as ")" or "NULL".
		if j := strings.IndexByte(exp[1:], '"'); j >= 0 {
			return exp[:j+2]
		}
		return exp
	}
	// The grammar wanted the start of something: say what from the token
	// before.
	switch {
	case prev == nil:
		return "a condition"
	case prevUp == "BETWEEN":
		return "a literal"
	case prevUp == "AND" && p.inBetween(prev.Pos.Offset):
		return "a literal"
	case prevUp == "AND" || prevUp == "&&" || prevUp == "OR" || prevUp == "||" || prevUp == "NOT" || prevUp == "!":
		return "a condition"
	case prevUp == "(" || prevUp == ",":
		if p.inList(prev.Pos.Offset) {
			return "a literal"
		}
		return "a condition"
	case prevUp == "+" || prevUp == "-":
		if pp := p.prevToken(prev.Pos.Offset); pp != nil && pp.Value == ")" {
			return "a duration"
		}
		return "a number"
	case isCmpOp(prev.Value):
		return "a value"
	}
	return "a value"
}

// inBetween reports whether the AND at offset closes a BETWEEN.
func (p *exprConv) inBetween(offset int) bool {
	prev := p.prevToken(offset) // the low literal
	if prev == nil {
		return false
	}
	before := p.prevToken(prev.Pos.Offset)
	if before != nil && before.Value == "-" {
		before = p.prevToken(before.Pos.Offset)
	}
	return before != nil && strings.EqualFold(before.Value, "BETWEEN")
}

// inList reports whether the "(" or "," at offset belongs to an IN list or a
// HAS list (rather than a parenthesised condition).
func (p *exprConv) inList(offset int) bool {
	depth := 0
	for i := len(p.tokens) - 1; i >= 0; i-- {
		t := p.tokens[i]
		if t.Pos.Offset > offset {
			continue
		}
		switch t.Value {
		case ")":
			depth++
		case "(":
			if depth == 0 {
				if i == 0 {
					return false
				}
				up := strings.ToUpper(p.tokens[i-1].Value)
				return up == "IN" || up == "ANY" || up == "ALL"
			}
			depth--
		}
	}
	return false
}

func isCmpOp(s string) bool {
	switch s {
	case "==", "=", "!=", "<>", "<", "<=", ">", ">=":
		return true
	}
	return false
}

// ---- conversion to the AST ----

func (p *exprConv) expr(g *gExpr) Expr {
	if len(g.Terms) == 1 {
		return p.and(g.Terms[0])
	}
	l := &Logic{Pos: p.lpos(g.Pos), Op: OpOr}
	for _, t := range g.Terms {
		l.Terms = append(l.Terms, p.and(t))
	}
	return l
}

func (p *exprConv) and(g *gAnd) Expr {
	if len(g.Terms) == 1 {
		return p.unary(g.Terms[0])
	}
	l := &Logic{Pos: p.lpos(g.Pos), Op: OpAnd}
	for _, t := range g.Terms {
		l.Terms = append(l.Terms, p.unary(t))
	}
	return l
}

func (p *exprConv) unary(g *gUnary) Expr {
	if g.Not != nil {
		return &Not{Pos: p.lpos(g.Pos), X: p.unary(g.Not)}
	}
	return p.pred(g.Pred)
}

func (p *exprConv) pred(g *gPred) Expr {
	pos := p.lpos(g.Pos)
	switch {
	case g.Paren != nil:
		return &Paren{Pos: pos, X: p.expr(g.Paren)}
	case g.Cohort != nil:
		return &CohortRef{Pos: pos, Name: p.unquote(g.Cohort.Str, g.Cohort.Pos.Offset), NamePos: p.lpos(g.Cohort.Pos)}
	}
	left := p.value(g.Value)
	s := g.Suffix
	if s == nil {
		if lit, ok := left.(*Literal); ok {
			if lit.Kind == LitBool {
				return &BoolConst{Pos: pos, Value: lit.Bool}
			}
			p.errorf(g.Pos.Offset, "%s is not a condition (compare it with an attribute)", lit.Raw)
			return nil
		}
		return &Truthy{Pos: pos, Value: left}
	}
	switch {
	case s.Cmp != nil:
		return &Compare{Pos: pos, Op: cmpOps[s.Cmp.Op], Left: left, Right: p.value(s.Cmp.Right)}
	case s.IsNull != nil:
		return &IsNull{Pos: pos, Attr: p.needIdent(left, g.Pos.Offset, "IS NULL"), Not: s.IsNull.Not}
	case s.Has != nil:
		h := &Has{Pos: pos, Attr: p.needIdent(left, g.Pos.Offset, "HAS"), All: s.Has.All}
		for _, v := range s.Has.Values {
			lit := p.lit(v)
			if lit.Kind != LitString {
				p.errorf(v.Pos.Offset, "HAS %s takes strings, not %s", map[bool]string{true: "ALL", false: "ANY"}[h.All], lit.Raw)
			}
			h.Values = append(h.Values, lit)
		}
		return h
	case s.In != nil && s.In.Attr != nil:
		lit, ok := left.(*Literal)
		if !ok {
			p.errorf(g.Pos.Offset, "IN %s needs a literal on the left (e.g. 'x' IN %s); a list needs parentheses: IN (...)", s.In.Attr.Name, s.In.Attr.Name)
			return nil
		}
		return &Member{Pos: pos, Elem: lit, Not: s.Not, Attr: p.ident(s.In.Attr)}
	case s.In != nil:
		in := &In{Pos: pos, Value: left, Not: s.Not}
		for _, l := range s.In.List {
			in.List = append(in.List, p.lit(l))
		}
		return in
	case s.Between != nil:
		return &Between{Pos: pos, Value: left, Not: s.Not, Lo: p.lit(s.Between.Lo), Hi: p.lit(s.Between.Hi)}
	case s.Match != nil:
		m := &Match{Pos: pos, Not: s.Not, Pattern: p.stringLit(s.Match.Pattern)}
		var what string
		switch {
		case s.Match.Contains:
			m.Op, what = OpContains, "CONTAINS"
		case s.Match.StartsWith:
			m.Op, what = OpStartsWith, "STARTS WITH"
		case s.Match.EndsWith:
			m.Op, what = OpEndsWith, "ENDS WITH"
		default:
			m.Op, what = OpMatches, "MATCHES"
		}
		m.Attr = p.needIdent(left, g.Pos.Offset, what)
		return m
	}
	p.errorf(g.Pos.Offset, "unsupported condition")
	return nil
}

var cmpOps = map[string]CmpOp{
	"==": OpEq, "=": OpEq, "!=": OpNe, "<>": OpNe,
	"<": OpLt, "<=": OpLe, ">": OpGt, ">=": OpGe,
}

// needIdent checks that the left side of an attribute-only predicate is an
// attribute.
func (p *exprConv) needIdent(v Value, offset int, what string) *Ident {
	if id, ok := v.(*Ident); ok {
		return id
	}
	p.errorf(offset, "%s needs an attribute on the left, not %s", what, v)
	return nil
}

func (p *exprConv) ident(g *gIdent) *Ident {
	return &Ident{Pos: p.lpos(g.Pos), Name: g.Name}
}

func (p *exprConv) value(g *gValue) Value {
	pos := p.lpos(g.Pos)
	switch {
	case g.DaysSince != nil:
		return &Call{Pos: pos, Kind: CallDaysSince, Arg: p.ident(g.DaysSince)}
	case g.Now != nil:
		c := &Call{Pos: pos, Kind: CallNow}
		if g.Now.Offset != nil {
			lit := p.lit(g.Now.Offset)
			if lit.Kind != LitDuration || g.Now.Offset.Minus {
				p.errorf(g.Now.Offset.Pos.Offset, "now() %s needs a duration such as 30d, 12h or 2w, not %s", g.Now.Sign, lit.Raw)
				return c
			}
			c.OffLit = lit
			c.Offset = lit.Dur
			if g.Now.Sign == "-" {
				c.Offset = -lit.Dur
			}
		}
		return c
	case g.Lit != nil:
		return p.lit(g.Lit)
	case g.Ident != nil:
		return p.ident(g.Ident)
	}
	p.errorf(g.Pos.Offset, "expected a value")
	return &Ident{Pos: pos}
}

func (p *exprConv) stringLit(g *gString) *Literal {
	return &Literal{Pos: p.lpos(g.Pos), Kind: LitString, Raw: g.Str, Str: p.unquote(g.Str, g.Pos.Offset)}
}

func (p *exprConv) lit(g *gLit) *Literal {
	pos := p.lpos(g.Pos)
	l := &Literal{Pos: pos}
	switch {
	case g.Str != nil:
		l.Kind, l.Raw, l.Str = LitString, *g.Str, p.unquote(*g.Str, g.Pos.Offset)
	case g.Number != nil:
		l.Kind, l.Raw = LitNumber, *g.Number
		if g.Minus {
			raw := p.src[g.Pos.Offset:g.EndPos.Offset]
			if raw != "-"+*g.Number {
				p.errorf(g.Pos.Offset+1, "unexpected space after \"-\" in a negative number")
			}
			l.Raw = "-" + *g.Number
		}
		p.number(l, g.Pos.Offset)
	case g.Duration != nil:
		l.Kind, l.Raw = LitDuration, *g.Duration
		d, err := parseDuration(l.Raw)
		if err != nil {
			p.errorf(g.Pos.Offset, "%v", err)
		}
		l.Dur = d
	case g.Bool != nil:
		l.Kind, l.Bool, l.Raw = LitBool, strings.EqualFold(*g.Bool, "true"), *g.Bool
	}
	return l
}

func (p *exprConv) number(l *Literal, offset int) {
	if !strings.Contains(l.Raw, ".") {
		i, err := strconv.ParseInt(l.Raw, 10, 64)
		if err != nil {
			p.errorf(offset, "number %s is out of range", l.Raw)
			return
		}
		l.Int, l.IsInt, l.Num = i, true, float64(i)
		return
	}
	f, err := strconv.ParseFloat(l.Raw, 64)
	if err != nil || math.IsInf(f, 0) {
		p.errorf(offset, "number %s is out of range", l.Raw)
		return
	}
	l.Num = f
}

// parseDuration reads [0-9]+(h|d|w).
func parseDuration(raw string) (time.Duration, error) {
	if len(raw) < 2 {
		return 0, fmt.Errorf("invalid duration %q", raw)
	}
	n, err := strconv.ParseInt(raw[:len(raw)-1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("duration %s is out of range", raw)
	}
	var unit time.Duration
	switch raw[len(raw)-1] {
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	case 'w':
		unit = 7 * 24 * time.Hour
	default:
		return 0, fmt.Errorf("invalid duration %q (use h, d or w)", raw)
	}
	if n > int64(math.MaxInt64/unit) {
		return 0, fmt.Errorf("duration %s is out of range", raw)
	}
	return time.Duration(n) * unit, nil
}

// unquote decodes a '...' or "..." string literal: \' \" \\ are escapes; a
// backslash before any other character is kept (so regular expressions such
// as '\d+' read naturally).
func (p *exprConv) unquote(raw string, offset int) string {
	s, err := Unquote(raw)
	if err != nil {
		p.errorf(offset, "%v", err)
	}
	return s
}

// Unquote decodes a string literal of the cohort language ('...' or "...").
func Unquote(raw string) (string, error) {
	if len(raw) < 2 || (raw[0] != '\'' && raw[0] != '"') || raw[len(raw)-1] != raw[0] {
		return "", fmt.Errorf("invalid string literal %s", raw)
	}
	body := raw[1 : len(raw)-1]
	if !strings.Contains(body, `\`) {
		return body, nil
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\\' && i+1 < len(body) {
			switch body[i+1] {
			case '\'', '"', '\\':
				b.WriteByte(body[i+1])
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// Quote returns s as a single-quoted cohort-language string literal.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}
