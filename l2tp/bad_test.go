package l2tp

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// badCase says how one file of testdata/bad must be rejected: by Parse, or by Validate when
// the message parses.
type badCase struct {
	parseErr    error // sentinel Parse must return (errors.Is)
	parseAs     any   // pointer to an error type Parse must return (errors.As)
	validateErr any   // pointer to an error type Validate must return (errors.As)
	opts        *ParseOptions
}

var secretOpts = &ParseOptions{Secret: []byte("secret")}

// badCorpus lists every file under testdata/bad, each with the RFC clause it breaks.
var badCorpus = map[string]badCase{
	// RFC 2661 §3.1: the control header is 12 octets (with L and S set).
	"truncated-header.hex": {parseErr: io.ErrUnexpectedEOF},
	// RFC 2661 §3.1, RFC 3931 §3.2.1: Length is the total length of the message.
	"length-exceeds-packet.hex": {parseErr: ErrBadLength},
	"length-below-header.hex":   {parseErr: ErrBadLength},
	// RFC 2661 §3.1: an Offset field would run past Length.
	"offset-beyond-length.hex": {parseErr: ErrBadLength},
	// RFC 2661 §4.1, RFC 3931 §5.1: the minimum Length of an AVP is 6.
	"avp-length-below-6.hex": {parseErr: ErrAVPLength},
	// RFC 2661 §4.1: an AVP runs "until Length is reached", inside the message.
	"avp-overruns-message.hex": {parseErr: io.ErrUnexpectedEOF},
	// RFC 2661 §4.3, RFC 3931 §5.3: a Random Vector AVP must precede the first hidden AVP.
	"hidden-without-random-vector.hex": {parseErr: ErrNoRandomVector, opts: secretOpts},
	// RFC 2661 §4.1: an unrecognised AVP with the M bit set tears down the session.
	"unknown-mandatory-avp.hex": {validateErr: new(*UnknownAVPError)},
	// RFC 2661 §4.1: an AVP with a reserved bit set MUST be treated as unrecognised.
	"reserved-bit-mandatory-avp.hex": {parseAs: new(*UnknownAVPError)},
	// RFC 2661 §4.4.1, RFC 3931 §5.4.1: Message Type MUST be the first AVP.
	"first-avp-not-message-type.hex": {parseErr: ErrNoMessageType},
	// RFC 2661 §4.4.1: the Message Type AVP MUST NOT be hidden and is 8 octets long.
	"message-type-hidden.hex":       {parseErr: ErrBadMessageType},
	"message-type-wrong-length.hex": {parseErr: ErrBadMessageType},
	// RFC 2661 §3.1: control messages MUST set the L and S bits.
	"control-without-length-bit.hex": {parseErr: ErrControlFlags},
	// RFC 2661 §3.1: Ver 1 is L2F, which this implementation does not speak.
	"unsupported-version.hex": {parseErr: ErrVersion},
	// RFC 2661 §3.1: the T bit marks control messages.
	"data-message.hex": {parseErr: ErrNotControl},
	// RFC 3931 §6.1: the SCCRQ MUST carry a Router ID.
	"v3-sccrq-missing-router-id.hex": {validateErr: new(*MissingAVPError)},
	// RFC 2661 §6.11: the ICRP carries one Assigned Session ID.
	"duplicate-assigned-session-id.hex": {validateErr: new(*DuplicateAVPError)},
	// RFC 3931 §7.1: a malformed AVP with the M bit set is treated as an unknown M-bit AVP.
	"malformed-mandatory-avp.hex": {validateErr: new(*MalformedAVPError)},
}

func readBadCorpus(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.hex"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = unhex(t, string(text))
	}
	return out
}

func TestBadCorpus(t *testing.T) {
	corpus := readBadCorpus(t)
	for name := range corpus {
		if _, ok := badCorpus[name]; !ok {
			t.Errorf("testdata/bad/%s has no entry in badCorpus", name)
		}
	}
	for name, tc := range badCorpus {
		t.Run(strings.TrimSuffix(name, ".hex"), func(t *testing.T) {
			b, ok := corpus[name]
			if !ok {
				t.Fatalf("testdata/bad/%s is missing", name)
			}
			m, err := Parse(b, tc.opts)
			switch {
			case tc.parseErr != nil:
				if !errors.Is(err, tc.parseErr) {
					t.Fatalf("Parse error = %v, want %v", err, tc.parseErr)
				}
				return
			case tc.parseAs != nil:
				if !errors.As(err, tc.parseAs) {
					t.Fatalf("Parse error = %v (%T), want %T", err, err, tc.parseAs)
				}
				return
			case err != nil:
				t.Fatalf("Parse: %v", err)
			}
			err = m.Validate()
			if !errors.As(err, tc.validateErr) {
				t.Fatalf("Validate error = %v (%T), want %T", err, err, tc.validateErr)
			}
		})
	}
}
