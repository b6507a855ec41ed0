package affwatch

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Role is what a dashboard user may do. An admin sees and changes everything and starts
// scans; a manager sees and changes only the violations of their own affiliates (those
// whose manager is the user's manager email, as in the email report); a viewer sees
// everything and changes nothing.
type Role string

// The roles of dashboard users.
const (
	RoleAdmin   Role = "admin"
	RoleManager Role = "manager"
	RoleViewer  Role = "viewer"
)

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleAdmin, RoleManager, RoleViewer:
		return r, nil
	}
	return "", fmt.Errorf("%w: unknown role %q (want admin, manager or viewer)", ErrInvalid, s)
}

// User is a person who signs in to the dashboard or calls the API with a token.
type User struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// ManagerEmail ties a manager to their affiliates: affiliates[].manager in the config.
	ManagerEmail string    `json:"manager_email,omitempty"`
	Disabled     bool      `json:"disabled"`
	CreatedAt    time.Time `json:"created_at"`
	// PasswordHash is the argon2id hash of the password (never shown).
	PasswordHash string `json:"-"`
}

var userName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._@+-]{0,63}$`)

// Validate says what is wrong with a new user: a name that is not a login name, an unknown
// role, a manager without a manager email (or another role with one).
func (u User) Validate() error {
	if !userName.MatchString(u.Name) {
		return fmt.Errorf("%w: user name %q: use 1-64 letters, digits and . _ @ + -", ErrInvalid, u.Name)
	}
	if _, err := ParseRole(string(u.Role)); err != nil {
		return err
	}
	switch {
	case u.Role == RoleManager && !strings.Contains(u.ManagerEmail, "@"):
		return fmt.Errorf("%w: a manager needs their manager email (affiliates[].manager in the config)", ErrInvalid)
	case u.Role != RoleManager && u.ManagerEmail != "":
		return fmt.Errorf("%w: only a manager has a manager email", ErrInvalid)
	}
	return nil
}

// Sees reports whether the user may see an affiliate's pages, violations and numbers:
// everyone but a manager sees every affiliate; a manager sees the affiliates they manage.
func (u User) Sees(a Affiliate) bool {
	if u.Role != RoleManager {
		return true
	}
	return a.ManagerEmail != "" && strings.EqualFold(a.ManagerEmail, u.ManagerEmail)
}

// Scope is the affiliates of affs the user may see, and whether the user is limited to
// them at all (false: every affiliate, also ones no longer configured).
func (u User) Scope(affs []Affiliate) (ids []string, limited bool) {
	if u.Role != RoleManager {
		return nil, false
	}
	for _, a := range affs {
		if u.Sees(a) {
			ids = append(ids, a.ID)
		}
	}
	return ids, true
}

// CanChange reports whether the user may suppress, acknowledge or reopen violations of
// an affiliate they see.
func (u User) CanChange() bool { return u.Role == RoleAdmin || u.Role == RoleManager }

// CanScan reports whether the user may start a scan.
func (u User) CanScan() bool { return u.Role == RoleAdmin }

// APIToken is a personal API token: it acts as its user, with the user's role. Only its
// hash is stored; Prefix (the first characters) tells tokens apart in lists.
type APIToken struct {
	ID        int64     `json:"id"`
	UserID    int64     `json:"user_id"`
	UserName  string    `json:"user"`
	Name      string    `json:"name"`
	Prefix    string    `json:"prefix"`
	CreatedAt time.Time `json:"created_at"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Users is the store role that keeps dashboard accounts, their sessions and API tokens.
// Sessions and tokens are looked up by the SHA-256 of their secret: the secrets
// themselves are never stored.
type Users interface {
	AddUser(ctx context.Context, u User) (User, error)
	UserByName(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser writes a user's role, manager email, password hash and disabled flag;
	// disabling a user or changing their password ends their sessions.
	UpdateUser(ctx context.Context, u User) error
	CountUsers(ctx context.Context) (int, error)

	CreateSession(ctx context.Context, hash string, userID int64, expires time.Time) error
	// SessionUser is the enabled user of an unexpired session; ErrNotFound otherwise.
	SessionUser(ctx context.Context, hash string, now time.Time) (User, error)
	DeleteSession(ctx context.Context, hash string) error

	AddToken(ctx context.Context, t APIToken, hash string) (APIToken, error)
	Tokens(ctx context.Context, userID int64) ([]APIToken, error)
	RevokeToken(ctx context.Context, id int64, at time.Time) error
	// TokenUser is the enabled user of a token that is not revoked; ErrNotFound otherwise.
	TokenUser(ctx context.Context, hash string, now time.Time) (User, error)
}

// ValidStates are the states a violation can be in, for filters.
func ValidStates() []State {
	return []State{StateNew, StateOpen, StateReopened, StateAcknowledged, StateSuppressed, StateResolved}
}

// ParseState reads a state name.
func ParseState(s string) (State, error) {
	st := State(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(ValidStates(), st) {
		return st, nil
	}
	return "", fmt.Errorf("%w: unknown state %q (want new, open, reopened, acknowledged, suppressed or resolved)", ErrInvalid, s)
}
