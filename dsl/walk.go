package dsl

// Inspect walks the tree rooted at n depth-first, calling f for each node
// (expressions and values alike) before its children; when f returns false
// the children of that node are skipped. Nil children are not visited.
func Inspect(n Node, f func(Node) bool) {
	if isNilNode(n) || !f(n) {
		return
	}
	visit := func(c Node) { Inspect(c, f) }
	switch n := n.(type) {
	case *Logic:
		for _, t := range n.Terms {
			visit(t)
		}
	case *Not:
		visit(n.X)
	case *Paren:
		visit(n.X)
	case *Compare:
		visit(n.Left)
		visit(n.Right)
	case *In:
		visit(n.Value)
		for _, l := range n.List {
			visit(l)
		}
	case *Member:
		visit(n.Elem)
		visit(n.Attr)
	case *Has:
		visit(n.Attr)
		for _, l := range n.Values {
			visit(l)
		}
	case *Between:
		visit(n.Value)
		visit(n.Lo)
		visit(n.Hi)
	case *IsNull:
		visit(n.Attr)
	case *Match:
		visit(n.Attr)
		visit(n.Pattern)
	case *Truthy:
		visit(n.Value)
	case *Call:
		visit(n.Arg)
		visit(n.OffLit)
	}
}

// isNilNode reports whether n is nil or a typed nil pointer.
func isNilNode(n Node) bool {
	switch n := n.(type) {
	case nil:
		return true
	case *Logic:
		return n == nil
	case *Not:
		return n == nil
	case *BoolConst:
		return n == nil
	case *CohortRef:
		return n == nil
	case *Compare:
		return n == nil
	case *In:
		return n == nil
	case *Member:
		return n == nil
	case *Has:
		return n == nil
	case *Between:
		return n == nil
	case *IsNull:
		return n == nil
	case *Match:
		return n == nil
	case *Truthy:
		return n == nil
	case *Paren:
		return n == nil
	case *Ident:
		return n == nil
	case *Literal:
		return n == nil
	case *Call:
		return n == nil
	}
	return false
}

// Unparen returns e without any enclosing Paren nodes.
func Unparen(e Expr) Expr {
	for {
		p, ok := e.(*Paren)
		if !ok || p == nil {
			return e
		}
		e = p.X
	}
}
