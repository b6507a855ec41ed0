package notify_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/affwatch/affwatch"
	"github.com/affwatch/affwatch/internal/mailpittest"
	"github.com/affwatch/affwatch/internal/notify"
	"github.com/affwatch/affwatch/internal/store"
)

func smtpFor(mp *mailpittest.Server) *notify.SMTP {
	return &notify.SMTP{Host: "127.0.0.1", Port: mp.SMTPPort, Username: "affwatch", Password: "secret",
		From: "affwatch <affwatch@acme.example>", TLS: "starttls", TLSConfig: mp.TLSConfig, Timeout: 5 * time.Second}
}

func TestSendThroughRealSMTP(t *testing.T) {
	mp := mailpittest.Start(t)
	s := smtpFor(mp)
	e := affwatch.Email{
		To:      []string{"alice@acme.example"},
		Subject: "Report\r\nBcc: victim@evil.example",
		Text:    "plain part", HTML: "<p>html part</p><img src=\"cid:chart-1@affwatch\">",
		Attachments: []affwatch.Attachment{
			{Name: "violations.csv", ContentType: "text/csv", Data: []byte("state,rule\nnew,DISC-001\n")},
			{Name: "chart.png", ContentType: "image/png", Data: []byte("\x89PNG fake"), ContentID: "chart-1@affwatch"},
		},
	}
	if err := s.Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	msgs := mp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages arrived, want 1", len(msgs))
	}
	m := mp.Message(msgs[0].ID)
	if len(m.To) != 1 || m.To[0].Address != "alice@acme.example" {
		t.Errorf("recipients %+v", m.To)
	}
	if !strings.HasPrefix(m.Subject, "Report") || !strings.Contains(m.Subject, "Bcc") {
		t.Errorf("subject %q", m.Subject)
	}
	src := string(mp.Source(msgs[0].ID))
	if strings.Contains(src, "\nBcc:") {
		t.Errorf("a line break in the subject added a header:\n%s", src)
	}
	if strings.TrimSpace(m.Text) != "plain part" || !strings.Contains(m.HTML, "html part") {
		t.Errorf("parts: text %q html %q", m.Text, m.HTML)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].FileName != "violations.csv" {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	if got := string(mp.PartData(m.ID, m.Attachments[0].PartID)); got != "state,rule\nnew,DISC-001\n" {
		t.Errorf("attachment content %q", got)
	}
	if len(m.Inline) != 1 || m.Inline[0].ContentID != "chart-1@affwatch" {
		t.Errorf("inline image %+v", m.Inline)
	}
}

func TestSendFailsClearlyWithoutTLS(t *testing.T) {
	mp := mailpittest.Start(t)
	s := smtpFor(mp)
	s.TLSConfig = nil // the server's certificate is not trusted
	err := s.Send(context.Background(), affwatch.Email{To: []string{"a@acme.example"}, Subject: "x", Text: "x"})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:") {
		t.Fatalf("error %v, want one naming the server", err)
	}
}

// An outbox email survives the SMTP server going away: the failed attempt is recorded
// with its next try, nothing is lost, and once the server is back the email is delivered
// exactly once.
func TestOutboxDeliversOnceTheServerReturns(t *testing.T) {
	mp := mailpittest.Start(t)
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st.Now = clock
	s := smtpFor(mp)

	for _, m := range []string{"alice@acme.example", "bob@acme.example"} {
		ok, err := st.Enqueue(ctx, "report/scan-1/"+m, affwatch.Email{To: []string{m}, Subject: "report for " + m, Text: "t"})
		if err != nil || !ok {
			t.Fatalf("enqueue: %v %v", ok, err)
		}
	}
	if ok, _ := st.Enqueue(ctx, "report/scan-1/alice@acme.example", affwatch.Email{To: []string{"alice@acme.example"}}); ok {
		t.Fatal("the same report for the same scan was queued twice")
	}
	res, err := notify.Deliver(ctx, st, s, clock, nil)
	if err != nil || res.Sent != 2 || len(mp.Messages()) != 2 {
		t.Fatalf("first round: %+v %v, %d arrived", res, err, len(mp.Messages()))
	}

	// The server goes down in the middle of the night's run.
	mp.Stop()
	if ok, err := st.Enqueue(ctx, "report/scan-2/alice@acme.example", affwatch.Email{To: []string{"alice@acme.example"}, Subject: "second", Text: "t"}); err != nil || !ok {
		t.Fatal(err)
	}
	res, err = notify.Deliver(ctx, st, s, clock, nil)
	if err != nil || res.Sent != 0 || res.Failed != 1 || !strings.Contains(res.Errors[0].Error(), "report/scan-2/alice@acme.example") {
		t.Fatalf("with the server down: %+v %v", res, err)
	}
	pending, _ := st.Mail(ctx, true, 10)
	if len(pending) != 1 || pending[0].Attempts != 1 || !pending[0].NextAttempt.Equal(now.Add(time.Minute)) || pending[0].LastError == "" {
		t.Fatalf("the failed email is not kept with its next attempt: %+v", pending)
	}
	// Not due yet: nothing is tried.
	if res, _ := notify.Deliver(ctx, st, s, clock, nil); res.Sent+res.Failed != 0 {
		t.Fatalf("retried before its time: %+v", res)
	}

	mp.Restart()
	now = now.Add(2 * time.Minute)
	res, err = notify.Deliver(ctx, st, s, clock, nil)
	if err != nil || res.Sent != 1 {
		t.Fatalf("after the server returned: %+v %v", res, err)
	}
	if res, _ := notify.Deliver(ctx, st, s, clock, nil); res.Sent != 0 {
		t.Fatalf("delivered twice: %+v", res)
	}
	subjects := map[string]int{}
	for _, m := range mp.Messages() {
		subjects[m.Subject]++
	}
	if subjects["second"] != 1 || subjects["report for alice@acme.example"] != 1 || len(subjects) != 3 {
		t.Fatalf("arrived: %v", subjects)
	}
}

func TestBackoffDoublesAndCaps(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 4: 8 * time.Minute, 20: 6 * time.Hour} {
		if got := notify.Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", n, got, want)
		}
	}
}
