package ppp

import (
	"encoding/binary"
	"math/bits"
)

// MD4 (RFC 1320) exists here only because MS-CHAPv2 (RFC 2759 §8.3 NtPasswordHash, §8.7
// HashNtPasswordHash) is defined over it. MD4 is broken as a general-purpose hash; do not use
// it for anything else.

// MD4Size is the size of an MD4 digest in octets.
const MD4Size = 16

const md4BlockSize = 64

// md4Digest is a streaming MD4 computation (RFC 1320 §3).
type md4Digest struct {
	s    [4]uint32
	buf  [md4BlockSize]byte
	nbuf int
	len  uint64 // message length in octets
}

func newMD4() *md4Digest {
	d := new(md4Digest)
	d.reset()
	return d
}

// reset restores the initial state (RFC 1320 §3.3).
func (d *md4Digest) reset() {
	d.s = [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}
	d.nbuf = 0
	d.len = 0
}

func (d *md4Digest) write(p []byte) {
	d.len += uint64(len(p))
	if d.nbuf > 0 {
		n := copy(d.buf[d.nbuf:], p)
		d.nbuf += n
		p = p[n:]
		if d.nbuf < md4BlockSize {
			return
		}
		md4Block(&d.s, d.buf[:])
		d.nbuf = 0
	}
	for len(p) >= md4BlockSize {
		md4Block(&d.s, p[:md4BlockSize])
		p = p[md4BlockSize:]
	}
	d.nbuf = copy(d.buf[:], p)
}

// sum finishes a copy of the computation so d can keep absorbing data.
func (d *md4Digest) sum() [MD4Size]byte {
	c := *d
	// RFC 1320 §3.1-3.2: append a 1 bit, zeros up to 56 mod 64 octets, then the bit length
	// as a 64-bit little-endian integer.
	bitLen := c.len << 3
	var pad [md4BlockSize + 8]byte
	pad[0] = 0x80
	n := 56 - int(c.len%md4BlockSize)
	if n <= 0 {
		n += md4BlockSize
	}
	binary.LittleEndian.PutUint64(pad[n:], bitLen)
	c.write(pad[:n+8])
	var out [MD4Size]byte
	for i, v := range c.s {
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	return out
}

// MD4Sum returns the MD4 digest of b (RFC 1320).
func MD4Sum(b []byte) [MD4Size]byte {
	d := newMD4()
	d.write(b)
	return d.sum()
}

// md4Block processes one 64-octet block (RFC 1320 §3.4).
func md4Block(s *[4]uint32, p []byte) {
	var x [16]uint32
	for i := range x {
		x[i] = binary.LittleEndian.Uint32(p[4*i:])
	}
	a, b, c, d := s[0], s[1], s[2], s[3]

	// Round 1: F(X,Y,Z) = XY v not(X) Z; [abcd k s] a = (a + F(b,c,d) + X[k]) <<< s.
	for _, k := range [4]int{0, 4, 8, 12} {
		a = bits.RotateLeft32(a+((b&c)|(^b&d))+x[k], 3)
		d = bits.RotateLeft32(d+((a&b)|(^a&c))+x[k+1], 7)
		c = bits.RotateLeft32(c+((d&a)|(^d&b))+x[k+2], 11)
		b = bits.RotateLeft32(b+((c&d)|(^c&a))+x[k+3], 19)
	}

	// Round 2: G(X,Y,Z) = XY v XZ v YZ, plus 0x5A827999.
	const k2 = 0x5a827999
	for _, k := range [4]int{0, 1, 2, 3} {
		a = bits.RotateLeft32(a+((b&c)|(b&d)|(c&d))+x[k]+k2, 3)
		d = bits.RotateLeft32(d+((a&b)|(a&c)|(b&c))+x[k+4]+k2, 5)
		c = bits.RotateLeft32(c+((d&a)|(d&b)|(a&b))+x[k+8]+k2, 9)
		b = bits.RotateLeft32(b+((c&d)|(c&a)|(d&a))+x[k+12]+k2, 13)
	}

	// Round 3: H(X,Y,Z) = X xor Y xor Z, plus 0x6ED9EBA1, words in bit-reversed order.
	const k3 = 0x6ed9eba1
	for _, k := range [4]int{0, 2, 1, 3} {
		a = bits.RotateLeft32(a+(b^c^d)+x[k]+k3, 3)
		d = bits.RotateLeft32(d+(a^b^c)+x[k+8]+k3, 9)
		c = bits.RotateLeft32(c+(d^a^b)+x[k+4]+k3, 11)
		b = bits.RotateLeft32(b+(c^d^a)+x[k+12]+k3, 15)
	}

	s[0] += a
	s[1] += b
	s[2] += c
	s[3] += d
}
