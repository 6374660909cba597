package bitmaps

import "unsafe"

// unsafeString views b as a string without copying. Callers only use it for
// comparisons and hashing while the bytes cannot change (under the lock).
func unsafeString(b []byte) string { return unsafe.String(&b[0], len(b)) }
