package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/dsl"
)

// Roles an API key can hold. RoleAdmin grants every other role too.
const (
	RoleRead      = "read"      // cohorts, stats, user cohorts, query, validate
	RoleExport    = "export"    // cohort members
	RoleRecommend = "recommend" // recommendations
	RoleIngest    = "ingest"    // events
	RoleAdmin     = "admin"     // reload (and everything else)
)

var knownRoles = []string{RoleRead, RoleExport, RoleRecommend, RoleIngest, RoleAdmin}

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxBodyBytes    = 4 << 20
	DefaultMaxExprBytes    = 16 << 10
	DefaultRequestTimeout  = 30 * time.Second
	DefaultShutdownTimeout = 15 * time.Second
	DefaultWatchInterval   = 2 * time.Second
)

// Config configures a Server. Zero values get the defaults above.
type Config struct {
	// Listen is the TCP address Run listens on, e.g. "127.0.0.1:8080".
	Listen string
	// CohortsPath is the cohorts.yaml file, read at start-up and on Reload.
	CohortsPath string
	// LoadIndex builds the user index for a compiled set's schema (from NDJSON,
	// the demo population, ClickHouse...). It is called at start-up and when a
	// reload changes the schema.
	LoadIndex func(ctx context.Context, set *compiler.Set) (*bitmaps.Index, error)
	// Clock gives "now" for time predicates when a request has no as_of; nil
	// means time.Now. `cohortd serve --now` pins it.
	Clock func() time.Time
	// Keys are the accepted API keys. With none, auth is off and New refuses
	// a Listen address that is not loopback.
	Keys []APIKey
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes limits request bodies (413 above it).
	MaxBodyBytes int
	// MaxExprBytes limits the size of an ad-hoc expression (413 above it).
	MaxExprBytes int
	// RequestTimeout bounds the evaluation work of one request (a streamed
	// export's body is not bounded by it, only the computation of its members).
	RequestTimeout time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests on shutdown.
	ShutdownTimeout time.Duration
	// WatchFile reloads when CohortsPath changes (polled every WatchInterval).
	WatchFile     bool
	WatchInterval time.Duration
	// OnSwap, when set, is called after every swap of the running snapshot
	// (first load, reload, SetIndex) with the new set and index, e.g. so the
	// event pipeline follows reloaded cohorts. It runs under the reload lock:
	// it must not call Reload or SetIndex.
	OnSwap func(set *compiler.Set, ix *bitmaps.Index)
	// SourceHealth, when set, says whether the data source (ClickHouse) could
	// be read lately. /readyz reports it: while the source is down the server
	// stays ready (it answers from its last index) but says it is degraded.
	SourceHealth func() SourceHealth
	// StreamHealth, when set, says whether the event stream (Kafka) can be
	// read lately; /readyz reports it as "stream", degraded while it fails.
	StreamHealth func() SourceHealth
}

// SourceHealth is the state of the data source behind the index.
type SourceHealth struct {
	OK          bool      `json:"ok"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	Error       string    `json:"error,omitempty"`
	Since       time.Time `json:"since,omitzero"`
}

// APIKey is one accepted bearer key and the roles it grants.
type APIKey struct {
	Name  string
	Key   string
	Roles []string
}

func (k APIKey) has(role string) bool {
	return slices.Contains(k.Roles, role) || slices.Contains(k.Roles, RoleAdmin)
}

// FileConfig is the content of a server config file (cohortd.yaml):
//
//	api_keys:
//	  - name: crm
//	    key_env: COHORTD_CRM_KEY   # or key: "literal secret"
//	    roles: [read, export]
//	  - name: ops
//	    key_env: COHORTD_OPS_KEY
//	    roles: [admin]
//	experiments:               # A/B tests of the recommender (its own format)
//	  - name: recs-2026-01
//	    variants: [...]
type FileConfig struct {
	Keys []APIKey
	// Experiments is the whole config file when it has an `experiments:`
	// section, nil otherwise: the recommender parses that section (the server
	// does not know its format) and ignores the rest, so its errors keep the
	// file's line numbers.
	Experiments []byte
}

// LoadConfig reads and checks a server config file. Decoding is strict:
// unknown keys, duplicates, unknown roles, a key given both inline and by
// environment variable, or an empty/unset key are errors. All errors are
// reported at once as a dsl.ErrorList positioned in the file.
func LoadConfig(path string) (FileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return FileConfig{}, fmt.Errorf("cannot load server config from %q: %w", path, err)
	}
	return ParseConfig(path, data, os.Getenv)
}

// ParseConfig is LoadConfig on bytes; getenv resolves key_env (os.Getenv).
func ParseConfig(path string, data []byte, getenv func(string) string) (FileConfig, error) {
	p := configParser{path: path, lines: strings.Split(string(data), "\n"), getenv: getenv}
	var fc FileConfig
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 1
		var n int
		if _, scanErr := fmt.Sscanf(err.Error(), "yaml: line %d:", &n); scanErr == nil {
			line = n
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if i := strings.Index(msg, ": "); strings.HasPrefix(msg, "line ") && i > 0 {
			msg = msg[i+2:]
		}
		p.errorf(line, 1, "%s", msg)
		return fc, p.errs
	}
	if len(doc.Content) == 0 {
		return fc, nil // an empty file: no keys
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.errorf(root.Line, root.Column, "the config must be a mapping with api_keys")
		return fc, p.errs
	}
	p.mapping(root, "the config", []string{"api_keys", "experiments"}, func(k, v *yaml.Node) {
		if k.Value == "experiments" {
			fc.Experiments = data
			return
		}
		if v.Kind != yaml.SequenceNode {
			p.errorf(v.Line, v.Column, "api_keys must be a list")
			return
		}
		names, keys := map[string]bool{}, map[string]bool{}
		for _, item := range v.Content {
			key, ok := p.apiKey(item)
			if !ok {
				continue
			}
			if names[key.Name] {
				p.errorf(item.Line, item.Column, "duplicate api key name %q", key.Name)
			}
			if keys[key.Key] {
				p.errorf(item.Line, item.Column, "api key %q repeats the secret of another key", key.Name)
			}
			names[key.Name], keys[key.Key] = true, true
			fc.Keys = append(fc.Keys, key)
		}
	})
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *dsl.Error) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Column - b.Column
		})
		return FileConfig{}, p.errs
	}
	return fc, nil
}

type configParser struct {
	path   string
	lines  []string
	getenv func(string) string
	errs   dsl.ErrorList
}

func (p *configParser) errorf(line, col int, format string, args ...any) {
	e := &dsl.Error{File: p.path, Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
	if line >= 1 && line <= len(p.lines) {
		e.SourceLine = strings.TrimRight(p.lines[line-1], "\r")
	}
	p.errs = append(p.errs, e)
}

// mapping walks a mapping node, reporting unknown and duplicate keys.
func (p *configParser) mapping(n *yaml.Node, what string, allowed []string, fn func(k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !slices.Contains(allowed, k.Value):
			msg := fmt.Sprintf("unknown key %q in %s", k.Value, what)
			if s := dsl.Suggest(k.Value, allowed); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			p.errorf(k.Line, k.Column, "%s", msg)
		case seen[k.Value]:
			p.errorf(k.Line, k.Column, "duplicate key %q in %s", k.Value, what)
		default:
			seen[k.Value] = true
			fn(k, v)
		}
	}
}

func (p *configParser) scalar(v *yaml.Node, what string) (string, bool) {
	if v.Kind != yaml.ScalarNode {
		p.errorf(v.Line, v.Column, "%s must be a string", what)
		return "", false
	}
	return v.Value, true
}

func (p *configParser) apiKey(n *yaml.Node) (APIKey, bool) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, n.Column, "an api key must be a mapping with name, key or key_env, and roles")
		return APIKey{}, false
	}
	before := len(p.errs)
	var k APIKey
	var keyNode, envNode, rolesNode *yaml.Node
	p.mapping(n, "an api key", []string{"name", "key", "key_env", "roles"}, func(kn, v *yaml.Node) {
		switch kn.Value {
		case "name":
			k.Name, _ = p.scalar(v, "name")
		case "key":
			keyNode = v
			k.Key, _ = p.scalar(v, "key")
		case "key_env":
			envNode = v
			if env, ok := p.scalar(v, "key_env"); ok {
				k.Key = p.getenv(env)
				if k.Key == "" {
					p.errorf(v.Line, v.Column, "environment variable %q is unset or empty", env)
				}
			}
		case "roles":
			rolesNode = v
			if v.Kind != yaml.SequenceNode {
				p.errorf(v.Line, v.Column, "roles must be a list, e.g. [read, export]")
				return
			}
			for _, r := range v.Content {
				role, ok := p.scalar(r, "a role")
				if !ok {
					continue
				}
				if !slices.Contains(knownRoles, role) {
					msg := fmt.Sprintf("unknown role %q (roles: %s)", role, strings.Join(knownRoles, ", "))
					if s := dsl.Suggest(role, knownRoles); s != "" {
						msg = fmt.Sprintf("unknown role %q (did you mean %q?)", role, s)
					}
					p.errorf(r.Line, r.Column, "%s", msg)
					continue
				}
				k.Roles = append(k.Roles, role)
			}
		}
	})
	switch {
	case k.Name == "" && len(p.errs) == before:
		p.errorf(n.Line, n.Column, "an api key needs a name")
	case keyNode != nil && envNode != nil:
		p.errorf(envNode.Line, envNode.Column, "api key %q has both key and key_env; give one", k.Name)
	case keyNode == nil && envNode == nil:
		p.errorf(n.Line, n.Column, "api key %q needs key or key_env", k.Name)
	case keyNode != nil && k.Key == "":
		p.errorf(keyNode.Line, keyNode.Column, "api key %q is empty", k.Name)
	}
	if rolesNode == nil {
		p.errorf(n.Line, n.Column, "api key %q needs roles, e.g. [read]", k.Name)
	} else if len(k.Roles) == 0 && len(p.errs) == before {
		p.errorf(rolesNode.Line, rolesNode.Column, "api key %q has no roles", k.Name)
	}
	return k, len(p.errs) == before
}

// ErrInsecureListen is returned by New when no API key is configured and the
// listen address is not loopback.
var ErrInsecureListen = errors.New("refusing to listen on a non-loopback address without API keys")

// isLoopback reports whether a listen address only accepts local clients.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// checkKeys validates keys given programmatically (LoadConfig already did).
func checkKeys(keys []APIKey) error {
	seen := map[string]bool{}
	for _, k := range keys {
		if k.Key == "" {
			return fmt.Errorf("api key %q is empty", k.Name)
		}
		if seen[k.Key] {
			return fmt.Errorf("api key %q repeats the secret of another key", k.Name)
		}
		seen[k.Key] = true
		for _, r := range k.Roles {
			if !slices.Contains(knownRoles, r) {
				return fmt.Errorf("api key %q has unknown role %q", k.Name, r)
			}
		}
	}
	return nil
}
