//! Which push endpoints the server POSTs to. An endpoint is a URL a client chose, so without
//! these rules anyone signed in could make the server send requests into its own network:
//! only `https` URLs on host names are kept when a browser subscribes, and every connection
//! goes only to the public addresses the name resolves to then (the resolver below), so a name
//! pointing into the server's network, at subscribe time or later, is never reached. For tests, hosts given to `--push-allow-insecure` may also be plain `http`
//! on any address.

use std::{
    collections::BTreeSet,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::{
    dns::{Addrs, Name, Resolve, Resolving},
    Url,
};

use crate::error::ChatError;

/// The hosts that may be plain `http` on any address (`--push-allow-insecure`), lowercase.
#[derive(Debug, Clone, Default)]
pub struct InsecureHosts(Arc<BTreeSet<String>>);

impl InsecureHosts {
    pub fn new(hosts: impl IntoIterator<Item = String>) -> Self {
        Self(Arc::new(
            hosts
                .into_iter()
                .map(|host| host.to_ascii_lowercase())
                .collect(),
        ))
    }

    fn allows(&self, host: &str) -> bool {
        self.0.contains(&host.to_ascii_lowercase())
    }
}

/// The endpoint as a URL the server may POST to, or a 400 that says why not: `https` on a
/// host name (push services have names; an address, `localhost` or a name without a dot is
/// refused here, and a name that resolves into a private network when connecting).
pub fn checked(endpoint: &str, insecure: &InsecureHosts) -> Result<Url, ChatError> {
    let refused = |why: &str| ChatError::invalid(format!("endpoint {why}"));
    let url = Url::parse(endpoint).map_err(|_| refused("is not a URL"))?;
    let host = url.host_str().ok_or_else(|| refused("has no host"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("carries credentials"));
    }
    if insecure.allows(host) && matches!(url.scheme(), "http" | "https") {
        return Ok(url);
    }
    if url.scheme() != "https" {
        return Err(refused("must be an https URL"));
    }
    if !url.domain().is_some_and(is_public_name) {
        return Err(refused("must name a public host, not an address"));
    }
    Ok(url)
}

/// Labels of letters, digits and hyphens, at least two, the last of letters only (a top-level
/// domain): `PushSubscriptionBody::endpoint`'s pattern says the same.
fn is_public_name(domain: &str) -> bool {
    let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels.last().is_some_and(|tld| {
            (2..=63).contains(&tld.len()) && tld.bytes().all(|b| b.is_ascii_alphabetic())
        })
}

/// Whether `address` is one of the internet's, not of a private, local, shared or reserved
/// network (IANA's special-purpose registries).
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(address) => is_public_v4(address),
        IpAddr::V6(address) => {
            if let Some(mapped) = address.to_ipv4_mapped() {
                return is_public_v4(mapped);
            }
            let segments = address.segments();
            let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
            if nat64 {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(address.is_unspecified()
                || address.is_loopback()
                || address.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local, 2001:db8::/32 documentation,
                // 100::/64 discard, 2001::/23 IETF protocol assignments (Teredo among them).
                || (segments[0] & 0xfe00) == 0xfc00
                || (segments[0] & 0xffc0) == 0xfe80
                || (segments[0] == 0x2001 && segments[1] == 0x0db8)
                || segments[..4] == [0x100, 0, 0, 0]
                || (segments[0] == 0x2001 && segments[1] < 0x200)
                || segments[0] == 0
                || address == Ipv6Addr::UNSPECIFIED)
        }
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    !(address.is_unspecified()
        || address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_broadcast()
        || address.is_documentation()
        || address.is_multicast()
        || a == 0
        // 100.64.0.0/10 shared (carrier-grade NAT), 192.0.0.0/24 protocol assignments,
        // 198.18.0.0/15 benchmarking, 240.0.0.0/4 reserved.
        || (a == 100 && (b & 0xc0) == 64)
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240)
}

/// Resolves names as the system does, keeping only public addresses, except for the hosts
/// allowed to be insecure: what the push client connects through, so a name that points into
/// the server's own network is never reached.
#[derive(Clone)]
pub struct PublicOnly {
    pub insecure: InsecureHosts,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let insecure = self.insecure.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = if insecure.allows(&host) {
                found.collect()
            } else {
                found.filter(|address| is_public(address.ip())).collect()
            };
            if allowed.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(endpoint: &str) -> bool {
        checked(endpoint, &InsecureHosts::default()).is_ok()
    }

    #[test]
    fn only_https_on_public_hosts() {
        assert!(ok("https://fcm.googleapis.com/fcm/send/abc"));
        assert!(ok("https://updates.push.services.mozilla.com/wpush/v2/x"));
        assert!(ok("https://web.push.apple.com:443/QGuQyavXutnMH"));
        assert!(!ok("http://fcm.googleapis.com/fcm/send/abc"));
        assert!(!ok("ftp://example.com/x"));
        assert!(!ok("not a url"));
        assert!(!ok("https://user:secret@example.com/x"));
        for private in [
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://172.16.0.1/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/x",
            "https://0.0.0.0/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[64:ff9b::a00:1]/x",
            "https://93.184.216.34/push",
            "https://localhost/x",
            "https://intranet/x",
            "https://xn--80ak6aa92e.xn--p1ai/x",
        ] {
            assert!(!ok(private), "{private} should be refused");
        }
    }

    #[test]
    fn insecure_hosts_are_allowed_as_given() {
        let insecure = InsecureHosts::new(["127.0.0.1".to_owned(), "Push.Test".to_owned()]);
        assert!(checked("http://127.0.0.1:9999/push/1", &insecure).is_ok());
        assert!(checked("http://push.test/push/1", &insecure).is_ok());
        assert!(checked("http://127.0.0.2:9999/push/1", &insecure).is_err());
        assert!(checked("gopher://127.0.0.1/x", &insecure).is_err());
    }

    #[tokio::test]
    async fn a_name_is_reached_only_at_its_public_addresses() {
        use std::str::FromStr;
        let public_only = PublicOnly {
            insecure: InsecureHosts::default(),
        };
        let localhost = || Name::from_str("localhost").unwrap();
        assert!(public_only.resolve(localhost()).await.is_err());
        let allowed = PublicOnly {
            insecure: InsecureHosts::new(["localhost".to_owned()]),
        };
        let addresses: Vec<SocketAddr> = allowed.resolve(localhost()).await.unwrap().collect();
        assert!(addresses.iter().all(|address| address.ip().is_loopback()));
        assert!(!addresses.is_empty());
    }

    #[test]
    fn public_addresses() {
        assert!(is_public("8.8.8.8".parse().unwrap()));
        assert!(is_public("2606:4700::1111".parse().unwrap()));
        assert!(!is_public("198.18.0.1".parse().unwrap()));
        assert!(!is_public("240.0.0.1".parse().unwrap()));
        assert!(!is_public("2001:db8::1".parse().unwrap()));
        assert!(!is_public("::".parse().unwrap()));
    }
}
