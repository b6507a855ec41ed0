package vet

import (
	_ "embed"
	"html/template"
	"io"
)

//go:embed vet.html.tmpl
var htmlTemplate string

var page = template.Must(template.New("vet").Parse(htmlTemplate))

// WriteHTML writes the report as a page a manager can attach to the approval. Everything
// the partner's site said is escaped.
func (r Report) WriteHTML(w io.Writer) error { return page.Execute(w, r) }
