package dsl

// Type is an attribute type of the catalog.
type Type int

const (
	TypeString Type = iota
	TypeInt
	TypeFloat
	TypeBool
	TypeTimestamp
	TypeStringList // "list<string>"
)

// File is a parsed cohorts.yaml: syntax only, not yet type-checked. A File
// is not modified after Load / ParseData return, so it is then safe for
// concurrent reads.
type File struct {
	Path       string // as given to Load / ParseData (used in error positions)
	Source     []byte
	Version    int
	Attributes []*Attribute // in file order
	Derived    []*Derived   // in file order
	Cohorts    []*Cohort    // in file order (depth-first through groups)
	Groups     []string     // every group path, in file order

	index          *srcIndex      // line index of Source, built on demand
	membersFilePos map[string]Pos // cohort name → position of its members_file value
}

// Attribute is one entry of `attributes:`.
type Attribute struct {
	Pos    Pos // position of the attribute's name
	Name   string
	Type   Type
	Key    bool
	Values []string // optional allowed values (string attributes)
}

// Derived is one entry of `derived:`: a named expression. A derived value such
// as `days_since(last_visit_at)` parses as a *Truthy wrapping the value; the
// compiler decides what it is.
type Derived struct {
	Pos    Pos // position of the name
	Name   string
	Source string
	Expr   Expr
}

// Cohort is one cohort leaf.
type Cohort struct {
	Pos         Pos // position of the cohort's name
	Name        string
	Group       string // group path joined with "/", e.g. "engagement_based"
	Source      string // the expression text ("" for a static cohort)
	Expr        Expr   // nil for a static cohort
	Description string
	Owner       string
	Tags        []string
	Export      []string
	// ExportPos holds the position of each Export entry (same order), for
	// the compiler's "unknown attribute" errors.
	ExportPos []Pos
	// Static cohorts: Members lists ids given inline or read from MembersFile
	// (resolved relative to the YAML file by Load; ParseData leaves the file
	// unread and Members nil when only members_file is given).
	Static      bool
	Members     []string
	MembersFile string
}
