// Package compiler turns a parsed cohorts file (dsl.File) into a checked,
// normalised cohort set and evaluates it.
//
// Pipeline: the checker resolves names (attributes, derived names, cohorts),
// checks types (spec §3) and turns the AST into a small typed IR whose leaves
// are exact tests on one attribute (int/float mixing, fractional timestamps
// and days_since are turned into exact integer or float bounds). The
// normaliser (one small pass each: NOT pushed to the leaves, constant
// folding, IN lists and ranges merged) gives the normal form. Three backends
// print it:
//
//   - Plan: a bitmaps.Node tree at one instant (relative times resolved,
//     AND terms ordered by the index's estimates), run by bitmaps.Index;
//   - Program: an expr-lang program evaluated on one user's attribute map;
//   - SQL: a ClickHouse WHERE clause with the same NULL semantics.
//
// Evaluator runs plans over an index with cached cohort bitmaps.
//
// Semantics are those of the cohort-language spec §4: two-valued logic, NULL
// fails every test, NOT is the complement in the universe, days_since is
// floor((now − ts) / 24h). now is truncated to the second everywhere.
//
// The package imports dsl, bitmaps, roaring and expr-lang (and the standard
// library); it never imports store or server. Subpackage compilertest holds
// random expression/user generators and a reference evaluator for tests.
package compiler
