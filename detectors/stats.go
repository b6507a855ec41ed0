package detectors

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// binomUpper is P(X >= k) for X ~ Binomial(n, p): how unlikely it is to see k or more
// events in n trials if the affiliate behaved like the baseline.
func binomUpper(k, n float64, p float64) float64 {
	switch {
	case k <= 0:
		return 1
	case p <= 0:
		return 0
	case p >= 1 || k > n:
		if k > n {
			return 0
		}
		return 1
	}
	return distuv.Binomial{N: n, P: p}.Survival(k - 1)
}

// binomLower is P(X <= k) for X ~ Binomial(n, p): how unlikely so few events are.
func binomLower(k, n float64, p float64) float64 {
	switch {
	case k >= n || p <= 0:
		return 1
	case p >= 1:
		return 0
	}
	return distuv.Binomial{N: n, P: p}.CDF(k)
}

// poissonUpper is P(X >= k) for X ~ Poisson(lambda).
func poissonUpper(k, lambda float64) float64 {
	if k <= 0 {
		return 1
	}
	if lambda <= 0 {
		return 0
	}
	return distuv.Poisson{Lambda: lambda}.Survival(k - 1)
}

// chiSquareFit compares observed counts with the expected distribution (shares summing to
// one) and returns the statistic, its p-value and Cohen's w, the effect size that stops a
// large affiliate being flagged for a trivial difference. w is bias-corrected,
// sqrt(max(chi2-df, 0)/n): chi2 averages df under the null, so the plain sqrt(chi2/n)
// would make every small affiliate look different.
func chiSquareFit(observed []float64, shares []float64) (chi2, p, w float64) {
	n := 0.0
	for _, o := range observed {
		n += o
	}
	if n == 0 {
		return 0, 1, 0
	}
	var obs, exp []float64
	for i, o := range observed {
		e := shares[i] * n
		if e <= 0 {
			continue // a bin the program never uses tells nothing
		}
		obs = append(obs, o)
		exp = append(exp, e)
	}
	if len(obs) < 2 {
		return 0, 1, 0
	}
	chi2 = stat.ChiSquare(obs, exp)
	df := float64(len(obs) - 1)
	p = distuv.ChiSquared{K: df}.Survival(chi2)
	return chi2, p, math.Sqrt(math.Max(chi2-df, 0) / n)
}

// medianMAD returns the median and the scaled median absolute deviation (1.4826·MAD,
// comparable to a standard deviation for normal data) of xs.
func medianMAD(xs []float64) (median, mad float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := append([]float64(nil), xs...)
	median = sortedMedian(s)
	for i, x := range s {
		s[i] = math.Abs(x - median)
	}
	return median, 1.4826 * sortedMedian(s)
}

// sortedMedian sorts xs and returns its middle value (the mean of the two middle ones for
// an even count).
func sortedMedian(xs []float64) float64 {
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// benjaminiHochberg turns p-values into q-values (false discovery rate adjusted), so that
// testing hundreds of affiliates at once does not flag honest ones by chance.
func benjaminiHochberg(ps []float64) []float64 {
	m := len(ps)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return ps[idx[a]] < ps[idx[b]] })
	qs := make([]float64, m)
	prev := 1.0
	for r := m - 1; r >= 0; r-- {
		i := idx[r]
		q := math.Min(prev, ps[i]*float64(m)/float64(r+1))
		qs[i] = q
		prev = q
	}
	return qs
}
