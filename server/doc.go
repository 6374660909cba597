// Package server is cohortd's HTTP API (Fiber v2): cohort listing and detail,
// member export for the CRM (paginated JSON, streamed CSV/NDJSON), cohort
// stats, a user's cohorts, ad-hoc query previews, cohorts.yaml validation,
// hot reload, API-key auth with roles, health/readiness probes, Prometheus
// metrics and an OpenAPI document.
//
// The running state is an immutable snapshot {compiled set, index,
// evaluator} behind an atomic pointer: request handlers never lock, and a
// reload builds a new snapshot off to the side and swaps it in, so a failed
// reload leaves the old one serving.
//
// server sits at the top of the stack: it may import compiler, dsl and
// bitmaps (plus Fiber, Prometheus and yaml); nothing in cohortd imports it
// except cmd/cohortd, which only parses flags and wires a Config.
package server
