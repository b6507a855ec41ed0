package store

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// connectError is a PostgreSQL server that could not be used, as one line that says what
// to do: pgx's own message spans several lines when it tried several addresses.
func connectError(where, host string, port uint16, database, user string, err error) error {
	var (
		pgErr  *pgconn.PgError
		dnsErr *net.DNSError
		hint   string
	)
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "3D000":
		hint = fmt.Sprintf("the server has no database %q: create it (createdb -h %s -p %d %s) or name another in store.dsn", database, host, port, database)
	case errors.As(err, &pgErr) && (pgErr.Code == "28000" || pgErr.Code == "28P01"):
		hint = fmt.Sprintf("the server refused the user %q: check the user in store.dsn, and the password in the variable store.password_env names", user)
	case errors.Is(err, syscall.ECONNREFUSED):
		hint = fmt.Sprintf("nothing listens at %s:%d: start PostgreSQL there, or fix the host and port in store.dsn", host, port)
	case errors.As(err, &dnsErr):
		hint = fmt.Sprintf("the host %q is not known: fix the host in store.dsn", host)
	case errors.Is(err, syscall.ETIMEDOUT) || strings.Contains(err.Error(), "timeout"):
		hint = fmt.Sprintf("%s:%d did not answer: check that the server is up and reachable from here", host, port)
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if hint != "" {
		return fmt.Errorf("open %s: %s (%s)", where, hint, msg)
	}
	return fmt.Errorf("open %s: %s", where, msg)
}
