package kernel

import (
	"errors"
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

func TestPPPoEConfigServes(t *testing.T) {
	qinq := []QinQ{{Outer: 10, InnerFirst: 100, InnerLast: 199}}
	for _, tc := range []struct {
		name string
		cfg  PPPoEConfig
		fi   FrameInfo
		want bool
	}{
		{name: "untagged on a plain port", fi: FrameInfo{}, want: true},
		{name: "tagged on a plain port", fi: FrameInfo{VLAN: 100}},
		{name: "QinQ on a plain port", fi: FrameInfo{VLAN: 100, OuterVLAN: 10}},
		{name: "listed VLAN", cfg: PPPoEConfig{VLANs: []uint16{100, 200}}, fi: FrameInfo{VLAN: 200}, want: true},
		{name: "other VLAN", cfg: PPPoEConfig{VLANs: []uint16{100, 200}}, fi: FrameInfo{VLAN: 300}},
		{name: "untagged on a VLAN port", cfg: PPPoEConfig{VLANs: []uint16{100}}, fi: FrameInfo{}},
		{name: "untagged with Untagged", cfg: PPPoEConfig{VLANs: []uint16{100}, Untagged: true}, fi: FrameInfo{}, want: true},
		{name: "QinQ first", cfg: PPPoEConfig{QinQ: qinq}, fi: FrameInfo{VLAN: 100, OuterVLAN: 10}, want: true},
		{name: "QinQ last", cfg: PPPoEConfig{QinQ: qinq}, fi: FrameInfo{VLAN: 199, OuterVLAN: 10}, want: true},
		{name: "QinQ past the range", cfg: PPPoEConfig{QinQ: qinq}, fi: FrameInfo{VLAN: 200, OuterVLAN: 10}},
		{name: "QinQ other service tag", cfg: PPPoEConfig{QinQ: qinq}, fi: FrameInfo{VLAN: 150, OuterVLAN: 11}},
		{name: "customer tag alone", cfg: PPPoEConfig{QinQ: qinq}, fi: FrameInfo{VLAN: 150}},
		{name: "single VLAN is not a service tag", cfg: PPPoEConfig{VLANs: []uint16{150}}, fi: FrameInfo{VLAN: 150, OuterVLAN: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.Serves(tc.fi); got != tc.want {
				t.Errorf("Serves(%+v) = %v, want %v", tc.fi, got, tc.want)
			}
		})
	}
}

func TestPPPoEConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  PPPoEConfig
		ok   bool
	}{
		{name: "empty", ok: true},
		{name: "good", cfg: PPPoEConfig{VLANs: []uint16{1, 4094}, QinQ: []QinQ{{Outer: 1, InnerFirst: 1, InnerLast: 4094}}}, ok: true},
		{name: "VLAN 0", cfg: PPPoEConfig{VLANs: []uint16{0}}},
		{name: "VLAN 4095", cfg: PPPoEConfig{VLANs: []uint16{4095}}},
		{name: "service tag 0", cfg: PPPoEConfig{QinQ: []QinQ{{Outer: 0, InnerFirst: 1, InnerLast: 1}}}},
		{name: "empty range", cfg: PPPoEConfig{QinQ: []QinQ{{Outer: 5, InnerFirst: 9, InnerLast: 8}}}},
		{name: "customer tag 4095", cfg: PPPoEConfig{QinQ: []QinQ{{Outer: 5, InnerFirst: 1, InnerLast: 4095}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrVLAN)) {
				t.Errorf("Validate() = %v, want ok %v (else ErrVLAN)", err, tc.ok)
			}
		})
	}
}
