package detectors

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestBenjaminiHochberg(t *testing.T) {
	// Ranked 0.005, 0.01, 0.03, 0.04 of 4: raw p*m/rank 0.02, 0.02, 0.04, 0.04.
	got := benjaminiHochberg([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.02, 0.04, 0.04, 0.02}
	for i := range want {
		if !near(got[i], want[i], 1e-12) {
			t.Fatalf("q = %v, want %v", got, want)
		}
	}
	// q-values never fall below their p-values, and keep the p-values' order.
	got = benjaminiHochberg([]float64{0.5, 0.001, 0.2})
	if got[1] > got[2] || got[2] > got[0] || got[1] < 0.001 {
		t.Fatalf("q = %v", got)
	}
}

func TestTails(t *testing.T) {
	cases := []struct {
		name      string
		got, want float64
	}{
		// P(X >= 3), X ~ Bin(10, 0.1) = 1 - (0.9^10 + 10·0.1·0.9^9 + 45·0.01·0.9^8)
		{"binomial upper", binomUpper(3, 10, 0.1), 1 - (math.Pow(0.9, 10) + math.Pow(0.9, 9) + 0.45*math.Pow(0.9, 8))},
		{"binomial lower", binomLower(0, 10, 0.1), math.Pow(0.9, 10)},
		{"nothing seen", binomUpper(0, 10, 0.1), 1},
		// P(X >= 2), X ~ Poisson(1) = 1 - 2/e
		{"poisson upper", poissonUpper(2, 1), 1 - 2/math.E},
	}
	for _, c := range cases {
		if !near(c.got, c.want, 1e-9) {
			t.Errorf("%s = %g, want %g", c.name, c.got, c.want)
		}
	}
}

func TestChiSquareEffectIsBiasCorrected(t *testing.T) {
	even := []float64{0.25, 0.25, 0.25, 0.25}
	// Exactly as expected: nothing to see.
	if chi2, p, w := chiSquareFit([]float64{25, 25, 25, 25}, even); chi2 != 0 || p != 1 || w != 0 {
		t.Fatalf("chi2 %g p %g w %g", chi2, p, w)
	}
	// Everything in one bin: chi2 = 300 on 3 df, w = sqrt((300-3)/100).
	chi2, p, w := chiSquareFit([]float64{100, 0, 0, 0}, even)
	if !near(chi2, 300, 1e-9) || p > 1e-50 || !near(w, math.Sqrt(2.97), 1e-9) {
		t.Fatalf("chi2 %g p %g w %g", chi2, p, w)
	}
}

func TestMedianMAD(t *testing.T) {
	med, mad := medianMAD([]float64{1, 2, 3, 4, 100})
	if med != 3 || !near(mad, 1.4826, 1e-9) {
		t.Fatalf("median %g MAD %g; want 3 and 1.4826 (an outlier moves neither)", med, mad)
	}
}

func TestBotUserAgents(t *testing.T) {
	a := &aggregates{uaCache: map[string]bool{}}
	for ua, want := range map[string]bool{
		"": true, "python-requests/2.32.3": true, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": true,
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36":                           true,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1": false,
		"Mozilla/5.0 (Linux; Android 12; CUBOT X50) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36":                     false,
	} {
		if got := a.isBot(ua); got != want {
			t.Errorf("isBot(%q) = %v, want %v", ua, got, want)
		}
	}
}
