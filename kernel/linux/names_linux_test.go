//go:build linux

package linux

import (
	"math/big"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMacvlanName(t *testing.T) {
	tests := []struct {
		name       string
		outer, vid uint16
		mac        [6]byte
		want       string
	}{
		{"untagged", 0, 0, [6]byte{2, 0, 0, 0, 0xa0, 1}, "pm02000000a001"},
		{"vlan", 0, 100, [6]byte{2, 0, 0, 0, 0xa0, 1}, "pv7p68g4w6xoh"},
		{"largest", 0, 4094, [6]byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}, "pv8r9ceeghasjj"},
		{"qinq", 10, 100, [6]byte{2, 0, 0, 0, 0xa0, 1}, "q2ft2fvlzq6q69"},
		{"qinq smallest", 1, 1, [6]byte{2, 0, 0, 0, 0, 1}, "q8rex49f74t8h"},
		{"qinq largest", 4094, 4094, [6]byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}, "qrodkcet7as4mpr"},
		{"qinq all ones", 4095, 4095, [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "qrombrbjfm2fe9r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := macvlanName(tt.outer, tt.vid, tt.mac)
			if got != tt.want {
				t.Errorf("macvlanName(%d, %d, %x) = %q, want %q", tt.outer, tt.vid, tt.mac, got, tt.want)
			}
			if len(got) >= unix.IFNAMSIZ {
				t.Errorf("macvlanName(%d, %d, %x) = %q is longer than IFNAMSIZ-1", tt.outer, tt.vid, tt.mac, got)
			}
			if tt.outer == 0 {
				return
			}
			// The QinQ name decodes back to the tags and the address.
			v, ok := new(big.Int).SetString(strings.TrimPrefix(got, "q"), 36)
			if !ok {
				t.Fatalf("%q is not q and base 36", got)
			}
			b := v.FillBytes(make([]byte, 9))
			outer, vid := uint16(b[0])<<4|uint16(b[1])>>4, uint16(b[1]&0x0f)<<8|uint16(b[2])
			if outer != tt.outer || vid != tt.vid || [6]byte(b[3:]) != tt.mac {
				t.Errorf("%q decodes to %d.%d %x", got, outer, vid, b[3:])
			}
		})
	}
	// Names differ between tags and from the untagged name.
	seen := map[string]bool{}
	for _, tags := range [][2]uint16{{0, 0}, {0, 1}, {0, 2}, {0, 4094}, {1, 1}, {1, 2}, {2, 1}, {4094, 4094}, {1, 4094}, {4094, 1}} {
		for _, mac := range [][6]byte{{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 1, 0}, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}} {
			n := macvlanName(tags[0], tags[1], mac)
			if seen[n] {
				t.Errorf("macvlanName: %q twice", n)
			}
			seen[n] = true
		}
	}
}

// TestVLANNames checks the names of the VLAN subinterfaces: single-tagged ("IF.VID"),
// QinQ service tag ("IF.sOUTER") and customer tag on it ("IF.sOUTER.INNER"), and the
// "pbx<ifindex>" and "q<ifindex>" forms when a name would not fit IFNAMSIZ, by the access
// interface's index.
func TestVLANNames(t *testing.T) {
	tests := []struct {
		name         string
		ifc          string
		index        int
		outer, inner uint16
		wantS, wantC string
	}{
		{"short", "eth0", 2, 10, 100, "eth0.s10", "eth0.s10.100"},
		{"largest tags", "eth0", 2, 4094, 4094, "eth0.s4094", "eth0.s4094.4094"},
		{"customer tag too long", "enp3s0f1", 3, 10, 100, "enp3s0f1.s10", "q3.10.100"},
		{"service tag too long", "enp0s31f6abc", 7, 10, 100, "pbx7.s10", "pbx7.s10.100"},
		{"both too long", "enp0s31f6abc", 12, 4094, 4094, "pbx12.s4094", "q12.4094.4094"},
		{"four-digit interface index", "enp129s0f1np1", 1234, 4094, 4094, "pbx1234.s4094", "q1234.4094.4094"},
		{"longest name", "abcdefghijklmno", 123456, 4094, 1, "pbx123456.s4094", "q123456.4094.1"},
		{"base 36", "abcdefghijklmno", 123456, 4094, 4094, "pbx123456.s4094", "Q2n9c.35q.35q"},
		{"largest index", "abcdefghijklmno", 1<<31 - 1, 4094, 4094, "Pzik0zj.s35q", "Qzik0zj.35q.35q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serviceVLANName(tt.ifc, tt.index, tt.outer)
			c := customerVLANName(s, tt.index, tt.outer, tt.inner)
			if s != tt.wantS || c != tt.wantC {
				t.Errorf("names of %s QinQ %d.%d = %q, %q, want %q, %q", tt.ifc, tt.outer, tt.inner, s, c, tt.wantS, tt.wantC)
			}
			for _, n := range []string{s, c} {
				if len(n) >= unix.IFNAMSIZ {
					t.Errorf("%q is longer than IFNAMSIZ-1", n)
				}
			}
			// The single-tagged subinterface of the same ID is another name.
			if v := vlanName(tt.ifc, tt.index, tt.outer); v == s || v == c {
				t.Errorf("vlanName(%q, %d, %d) = %q, the same as a QinQ name", tt.ifc, tt.index, tt.outer, v)
			}
		})
	}
}

func TestUnitNumber(t *testing.T) {
	tests := []struct {
		name string
		want int32
	}{
		{"ppp0", 0},
		{"ppp199", 199},
		{"ppp2147483647", 2147483647},
		{"ppp2147483648", -1},
		{"ppp007", -1},
		{"ppp", -1},
		{"ppp%d", -1},
		{"ppp-1", -1},
		{"ppp+1", -1},
		{"wan0", -1},
		{"", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unitNumber(tt.name); got != tt.want {
				t.Errorf("unitNumber(%q) = %d, want %d", tt.name, got, tt.want)
			}
		})
	}
}
