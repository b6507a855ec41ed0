package output

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
)

// junitOutput writes the policy tests as JUnit XML, the format CI systems show: one
// testsuite per Rego package, one testcase per test, a failure with the expressions that
// did not hold (file:line: expression, and the variables' values).
type junitOutput struct{}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *struct{}     `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

func seconds(ms float64) string { return fmt.Sprintf("%.3f", ms/1000) }

func (junitOutput) Output(w io.Writer, r *Report) error {
	if r.Command != CommandTest {
		return fmt.Errorf("junit output: not offered for %q", r.Command)
	}
	bySuite := map[string]*junitSuite{}
	var names []string
	total := junitSuites{Name: "affwatch policy test", Time: seconds(r.Summary.DurationMS)}
	for _, t := range r.Tests {
		s := bySuite[t.Package]
		if s == nil {
			s = &junitSuite{Name: t.Package}
			bySuite[t.Package] = s
			names = append(names, t.Package)
		}
		c := junitCase{Name: t.Name, Classname: t.Package, File: t.File, Line: t.Line, Time: seconds(t.DurationMS), SystemOut: t.Output}
		switch t.Status {
		case "fail":
			msg := fmt.Sprintf("%s:%d: %s failed", t.File, t.Line, t.Name)
			var body strings.Builder
			for i, f := range t.Failures {
				if i == 0 {
					msg = fmt.Sprintf("%s: %s", f.Location, f.Expression)
				}
				fmt.Fprintf(&body, "%s: %s\n", f.Location, f.Expression)
				keys := make([]string, 0, len(f.Vars))
				for k := range f.Vars {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintf(&body, "    %s = %s\n", k, f.Vars[k])
				}
			}
			c.Failure = &junitProblem{Message: msg, Type: "fail", Body: body.String()}
			s.Failures++
		case "error":
			c.Error = &junitProblem{Message: t.Error, Type: "error", Body: t.Error}
			s.Errors++
		case "skip":
			c.Skipped = &struct{}{}
			s.Skipped++
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	sort.Strings(names)
	for _, n := range names {
		s := bySuite[n]
		sort.Slice(s.Cases, func(i, j int) bool {
			if s.Cases[i].File != s.Cases[j].File {
				return s.Cases[i].File < s.Cases[j].File
			}
			return s.Cases[i].Line < s.Cases[j].Line
		})
		var ms float64
		for _, t := range r.Tests {
			if t.Package == n {
				ms += t.DurationMS
			}
		}
		s.Time = seconds(ms)
		total.Tests += s.Tests
		total.Failures += s.Failures
		total.Errors += s.Errors
		total.Skipped += s.Skipped
		total.Suites = append(total.Suites, *s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(total); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
