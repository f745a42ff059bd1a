package pricing

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// MaxUSD bounds a price the API accepts: $1,000,000 per million tokens is
// far above any model's, and keeps every cost far from int64's range
// (Cost multiplies counts by rates).
const MaxUSD = 1_000_000

// ParseUSD reads a decimal amount of US dollars ("3", "3.00", "0.075") into
// micro-dollars exactly, without going through a float. It refuses a sign,
// an exponent, more than six decimals, NaN or infinities, and amounts above
// MaxUSD; the error says what is wrong in words for the API's validations.
func ParseUSD(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("is empty; give dollars per million tokens as a decimal string such as \"3.00\"")
	}
	if s[0] == '-' {
		return 0, errors.New("must not be negative")
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if hasDot && frac == "" && whole == "" {
		return 0, errors.New(`is not a decimal number such as "3.00"`)
	}
	if !digits(whole) || !digits(frac) || (whole == "" && !hasDot) {
		return 0, errors.New(`is not a decimal number such as "3.00" (digits and one point; no sign, exponent or spaces)`)
	}
	if len(frac) > 6 {
		return 0, errors.New("has more than 6 decimals; prices are kept to the micro-dollar")
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 7 {
		return 0, errors.New("is above the largest price accepted, $1000000 per million tokens")
	}
	var w int64
	if whole != "" {
		var err error
		if w, err = strconv.ParseInt(whole, 10, 64); err != nil {
			return 0, errors.New(`is not a decimal number such as "3.00"`)
		}
	}
	f := int64(0)
	if frac != "" {
		n, err := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil {
			return 0, errors.New(`is not a decimal number such as "3.00"`)
		}
		f = n
	}
	v := w*perMillion + f
	if v > MaxUSD*perMillion {
		return 0, errors.New("is above the largest price accepted, $1000000 per million tokens")
	}
	return v, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatUSD writes micro-dollars as dollars with at least two decimals and
// no trailing zeros past them: 3000000 is "3.00", 75000 "0.075", 1 "0.000001".
func FormatUSD(micros int64) string {
	neg := micros < 0
	if neg {
		if micros == math.MinInt64 {
			return "-9223372036854.775808"
		}
		micros = -micros
	}
	s := strconv.FormatInt(micros/perMillion, 10) + "." + strings.TrimRight(padFrac(micros%perMillion), "0")
	if i := strings.IndexByte(s, '.'); len(s)-i-1 < 2 {
		s += strings.Repeat("0", 2-(len(s)-i-1))
	}
	if neg {
		return "-" + s
	}
	return s
}

func padFrac(n int64) string {
	s := strconv.FormatInt(n, 10)
	return strings.Repeat("0", 6-len(s)) + s
}
