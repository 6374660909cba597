// Package milvus implements recommend.VectorIndex over a Milvus collection
// (github.com/milvus-io/milvus-sdk-go/v2), for catalogs and user bases
// beyond one machine's memory: `cohortd serve --milvus HOST:PORT`.
//
// Each index is one collection with three fields — id (VARCHAR primary
// key), published_at (INT64 Unix seconds, 0 for users) and vector
// (FLOAT_VECTOR) — and an HNSW index with the COSINE metric. OpenPair opens
// the two collections cohortd uses, <prefix>_articles and <prefix>_users.
// Exclusions and publication windows become Milvus filter expressions
// (`id not in [...] && published_at >= ...`), evaluated by the server.
//
// Running against a real Milvus (2.4 or later):
//
//	docker compose -f milvus-standalone-docker-compose.yml up -d   # see milvus.io
//	cohortd serve --data DIR --milvus 127.0.0.1:19530
//
// The collections are created (and indexed and loaded) on first use and
// reused afterwards; a collection whose vector dimension differs from the
// embedder's is an error rather than silently recreated. Searches use
// Milvus's default (bounded) consistency: an upsert is visible to searches
// within about a second.
//
// milvus imports recommend and the Milvus SDK; the rest of cohortd never
// imports it except cmd/cohortd. An Index is safe for concurrent use.
package milvus
