// Package gen generates a deterministic, realistic population for cohortd:
// users with the attributes of the spec's example catalog, articles over ~30
// sports topics, and page-view events in which users read articles of their
// latent topic preferences. It backs `cohortd gen` and the built-in demo
// population.
//
// The same Config gives the same output, byte for byte: every user, article
// and event draws from its own PCG stream keyed by the seed and its index.
//
// gen imports only bitmaps (for Catalog) and the standard library; it must
// not import store (store's tests and benchmarks use gen).
package gen
