package compiler

import "time"

// NativeMatch evaluates q on user (as for Program.Match) with the row
// matcher the Tracker uses; ok is false when the matcher defers to the
// expr-lang program. For tests only.
func NativeMatch(q *Query, user map[string]any, now time.Time) (in, ok bool, err error) {
	slots := map[string]int{}
	var types []attrType
	for _, a := range q.set.Attributes() {
		if _, dup := slots[a.Name]; !dup {
			slots[a.Name] = len(types)
			types = append(types, attrType{typ: a.Type, key: a.Key})
		}
	}
	m := (&matcherBuilder{set: q.set, slots: slots}).build(q.raw, 0)
	e := &userEnv{vals: make([]any, len(types)), now: nowSec(now)}
	for name, s := range slots {
		v, err := normValue(types[s].typ, user[name])
		if err != nil {
			return false, false, err
		}
		e.vals[s] = v
	}
	in, ok = m(e)
	return in, ok, nil
}
