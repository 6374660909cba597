package bitmaps

import "unsafe"

// unsafeString views b as a string without copying. Callers only use it for
// comparisons and hashing while the bytes cannot change (under the lock).
func unsafeString(b []byte) string { return unsafe.String(&b[0], len(b)) }

// bytesString views b as a string without copying; b must never change
// afterwards (Iterate hands out strings over a chunk's private copy).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
