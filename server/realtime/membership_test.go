package realtime

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestMembershipBitsFollowBitmaps: after any sequence of set and replace,
// has(i, id) is bms[i].Contains(id), with more than 64 cohorts too.
func TestMembershipBitsFollowBitmaps(t *testing.T) {
	for _, cohorts := range []int{1, 5, 64, 70} {
		t.Run(fmt.Sprint(cohorts, " cohorts"), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(cohorts), 3))
			bms := make([]*roaring.Bitmap, cohorts)
			for i := range bms {
				bms[i] = roaring.New()
				for k := r.IntN(50); k > 0; k-- {
					bms[i].Add(uint32(r.IntN(300)))
				}
			}
			m := newMembership(bms)
			check := func(step int) {
				t.Helper()
				for i := range cohorts {
					for id := uint32(0); id < 1200; id++ {
						if got, want := m.has(i, id), m.bms[i].Contains(id); got != want {
							t.Fatalf("step %d: has(%d, %d) = %v, bitmap says %v", step, i, id, got, want)
						}
					}
				}
			}
			check(-1)
			for step := 0; step < 300; step++ {
				i := r.IntN(cohorts)
				if step%25 == 0 {
					b := roaring.New()
					for k := r.IntN(80); k > 0; k-- {
						b.Add(uint32(r.IntN(1000)))
					}
					m.replace(i, b)
				} else {
					m.set(i, uint32(r.IntN(1100)), r.IntN(2) == 0)
				}
				if step%20 == 0 {
					check(step)
				}
			}
			check(300)
		})
	}
}
