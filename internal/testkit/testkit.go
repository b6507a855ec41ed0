// Package testkit holds what several packages' tests and benchmarks share: the way to the
// third-party data in ../shared/data, and the peak-memory probes of the benchmarks.
package testkit

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/open-policy-agent/opa/v1/rego"
)

// SharedData returns the path of ../shared/data/parts... beside the repository (found by
// walking up from the test's directory to the module root), skipping the test when it is
// not there: the data is read in place and never copied into the project.
func SharedData(t testing.TB, parts ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	p := filepath.Join(append([]string{filepath.Dir(dir), "shared", "data"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s is not here (checked out without ../shared?): %v", p, err)
	}
	return p
}

// ReadCSV reads a CSV file with a header into one map per row.
func ReadCSV(t testing.TB, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []map[string]string
	for _, row := range rows[1:] {
		m := make(map[string]string, len(rows[0]))
		for i, h := range rows[0] {
			if i < len(row) {
				m[h] = row[i]
			}
		}
		out = append(out, m)
	}
	return out
}

// PeakHeap samples the heap in use while fn runs and returns the largest value seen.
func PeakHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak.Load()
}

// MaxRSS is the process's peak resident memory so far (VmHWM), in MiB.
func MaxRSS() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// ExpensiveRule is a rule that passes `policy check` but builds a list of 200 million
// numbers when evaluated: before evaluations had a budget, one such rule grew a scan past
// 15 GB and made it deaf to SIGTERM. Its id is XX-901.
const ExpensiveRule = `# METADATA
# title: Expensive rule
# custom:
#   id: XX-901
#   severity: low
package affwatch.rules.x.expensive

deny contains {"msg": "many numbers"} if {
	count(numbers.range(1, 200000000)) > 0
}
`

// PostgresURL is the PostgreSQL server the tests use: AFFWATCH_TEST_POSTGRES, or the one
// every session and CI run has on 127.0.0.1:5432 with trust authentication.
func PostgresURL() string {
	if u := os.Getenv("AFFWATCH_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Postgres creates an empty database of its own for the test on the test server, and drops
// it when the test ends; it returns the database's URL. A server that cannot be reached
// fails the test, saying how to start one: the PostgreSQL store is never skipped.
func Postgres(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		t.Fatalf("PostgreSQL is needed at %s (set AFFWATCH_TEST_POSTGRES to use another): %v\n"+
			"start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", PostgresURL(), err)
	}
	defer admin.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "affwatch_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, PostgresURL())
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// MatchSchema fails the test unless doc (JSON) is valid against the JSON Schema in the
// file schemaPath. It validates with OPA's json.match_schema (gojsonschema underneath,
// drafts 4 to 7), already in the module, rather than a validator of its own.
func MatchSchema(t testing.TB, schemaPath string, doc []byte) {
	t.Helper()
	if errs := SchemaErrors(t, schemaPath, doc); len(errs) > 0 {
		t.Errorf("the document does not match %s:\n  %s", schemaPath, strings.Join(errs, "\n  "))
	}
}

// SchemaErrors are the reasons doc (JSON) is not valid against the JSON Schema in the file
// schemaPath; none when it is.
func SchemaErrors(t testing.TB, schemaPath string, doc []byte) []string {
	t.Helper()
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var schema, value any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	if err := json.Unmarshal(doc, &value); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	ctx := context.Background()
	rs, err := rego.New(rego.Query("x := json.match_schema(input.doc, input.schema)"),
		rego.Input(map[string]any{"doc": value, "schema": schema})).Eval(ctx)
	if err != nil || len(rs) != 1 {
		t.Fatalf("json.match_schema: %v", err)
	}
	res := rs[0].Bindings["x"].([]any)
	if ok, _ := res[0].(bool); ok {
		return nil
	}
	var out []string
	errs, _ := res[1].([]any)
	for _, e := range errs {
		m, _ := e.(map[string]any)
		out = append(out, fmt.Sprintf("%v: %v", m["field"], m["desc"]))
	}
	return out
}
