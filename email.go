package affwatch

import (
	"context"
	"time"
)

// Email is one message to a manager: the report as HTML with its plain-text alternative,
// and attachments (the CSV of every violation, inline chart images).
type Email struct {
	To          []string     `json:"to"`
	Subject     string       `json:"subject"`
	Text        string       `json:"text"`
	HTML        string       `json:"html"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment is a file sent with an email; with a ContentID it is an inline image the
// HTML refers to as cid:ContentID.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
	ContentID   string `json:"content_id,omitempty"`
}

// Notifier delivers email.
type Notifier interface {
	Send(ctx context.Context, e Email) error
}

// OutboxItem is an email waiting in the store until it is delivered.
type OutboxItem struct {
	ID int64 `json:"id"`
	// Key says what the email is for (one report, one manager, one scan): an email with a
	// key already in the outbox is never queued, so never sent, twice.
	Key         string    `json:"key"`
	Email       Email     `json:"email"`
	CreatedAt   time.Time `json:"created_at"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	SentAt      time.Time `json:"sent_at,omitzero"`
}

// Outbox keeps emails until they are delivered: a report that cannot be sent now is
// retried later, never lost.
type Outbox interface {
	// Enqueue stores the email under key; false means the key was already queued.
	Enqueue(ctx context.Context, key string, e Email) (bool, error)
	// DueMail returns undelivered emails whose next attempt is at or before now.
	DueMail(ctx context.Context, now time.Time, limit int) ([]OutboxItem, error)
	MarkSent(ctx context.Context, id int64, at time.Time) error
	MarkFailed(ctx context.Context, id int64, reason string, next time.Time) error
	// Mail lists the outbox, newest first (pending only when pending is true).
	Mail(ctx context.Context, pending bool, limit int) ([]OutboxItem, error)
	// MakeDue brings every undelivered email's next attempt forward to now (an operator
	// asked for a retry) and returns how many there are.
	MakeDue(ctx context.Context) (int, error)
}
