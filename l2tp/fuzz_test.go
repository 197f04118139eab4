package l2tp

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var fuzzSecret = []byte("secret")

func addControlSeeds(f *testing.F, body bool) {
	var all []goldenCase
	all = append(all, goldenV2...)
	all = append(all, goldenV3...)
	all = append(all, goldenCase{hex: hiddenSCCRQ})
	for _, tc := range all {
		b := unhex(f, tc.hex)
		if body {
			b = b[ControlHeaderLen:]
		}
		f.Add(b)
	}
	for _, b := range readBadCorpus(f) {
		if body && len(b) > ControlHeaderLen {
			b = b[ControlHeaderLen:]
		}
		f.Add(b)
	}
}

// FuzzParseMessage checks that Parse never panics and that whatever it accepts marshals and
// parses back to the same message.
func FuzzParseMessage(f *testing.F) {
	addControlSeeds(f, false)
	f.Fuzz(func(t *testing.T, b []byte) {
		popts := &ParseOptions{Secret: fuzzSecret}
		m1, err := Parse(b, popts)
		if err != nil {
			return
		}
		_ = m1.Validate()
		out, err := m1.Marshal(&MarshalOptions{Secret: fuzzSecret, Rand: &countingReader{}})
		if errors.Is(err, ErrMessageTooLong) {
			return // a Random Vector was added to a message already near 64 KiB
		}
		if err != nil {
			t.Fatalf("Marshal of a parsed message: %v\n%+v", err, m1)
		}
		m2, err := Parse(out, popts)
		if err != nil {
			t.Fatalf("Parse of a marshalled message: %v\n%x", err, out)
		}
		if diff := cmp.Diff(m1, m2, cmpMsg); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

// FuzzAVPDecoder checks that the decoder and every typed getter survive any input, and that
// the AVPs it returns encode and decode back to themselves.
func FuzzAVPDecoder(f *testing.F) {
	addControlSeeds(f, true)
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewAVPDecoder(b)
		d.Key = fuzzSecret
		var avps []AVP
		for d.Next() {
			a := d.AVP()
			exerciseGetters(a)
			avps = append(avps, a)
		}
		if d.Err() != nil {
			return
		}
		e := NewAVPEncoder(nil)
		e.Key = fuzzSecret
		for _, a := range avps {
			e.AVP(a)
		}
		out, err := e.Bytes()
		if err != nil {
			t.Fatalf("encoding decoded AVPs: %v", err)
		}
		d2 := NewAVPDecoder(out)
		d2.Key = fuzzSecret
		var again []AVP
		for d2.Next() {
			again = append(again, d2.AVP())
		}
		if err := d2.Err(); err != nil {
			t.Fatalf("decoding encoded AVPs: %v", err)
		}
		if diff := cmp.Diff(avps, again, cmpMsg); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

func exerciseGetters(a AVP) {
	_, _ = a.Uint16()
	_, _ = a.Uint32()
	_, _ = a.Uint64()
	_ = a.Empty()
	_ = a.Text()
	_ = a.String()
	_, _ = a.MessageType()
	_, _, _ = a.ProtocolVersion()
	_, _ = a.ChallengeResponse()
	_, _ = a.ProxyAuthenID()
	_, _ = a.Cookie()
	_, _ = a.PseudowireCapabilities()
	_, _, _, _ = a.ExtendedVendor()
	_, _ = a.ResultCode()
	_, _ = a.Q931Cause()
	_, _ = a.PPPDisconnectCause()
	_, _ = a.CallErrors()
	_, _ = a.ACCM()
	_, _, _ = a.MessageDigest()
}

// FuzzV2DataHeader round-trips L2TPv2 data headers.
func FuzzV2DataHeader(f *testing.F) {
	for _, tc := range v2DataGolden {
		f.Add(unhex(f, tc.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h1, p1, err := ParseV2Data(b)
		if err != nil {
			return
		}
		out, err := h1.Append(nil, len(p1))
		if err != nil {
			t.Fatalf("Append of a parsed header: %v", err)
		}
		h2, p2, err := ParseV2Data(append(out, p1...))
		if err != nil {
			t.Fatalf("parse of an appended header: %v", err)
		}
		if diff := cmp.Diff(h1, h2); diff != "" {
			t.Fatalf("header round trip (-first +second):\n%s", diff)
		}
		if diff := cmp.Diff(p1, p2, cmpMsg); diff != "" {
			t.Fatalf("payload round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzV3DataHeader round-trips L2TPv3 data headers. mode picks the session parameters:
// bits 0-1 the cookie length (0, 4, 8, or the invalid 6), bit 2 the sublayer, bit 3 IP
// rather than UDP encapsulation.
func FuzzV3DataHeader(f *testing.F) {
	for _, tc := range v3DataGolden {
		mode := map[int]uint8{0: 0, 4: 1, 8: 2}[tc.cookieLen]
		if tc.sublayer {
			mode |= 4
		}
		if tc.ip {
			mode |= 8
		}
		f.Add(unhex(f, tc.hex), mode)
	}
	f.Fuzz(func(t *testing.T, b []byte, mode uint8) {
		cookieLen := []int{0, 4, 8, 6}[mode&3]
		sublayer, ip := mode&4 != 0, mode&8 != 0
		parse, appendHdr := ParseV3DataUDP, (*V3DataHeader).AppendUDP
		if ip {
			parse, appendHdr = ParseV3DataIP, (*V3DataHeader).AppendIP
		}
		h1, p1, err := parse(b, cookieLen, sublayer)
		if err != nil {
			return
		}
		out, err := appendHdr(&h1, nil)
		if err != nil {
			t.Fatalf("append of a parsed header: %v", err)
		}
		h2, p2, err := parse(append(out, p1...), cookieLen, sublayer)
		if err != nil {
			t.Fatalf("parse of an appended header: %v", err)
		}
		if diff := cmp.Diff(h1, h2); diff != "" {
			t.Fatalf("header round trip (-first +second):\n%s", diff)
		}
		if diff := cmp.Diff(p1, p2, cmpMsg); diff != "" {
			t.Fatalf("payload round trip (-first +second):\n%s", diff)
		}
	})
}
