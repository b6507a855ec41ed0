package detectors

import (
	"net/netip"
	"testing"
)

// FuzzDottedQuad checks the quick IPv4 test against netip: it may turn down what netip
// reads (netip then decides), but must never accept what netip would not.
func FuzzDottedQuad(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1.2.3", "1.2.3.4.",
		"1..2.3", ".1.2.3", "", "999.1.1.1", "1.2.3.4 ", "::ffff:1.2.3.4", "10.0.0.00", "1.2.3.4%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := netip.ParseAddr(s)
		if dottedQuad(s) && err != nil {
			t.Errorf("dottedQuad(%q) accepts what netip does not: %v", s, err)
		}
		if err == nil && netip.MustParseAddr(s).Is4() && !dottedQuad(s) {
			t.Errorf("dottedQuad(%q) turns down an IPv4 address", s)
		}
	})
}
