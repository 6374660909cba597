// Package bitmaps is cohortd's in-memory user index: a user_id ↔ dense uint32
// dictionary, roaring bitmaps per value, bucketed numbers, existence bitmaps
// for NULL, and an executor for bitmap plans (trees of Node). It imports only
// roaring and the standard library; it knows nothing of the cohort language.
//
// # Use
//
// Bulk-load with a Builder (ids follow ascending user_id byte order), then
// evaluate plans with Index.Eval (a member bitmap) or Index.Count (no
// materialisation where avoidable), list members with Index.Iterate (user_id
// order, resumable after a user_id), and apply streaming updates with Upsert,
// Set and Delete. WriteTo and ReadFrom snapshot the whole index.
//
// # Semantics
//
// Every leaf is false on NULL; Not{X} is the live users minus X. A Scan's Fn
// gets a values slice that is reused between calls (do not keep it), and an
// AND runs a Scan only on the users its earlier terms left. Strings
// compare by bytes. Numbers compare exactly, whatever the mix of int64 and
// float64 in data and plan (-0 == +0; NaN and ±Inf are never stored and a NaN
// bound matches nothing). A list field's Eq/In means "contains"; an empty
// list is NULL. A leaf on an unknown field or with a value of the wrong type
// matches nothing; Validate reports such plans.
//
// # Storage
//
//   - user_ids: one byte arena plus an open-addressing table of ids (no Go
//     map, no per-user allocation). Ids are never reused; a deleted user's
//     user_id bytes are zeroed.
//   - string and list fields: a dictionary value → code and one bitmap per
//     value; string codes per user in 1-4 bytes, lists as code runs in an
//     arena.
//   - int, float and time fields: order-preserving uint64 keys per user
//     (packed as 1-8 byte offsets from the column minimum) and about 256
//     equal-depth value buckets, each a bitmap; a frequent value gets a
//     bucket of its own. A range ORs the buckets it covers and scans at most
//     two boundary buckets (or subtracts the complement when that is
//     smaller); inside an AND with a small running result it tests those ids
//     instead. roaring's BSI was not used: its CompareValue tests each row's
//     bits one Contains at a time, far too slow at 10M users.
//   - bool fields: a true and a false bitmap.
//   - in indexes of 2^18 ids or more, dense structures (flat bitsets of
//     ids/8 bytes each): mirrors of the value bitmaps holding at least 1/64
//     of the ids, of the non-NULL ids of numeric fields, and cumulative
//     "ids below this bucket" bitsets every ~1/32 of a numeric field's ids
//     (range-encoded checkpoints, see rangeplan.go). Boundary buckets of a
//     range are sorted by key on first use and cached, a few per field.
//
// With the brief's 13 attributes this is about 130 bytes per user at 10M
// users, of which ~25 are the dense structures (see Stats and
// BenchmarkBriefIndexBytes in package compiler).
//
// # Evaluation
//
// Small indexes, lone leaves, selective ANDs and scans run on roaring (an
// AND restricts each term to its running result). Other plans over a big
// index run in the dense evaluator (densevm.go): every operator is a word
// loop over flat bitsets, a numeric range is two checkpoints and a few
// bucket adjustments, a count is a popcount (a range inside an AND is
// counted from checkpoint popcounts without being built), and the result
// becomes a roaring bitmap on all CPUs. Membership turns a result into a
// set whose Contains is one memory access, for one user's membership
// across many cohorts. Stamp tells caches which writes concern the fields
// a cohort reads.
//
// # Concurrency
//
// An Index is safe for concurrent use: reads share a sync.RWMutex and
// writes are serialised, so each call sees one consistent state. Scan and
// StrPred callbacks run under the read lock and must not call the Index.
// Iterate releases the lock between chunks, so its callback may. A Builder
// is not safe for concurrent use.
package bitmaps
