package web

import (
	"crypto/rand"
	"crypto/sha256"
	"net"
	"sync"
	"time"
)

// Status page sessions. A session is a random id the browser holds in a
// cookie and the server keeps, hashed, with an expiry. It is not the API
// token, and not an HMAC of anything: a server-side id can be revoked
// (logout really ends it, and a restart ends them all) and needs no key of
// its own, while a signed cookie would stay valid until it expired or the
// key changed, and deriving that key from the API token would make the
// cookie a token-derived credential.
const (
	sessionCookie = "strata_session"
	// sessionTTL is how long a login lasts: a working day at the rack.
	sessionTTL = 12 * time.Hour
	// maxSessions bounds memory: a client logging in in a loop can only
	// push out the oldest sessions, not grow the map.
	maxSessions = 1024

	// A client (by IP) that fails maxLoginFailures logins within
	// loginWindow is refused for the rest of that window, and every failed
	// login is answered after loginFailDelay, so guessing the token over
	// HTTP is slow even before the limit.
	maxLoginFailures = 5
	loginWindow      = time.Minute
	loginFailDelay   = time.Second
	// maxFailingClients bounds the failure table the same way.
	maxFailingClients = 4096
)

type sessions struct {
	mu       sync.Mutex
	byID     map[[sha256.Size]byte]time.Time // hash of the id -> expiry
	failures map[string]failures             // client IP -> recent failures
}

type failures struct {
	n     int
	since time.Time
}

func newSessions() *sessions {
	return &sessions{byID: map[[sha256.Size]byte]time.Time{}, failures: map[string]failures{}}
}

// create starts a session and returns its id and expiry. Only the id's
// hash is kept, so a memory dump of the server yields no usable cookie.
func (s *sessions) create(now time.Time) (string, time.Time) {
	id := rand.Text() + rand.Text() // 2 × 128 bits from crypto/rand
	exp := now.Add(sessionTTL)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if len(s.byID) >= maxSessions {
		var oldest [sha256.Size]byte
		first := true
		for k, e := range s.byID {
			if first || e.Before(s.byID[oldest]) {
				oldest, first = k, false
			}
		}
		delete(s.byID, oldest)
	}
	s.byID[sha256.Sum256([]byte(id))] = exp
	return id, exp
}

// valid reports whether id is a live session.
func (s *sessions) valid(id string, now time.Time) bool {
	if id == "" {
		return false
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.byID[k]
	if ok && !now.Before(exp) {
		delete(s.byID, k)
		return false
	}
	return ok
}

// end forgets the session id, if it is one.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, sha256.Sum256([]byte(id)))
}

func (s *sessions) expire(now time.Time) {
	for k, e := range s.byID {
		if !now.Before(e) {
			delete(s.byID, k)
		}
	}
}

// limited reports whether the client at remote (host:port) has failed too
// often to be let in now.
func (s *sessions) limited(remote string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.failures[clientIP(remote)]
	return ok && now.Sub(f.since) < loginWindow && f.n >= maxLoginFailures
}

// failed counts a failed login of the client at remote.
func (s *sessions) failed(remote string, now time.Time) {
	ip := clientIP(remote)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failures[ip]
	if now.Sub(f.since) >= loginWindow {
		f = failures{since: now}
	}
	f.n++
	if _, known := s.failures[ip]; !known && len(s.failures) >= maxFailingClients {
		for k, old := range s.failures {
			if now.Sub(old.since) >= loginWindow {
				delete(s.failures, k)
			}
		}
		if len(s.failures) >= maxFailingClients {
			return // that many clients failing at once: the delay still slows each
		}
	}
	s.failures[ip] = f
}

// clientIP is the host part of a remote address, the unit failures are
// counted by; the port changes with every connection.
func clientIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
