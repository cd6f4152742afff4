//! What network mode `open` reaches: public addresses, never the host, the private networks
//! around it or cloud metadata. An admin may open a private range (`[sandbox] open_allow`: an
//! internal package mirror, say) and close more (`open_deny`: the host's public address when
//! the bot runs in a container or behind NAT, where its interfaces do not show it); the host's
//! own addresses, loopback, link-local and the clouds' metadata addresses stay closed even
//! inside an allowed range.
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
const OPEN_EXCEPT_V6: [&str; 4] = ["2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20"];

/// Never reached, not even inside `open_allow`: this network and loopback (the host itself),
/// link-local (cloud metadata at 169.254.169.254 and fe80::), and the clouds' other metadata
/// addresses (Azure's platform address, AWS's IPv6 endpoint, Alibaba's).
pub const NEVER: [&str; 9] = [
    "0.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "168.63.129.16/32",
    "100.100.100.200/32",
    "::/128",
    "::1/128",
    "fe80::/10",
    "fd00:ec2::254/128",
];

/// What `open` may reach beyond the rule: the admin's ranges, and the host's addresses.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fence<'a> {
    /// `[sandbox] open_allow`.
    pub allow: &'a [IpNet],
    /// `[sandbox] open_deny`.
    pub deny: &'a [IpNet],
    /// The addresses of the machine the egress proxy runs on.
    pub host: &'a [IpAddr],
}

/// Why an address is out of `open`'s reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// In the admin's `open_deny`.
    Denied,
    /// One of the bot host's own addresses, loopback, link-local or metadata.
    Host,
    /// Private, shared, multicast or reserved, and not in `open_allow`.
    NotPublic,
}

/// Whether `open` may reach `ip` behind `fence`: never a denied range, the host, loopback,
/// link-local or metadata; then an allowed range; then only a public address.
pub fn check(ip: IpAddr, fence: Fence) -> Result<(), Unreachable> {
    // An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 one.
    let ip = ip.to_canonical();
    if fence.deny.iter().any(|net| net.contains(&ip)) {
        return Err(Unreachable::Denied);
    }
    if fence.host.iter().any(|h| h.to_canonical() == ip) || in_any(ip, &NEVER) {
        return Err(Unreachable::Host);
    }
    if fence.allow.iter().any(|net| net.contains(&ip)) {
        return Ok(());
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

/// An allowed range `net` as a NetworkPolicy can open it: `None` when it lies inside (or is)
/// a `NEVER` or denied range, which no allowance opens; else the parts of it that stay closed
/// (its `except`).
pub fn closed_within(net: &IpNet, deny: &[IpNet]) -> Option<Vec<IpNet>> {
    let closed: Vec<IpNet> = NEVER
        .iter()
        .filter_map(|r| r.parse::<IpNet>().ok())
        .chain(deny.iter().copied())
        .collect();
    if closed.iter().any(|c| c.contains(net)) {
        return None;
    }
    Some(
        closed
            .into_iter()
            .filter(|inner| net.contains(inner))
            .collect(),
    )
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
            assert_eq!(check(ip(public), Fence::default()), Ok(()), "{public}");
        }
        for never in [
            "10.1.2.3",
            "172.17.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "fd00::1",
            "fc00::1",
            "ff02::1",
            // IPv4 inside IPv6 in its several spellings.
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
        ] {
            assert_eq!(
                check(ip(never), Fence::default()),
                Err(Unreachable::NotPublic),
                "{never}"
            );
        }
        for host in [
            "127.0.0.1",
            "127.0.0.2",
            "0.0.0.0",
            "169.254.169.254",
            "168.63.129.16",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert_eq!(
                check(ip(host), Fence::default()),
                Err(Unreachable::Host),
                "{host}"
            );
        }
    }

    #[test]
    fn the_hosts_own_addresses_are_refused_and_an_admin_may_deny_more() {
        let host = [ip("203.0.114.7"), ip("2a01:4f8::7")];
        let fence = Fence {
            host: &host,
            ..Fence::default()
        };
        assert_eq!(check(ip("203.0.114.7"), fence), Err(Unreachable::Host));
        assert_eq!(check(ip("2a01:4f8::7"), fence), Err(Unreachable::Host));
        assert_eq!(check(ip("203.0.114.8"), fence), Ok(()));
        // Behind NAT or in a container the host's public address is the admin's to deny.
        let deny: Vec<IpNet> = vec!["203.0.114.8/32".parse().unwrap()];
        let fence = Fence {
            deny: &deny,
            ..fence
        };
        assert_eq!(check(ip("203.0.114.8"), fence), Err(Unreachable::Denied));
    }

    #[test]
    fn an_admins_range_is_reached_but_never_the_host_inside_it() {
        let allow: Vec<IpNet> = vec!["10.20.0.0/16".parse().unwrap()];
        let host = [ip("10.20.0.5")];
        let fence = Fence {
            allow: &allow,
            host: &host,
            ..Fence::default()
        };
        assert_eq!(check(ip("10.20.3.4"), fence), Ok(()));
        assert_eq!(check(ip("::ffff:10.20.3.4"), fence), Ok(()));
        assert_eq!(check(ip("10.21.3.4"), fence), Err(Unreachable::NotPublic));
        assert_eq!(check(ip("10.20.0.5"), fence), Err(Unreachable::Host));
        // However wide the range, loopback and metadata stay closed.
        let everything: Vec<IpNet> = vec!["0.0.0.0/0".parse().unwrap()];
        let wide = Fence {
            allow: &everything,
            ..Fence::default()
        };
        assert_eq!(check(ip("127.0.0.1"), wide), Err(Unreachable::Host));
        assert_eq!(check(ip("169.254.169.254"), wide), Err(Unreachable::Host));
        assert_eq!(check(ip("10.1.1.1"), wide), Ok(()));
    }

    #[test]
    fn an_allowed_range_keeps_its_closed_parts_for_a_network_policy() {
        let deny: Vec<IpNet> = vec!["10.9.0.0/16".parse().unwrap()];
        let closed: Vec<String> = closed_within(&"0.0.0.0/0".parse().unwrap(), &deny)
            .unwrap()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert!(closed.contains(&"169.254.0.0/16".to_string()), "{closed:?}");
        assert!(closed.contains(&"10.9.0.0/16".to_string()), "{closed:?}");
        assert_eq!(
            closed_within(&"10.20.0.0/16".parse().unwrap(), &deny),
            Some(vec![])
        );
        // A range that is, or lies inside, a closed one is not opened at all.
        for never in [
            "169.254.0.0/16",
            "169.254.169.253/32",
            "10.9.1.0/24",
            "10.9.0.0/16",
        ] {
            assert_eq!(
                closed_within(&never.parse().unwrap(), &deny),
                None,
                "{never}"
            );
        }
    }

    #[test]
    fn the_host_addresses_include_loopback() {
        assert!(host_addresses().iter().any(|a| a.is_loopback()));
    }
}
