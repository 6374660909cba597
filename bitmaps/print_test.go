package bitmaps

import (
	"fmt"
	"strings"
)

// planString prints a plan for test failure messages.
func planString(n Node) string {
	switch n := n.(type) {
	case All:
		return "ALL"
	case None:
		return "NONE"
	case *Eq:
		return fmt.Sprintf("%s==%#v", n.Field, n.Value)
	case *In:
		return fmt.Sprintf("%s IN %#v", n.Field, n.Values)
	case *Range:
		lb, rb := "(", ")"
		if n.LoIncl {
			lb = "["
		}
		if n.HiIncl {
			rb = "]"
		}
		return fmt.Sprintf("%s IN %s%#v,%#v%s", n.Field, lb, n.Lo, n.Hi, rb)
	case *Exists:
		return n.Field + " EXISTS"
	case *ListHas:
		return fmt.Sprintf("%s HAS(all=%v) %q", n.Field, n.All, n.Values)
	case *StrPred:
		return n.Field + " " + n.Desc
	case *Scan:
		return "SCAN(" + n.Desc + ")"
	case *Const:
		return fmt.Sprintf("CONST%v", n.B.ToArray())
	case *Not:
		return "NOT(" + planString(n.X) + ")"
	case *And, *Or:
		var terms []Node
		op := " AND "
		if a, ok := n.(*And); ok {
			terms = a.Terms
		} else {
			terms, op = n.(*Or).Terms, " OR "
		}
		parts := make([]string, len(terms))
		for i, t := range terms {
			parts[i] = planString(t)
		}
		return "(" + strings.Join(parts, op) + ")"
	}
	return fmt.Sprintf("%T", n)
}
