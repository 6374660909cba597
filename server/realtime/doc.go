// Package realtime keeps cohorts fresh from a stream of events (spec
// events.md): a Pipeline decodes each event (from a Kafka consumer group or
// an NDJSON POST /api/v1/events body), looks up the user's membership of the
// cohorts the event can affect, applies the event to the live index
// (store/events), re-evaluates those cohorts for that user alone
// (compiler.Tracker) and publishes every entered/exited change to the
// changes topic. Cohorts that change with time alone (days_since, now()) are
// swept on a schedule by diffing their bitmaps against what was last
// published.
//
// Delivery is at least once. The pipeline keeps, per cohort, the members it
// has published (a roaring bitmap): the change feed is the sequence of
// differences of that state, so a replayed event publishes nothing new.
// Kafka offsets are committed only once their effect is safe: without a
// state directory, after the event is applied and its change records and
// dead letters are delivered; with a state directory (Config.StateDir),
// only after a snapshot holding the event is on disk.
//
// Snapshots: the index (bitmaps.Index.WriteTo, roaring's serialisation),
// the applier's side state, the published cohort bitmaps and the consumed
// offsets are written together into one file (write to a temporary file,
// fsync, rename), so they always describe the same instant. On restart the
// pipeline restores the file and skips every message below the offsets it
// holds; because offsets are committed to Kafka only after the snapshot
// containing them, the group resumes at or before the snapshot and nothing
// acknowledged is lost or applied twice in effect.
//
// A data source refreshed from outside (ClickHouse) is swapped in with
// Rebase, which carries over what the stream applied after the source's
// instant.
//
// realtime sits beside server: it imports compiler, bitmaps, store/events,
// store/kafka, Fiber and Prometheus; cmd/cohortd wires it and the server
// mounts EventsHandler.
package realtime
