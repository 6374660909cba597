// Package dsl is the front end of cohortd: it parses the cohort language
// (spec §2) and cohorts.yaml (spec §1) into a positioned AST. It knows syntax
// and the file layout only — no types, no data, no evaluation; the compiler
// package checks and lowers what dsl produces.
//
// Entry points:
//
//   - ParseExpr / ParseExprAt parse one expression (participle grammar,
//     converted to the AST of ast.go); Print / Node.String print it back in
//     canonical form.
//   - Load / ParseData read cohorts.yaml strictly (unknown and duplicate keys,
//     wrong node kinds, bad names and name collisions are errors) and parse
//     every expression with positions in the YAML file, whatever the scalar
//     style (plain, quoted, block).
//
// Every node carries a Pos and every problem is an *Error in an ErrorList,
// collected for the whole file and sorted by position, so a user sees all
// mistakes at once with a caret under each.
//
// Concurrency: the parsing functions may be called from many goroutines at
// once. The trees and Files they return are not modified afterwards, so
// they may be read concurrently; a hand-built File should have its first
// SourceLine call made before it is shared.
//
// Imports: the standard library, github.com/alecthomas/participle/v2,
// gopkg.in/yaml.v3 and github.com/agnivade/levenshtein only — no other
// cohortd package; compiler and server import dsl.
package dsl
