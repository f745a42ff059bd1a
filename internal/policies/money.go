package policies

import (
	"fmt"
	"strconv"
	"strings"
)

// MicrosPerDollar is how many micro-dollars, the unit budgets and costs are
// counted in, make a dollar.
const MicrosPerDollar = 1_000_000

// FormatUSD writes micro-dollars as a decimal string with at least two
// decimals and no more than it needs: 25000000 is "25.00", 1500 "0.0015".
func FormatUSD(micros int64) string {
	sign := ""
	if micros < 0 {
		sign, micros = "-", -micros
	}
	frac := fmt.Sprintf("%06d", micros%MicrosPerDollar)
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return sign + strconv.FormatInt(micros/MicrosPerDollar, 10) + "." + frac
}

// ParseUSD reads a non-negative decimal amount of dollars ("25", "25.00",
// "0.000001") exactly, into micro-dollars. It refuses more than six
// decimals rather than round: a budget is what the operator wrote.
func ParseUSD(s string) (int64, error) {
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || (hasPoint && frac == "") || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("must be a decimal amount of dollars such as \"25.00\"")
	}
	if len(frac) > 6 {
		return 0, fmt.Errorf("must have at most 6 decimals (a micro-dollar)")
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > (1<<63-1)/MicrosPerDollar-1 {
		return 0, fmt.Errorf("is too large")
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
	}
	return w*MicrosPerDollar + f, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
