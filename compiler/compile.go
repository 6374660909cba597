package compiler

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/dsl"
)

// Set is a checked, normalised cohort set: the catalog, the derived names and
// every cohort with its query. It is immutable after Compile and safe for
// concurrent use.
type Set struct {
	file    *dsl.File
	cat     *catalog
	cohorts []*Cohort
	byName  map[string]*Cohort
	schema  bitmaps.Schema
	key     string
}

// Cohort is one compiled cohort. Treat it as read-only.
type Cohort struct {
	Name        string
	Group       string
	Description string
	Owner       string
	Source      string // the expression as written ("" for a static cohort)
	Tags        []string
	Export      []string
	Static      bool
	Members     []string // static cohorts: the listed ids, sorted, unique
	Pos         dsl.Pos
	// Deps are the attributes the cohort reads, transitively through derived
	// names and cohort references, sorted.
	Deps []string
	// Refs are the cohorts it references, transitively, sorted.
	Refs []string
	// TimeDependent says the members depend on now (now() or days_since,
	// also through references).
	TimeDependent bool
	Query         *Query
}

// Query is a checked, normalised boolean expression over a Set's catalog. It
// is immutable and safe for concurrent use.
type Query struct {
	set     *Set
	raw     node // as checked (derived names expanded, leaves exact)
	norm    node // normal form
	deps    []string
	refs    []string
	timeDep bool
}

// String returns the normal form in cohort-language syntax.
func (q *Query) String() string { return printNode(q.norm) }

// Deps returns the attributes the query reads (transitively through cohort
// references), sorted.
func (q *Query) Deps() []string { return slices.Clone(q.deps) }

// Refs returns the cohorts the query references (transitively), sorted.
func (q *Query) Refs() []string { return slices.Clone(q.refs) }

// TimeDependent says the query's members depend on now.
func (q *Query) TimeDependent() bool { return q.timeDep }

// Cohorts returns the cohorts in file order.
func (s *Set) Cohorts() []*Cohort { return slices.Clone(s.cohorts) }

// Cohort returns the cohort called name.
func (s *Set) Cohort(name string) (*Cohort, bool) {
	c, ok := s.byName[name]
	return c, ok
}

// Schema returns the indexed fields: every attribute but the key, in file order.
func (s *Set) Schema() bitmaps.Schema { return slices.Clone(s.schema) }

// Key returns the key attribute's name.
func (s *Set) Key() string { return s.key }

// Attributes returns the catalog in file order.
func (s *Set) Attributes() []*dsl.Attribute { return slices.Clone(s.cat.list) }

// Groups returns every group path in file order.
func (s *Set) Groups() []string { return slices.Clone(s.file.Groups) }

// File returns the parsed file the set was compiled from.
func (s *Set) File() *dsl.File { return s.file }

// Summary is the one-line description `validate` prints:
// "12 cohorts in 3 groups, 14 attributes: ok".
func (s *Set) Summary() string {
	return fmt.Sprintf("%s in %s, %s: ok",
		plural(len(s.cohorts), "cohort"), plural(len(s.file.Groups), "group"), plural(len(s.cat.list), "attribute"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// KindOf maps a catalog type to the index's field kind.
func KindOf(t dsl.Type) bitmaps.Kind {
	switch t {
	case dsl.TypeInt:
		return bitmaps.KindInt
	case dsl.TypeFloat:
		return bitmaps.KindFloat
	case dsl.TypeBool:
		return bitmaps.KindBool
	case dsl.TypeTimestamp:
		return bitmaps.KindTime
	case dsl.TypeStringList:
		return bitmaps.KindStringList
	}
	return bitmaps.KindString
}

// Compile checks a parsed cohorts file and compiles every cohort. All errors
// of the file are reported at once, as a dsl.ErrorList sorted by position
// whose entries point into the file (with SourceLine filled).
func Compile(f *dsl.File) (*Set, error) {
	if f == nil {
		return nil, dsl.ErrorList{{Message: "no cohorts file"}}
	}
	s := &Set{file: f, byName: map[string]*Cohort{}}
	cat := &catalog{
		attrs:   map[string]*dsl.Attribute{},
		derived: map[string]*derivedInfo{},
		cohorts: map[string]bool{},
	}
	s.cat = cat
	c := &checker{cat: cat}
	for _, a := range f.Attributes {
		if a == nil {
			continue
		}
		cat.attrs[a.Name] = a
		cat.list = append(cat.list, a)
		if a.Key && cat.key == nil {
			cat.key = a
			s.key = a.Name
			continue
		}
		s.schema = append(s.schema, bitmaps.Field{Name: a.Name, Kind: KindOf(a.Type)})
	}
	if cat.key == nil {
		c.errorf(dsl.Pos{File: f.Path, Line: 1, Column: 1}, "no key attribute (mark one string attribute with key: true)")
	}
	for _, d := range f.Derived {
		if d != nil {
			cat.derived[d.Name] = &derivedInfo{d: d}
		}
	}
	for _, co := range f.Cohorts {
		if co != nil {
			cat.cohorts[co.Name] = co.Static
		}
	}
	// Check every derived name, used or not, so its errors are reported once
	// at its definition.
	for _, d := range f.Derived {
		if d != nil {
			c.refs = nil
			c.resolveDerived(cat.derived[d.Name], d.Pos)
		}
	}
	raws := make([]node, len(f.Cohorts))
	uses := make(map[string][]refUse, len(f.Cohorts))
	for i, co := range f.Cohorts {
		if co == nil {
			continue
		}
		for j, e := range co.Export {
			if _, ok := cat.attrs[e]; !ok {
				pos := co.Pos
				if j < len(co.ExportPos) && co.ExportPos[j].Line > 0 {
					pos = co.ExportPos[j]
				}
				c.errorf(pos, "unknown attribute %q in export of cohort %s%s", e, co.Name, didYouMean(e, attrNames(cat.list)))
			}
		}
		if co.Static {
			key := ""
			if cat.key != nil {
				key = cat.key.Name
			}
			raws[i] = &keyNode{attr: key, ids: sortedUnique(co.Members), cohort: co.Name}
			continue
		}
		if co.Expr == nil {
			continue // a syntax error the loader reported
		}
		c.refs = nil
		raws[i] = c.pred(co.Expr)
		uses[co.Name] = c.refs
	}
	c.cohortCycles(f.Cohorts, uses)
	if len(c.errs) > 0 {
		return nil, finishErrors(c.errs, f)
	}
	for i, co := range f.Cohorts {
		if co == nil || raws[i] == nil {
			continue
		}
		cc := &Cohort{
			Name: co.Name, Group: co.Group, Description: co.Description, Owner: co.Owner,
			Source: co.Source, Tags: slices.Clone(co.Tags), Export: slices.Clone(co.Export),
			Static: co.Static, Pos: co.Pos,
			Query: &Query{set: s, raw: raws[i], norm: normalize(raws[i])},
		}
		if co.Static {
			cc.Members = raws[i].(*keyNode).ids
		}
		s.cohorts = append(s.cohorts, cc)
		s.byName[cc.Name] = cc
	}
	// Dependencies, in an order where references come first (no cycles now).
	done := map[string]bool{}
	var visit func(c *Cohort)
	visit = func(c *Cohort) {
		if done[c.Name] {
			return
		}
		done[c.Name] = true
		walk(c.Query.norm, func(n node) {
			if r, ok := n.(*refNode); ok {
				visit(s.byName[r.name])
			}
		})
		s.analyze(c.Query)
		c.Deps, c.Refs, c.TimeDependent = c.Query.Deps(), c.Query.Refs(), c.Query.timeDep
	}
	for _, c := range s.cohorts {
		visit(c)
	}
	return s, nil
}

func attrNames(list []*dsl.Attribute) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Name
	}
	return out
}

// cohortCycles reports every cycle of cohort references once, at the
// reference that closes it: "cohort cycle: a → b → a".
func (c *checker) cohortCycles(cohorts []*dsl.Cohort, uses map[string][]refUse) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		color[name] = grey
		stack = append(stack, name)
		for _, u := range uses[name] {
			switch color[u.name] {
			case grey:
				i := slices.Index(stack, u.name)
				path := append(slices.Clone(stack[i:]), u.name)
				c.errorf(u.pos, "cohort cycle: %s", strings.Join(path, " → "))
			case white:
				visit(u.name)
			}
		}
		stack = stack[:len(stack)-1]
		color[name] = black
	}
	for _, co := range cohorts {
		if co != nil && color[co.Name] == white {
			visit(co.Name)
		}
	}
}

// analyze fills a query's dependencies from its normal form and the
// (already analysed) cohorts it references.
func (s *Set) analyze(q *Query) {
	deps := map[string]bool{}
	refs := map[string]bool{}
	timeDep := false
	walk(q.norm, func(n node) {
		switch n := n.(type) {
		case *inNode:
			deps[n.s.attr] = true
			timeDep = timeDep || n.s.days
		case *rangeNode:
			deps[n.s.attr] = true
			timeDep = timeDep || n.s.days || (n.lo != nil && n.lo.rel) || (n.hi != nil && n.hi.rel)
		case *existsNode:
			deps[n.attr] = true
		case *listNode:
			deps[n.attr] = true
		case *strNode:
			deps[n.attr] = true
		case *cmpNode:
			deps[n.l.attr] = true
			deps[n.r.attr] = true
			timeDep = timeDep || n.l.days || n.r.days
		case *keyNode:
			deps[n.attr] = true
		case *refNode:
			refs[n.name] = true
			if t, ok := s.byName[n.name]; ok {
				for _, d := range t.Query.deps {
					deps[d] = true
				}
				for _, r := range t.Query.refs {
					refs[r] = true
				}
				timeDep = timeDep || t.Query.timeDep
			}
		}
	})
	q.deps = sortedKeys(deps)
	q.refs = sortedKeys(refs)
	q.timeDep = timeDep
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// finishErrors fills SourceLine from the file and sorts by position.
func finishErrors(errs []*dsl.Error, f *dsl.File) dsl.ErrorList {
	for _, e := range errs {
		if e.SourceLine == "" && f != nil && e.File == f.Path {
			e.SourceLine = f.SourceLine(e.Line)
		}
	}
	sortErrors(errs)
	return dsl.ErrorList(errs)
}

func sortErrors(errs []*dsl.Error) {
	slices.SortStableFunc(errs, func(a, b *dsl.Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column), cmp.Compare(a.Message, b.Message))
	})
}

// sourceLine returns line n (1-based) of src without its newline.
func sourceLine(src string, n int) string {
	if n < 1 {
		return ""
	}
	for i := 1; i < n; i++ {
		j := strings.IndexByte(src, '\n')
		if j < 0 {
			return ""
		}
		src = src[j+1:]
	}
	if j := strings.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	return strings.TrimSuffix(src, "\r")
}

// Load reads a cohorts file (dsl.Load) and compiles it. Errors of both
// stages come in one dsl.ErrorList sorted by position, so `validate` reports
// every problem of the file in one run; a file that cannot be read gives a
// plain error.
func Load(path string) (*Set, error) {
	f, err := dsl.Load(path)
	return compileParsed(f, err)
}

// CompileData parses cohorts.yaml content (dsl.ParseData; members files are
// not read) and compiles it, reporting the errors of both stages together.
func CompileData(path string, data []byte) (*Set, error) {
	f, err := dsl.ParseData(path, data)
	return compileParsed(f, err)
}

// CompileDataIn is CompileData that also reads members files, relative to
// dir (dsl.LoadData): what the server's validate endpoint checks a posted
// file with, as if it replaced the served one.
func CompileDataIn(path string, data []byte, dir string) (*Set, error) {
	f, err := dsl.LoadData(path, data, dir)
	return compileParsed(f, err)
}

func compileParsed(f *dsl.File, err error) (*Set, error) {
	var errs dsl.ErrorList
	if err != nil && !errors.As(err, &errs) {
		return nil, err
	}
	if f == nil {
		return nil, err
	}
	s, cerr := Compile(f)
	if len(errs) == 0 {
		return s, cerr
	}
	var more dsl.ErrorList
	if errors.As(cerr, &more) {
		seen := map[string]bool{}
		for _, e := range errs {
			seen[e.Error()] = true
		}
		for _, e := range more {
			// The loader already reports a missing key attribute.
			if !seen[e.Error()] && !strings.HasPrefix(e.Message, "no key attribute") {
				errs = append(errs, e)
			}
		}
	}
	all := []*dsl.Error(errs)
	sortErrors(all)
	return nil, dsl.ErrorList(all)
}

// CompileExpr compiles an ad-hoc expression against the set's catalog,
// derived names and cohorts (cohort('x') is allowed). Errors are a
// dsl.ErrorList with Line/Column in src and SourceLine the line of src.
func (s *Set) CompileExpr(src string) (*Query, error) {
	e, err := dsl.ParseExpr(src)
	if err != nil {
		return nil, err
	}
	c := &checker{cat: s.cat}
	raw := c.pred(e)
	if len(c.errs) > 0 || raw == nil {
		if len(c.errs) == 0 {
			c.errorf(e.Position(), "invalid expression")
		}
		for _, er := range c.errs {
			if er.SourceLine == "" {
				er.SourceLine = sourceLine(src, er.Line)
			}
		}
		sortErrors(c.errs)
		return nil, dsl.ErrorList(c.errs)
	}
	q := &Query{set: s, raw: raw, norm: normalize(raw)}
	s.analyze(q)
	return q, nil
}
