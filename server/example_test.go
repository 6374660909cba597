package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/cohortd/cohortd/bitmaps"
	"github.com/cohortd/cohortd/compiler"
	"github.com/cohortd/cohortd/server"
)

func ExampleParseConfig() {
	cfg := []byte(`api_keys:
  - name: crm
    key_env: CRM_KEY
    roles: [read, export]
  - name: ops
    key: change-me
    roles: [admin]
`)
	env := map[string]string{"CRM_KEY": "s3cret"}
	fc, err := server.ParseConfig("cohortd.yaml", cfg, func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, k := range fc.Keys {
		fmt.Println(k.Name, k.Roles)
	}
	// Output:
	// crm [read export]
	// ops [admin]
}

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "cohortd")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cohorts.yaml")
	os.WriteFile(path, []byte(`version: 1
attributes:
  user_id: {type: string, key: true}
  engagement_tier: {type: string}
cohorts:
  champion: "engagement_tier == 'champion'"
`), 0o644)

	srv, err := server.New(server.Config{
		Listen:      "127.0.0.1:8080",
		CohortsPath: path,
		LoadIndex: func(ctx context.Context, set *compiler.Set) (*bitmaps.Index, error) {
			b := bitmaps.NewBuilder(set.Schema())
			b.Add("u1", bitmaps.Row{"champion"})
			b.Add("u2", bitmaps.Row{"casual"})
			return b.Build(), nil
		},
		Clock: func() time.Time { return time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Run(ctx) would listen and load in the background; here we load and
	// call the handler directly.
	if err := srv.Reload(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	resp, _ := srv.Handler().Test(httptest.NewRequest("GET", "/api/v1/users/u1/cohorts", nil))
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// 200 {"user_id":"u1","cohorts":["champion"]}
}
