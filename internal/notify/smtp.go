// Package notify delivers the managers' reports by email, through an outbox in the store so
// that a report that cannot be sent now is retried, never lost and never sent twice.
package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/affwatch/affwatch"
)

// SMTP sends email through one SMTP server.
type SMTP struct {
	Host string
	Port int
	// Username and Password authenticate (PLAIN, over TLS); no username, no auth.
	Username, Password string
	// From is the sender, "Name <address>" or an address.
	From string
	// TLS is "starttls" (default; the server must offer it), "tls" (implicit TLS, port 465)
	// or "none" (loopback test servers only).
	TLS string
	// TLSConfig, when set, replaces the default TLS settings (a private CA, say).
	TLSConfig *tls.Config
	Timeout   time.Duration
}

var _ affwatch.Notifier = (*SMTP)(nil)

// Addr is host:port, for messages.
func (s *SMTP) Addr() string { return fmt.Sprintf("%s:%d", s.Host, s.Port) }

// Send delivers one email.
func (s *SMTP) Send(ctx context.Context, e affwatch.Email) error {
	msg, err := s.message(e)
	if err != nil {
		return err
	}
	opts := []mail.Option{mail.WithPort(s.Port), mail.WithTimeout(s.timeout())}
	switch s.TLS {
	case "", "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		return fmt.Errorf("smtp: tls must be starttls, tls or none, not %q", s.TLS)
	}
	if s.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(s.TLSConfig))
	}
	if s.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(s.Username), mail.WithPassword(s.Password))
	}
	c, err := mail.NewClient(s.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.Addr(), err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp %s: %w", s.Addr(), err)
	}
	return nil
}

func (s *SMTP) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 30 * time.Second
}

// message builds the MIME message: text and HTML alternatives, inline images and
// attachments. Header values go through go-mail's encoders; line breaks are removed from
// the subject first, so partner text cannot add a header.
func (s *SMTP) message(e affwatch.Email) (*mail.Msg, error) {
	m := mail.NewMsg()
	if err := m.From(s.From); err != nil {
		return nil, fmt.Errorf("smtp from %q: %w", s.From, err)
	}
	if err := m.To(e.To...); err != nil {
		return nil, fmt.Errorf("smtp to %v: %w", e.To, err)
	}
	m.Subject(oneLine(e.Subject))
	m.SetDate()
	m.SetMessageID()
	m.SetBodyString(mail.TypeTextPlain, e.Text)
	if e.HTML != "" {
		m.AddAlternativeString(mail.TypeTextHTML, e.HTML)
	}
	for _, a := range e.Attachments {
		opts := []mail.FileOption{mail.WithFileContentType(mail.ContentType(a.ContentType))}
		if a.ContentID != "" {
			m.EmbedReadSeeker(a.Name, bytes.NewReader(a.Data), append(opts, mail.WithFileContentID(a.ContentID))...)
			continue
		}
		m.AttachReadSeeker(a.Name, bytes.NewReader(a.Data), opts...)
	}
	return m, nil
}

// oneLine removes line breaks (and other control characters) from a header value.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Backoff is the wait before the next attempt after n failed ones: one minute, doubling,
// at most six hours. An email is never dropped; it waits for the server to come back.
func Backoff(n int) time.Duration {
	d := time.Minute
	for i := 1; i < n && d < 6*time.Hour; i++ {
		d *= 2
	}
	return min(d, 6*time.Hour)
}

// Result counts what one delivery round did.
type Result struct {
	Sent, Failed int
	// Errors name each failed email and why.
	Errors []error
}

// Deliver sends every email in the outbox that is due, marking each sent or failed (with
// its next attempt). A failure does not stop the others; each is returned in the result's
// Errors (not logged here: the caller reports them once).
func Deliver(ctx context.Context, ob affwatch.Outbox, n affwatch.Notifier, now func() time.Time, log *slog.Logger) (Result, error) {
	if log == nil {
		log = slog.Default().With("component", "notify")
	}
	var res Result
	items, err := ob.DueMail(ctx, now(), 1000)
	if err != nil {
		return res, fmt.Errorf("read outbox: %w", err)
	}
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := n.Send(ctx, it.Email); err != nil {
			next := now().Add(Backoff(it.Attempts + 1))
			res.Failed++
			res.Errors = append(res.Errors, fmt.Errorf("%s to %s: %w (attempt %d; next at %s)", it.Key, strings.Join(it.Email.To, ", "),
				err, it.Attempts+1, next.UTC().Format(time.RFC3339)))
			if merr := ob.MarkFailed(ctx, it.ID, err.Error(), next); merr != nil {
				return res, fmt.Errorf("record failed delivery: %w", merr)
			}
			continue
		}
		res.Sent++
		log.Info("email delivered", "key", it.Key, "to", it.Email.To)
		if err := ob.MarkSent(ctx, it.ID, now()); err != nil {
			return res, fmt.Errorf("record delivery of %s: %w", it.Key, err)
		}
	}
	return res, nil
}
