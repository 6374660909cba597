package dsl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// header is the start of every test file: the cohort under test is on line 7.
const header = `version: 1
attributes:
  user_id: {type: string, key: true}
  tier: {type: string}
cohorts:
  g:
`

// TestExpressionErrorPositions checks that an expression's syntax error
// points at the exact file line and column, for every YAML scalar style.
func TestExpressionErrorPositions(t *testing.T) {
	tests := []struct {
		name string
		yaml string // appended to header
		line int
		col  int
	}{
		{name: "plain", yaml: "    c: tier == 'a' AND AND x\n", line: 7, col: 24},
		{name: "plain after multibyte text", yaml: "    c: tier == 'été' AND AND x\n", line: 7, col: 26},
		{name: "plain over two lines", yaml: "    c: tier == 'a'\n      AND AND x\n", line: 8, col: 11},
		{name: "plain with a comment", yaml: "    c: tier == AND # why\n", line: 7, col: 16},
		{name: "single quoted with doubled quotes", yaml: "    c: 'tier == ''a'' AND AND x'\n", line: 7, col: 27},
		{name: "single quoted over lines", yaml: "    c: 'tier == ''a''\n\n       AND AND x'\n", line: 9, col: 12},
		{name: "double quoted with escapes", yaml: "    c: \"tier\\t== \\\"a\\\" AND AND x\"\n", line: 7, col: 28},
		{name: "double quoted with unicode escapes", yaml: "    c: \"tier == \\\"\\u00e9t\\u00e9\\\" AND AND x\"\n", line: 7, col: 39},
		{name: "double quoted escaped line break", yaml: "    c: \"tier == 'a' \\\n      AND AND x\"\n", line: 8, col: 11},
		{name: "double quoted end of input", yaml: "    c: \"tier == \"\n", line: 7, col: 16},
		{name: "literal block", yaml: "    c: |\n      tier == 'a'\n        AND AND x\n", line: 9, col: 13},
		{name: "literal block keep", yaml: "    c: |+\n      tier ==\n\n      AND x\n", line: 10, col: 7},
		{name: "literal block explicit indent", yaml: "    c: |2\n        tier == AND\n", line: 8, col: 17},
		{name: "folded block", yaml: "    c: >\n      tier == 'a'\n      AND\n      AND x\n", line: 10, col: 7},
		{name: "folded strip with blank line", yaml: "    c: >-\n      tier == 'a'\n\n      AND AND x\n", line: 10, col: 11},
		{name: "folded more indented", yaml: "    c: >\n      tier == 'a'\n        AND\n      AND x\n", line: 10, col: 7},
		{name: "expr key plain", yaml: "    c:\n      expr: tier == AND\n      owner: x\n", line: 8, col: 21},
		{name: "expr key literal", yaml: "    c:\n      description: d\n      expr: |\n        tier == 'a' OR\n        OR\n", line: 11, col: 9},
		{name: "flow mapping after multibyte", yaml: "    c: {description: \"été\", expr: \"tier == AND\"}\n", line: 7, col: 44},
		{name: "unterminated string", yaml: "    c: \"tier == 'abc\"\n", line: 7, col: 17},
		{name: "crlf line ends", yaml: "    c: tier == 'a'\r\n      AND AND x\r\n", line: 8, col: 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := header + tt.yaml
			if strings.Contains(tt.yaml, "\r\n") {
				src = strings.ReplaceAll(header, "\n", "\r\n") + tt.yaml
			}
			_, err := ParseData("cohorts.yaml", []byte(src))
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("want exactly one error, got %v", err)
			}
			e := list[0]
			if e.File != "cohorts.yaml" || e.Line != tt.line || e.Column != tt.col {
				t.Errorf("error at %s:%d:%d, want cohorts.yaml:%d:%d\n%s", e.File, e.Line, e.Column, tt.line, tt.col, list.Pretty())
			}
			if want := strings.Split(src, "\n")[tt.line-1]; e.SourceLine != strings.TrimSuffix(want, "\r") {
				t.Errorf("SourceLine = %q, want %q", e.SourceLine, want)
			}
		})
	}
}

// TestExpressionNodePositions checks AST positions (not only errors) are
// file positions.
func TestExpressionNodePositions(t *testing.T) {
	src := header + "    c: >\n      tier == 'a'\n      AND   cohort('b')\n    b: \"tier\\t!= 'x'\"\n"
	f, err := ParseData("cohorts.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	Inspect(f.Cohort("c").Expr, func(n Node) bool {
		p := n.Position()
		got = append(got, fmt.Sprintf("%T@%s:%d:%d", n, p.File, p.Line, p.Column))
		return true
	})
	want := []string{
		"*dsl.Logic@cohorts.yaml:8:7",
		"*dsl.Compare@cohorts.yaml:8:7",
		"*dsl.Ident@cohorts.yaml:8:7",
		"*dsl.Literal@cohorts.yaml:8:15",
		"*dsl.CohortRef@cohorts.yaml:9:13",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("positions\n got %v\nwant %v", got, want)
	}
	ref := f.Cohort("c").Expr.(*Logic).Terms[1].(*CohortRef)
	if ref.NamePos.Line != 9 || ref.NamePos.Column != 20 {
		t.Errorf("NamePos = %d:%d, want 9:20", ref.NamePos.Line, ref.NamePos.Column)
	}
	lit := f.Cohort("b").Expr.(*Compare).Right.(*Literal)
	if lit.Pos.Line != 10 || lit.Pos.Column != 18 {
		t.Errorf("literal after an escape at %d:%d, want 10:18", lit.Pos.Line, lit.Pos.Column)
	}
	// The compiler positions its own errors from nodes; File.Errorf adds
	// the caret line.
	e := f.Errorf(lit.Pos, "unknown value %q", lit.Str)
	if got := e.Pretty(); !strings.Contains(got, "cohorts.yaml:10:18: unknown value \"x\"\n   |     b: \"tier\\t!= 'x'\"\n   |                  ^") {
		t.Errorf("Pretty =\n%s", got)
	}
}

// TestScalarOffsetsExact re-decodes many scalars and checks the decoding
// matched yaml.v3 exactly and that every printable byte maps to the same
// byte in the source.
func TestScalarOffsetsExact(t *testing.T) {
	values := []string{
		"k: plain text here\n",
		"k: plain   inner  spaces # comment\n",
		"k: plain\n  folded\n\n  twice\n",
		"k: 'single ''quoted'' text'\n",
		"k: 'multi\n   line\n\n   single'\n",
		"k: \"dq \\\\ \\\" \\t \\n \\x41 \\u00e9 \\U0001F600 end\"\n",
		"k: \"dq\n  folded \\\n  joined\"\n",
		"k: |\n  lit one\n    two\n\n  three\n",
		"k: |-\n  strip\n",
		"k: |+\n  keep\n\n",
		"k: >\n  fold one\n  two\n\n  three\n    more\n  back\n",
		"k: >2-\n   indented\n  x\n",
		"a:\n  b:\n    k: |\n      nested\n       lit\n",
		"k: [x, 'y', \"z\"]\n",
		"k: {a: plain, b: 'q'}\n",
		"k: Zürich 東京 tail\n",
	}
	for _, src := range values {
		t.Run(strings.SplitN(src, "\n", 2)[0], func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
				t.Fatal(err)
			}
			ix := newSrcIndex([]byte(src))
			var walk func(n *yaml.Node, keyCol int)
			checked := 0
			walk = func(n *yaml.Node, keyCol int) {
				switch n.Kind {
				case yaml.DocumentNode, yaml.SequenceNode:
					for _, c := range n.Content {
						walk(c, keyCol)
					}
				case yaml.MappingNode:
					for i := 0; i+1 < len(n.Content); i += 2 {
						walk(n.Content[i+1], n.Content[i].Column)
					}
				case yaml.ScalarNode:
					offs, exact := ix.scalarOffsets(n, keyCol-1)
					if !exact {
						t.Errorf("scalar %q: re-decoding did not match yaml.v3", n.Value)
					}
					if len(offs) != len(n.Value)+1 {
						t.Fatalf("scalar %q: %d offsets, want %d", n.Value, len(offs), len(n.Value)+1)
					}
					escaped := n.Style&yaml.DoubleQuotedStyle != 0
					for i := 0; i < len(n.Value); i++ {
						c := n.Value[i]
						if c <= ' ' || (escaped && src[offs[i]] == '\\') {
							continue
						}
						if src[offs[i]] != c {
							t.Errorf("scalar %q byte %d %q maps to source %q", n.Value, i, c, src[offs[i]])
						}
					}
					checked++
				}
			}
			walk(&doc, 1)
			if checked == 0 {
				t.Fatal("no scalar checked")
			}
		})
	}
}

const validFile = `version: 1
attributes:
  user_id: {type: string, key: true}
  tier:
    type: string
    values: [champion, loyal]
  score: {type: float}
  visits: {type: int}
  seen_at: {type: timestamp}
  vip: {type: bool}
  tags: {type: "list<string>", values: [a, b]}
derived:
  days_away: days_since(seen_at)
  active: "days_away < 7"
cohorts:
  top:
    short: "tier == 'champion'"
    full:
      expr: vip AND active
      description: Active VIPs
      owner: crm@example.com
      tags: [q1, spring]
      export: [score, days_away]
    deeper:
      deepest:
        leaf: "cohort('short') OR cohort('full')"
  lists:
    inline:
      members: [u1, u2]
    from_file:
      members_file: ids.csv
  empty_group: {}
`

func TestParseDataValid(t *testing.T) {
	f, err := ParseData("c.yaml", []byte(validFile))
	if err != nil {
		t.Fatalf("ParseData: %v", err)
	}
	if f.Version != 1 || f.Path != "c.yaml" || string(f.Source) != validFile {
		t.Errorf("Version %d Path %q", f.Version, f.Path)
	}
	var attrs []string
	for _, a := range f.Attributes {
		attrs = append(attrs, fmt.Sprintf("%s:%s:%v:%v@%d:%d", a.Name, a.Type, a.Key, a.Values, a.Pos.Line, a.Pos.Column))
	}
	wantAttrs := []string{
		"user_id:string:true:[]@3:3", "tier:string:false:[champion loyal]@4:3", "score:float:false:[]@7:3",
		"visits:int:false:[]@8:3", "seen_at:timestamp:false:[]@9:3", "vip:bool:false:[]@10:3",
		"tags:list<string>:false:[a b]@11:3",
	}
	if !reflect.DeepEqual(attrs, wantAttrs) {
		t.Errorf("attributes\n got %v\nwant %v", attrs, wantAttrs)
	}
	if k := f.KeyAttribute(); k == nil || k.Name != "user_id" {
		t.Errorf("KeyAttribute = %v", k)
	}
	if f.Attribute("score") == nil || f.Attribute("nope") != nil {
		t.Error("Attribute lookup")
	}
	if len(f.Derived) != 2 || f.Derived[0].Name != "days_away" || Print(f.Derived[0].Expr) != "days_since(seen_at)" ||
		f.Derived[1].Source != "days_away < 7" || f.DerivedNamed("active") != f.Derived[1] {
		t.Errorf("derived = %+v", f.Derived)
	}
	if _, ok := f.Derived[0].Expr.(*Truthy); !ok {
		t.Errorf("a derived value parses as *Truthy, got %T", f.Derived[0].Expr)
	}
	var cohorts []string
	for _, c := range f.Cohorts {
		cohorts = append(cohorts, fmt.Sprintf("%s|%s|%s|static=%v|%v|%q", c.Group, c.Name, Print(c.Expr), c.Static, c.Members, c.MembersFile))
	}
	wantCohorts := []string{
		"top|short|tier == 'champion'|static=false|[]|\"\"",
		"top|full|vip AND active|static=false|[]|\"\"",
		"top/deeper/deepest|leaf|cohort('short') OR cohort('full')|static=false|[]|\"\"",
		"lists|inline||static=true|[u1 u2]|\"\"",
		"lists|from_file||static=true|[]|\"ids.csv\"",
	}
	if !reflect.DeepEqual(cohorts, wantCohorts) {
		t.Errorf("cohorts\n got %q\nwant %q", cohorts, wantCohorts)
	}
	full := f.Cohort("full")
	if full.Description != "Active VIPs" || full.Owner != "crm@example.com" || !reflect.DeepEqual(full.Tags, []string{"q1", "spring"}) ||
		!reflect.DeepEqual(full.Export, []string{"score", "days_away"}) || full.Source != "vip AND active" ||
		len(full.ExportPos) != 2 || full.ExportPos[1].Line != 23 || full.ExportPos[1].Column != 23 {
		t.Errorf("full = %+v", full)
	}
	if full.Pos.Line != 18 || full.Pos.Column != 5 {
		t.Errorf("full at %d:%d, want 18:5", full.Pos.Line, full.Pos.Column)
	}
	if f.Cohort("from_file").Members != nil {
		t.Error("ParseData must not read members files")
	}
	wantGroups := []string{"top", "top/deeper", "top/deeper/deepest", "lists", "empty_group"}
	if !reflect.DeepEqual(f.Groups, wantGroups) {
		t.Errorf("groups = %v, want %v", f.Groups, wantGroups)
	}
	if got := f.CohortNames(); len(got) != 5 || got[0] != "short" {
		t.Errorf("CohortNames = %v", got)
	}
	if got := f.AttributeNames(); len(got) != 9 || got[7] != "days_away" {
		t.Errorf("AttributeNames = %v", got)
	}
}

// TestParseDataErrors covers each structural rule with the first error's
// position and text.
func TestParseDataErrors(t *testing.T) {
	const attrs = "version: 1\nattributes:\n  user_id: {type: string, key: true}\n"
	tests := []struct {
		name string
		src  string
		want string // first error, "LINE:COL: message"
		n    int    // number of errors
	}{
		{name: "empty", src: "", want: "1:1: empty file: want version: 1, attributes and cohorts", n: 1},
		{name: "not a mapping", src: "- a\n", want: "1:1: the file must be a mapping with version, attributes and cohorts, not a list", n: 1},
		{name: "yaml syntax", src: "version: 1\nattributes: [a\ncohorts: {}\n", want: "2:13: YAML: did not find expected ',' or ']' (the list opened here is not closed)", n: 1},
		{name: "yaml tab", src: "version: 1\n\tattributes: {}\n", want: "2:1: YAML: found a tab character that violates indentation (YAML indents with spaces, not tabs)", n: 1},
		{name: "yaml unknown anchor", src: attrs + "  a: *nope\n", want: "4:6: YAML: unknown anchor 'nope' referenced", n: 1},
		{name: "yaml bad indentation", src: attrs + "   bad: 1\n", want: "3:3: YAML: did not find expected key (in the mapping that starts here: check the indentation below)", n: 1},
		{name: "yaml unclosed quote", src: attrs + "cohorts:\n  a: \"x == 1\n", want: "5:6: YAML: found unexpected end of stream (a quoted string that is not closed?)", n: 1},
		{name: "yaml colon in plain value", src: attrs + "cohorts:\n  a: note: x\n", want: `5:10: YAML: mapping values are not allowed in this context (quote a value that contains ": ")`, n: 1},
		{name: "yaml list in mapping", src: attrs + "cohorts:\n  - a\n  b: 1\n", want: "5:3: YAML: did not find expected '-' indicator (in the list that starts here: check the indentation below)", n: 1},
		{name: "unknown top key", src: attrs + "cohort:\n  a: x\n", want: `4:1: unknown key "cohort" (did you mean "cohorts"?)`, n: 1},
		{name: "missing version", src: "attributes:\n  user_id: {type: string, key: true}\n", want: "1:1: missing version: 1", n: 1},
		{name: "version 2", src: "version: 2\nattributes:\n  user_id: {type: string, key: true}\n", want: "1:10: unsupported version 2 (this cohortd reads version 1)", n: 1},
		{name: "version string", src: "version: one\nattributes:\n  user_id: {type: string, key: true}\n", want: `1:10: version must be 1, not the value "one"`, n: 1},
		{name: "missing attributes", src: "version: 1\ncohorts: {}\n", want: "1:1: missing attributes: the catalog needs at least the key attribute", n: 1},
		{name: "duplicate top key", src: attrs + "version: 1\n", want: `4:1: duplicate key "version" (first at line 1)`, n: 1},
		{name: "no key attribute", src: "version: 1\nattributes:\n  a: {type: string}\n", want: "2:1: no key attribute: mark the user id attribute with key: true", n: 1},
		{name: "two keys", src: attrs + "  b: {type: string, key: true}\n", want: `4:3: attribute "b" is a second key attribute (the key is "user_id"); exactly one is allowed`, n: 1},
		{name: "key not string", src: "version: 1\nattributes:\n  id: {type: int, key: true}\n", want: `3:14: the key attribute "id" must have type string, not int`, n: 1},
		{name: "key not bool", src: "version: 1\nattributes:\n  id: {type: string, key: yes please}\n", want: `3:27: key must be true or false in attribute "id", not the value "yes please"`, n: 1},
		{name: "unknown type", src: attrs + "  a: {type: strnig}\n", want: `4:13: unknown type "strnig" in attribute "a" (did you mean "string"?)`, n: 1},
		{name: "list type unquoted", src: attrs + "  a: {type: list}\n", want: `4:13: unknown type "list" in attribute "a" (the list type is "list<string>", quoted in YAML)`, n: 1},
		{name: "missing type", src: attrs + "  a: {values: [x]}\n", want: `4:3: attribute "a" has no type (one of bool, float, int, list<string>, string, timestamp)`, n: 1},
		{name: "attribute not a map", src: attrs + "  a: int\n", want: `4:6: attribute "a" must be a mapping such as {type: string}, not the value "int" (write {type: int})`, n: 1},
		{name: "unknown attribute key", src: attrs + "  a: {tpye: int}\n", want: `4:7: unknown key "tpye" in attribute "a" (did you mean "type"?)`, n: 1},
		{name: "values on int", src: attrs + "  a: {type: int, values: [1]}\n", want: `4:26: values is only allowed on string and list<string> attributes ("a" is int)`, n: 1},
		{name: "bad attribute name", src: attrs + "  2a: {type: int}\n", want: `4:3: invalid attribute name "2a": use letters, digits and _, not starting with a digit`, n: 1},
		{name: "keyword attribute name", src: attrs + "  between: {type: int}\n", want: `4:3: invalid attribute name "between": it is a reserved word of the cohort language`, n: 1},
		{name: "duplicate attribute", src: attrs + "  a: {type: int}\n  a: {type: int}\n", want: `5:3: duplicate key "a" (first at line 4)`, n: 1},
		{name: "derived not map", src: attrs + "derived: [a]\n", want: `4:10: derived must be a mapping of names to expressions, not a list`, n: 1},
		{name: "derived collides with attribute", src: attrs + "derived:\n  user_id: days_since(x)\n", want: `5:3: derived "user_id" has the same name as the attribute at line 3`, n: 1},
		{name: "derived syntax", src: attrs + "derived:\n  d: days_since(\n", want: `5:17: unexpected end of expression (expected an attribute)`, n: 1},
		{name: "derived empty", src: attrs + "derived:\n  d:\n", want: `5:5: derived "d" must be a string, not nothing`, n: 1},
		{name: "cohorts not map", src: attrs + "cohorts: [a]\n", want: `4:10: cohorts must be a mapping of groups and cohorts, not a list`, n: 1},
		{name: "cohort name upper", src: attrs + "cohorts:\n  Big: x\n", want: `5:3: invalid cohort name "Big": use lower-case letters, digits and _, starting with a letter`, n: 1},
		{name: "empty group name", src: attrs + "cohorts:\n  \"\":\n    a: x\n", want: `5:3: a group needs a name`, n: 1},
		{name: "blank group name", src: attrs + "cohorts:\n  \" \":\n    a: x\n", want: `5:3: a group needs a name`, n: 1},
		{name: "duplicate group", src: attrs + "cohorts:\n  BadGroup:\n    a: x\n  BadGroup:\n    b: x\n", want: `7:3: duplicate key "BadGroup" (first at line 5)`, n: 1},
		{name: "cohort name still checked in a free-form group", src: attrs + "cohorts:\n  Engagement Based:\n    Champion: x\n", want: `6:5: invalid cohort name "Champion": use lower-case letters, digits and _, starting with a letter`, n: 1},
		{name: "reserved group name", src: attrs + "cohorts:\n  owner:\n    a: x\n", want: `5:3: "owner" is a reserved key and cannot name a cohort or a group (a cohort with owner needs expr, members or members_file)`, n: 1},
		{name: "cohort without expr", src: attrs + "cohorts:\n  a:\n    description: d\n", want: `5:3: cohort "a" needs expr, members or members_file`, n: 1},
		{name: "cohort typo key", src: attrs + "cohorts:\n  champion:\n    exprr: \"user_id == 'x'\"\n", want: `6:5: unknown key "exprr" in cohort "champion" (did you mean "expr"?)`, n: 1},
		{name: "cohort typo key with description", src: attrs + "cohorts:\n  champion:\n    exprr: x\n    description: d\n", want: `6:5: unknown key "exprr" in cohort "champion" (did you mean "expr"?)`, n: 1},
		{name: "expr and members", src: attrs + "cohorts:\n  a:\n    expr: x\n    members: [u]\n", want: `5:3: cohort "a" has more than one of expr, members and members_file`, n: 1},
		{name: "null cohort", src: attrs + "cohorts:\n  a:\n", want: `5:3: cohort "a" has no expression`, n: 1},
		{name: "cohort is a list", src: attrs + "cohorts:\n  a: [x]\n", want: `5:6: cohort "a" must be an expression string or a mapping with expr, not a list`, n: 1},
		{name: "members not a list", src: attrs + "cohorts:\n  a:\n    members: u1\n", want: `6:14: members in cohort "a" must be a list, not the value "u1"`, n: 1},
		{name: "tags not strings", src: attrs + "cohorts:\n  a:\n    expr: x\n    tags: [[1]]\n", want: `7:12: tags in cohort "a" items must be a string, not a list`, n: 1},
		{name: "duplicate cohort across groups", src: attrs + "cohorts:\n  g1:\n    a: x\n  g2:\n    a: y\n", want: `8:5: duplicate cohort "a" (first defined at line 6 in group "g1")`, n: 1},
		{name: "cohort collides with attribute", src: attrs + "cohorts:\n  user_id: x\n", want: `5:3: cohort "user_id" has the same name as the attribute at line 3`, n: 1},
		{name: "second document", src: attrs + "---\nfoo: 1\n", want: `4:1: a second YAML document: cohorts.yaml holds one document`, n: 1},
		{name: "duplicate key in cohort", src: attrs + "cohorts:\n  a:\n    expr: x\n    expr: y\n", want: `7:5: duplicate key "expr" in cohort "a" (first at line 6)`, n: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseData("c.yaml", []byte(tt.src))
			if f == nil {
				t.Fatal("ParseData returned a nil File")
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("want errors, got %v", err)
			}
			e := list[0]
			got := fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
			if got != tt.want {
				t.Errorf("first error\n got %s\nwant %s\nall:\n%s", got, tt.want, list.Pretty())
			}
			if len(list) != tt.n {
				t.Errorf("%d errors, want %d:\n%s", len(list), tt.n, list.Pretty())
			}
			for _, e := range list {
				if e.File != "c.yaml" {
					t.Errorf("error %v: File = %q", e, e.File)
				}
				if e.SourceLine == "" && tt.src != "" {
					t.Errorf("error %v has no SourceLine", e)
				}
			}
		})
	}
}

const multiErrorFile = `version: 1
attributes:
  user_id: {type: string, key: true}
  tier: {type: string}
cohorts:
  engagement_based:
    champion:
      exprr: "tier == 'champion'"
      description: "Active top-tier readers"
    Bad-Name: "tier == 'x'"
    broken_one: "tier == AND"
  other:
    champion: "tier == 'y'"
    broken_two: |
      tier IN ('a',
        'b'
    fine: "NOT cohort('champion')"
`

// TestGroupNames checks that only cohort names are constrained: a group
// path is metadata, so any non-empty group name is accepted (spec §1).
func TestGroupNames(t *testing.T) {
	src := `version: 1
attributes:
  user_id: {type: string, key: true}
cohorts:
  BadGroup:
    a: "user_id == 'a'"
  Engagement Based:
    my-group:
      b: "user_id == 'b'"
      Ünïcode 日本:
        c:
          expr: "user_id == 'c'"
  "42":
    d: "user_id == 'd'"
`
	f, err := ParseData("cohorts.yaml", []byte(src))
	if err != nil {
		var list ErrorList
		errors.As(err, &list)
		t.Fatalf("ParseData: %v\n%s", err, list.Pretty())
	}
	wantGroups := []string{"BadGroup", "Engagement Based", "Engagement Based/my-group", "Engagement Based/my-group/Ünïcode 日本", "42"}
	if !reflect.DeepEqual(f.Groups, wantGroups) {
		t.Errorf("groups = %q, want %q", f.Groups, wantGroups)
	}
	wantCohorts := map[string]string{
		"a": "BadGroup",
		"b": "Engagement Based/my-group",
		"c": "Engagement Based/my-group/Ünïcode 日本",
		"d": "42",
	}
	for name, group := range wantCohorts {
		if c := f.Cohort(name); c == nil || c.Group != group || c.Expr == nil {
			t.Errorf("cohort %q = %+v, want group %q with an expression", name, c, group)
		}
	}
}

func TestParseDataReportsAllErrors(t *testing.T) {
	f, err := ParseData("cohorts.yaml", []byte(multiErrorFile))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want an ErrorList, got %v", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, fmt.Sprintf("%d:%d", e.Line, e.Column))
	}
	want := []string{"8:7", "10:5", "11:26", "13:5", "16:12"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("error positions %v, want %v\n%s", got, want, list.Pretty())
	}
	golden(t, "load/multi_error.golden", list.Pretty()+"\n")
	// The well-formed parts are still there for the next stages.
	if f.Cohort("fine") == nil || f.Cohort("fine").Expr == nil {
		t.Error("the valid cohort is missing from the partial File")
	}
	if c := f.Cohort("broken_one"); c == nil || c.Expr != nil || c.Source != "tier == AND" {
		t.Errorf("broken cohort = %+v, want kept with a nil Expr", c)
	}
}

func TestLoadMembersFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("vip.csv", "user_id\r\nvip-1\r\n\r\n  vip-2  \r\nvip-1\r\n")
	write("bad.csv", "a-1\nb-1, b-2\n\"c\"\n")
	yamlPath := write("cohorts.yaml", `version: 1
attributes:
  user_id: {type: string, key: true}
cohorts:
  lists:
    vip:
      members_file: vip.csv
    bad:
      members_file: bad.csv
    gone:
      members_file: missing.csv
`)
	f, err := Load(yamlPath)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want an ErrorList, got %v", err)
	}
	if got := f.Cohort("vip").Members; !reflect.DeepEqual(got, []string{"vip-1", "vip-2"}) {
		t.Errorf("vip members = %q", got)
	}
	if got := f.Cohort("bad").Members; !reflect.DeepEqual(got, []string{"a-1"}) {
		t.Errorf("bad members = %q", got)
	}
	var got []string
	for _, e := range list {
		got = append(got, fmt.Sprintf("%s:%d:%d: %s", filepath.Base(e.File), e.Line, e.Column, e.Message))
	}
	want := []string{
		`cohorts.yaml:11:21: cannot read members file of cohort "gone": open ` + filepath.Join(dir, "missing.csv") + `: no such file or directory`,
		`bad.csv:2:4: a members file holds one id a line, found "," in "b-1, b-2"`,
		`bad.csv:3:1: a members file holds one id a line, found "\"" in "\"c\""`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors\n got %q\nwant %q", got, want)
	}
	if list[1].SourceLine != "b-1, b-2" || list[0].SourceLine != "      members_file: missing.csv" {
		t.Errorf("SourceLines %q / %q", list[1].SourceLine, list[0].SourceLine)
	}

	if _, err := Load(filepath.Join(dir, "nope.yaml")); err == nil || !strings.Contains(err.Error(), "cannot load cohorts from") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file error = %v", err)
	}
}

// TestLoadRepositoryFiles keeps the shipped cohorts files loadable.
func TestLoadRepositoryFiles(t *testing.T) {
	paths, _ := filepath.Glob("../examples/*/cohorts.yaml")
	paths = append(paths, "../cohorts.yaml")
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		t.Run(p, func(t *testing.T) {
			f, err := Load(p)
			if err != nil {
				var list ErrorList
				if errors.As(err, &list) {
					t.Fatalf("%s", list.Pretty())
				}
				t.Fatal(err)
			}
			if len(f.Cohorts) == 0 {
				t.Error("no cohorts")
			}
			for _, c := range f.Cohorts {
				if !c.Static && c.Expr == nil {
					t.Errorf("cohort %q has no expression", c.Name)
				}
				if c.Static && c.Members == nil {
					t.Errorf("static cohort %q has no members", c.Name)
				}
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		name       string
		candidates []string
		want       string
	}{
		{name: "engagment_tier", candidates: []string{"user_id", "engagement_tier", "engagement_score"}, want: "engagement_tier"},
		{name: "exprr", candidates: cohortKeys, want: "expr"},
		{name: "tpye", candidates: attributeKeys, want: "type"},
		{name: "Type", candidates: attributeKeys, want: "type"},
		{name: "colour", candidates: []string{"type", "key"}, want: ""},
		{name: "ab", candidates: []string{"xy"}, want: ""},
		{name: "a", candidates: []string{"b"}, want: ""},
		{name: "x", candidates: nil, want: ""},
		{name: "", candidates: []string{"a"}, want: ""},
		{name: "same", candidates: []string{"same"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Suggest(tt.name, tt.candidates); got != tt.want {
				t.Errorf("Suggest(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestErrorListHelpers(t *testing.T) {
	l := ErrorList{
		{File: "b", Line: 1, Column: 1, Message: "m1"},
		{File: "a", Line: 2, Column: 5, Message: "m2"},
		{File: "a", Line: 2, Column: 1, Message: "m3"},
	}
	l.Sort()
	var got []string
	for _, e := range l {
		got = append(got, e.Message)
	}
	if strings.Join(got, ",") != "m3,m2,m1" {
		t.Errorf("sorted = %v", got)
	}
	if (ErrorList{}).Err() != nil || l.Err() == nil {
		t.Error("Err() must be nil exactly for an empty list")
	}
}

func TestFillSource(t *testing.T) {
	src := "a == 1 AND\n  b =="
	_, err := ParseExprAt(src, "", func(off int) Pos { return LineMapper(src)(off) })
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatal(err)
	}
	if list[0].SourceLine != "" {
		t.Fatalf("SourceLine filled with a custom mapper: %q", list[0].SourceLine)
	}
	list.FillSource("", []byte(src))
	if list[0].SourceLine != "  b ==" {
		t.Errorf("SourceLine = %q, want %q", list[0].SourceLine, "  b ==")
	}
}

// TestScalarOffsetsFallback forces the coarse alignment used when the
// re-decoding disagrees with yaml.v3 and checks it still lands on the
// matching source bytes.
func TestScalarOffsetsFallback(t *testing.T) {
	src := "k: a-b-c\n"
	ix := newSrcIndex([]byte(src))
	n := &yaml.Node{Kind: yaml.ScalarNode, Line: 1, Column: 4, Value: "abc"}
	offs, exact := ix.scalarOffsets(n, 0)
	if exact {
		t.Fatal("a value unlike the source must not decode exactly")
	}
	if want := []int{3, 5, 7, 8}; !reflect.DeepEqual(offs, want) {
		t.Errorf("offsets = %v, want %v", offs, want)
	}
	mapper := ix.scalarMapper("f", n, 0)
	if p := mapper(99); p.Line != 1 || p.Column != 9 {
		t.Errorf("an offset past the end maps to %d:%d, want 1:9", p.Line, p.Column)
	}
}

func TestUnparen(t *testing.T) {
	e, err := ParseExpr("((a))")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Unparen(e).(*Truthy); !ok {
		t.Errorf("Unparen gave %T, want *Truthy", Unparen(e))
	}
	if Unparen(nil) != nil {
		t.Error("Unparen(nil) != nil")
	}
}
