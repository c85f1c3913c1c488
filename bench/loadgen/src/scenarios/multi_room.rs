//! `multi-room-stream` and `multi-room-poll` (ours only): `--multi-clients` clients follow rooms
//! chosen from `--multi-rooms` while `--multi-senders` senders send `--multi-rate` messages/s
//! in all to random rooms for `--multi-secs` seconds. With `multi-room-stream` each client
//! follows `--multi-rooms-per-client` rooms by holding one `POST /api/stream` at a time, with a
//! cursor per room; with `multi-room-poll`, the baseline, each holds one `GET /api/poll` on the
//! first of the same rooms. Both check that every message reaches every client following its
//! room exactly once and in order, and report end-to-end latency and the server's memory per
//! held poll.
//!
//! The rooms each client follows and the room of each message come from a generator seeded by
//! `--multi-seed`, so both scenarios (and runs) see the same plan. Each room's messages come
//! from one sender, one send after another (sender `n` owns the rooms `r` with
//! `r % senders == n`), so a room's order on the server is its sequence order and the ledger
//! can check it.
//!
//! Before the measured messages every room gets one, room after room, each sent once every
//! stream is held again (the fan-out's `wake_round`), and each received by all the room's
//! followers before the next. A room a client has no message of has no cursor, and a
//! stream sent without one waits only for messages sent after it arrives (as `GET /api/poll`
//! without a cursor); a stream is sent again whenever any of its rooms has news, so messages
//! sent to a cursorless room while its client re-polls would be missed (a real client starts
//! from the room's history; the bench's rooms start empty). The memory figure is the growth of the server's RSS from before the clients
//! start to when all their polls are held, before any message: run each scenario on a freshly
//! started server (as `run.sh` does), or the second finds memory the first freed.

use std::time::Instant;

use anyhow::{bail, Result};

use super::{
    fanout::wake_round,
    ledger::{tally, Ledger},
    stream::{send_burst, Destinations},
};
use crate::{
    connection::{Connection, FollowedRoom},
    pollers::{Follow, Pollers},
    report::{float, percentile, Report},
    usage::{cpu_ms, rss_kib, self_cpu_ms},
    Args, Kind,
};

/// How the clients of a multi-room scenario follow their rooms.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// One `POST /api/stream` on all of a client's rooms.
    Stream,
    /// One `GET /api/poll` on the first of them: the single-room baseline.
    Poll,
}

/// The most rooms one stream follows (the server's limit).
const MAX_STREAM_ROOMS: usize = 100;

/// SplitMix64: a small, fast generator, good enough to spread rooms; seeded so plans repeat.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (> 0); the bias of multiply-and-shift is negligible for small `n`.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

/// Who follows what and where each message goes.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    /// Per client, its rooms (numbers below the room count), distinct.
    follows: Vec<Vec<u32>>,
    /// Per measured message (from 0), its room: one owned by its sender (`n % senders`).
    room_of_seq: Vec<u32>,
}

impl Plan {
    fn new(
        seed: u64,
        clients: usize,
        per_client: usize,
        rooms: usize,
        messages: u64,
        senders: usize,
    ) -> Self {
        let mut rng = SplitMix64(seed);
        let mut deck: Vec<u32> = (0..rooms as u32).collect();
        let follows = (0..clients)
            .map(|_| {
                // A partial Fisher-Yates shuffle: the first `per_client` of the deck.
                for n in 0..per_client {
                    let pick = n + rng.below(rooms - n);
                    deck.swap(n, pick);
                }
                deck[..per_client].to_vec()
            })
            .collect();
        let room_of_seq = (0..messages)
            .map(|seq| {
                let sender = (seq % senders as u64) as usize;
                // The rooms `sender + k * senders` below `rooms`.
                let owned = (rooms - sender).div_ceil(senders);
                (sender + rng.below(owned) * senders) as u32
            })
            .collect();
        Self {
            follows,
            room_of_seq,
        }
    }
}

/// One multi-room measurement, following the rooms `via` says.
pub(crate) async fn multi_room(args: &Args, report: &mut Report, via: Via) -> Result<()> {
    if args.kind != Kind::Ours {
        bail!("the multi-room scenarios need --kind ours");
    }
    let (clients, rooms, senders) = (args.multi_clients, args.multi_rooms, args.multi_senders);
    let per_client = args.multi_rooms_per_client;
    if per_client == 0 || per_client > rooms || per_client > MAX_STREAM_ROOMS {
        bail!("--multi-rooms-per-client must be 1 to min(--multi-rooms, {MAX_STREAM_ROOMS})");
    }
    if senders == 0 || senders > rooms || args.multi_rate <= 0.0 {
        bail!("--multi-senders must be 1 to --multi-rooms, and --multi-rate above 0");
    }
    let messages = (args.multi_rate * args.multi_secs as f64).round() as u64;
    let plan = Plan::new(
        args.multi_seed,
        clients,
        per_client,
        rooms,
        messages,
        senders,
    );
    let (prefix, followed) = match via {
        Via::Stream => ("multi-room-stream", per_client),
        Via::Poll => ("multi-room-poll", 1),
    };
    let pid = std::process::id();
    let names: Vec<String> = (0..rooms).map(|r| format!("multi{pid}r{r}")).collect();
    let follows = plan
        .follows
        .iter()
        .map(|own| match via {
            Via::Stream => Follow::Stream(
                own.iter()
                    .map(|&room| FollowedRoom {
                        name: names[room as usize].clone(),
                        index: room,
                        last_id: String::new(),
                        live_version: None,
                    })
                    .collect(),
            ),
            Via::Poll => Follow::Room {
                name: names[own[0] as usize].clone(),
                index: own[0],
            },
        })
        .collect();

    let rss_idle = rss_kib(&args.pids)?;
    let started = Instant::now();
    let mut pollers =
        Pollers::start_following(args.client, args.kind, args.addr, follows, &[]).await?;
    let setup = started.elapsed();
    // All polls held, no message yet.
    let rss_held = rss_kib(&args.pids)?;

    // Sequence numbers 0..rooms prime the rooms (number r to room r), the measured ones follow.
    let first = rooms as u64;
    let room_of_seq: Vec<u32> = (0..rooms as u32).chain(plan.room_of_seq).collect();
    let expects = |client: usize, seq: u64| {
        let room = room_of_seq[seq as usize];
        plan.follows[client][..followed].contains(&room)
    };
    // One room at a time, each once every stream is held again: a prime sent while a client
    // re-polls (woken by another room's prime) would miss it, for the same reason.
    let mut sender = Connection::connect(args.client, args.addr).await?;
    let mut primed = Vec::with_capacity(clients * followed);
    for (seq, name) in (0..).zip(&names) {
        let followers = (0..clients).filter(|&c| expects(c, seq)).count();
        wake_round(
            &mut pollers,
            &mut sender,
            args.kind,
            name,
            followers,
            seq,
            &mut primed,
        )
        .await?;
    }
    if primed.len() < clients * followed {
        bail!(
            "{} of the rooms' first messages never arrived",
            clients * followed - primed.len()
        );
    }
    let destinations = Destinations::planned(names, room_of_seq.clone());

    let cpu = self_cpu_ms();
    let server_cpu = cpu_ms(&args.pids)?;
    let rate_per_sender = args.multi_rate / senders as f64;
    let started = Instant::now();
    let mut send_times = send_burst(
        args,
        &destinations,
        first,
        messages,
        senders as u64,
        Some(rate_per_sender),
    )
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    send_times.sort_unstable();
    let ledger = Ledger::new(clients, rooms as u32, first..first + messages, expects);
    let tally = tally(&mut pollers, ledger).await;
    let server_cpu = cpu_ms(&args.pids)? - server_cpu;
    let loadgen_cpu = self_cpu_ms() - cpu;
    let events = &pollers.events;
    let latencies = &tally.latencies;
    report.add(
        format!("{prefix}-{clients}x{followed}of{rooms}"),
        vec![
            ("client", args.client.json()),
            ("clients", clients.to_string()),
            ("rooms_per_client", followed.to_string()),
            ("rooms", rooms.to_string()),
            ("sent", messages.to_string()),
            ("sends_per_s", float(messages as f64 / elapsed)),
            ("expected", tally.expected.to_string()),
            ("lost", tally.lost.to_string()),
            ("duplicated", tally.duplicated.to_string()),
            ("out_of_order", tally.out_of_order.to_string()),
            ("unexpected", tally.unexpected.to_string()),
            (
                "resets",
                events
                    .resets
                    .load(std::sync::atomic::Ordering::Relaxed)
                    .to_string(),
            ),
            (
                "unavailable",
                events
                    .unavailable
                    .load(std::sync::atomic::Ordering::Relaxed)
                    .to_string(),
            ),
            ("e2e_p50_ms", float(percentile(latencies, 0.5))),
            ("e2e_p99_ms", float(percentile(latencies, 0.99))),
            ("e2e_max_ms", float(percentile(latencies, 1.0))),
            ("send_p99_ms", float(percentile(&send_times, 0.99))),
            ("rss_idle_kib", rss_idle.to_string()),
            ("rss_held_kib", rss_held.to_string()),
            (
                "kib_per_held_poll",
                float(rss_held.saturating_sub(rss_idle) as f64 / clients as f64),
            ),
            ("setup_ms", float(setup.as_secs_f64() * 1000.0)),
            ("server_cpu_ms", float(server_cpu)),
            ("loadgen_cpu_ms", float(loadgen_cpu)),
        ],
    );
    pollers.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_follows_distinct_rooms_and_each_message_goes_to_its_senders_room() {
        let plan = Plan::new(1, 1_000, 10, 100, 10_000, 4);
        assert_eq!(plan.follows.len(), 1_000);
        for own in &plan.follows {
            let mut sorted = own.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 10);
            assert!(sorted.iter().all(|&room| room < 100));
        }
        for (seq, &room) in plan.room_of_seq.iter().enumerate() {
            assert!(room < 100);
            assert_eq!(room as usize % 4, seq % 4);
        }
        // Spread over every room, none far from its share (100 of 10,000 messages each).
        let mut per_room = [0u32; 100];
        for &room in &plan.room_of_seq {
            per_room[room as usize] += 1;
        }
        assert!(per_room.iter().all(|&count| (50..150).contains(&count)));
    }

    #[test]
    fn the_same_seed_gives_the_same_plan_and_senders_that_do_not_divide_the_rooms_work() {
        assert_eq!(
            Plan::new(7, 50, 3, 10, 500, 3),
            Plan::new(7, 50, 3, 10, 500, 3)
        );
        assert_ne!(
            Plan::new(7, 50, 3, 10, 500, 3),
            Plan::new(8, 50, 3, 10, 500, 3)
        );
        // 3 senders of 10 rooms: sender 0 owns 0, 3, 6, 9; senders 1 and 2 three each.
        let plan = Plan::new(7, 50, 3, 10, 3_000, 3);
        let owned_by_0: std::collections::BTreeSet<u32> =
            plan.room_of_seq.iter().step_by(3).copied().collect();
        assert_eq!(owned_by_0.into_iter().collect::<Vec<_>>(), vec![0, 3, 6, 9]);
        // Every room followed by someone, all rooms distinct per client.
        let plan = Plan::new(7, 50, 10, 10, 0, 1);
        assert!(plan.follows.iter().all(|own| {
            let mut sorted = own.clone();
            sorted.sort_unstable();
            sorted == (0..10).collect::<Vec<_>>()
        }));
    }
}
