package server

import (
	"errors"
	"strings"
	"testing"

	"github.com/cohortd/cohortd/dsl"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{"CRM_KEY": "s3cret-crm", "EMPTY": ""}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		name    string
		yaml    string
		want    []APIKey
		wantErr []string // "line:col: message fragment", in order
	}{
		{
			name: "valid",
			yaml: "api_keys:\n  - name: crm\n    key_env: CRM_KEY\n    roles: [read, export]\n  - name: ops\n    key: k-ops\n    roles: [admin]\n",
			want: []APIKey{{"crm", "s3cret-crm", []string{"read", "export"}}, {"ops", "k-ops", []string{"admin"}}},
		},
		{name: "empty file", yaml: "", want: nil},
		{
			name:    "unknown top-level key",
			yaml:    "api_key:\n  - name: crm\n",
			wantErr: []string{`1:1: unknown key "api_key" in the config (did you mean "api_keys"?)`},
		},
		{
			name:    "unknown role with suggestion",
			yaml:    "api_keys:\n  - name: crm\n    key: k\n    roles: [read, exprt]\n",
			wantErr: []string{`4:19: unknown role "exprt" (did you mean "export"?)`},
		},
		{
			name:    "both key and key_env",
			yaml:    "api_keys:\n  - name: crm\n    key: k\n    key_env: CRM_KEY\n    roles: [read]\n",
			wantErr: []string{`4:14: api key "crm" has both key and key_env`},
		},
		{
			name:    "unset environment variable",
			yaml:    "api_keys:\n  - name: crm\n    key_env: NOPE\n    roles: [read]\n",
			wantErr: []string{`3:14: environment variable "NOPE" is unset or empty`},
		},
		{
			name:    "missing roles and unknown key",
			yaml:    "api_keys:\n  - name: crm\n    key: k\n    rolez: [read]\n",
			wantErr: []string{`2:5: api key "crm" needs roles`, `4:5: unknown key "rolez" in an api key (did you mean "roles"?)`},
		},
		{
			name:    "duplicate name and secret",
			yaml:    "api_keys:\n  - {name: a, key: k, roles: [read]}\n  - {name: a, key: k, roles: [read]}\n",
			wantErr: []string{`3:5: duplicate api key name "a"`, `3:5: api key "a" repeats the secret`},
		},
		{
			name:    "duplicate key in a mapping",
			yaml:    "api_keys:\n  - name: a\n    name: b\n    key: k\n    roles: [read]\n",
			wantErr: []string{`3:5: duplicate key "name" in an api key`},
		},
		{name: "not a list", yaml: "api_keys: {name: a}\n", wantErr: []string{`1:11: api_keys must be a list`}},
		{name: "yaml syntax", yaml: "api_keys:\n  - name: [\n", wantErr: []string{`2:1: did not find expected node content`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc, err := ParseConfig("cohortd.yaml", []byte(tc.yaml), getenv)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if len(fc.Keys) != len(tc.want) {
					t.Fatalf("keys %+v, want %+v", fc.Keys, tc.want)
				}
				for i := range tc.want {
					if fc.Keys[i].Name != tc.want[i].Name || fc.Keys[i].Key != tc.want[i].Key ||
						strings.Join(fc.Keys[i].Roles, ",") != strings.Join(tc.want[i].Roles, ",") {
						t.Errorf("key %d: %+v, want %+v", i, fc.Keys[i], tc.want[i])
					}
				}
				return
			}
			var list dsl.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("want a dsl.ErrorList, got %v", err)
			}
			if len(list) != len(tc.wantErr) {
				t.Fatalf("got %d errors, want %d:\n%s", len(list), len(tc.wantErr), list.Pretty())
			}
			for i, w := range tc.wantErr {
				got := strings.TrimPrefix(list[i].Error(), "cohortd.yaml:")
				if !strings.Contains(got, strings.TrimSuffix(w, ":")) && !strings.HasPrefix(got, w) {
					t.Errorf("error %d: %q, want %q", i, got, w)
				}
			}
		})
	}
}

func TestNewRefusesInsecureListen(t *testing.T) {
	base := Config{CohortsPath: "x.yaml", LoadIndex: newEnv(t, nil).s.cfg.LoadIndex}
	for _, tc := range []struct {
		listen string
		keys   []APIKey
		ok     bool
	}{
		{"127.0.0.1:8080", nil, true},
		{"localhost:8080", nil, true},
		{"[::1]:8080", nil, true},
		{"0.0.0.0:8080", nil, false},
		{":8080", nil, false},
		{"10.1.2.3:8080", nil, false},
		{"0.0.0.0:8080", []APIKey{{Name: "a", Key: "k", Roles: []string{RoleRead}}}, true},
		{"127.0.0.1:8080", []APIKey{{Name: "a", Key: "k", Roles: []string{"root"}}}, false},
	} {
		cfg := base
		cfg.Listen, cfg.Keys = tc.listen, tc.keys
		_, err := New(cfg)
		if (err == nil) != tc.ok {
			t.Errorf("Listen %q keys %v: err %v, want ok=%v", tc.listen, tc.keys, err, tc.ok)
		}
		if !tc.ok && tc.keys == nil && !errors.Is(err, ErrInsecureListen) {
			t.Errorf("Listen %q: want ErrInsecureListen, got %v", tc.listen, err)
		}
	}
}

// The experiments section belongs to the recommender: the server accepts it
// and hands over the file, still rejecting unknown sections.
func TestConfigKeepsExperimentsForTheRecommender(t *testing.T) {
	data := []byte("api_keys:\n  - {name: ops, key: s3cret, roles: [admin]}\nexperiments:\n  - name: e1\n")
	fc, err := ParseConfig("cohortd.yaml", data, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if string(fc.Experiments) != string(data) || len(fc.Keys) != 1 {
		t.Errorf("experiments %q, %d keys", fc.Experiments, len(fc.Keys))
	}
	fc, err = ParseConfig("cohortd.yaml", []byte("api_keys: []\n"), func(string) string { return "" })
	if err != nil || fc.Experiments != nil {
		t.Errorf("no experiments section: %q, %v", fc.Experiments, err)
	}
	if _, err := ParseConfig("cohortd.yaml", []byte("experimentz: []\n"), func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), `did you mean "experiments"`) {
		t.Errorf("a misspelt section: %v", err)
	}
}
