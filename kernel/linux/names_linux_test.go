//go:build linux

package linux

import "testing"

func TestMacvlanName(t *testing.T) {
	tests := []struct {
		name string
		vid  uint16
		mac  [6]byte
		want string
	}{
		{"untagged", 0, [6]byte{2, 0, 0, 0, 0xa0, 1}, "pm02000000a001"},
		{"vlan", 100, [6]byte{2, 0, 0, 0, 0xa0, 1}, "pv7p68g4w6xoh"},
		{"largest", 4094, [6]byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}, "pv8r9ceeghasjj"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := macvlanName(tt.vid, tt.mac)
			if got != tt.want {
				t.Errorf("macvlanName(%d, %x) = %q, want %q", tt.vid, tt.mac, got, tt.want)
			}
			if len(got) > 15 {
				t.Errorf("macvlanName(%d, %x) = %q is longer than IFNAMSIZ-1", tt.vid, tt.mac, got)
			}
		})
	}
	// Names differ between VLANs and from the untagged name.
	seen := map[string]bool{}
	for _, vid := range []uint16{0, 1, 2, 4094} {
		n := macvlanName(vid, [6]byte{2, 0, 0, 0, 0, 1})
		if seen[n] {
			t.Errorf("macvlanName: %q twice", n)
		}
		seen[n] = true
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
