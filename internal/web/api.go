package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/affwatch/affwatch"
)

// The JSON API: the same data, filters and authorisation as the pages.

func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	ids, limited := u.Scope(s.Affiliates)
	out := map[string]any{"user": u, "all_affiliates": !limited}
	if limited {
		out["affiliates"] = orEmpty(ids)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiViolations(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	q, err := s.violationQuery(r.URL.Query(), u)
	if err != nil {
		return err
	}
	vs, next, err := s.queryViolations(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"violations": orEmpty(vs), "next_cursor": next})
	return nil
}

// violationDoc is a violation with its history and the page it was found on.
type violationDoc struct {
	Violation affwatch.Violation        `json:"violation"`
	History   []affwatch.ViolationEvent `json:"history"`
	Page      *affwatch.PageSummary     `json:"page"`
}

func (s *Server) violationDoc(r *http.Request, v affwatch.Violation) (violationDoc, error) {
	hist, err := s.Store.History(r.Context(), v.Fingerprint)
	if err != nil {
		return violationDoc{}, err
	}
	doc := violationDoc{Violation: v, History: orEmpty(hist)}
	if v.Source == affwatch.SourcePolicy {
		p, err := s.Store.PageAt(r.Context(), v.AffiliateID, v.URL, v.LastScan)
		switch {
		case err == nil:
			doc.Page = &p
		case !errors.Is(err, affwatch.ErrNotFound):
			return doc, err
		}
	}
	return doc, nil
}

func (s *Server) apiViolation(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	v, err := s.visibleViolation(r.Context(), r.PathValue("fp"), u)
	if err != nil {
		return err
	}
	doc, err := s.violationDoc(r, v)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}

// decodeBody reads a JSON request body into v, refusing unknown fields.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return badField(ute.Field, "want a %s", ute.Type)
		}
		return badField("body", "not a JSON object of the documented fields: %v", err)
	}
	return nil
}

func (s *Server) apiChange(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	v, err := s.changeableViolation(r.Context(), r.PathValue("fp"), u)
	if err != nil {
		return err
	}
	var req changeRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	ch, err := req.change(u.Name, s.now())
	if err != nil {
		return err
	}
	next, err := s.Store.Change(r.Context(), v.Fingerprint, ch)
	if err != nil {
		return err
	}
	doc, err := s.violationDoc(r, next)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}

func (s *Server) apiScans(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	limit := 20
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxLimit {
			return badField("limit", "%q is not a number from 1 to %d", l, maxLimit)
		}
		limit = n
	}
	scans, err := s.Store.Scans(r.Context(), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"scans": orEmpty(scans)})
	return nil
}

func (s *Server) apiScan(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return badField("id", "%q is not a scan id", r.PathValue("id"))
	}
	sc, err := s.Store.Scan(r.Context(), id)
	if err != nil {
		return err
	}
	pages, err := s.unverifiedPages(r, u, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"scan": sc, "unverified_pages": orEmpty(pages)})
	return nil
}

func (s *Server) apiStartScan(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	if err := s.startScan(r, u); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "started"})
	return nil
}

func (s *Server) apiAffiliates(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	rows, err := s.affiliateRows(r, u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"affiliates": orEmpty(rows)})
	return nil
}

func (s *Server) apiAffiliate(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	view, err := s.affiliateView(r, u, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) apiRules(w http.ResponseWriter, r *http.Request, u affwatch.User) error {
	rows, err := s.ruleRows(r, u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": orEmpty(rows)})
	return nil
}

// orEmpty makes a nil list an empty one, so JSON shows [] rather than null.
func orEmpty[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
