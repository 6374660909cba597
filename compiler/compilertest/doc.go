// Package compilertest holds test helpers for the compiler and for anything
// that must agree with it (the ClickHouse backend, the server): a random
// generator of valid cohort expressions, a random generator of users with
// NULL-heavy, edge-case values, and Ref, a naive reference evaluator written
// from the spec. It imports only dsl and the standard library.
package compilertest
