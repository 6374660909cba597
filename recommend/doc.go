// Package recommend is cohortd's recommendations side module: it answers
// POST /api/v1/recommendations (and the cohort, feedback and experiment
// endpoints) with articles for a user, from the catalog and the users' read
// histories.
//
// The pieces, each behind a small interface so that deployments can swap
// them:
//
//   - Catalog and history: articles (articles.ndjson, article_published
//     events) and page views, fed by Load or by the event pipeline through
//     AddArticle, AddRead, SessionEnd and DeleteUser (or Apply).
//   - Embedder: LexicalEmbedder (default: deterministic hashed tf-idf
//     features, 768 dimensions), HTTPEmbedder (any OpenAI-compatible
//     /embeddings API), or the precomputed vectors of the data.
//   - User vectors: long-term, short-term and seasonal parts combined
//     0.4/0.5/0.1 (UserEmbeddingConfig), named by EmbeddingVersion.
//   - VectorIndex: ExactIndex (default), HNSWIndex (very large catalogs),
//     or Milvus (package recommend/milvus).
//   - Strategies: content, collaborative, seasonal, serendipity, blended
//     (default) and popular, re-ranked by MMR (diversity_factor) with a
//     reason per item; cold starts fall back on cohort or global popularity.
//   - Experiments: stable bucketing of users into variants, feedback
//     counters and CTR with confidence intervals.
//   - Evaluate: offline leave-last-n-out evaluation (cohortd eval-recs).
//
// The cohort core never imports recommend. recommend imports store (data
// files), fiber (the handlers), yaml, coder/hnsw and viterin/vek, and sees
// cohorts only through the CohortLookup interface. Recommender and every
// index and embedder here are safe for concurrent use.
package recommend
