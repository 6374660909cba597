package events

// seenIDs remembers the last n event_ids (a FIFO window): Has answers for
// those, older ones are forgotten. Not safe for concurrent use.
type seenIDs struct {
	ring []string
	next int // where the next id goes once the ring is full
	set  map[string]struct{}
	max  int
}

func newSeenIDs(max int) *seenIDs {
	return &seenIDs{max: max, set: make(map[string]struct{}, min(max, 1<<16))}
}

func (s *seenIDs) Has(id string) bool {
	_, ok := s.set[id]
	return ok
}

func (s *seenIDs) Add(id string) {
	if s.max <= 0 || s.Has(id) {
		return
	}
	s.addNew(id)
}

// addNew is Add for an id known to be absent (one map access less).
func (s *seenIDs) addNew(id string) {
	if s.max <= 0 {
		return
	}
	if len(s.ring) < s.max {
		s.ring = append(s.ring, id)
	} else {
		delete(s.set, s.ring[s.next])
		s.ring[s.next] = id
		s.next = (s.next + 1) % s.max
	}
	s.set[id] = struct{}{}
}

func (s *seenIDs) Len() int { return len(s.set) }

// ordered returns the ids oldest first.
func (s *seenIDs) ordered() []string {
	if len(s.ring) < s.max {
		return s.ring
	}
	out := make([]string, 0, len(s.ring))
	out = append(out, s.ring[s.next:]...)
	return append(out, s.ring[:s.next]...)
}
