package pppoe

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// CookieLen is the length of the AC-Cookies a CookieSigner makes: one octet naming the time
// bucket followed by a 16-octet truncated HMAC-SHA256.
const CookieLen = 1 + cookieMACLen

const (
	cookieMACLen  = 16
	cookieKeyLen  = 32
	cookieContext = "probox pppoe AC-Cookie v1"
)

// Errors returned by CookieSigner.Verify.
var (
	ErrCookieMissing = errors.New("pppoe: PADR without AC-Cookie")
	ErrCookieInvalid = errors.New("pppoe: AC-Cookie not made by this AC for this peer")
	ErrCookieExpired = errors.New("pppoe: AC-Cookie expired")
)

// CookieSigner makes and checks stateless AC-Cookies (RFC 2516 Appendix A: the cookie
// protects the AC against denial-of-service attacks). A cookie is a truncated HMAC-SHA256,
// under a key read at construction, over the interface, the VLAN IDs and the MAC address of
// the host, and a time bucket. A PADI therefore costs the AC no state, and a PADR is only
// accepted with a cookie made for the same host on the same line during the current or the
// previous bucket, so a cookie is valid for between one and two periods.
//
// The Service-Name is deliberately not covered: a PADO may offer several services and the
// host picks one in its PADR, which the AC checks against its configuration anyway.
//
// A CookieSigner is immutable after construction and safe for concurrent use.
type CookieSigner struct {
	key    [cookieKeyLen]byte
	period time.Duration
}

// NewCookieSigner reads a 32-byte key from rand (normally crypto/rand.Reader) and returns a
// signer whose buckets last period.
func NewCookieSigner(rand io.Reader, period time.Duration) (*CookieSigner, error) {
	if period <= 0 {
		return nil, fmt.Errorf("pppoe: cookie period %v must be positive", period)
	}
	s := &CookieSigner{period: period}
	if _, err := io.ReadFull(rand, s.key[:]); err != nil {
		return nil, fmt.Errorf("pppoe: reading the AC-Cookie key: %w", err)
	}
	return s, nil
}

// bucket returns the number of the period containing now.
func (s *CookieSigner) bucket(now time.Time) int64 {
	n, p := now.UnixNano(), int64(s.period)
	q := n / p
	if n%p < 0 {
		q-- // floor for times before 1970
	}
	return q
}

func (s *CookieSigner) mac(bucket int64, iface string, vlans VLANs, peer MAC) []byte {
	h := hmac.New(sha256.New, s.key[:])
	var buf [8 + 2 + 2 + 6 + 2]byte
	binary.BigEndian.PutUint64(buf[0:8], uint64(bucket))
	binary.BigEndian.PutUint16(buf[8:10], vlans.Outer)
	binary.BigEndian.PutUint16(buf[10:12], vlans.Inner)
	copy(buf[12:18], peer[:])
	binary.BigEndian.PutUint16(buf[18:20], uint16(len(iface)))
	h.Write([]byte(cookieContext))
	h.Write(buf[:])
	h.Write([]byte(iface))
	return h.Sum(nil)[:cookieMACLen]
}

// Make returns the cookie for a host at time now.
func (s *CookieSigner) Make(now time.Time, iface string, vlans VLANs, peer MAC) []byte {
	b := s.bucket(now)
	out := make([]byte, 0, CookieLen)
	out = append(out, byte(b))
	return append(out, s.mac(b, iface, vlans, peer)...)
}

// Verify checks a cookie returned by a host at time now. It returns nil for a cookie made for
// this host in the current or the previous bucket, ErrCookieExpired for one made for this host
// up to 255 buckets earlier, ErrCookieMissing for a nil cookie and ErrCookieInvalid otherwise.
func (s *CookieSigner) Verify(now time.Time, iface string, vlans VLANs, peer MAC, cookie []byte) error {
	if cookie == nil {
		return ErrCookieMissing
	}
	if len(cookie) != CookieLen {
		return ErrCookieInvalid
	}
	cur := s.bucket(now)
	// The first octet holds the low 8 bits of the bucket; age is how many buckets ago the
	// most recent bucket with those bits was.
	age := int64(byte(cur) - cookie[0])
	if !hmac.Equal(cookie[1:], s.mac(cur-age, iface, vlans, peer)) {
		return ErrCookieInvalid
	}
	if age > 1 {
		return ErrCookieExpired
	}
	return nil
}
