package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/klauspost/compress/gzip"
)

const loadInput = `{"id":"u2","s":"b","i":2,"l":["x","y"]}
{"id":"u1","s":"a","f":1.5,"b":true,"t":"2026-01-10T08:00:00Z","extra":0}
{"id":"u3","l":[]}
`

// writeFiles creates files (name → content) under a new temp dir; a name
// ending in .gz is gzipped unless its content starts with "raw:".
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		data := []byte(content)
		if raw, ok := strings.CutPrefix(content, "raw:"); ok {
			data = []byte(raw)
		} else if strings.HasSuffix(name, ".gz") {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
			data = buf.Bytes()
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadUsers(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		path  string // relative to the temp dir
	}{
		{name: "file", files: map[string]string{"people.ndjson": loadInput}, path: "people.ndjson"},
		{name: "gzipped file", files: map[string]string{"people.ndjson.gz": loadInput}, path: "people.ndjson.gz"},
		{name: "directory", files: map[string]string{"users.ndjson": loadInput, "articles.ndjson": "{}"}, path: "."},
		{name: "directory with gzip", files: map[string]string{"users.ndjson.gz": loadInput}, path: "."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			var progress [][2]int64
			ix, st, err := LoadUsers(context.Background(), filepath.Join(dir, tt.path), "id", testSchema,
				Options{Progress: func(rows, bytes int64) { progress = append(progress, [2]int64{rows, bytes}) }})
			if err != nil {
				t.Fatal(err)
			}
			if ix.Len() != 3 || st.Rows != 3 || !reflect.DeepEqual(st.UnknownAttributes, map[string]int64{"extra": 1}) {
				t.Errorf("len %d, stats %+v; want 3 users and one unknown attribute", ix.Len(), st)
			}
			want := map[string]bitmaps.Row{
				"u1": row(map[string]any{"s": "a", "f": 1.5, "b": true, "t": int64(1768032000)}),
				"u2": row(map[string]any{"s": "b", "i": int64(2), "l": []string{"x", "y"}}),
				"u3": row(nil),
			}
			for id, wantRow := range want {
				n, ok := ix.Lookup(id)
				if !ok {
					t.Fatalf("user %q not in the index", id)
				}
				if got, _ := ix.Row(n); !reflect.DeepEqual(got, wantRow) {
					t.Errorf("user %q: row %#v, want %#v", id, got, wantRow)
				}
			}
			// The final progress call reports the whole file on disk.
			info, err := os.Stat(filepath.Join(dir, tt.path))
			if err == nil && info.IsDir() {
				df, _ := ResolveData(filepath.Join(dir, tt.path))
				info, err = os.Stat(df.Users)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(progress) == 0 || progress[len(progress)-1] != [2]int64{3, info.Size()} {
				t.Errorf("progress %v, want a last call (3, %d)", progress, info.Size())
			}
		})
	}
}

func TestLoadUsersErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		path  string
		want  string // error text; "DIR" stands for the temp dir
	}{
		{name: "missing path", path: "nope",
			want: `cannot use data "DIR/nope": stat DIR/nope: no such file or directory`},
		{name: "directory without users", files: map[string]string{"articles.ndjson": ""}, path: ".",
			want: `cannot load users from "DIR": no users.ndjson or users.ndjson.gz there`},
		{name: "both plain and gzip", files: map[string]string{"users.ndjson": "", "users.ndjson.gz": ""}, path: ".",
			want: `cannot use data "DIR": both users.ndjson and users.ndjson.gz are there; keep one`},
		{name: "not gzip", files: map[string]string{"users.ndjson.gz": "raw:plain"}, path: ".",
			want: `cannot load users: cannot read "DIR/users.ndjson.gz": unexpected EOF`},
		{name: "bad row names the file", files: map[string]string{"users.ndjson": "{\"id\":\"a\"}\n{\"id\":\"b\",\"i\":\"x\"}\n"}, path: ".",
			want: `DIR/users.ndjson:2: "i": want int, got string "x" (fix the value or pass --skip-bad-rows)`},
		{name: "duplicate names both lines", files: map[string]string{"users.ndjson": "{\"id\":\"a\"}\n\n{\"id\":\"b\"}\n{\"id\":\"a\",\"s\":\"again\"}\n"}, path: ".",
			want: `DIR/users.ndjson:4: "id": duplicate "a", first on line 1 (fix the value or pass --skip-bad-rows)`},
		{name: "duplicate of a gzipped file", files: map[string]string{"u.ndjson.gz": "{\"id\":\"b\"}\n{\"id\":\"a\"}\n{\"id\":\"a\"}\n"}, path: "u.ndjson.gz",
			want: `DIR/u.ndjson.gz:3: "id": duplicate "a", first on line 2 (fix the value or pass --skip-bad-rows)`},
		{name: "empty gzip file", files: map[string]string{"users.ndjson.gz": "raw:"}, path: ".",
			want: `cannot load users: cannot read "DIR/users.ndjson.gz": EOF`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			ix, _, err := LoadUsers(context.Background(), filepath.Join(dir, tt.path), "id", testSchema, Options{})
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if err == nil || err.Error() != want {
				t.Fatalf("error %v\nwant %s", err, want)
			}
			if ix != nil {
				t.Errorf("got an index with an error")
			}
		})
	}
}

func TestLoadUsersCorruptGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(strings.Repeat(`{"id":"a"}`+"\n", 1000)))
	zw.Close()
	data := buf.Bytes()[:buf.Len()/2] // cut in the middle
	dir := writeFiles(t, nil)
	os.WriteFile(filepath.Join(dir, "users.ndjson.gz"), data, 0o644)
	_, _, err := LoadUsers(context.Background(), dir, "id", testSchema, Options{SkipBadRows: true})
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "cannot read") {
		t.Errorf("error %v, want a read error wrapping io.ErrUnexpectedEOF", err)
	}
}

// With SkipBadRows a duplicate is skipped (the first line wins) and its
// error, kept for display, names both lines.
func TestLoadUsersSkipDuplicates(t *testing.T) {
	input := `{"id":"a","s":"first"}
{"id":"b","i":"bad"}
{"id":"b","s":"valid"}
{"id":"a","s":"second"}
{"id":"b"}
{"id":"c"}
`
	dir := writeFiles(t, map[string]string{"users.ndjson": input})
	ix, st, err := LoadUsers(context.Background(), dir, "id", testSchema, Options{SkipBadRows: true})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 3 || st.Rows != 3 || st.Skipped != 3 {
		t.Fatalf("len %d, stats %+v; want 3 users, 3 skipped", ix.Len(), st)
	}
	p := filepath.Join(dir, "users.ndjson")
	var got []string
	for _, e := range st.FirstErrors {
		got = append(got, strings.ReplaceAll(e.Error(), p, "F"))
	}
	want := []string{
		`F:2: "i": want int, got string "bad"`,
		`F:4: "id": duplicate "a", first on line 1`,
		`F:5: "id": duplicate "b", first on line 3`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	n, _ := ix.Lookup("a")
	if r, _ := ix.Row(n); r[0] != "first" {
		t.Errorf("user a: %v, want the first line's values", r)
	}
}

func TestResolveData(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		path  string
		want  DataFiles // paths relative to the temp dir
	}{
		{name: "file", files: map[string]string{"x.ndjson": ""}, path: "x.ndjson", want: DataFiles{Users: "x.ndjson"}},
		{name: "all three", files: map[string]string{"users.ndjson": "", "articles.ndjson.gz": "", "events.ndjson": ""}, path: ".",
			want: DataFiles{Users: "users.ndjson", Articles: "articles.ndjson.gz", Events: "events.ndjson"}},
		{name: "users only", files: map[string]string{"users.ndjson.gz": "", "other.txt": ""}, path: ".",
			want: DataFiles{Users: "users.ndjson.gz"}},
		{name: "empty dir", files: map[string]string{"sub/x": ""}, path: "sub/..", want: DataFiles{}},
		{name: "directory named like a file is ignored", files: map[string]string{"users.ndjson/x": ""}, path: ".", want: DataFiles{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			got, err := ResolveData(filepath.Join(dir, tt.path))
			if err != nil {
				t.Fatal(err)
			}
			rel := func(p string) string {
				if p == "" {
					return ""
				}
				r, _ := filepath.Rel(dir, p)
				return r
			}
			got = DataFiles{Users: rel(got.Users), Articles: rel(got.Articles), Events: rel(got.Events)}
			if got != tt.want {
				t.Errorf("ResolveData = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.ndjson.gz": "zipped\n", "b.ndjson": "plain\n"})
	for name, want := range map[string]string{"a.ndjson.gz": "zipped\n", "b.ndjson": "plain\n"} {
		rc, err := Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil || string(got) != want {
			t.Errorf("Open(%s) read %q, %v; want %q", name, got, err, want)
		}
		if err := rc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}
