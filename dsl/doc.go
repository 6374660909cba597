// Package dsl parses the cohort language and cohorts.yaml into a positioned
// AST. It knows syntax and the file layout only (no types, no data); every node
// and every error carries its file position. It imports participle and yaml only.
package dsl
