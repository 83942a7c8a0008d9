package stacks

import (
	"fmt"

	"github.com/agext/levenshtein"
)

// didYouMean returns ` Did you mean "X"?` for the closest candidate, or "".
func didYouMean(name string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(name, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}
