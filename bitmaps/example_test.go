package bitmaps_test

import (
	"fmt"
	"strings"

	"github.com/cohortd/cohortd/bitmaps"
)

var schema = bitmaps.Schema{
	{Name: "engagement_tier", Kind: bitmaps.KindString},
	{Name: "last_visit_at", Kind: bitmaps.KindTime},
	{Name: "cohort_tags", Kind: bitmaps.KindStringList},
}

func exampleIndex() *bitmaps.Index {
	b := bitmaps.NewBuilder(schema)
	users := []struct {
		id  string
		row bitmaps.Row
	}{
		{"u3", bitmaps.Row{"champion", int64(1_767_000_000), []string{"cyclist"}}},
		{"u1", bitmaps.Row{"champion", int64(1_760_000_000), nil}},
		{"u2", bitmaps.Row{"loyal", nil, []string{"cyclist", "runner"}}},
	}
	for _, u := range users {
		if err := b.Add(u.id, u.row); err != nil {
			panic(err)
		}
	}
	return b.Build()
}

// A cohort plan: champions seen since a cut-off, counted without building
// the member set.
func ExampleIndex_Count() {
	ix := exampleIndex()
	champion := &bitmaps.And{Terms: []bitmaps.Node{
		&bitmaps.Eq{Field: "engagement_tier", Value: "champion"},
		&bitmaps.Range{Field: "last_visit_at", Lo: int64(1_765_000_000), LoIncl: true},
	}}
	fmt.Println(ix.Count(champion))
	// NULL never matches a leaf; NOT includes it.
	fmt.Println(ix.Count(&bitmaps.Not{X: &bitmaps.Eq{Field: "cohort_tags", Value: "cyclist"}}))
	// Output:
	// 1
	// 1
}

// Members are listed in user_id order, and a listing can resume after the
// last user_id it returned (keyset pagination).
func ExampleIndex_Iterate() {
	ix := exampleIndex()
	cyclists := ix.Eval(&bitmaps.Eq{Field: "cohort_tags", Value: "cyclist"})
	ix.Iterate(cyclists, "", func(_ uint32, userID string) bool {
		fmt.Println(userID)
		return true
	})
	// Output:
	// u2
	// u3
}

// Streaming updates: Set changes one field, Upsert a whole row, Delete
// erases a user.
func ExampleIndex_Set() {
	ix := exampleIndex()
	if _, err := ix.Set("u2", "engagement_tier", "champion"); err != nil {
		panic(err)
	}
	if _, err := ix.Set("u9", "cohort_tags", []string{"runner"}); err != nil { // a new user
		panic(err)
	}
	ix.Delete("u1")
	var ids []string
	ix.Iterate(ix.Eval(&bitmaps.Or{Terms: []bitmaps.Node{
		&bitmaps.Eq{Field: "engagement_tier", Value: "champion"},
		&bitmaps.ListHas{Field: "cohort_tags", Values: []string{"runner"}},
	}}), "", func(_ uint32, userID string) bool {
		ids = append(ids, userID)
		return true
	})
	fmt.Println(strings.Join(ids, " "), ix.Len())
	// Output: u2 u3 u9 3
}

func ExampleIndex_TopValues() {
	ix := exampleIndex()
	for _, vc := range ix.TopValues("cohort_tags", nil, 10) {
		fmt.Println(vc.Value, vc.Count)
	}
	// Output:
	// cyclist 2
	// runner 1
}

func ExampleBuilder_Add() {
	b := bitmaps.NewBuilder(schema)
	fmt.Println(b.Add("u1", bitmaps.Row{"champion", "yesterday", nil}))
	fmt.Println(b.Add("u1", bitmaps.Row{"champion", nil, nil}))
	fmt.Println(b.Add("u1", bitmaps.Row{"loyal", nil, nil}))
	// Output:
	// user "u1": field "last_visit_at" (timestamp): cannot store string "yesterday": wrong value type
	// <nil>
	// user "u1": duplicate user
}

// A RowWriter stages typed values without boxing them into a Row: a bulk
// loader sets the fields it has and commits the user; unset fields are
// NULL.
func ExampleRowWriter() {
	b := bitmaps.NewBuilder(schema)
	b.Grow(2) // the row count, when known, sizes the staging columns once
	w := b.Writer()
	w.String(0, "champion")
	w.Int(1, 1_767_000_000)
	w.List(2, []string{"cyclist"})
	fmt.Println(w.Commit("u1"))
	w.String(0, "loyal")
	fmt.Println(w.Commit("u1"))
	ix := b.Build()
	id, _ := ix.Lookup("u1")
	row, _ := ix.Row(id)
	fmt.Println(ix.Len(), row)
	// Output:
	// <nil>
	// user "u1": duplicate user
	// 1 [champion 1767000000 [cyclist]]
}
