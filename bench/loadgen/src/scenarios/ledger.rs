//! The accounting of the scenarios that check every message arrives (`stream`, `multi-room`):
//! `Ledger` counts each client's deliveries against what it expects, and `tally` feeds it from
//! the pollers until everything arrived or a grace period passes without progress.
//!
//! A message counts once per client that expects it: a second arrival is a duplicate, a
//! delivery to a client that does not follow its room is unexpected, a message expected and
//! never delivered is lost. Per client and room, a first arrival whose sequence number is below
//! one already received there is out of order; that is only meaningful where one sender sends
//! each room's messages one after another, so that the room's order is the sequence order
//! (`multi-room`; the `stream` scenario's concurrent senders interleave, and it does not report
//! the count).

use std::{collections::HashMap, ops::Range, time::Duration};

use crate::pollers::{Delivery, Pollers};

/// What a tally found.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Tally {
    /// Deliveries expected: one per (message, client expecting it).
    pub(super) expected: u64,
    pub(super) lost: u64,
    pub(super) duplicated: u64,
    pub(super) out_of_order: u64,
    pub(super) unexpected: u64,
    /// End-to-end latency of each first arrival, in microseconds, sorted.
    pub(super) latencies: Vec<u64>,
}

/// Deliveries counted so far against those expected.
pub(super) struct Ledger<F> {
    clients: usize,
    rooms: u32,
    seqs: Range<u64>,
    expects: F,
    expected: u64,
    unique: u64,
    /// Arrivals per (client, seq).
    seen: HashMap<(usize, u64), u32>,
    /// Per client and room (`client * rooms + room`), the highest sequence number received.
    highest: Vec<Option<u64>>,
    out_of_order: u64,
    unexpected: u64,
    latencies: Vec<u64>,
}

impl<F: Fn(usize, u64) -> bool> Ledger<F> {
    /// A ledger of messages `seqs` among `clients` clients whose deliveries name rooms below
    /// `rooms`; client `c` expects message `s` if `expects(c, s)`.
    pub(super) fn new(clients: usize, rooms: u32, seqs: Range<u64>, expects: F) -> Self {
        let expected = (0..clients)
            .map(|client| seqs.clone().filter(|&seq| expects(client, seq)).count() as u64)
            .sum();
        Self {
            clients,
            rooms,
            seqs,
            expects,
            expected,
            unique: 0,
            seen: HashMap::with_capacity(expected as usize),
            highest: vec![None; clients * rooms as usize],
            out_of_order: 0,
            unexpected: 0,
            latencies: Vec::with_capacity(expected as usize),
        }
    }

    /// Counts one delivery (those of other sequence numbers are ignored: another phase's).
    pub(super) fn record(&mut self, delivery: &Delivery) {
        if !self.seqs.contains(&delivery.seq) {
            return;
        }
        if delivery.room >= self.rooms || !(self.expects)(delivery.client, delivery.seq) {
            self.unexpected += 1;
            return;
        }
        let count = self
            .seen
            .entry((delivery.client, delivery.seq))
            .or_insert(0);
        *count += 1;
        if *count > 1 {
            return;
        }
        self.unique += 1;
        self.latencies.push(delivery.latency_us);
        let highest =
            &mut self.highest[delivery.client * self.rooms as usize + delivery.room as usize];
        match *highest {
            Some(seq) if delivery.seq < seq => self.out_of_order += 1,
            _ => *highest = Some(delivery.seq),
        }
    }

    /// Whether every expected delivery arrived.
    pub(super) fn complete(&self) -> bool {
        self.unique >= self.expected
    }

    /// The counts; prints which messages the first few incomplete clients miss.
    pub(super) fn finish(mut self) -> Tally {
        if !self.complete() {
            let mut shown = 0;
            for client in 0..self.clients {
                let missing: Vec<u64> = self
                    .seqs
                    .clone()
                    .filter(|&seq| (self.expects)(client, seq))
                    .filter(|&seq| !self.seen.contains_key(&(client, seq)))
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                eprintln!(
                    "client {client} is missing {} messages, first {:?}",
                    missing.len(),
                    &missing[..missing.len().min(5)]
                );
                shown += 1;
                if shown == 5 {
                    break;
                }
            }
        }
        self.latencies.sort_unstable();
        Tally {
            expected: self.expected,
            lost: self.expected - self.unique,
            duplicated: self.seen.values().map(|count| u64::from(count - 1)).sum(),
            out_of_order: self.out_of_order,
            unexpected: self.unexpected,
            latencies: self.latencies,
        }
    }
}

/// Counts the pollers' deliveries into `ledger` until it is complete or 3 s pass without a
/// delivery.
pub(super) async fn tally<F: Fn(usize, u64) -> bool>(
    pollers: &mut Pollers,
    mut ledger: Ledger<F>,
) -> Tally {
    while !ledger.complete() {
        match tokio::time::timeout(Duration::from_secs(3), pollers.deliveries.recv()).await {
            Ok(Some(delivery)) => ledger.record(&delivery),
            Ok(None) | Err(_) => break,
        }
    }
    ledger.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(client: usize, room: u32, seq: u64, latency_us: u64) -> Delivery {
        Delivery {
            client,
            room,
            seq,
            latency_us,
        }
    }

    /// Two clients, rooms 0 and 1, messages 0..6: even ones to room 0, odd ones to room 1;
    /// client 0 follows both, client 1 only room 1.
    fn ledger() -> Ledger<impl Fn(usize, u64) -> bool> {
        Ledger::new(2, 2, 0..6, |client, seq| client == 0 || seq % 2 == 1)
    }

    #[test]
    fn a_complete_run_in_order_counts_nothing_wrong() {
        let mut ledger = ledger();
        assert_eq!(ledger.expected, 6 + 3);
        for seq in 0..6 {
            ledger.record(&delivery(0, (seq % 2) as u32, seq, 10 + seq));
            if seq % 2 == 1 {
                ledger.record(&delivery(1, 1, seq, 100 + seq));
            }
        }
        assert!(ledger.complete());
        let tally = ledger.finish();
        assert_eq!(
            (
                tally.lost,
                tally.duplicated,
                tally.out_of_order,
                tally.unexpected
            ),
            (0, 0, 0, 0)
        );
        assert_eq!(tally.latencies, vec![10, 11, 12, 13, 14, 15, 101, 103, 105]);
    }

    #[test]
    fn lost_duplicated_out_of_order_and_unexpected_are_counted() {
        let mut ledger = ledger();
        // Client 0: room 0 gets 0, 4, 2 (2 after 4: out of order); room 1 gets 1, 1 (a
        // duplicate), 5; 3 is lost.
        for (room, seq) in [(0, 0), (0, 4), (0, 2), (1, 1), (1, 1), (1, 5)] {
            ledger.record(&delivery(0, room, seq, 1));
        }
        // Client 1: 3 and 5 in order, 1 lost; an even one it does not follow; one of another
        // phase (seq 9), ignored.
        for (room, seq) in [(1, 3), (1, 5), (0, 2), (1, 9)] {
            ledger.record(&delivery(1, room, seq, 1));
        }
        assert!(!ledger.complete());
        let tally = ledger.finish();
        assert_eq!(tally.expected, 9);
        assert_eq!(tally.lost, 2);
        assert_eq!(tally.duplicated, 1);
        assert_eq!(tally.out_of_order, 1);
        assert_eq!(tally.unexpected, 1);
        assert_eq!(tally.latencies.len(), 7);
    }

    #[test]
    fn order_is_kept_per_room_not_across_rooms() {
        let mut ledger = ledger();
        // Room 1's 5 before room 0's 0, 2, 4: each room is in order on its own.
        for (room, seq) in [(1, 5), (0, 0), (1, 1), (0, 2), (0, 4)] {
            ledger.record(&delivery(0, room, seq, 1));
        }
        // 1 after 5 in room 1 is out of order; the others are not.
        assert_eq!(ledger.finish().out_of_order, 1);
    }
}
