//! `stream`: clients poll in a loop with cursors while senders send as fast as they can, then
//! at a fixed rate: throughput, lost and duplicated messages, end-to-end and send latency.
//! Its numbered sends (`send_burst`, to one room or to planned `Destinations`) are shared with
//! `multi_room`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Result;
use tokio::task::JoinSet;

use super::{
    ledger::{tally, Ledger, Tally},
    send,
};
use crate::{
    answer::now_us,
    connection::Connection,
    pollers::Pollers,
    report::{float, percentile, Report},
    usage::{cpu_ms, self_cpu_ms},
    Args,
};

/// Where a burst's messages go: all to one room, or each sequence number to its own room.
pub(super) struct Destinations {
    names: Vec<String>,
    /// The position in `names` of each sequence number's room, from 0 (unused with one room).
    room_of_seq: Vec<u32>,
}

impl Destinations {
    /// Every message to `room`.
    pub(super) fn one(room: &str) -> Arc<Self> {
        Arc::new(Self {
            names: vec![room.to_owned()],
            room_of_seq: Vec::new(),
        })
    }

    /// Message `seq` to `names[room_of_seq[seq]]`.
    pub(super) fn planned(names: Vec<String>, room_of_seq: Vec<u32>) -> Arc<Self> {
        Arc::new(Self { names, room_of_seq })
    }

    fn room(&self, seq: u64) -> &str {
        match self.names.as_slice() {
            [room] => room,
            names => &names[self.room_of_seq[seq as usize] as usize],
        }
    }
}

/// Sends `count` messages from `senders` connections, each at most `rate_per_sender` per
/// second (`None`: as fast as it can); sender `n` sends sequence numbers `first_seq + n`,
/// `first_seq + n + senders`, ..., one after another. Returns the send round-trip times in
/// microseconds.
pub(super) async fn send_burst(
    args: &Args,
    rooms: &Arc<Destinations>,
    first_seq: u64,
    count: u64,
    senders: u64,
    rate_per_sender: Option<f64>,
) -> Result<Vec<u64>> {
    let mut tasks = JoinSet::new();
    for sender in 0..senders {
        let (http, kind, addr, rooms) = (args.client, args.kind, args.addr, rooms.clone());
        tasks.spawn(async move {
            let mut conn = Connection::connect(http, addr).await?;
            let mut ticks = rate_per_sender
                .map(|rate| tokio::time::interval(Duration::from_secs_f64(1.0 / rate)));
            let mut times = Vec::new();
            let mut seq = first_seq + sender;
            while seq < first_seq + count {
                if let Some(ticks) = ticks.as_mut() {
                    ticks.tick().await;
                }
                let started = now_us();
                send(&mut conn, kind, rooms.room(seq), seq).await?;
                times.push(now_us() - started);
                seq += senders;
            }
            anyhow::Ok(times)
        });
    }
    let mut times = Vec::new();
    while let Some(result) = tasks.join_next().await {
        times.extend(result??);
    }
    Ok(times)
}

/// `--stream-clients` pollers of one room; `--stream-messages` sent flat out by
/// `--stream-senders` senders, then 5,000 at 1,000/s by 4.
pub(crate) async fn stream(args: &Args, report: &mut Report) -> Result<()> {
    let clients = args.stream_clients;
    let room = format!("stream{clients}x{}", std::process::id());
    let mut pollers =
        Pollers::start(args.client, args.kind, args.addr, &room, clients, &[]).await?;

    let (cpu, server_cpu) = (self_cpu_ms(), cpu_ms(&args.pids)?);
    let started = Instant::now();
    let (senders, burst) = (args.stream_senders, args.stream_messages);
    let destinations = Destinations::one(&room);
    let mut send_times = send_burst(args, &destinations, 0, burst, senders, None).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let Tally {
        lost,
        duplicated: duplicates,
        latencies,
        ..
    } = tally(&mut pollers, all(clients, 0..burst)).await;
    send_times.sort_unstable();
    report.add(
        format!("stream-{clients}-max-{senders}s"),
        vec![
            ("client", args.client.json()),
            ("sent", burst.to_string()),
            ("sends_per_s", float(burst as f64 / elapsed)),
            ("lost", lost.to_string()),
            ("duplicated", duplicates.to_string()),
            ("e2e_p50_ms", float(percentile(&latencies, 0.5))),
            ("e2e_p99_ms", float(percentile(&latencies, 0.99))),
            ("send_p99_ms", float(percentile(&send_times, 0.99))),
            ("server_cpu_ms", float(cpu_ms(&args.pids)? - server_cpu)),
            ("loadgen_cpu_ms", float(self_cpu_ms() - cpu)),
        ],
    );

    let (cpu, server_cpu) = (self_cpu_ms(), cpu_ms(&args.pids)?);
    let mut send_times = send_burst(args, &destinations, burst, 5_000, 4, Some(250.0)).await?;
    let Tally {
        lost,
        duplicated: duplicates,
        latencies,
        ..
    } = tally(&mut pollers, all(clients, burst..burst + 5_000)).await;
    send_times.sort_unstable();
    report.add(
        format!("stream-{clients}-1000/s"),
        vec![
            ("client", args.client.json()),
            ("sent", "5000".into()),
            ("lost", lost.to_string()),
            ("duplicated", duplicates.to_string()),
            ("e2e_p50_ms", float(percentile(&latencies, 0.5))),
            ("e2e_p99_ms", float(percentile(&latencies, 0.99))),
            ("send_p50_ms", float(percentile(&send_times, 0.5))),
            ("send_p99_ms", float(percentile(&send_times, 0.99))),
            ("server_cpu_ms", float(cpu_ms(&args.pids)? - server_cpu)),
            ("loadgen_cpu_ms", float(self_cpu_ms() - cpu)),
        ],
    );
    pollers.finish().await
}

/// Every one of `clients` clients of one room expects every message of `seqs`.
fn all(clients: usize, seqs: std::ops::Range<u64>) -> Ledger<impl Fn(usize, u64) -> bool> {
    Ledger::new(clients, 1, seqs, |_, _| true)
}
