// Package clickhouse makes a ClickHouse table the source of cohortd's user
// attributes, over ClickHouse's native protocol (port 9000, 9440 with TLS;
// ClickHouse 18.16 and current releases).
//
// It does four things:
//
//   - Bind a table to the attribute catalog (Client.Table): the table's
//     columns are discovered in system.columns and each catalog attribute is
//     matched with the column of the same name; a missing column or a type
//     that cannot hold the attribute is a *SchemaError naming the column.
//     Tables cohortd did not create work as long as their types map (see
//     the type table below).
//   - Read the table into a bitmaps.Index (Table.ReadIndex), streaming
//     blocks of rows into a bitmaps.Builder in bounded memory, with progress.
//   - Keep the index fresh (Refresher): a first load that retries with
//     backoff while ClickHouse is down, then periodic refreshes that build a
//     new index off to the side and swap it in — from the whole table, or,
//     when the table has an updated_at column, from a copy of the live index
//     plus only the rows changed since the last refresh. Failures keep the
//     last index serving, are logged and counted in Prometheus metrics.
//   - Push a cohort down to ClickHouse (Table.Count, Table.Members): the
//     compiler's WHERE clause (compiler.Query.SQL) runs against the table,
//     for populations larger than one machine's memory; the same SQL runs on
//     a Distributed table over a cluster.
//
// Client.Load goes the other way: it creates a table from the catalog (DDL
// that runs on 18.16 and current releases) and bulk-inserts NDJSON users.
//
// # Types
//
// Each attribute type accepts these column types (any of them may be
// wrapped in Nullable, string types also in LowCardinality):
//
//	string        String, FixedString(N) (trailing NUL bytes dropped), Enum8, Enum16, UUID
//	int           Int8 … Int64, UInt8 … UInt64 (a UInt64 above 2^63-1 is a bad row)
//	float         Float32, Float64, Decimal(P, S) and Decimal32/64/128 (read as Float64)
//	bool          UInt8 (0 or 1; another value is a bad row) or Bool
//	timestamp     DateTime, DateTime64 (floored to the second), Date (midnight UTC),
//	              or an integer column of Unix seconds
//	list<string>  Array(String), Array(LowCardinality(String)); an empty array is NULL
//	key           String, FixedString, UUID or an integer column (read as its decimal text)
//
// Every value is read through the same SQL expression the pushed-down
// queries see (for example toString(e) for an Enum, toInt64(d) * 86400 for
// a Date), so the index and the pushdown always agree on a user's values.
//
// # Imports
//
// The package imports bitmaps, store (the NDJSON reader, for Load),
// store/events (Load applies a data directory's events.ndjson first),
// compiler/chsql (the SQL quoting it shares with the compiler's backend),
// clickhouse-go and the Prometheus client; never the compiler itself, dsl or
// server:
// callers pass the compiled WHERE clause as a string and the catalog as a
// key name plus a bitmaps.Schema. Subpackage chtest helps tests run against
// a real ClickHouse.
package clickhouse
