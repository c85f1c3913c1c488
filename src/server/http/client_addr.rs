//! The client's address when the server sits behind reverse proxies it trusts.
//!
//! Anyone can write a `Forwarded` or `X-Forwarded-For` header, so only the one header the
//! operator's proxy writes is read ([`ForwardedHeader`], `X-Forwarded-For` unless told
//! otherwise), only when the connection itself comes from a trusted proxy, and then only as far
//! as the chain of trusted proxies goes: the addresses are walked from the right (the one the
//! nearest proxy added) and the first address that is not a trusted proxy is the client. What
//! lies left of it was written by the client or its own proxies and is never believed. The
//! other header is never read: a proxy passes on whatever a client wrote in the header it does
//! not write itself (nginx passes a client's `Forwarded` through untouched).
//!
//! When the chain cannot be followed (an `unknown` or obfuscated node, an entry that is not an
//! address), the walk stops at the last address it could trust, or the peer itself: a broken
//! chain never lets a header choose the address.
//!
//! Why not the `axum-client-ip` crate: its `RightmostXForwardedFor` / `RightmostForwarded`
//! take the rightmost address whoever the peer is, so they are right only behind exactly one
//! proxy that every connection passes through; they neither check that the peer is a trusted
//! proxy nor walk past a chain of them (a CDN in front of nginx).

use std::{
    net::{IpAddr, Ipv6Addr},
    str::FromStr,
};

use axum::http::{header, HeaderMap};
use ipnet::IpNet;

/// The networks whose connections may tell who the client is, and the header they write it
/// in. Empty (the default): nobody, and the peer is always the client.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

/// The header the trusted proxies write the client's address into (`--forwarded-header`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1`: nginx's `$proxy_add_x_forwarded_for`, HAProxy's
    /// `option forwardfor`, most load balancers.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// A trusted-proxy list that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid trusted proxy {entry:?}: expected IP addresses or CIDR ranges separated by commas, \
     such as 10.0.0.0/8,127.0.0.1,::1"
)]
pub struct InvalidTrustedProxy {
    /// The entry that is neither an address nor a range.
    pub entry: String,
}

impl FromStr for TrustedProxies {
    type Err = InvalidTrustedProxy;

    /// Parses comma-separated ranges (`10.0.0.0/8`) and addresses (`127.0.0.1`, `::1`: a range
    /// of one address). Blank entries are ignored, so an empty string trusts nobody.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| InvalidTrustedProxy {
                        entry: entry.to_owned(),
                    })
            })
            .collect::<Result<_, _>>()
            .map(|networks| Self {
                networks,
                header: ForwardedHeader::default(),
            })
    }
}

impl TrustedProxies {
    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// These proxies, writing the client's address into `header` (the other one is ignored).
    pub fn reading(self, header: ForwardedHeader) -> Self {
        Self { header, ..self }
    }

    /// The client's address for a connection from `peer` carrying `headers`.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let chain = match self.header {
            ForwardedHeader::XForwardedFor => header_chain(headers, "x-forwarded-for", parse_node),
            ForwardedHeader::Forwarded => {
                header_chain(headers, header::FORWARDED.as_str(), forwarded_for)
            }
        };
        let mut client = peer;
        for node in chain.into_iter().rev() {
            let Some(address) = node else {
                return client;
            };
            client = address;
            if !self.trusts(address) {
                return address;
            }
        }
        // Every address is a trusted proxy: the leftmost is the nearest thing to a client.
        client
    }

    /// Whether `address` is a trusted proxy's.
    pub fn trusts(&self, address: IpAddr) -> bool {
        // IPv4 peers of a dual-stack socket arrive as `::ffff:a.b.c.d`: match them against
        // IPv4 ranges (canonical form) and against ranges written in that form too.
        let canonical = address.to_canonical();
        self.networks
            .iter()
            .any(|net| net.contains(&canonical) || net.contains(&address))
    }
}

/// The nodes of every `name` header line, in order (several lines are one comma-joined list);
/// `None` for a node that is not an address. A line that is not text is one such node.
fn header_chain(
    headers: &HeaderMap,
    name: &str,
    parse: fn(&str) -> Option<IpAddr>,
) -> Vec<Option<IpAddr>> {
    let mut chain = Vec::new();
    for line in headers.get_all(name) {
        match line.to_str() {
            Ok(line) => chain.extend(split_outside_quotes(line, b',').map(parse)),
            Err(_) => chain.push(None),
        }
    }
    chain
}

/// `text` split at each `separator` outside a quoted string, each part trimmed.
fn split_outside_quotes(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (at, byte) in text.bytes().enumerate() {
            match byte {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                _ if byte == separator && !quoted => {
                    rest = Some(&text[at + 1..]);
                    return Some(text[..at].trim());
                }
                _ => {}
            }
        }
        rest = None;
        Some(text.trim())
    })
}

/// The `for=` node of one `Forwarded` element (RFC 7239 §4: `for=192.0.2.60;proto=http`),
/// `None` when it has none, several, or one that is not an address.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let mut found = None;
    for pair in split_outside_quotes(element, b';') {
        let (name, value) = pair.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("for") {
            if found.is_some() {
                return None;
            }
            found = Some(value.trim());
        }
    }
    let value = found?;
    let value = match value.strip_prefix('"') {
        // Escapes are legal in a quoted string but never part of an address.
        Some(quoted) => quoted
            .strip_suffix('"')
            .filter(|inner| !inner.contains('\\'))?,
        None => value,
    };
    parse_node(value)
}

/// One node: an address, optionally with a port (`192.0.2.43:47011`, `[2001:db8::17]:4711`,
/// `[2001:db8::17]`). `unknown` and obfuscated identifiers (`_hidden`) are not addresses.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    let address = if let Some(bracketed) = node.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        IpAddr::V6(inside.parse::<Ipv6Addr>().ok()?)
    } else {
        let (address, port) = node.split_once(':')?;
        if !is_port(port) {
            return None;
        }
        IpAddr::V4(address.parse().ok()?)
    };
    Some(address.to_canonical())
}

/// A port as RFC 7239 allows it: digits, or an obfuscated `_identifier`.
fn is_port(port: &str) -> bool {
    let digits = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    let obfuscated = port.len() > 1
        && port.starts_with('_')
        && port
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    digits || obfuscated
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn proxies() -> TrustedProxies {
        "10.0.0.0/8, 127.0.0.1, ::1".parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(lines: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    /// The client behind [`proxies`] writing `X-Forwarded-For` (the default).
    fn client(peer: &str, lines: &[(&str, &str)]) -> IpAddr {
        proxies().client_address(ip(peer), &headers(lines))
    }

    /// The client behind [`proxies`] writing `Forwarded`.
    fn client_forwarded(peer: &str, lines: &[(&str, &str)]) -> IpAddr {
        proxies()
            .reading(ForwardedHeader::Forwarded)
            .client_address(ip(peer), &headers(lines))
    }

    #[test]
    fn parses_ranges_and_single_addresses() {
        let proxies = proxies();
        assert!(proxies.trusts(ip("10.200.1.2")));
        assert!(proxies.trusts(ip("127.0.0.1")));
        assert!(!proxies.trusts(ip("127.0.0.2")));
        assert!(proxies.trusts(ip("::1")));
        assert!(!proxies.trusts(ip("::2")));
        assert!(TrustedProxies::from_str("").unwrap().is_empty());
        assert_eq!(
            TrustedProxies::from_str("10.0.0.0/8,,192.168.0.1,")
                .unwrap()
                .networks
                .len(),
            2
        );
    }

    #[test]
    fn a_bad_entry_is_named_in_the_error() {
        for bad in ["10.0.0.0/33", "proxy.example", "10.0.0.1:80", "1.2.3"] {
            let error = TrustedProxies::from_str(&format!("127.0.0.1,{bad}")).unwrap_err();
            assert_eq!(error.entry, bad);
            assert!(error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let spoofed = [
            ("x-forwarded-for", "10.0.0.5"),
            ("forwarded", "for=127.0.0.1"),
        ];
        assert_eq!(client("203.0.113.9", &spoofed), ip("203.0.113.9"));
        // Trusting nobody (the default) ignores the headers too.
        assert_eq!(
            TrustedProxies::default().client_address(ip("10.0.0.1"), &headers(&spoofed)),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_trusted_peer_without_headers_is_the_client() {
        assert_eq!(client("10.0.0.1", &[]), ip("10.0.0.1"));
    }

    #[test]
    fn x_forwarded_for_is_walked_from_the_right_past_trusted_proxies() {
        let lines = [("x-forwarded-for", "198.51.100.1, 203.0.113.7, 10.1.1.1")];
        assert_eq!(client("10.0.0.1", &lines), ip("203.0.113.7"));
    }

    #[test]
    fn what_the_client_wrote_left_of_its_address_is_ignored() {
        // The client sent `X-Forwarded-For: 127.0.0.1`; the proxy appended its address.
        let lines = [("x-forwarded-for", "127.0.0.1, 203.0.113.7")];
        assert_eq!(client("10.0.0.1", &lines), ip("203.0.113.7"));
    }

    #[test]
    fn an_all_trusted_chain_gives_its_leftmost_address() {
        let lines = [("x-forwarded-for", "10.9.9.9, 127.0.0.1")];
        assert_eq!(client("10.0.0.1", &lines), ip("10.9.9.9"));
    }

    #[test]
    fn several_header_lines_are_one_list() {
        let lines = [
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-for", "198.51.100.1, 10.2.2.2"),
        ];
        assert_eq!(client("10.0.0.1", &lines), ip("198.51.100.1"));
        let lines = [
            ("forwarded", "for=203.0.113.7"),
            ("forwarded", "for=10.2.2.2"),
        ];
        assert_eq!(client_forwarded("10.0.0.1", &lines), ip("203.0.113.7"));
    }

    #[test]
    fn a_malformed_entry_stops_at_the_last_good_address() {
        let lines = [("x-forwarded-for", "203.0.113.7, not-an-ip, 10.3.3.3")];
        assert_eq!(client("10.0.0.1", &lines), ip("10.3.3.3"));
        let lines = [("x-forwarded-for", "203.0.113.7, garbage")];
        assert_eq!(client("10.0.0.1", &lines), ip("10.0.0.1"));
        let lines = [("x-forwarded-for", "203.0.113.7,")];
        assert_eq!(client("10.0.0.1", &lines), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_for_values_with_quotes_ports_and_other_parameters() {
        let lines = [(
            "forwarded",
            r#"for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711""#,
        )];
        assert_eq!(
            client_forwarded("10.0.0.1", &lines),
            ip("2001:db8:cafe::17")
        );
        let lines = [("forwarded", r#"for="192.0.2.43:47011";proto=https"#)];
        assert_eq!(client_forwarded("::1", &lines), ip("192.0.2.43"));
        let lines = [("forwarded", r#"for="[2001:db8::1]""#)];
        assert_eq!(client_forwarded("::1", &lines), ip("2001:db8::1"));
        let lines = [("forwarded", r#"for="[2001:db8::1]:_obf""#)];
        assert_eq!(client_forwarded("::1", &lines), ip("2001:db8::1"));
    }

    #[test]
    fn forwarded_unknown_or_obfuscated_nodes_stop_the_walk() {
        let lines = [("forwarded", "for=203.0.113.7, for=unknown, for=10.4.4.4")];
        assert_eq!(client_forwarded("10.0.0.1", &lines), ip("10.4.4.4"));
        let lines = [("forwarded", "for=203.0.113.7, for=_hidden")];
        assert_eq!(client_forwarded("10.0.0.1", &lines), ip("10.0.0.1"));
        // An element without `for`, or with two, is not followed either.
        let lines = [("forwarded", "for=203.0.113.7, proto=https")];
        assert_eq!(client_forwarded("10.0.0.1", &lines), ip("10.0.0.1"));
        let lines = [("forwarded", "for=203.0.113.7;for=198.51.100.1")];
        assert_eq!(client_forwarded("10.0.0.1", &lines), ip("10.0.0.1"));
        // Unbracketed IPv6 with a port, a bad port, a quote left open.
        for bad in [
            "for=2001:db8::1:80:x",
            r#"for="192.0.2.1:http""#,
            r#"for="192.0.2.1"#,
        ] {
            assert_eq!(
                client_forwarded("10.0.0.1", &[("forwarded", bad)]),
                ip("10.0.0.1"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_clients_own_forwarded_header_is_ignored_behind_a_proxy_writing_x_forwarded_for() {
        // docs/deployment.md's nginx appends the peer to `X-Forwarded-For` and passes the client's
        // `Forwarded` through untouched: each request naming another address must not get
        // a fresh per-address limit.
        for spoofed in ["for=198.51.100.99", "for=10.0.0.7", "for=unknown"] {
            let lines = [("forwarded", spoofed), ("x-forwarded-for", "203.0.113.7")];
            assert_eq!(client("10.0.0.1", &lines), ip("203.0.113.7"), "{spoofed}");
        }
        // Without `X-Forwarded-For` the trusted peer is the client, whatever `Forwarded` says.
        let lines = [("forwarded", "for=198.51.100.99")];
        assert_eq!(client("10.0.0.1", &lines), ip("10.0.0.1"));
    }

    #[test]
    fn a_proxy_writing_forwarded_has_only_forwarded_read() {
        let lines = [
            ("x-forwarded-for", "198.51.100.99"),
            ("forwarded", "for=203.0.113.7"),
        ];
        assert_eq!(client_forwarded("10.0.0.1", &lines), ip("203.0.113.7"));
        let lines = [("x-forwarded-for", "198.51.100.99")];
        assert_eq!(client_forwarded("10.0.0.1", &lines), ip("10.0.0.1"));
    }

    #[test]
    fn the_header_is_named_as_on_the_command_line() {
        use clap::ValueEnum;
        let parse = |name| ForwardedHeader::from_str(name, false);
        assert_eq!(parse("x-forwarded-for"), Ok(ForwardedHeader::XForwardedFor));
        assert_eq!(parse("forwarded"), Ok(ForwardedHeader::Forwarded));
        assert!(parse("x-real-ip").is_err());
        assert_eq!(ForwardedHeader::default(), ForwardedHeader::XForwardedFor);
    }

    #[test]
    fn ipv4_mapped_addresses_match_ipv4_ranges() {
        assert_eq!(
            client("::ffff:10.0.0.1", &[("x-forwarded-for", "203.0.113.7")]),
            ip("203.0.113.7")
        );
        // And an untrusted mapped peer is reported in its IPv4 form.
        assert_eq!(client("::ffff:203.0.113.9", &[]), ip("203.0.113.9"));
        // Mapped addresses in the header are trusted proxies too.
        let lines = [("x-forwarded-for", "203.0.113.7, ::ffff:10.5.5.5")];
        assert_eq!(client("10.0.0.1", &lines), ip("203.0.113.7"));
    }

    #[test]
    fn x_forwarded_for_entries_may_carry_ports() {
        let lines = [("x-forwarded-for", "203.0.113.7:5555, [2001:db8::2]:443")];
        assert_eq!(client("10.0.0.1", &lines), ip("2001:db8::2"));
    }

    #[test]
    fn quoted_commas_do_not_split_elements() {
        let split: Vec<_> = split_outside_quotes(r#"a="x,y", b"#, b',').collect();
        assert_eq!(split, [r#"a="x,y""#, "b"]);
    }
}
