package dsl

import "sort"

// Attribute returns the attribute called name, or nil.
func (f *File) Attribute(name string) *Attribute {
	for _, a := range f.Attributes {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// KeyAttribute returns the key attribute (the user id), or nil.
func (f *File) KeyAttribute() *Attribute {
	for _, a := range f.Attributes {
		if a.Key {
			return a
		}
	}
	return nil
}

// DerivedNamed returns the derived definition called name, or nil.
func (f *File) DerivedNamed(name string) *Derived {
	for _, d := range f.Derived {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// Cohort returns the cohort called name, or nil.
func (f *File) Cohort(name string) *Cohort {
	for _, c := range f.Cohorts {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// AttributeNames lists the attribute names then the derived names, in file
// order: the identifiers an expression may use (for Suggest).
func (f *File) AttributeNames() []string {
	out := make([]string, 0, len(f.Attributes)+len(f.Derived))
	for _, a := range f.Attributes {
		out = append(out, a.Name)
	}
	for _, d := range f.Derived {
		out = append(out, d.Name)
	}
	return out
}

// CohortNames lists the cohort names in file order (for Suggest).
func (f *File) CohortNames() []string {
	out := make([]string, 0, len(f.Cohorts))
	for _, c := range f.Cohorts {
		out = append(out, c.Name)
	}
	return out
}

// SourceLine returns line n (1-based) of f.Source without its line break,
// or "" when there is no such line.
func (f *File) SourceLine(n int) string {
	if f.index == nil {
		// Built lazily for a File assembled by hand; Load and ParseData
		// set it before returning.
		f.index = newSrcIndex(f.Source)
	}
	return f.index.line(n)
}

// Errorf builds an *Error at pos, with SourceLine filled from f.Source when
// pos is in this file, so Pretty prints the caret.
func (f *File) Errorf(pos Pos, format string, args ...any) *Error {
	e := Errorf(pos, format, args...)
	if pos.File == f.Path {
		e.SourceLine = f.SourceLine(pos.Line)
	}
	return e
}

func (f *File) setMembersFilePos(cohort string, pos Pos) {
	if f.membersFilePos == nil {
		f.membersFilePos = map[string]Pos{}
	}
	f.membersFilePos[cohort] = pos
}

// Sort orders the list by file, line and column (stable for equal
// positions).
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

// Err returns the list as an error, or nil when it is empty (so a function
// collecting errors can end with `return errs.Err()`).
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// FillSource sets SourceLine on the errors of l that point into file and
// have none yet, taking the line from src (the file's or the expression's
// text), so Pretty can print the caret. Use file "" for an ad-hoc
// expression.
func (l ErrorList) FillSource(file string, src []byte) {
	var ix *srcIndex
	for _, e := range l {
		if e.File != file || e.SourceLine != "" {
			continue
		}
		if ix == nil {
			ix = newSrcIndex(src)
		}
		e.SourceLine = ix.line(e.Line)
	}
}
