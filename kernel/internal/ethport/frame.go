package ethport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
)

// Ethertypes of VLAN tags.
const (
	EtherTypeVLAN  = 0x8100 // IEEE 802.1Q customer tag (C-TAG)
	EtherTypeQinQ  = 0x88a8 // IEEE 802.1ad service tag (S-TAG)
	headerLen      = 14     // destination, source, ethertype
	tagLen         = 4      // TPID and TCI
	minFrameLen    = 60     // the Ethernet minimum without the FCS
	maxVLANID      = 4094   // VID 4095 is reserved (IEEE 802.1Q §9.6)
	vidMask        = 0x0fff
	maxTags        = 2
	maxEtherTypes  = 16
	minPayloadType = 0x0600 // smaller values are IEEE 802.3 lengths, not ethertypes
)

// Errors of the frame codec.
var (
	// ErrTooManyTags is returned for a frame with more than two VLAN tags.
	ErrTooManyTags = errors.New("ethport: more than two VLAN tags")
	// ErrInvalidVLAN is returned for a VLAN ID above 4094 (VID 4095 is reserved).
	ErrInvalidVLAN = errors.New("ethport: invalid VLAN ID")
)

// Frame is an Ethernet frame with its VLAN tags decoded.
type Frame struct {
	Dst, Src [6]byte
	// VLAN is the innermost 802.1Q VLAN ID (0: untagged).
	VLAN uint16
	// OuterVLAN is the service tag of a QinQ frame (0: none).
	OuterVLAN uint16
	// EtherType is the payload's ethertype, after all VLAN tags.
	EtherType uint16
	// Payload is the rest of the frame, including any Ethernet padding; it is a slice of
	// the buffer the frame was read into.
	Payload []byte
}

// tag is a VLAN tag the kernel removed from a frame and reported out of band.
type tag struct {
	present bool
	tci     uint16
}

// ParseFrame decodes an Ethernet frame that carries its VLAN tags in the data (tags of
// ethertype 0x8100 or 0x88a8, at most two). Payload is a slice of b.
func ParseFrame(b []byte) (Frame, error) { return parseFrame(b, tag{}) }

// parseFrame decodes b, whose outermost VLAN tag the kernel may have removed and
// reported as outer.
func parseFrame(b []byte, outer tag) (Frame, error) {
	if len(b) < headerLen {
		return Frame{}, io.ErrUnexpectedEOF
	}
	var f Frame
	copy(f.Dst[:], b[0:6])
	copy(f.Src[:], b[6:12])
	var tags [maxTags]uint16
	n := 0
	if outer.present {
		tags[0] = outer.tci & vidMask
		n = 1
	}
	off := 12
	et := binary.BigEndian.Uint16(b[off:])
	for et == EtherTypeVLAN || et == EtherTypeQinQ {
		if n == maxTags {
			return Frame{}, ErrTooManyTags
		}
		// The tag's TCI and the next ethertype.
		if len(b) < off+tagLen+2 {
			return Frame{}, io.ErrUnexpectedEOF
		}
		tags[n] = binary.BigEndian.Uint16(b[off+2:]) & vidMask
		n++
		off += tagLen
		et = binary.BigEndian.Uint16(b[off:])
	}
	for _, v := range tags[:n] {
		if v > maxVLANID {
			return Frame{}, ErrInvalidVLAN
		}
	}
	switch n {
	case 1:
		f.VLAN = tags[0]
	case 2:
		f.OuterVLAN, f.VLAN = tags[0], tags[1]
	}
	f.EtherType = et
	f.Payload = b[off+2:]
	return f, nil
}

var zeros [minFrameLen]byte

// AppendFrame appends f to b as it goes on the wire: destination, source, for QinQ
// (OuterVLAN != 0) an 0x88a8 tag with OuterVLAN and an 0x8100 tag with VLAN, for a plain
// VLAN (VLAN != 0) an 0x8100 tag, the ethertype and the payload, padded with zeros to 60
// bytes. Tags carry priority 0. It allocates only if b lacks the capacity.
func AppendFrame(b []byte, f Frame) ([]byte, error) {
	if f.VLAN > maxVLANID || f.OuterVLAN > maxVLANID {
		return b, fmt.Errorf("%w: %d/%d", ErrInvalidVLAN, f.OuterVLAN, f.VLAN)
	}
	start := len(b)
	b = append(b, f.Dst[:]...)
	b = append(b, f.Src[:]...)
	if f.OuterVLAN != 0 {
		b = binary.BigEndian.AppendUint16(b, EtherTypeQinQ)
		b = binary.BigEndian.AppendUint16(b, f.OuterVLAN)
		b = binary.BigEndian.AppendUint16(b, EtherTypeVLAN)
		b = binary.BigEndian.AppendUint16(b, f.VLAN)
	} else if f.VLAN != 0 {
		b = binary.BigEndian.AppendUint16(b, EtherTypeVLAN)
		b = binary.BigEndian.AppendUint16(b, f.VLAN)
	}
	b = binary.BigEndian.AppendUint16(b, f.EtherType)
	b = append(b, f.Payload...)
	if n := len(b) - start; n < minFrameLen {
		b = append(b, zeros[:minFrameLen-n]...)
	}
	return b, nil
}

// Classic BPF (include/uapi/linux/filter.h, bpf_common.h). BPF_LD, BPF_W and BPF_K are 0.
const (
	bpfLdWAbs   = 0x20           // BPF_LD | BPF_W | BPF_ABS
	bpfLdHAbs   = 0x08 | 0x20    // BPF_LD | BPF_H | BPF_ABS
	bpfJeqK     = 0x05 | 0x10    // BPF_JMP | BPF_JEQ | BPF_K
	bpfRetK     = 0x06           // BPF_RET | BPF_K
	skfAdPkttyp = 0xfffff000 + 4 // SKF_AD_OFF (-0x1000) + SKF_AD_PKTTYPE
	pktOutgoing = 4              // PACKET_OUTGOING (include/uapi/linux/if_packet.h)
	acceptAll   = 0xffffffff     // return the whole frame
)

// sockFilter is struct sock_filter.
type sockFilter struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

// filterProgram builds the socket filter: drop frames the host sends (PACKET_OUTGOING),
// then accept a frame if its ethertype, after zero, one or two VLAN tags in the data, is
// one of types (any ethertype if types is empty). It sees frames as the kernel delivers
// them to packet sockets, that is with the outermost tag already removed on most paths.
func filterProgram(types []uint16) ([]sockFilter, error) {
	if len(types) > maxEtherTypes {
		return nil, fmt.Errorf("ethport: at most %d ethertypes", maxEtherTypes)
	}
	for _, t := range types {
		if t < minPayloadType || t == EtherTypeVLAN || t == EtherTypeQinQ {
			return nil, fmt.Errorf("ethport: bad ethertype %#04x", t)
		}
	}
	type fixup struct {
		at     int
		jt, jf string // labels; "" means the next instruction
	}
	var (
		prog   []sockFilter
		fixups []fixup
		labels = map[string]int{}
	)
	label := func(name string) { labels[name] = len(prog) }
	stmt := func(code uint16, k uint32) { prog = append(prog, sockFilter{Code: code, K: k}) }
	jeq := func(k uint32, jt, jf string) {
		fixups = append(fixups, fixup{at: len(prog), jt: jt, jf: jf})
		stmt(bpfJeqK, k)
	}

	stmt(bpfLdWAbs, skfAdPkttyp)
	jeq(pktOutgoing, "drop", "")
	if len(types) == 0 {
		label("accept")
		stmt(bpfRetK, acceptAll)
	} else {
		for depth := 0; depth <= maxTags; depth++ {
			label(fmt.Sprint("depth", depth))
			stmt(bpfLdHAbs, uint32(12+tagLen*depth))
			if depth < maxTags {
				next := fmt.Sprint("depth", depth+1)
				jeq(EtherTypeVLAN, next, "")
				jeq(EtherTypeQinQ, next, "")
			}
			for i, t := range types {
				jf := ""
				if i == len(types)-1 {
					jf = "drop"
				}
				jeq(uint32(t), "accept", jf)
			}
		}
		label("accept")
		stmt(bpfRetK, acceptAll)
	}
	label("drop")
	stmt(bpfRetK, 0)

	for _, f := range fixups {
		for _, j := range []struct {
			name string
			off  *uint8
		}{{f.jt, &prog[f.at].Jt}, {f.jf, &prog[f.at].Jf}} {
			if j.name == "" {
				continue
			}
			d := labels[j.name] - f.at - 1
			if d < 0 || d > 255 {
				return nil, fmt.Errorf("ethport: filter jump of %d", d)
			}
			*j.off = uint8(d)
		}
	}
	return prog, nil
}

// errClosed is returned (wrapped) by ReadFrame and WriteFrame on a closed Port: it
// matches both net.ErrClosed and os.ErrClosed.
type errClosed struct{}

func (errClosed) Error() string { return "use of closed packet socket" }
func (errClosed) Is(target error) bool {
	return target == net.ErrClosed || target == os.ErrClosed
}

// ErrClosed is the error that ReadFrame and WriteFrame wrap after Close. It matches
// net.ErrClosed and os.ErrClosed with errors.Is.
var ErrClosed error = errClosed{}
