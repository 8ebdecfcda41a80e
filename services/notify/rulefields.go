package notify

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/gtmhub/gtmhub/contracts"
)

// A rule reads its events' data by field names (data.contact.signal_score),
// which nothing checks when the rule is compiled: the data is a map. A
// misspelled name finds nothing, and the rule then fails on every event,
// or never fires. So each name a rule reads is looked up in the contracts
// of the types it is on, and one that none of them declares is a
// configuration error.

// checkFields returns an error for each path into data, in the rule's
// condition or its templates, that no type in on can have.
func checkFields(on []string, when *vm.Program, templates ...*template.Template) []error {
	var paths [][]string
	if when != nil {
		paths = exprPaths(when.Node())
	}
	for _, t := range templates {
		if t != nil && t.Tree != nil {
			paths = append(paths, templatePaths(t.Tree.Root)...)
		}
	}
	var errs []error
	seen := map[string]bool{}
	for _, p := range paths {
		key := strings.Join(p, ".")
		if seen[key] {
			continue
		}
		seen[key] = true
		if err := checkPath(on, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkPath returns nil when one of the types can have path, and else the
// error of the first.
func checkPath(types []string, path []string) error {
	var first error
	for _, typ := range types {
		err := contracts.CheckPath(typ, path...)
		var perr *contracts.PathError
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &perr):
			return nil // an unknown type, reported on its own
		case first == nil:
			first = err
		}
	}
	return fmt.Errorf("data.%s: %w", strings.Join(path, "."), first)
}

// exprPaths returns the member chains rooted at data in an expression:
// ["contact", "signal_score"] for data.contact?.signal_score, up to the
// first member not named by a literal (an index, a computed key).
func exprPaths(root ast.Node) [][]string {
	var members []*ast.MemberNode
	inner := map[ast.Node]bool{}
	ast.Walk(&root, visitor(func(n *ast.Node) {
		if m, ok := (*n).(*ast.MemberNode); ok {
			members = append(members, m)
			inner[m.Node] = true
		}
	}))
	var paths [][]string
	for _, m := range members {
		if inner[m] {
			continue // part of a longer chain
		}
		if p, ok := dataPath(m); ok && len(p) > 0 {
			paths = append(paths, p)
		}
	}
	return paths
}

// dataPath returns the names of the member chain n, when it starts at the
// variable data, up to its first member not named by a string literal.
func dataPath(n ast.Node) (path []string, ok bool) {
	var props []*ast.MemberNode
	for {
		m, ok := n.(*ast.MemberNode)
		if !ok {
			break
		}
		props = append(props, m)
		n = m.Node
	}
	if id, ok := n.(*ast.IdentifierNode); !ok || id.Value != "data" {
		return nil, false
	}
	for i := len(props) - 1; i >= 0; i-- {
		name, literal := props[i].Property.(*ast.StringNode)
		if !literal || props[i].Method {
			break
		}
		path = append(path, name.Value)
	}
	return path, true
}

type visitor func(n *ast.Node)

func (v visitor) Visit(n *ast.Node) { v(n) }

// templatePaths returns the field chains rooted at .data in a template,
// leaving out those inside range and with, where the dot is another value.
func templatePaths(n parse.Node) [][]string {
	var paths [][]string
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			paths = append(paths, templatePaths(c)...)
		}
	case *parse.ActionNode:
		paths = append(paths, templatePaths(n.Pipe)...)
	case *parse.IfNode:
		paths = append(paths, templatePaths(n.Pipe)...)
		paths = append(paths, templatePaths(n.List)...)
		paths = append(paths, templatePaths(n.ElseList)...)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, cmd := range n.Cmds {
			for _, arg := range cmd.Args {
				paths = append(paths, templatePaths(arg)...)
			}
		}
	case *parse.FieldNode:
		if len(n.Ident) > 1 && n.Ident[0] == "data" {
			paths = append(paths, n.Ident[1:])
		}
	}
	return paths
}
