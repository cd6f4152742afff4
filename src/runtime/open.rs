//! What network mode `open` reaches: public addresses, never the host, the private networks
//! around it or cloud metadata — unless an admin names a range in `[sandbox] open_allow`
//! (an internal package mirror, say).
//!
//! The same rule is applied twice: on Kubernetes as the NetworkPolicy's `except` list
//! (`OPEN_EXCEPT`), on Docker by the bot's egress proxy (`crate::model::egress`), which
//! resolves a name itself, checks every address here and connects only to an address it
//! checked, so a name that resolves differently a moment later (DNS rebinding) gains nothing.

use std::net::IpAddr;

use ipnet::IpNet;

/// IPv4 ranges `open` never reaches: this network, private, shared (CGNAT), loopback,
/// link-local (cloud metadata at 169.254.169.254), IETF protocol assignments, documentation,
/// 6to4 relay, benchmarking, multicast, reserved and broadcast, and Azure's platform address.
pub const OPEN_EXCEPT: [&str; 16] = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "168.63.129.16/32",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
];

/// IPv6 inside global unicast (2000::/3) that is still not public: Teredo and other IETF
/// assignments, documentation, and 6to4 (which would carry an IPv4 address past the list).
const OPEN_EXCEPT_V6: [&str; 3] = ["2001::/23", "2001:db8::/32", "2002::/16"];

/// Why an address is out of `open`'s reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// One of the bot host's own addresses.
    Host,
    /// Private, loopback, link-local, metadata, multicast or reserved.
    NotPublic,
}

impl Unreachable {
    pub fn describe(self) -> &'static str {
        match self {
            Unreachable::Host => "the bot's own host",
            Unreachable::NotPublic => {
                "a private, loopback, link-local, metadata or reserved address"
            }
        }
    }
}

/// Whether `open` may reach `ip`: an address in `allow` always; else never one of `host`'s
/// (the machine the proxy runs on) and never a range that is not public.
pub fn check(ip: IpAddr, allow: &[IpNet], host: &[IpAddr]) -> Result<(), Unreachable> {
    // An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 one.
    let ip = ip.to_canonical();
    if allow.iter().any(|net| net.contains(&ip)) {
        return Ok(());
    }
    if host.iter().any(|h| h.to_canonical() == ip) {
        return Err(Unreachable::Host);
    }
    let public = match ip {
        IpAddr::V4(_) => !in_any(ip, &OPEN_EXCEPT),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xe000) == 0x2000 && !in_any(ip, &OPEN_EXCEPT_V6),
    };
    if public {
        Ok(())
    } else {
        Err(Unreachable::NotPublic)
    }
}

fn in_any(ip: IpAddr, ranges: &[&str]) -> bool {
    ranges
        .iter()
        .filter_map(|r| r.parse::<IpNet>().ok())
        .any(|net| net.contains(&ip))
}

/// The addresses of this machine's interfaces (empty when they cannot be listed, in which
/// case loopback and the private ranges still hold).
pub fn host_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return vec![];
    };
    addrs
        .filter_map(|a| a.address)
        .filter_map(|a| {
            if let Some(v4) = a.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_addresses_pass_and_the_rest_do_not() {
        for public in ["8.8.8.8", "140.82.112.3", "2606:4700::1111"] {
            assert_eq!(check(ip(public), &[], &[]), Ok(()), "{public}");
        }
        for never in [
            "127.0.0.1",
            "10.1.2.3",
            "172.17.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "168.63.129.16",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "ff02::1",
            // IPv4 inside IPv6 in its several spellings.
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:db8::1",
            "2001::1",
        ] {
            assert_eq!(
                check(ip(never), &[], &[]),
                Err(Unreachable::NotPublic),
                "{never}"
            );
        }
    }

    #[test]
    fn the_hosts_own_public_address_is_refused() {
        let host = [ip("203.0.114.7"), ip("2a01:4f8::7")];
        assert_eq!(check(ip("203.0.114.7"), &[], &host), Err(Unreachable::Host));
        assert_eq!(check(ip("2a01:4f8::7"), &[], &host), Err(Unreachable::Host));
        assert_eq!(check(ip("203.0.114.8"), &[], &host), Ok(()));
    }

    #[test]
    fn an_admins_range_is_reached_even_when_private() {
        let allow: Vec<IpNet> = vec!["10.20.0.0/16".parse().unwrap()];
        assert_eq!(check(ip("10.20.3.4"), &allow, &[]), Ok(()));
        assert_eq!(check(ip("::ffff:10.20.3.4"), &allow, &[]), Ok(()));
        assert_eq!(
            check(ip("10.21.3.4"), &allow, &[]),
            Err(Unreachable::NotPublic)
        );
    }

    #[test]
    fn the_host_addresses_include_loopback() {
        assert!(host_addresses().iter().any(|a| a.is_loopback()));
    }
}
