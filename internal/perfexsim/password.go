package perfexsim

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// DefaultPasswordCost is the bcrypt cost Perfex installations are seen to
// use, and the one Options.PasswordCost defaults to.
const DefaultPasswordCost = 8

// bcryptMaxBytes is how much of a password bcrypt reads. PHP cuts longer
// passwords silently; Go's bcrypt refuses them, so they are cut here too.
const bcryptMaxBytes = 72

// passwords hashes portal passwords and checks them. bcrypt is slow on
// purpose, and far slower under the race detector, so every hash made from
// a known password is remembered with a digest of that password: checking
// it again costs no bcrypt round.
type passwords struct {
	cost int

	mu    sync.Mutex
	known map[string][sha256.Size]byte // hash -> digest of its password
}

func newPasswords(cost int) *passwords {
	switch {
	case cost <= 0:
		cost = DefaultPasswordCost
	case cost < bcrypt.MinCost:
		cost = bcrypt.MinCost
	case cost > bcrypt.MaxCost:
		cost = bcrypt.MaxCost
	}
	return &passwords{cost: cost, known: make(map[string][sha256.Size]byte)}
}

// hash hashes plain the way PHP's password_hash does, with the "$2y$"
// prefix PHP writes.
func (p *passwords) hash(plain string) (string, error) {
	b := truncatePassword(plain)
	h, err := bcrypt.GenerateFromPassword(b, p.cost)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}

	hash := strings.Replace(string(h), "$2a$", "$2y$", 1)
	p.remember(hash, b)
	return hash, nil
}

// matches reports whether plain is the password hash was made from. Go's
// bcrypt reads the "$2y$" prefix PHP writes as it is.
func (p *passwords) matches(hash, plain string) bool {
	if hash == "" {
		return false
	}

	b := truncatePassword(plain)
	digest := sha256.Sum256(b)
	p.mu.Lock()
	known, ok := p.known[hash]
	p.mu.Unlock()
	if ok {
		return subtle.ConstantTimeCompare(known[:], digest[:]) == 1
	}

	if bcrypt.CompareHashAndPassword([]byte(hash), b) != nil {
		return false
	}
	p.remember(hash, b)
	return true
}

// remember records that hash was made from plain.
func (p *passwords) remember(hash string, plain []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()

	p.known[hash] = sha256.Sum256(plain)
}

func truncatePassword(plain string) []byte {
	b := []byte(plain)
	if len(b) > bcryptMaxBytes {
		b = b[:bcryptMaxBytes]
	}
	return b
}
