package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/auth"
	"github.com/affwatch/affwatch/internal/store"
	"github.com/affwatch/affwatch/internal/testkit"
	"github.com/affwatch/affwatch/internal/web"
)

// The program of the tests: two managers, alice (a1, a3) and bob (a2).
var affiliates = []affwatch.Affiliate{
	{ID: "a1", Name: "Alpha", Program: "acme", ManagerEmail: "alice@acme.example", Sites: []string{"https://a1.example/"}},
	{ID: "a2", Name: "Beta", Program: "acme", ManagerEmail: "bob@acme.example", Sites: []string{"https://a2.example/"}},
	{ID: "a3", Name: "Gamma", Program: "acme", ManagerEmail: "alice@acme.example", Sites: []string{"https://a3.example/"}},
}

const password = "correct horse battery"

// fixture is a seeded store behind a test server, with a token per user.
type fixture struct {
	st     *store.DB
	srv    *httptest.Server
	tokens map[string]string   // user -> API token
	fps    map[string][]string // affiliate -> fingerprints
	byRule map[string]affwatch.Violation
}

func openSQLite(t *testing.T) *store.DB {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func finding(rule string, sev affwatch.Severity, msg, snippet, key string) affwatch.Finding {
	return affwatch.Finding{RuleID: rule, Title: rule + " title", Severity: sev, Message: msg,
		Evidence: affwatch.Evidence{Snippet: snippet, Key: key}}
}

// seed stores two scans: the first finds violations on every affiliate's page, the
// second resolves one of a1's; a2's second page could not be fetched.
func seed(t *testing.T, st *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{st: st, tokens: map[string]string{}, fps: map[string][]string{}, byRule: map[string]affwatch.Violation{}}
	if err := st.SyncAffiliates(ctx, affiliates); err != nil {
		t.Fatal(err)
	}
	page := func(aff affwatch.Affiliate, path string, status affwatch.FetchStatus, html string) affwatch.Snapshot {
		p := affwatch.Page{URL: aff.Sites[0] + path, FinalURL: aff.Sites[0] + path, Status: 200, FetchStatus: status,
			Affiliate: affwatch.PageAffiliate{ID: aff.ID}, Program: "acme", FetchedAt: time.Now().UTC()}
		snap := affwatch.Snapshot{Page: p, Judged: []string{"DISC-001", "CLAIM-001", "LINK-001"}, PolicyRevision: "rev1"}
		if html != "" {
			snap.HTML = []byte(html)
			snap.Page.ContentSHA256 = auth.Hash(html)
		}
		return snap
	}
	for scan := 1; scan <= 2; scan++ {
		sc, err := st.StartScan(ctx, affwatch.ScanKindCrawl)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range affiliates {
			fs := []affwatch.Finding{
				finding("DISC-001", affwatch.SeverityHigh, "affiliate links and no disclosure on "+a.ID, "Buy it here", "page"),
				finding("LINK-001", affwatch.SeverityLow, "link without rel=sponsored", "Buy it here", "https://shop.example/?aff="+a.ID),
			}
			if scan == 1 || a.ID != "a1" {
				fs = append(fs, finding("CLAIM-001", affwatch.SeverityCritical, "prohibited claim: cures", "this tea cures everything", "cures"))
			}
			var vs []affwatch.Violation
			for _, fd := range fs {
				v := affwatch.NewViolation(fd, affwatch.SourcePolicy, a, a.Sites[0])
				v.PolicyRevision = "rev1"
				vs = append(vs, v)
			}
			html := `<html><head><title>p</title><script>parent.document.title="pwned"</script></head><body><p>this tea cures everything</p></body></html>`
			if _, err := st.SavePage(ctx, sc.ID, page(a, "", affwatch.FetchOK, html), vs); err != nil {
				t.Fatal(err)
			}
			if a.ID == "a2" {
				if _, err := st.SavePage(ctx, sc.ID, page(a, "blocked", affwatch.FetchBotWall, ""), nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := st.FinishScan(ctx, sc.ID, affwatch.ScanPartial, "1 page(s) not verified"); err != nil {
			t.Fatal(err)
		}
	}
	all, err := st.Violations(ctx, affwatch.ViolationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range all {
		f.fps[v.AffiliateID] = append(f.fps[v.AffiliateID], v.Fingerprint)
		f.byRule[v.AffiliateID+"/"+v.RuleID] = v
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []affwatch.User{
		{Name: "root", Role: affwatch.RoleAdmin},
		{Name: "alice", Role: affwatch.RoleManager, ManagerEmail: "alice@acme.example"},
		{Name: "bob", Role: affwatch.RoleManager, ManagerEmail: "bob@acme.example"},
		{Name: "vera", Role: affwatch.RoleViewer},
	} {
		u.PasswordHash = hash
		u, err := st.AddUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		secret, h, _ := auth.NewSecret(auth.TokenPrefix)
		if _, err := st.AddToken(ctx, affwatch.APIToken{UserID: u.ID, Name: "test", Prefix: secret[:10]}, h); err != nil {
			t.Fatal(err)
		}
		f.tokens[u.Name] = secret
	}
	started := 0
	f.srv = httptest.NewServer(&web.Server{Store: st, Affiliates: affiliates, Programs: []affwatch.Program{{ID: "acme"}},
		StartScan: func(ctx context.Context, by string) error {
			started++
			if started > 1 {
				return fmt.Errorf("%w: a scan is running", affwatch.ErrConflict)
			}
			return nil
		}})
	t.Cleanup(f.srv.Close)
	return f
}

// call makes an API request as a user ("" : without credentials) and decodes the answer.
func (f *fixture) call(t *testing.T, user, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil && strings.HasPrefix(path, "/api/") {
		t.Fatalf("%s %s: not JSON (%d): %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func errorOf(body map[string]any) (msg, field string) {
	e, _ := body["error"].(map[string]any)
	msg, _ = e["message"].(string)
	field, _ = e["field"].(string)
	return
}

// apiRoutes are every API route with real values for its parameters.
func (f *fixture) apiRoutes() [][2]string {
	fp := f.byRule["a1/DISC-001"].Fingerprint
	return [][2]string{
		{"GET", "/api/v1/me"}, {"GET", "/api/v1/violations"}, {"GET", "/api/v1/violations/" + fp},
		{"POST", "/api/v1/violations/" + fp + "/changes"}, {"GET", "/api/v1/scans"}, {"POST", "/api/v1/scans"},
		{"GET", "/api/v1/scans/1"}, {"GET", "/api/v1/affiliates"}, {"GET", "/api/v1/affiliates/a1"},
		{"GET", "/api/v1/rules"}, {"GET", "/api/v1/openapi.json"}, {"GET", "/metrics"},
	}
}

func TestEveryAPIRouteNeedsCredentials(t *testing.T) {
	f := seed(t, openSQLite(t))
	for _, r := range f.apiRoutes() {
		code, body := f.call(t, "", r[0], r[1], `{"action":"acknowledge"}`)
		if msg, _ := errorOf(body); code != http.StatusUnauthorized || msg == "" {
			t.Errorf("%s %s without credentials: %d %v", r[0], r[1], code, body)
		}
		f.tokens["mallory"] = auth.TokenPrefix + "not-a-token"
		if code, _ := f.call(t, "mallory", r[0], r[1], `{"action":"acknowledge"}`); code != http.StatusUnauthorized {
			t.Errorf("%s %s with an unknown token: %d", r[0], r[1], code)
		}
	}
	// Pages send people to sign in; the login page, static files and /healthz need nothing.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/", "/violations", "/violations/" + f.fps["a1"][0], "/violations/" + f.fps["a1"][0] + "/snapshot",
		"/affiliates", "/affiliates/a1", "/scans", "/rules", "/playground", "/violations/export?format=csv"} {
		resp, err := client.Get(f.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
			t.Errorf("GET %s without a session: %d %s", p, resp.StatusCode, loc)
		}
	}
	for _, p := range []string{"/login", "/static/style.css", "/static/app.js"} {
		resp, err := client.Get(f.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	// A disabled user's token stops working; a revoked one too.
	u, _ := f.st.UserByName(context.Background(), "vera")
	u.Disabled = true
	if err := f.st.UpdateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if code, _ := f.call(t, "vera", "GET", "/api/v1/me", ""); code != http.StatusUnauthorized {
		t.Errorf("a disabled user's token: %d", code)
	}
	ts, _ := f.st.Tokens(context.Background(), 0)
	for _, tk := range ts {
		if tk.UserName == "bob" {
			f.st.RevokeToken(context.Background(), tk.ID, time.Now())
		}
	}
	if code, _ := f.call(t, "bob", "GET", "/api/v1/me", ""); code != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d", code)
	}
}

func fingerprints(t *testing.T, body map[string]any) []string {
	t.Helper()
	var out []string
	vs, _ := body["violations"].([]any)
	for _, v := range vs {
		out = append(out, v.(map[string]any)["fingerprint"].(string))
	}
	return out
}

func affiliatesOf(body map[string]any) []string {
	var out []string
	vs, _ := body["violations"].([]any)
	for _, v := range vs {
		a := v.(map[string]any)["affiliate_id"].(string)
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

func TestAPIRoleScoping(t *testing.T) {
	f := seed(t, openSQLite(t))
	// A manager sees only their affiliates, in lists, filters and exports.
	for user, want := range map[string][]string{"root": {"a1", "a2", "a3"}, "vera": {"a1", "a2", "a3"}, "alice": {"a1", "a3"}, "bob": {"a2"}} {
		code, body := f.call(t, user, "GET", "/api/v1/violations?limit=500", "")
		if got := affiliatesOf(body); code != 200 || !slices.Equal(got, want) {
			t.Errorf("%s sees violations of %v (%d), want %v", user, got, code, want)
		}
	}
	if _, body := f.call(t, "alice", "GET", "/api/v1/violations?affiliate=a2", ""); len(fingerprints(t, body)) != 0 {
		t.Errorf("alice filtered on bob's affiliate and saw %v", body)
	}
	bobs := f.byRule["a2/DISC-001"].Fingerprint
	for _, r := range [][3]string{
		{"GET", "/api/v1/violations/" + bobs, ""},
		{"POST", "/api/v1/violations/" + bobs + "/changes", `{"action":"suppress","reason":"mine now"}`},
		{"GET", "/api/v1/affiliates/a2", ""},
	} {
		if code, _ := f.call(t, "alice", r[0], r[1], r[2]); code != http.StatusNotFound {
			t.Errorf("alice %s %s: %d, want 404", r[0], r[1], code)
		}
	}
	if _, body := f.call(t, "alice", "GET", "/api/v1/affiliates", ""); len(body["affiliates"].([]any)) != 2 {
		t.Errorf("alice's affiliates: %v", body)
	}
	_, body := f.call(t, "alice", "GET", "/api/v1/scans/1", "")
	for _, p := range body["unverified_pages"].([]any) {
		if p.(map[string]any)["affiliate_id"] != "a1" && p.(map[string]any)["affiliate_id"] != "a3" {
			t.Errorf("alice sees another manager's unverified page: %v", p)
		}
	}
	// A viewer reads and changes nothing; only an admin starts scans; a manager reads no metrics.
	mine := f.byRule["a1/DISC-001"].Fingerprint
	if code, _ := f.call(t, "vera", "POST", "/api/v1/violations/"+mine+"/changes", `{"action":"acknowledge"}`); code != http.StatusForbidden {
		t.Errorf("a viewer changed a violation: %d", code)
	}
	if code, _ := f.call(t, "alice", "POST", "/api/v1/scans", ""); code != http.StatusForbidden {
		t.Errorf("a manager started a scan: %d", code)
	}
	if code, _ := f.call(t, "alice", "GET", "/metrics", ""); code != http.StatusForbidden {
		t.Errorf("a manager read the metrics: %d", code)
	}
	if code, _ := f.call(t, "alice", "POST", "/api/v1/violations/"+mine+"/changes", `{"action":"acknowledge","reason":"on it"}`); code != http.StatusOK {
		t.Errorf("alice acknowledged her own violation: %d", code)
	}
	if code, _ := f.call(t, "root", "POST", "/api/v1/scans", ""); code != http.StatusAccepted {
		t.Errorf("an admin started a scan: %d", code)
	}
	if code, body := f.call(t, "root", "POST", "/api/v1/scans", ""); code != http.StatusConflict {
		t.Errorf("a second scan while one runs: %d %v", code, body)
	}
}

func TestAPIErrors(t *testing.T) {
	f := seed(t, openSQLite(t))
	open := f.byRule["a1/DISC-001"].Fingerprint
	resolved := f.byRule["a1/CLAIM-001"].Fingerprint
	if f.byRule["a1/CLAIM-001"].State != affwatch.StateResolved {
		t.Fatalf("the seed should have resolved a1's CLAIM-001: %+v", f.byRule["a1/CLAIM-001"])
	}
	tomorrow := time.Now().Add(48 * time.Hour).Format("2006-01-02")
	cases := []struct {
		name, method, path, body string
		code                     int
		field                    string
	}{
		{"unknown severity", "GET", "/api/v1/violations?severity=bogus", "", 400, "severity"},
		{"unknown state", "GET", "/api/v1/violations?state=closed", "", 400, "state"},
		{"unknown source", "GET", "/api/v1/violations?source=mail", "", 400, "source"},
		{"unknown sort", "GET", "/api/v1/violations?sort=colour", "", 400, "sort"},
		{"limit out of range", "GET", "/api/v1/violations?limit=0", "", 400, "limit"},
		{"a date that is not", "GET", "/api/v1/violations?since=yesterday", "", 400, "since"},
		{"a cursor not made here", "GET", "/api/v1/violations?cursor=abc", "", 400, "cursor"},
		{"a cursor of another order", "GET", "/api/v1/violations?sort=rule&cursor=" + cursorOf(t, f), "", 400, "cursor"},
		{"a scan id that is not", "GET", "/api/v1/scans/abc", "", 400, "id"},
		{"scans limit", "GET", "/api/v1/scans?limit=-1", "", 400, "limit"},
		{"not JSON", "POST", "/api/v1/violations/" + open + "/changes", `suppress it`, 400, "body"},
		{"unknown field", "POST", "/api/v1/violations/" + open + "/changes", `{"action":"suppress","why":"x"}`, 400, "body"},
		{"wrong type", "POST", "/api/v1/violations/" + open + "/changes", `{"action":"suppress","reason":7}`, 400, "reason"},
		{"unknown action", "POST", "/api/v1/violations/" + open + "/changes", `{"action":"delete"}`, 400, "action"},
		{"no reason", "POST", "/api/v1/violations/" + open + "/changes", `{"action":"suppress"}`, 400, "reason"},
		{"expiry past", "POST", "/api/v1/violations/" + open + "/changes", `{"action":"suppress","reason":"x","until":"2020-01-01"}`, 400, "until"},
		{"expiry not a date", "POST", "/api/v1/violations/" + open + "/changes", `{"action":"suppress","reason":"x","until":"soon"}`, 400, "until"},
		{"unknown fingerprint", "GET", "/api/v1/violations/0123456789abcdef0123456789abcdef", "", 404, ""},
		{"not a fingerprint", "GET", "/api/v1/violations/zzz", "", 404, ""},
		{"change of an unknown fingerprint", "POST", "/api/v1/violations/0123456789abcdef0123456789abcdef/changes", `{"action":"reopen"}`, 404, ""},
		{"unknown scan", "GET", "/api/v1/scans/999", "", 404, ""},
		{"unknown affiliate", "GET", "/api/v1/affiliates/zz", "", 404, ""},
		{"unknown route", "GET", "/api/v1/nothing", "", 404, ""},
		{"reopen an open violation", "POST", "/api/v1/violations/" + open + "/changes", `{"action":"reopen"}`, 409, ""},
		{"suppress a resolved one", "POST", "/api/v1/violations/" + resolved + "/changes", `{"action":"suppress","reason":"x","until":"` + tomorrow + `"}`, 409, ""},
		{"acknowledge a resolved one", "POST", "/api/v1/violations/" + resolved + "/changes", `{"action":"ack"}`, 409, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := f.call(t, "root", c.method, c.path, c.body)
			msg, field := errorOf(body)
			if code != c.code || field != c.field || msg == "" {
				t.Errorf("%s %s: %d %q field %q, want %d field %q", c.method, c.path, code, msg, field, c.code, c.field)
			}
		})
	}
	// A good change moves the state and lands in the history.
	code, body := f.call(t, "root", "POST", "/api/v1/violations/"+open+"/changes", `{"action":"suppress","reason":"agreed with legal","until":"`+tomorrow+`"}`)
	if code != 200 {
		t.Fatalf("suppress: %d %v", code, body)
	}
	v := body["violation"].(map[string]any)
	hist := body["history"].([]any)
	last := hist[len(hist)-1].(map[string]any)
	if v["state"] != "suppressed" || v["suppress_reason"] != "agreed with legal" || last["to"] != "suppressed" || !strings.Contains(last["note"].(string), "root") {
		t.Errorf("after suppressing: %v, history %v", v, last)
	}
}

func cursorOf(t *testing.T, f *fixture) string {
	_, body := f.call(t, "root", "GET", "/api/v1/violations?limit=1", "")
	return body["next_cursor"].(string)
}

// Following the cursor gives every violation once, in the order, for every order and a
// filter.
func TestAPIKeysetPagination(t *testing.T) {
	f := seed(t, openSQLite(t))
	for _, sort := range affwatch.ViolationSorts() {
		for _, filter := range []string{"", "&state=active", "&severity=high,critical", "&q=cures"} {
			_, all := f.call(t, "root", "GET", "/api/v1/violations?limit=500&sort="+sort+filter, "")
			want := fingerprints(t, all)
			var got []string
			cursor := ""
			for range 100 {
				_, page := f.call(t, "root", "GET", "/api/v1/violations?limit=2&sort="+sort+filter+"&cursor="+url.QueryEscape(cursor), "")
				got = append(got, fingerprints(t, page)...)
				if cursor = page["next_cursor"].(string); cursor == "" {
					break
				}
			}
			if !slices.Equal(got, want) || (filter == "" && len(want) != 9) {
				t.Errorf("sort %s%s: pages gave %d %v, one page %d %v", sort, filter, len(got), got, len(want), want)
			}
		}
	}
}

// resolveRef composes a schema document that checks one component of the OpenAPI document.
func schemaFile(t *testing.T, doc map[string]any, schema any) string {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"$schema": "http://json-schema.org/draft-07/schema#", "allOf": []any{schema},
		"components": doc["components"]})
	p := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var pathParam = regexp.MustCompile(`\{[a-z]+\}`)

// Every path the OpenAPI document names exists, and its real responses (the success of
// each operation, and an error) have what the document says they have.
func TestOpenAPIMatchesTheRealResponses(t *testing.T) {
	f := seed(t, openSQLite(t))
	var doc map[string]any
	if err := json.Unmarshal(web.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi %v", doc["openapi"])
	}
	fp := f.byRule["a2/DISC-001"].Fingerprint
	values := map[string]string{"{fp}": fp, "{id}": "1"}
	bodies := map[string]string{"changeViolation": `{"action":"acknowledge","reason":"on it"}`}
	documented := 0
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			op := op.(map[string]any)
			real := pathParam.ReplaceAllStringFunc(path, func(p string) string {
				if strings.HasSuffix(path, "/affiliates/{id}") {
					return "a2"
				}
				return values[p]
			})
			code, body := f.call(t, "root", strings.ToUpper(method), real, bodies[op["operationId"].(string)])
			resp, ok := op["responses"].(map[string]any)[fmt.Sprint(code)].(map[string]any)
			if !ok {
				t.Errorf("%s %s answered %d, which the document does not list", method, path, code)
				continue
			}
			documented++
			schema := resp["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
			raw, _ := json.Marshal(body)
			testkit.MatchSchema(t, schemaFile(t, doc, schema), raw)
		}
	}
	if documented < 11 {
		t.Errorf("only %d operations checked", documented)
	}
	// Errors have the documented shape too.
	errSchema := map[string]any{"$ref": "#/components/schemas/Error"}
	for _, r := range [][2]string{{"", "/api/v1/violations"}, {"root", "/api/v1/violations?limit=x"}, {"root", "/api/v1/violations/" + strings.Repeat("0", 32)}} {
		_, body := f.call(t, r[0], "GET", r[1], "")
		raw, _ := json.Marshal(body)
		testkit.MatchSchema(t, schemaFile(t, doc, errSchema), raw)
	}
	// And every API route the server has is documented.
	for _, r := range f.apiRoutes() {
		found := false
		for path := range doc["paths"].(map[string]any) {
			quoted := regexp.QuoteMeta(pathParam.ReplaceAllString(path, "PARAM"))
			re := regexp.MustCompile("^" + strings.ReplaceAll(quoted, "PARAM", `[^/]+`) + "$")
			if re.MatchString(r[1]) || r[1] == "/metrics" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s %s is not in the OpenAPI document", r[0], r[1])
		}
	}
}

// browser is a client with a cookie jar that does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values, header map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Sign-in: wrong passwords are refused and then rate-limited per account; the session
// cookie is HttpOnly and SameSite=Lax; cross-origin posts are refused; signing out ends
// the session on the server.
func TestSessions(t *testing.T) {
	f := seed(t, openSQLite(t))
	c := browser(t)
	for i := range 5 {
		if resp := postForm(t, c, f.srv.URL+"/login", url.Values{"name": {"alice"}, "password": {"wrong password"}}, nil); resp.StatusCode != 401 {
			t.Fatalf("wrong password %d: %d", i, resp.StatusCode)
		}
	}
	resp := postForm(t, c, f.srv.URL+"/login", url.Values{"name": {"alice"}, "password": {password}}, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the sixth try within the window: %d, want 429 with Retry-After", resp.StatusCode)
	}
	// Another account from the same address is not locked out by alice's failures.
	resp = postForm(t, c, f.srv.URL+"/login", url.Values{"name": {"root"}, "password": {password}, "next": {"/violations?state=new"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/violations?state=new" {
		t.Fatalf("sign in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "affwatch_session" {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure {
		t.Fatalf("session cookie: %+v", cookie)
	}
	// An open redirect after sign-in is not followed.
	if resp := postForm(t, browser(t), f.srv.URL+"/login", url.Values{"name": {"root"}, "password": {password}, "next": {"//evil.example/"}}, nil); resp.Header.Get("Location") != "/" {
		t.Errorf("next=//evil.example/ redirected to %s", resp.Header.Get("Location"))
	}
	get := func(path string) int {
		resp, err := c.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fp := f.byRule["a2/DISC-001"].Fingerprint
	for _, p := range []string{"/", "/violations", "/violations/" + fp, "/affiliates", "/affiliates/a2", "/scans", "/rules", "/playground",
		"/violations/export?format=csv", "/violations/export?format=json&state=active", "/api/v1/me"} {
		if code := get(p); code != 200 {
			t.Errorf("GET %s signed in: %d", p, code)
		}
	}
	// The snapshot is served sandboxed, and only there.
	sr, _ := c.Get(f.srv.URL + "/violations/" + fp + "/snapshot")
	sr.Body.Close()
	if csp := sr.Header.Get("Content-Security-Policy"); sr.StatusCode != 200 || csp != "sandbox; default-src 'none'; img-src data:" {
		t.Errorf("snapshot: %d CSP %q", sr.StatusCode, csp)
	}
	// A form on another site posting with the cookie is refused.
	change := url.Values{"action": {"suppress"}, "reason": {"csrf"}}
	if resp := postForm(t, c, f.srv.URL+"/violations/"+fp+"/change", change, map[string]string{"Sec-Fetch-Site": "cross-site"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d", resp.StatusCode)
	}
	if resp := postForm(t, c, f.srv.URL+"/violations/"+fp+"/change", change, map[string]string{"Origin": "http://evil.example"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin post (Origin): %d", resp.StatusCode)
	}
	if v, _ := f.st.Violation(context.Background(), fp); v.State == affwatch.StateSuppressed {
		t.Fatalf("a cross-origin post changed the violation")
	}
	if resp := postForm(t, c, f.srv.URL+"/violations/"+fp+"/change", change, map[string]string{"Sec-Fetch-Site": "same-origin"}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin post: %d", resp.StatusCode)
	}
	if v, _ := f.st.Violation(context.Background(), fp); v.State != affwatch.StateSuppressed || v.SuppressedBy != "root" {
		t.Errorf("the form did not suppress: %+v", v)
	}
	// Signing out ends the session on the server: the old cookie no longer works.
	if resp := postForm(t, c, f.srv.URL+"/logout", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign out: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/me", nil)
	req.AddCookie(&http.Cookie{Name: "affwatch_session", Value: cookie.Value})
	old, _ := http.DefaultClient.Do(req)
	old.Body.Close()
	if old.StatusCode != http.StatusUnauthorized {
		t.Errorf("the session cookie still works after sign-out: %d", old.StatusCode)
	}
}

// The export holds exactly what the filter selects, every page of it.
func TestExportIsTheFilter(t *testing.T) {
	f := seed(t, openSQLite(t))
	c := browser(t)
	postForm(t, c, f.srv.URL+"/login", url.Values{"name": {"alice"}, "password": {password}}, nil)
	resp, err := c.Get(f.srv.URL + "/violations/export?format=json&severity=critical,high&state=active")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	_, want := f.call(t, "alice", "GET", "/api/v1/violations?limit=500&severity=critical,high&state=active", "")
	if got := fingerprints(t, body); !slices.Equal(got, fingerprints(t, want)) || len(got) != 3 {
		t.Errorf("export %v, list %v", got, fingerprints(t, want))
	}
	resp, _ = c.Get(f.srv.URL + "/violations/export?format=csv&affiliate=a1")
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if lines := strings.Count(string(raw), "\n"); lines != 4 || strings.Contains(string(raw), ",a2,") {
		t.Errorf("CSV of a1 (3 violations and a header):\n%s", raw)
	}
}

// The same API, on PostgreSQL: scoping, a change, a conflict, pagination.
func TestAPIOnPostgres(t *testing.T) {
	st, err := store.OpenPostgres(context.Background(), testkit.Postgres(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := seed(t, st)
	if _, body := f.call(t, "alice", "GET", "/api/v1/violations?limit=500", ""); !slices.Equal(affiliatesOf(body), []string{"a1", "a3"}) {
		t.Errorf("alice on PostgreSQL sees %v", affiliatesOf(body))
	}
	if code, _ := f.call(t, "alice", "GET", "/api/v1/violations/"+f.byRule["a2/DISC-001"].Fingerprint, ""); code != 404 {
		t.Errorf("alice on bob's violation: %d", code)
	}
	fp := f.byRule["a1/DISC-001"].Fingerprint
	if code, body := f.call(t, "alice", "POST", "/api/v1/violations/"+fp+"/changes", `{"action":"suppress","reason":"legal agreed"}`); code != 200 {
		t.Errorf("suppress: %d %v", code, body)
	}
	if code, _ := f.call(t, "alice", "POST", "/api/v1/violations/"+fp+"/changes", `{"action":"ack"}`); code != 409 {
		t.Errorf("acknowledge a suppressed violation: %d", code)
	}
	if code, body := f.call(t, "root", "GET", "/api/v1/violations?severity=bogus", ""); code != 400 {
		t.Errorf("bad severity: %d %v", code, body)
	}
	var got []string
	cursor := ""
	for range 20 {
		_, page := f.call(t, "root", "GET", "/api/v1/violations?limit=4&sort=affiliate&q=CURES&cursor="+url.QueryEscape(cursor), "")
		got = append(got, fingerprints(t, page)...)
		if cursor = page["next_cursor"].(string); cursor == "" {
			break
		}
	}
	if len(got) != 3 { // a1's CLAIM-001 (resolved), a2's and a3's; the search ignores case
		t.Errorf("pages of the search on PostgreSQL: %v", got)
	}
	for _, p := range []string{"/api/v1/affiliates/a1", "/api/v1/rules", "/api/v1/scans/2", "/metrics"} {
		if code, body := f.call(t, "root", "GET", p, ""); code != 200 {
			t.Errorf("GET %s on PostgreSQL: %d %v", p, code, body)
		}
	}
}
