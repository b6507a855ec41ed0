// Package affwatch holds the domain of affiliate compliance and fraud scanning: the
// programs an advertiser runs, the affiliates who promote them, the pages affwatch sees,
// the violations it finds and the scans that find them, plus the small interfaces between
// the stages of a scan (crawl, check, detect, store, report).
//
// Every other package depends on these types, not on each other; the binary in
// cmd/affwatch wires the implementations together.
package affwatch
