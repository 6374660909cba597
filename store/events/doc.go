// Package events is cohortd's real-time event model (spec events.md): it
// decodes one event (a JSON object: a Kafka message value or one line of an
// NDJSON body) against the attribute catalog, and applies it to the live
// bitmaps.Index with an Applier, following the effects table:
//
//   - page_view: last_visit_at = max(current, ts); the article joins the
//     user's read history (History); an unknown user is created.
//   - profile_update: sets each named attribute, null clears it; a value
//     older (by ts) than the one held for that user and attribute is ignored.
//   - session_end: calls Hooks.SessionEnd (the recommender recomputes the
//     short-term embedding).
//   - article_published: adds or replaces the article in the Articles
//     catalog and calls Hooks.ArticlePublished.
//   - user_deleted: removes the user from the index and the history, forgets
//     its per-attribute times, and calls Hooks.UserDeleted (vector store);
//     older events of the user that arrive later are ignored.
//
// Applying an event twice changes nothing more: an Applier remembers the
// event_ids of a bounded window of recent events (Options.DedupeWindow), and
// every rule above is idempotent on its own (max, per-attribute times, a read
// history keyed by article and time, deletion tombstones).
//
// An event that cannot be decoded is a *MalformedError naming the JSON field
// at fault; the caller adds where it came from (Kafka topic/partition/offset
// or an NDJSON line). Malformed events never stop a consumer.
//
// The effects outside the index — read-history writes and the SessionEnd
// and UserDeleted hooks — run in Apply, or with Applier.Background on a
// goroutine of their own, in event order (an erasure after the reads before
// it), so that the goroutine applying events mostly writes the index;
// Applier.Flush waits for them.
//
// Applier.WriteState and ReadState serialise everything an Applier holds
// besides the index, so that a snapshot of both can be restored together
// (they flush the background effects first).
//
// events imports bitmaps and store (the value rules of data files), plus the
// standard library. It knows nothing of the cohort language, Kafka or HTTP.
package events
