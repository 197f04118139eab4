package netdev

// TunConfig describes a TUN or TAP device to create.
type TunConfig struct {
	// Name is the interface name, or a template with one %d for which the kernel picks
	// the lowest free number ("probox%d"). Empty means "tun%d" or "tap%d".
	Name string
	// TAP makes an Ethernet (TAP) device; otherwise it is an IP (TUN) device.
	TAP bool
	// MTU, if not 0, is set on the interface.
	MTU int
	// Group, if not 0, is set as the interface group (IFLA_GROUP).
	Group uint32
}
