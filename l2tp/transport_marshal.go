package l2tp

// controlDigest is what controlMarshaler needs to add and compute an L2TPv3 Message Digest
// AVP (RFC 3931 §5.4.1). The owner may change the nonces and keys between calls (for
// example once the peer's nonce arrives in the SCCRP): each encoding uses the values of the
// moment.
type controlDigest struct {
	Type DigestType
	// Keys come from DigestKey; see SignMessage for how two keys sign two digests.
	Keys [][]byte
	// LocalNonce is the nonce this side sent, RemoteNonce the peer's; SCCRQ digests use
	// neither.
	LocalNonce, RemoteNonce []byte
}

// controlMarshaler returns a marshal function for newTransport. It encodes a message with
// opts, in the L2TP-over-UDP form or, with ip set, the L2TPv3-over-IP form that starts with
// a zero Session ID (RFC 3931 §4.1.1.2).
//
// With dig set, every message except a ZLB carries a Message Digest AVP right after the
// Message Type AVP (one of type dig.Type is put there when m.AVPs does not start with one)
// and the digest is computed over the encoded message, header included. Because the
// transport calls the marshal function again whenever it stamps a new Nr, a retransmission
// is always signed over the Ns and Nr it carries (RFC 3931 §5.4.1). A ZLB has no AVPs and
// cannot be signed (use TransportConfig.ExplicitAck to acknowledge with signed ACK
// messages instead).
func controlMarshaler(opts *MarshalOptions, ip bool, dig *controlDigest) func(*Message) ([]byte, error) {
	return func(m *Message) ([]byte, error) {
		signed := dig != nil && !m.IsZLB()
		if signed && (len(m.AVPs) == 0 || !m.AVPs[0].Is(AVPMessageDigest)) {
			c := *m
			c.AVPs = make([]AVP, 0, len(m.AVPs)+1)
			c.AVPs = append(c.AVPs, NewMessageDigest(dig.Type))
			c.AVPs = append(c.AVPs, m.AVPs...)
			m = &c
		}
		var (
			b   []byte
			err error
			off int
		)
		if ip {
			b, err = m.AppendIP(nil, opts)
			off = IPSessionIDLen
		} else {
			b, err = m.Marshal(opts)
		}
		if err != nil {
			return nil, err
		}
		if signed {
			if err := SignMessage(b[off:], dig.LocalNonce, dig.RemoteNonce, dig.Keys...); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
}
