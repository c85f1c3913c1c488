//! `stream`: clients poll in a loop with cursors while senders send as fast as they can, then
//! at a fixed rate: throughput, lost and duplicated messages, end-to-end and send latency.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::Result;
use tokio::task::JoinSet;

use super::send;
use crate::{
    answer::now_us,
    connection::Connection,
    pollers::Pollers,
    report::{float, percentile, Report},
    usage::self_cpu_ms,
    Args,
};

/// Sends `count` messages from `senders` connections, each at most `rate_per_sender` per
/// second (`None`: as fast as it can). Returns the send round-trip times in microseconds.
async fn send_burst(
    args: &Args,
    room: &str,
    first_seq: u64,
    count: u64,
    senders: u64,
    rate_per_sender: Option<f64>,
) -> Result<Vec<u64>> {
    let mut tasks = JoinSet::new();
    for sender in 0..senders {
        let (http, kind, addr, room) = (args.client, args.kind, args.addr, room.to_owned());
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
                send(&mut conn, kind, &room, seq).await?;
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

/// Collects deliveries of sequence numbers `seqs` until every client has them all or a grace
/// period without progress passes; counts lost and duplicated messages.
async fn tally(
    pollers: &mut Pollers,
    clients: usize,
    seqs: std::ops::Range<u64>,
) -> (u64, u64, Vec<u64>) {
    let expected = (seqs.end - seqs.start) * clients as u64;
    let mut seen: HashMap<(usize, u64), u32> = HashMap::with_capacity(expected as usize);
    let mut latencies = Vec::with_capacity(expected as usize);
    let mut unique = 0;
    while unique < expected {
        match tokio::time::timeout(Duration::from_secs(3), pollers.deliveries.recv()).await {
            Ok(Some(delivery)) if seqs.contains(&delivery.seq) => {
                let count = seen.entry((delivery.client, delivery.seq)).or_insert(0);
                *count += 1;
                if *count == 1 {
                    unique += 1;
                    latencies.push(delivery.latency_us);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let duplicates = seen.values().map(|count| u64::from(count - 1)).sum();
    if unique < expected {
        let mut missing_by_client: HashMap<usize, Vec<u64>> = HashMap::new();
        for client in 0..clients {
            for seq in seqs.clone() {
                if !seen.contains_key(&(client, seq)) {
                    missing_by_client.entry(client).or_default().push(seq);
                }
            }
        }
        for (client, missing) in missing_by_client.iter().take(5) {
            eprintln!(
                "client {client} is missing {} messages, first {:?}",
                missing.len(),
                &missing[..missing.len().min(5)]
            );
        }
    }
    latencies.sort_unstable();
    (expected - unique, duplicates, latencies)
}

/// `--stream-clients` pollers of one room; `--stream-messages` sent flat out by
/// `--stream-senders` senders, then 5,000 at 1,000/s by 4.
pub(crate) async fn stream(args: &Args, report: &mut Report) -> Result<()> {
    let clients = args.stream_clients;
    let room = format!("stream{clients}x{}", std::process::id());
    let mut pollers =
        Pollers::start(args.client, args.kind, args.addr, &room, clients, &[]).await?;

    let cpu = self_cpu_ms();
    let started = Instant::now();
    let (senders, burst) = (args.stream_senders, args.stream_messages);
    let mut send_times = send_burst(args, &room, 0, burst, senders, None).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let (lost, duplicates, latencies) = tally(&mut pollers, clients, 0..burst).await;
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
            ("loadgen_cpu_ms", float(self_cpu_ms() - cpu)),
        ],
    );

    let cpu = self_cpu_ms();
    let mut send_times = send_burst(args, &room, burst, 5_000, 4, Some(250.0)).await?;
    let (lost, duplicates, latencies) = tally(&mut pollers, clients, burst..burst + 5_000).await;
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
            ("loadgen_cpu_ms", float(self_cpu_ms() - cpu)),
        ],
    );
    pollers.finish().await
}
