//! How many connections each client address holds, and the cap on them.
//!
//! A slot is taken when a connection is accepted and given back when the connection's task
//! ends (the slot is dropped with it), so the map only ever holds addresses with open
//! connections and is bounded by them. IPv6 addresses count per /64: one host is usually
//! handed a whole /64 and could otherwise open a connection per address.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{Arc, Mutex},
};

/// Open connections per client address, up to a cap.
#[derive(Debug)]
pub struct ConnectionCounts {
    max_per_address: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection of an address; dropping it closes the slot.
#[derive(Debug)]
pub struct ConnectionSlot {
    counts: Arc<ConnectionCounts>,
    key: IpAddr,
}

impl ConnectionCounts {
    pub fn new(max_per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            max_per_address,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a new connection from `address`, or `None` when it holds the most allowed.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Option<ConnectionSlot> {
        let key = counted_as(address);
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.max_per_address {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            counts: self.clone(),
            key,
        })
    }

    /// Connections `address` holds now.
    #[cfg(test)]
    fn open(&self, address: IpAddr) -> usize {
        let open = self.open.lock().unwrap();
        open.get(&counted_as(address)).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self
            .counts
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The address a connection counts against: IPv4 as is, IPv6 by its /64.
fn counted_as(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !(u128::MAX >> 64);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_past_its_cap_is_refused_until_one_of_its_connections_closes() {
        let counts = ConnectionCounts::new(2);
        let first = counts.admit(ip("203.0.113.7")).unwrap();
        let _second = counts.admit(ip("203.0.113.7")).unwrap();
        assert!(counts.admit(ip("203.0.113.7")).is_none());
        // Others are not affected.
        let _other = counts.admit(ip("203.0.113.8")).unwrap();
        drop(first);
        assert_eq!(counts.open(ip("203.0.113.7")), 1);
        assert!(counts.admit(ip("203.0.113.7")).is_some());
    }

    #[test]
    fn addresses_without_connections_are_forgotten() {
        let counts = ConnectionCounts::new(5);
        let slots: Vec<_> = (0..5)
            .map(|_| counts.admit(ip("198.51.100.1")).unwrap())
            .collect();
        drop(slots);
        assert!(counts.open.lock().unwrap().is_empty());
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let counts = ConnectionCounts::new(1);
        let _held = counts.admit(ip("2001:db8:1:2::1")).unwrap();
        assert!(counts.admit(ip("2001:db8:1:2:ffff::9")).is_none());
        assert!(counts.admit(ip("2001:db8:1:3::1")).is_some());
        let _v4 = counts.admit(ip("192.0.2.1")).unwrap();
        assert!(counts.admit(ip("::ffff:192.0.2.1")).is_none());
    }
}
