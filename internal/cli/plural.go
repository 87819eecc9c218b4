package cli

import "strconv"

// count is n with its noun, singular for one: "1 item", "3 items" (nouns whose plural
// adds an s). internal/report and internal/dataset keep their own small copies: a shared
// package for one function would be a util package.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
