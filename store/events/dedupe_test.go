package events

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestSeenIDsAgainstModel drives the dedupe window with random ids of
// random lengths (so the byte buffer wraps and grows, and the table grows
// and shifts entries back on eviction) and compares every answer with a
// plain FIFO of strings.
func TestSeenIDsAgainstModel(t *testing.T) {
	for _, max := range []int{1, 2, 3, 7, 64, 1000} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(max), 1))
			s := newSeenIDs(max)
			var fifo []string
			id := func() string {
				// Few distinct ids, so that many are seen again while
				// in the window and after leaving it; lengths up to 300
				// bytes wrap and grow the byte buffer.
				n := r.IntN(3 * max)
				return fmt.Sprintf("e-%d-%s", n, strings.Repeat("x", n%301))
			}
			for step := range 20 * max {
				x := id()
				want := slices.Contains(fifo, x)
				if got := s.Has(x); got != want {
					t.Fatalf("step %d: Has(%.20q) = %v, want %v", step, x, got, want)
				}
				if r.IntN(2) == 0 {
					s.Add(x)
				} else if !want {
					s.addNew(x)
				}
				if !want {
					fifo = append(fifo, x)
					if len(fifo) > max {
						fifo = fifo[1:]
					}
				}
				if s.Len() != len(fifo) {
					t.Fatalf("step %d: Len() = %d, want %d", step, s.Len(), len(fifo))
				}
				if step%97 == 0 {
					if got := s.ordered(); !slices.Equal(got, fifo) {
						t.Fatalf("step %d: ordered() = %.80q, want %.80q", step, got, fifo)
					}
				}
			}
			if got := s.ordered(); !slices.Equal(got, fifo) {
				t.Fatalf("ordered() = %.80q, want %.80q", got, fifo)
			}
		})
	}
}

func TestSeenIDsDisabled(t *testing.T) {
	s := newSeenIDs(-1)
	s.Add("e-1")
	s.addNew("e-2")
	if s.Has("e-1") || s.Has("e-2") || s.Len() != 0 || len(s.ordered()) != 0 {
		t.Fatalf("a window of no ids remembers something")
	}
}
