// Package bitmaps is cohortd's in-memory user index: a user_id ↔ dense uint32
// dictionary, roaring bitmaps per value, bit-sliced numbers, existence bitmaps
// for NULL, and an executor for bitmap plans (trees of Node). It imports only
// roaring; it knows nothing of the cohort language.
package bitmaps
