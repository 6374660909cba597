// Package store reads cohortd's embedded data source: NDJSON files of users
// (one JSON object a line, spec cohort-language.md §5), optionally gzipped,
// given as a file or a data directory, and loads them into a bitmaps.Index.
//
// Values are checked against the attribute catalog (a bitmaps.Schema): a
// value of the wrong type, a line that is not a JSON object, or a missing or
// duplicate key is an error naming file:line and the attribute, never a
// silent skip; Options.SkipBadRows skips and counts such rows instead.
//
// Value rules (missing attribute or JSON null is NULL in every case):
//
//   - string: a JSON string.
//   - int: a JSON number whose value is an exact integer within int64; a
//     fraction or exponent is accepted only when the value stays integral
//     (5.0 and 1e3 are 5 and 1000; 5.5 and 1e-3 are errors).
//   - float: any finite JSON number (one beyond float64's range is an error).
//   - bool: true or false.
//   - timestamp: an RFC 3339 string, with or without fractional seconds,
//     with "Z" or a numeric offset ("T", "t" or a space between date and
//     time); stored as Unix seconds, rounded down.
//   - list<string>: a JSON array of strings; [] is NULL; a null or
//     non-string element is an error.
//   - the key attribute: a non-empty JSON string.
//
// Strings must be valid UTF-8 (an escaped lone surrogate becomes U+FFFD, as
// with encoding/json). Blank lines are ignored; attributes not in the schema
// are ignored and counted; an attribute of the schema (or the key) given
// twice in one object is an error.
//
// store imports only bitmaps and the standard library (plus a gzip reader).
// It knows nothing of the cohort language.
package store
