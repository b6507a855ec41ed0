// Package auth hashes dashboard passwords (argon2id) and makes the secrets of sessions
// and API tokens, which the store keeps only as their SHA-256.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/affwatch/affwatch"
)

// The argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// MinPassword and MaxPassword bound a password's length in characters.
const (
	MinPassword = 10
	MaxPassword = 256
)

// CheckPasswordRules says what is wrong with a new password.
func CheckPasswordRules(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPassword:
		return fmt.Errorf("%w: a password needs at least %d characters", affwatch.ErrInvalid, MinPassword)
	case n > MaxPassword:
		return fmt.Errorf("%w: a password has at most %d characters", affwatch.ErrInvalid, MaxPassword)
	}
	return nil
}

// HashPassword hashes a password with argon2id and a random salt, as a PHC string.
func HashPassword(pw string) (string, error) {
	if err := CheckPasswordRules(pw); err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMismatch is a password that does not match its hash.
var ErrMismatch = errors.New("the password does not match")

// CheckPassword compares a password with a hash HashPassword made, in constant time.
func CheckPassword(hash, pw string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("not an argon2id hash")
	}
	var (
		version, mem, iters int
		threads             uint8
	)
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("unknown argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil {
		return fmt.Errorf("argon2 parameters: %w", err)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return err
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return err
	}
	got := argon2.IDKey([]byte(pw), salt, uint32(iters), uint32(mem), threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// DummyCheck spends the time of a password check, so that an unknown user name takes as
// long to refuse as a wrong password.
func DummyCheck(pw string) {
	argon2.IDKey([]byte(pw), []byte("affwatch-dummy-salt"), argonTime, argonMemory, argonThreads, argonKeyLen)
}

// NewSecret is a random secret with a prefix that says what it is ("afs_" for a session,
// "afw_" for an API token), and the SHA-256 the store keeps of it.
func NewSecret(prefix string) (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, Hash(secret), nil
}

// Hash is the SHA-256 of a secret, as the store keeps it.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// TokenPrefix is the API token prefix.
const TokenPrefix = "afw_"
