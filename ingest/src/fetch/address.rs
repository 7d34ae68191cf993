//! Pure classification of IP addresses for import by link: which addresses are on the public
//! internet and which must not be fetched from (loopback, private, link-local, unspecified,
//! multicast and other special-purpose ranges), for IPv4 and IPv6, including IPv6 forms that
//! embed an IPv4 address (mapped, compatible, NAT64, 6to4).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address an IP is, as far as fetching from it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// A globally routable address.
    Public,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16`, carrier-grade NAT `100.64/10`, IPv6 unique local
    /// `fc00::/7` and site-local `fec0::/10`.
    Private,
    /// `169.254/16`, `fe80::/10`.
    LinkLocal,
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `224/4`, `ff00::/8`, and the broadcast address.
    Multicast,
    /// Other special-purpose ranges: documentation, benchmarking, protocol assignments,
    /// reserved `240/4`, IPv6 discard and documentation prefixes, Teredo.
    Reserved,
}

impl AddressClass {
    /// Whether fetching from such an address is allowed without `allow_private`.
    pub fn is_public(self) -> bool {
        self == AddressClass::Public
    }
}

/// Classifies an IPv4 or IPv6 address.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Classifies an IPv4 address.
pub fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    if a == 0 {
        AddressClass::Unspecified
    } else if a == 127 {
        AddressClass::Loopback
    } else if a == 10
        || (a == 172 && (16..=31).contains(&b))
        || (a == 192 && b == 168)
        || (a == 100 && (64..=127).contains(&b))
    {
        AddressClass::Private
    } else if a == 169 && b == 254 {
        AddressClass::LinkLocal
    } else if (224..=239).contains(&a) || ip == Ipv4Addr::BROADCAST {
        AddressClass::Multicast
    } else if a >= 240
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || (a == 198 && (18..=19).contains(&b))
        || (a == 192 && b == 88 && c == 99)
    {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

/// Classifies an IPv6 address; forms that embed an IPv4 address are classified by it.
pub fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if ip.is_unspecified() {
        return AddressClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    let s = ip.segments();
    let embedded_v4 =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (deprecated compatible).
    if s[0..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        return classify_v4(embedded_v4(s[6], s[7]));
    }
    // NAT64 64:ff9b::/96 and local-use 64:ff9b:1::/48.
    if s[0] == 0x64 && s[1] == 0xff9b {
        return classify_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4 2002::/16 carries the IPv4 address in the next 32 bits.
    if s[0] == 0x2002 {
        return classify_v4(embedded_v4(s[1], s[2]));
    }
    match s[0] {
        x if x & 0xff00 == 0xff00 => AddressClass::Multicast,
        x if x & 0xffc0 == 0xfe80 => AddressClass::LinkLocal,
        x if x & 0xffc0 == 0xfec0 => AddressClass::Private,
        x if x & 0xfe00 == 0xfc00 => AddressClass::Private,
        // Discard-only 100::/64, documentation 2001:db8::/32 and 3fff::/20, Teredo 2001::/32,
        // benchmarking 2001:2::/48, ORCHID 2001:10::/28 and 2001:20::/28.
        0x0100 if s[1..4] == [0; 3] => AddressClass::Reserved,
        0x2001 if s[1] == 0x0db8 || s[1] == 0 || s[1] == 2 || (0x10..=0x2f).contains(&s[1]) => {
            AddressClass::Reserved
        }
        x if x == 0x3fff && s[1] < 0x1000 => AddressClass::Reserved,
        // Only global unicast 2000::/3 is routable on the internet.
        x if x & 0xe000 == 0x2000 => AddressClass::Public,
        _ => AddressClass::Reserved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddressClass {
        classify(s.parse().expect("address"))
    }

    #[test]
    fn public_v4_and_v6_addresses_are_public() {
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "223.5.5.5",
            "2400:3200::1",
            "2001:4860:4860::8888",
        ] {
            assert_eq!(class(a), AddressClass::Public, "{a}");
        }
    }

    #[test]
    fn loopback_private_link_local_unspecified_and_multicast_are_refused() {
        let cases = [
            ("127.0.0.1", AddressClass::Loopback),
            ("127.255.0.9", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("10.1.2.3", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("172.31.255.255", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::Private),
            ("fd00::1", AddressClass::Private),
            ("fc12::1", AddressClass::Private),
            ("169.254.169.254", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("0.0.0.0", AddressClass::Unspecified),
            ("::", AddressClass::Unspecified),
            ("224.0.0.1", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Multicast),
            ("ff02::1", AddressClass::Multicast),
            ("192.0.2.1", AddressClass::Reserved),
            ("240.0.0.1", AddressClass::Reserved),
            ("2001:db8::1", AddressClass::Reserved),
        ];
        for (a, expected) in cases {
            assert_eq!(class(a), expected, "{a}");
            assert!(!expected.is_public());
        }
    }

    #[test]
    fn the_neighbours_of_private_ranges_are_public() {
        for a in [
            "172.15.255.255",
            "172.32.0.0",
            "192.169.0.1",
            "100.128.0.1",
            "11.0.0.1",
        ] {
            assert_eq!(class(a), AddressClass::Public, "{a}");
        }
    }

    #[test]
    fn ipv6_forms_embedding_ipv4_are_judged_by_the_ipv4_address() {
        assert_eq!(class("::ffff:127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class("::ffff:10.0.0.1"), AddressClass::Private);
        assert_eq!(class("::ffff:8.8.8.8"), AddressClass::Public);
        assert_eq!(class("64:ff9b::a9fe:a9fe"), AddressClass::LinkLocal);
        assert_eq!(class("2002:c0a8:0101::1"), AddressClass::Private);
        assert_eq!(class("2002:0808:0808::1"), AddressClass::Public);
    }
}
