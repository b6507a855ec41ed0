package crawler_test

import (
	"testing"

	"github.com/affwatch/affwatch/internal/testkit"
)

// TestHouseDisclosuresOfPublishers checks that the disclosure finder recognises the house
// wordings of large commerce publishers (testdata/publisher_disclosures.csv: written from
// memory, each marked to be verified against the publisher's site) and the variants
// people use ("may get/receive/earn/collect a commission/a share/compensation", "has
// affiliate partnerships"), each as a clear disclosure a reader sees.
func TestHouseDisclosuresOfPublishers(t *testing.T) {
	rows := testkit.ReadCSV(t, "testdata/publisher_disclosures.csv")
	publishers := map[string]bool{}
	for _, r := range rows {
		if r["publisher"] != "Variant" {
			publishers[r["publisher"]] = true
		}
		if ok, _ := discloses([]string{r["wording"]}); !ok {
			t.Errorf("%s: %q is not recognised as a disclosure", r["publisher"], r["wording"])
		}
	}
	if len(publishers) < 15 {
		t.Errorf("only %d publishers' wordings collected, want at least 15", len(publishers))
	}
}
