package kernel

import (
	"net"
	"testing"
)

func TestIsUnicastMAC(t *testing.T) {
	tests := []struct {
		name string
		mac  net.HardwareAddr
		want bool
	}{
		{"locally administered", net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x05}, true},
		{"universal", net.HardwareAddr{0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e}, true},
		{"nil", nil, false},
		{"short", net.HardwareAddr{0x02, 0, 0}, false},
		{"EUI-64", net.HardwareAddr{0x02, 0, 0, 0, 0, 0, 0, 1}, false},
		{"all zeros", make(net.HardwareAddr, 6), false},
		{"broadcast", net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false},
		{"IPv4 multicast", net.HardwareAddr{0x01, 0x00, 0x5e, 0, 0, 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsUnicastMAC(tt.mac); got != tt.want {
				t.Errorf("IsUnicastMAC(%v) = %v, want %v", tt.mac, got, tt.want)
			}
		})
	}
}
