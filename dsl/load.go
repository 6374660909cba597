package dsl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Reserved keys of cohorts.yaml.
var (
	topKeys       = []string{"version", "attributes", "derived", "cohorts"}
	attributeKeys = []string{"type", "key", "values"}
	cohortKeys    = []string{"expr", "members", "members_file", "description", "owner", "tags", "export"}
)

// Load reads and parses a cohorts.yaml file, then reads the members_file of
// every static cohort (relative to the YAML file's directory). On error it
// returns what could be read, with an ErrorList holding every problem of the
// file (YAML structure, names, each broken expression, members files) in
// position order; a file that cannot be read at all gives a plain error.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load cohorts from %q: %w", path, err)
	}
	return LoadData(path, data, filepath.Dir(path))
}

// LoadData is Load for content already read: data is parsed as the file at
// path (for positions) and members files are read relative to dir.
func LoadData(path string, data []byte, dir string) (*File, error) {
	f, err := ParseData(path, data)
	var errs ErrorList
	if err != nil && !errors.As(err, &errs) {
		return f, err
	}
	errs = append(errs, f.readMembersFiles(dir)...)
	if len(errs) > 0 {
		f.finishErrors(errs)
		return f, errs
	}
	return f, nil
}

// ParseData parses cohorts.yaml content; path is only used in positions. It
// does not read members files (see Load): a static cohort given by
// members_file has Members nil. On error it returns the partial File (every
// well-formed definition, with Expr nil for a broken expression) and an
// ErrorList of every problem found, sorted by position, each with its
// SourceLine filled.
func ParseData(path string, data []byte) (*File, error) {
	l := &loader{
		f:    &File{Path: path, Source: data},
		ix:   newSrcIndex(data),
		seen: map[string]namedAt{},
	}
	l.f.index = l.ix
	l.load()
	if len(l.errs) > 0 {
		l.f.finishErrors(l.errs)
		return l.f, l.errs
	}
	return l.f, nil
}

// namedAt records where a name (attribute, derived, cohort) was defined.
type namedAt struct {
	kind  string
	pos   Pos
	group string
}

type loader struct {
	f    *File
	ix   *srcIndex
	errs ErrorList
	seen map[string]namedAt // attribute, derived and cohort names
}

func (l *loader) errorf(pos Pos, format string, args ...any) {
	l.errs = append(l.errs, Errorf(pos, format, args...))
}

func (l *loader) pos(n *yaml.Node) Pos { return l.ix.nodePos(l.f.Path, n) }

func (l *loader) load() {
	dec := yaml.NewDecoder(bytes.NewReader(l.f.Source))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.errorf(Pos{File: l.f.Path, Line: 1, Column: 1}, "empty file: want version: 1, attributes and cohorts")
			return
		}
		l.yamlError(err)
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.errorf(l.pos(&extra), "a second YAML document: cohorts.yaml holds one document")
	} else if !errors.Is(err, io.EOF) {
		l.yamlError(err)
	}
	if len(doc.Content) == 0 {
		l.errorf(Pos{File: l.f.Path, Line: 1, Column: 1}, "empty file: want version: 1, attributes and cohorts")
		return
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		l.errorf(l.pos(root), "the file must be a mapping with version, attributes and cohorts, not %s", kindName(root))
		return
	}
	var attrs, derived, cohorts *yaml.Node
	var attrsKey *yaml.Node
	haveVersion := false
	l.eachKey(root, "", func(k, v *yaml.Node) {
		switch k.Value {
		case "version":
			haveVersion = true
			l.version(v)
		case "attributes":
			attrs, attrsKey = v, k
		case "derived":
			derived = v
		case "cohorts":
			cohorts = v
		default:
			l.errorf(l.pos(k), "unknown key %q%s", k.Value, didYouMean(k.Value, topKeys))
		}
	})
	if !haveVersion {
		l.errorf(l.pos(root), "missing version: 1")
	}
	if attrs == nil {
		l.errorf(l.pos(root), "missing attributes: the catalog needs at least the key attribute")
	} else {
		l.attributes(attrsKey, attrs)
	}
	if derived != nil {
		l.derived(derived)
	}
	if cohorts != nil {
		if n := resolve(cohorts); isNull(n) {
			// "cohorts:" with nothing under it: no cohorts yet.
		} else if n.Kind != yaml.MappingNode {
			l.errorf(l.pos(n), "cohorts must be a mapping of groups and cohorts, not %s", kindName(n))
		} else {
			l.group(nil, n)
		}
	}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlContextErrors are yaml.v3 parser errors whose line is the start of
// the enclosing collection, counted from 0 (yaml.v3 reports the context
// mark's line without adding one for parser errors).
var yamlContextErrors = map[string]string{
	"did not find expected key":           " (in the mapping that starts here: check the indentation below)",
	"did not find expected ',' or ']'":    " (the list opened here is not closed)",
	"did not find expected ',' or '}'":    " (the mapping opened here is not closed)",
	"did not find expected '-' indicator": " (in the list that starts here: check the indentation below)",
	"did not find expected node content":  "",
	"found undefined tag handle":          "",
}

// yamlError turns a yaml.v3 syntax error into a positioned *Error. yaml.v3
// gives a line in most messages (1-based for scanner errors, 0-based for
// parser errors with a context); no line means line 1.
func (l *loader) yamlError(err error) {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if _, ok := yamlContextErrors[msg]; ok {
			line++
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
		if _, ok := yamlContextErrors[msg]; !ok && strings.Contains(msg, "unknown anchor") {
			if m := regexp.MustCompile(`'([^']*)'`).FindStringSubmatch(msg); m != nil {
				if i := bytes.Index(l.f.Source, []byte("*"+m[1])); i >= 0 {
					l.errorf(l.ix.pos(l.f.Path, i), "YAML: %s", msg)
					return
				}
			}
		}
	}
	if line > len(l.ix.lineStarts) {
		line = len(l.ix.lineStarts)
	}
	text := l.ix.line(line)
	at := len(text) - len(strings.TrimLeft(text, " \t")) // byte offset in text
	switch {
	case strings.Contains(msg, "tab"), strings.Contains(msg, "cannot start any token"):
		if i := strings.IndexByte(text, '\t'); i >= 0 {
			at = i
			msg += " (YAML indents with spaces, not tabs)"
		}
	case strings.Contains(msg, "end of stream") && strings.ContainsAny(text, `"'`):
		at = strings.IndexAny(text, `"'`)
		msg += " (a quoted string that is not closed?)"
	case strings.Contains(msg, "mapping values are not allowed"):
		if i := strings.Index(text, ": "); i >= 0 {
			if j := strings.Index(text[i+2:], ": "); j >= 0 {
				at = i + 2 + j
				msg += ` (quote a value that contains ": ")`
			}
		}
	case strings.Contains(msg, "']'"):
		if i := strings.LastIndexByte(text, '['); i >= 0 {
			at = i
		}
	case strings.Contains(msg, "'}'"):
		if i := strings.LastIndexByte(text, '{'); i >= 0 {
			at = i
		}
	}
	col := utf8.RuneCountInString(text[:at]) + 1
	l.errorf(Pos{File: l.f.Path, Line: line, Column: col}, "YAML: %s%s", msg, yamlContextErrors[msg])
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return fmt.Sprintf("the value %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

// eachKey calls fn for every key of mapping m (whose keys must be distinct
// scalars) in file order. where ("" or ` in cohort "x"`) is added to error
// messages.
func (l *loader) eachKey(m *yaml.Node, where string, fn func(k, v *yaml.Node)) {
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], resolve(m.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			l.errorf(l.pos(k), "a key must be a name, not %s%s", kindName(k), where)
			continue
		}
		if prev, dup := first[k.Value]; dup {
			l.errorf(l.pos(k), "duplicate key %q%s (first at line %d)", k.Value, where, prev.Line)
			continue
		}
		first[k.Value] = k
		fn(k, v)
	}
}

func (l *loader) version(v *yaml.Node) {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!int" {
		l.errorf(l.pos(v), "version must be 1, not %s", kindName(v))
		return
	}
	if v.Value != "1" {
		l.errorf(l.pos(v), "unsupported version %s (this cohortd reads version 1)", v.Value)
		return
	}
	l.f.Version = 1
}

// scalar returns v's text when v is a non-null scalar, else reports what
// was expected.
func (l *loader) scalar(v *yaml.Node, what string) (string, bool) {
	if v.Kind != yaml.ScalarNode || isNull(v) {
		l.errorf(l.pos(v), "%s must be a string, not %s", what, kindName(v))
		return "", false
	}
	return v.Value, true
}

// strings reads a list of scalars.
func (l *loader) stringList(v *yaml.Node, what string) []string {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		l.errorf(l.pos(v), "%s must be a list, not %s", what, kindName(v))
		return nil
	}
	out := make([]string, 0, len(v.Content))
	for _, item := range v.Content {
		item = resolve(item)
		if s, ok := l.scalar(item, what+" items"); ok {
			out = append(out, s)
		}
	}
	return out
}

// claim records a new attribute, derived or cohort name, reporting a
// collision with an earlier one.
func (l *loader) claim(name, kind string, pos Pos, group string) bool {
	if prev, ok := l.seen[name]; ok {
		switch {
		case prev.kind == "cohort" && kind == "cohort":
			in := ""
			if prev.group != "" {
				in = fmt.Sprintf(" in group %q", prev.group)
			}
			l.errorf(pos, "duplicate cohort %q (first defined at line %d%s)", name, prev.pos.Line, in)
		case prev.kind == kind:
			l.errorf(pos, "duplicate %s %q (first defined at line %d)", kind, name, prev.pos.Line)
		default:
			l.errorf(pos, "%s %q has the same name as the %s at line %d", kind, name, prev.kind, prev.pos.Line)
		}
		return false
	}
	l.seen[name] = namedAt{kind: kind, pos: pos, group: group}
	return true
}

// checkIdent checks an attribute or derived name, which expressions use as
// identifiers.
func (l *loader) checkIdent(k *yaml.Node, kind string) bool {
	switch {
	case !identRE.MatchString(k.Value):
		l.errorf(l.pos(k), "invalid %s name %q: use letters, digits and _, not starting with a digit", kind, k.Value)
		return false
	case IsKeyword(k.Value):
		l.errorf(l.pos(k), "invalid %s name %q: it is a reserved word of the cohort language", kind, k.Value)
		return false
	}
	return true
}

func (l *loader) attributes(key, v *yaml.Node) {
	if isNull(v) {
		l.errorf(l.pos(key), "no key attribute: mark the user id attribute with key: true")
		return
	}
	if v.Kind != yaml.MappingNode {
		l.errorf(l.pos(v), "attributes must be a mapping of names to {type: ...}, not %s", kindName(v))
		return
	}
	var keyAttr *Attribute
	keyRejected := false
	l.eachKey(v, "", func(k, def *yaml.Node) {
		if !l.checkIdent(k, "attribute") {
			return
		}
		a := &Attribute{Pos: l.pos(k), Name: k.Value}
		where := fmt.Sprintf(" in attribute %q", a.Name)
		if def.Kind != yaml.MappingNode {
			hint := ""
			if def.Kind == yaml.ScalarNode && !isNull(def) {
				hint = fmt.Sprintf(" (write {type: %s})", def.Value)
			}
			l.errorf(l.pos(def), "attribute %q must be a mapping such as {type: string}, not %s%s", a.Name, kindName(def), hint)
			return
		}
		var typeNode, valuesNode *yaml.Node
		unknown := false
		l.eachKey(def, where, func(ak, av *yaml.Node) {
			switch ak.Value {
			case "type":
				typeNode = av
			case "key":
				if av.Kind != yaml.ScalarNode || av.Tag != "!!bool" {
					l.errorf(l.pos(av), "key must be true or false%s, not %s", where, kindName(av))
					keyRejected = true
					return
				}
				a.Key = av.Value == "true" || av.Value == "True" || av.Value == "TRUE"
			case "values":
				valuesNode = av
				a.Values = l.stringList(av, "values"+where)
			default:
				unknown = true
				l.errorf(l.pos(ak), "unknown key %q%s%s", ak.Value, where, didYouMean(ak.Value, attributeKeys))
			}
		})
		if typeNode == nil && unknown {
			return // the unknown key is probably the misspelt type
		}
		if typeNode == nil {
			l.errorf(l.pos(k), "attribute %q has no type (one of %s)", a.Name, strings.Join(TypeNames(), ", "))
			return
		}
		ts, ok := l.scalar(typeNode, "type"+where)
		if !ok {
			return
		}
		t, ok := ParseType(ts)
		if !ok {
			hint := didYouMean(ts, TypeNames())
			if strings.HasPrefix(ts, "list") {
				hint = ` (the list type is "list<string>", quoted in YAML)`
			}
			l.errorf(l.pos(typeNode), "unknown type %q%s%s", ts, where, hint)
			return
		}
		a.Type = t
		if valuesNode != nil && t != TypeString && t != TypeStringList {
			l.errorf(l.pos(valuesNode), "values is only allowed on string and list<string> attributes (%q is %s)", a.Name, t)
		}
		if a.Key {
			switch {
			case keyAttr != nil:
				l.errorf(l.pos(k), "attribute %q is a second key attribute (the key is %q); exactly one is allowed", a.Name, keyAttr.Name)
				a.Key = false
			case t != TypeString:
				l.errorf(l.pos(typeNode), "the key attribute %q must have type string, not %s", a.Name, t)
				keyRejected = true
			default:
				keyAttr = a
			}
		}
		if l.claim(a.Name, "attribute", a.Pos, "") {
			l.f.Attributes = append(l.f.Attributes, a)
		}
	})
	if keyAttr == nil && !keyRejected {
		l.errorf(l.pos(key), "no key attribute: mark the user id attribute with key: true")
	}
}

func (l *loader) derived(v *yaml.Node) {
	if isNull(v) {
		return
	}
	if v.Kind != yaml.MappingNode {
		l.errorf(l.pos(v), "derived must be a mapping of names to expressions, not %s", kindName(v))
		return
	}
	l.eachKey(v, "", func(k, ev *yaml.Node) {
		if !l.checkIdent(k, "derived") {
			return
		}
		d := &Derived{Pos: l.pos(k), Name: k.Value}
		src, ok := l.scalar(ev, fmt.Sprintf("derived %q", d.Name))
		if !ok {
			return
		}
		d.Source = src
		d.Expr = l.expr(ev, k)
		if l.claim(d.Name, "derived", d.Pos, "") {
			l.f.Derived = append(l.f.Derived, d)
		}
	})
}

// expr parses the expression held by scalar node v (the value of key k),
// with positions in the file.
func (l *loader) expr(v, k *yaml.Node) Expr {
	mapper := l.ix.scalarMapper(l.f.Path, v, k.Column-1)
	e, err := ParseExprAt(v.Value, l.f.Path, mapper)
	if err != nil {
		var list ErrorList
		if errors.As(err, &list) {
			l.errs = append(l.errs, list...)
		} else {
			l.errorf(l.pos(v), "%v", err)
		}
		return nil
	}
	return e
}

// group walks a mapping of groups and cohorts; path is the group path.
func (l *loader) group(path []string, m *yaml.Node) {
	groupName := strings.Join(path, "/")
	l.eachKey(m, "", func(k, v *yaml.Node) {
		name := k.Value
		if !l.checkCohortName(k, v) {
			return
		}
		switch {
		case v.Kind == yaml.MappingNode && l.isCohortMap(v):
			l.cohortMap(groupName, k, v)
		case v.Kind == yaml.MappingNode:
			sub := append(append([]string(nil), path...), name)
			l.f.Groups = append(l.f.Groups, strings.Join(sub, "/"))
			l.group(sub, v)
		case v.Kind == yaml.ScalarNode && !isNull(v):
			c := &Cohort{Pos: l.pos(k), Name: name, Group: groupName, Source: v.Value}
			c.Expr = l.expr(v, k)
			l.addCohort(c)
		case isNull(v):
			l.errorf(l.pos(k), "cohort %q has no expression", name)
		default:
			l.errorf(l.pos(v), "cohort %q must be an expression string or a mapping with expr, not %s", name, kindName(v))
		}
	})
}

// checkCohortName checks a cohort or group name. Both may not be a reserved
// cohort key. Only cohort names must match [a-z][a-z0-9_]* (expressions
// and the API refer to them); a group path is metadata, so a group may have
// any non-empty name, such as "Engagement Based".
func (l *loader) checkCohortName(k, v *yaml.Node) bool {
	name := k.Value
	for _, r := range cohortKeys {
		if name == r {
			l.errorf(l.pos(k), "%q is a reserved key and cannot name a cohort or a group (a cohort with %s needs expr, members or members_file)", name, name)
			return false
		}
	}
	if v.Kind == yaml.MappingNode && !l.isCohortMap(v) {
		if strings.TrimSpace(name) == "" {
			l.errorf(l.pos(k), "a group needs a name")
			return false
		}
		return true
	}
	if !cohortNameRE.MatchString(name) {
		l.errorf(l.pos(k), "invalid cohort name %q: use lower-case letters, digits and _, starting with a letter", name)
		return false
	}
	return true
}

// isCohortMap tells a cohort's mapping from a group's: a cohort has one of
// the cohort keys, or a key that is a near miss of one holding a scalar
// ("exprr: ..."), which is reported as a typo rather than taken for a
// cohort named "exprr".
func (l *loader) isCohortMap(m *yaml.Node) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i].Value
		for _, c := range cohortKeys {
			if k == c {
				return true
			}
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i].Value, resolve(m.Content[i+1])
		if v.Kind != yaml.MappingNode && Suggest(k, cohortKeys) != "" {
			return true
		}
	}
	return false
}

func (l *loader) cohortMap(group string, k, m *yaml.Node) {
	c := &Cohort{Pos: l.pos(k), Name: k.Value, Group: group}
	where := fmt.Sprintf(" in cohort %q", c.Name)
	var exprNode, membersNode, fileNode *yaml.Node
	unknown := false
	l.eachKey(m, where, func(fk, v *yaml.Node) {
		switch fk.Value {
		case "expr":
			exprNode = v
		case "members":
			membersNode = v
		case "members_file":
			fileNode = v
		case "description":
			c.Description, _ = l.scalar(v, "description"+where)
		case "owner":
			c.Owner, _ = l.scalar(v, "owner"+where)
		case "tags":
			c.Tags = l.stringList(v, "tags"+where)
		case "export":
			c.Export = l.stringList(v, "export"+where)
			if len(c.Export) > 0 {
				c.ExportPos = l.exportPositions(v)
			}
		default:
			unknown = true
			l.errorf(l.pos(fk), "unknown key %q%s%s", fk.Value, where, didYouMean(fk.Value, cohortKeys))
		}
	})
	given := 0
	for _, n := range []*yaml.Node{exprNode, membersNode, fileNode} {
		if n != nil {
			given++
		}
	}
	switch {
	case given == 0:
		if !unknown {
			l.errorf(c.Pos, "cohort %q needs expr, members or members_file", c.Name)
		}
	case given > 1:
		l.errorf(c.Pos, "cohort %q has more than one of expr, members and members_file", c.Name)
	case exprNode != nil:
		if src, ok := l.scalar(exprNode, "expr"+where); ok {
			c.Source = src
			c.Expr = l.expr(exprNode, k)
		}
	case membersNode != nil:
		c.Static = true
		c.Members = l.stringList(membersNode, "members"+where)
		if c.Members == nil {
			c.Members = []string{}
		}
	case fileNode != nil:
		c.Static = true
		if s, ok := l.scalar(fileNode, "members_file"+where); ok {
			c.MembersFile = s
			l.f.setMembersFilePos(c.Name, l.pos(fileNode))
		}
	}
	l.addCohort(c)
}

func (l *loader) addCohort(c *Cohort) {
	if l.claim(c.Name, "cohort", c.Pos, c.Group) {
		l.f.Cohorts = append(l.f.Cohorts, c)
	}
}

// exportPositions returns the position of each entry of an export list.
func (l *loader) exportPositions(v *yaml.Node) []Pos {
	var out []Pos
	for _, item := range v.Content {
		item = resolve(item)
		if item.Kind == yaml.ScalarNode && !isNull(item) {
			out = append(out, l.pos(item))
		}
	}
	return out
}

// readMembersFiles reads each static cohort's members_file, relative to dir.
func (f *File) readMembersFiles(dir string) ErrorList {
	var errs ErrorList
	key := "user_id"
	if a := f.KeyAttribute(); a != nil {
		key = a.Name
	}
	for _, c := range f.Cohorts {
		if !c.Static || c.MembersFile == "" {
			continue
		}
		path := c.MembersFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, f.Errorf(f.membersFilePos[c.Name], "cannot read members file of cohort %q: %v", c.Name, err))
			continue
		}
		members, merrs := parseMembers(path, data, key)
		c.Members = members
		errs = append(errs, merrs...)
	}
	return errs
}

// parseMembers reads a members file: one id a line, blank lines ignored, an
// optional header line naming the key attribute (or "user_id"). Duplicate
// ids are kept once.
func parseMembers(path string, data []byte, key string) ([]string, ErrorList) {
	var errs ErrorList
	members := []string{}
	seen := map[string]bool{}
	header := true
	for i, raw := range strings.Split(string(data), "\n") {
		raw = strings.TrimSuffix(raw, "\r")
		if i == 0 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		id := strings.TrimSpace(raw)
		if id == "" {
			continue
		}
		if header {
			header = false
			if id == key || id == "user_id" {
				continue
			}
		}
		if j := strings.IndexAny(id, " \t,;\"'"); j >= 0 {
			col := utf8.RuneCountInString(raw[:strings.Index(raw, id)+j]) + 1
			errs = append(errs, &Error{File: path, Line: i + 1, Column: col, SourceLine: raw,
				Message: fmt.Sprintf("a members file holds one id a line, found %q in %q", id[j:j+1], id)})
			continue
		}
		if !seen[id] {
			seen[id] = true
			members = append(members, id)
		}
	}
	return members, errs
}

// finishErrors fills SourceLine and sorts errs by position: errors in the
// YAML file first, then other files (members files).
func (f *File) finishErrors(errs ErrorList) {
	for _, e := range errs {
		if e.SourceLine == "" && e.File == f.Path {
			e.SourceLine = f.SourceLine(e.Line)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if (a.File == f.Path) != (b.File == f.Path) {
			return a.File == f.Path
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}
