// promqlnames parses PromQL expressions with Prometheus' own parser and prints the metric
// names each one selects, so a test can check a dashboard's and a rule file's queries against
// what an exporter really serves.
//
//	promqlnames < exprs.json   (a JSON array of expressions) -> {"<expr>": ["name", ...], ...}
//
// An expression that does not parse is an error (exit 1, the parser's message on stderr).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// The parser with default options: the functions and syntax a stock Prometheus accepts.
var promql = parser.NewParser(parser.Options{})

func names(expr string) ([]string, error) {
	parsed, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	parser.Inspect(parsed, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			// {__name__="x"} selects by matcher instead of by name.
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			err = fmt.Errorf("%q: a selector without a metric name", vs.String())
			return err
		}
		seen[name] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

func main() {
	var exprs []string
	if err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {
		fmt.Fprintln(os.Stderr, "stdin: a JSON array of PromQL expressions:", err)
		os.Exit(2)
	}
	result := map[string][]string{}
	failed := false
	for _, expr := range exprs {
		found, err := names(expr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", expr, err)
			failed = true
			continue
		}
		result[expr] = found
	}
	if failed {
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(result)
}
