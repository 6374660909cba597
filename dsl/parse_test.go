package dsl

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cannot read golden file (run with -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// The product brief's examples and one input per production.
var printTests = []struct {
	name string
	src  string
	want string
}{
	{name: "brief member or", src: `'Saturday' IN peak_days OR 'Sunday' IN peak_days`, want: `'Saturday' IN peak_days OR 'Sunday' IN peak_days`},
	{name: "brief in list", src: `email_engagement IN ('highly_engaged', 'moderate')`, want: `email_engagement IN ('highly_engaged', 'moderate')`},
	{name: "brief eq bool", src: `engagement_tier == 'dormant' AND seasonal_match == true`, want: `engagement_tier == 'dormant' AND seasonal_match == true`},
	{name: "brief now minus", src: `signup_at < now() - 30w AND last_visit_at >= '2026-01-01T00:00:00Z'`, want: `signup_at < now() - 30w AND last_visit_at >= '2026-01-01T00:00:00Z'`},
	{name: "brief has all", src: `cohort_tags HAS ALL ('cyclist', 'runner') OR top_topics IS NULL`, want: `cohort_tags HAS ALL ('cyclist', 'runner') OR top_topics IS NULL`},
	{name: "brief starts not contains", src: `device_preference STARTS WITH 'mob' OR interest_breadth NOT CONTAINS '-'`, want: `device_preference STARTS WITH 'mob' OR interest_breadth NOT CONTAINS '-'`},
	{name: "brief not bool", src: `NOT seasonal_match`, want: `NOT seasonal_match`},
	{name: "brief matches", src: `email_engagement MATCHES '^(low|un)'`, want: `email_engagement MATCHES '^(low|un)'`},
	{name: "brief floats", src: `engagement_score <= 12.5 OR engagement_score = 99.99`, want: `engagement_score <= 12.5 OR engagement_score == 99.99`},
	{name: "brief cohort refs", src: `cohort('app_users') AND NOT cohort('dormant')`, want: `cohort('app_users') AND NOT cohort('dormant')`},
	{name: "brief between and", src: `visits_30d BETWEEN 2 AND 5 AND engagement_score > 60`, want: `visits_30d BETWEEN 2 AND 5 AND engagement_score > 60`},

	{name: "lower case keywords", src: `a and not b or c`, want: `a AND NOT b OR c`},
	{name: "symbol logic", src: `a && !b || c`, want: `a AND NOT b OR c`},
	{name: "mixed case keywords", src: `x Is Not Null aNd y nOt In ('a')`, want: `x IS NOT NULL AND y NOT IN ('a')`},
	{name: "precedence keeps source parens", src: `(a OR b) AND c`, want: `(a OR b) AND c`},
	{name: "redundant parens kept", src: `((a)) AND (b == 1)`, want: `((a)) AND (b == 1)`},
	{name: "not paren", src: `NOT (a OR b)`, want: `NOT (a OR b)`},
	{name: "double not", src: `NOT NOT a`, want: `NOT NOT a`},
	{name: "bang not", src: `!a`, want: `NOT a`},
	{name: "all comparisons", src: `a == 1 AND b = 2 AND c != 3 AND d <> 4 AND e < 5 AND f <= 6 AND g > 7 AND h >= 8`, want: `a == 1 AND b == 2 AND c != 3 AND d != 4 AND e < 5 AND f <= 6 AND g > 7 AND h >= 8`},
	{name: "negative numbers", src: `x > -5 AND y IN (-1, 2.50, -0.5)`, want: `x > -5 AND y IN (-1, 2.50, -0.5)`},
	{name: "no spaces", src: `x>=-5&&y<>'a'||z`, want: `x >= -5 AND y != 'a' OR z`},
	{name: "not in list", src: `tier NOT IN ('a', "b")`, want: `tier NOT IN ('a', 'b')`},
	{name: "not member", src: `'x' NOT IN tags`, want: `'x' NOT IN tags`},
	{name: "has any", src: `tags has any ('a')`, want: `tags HAS ANY ('a')`},
	{name: "not between", src: `score NOT BETWEEN 1.5 AND 2`, want: `score NOT BETWEEN 1.5 AND 2`},
	{name: "between negative", src: `score BETWEEN -2 AND -1 OR x`, want: `score BETWEEN -2 AND -1 OR x`},
	{name: "is null", src: `top_topics IS NULL`, want: `top_topics IS NULL`},
	{name: "contains", src: `name CONTAINS 'bob'`, want: `name CONTAINS 'bob'`},
	{name: "ends with", src: `email ENDS WITH '@example.com'`, want: `email ENDS WITH '@example.com'`},
	{name: "not starts with", src: `email NOT STARTS WITH 'x'`, want: `email NOT STARTS WITH 'x'`},
	{name: "not matches", src: `email NOT MATCHES '(?i)^A'`, want: `email NOT MATCHES '(?i)^A'`},
	{name: "days since", src: `days_since(last_visit_at) < 7`, want: `days_since(last_visit_at) < 7`},
	{name: "bare days since", src: `days_since(last_visit_at)`, want: `days_since(last_visit_at)`},
	{name: "now plus", src: `x > now()+12h`, want: `x > now() + 12h`},
	{name: "now alone", src: `x <= NOW()`, want: `x <= now()`},
	{name: "now minus no spaces", src: `x < now()-30w`, want: `x < now() - 30w`},
	{name: "literal left", src: `7 < visits`, want: `7 < visits`},
	{name: "duration literal", src: `x == 7d`, want: `x == 7d`},
	{name: "true false", src: `true OR FALSE`, want: `true OR false`},
	{name: "bool compare", src: `flag != False`, want: `flag != false`},
	{name: "double quoted escapes", src: `x == "it's \"q\" \\ z"`, want: `x == 'it\'s "q" \\ z'`},
	{name: "single quoted escapes", src: `x == 'it\'s'`, want: `x == 'it\'s'`},
	{name: "unknown escape kept", src: `x MATCHES '\d+'`, want: `x MATCHES '\\d+'`},
	{name: "utf8 string", src: `city == 'Zürich 東京'`, want: `city == 'Zürich 東京'`},
	{name: "keyword prefixes are names", src: `index > 1 AND notes IS NULL AND order_count < 2 AND has_x AND is_vip AND now_ms > 3 AND android AND cohort_x AND days_since_x AND true_x`, want: `index > 1 AND notes IS NULL AND order_count < 2 AND has_x AND is_vip AND now_ms > 3 AND android AND cohort_x AND days_since_x AND true_x`},
	{name: "multi line", src: "a == 1\n  AND\n\tb == 2", want: `a == 1 AND b == 2`},
	{name: "cohort double quotes", src: `cohort("x")`, want: `cohort('x')`},
	{name: "flat or of ands", src: `a AND b OR c AND d OR e`, want: `a AND b OR c AND d OR e`},
}

func TestParseExprPrint(t *testing.T) {
	for _, tt := range printTests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpr(tt.src)
			if err != nil {
				t.Fatalf("ParseExpr(%q): %v", tt.src, err)
			}
			if got := Print(e); got != tt.want {
				t.Errorf("Print(ParseExpr(%q)) = %q, want %q", tt.src, got, tt.want)
			}
			if got := e.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			// Stable: parse(print(x)) prints the same.
			e2, err := ParseExpr(tt.want)
			if err != nil {
				t.Fatalf("re-parse of %q: %v", tt.want, err)
			}
			if got := Print(e2); got != tt.want {
				t.Errorf("re-printed %q, want %q", got, tt.want)
			}
		})
	}
}

// dump prints the tree with node kinds, fields and positions, for golden
// files.
func dump(b *strings.Builder, n Node, depth int) {
	ind := strings.Repeat("  ", depth)
	if isNilNode(n) {
		fmt.Fprintf(b, "%s<nil>\n", ind)
		return
	}
	p := n.Position()
	at := fmt.Sprintf("@%d:%d+%d", p.Line, p.Column, p.Offset)
	switch n := n.(type) {
	case *Logic:
		fmt.Fprintf(b, "%sLogic %s %s\n", ind, n.Op, at)
	case *Not:
		fmt.Fprintf(b, "%sNot %s\n", ind, at)
	case *Paren:
		fmt.Fprintf(b, "%sParen %s\n", ind, at)
	case *BoolConst:
		fmt.Fprintf(b, "%sBoolConst %v %s\n", ind, n.Value, at)
	case *CohortRef:
		fmt.Fprintf(b, "%sCohortRef %q %s name@%d:%d\n", ind, n.Name, at, n.NamePos.Line, n.NamePos.Column)
	case *Compare:
		fmt.Fprintf(b, "%sCompare %s %s\n", ind, n.Op, at)
	case *In:
		fmt.Fprintf(b, "%sIn not=%v %s\n", ind, n.Not, at)
	case *Member:
		fmt.Fprintf(b, "%sMember not=%v %s\n", ind, n.Not, at)
	case *Has:
		fmt.Fprintf(b, "%sHas all=%v %s\n", ind, n.All, at)
	case *Between:
		fmt.Fprintf(b, "%sBetween not=%v %s\n", ind, n.Not, at)
	case *IsNull:
		fmt.Fprintf(b, "%sIsNull not=%v %s\n", ind, n.Not, at)
	case *Match:
		fmt.Fprintf(b, "%sMatch %s not=%v %s\n", ind, n.Op, n.Not, at)
	case *Truthy:
		fmt.Fprintf(b, "%sTruthy %s\n", ind, at)
	case *Ident:
		fmt.Fprintf(b, "%sIdent %s %s\n", ind, n.Name, at)
	case *Literal:
		switch n.Kind {
		case LitString:
			fmt.Fprintf(b, "%sString raw=%s str=%q %s\n", ind, n.Raw, n.Str, at)
		case LitNumber:
			fmt.Fprintf(b, "%sNumber raw=%s num=%v int=%d isInt=%v %s\n", ind, n.Raw, n.Num, n.Int, n.IsInt, at)
		case LitBool:
			fmt.Fprintf(b, "%sBool %v %s\n", ind, n.Bool, at)
		case LitDuration:
			fmt.Fprintf(b, "%sDuration raw=%s dur=%s %s\n", ind, n.Raw, n.Dur, at)
		}
		return
	case *Call:
		if n.Kind == CallNow {
			fmt.Fprintf(b, "%sNow offset=%s %s\n", ind, n.Offset, at)
		} else {
			fmt.Fprintf(b, "%sDaysSince %s\n", ind, at)
		}
	}
	first := true
	Inspect(n, func(c Node) bool {
		if first {
			first = false
			return true
		}
		dump(b, c, depth+1)
		return false
	})
}

func TestParseExprTreeGolden(t *testing.T) {
	var b strings.Builder
	for _, tt := range printTests {
		e, err := ParseExpr(tt.src)
		if err != nil {
			t.Fatalf("ParseExpr(%q): %v", tt.src, err)
		}
		fmt.Fprintf(&b, "== %s\n%s\n", tt.name, tt.src)
		dump(&b, e, 0)
		b.WriteString("\n")
	}
	golden(t, "parse/ast.golden", b.String())
}

var errorTests = []struct {
	name string
	src  string
	line int
	col  int
	msg  string
}{
	{name: "and without value", src: `x == AND y`, line: 1, col: 6, msg: `unexpected "AND" (expected a value)`},
	{name: "dangling and", src: `a == 1 AND`, line: 1, col: 11, msg: `unexpected end of expression (expected a condition)`},
	{name: "empty", src: ``, line: 1, col: 1, msg: `unexpected end of expression (expected a condition)`},
	{name: "blank", src: `   `, line: 1, col: 1, msg: `unexpected end of expression (expected a condition)`},
	{name: "unterminated single", src: `x == 'abc`, line: 1, col: 6, msg: `unterminated string`},
	{name: "unterminated double", src: `x == "abc\"`, line: 1, col: 6, msg: `unterminated string`},
	{name: "escaped quote at end", src: `x == 'abc\'`, line: 1, col: 6, msg: `unterminated string`},
	{name: "missing paren", src: `(a OR b`, line: 1, col: 8, msg: `unexpected end of expression (expected ")")`},
	{name: "extra paren", src: `a OR b)`, line: 1, col: 7, msg: `unexpected ")" (expected AND, OR or the end of the expression)`},
	{name: "two values", src: `a b`, line: 1, col: 3, msg: `unexpected "b" (expected AND, OR or the end of the expression)`},
	{name: "chained compare", src: `a == b == c`, line: 1, col: 8, msg: `unexpected "==" (expected AND, OR or the end of the expression)`},
	{name: "bad character", src: `a == 1 ; b`, line: 1, col: 8, msg: `unexpected character ";"`},
	{name: "bad unicode character", src: `a == é`, line: 1, col: 6, msg: `unexpected character "é"`},
	{name: "after multi-byte characters", src: `name == '日本語' AND 'Ünï' AND AND x`, line: 1, col: 29, msg: `unexpected "AND" (expected a condition)`},
	{name: "single ampersand", src: `a & b`, line: 1, col: 3, msg: `unexpected character "&"`},
	{name: "between without and", src: `x BETWEEN 1 OR 2`, line: 1, col: 13, msg: `unexpected "OR" (expected "AND")`},
	{name: "between missing hi", src: `x BETWEEN 1 AND`, line: 1, col: 16, msg: `unexpected end of expression (expected a literal)`},
	{name: "between attribute bound", src: `x BETWEEN y AND 2`, line: 1, col: 11, msg: `unexpected "y" (expected a literal)`},
	{name: "in list empty", src: `x IN ()`, line: 1, col: 7, msg: `unexpected ")" (expected a literal)`},
	{name: "in list trailing comma", src: `x IN (1, )`, line: 1, col: 10, msg: `unexpected ")" (expected a literal)`},
	{name: "in attribute with attribute left", src: `x IN y`, line: 1, col: 1, msg: `IN y needs a literal on the left (e.g. 'x' IN y); a list needs parentheses: IN (...)`},
	{name: "has without any", src: `tags HAS ('a')`, line: 1, col: 10, msg: `unexpected "(" (expected ANY or ALL)`},
	{name: "has number", src: `tags HAS ANY ('a', 2)`, line: 1, col: 20, msg: `HAS ANY takes strings, not 2`},
	{name: "has trailing comma", src: `tags HAS ALL ('a',`, line: 1, col: 19, msg: `unexpected end of expression (expected a string)`},
	{name: "has on literal", src: `'a' HAS ANY ('a')`, line: 1, col: 1, msg: `HAS needs an attribute on the left, not 'a'`},
	{name: "is without null", src: `x IS 5`, line: 1, col: 6, msg: `unexpected "5" (expected "NULL")`},
	{name: "is null on call", src: `now() IS NULL`, line: 1, col: 1, msg: `IS NULL needs an attribute on the left, not now()`},
	{name: "starts without with", src: `x STARTS 'a'`, line: 1, col: 10, msg: `unexpected "'a'" (expected "WITH")`},
	{name: "contains number", src: `x CONTAINS 5`, line: 1, col: 12, msg: `unexpected "5" (expected a string)`},
	{name: "matches on literal", src: `'a' MATCHES 'b'`, line: 1, col: 1, msg: `MATCHES needs an attribute on the left, not 'a'`},
	{name: "not without operator", src: `x NOT 5`, line: 1, col: 7, msg: `unexpected "5" (expected IN, BETWEEN, CONTAINS, STARTS WITH, ENDS WITH or MATCHES)`},
	{name: "cohort without string", src: `cohort(x)`, line: 1, col: 8, msg: `unexpected "x" (expected a string)`},
	{name: "days since literal", src: `days_since('x') > 1`, line: 1, col: 12, msg: `unexpected "'x'" (expected an attribute)`},
	{name: "now minus number", src: `x < now() - 5`, line: 1, col: 13, msg: `now() - needs a duration such as 30d, 12h or 2w, not 5`},
	{name: "now minus nothing", src: `x < now() -`, line: 1, col: 12, msg: `unexpected end of expression (expected a duration)`},
	{name: "number alone", src: `5`, line: 1, col: 1, msg: `5 is not a condition (compare it with an attribute)`},
	{name: "string alone", src: `a OR 'x'`, line: 1, col: 6, msg: `'x' is not a condition (compare it with an attribute)`},
	{name: "spaced minus", src: `x > - 5`, line: 1, col: 6, msg: `unexpected space after "-" in a negative number`},
	{name: "bad duration unit", src: `x > now() - 7days`, line: 1, col: 13, msg: `invalid number "7days" (a duration ends in h, d or w)`},
	{name: "number glued to name", src: `x > 7x`, line: 1, col: 5, msg: `invalid number "7x" (a duration ends in h, d or w)`},
	{name: "int out of range", src: `x > 99999999999999999999`, line: 1, col: 5, msg: `number 99999999999999999999 is out of range`},
	{name: "duration out of range", src: `x > now() - 99999999999w`, line: 1, col: 13, msg: `duration 99999999999w is out of range`},
	{name: "trailing dot", src: `x > 1.`, line: 1, col: 6, msg: `unexpected character "."`},
	{name: "keyword as attribute", src: `in == 1`, line: 1, col: 1, msg: `unexpected "in" (expected a condition; "in" is a reserved word)`},
	{name: "equals null", src: `x == NULL`, line: 1, col: 6, msg: `unexpected "NULL" (expected a value; to test for a missing value write attr IS NULL)`},
	{name: "and as value", src: `x == AND`, line: 1, col: 6, msg: `unexpected "AND" (expected a value)`},
	{name: "reserved word as attribute", src: `x == 1 AND all == 2`, line: 1, col: 12, msg: `unexpected "all" (expected a condition; "all" is a reserved word)`},
	{name: "second line", src: "a == 1 AND\n  b == ", line: 2, col: 7, msg: `unexpected end of expression (expected a value)`},
	{name: "invalid utf8", src: "x == '\xff'", line: 1, col: 7, msg: `invalid UTF-8 byte 0xff`},
	{name: "too deep", src: strings.Repeat("(", 101) + "a" + strings.Repeat(")", 101), line: 1, col: 101, msg: `expression nested too deeply (more than 100 levels)`},
	{name: "too many nots", src: strings.Repeat("NOT ", 101) + "a", line: 1, col: 401, msg: `expression nested too deeply (more than 100 levels)`},
	{name: "double not operator", src: `a OR OR b`, line: 1, col: 6, msg: `unexpected "OR" (expected a condition)`},
}

func TestParseExprErrors(t *testing.T) {
	var b strings.Builder
	for _, tt := range errorTests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpr(tt.src)
			if err == nil {
				t.Fatalf("ParseExpr(%q) = %s, want an error", tt.src, Print(e))
			}
			if e != nil {
				t.Errorf("ParseExpr(%q) returned a tree with the error", tt.src)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T is not a non-empty ErrorList", err)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("errors.As(*Error) failed on %v", err)
			}
			got := list[0]
			if got.Line != tt.line || got.Column != tt.col || got.Message != tt.msg {
				t.Errorf("ParseExpr(%q) error = %d:%d: %s\nwant %d:%d: %s", tt.src, got.Line, got.Column, got.Message, tt.line, tt.col, tt.msg)
			}
			if got.File != "" {
				t.Errorf("File = %q, want empty for an ad-hoc expression", got.File)
			}
			fmt.Fprintf(&b, "== %s\n%s\n\n", tt.name, list.Pretty())
		})
	}
	golden(t, "parse/errors.golden", b.String())
}

func TestParseExprLiterals(t *testing.T) {
	tests := []struct {
		name string
		src  string // a comparison whose right side is the literal
		want Literal
	}{
		{name: "int", src: `x == 42`, want: Literal{Kind: LitNumber, Raw: "42", Num: 42, Int: 42, IsInt: true}},
		{name: "negative int", src: `x == -7`, want: Literal{Kind: LitNumber, Raw: "-7", Num: -7, Int: -7, IsInt: true}},
		{name: "float", src: `x == 12.50`, want: Literal{Kind: LitNumber, Raw: "12.50", Num: 12.5}},
		{name: "negative float", src: `x == -0.25`, want: Literal{Kind: LitNumber, Raw: "-0.25", Num: -0.25}},
		{name: "max int", src: `x == 9223372036854775807`, want: Literal{Kind: LitNumber, Raw: "9223372036854775807", Num: 9223372036854775807, Int: 9223372036854775807, IsInt: true}},
		{name: "string", src: `x == 'a\'b'`, want: Literal{Kind: LitString, Raw: `'a\'b'`, Str: "a'b"}},
		{name: "double string", src: `x == "a\\b\"c"`, want: Literal{Kind: LitString, Raw: `"a\\b\"c"`, Str: `a\b"c`}},
		{name: "true", src: `x == TRUE`, want: Literal{Kind: LitBool, Raw: "TRUE", Bool: true}},
		{name: "false", src: `x == false`, want: Literal{Kind: LitBool, Raw: "false"}},
		{name: "hours", src: `x == 36h`, want: Literal{Kind: LitDuration, Raw: "36h", Dur: 36 * time.Hour}},
		{name: "days", src: `x == 7d`, want: Literal{Kind: LitDuration, Raw: "7d", Dur: 7 * 24 * time.Hour}},
		{name: "weeks", src: `x == 2w`, want: Literal{Kind: LitDuration, Raw: "2w", Dur: 14 * 24 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpr(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			c, ok := e.(*Compare)
			if !ok {
				t.Fatalf("got %T, want *Compare", e)
			}
			lit, ok := c.Right.(*Literal)
			if !ok {
				t.Fatalf("right side is %T, want *Literal", c.Right)
			}
			got := *lit
			got.Pos = Pos{}
			if got != tt.want {
				t.Errorf("literal = %+v\nwant %+v", got, tt.want)
			}
			if lit.Pos.Column != 6 || lit.Pos.Offset != 5 {
				t.Errorf("literal at column %d offset %d, want 6 and 5", lit.Pos.Column, lit.Pos.Offset)
			}
		})
	}
}

func TestParseExprCalls(t *testing.T) {
	tests := []struct {
		src    string
		kind   CallKind
		offset time.Duration
		arg    string
		offLit string
	}{
		{src: `now() < x`, kind: CallNow},
		{src: `now() - 30w < x`, kind: CallNow, offset: -30 * 7 * 24 * time.Hour, offLit: "30w"},
		{src: `now()+1h < x`, kind: CallNow, offset: time.Hour, offLit: "1h"},
		{src: `days_since(seen_at) < x`, kind: CallDaysSince, arg: "seen_at"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := ParseExpr(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			c := e.(*Compare).Left.(*Call)
			if c.Kind != tt.kind || c.Offset != tt.offset {
				t.Errorf("call = kind %d offset %s, want %d %s", c.Kind, c.Offset, tt.kind, tt.offset)
			}
			if got := ""; c.Arg != nil {
				got = c.Arg.Name
				if got != tt.arg {
					t.Errorf("arg = %q, want %q", got, tt.arg)
				}
			} else if tt.arg != "" {
				t.Errorf("arg = nil, want %q", tt.arg)
			}
			if (c.OffLit == nil) != (tt.offLit == "") || (c.OffLit != nil && c.OffLit.Raw != tt.offLit) {
				t.Errorf("OffLit = %v, want %q", c.OffLit, tt.offLit)
			}
		})
	}
}

func TestParseExprAtMapsPositions(t *testing.T) {
	// The expression sits at line 7, column 12 of a file, on one line.
	mapper := func(off int) Pos { return Pos{Line: 7, Column: 12 + off} }
	e, err := ParseExprAt(`tier == 'x' AND y`, "cohorts.yaml", mapper)
	if err != nil {
		t.Fatal(err)
	}
	l := e.(*Logic)
	y := l.Terms[1].(*Truthy).Value.(*Ident)
	want := Pos{File: "cohorts.yaml", Line: 7, Column: 28, Offset: 16}
	if y.Pos != want {
		t.Errorf("y at %+v, want %+v", y.Pos, want)
	}
	lit := l.Terms[0].(*Compare).Right.(*Literal)
	if lit.Pos.Column != 20 || lit.Pos.File != "cohorts.yaml" {
		t.Errorf("literal at %+v, want column 20 in cohorts.yaml", lit.Pos)
	}

	_, err = ParseExprAt(`tier == AND`, "cohorts.yaml", mapper)
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("want *Error, got %v", err)
	}
	if perr.Error() != `cohorts.yaml:7:20: unexpected "AND" (expected a value)` {
		t.Errorf("error = %q", perr.Error())
	}
}

func TestParseExprPositions(t *testing.T) {
	src := "a == 1 AND\n  NOT (b OR c)"
	e, err := ParseExpr(src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	Inspect(e, func(n Node) bool {
		p := n.Position()
		got = append(got, fmt.Sprintf("%T@%d:%d", n, p.Line, p.Column))
		return true
	})
	want := "*dsl.Logic@1:1 *dsl.Compare@1:1 *dsl.Ident@1:1 *dsl.Literal@1:6 *dsl.Not@2:3 *dsl.Paren@2:7 *dsl.Logic@2:8 *dsl.Truthy@2:8 *dsl.Ident@2:8 *dsl.Truthy@2:13 *dsl.Ident@2:13"
	if strings.Join(got, " ") != want {
		t.Errorf("positions:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestPrintHandBuiltTrees(t *testing.T) {
	a := &Truthy{Value: &Ident{Name: "a"}}
	b := &Truthy{Value: &Ident{Name: "b"}}
	c := &Truthy{Value: &Ident{Name: "c"}}
	tests := []struct {
		name string
		e    Expr
		want string
	}{
		{name: "or inside and", e: &Logic{Op: OpAnd, Terms: []Expr{&Logic{Op: OpOr, Terms: []Expr{a, b}}, c}}, want: "(a OR b) AND c"},
		{name: "or inside or", e: &Logic{Op: OpOr, Terms: []Expr{&Logic{Op: OpOr, Terms: []Expr{a, b}}, c}}, want: "(a OR b) OR c"},
		{name: "and inside and", e: &Logic{Op: OpAnd, Terms: []Expr{a, &Logic{Op: OpAnd, Terms: []Expr{b, c}}}}, want: "a AND (b AND c)"},
		{name: "and inside or", e: &Logic{Op: OpOr, Terms: []Expr{&Logic{Op: OpAnd, Terms: []Expr{a, b}}, c}}, want: "a AND b OR c"},
		{name: "not of and", e: &Not{X: &Logic{Op: OpAnd, Terms: []Expr{a, b}}}, want: "NOT (a AND b)"},
		{name: "now offset without literal", e: &Compare{Op: OpLt, Left: &Ident{Name: "t"}, Right: &Call{Kind: CallNow, Offset: -48 * time.Hour}}, want: "t < now() - 2d"},
		{name: "string needing escapes", e: &Compare{Op: OpEq, Left: &Ident{Name: "s"}, Right: &Literal{Kind: LitString, Str: `a'b\c`}}, want: `s == 'a\'b\\c'`},
		{name: "nil parts", e: &Compare{Op: OpEq}, want: "<nil> == <nil>"},
		{name: "hand-built numbers", e: &In{Value: &Ident{Name: "n"}, List: []*Literal{{Kind: LitNumber, Int: -3, IsInt: true}, {Kind: LitNumber, Num: 2}, {Kind: LitNumber, Num: 0.25}}}, want: "n IN (-3, 2.0, 0.25)"},
		{name: "hand-built duration", e: &Compare{Op: OpEq, Left: &Ident{Name: "d"}, Right: &Literal{Kind: LitDuration, Dur: 36 * time.Hour}}, want: "d == 36h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Print(tt.e)
			if got != tt.want {
				t.Fatalf("Print = %q, want %q", got, tt.want)
			}
			if strings.Contains(got, "<nil>") {
				return
			}
			e, err := ParseExpr(got)
			if err != nil {
				t.Fatalf("printed text does not parse: %v", err)
			}
			if again := Print(e); again != got {
				t.Errorf("not stable: %q then %q", got, again)
			}
		})
	}
	if Print(nil) != "" {
		t.Errorf("Print(nil) = %q, want empty", Print(nil))
	}
}

func TestParseExprDepthLimitAllowsDeepButBoundedInput(t *testing.T) {
	src := strings.Repeat("NOT (", 100) + "a" + strings.Repeat(")", 100)
	e, err := ParseExpr(src)
	if err != nil {
		t.Fatalf("100 levels must parse: %v", err)
	}
	if got := Print(e); got != src {
		t.Errorf("Print = %q", got)
	}
	// Many NOTs spread over a flat expression are not nesting.
	flat := strings.TrimSuffix(strings.Repeat("NOT a AND ", 300), " AND ")
	if _, err := ParseExpr(flat); err != nil {
		t.Errorf("flat NOTs: %v", err)
	}
}
