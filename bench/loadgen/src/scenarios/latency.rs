//! `latency`: one held poll and 1,000 sequential send -> answer round trips, the time from each
//! send to its answer.

use std::time::Duration;

use anyhow::{Context, Result};

use super::send;
use crate::{
    connection::Connection,
    pollers::Pollers,
    report::{float, percentile, Report},
    usage::{cpu_ms, self_cpu_ms},
    Args,
};

/// One held poll and 1,000 sends, each after the previous one was received.
pub(crate) async fn latency(args: &Args, report: &mut Report) -> Result<()> {
    let room = format!("latency{}", std::process::id());
    let mut pollers = Pollers::start(args.client, args.kind, args.addr, &room, 1, &[]).await?;
    let mut sender = Connection::connect(args.client, args.addr).await?;
    let cpu = self_cpu_ms();
    let server_cpu = cpu_ms(&args.pids)?;
    let mut latencies = Vec::with_capacity(1000);
    for seq in 0..1000 {
        send(&mut sender, args.kind, &room, seq).await?;
        let delivery = tokio::time::timeout(Duration::from_secs(10), pollers.deliveries.recv())
            .await
            .context("a wake-up took over 10 s")?
            .context("poller ended")?;
        latencies.push(delivery.latency_us);
    }
    latencies.sort_unstable();
    report.add(
        "latency".into(),
        vec![
            ("client", args.client.json()),
            ("round_trips", latencies.len().to_string()),
            ("p50_ms", float(percentile(&latencies, 0.5))),
            ("p99_ms", float(percentile(&latencies, 0.99))),
            ("max_ms", float(percentile(&latencies, 1.0))),
            ("server_cpu_ms", float(cpu_ms(&args.pids)? - server_cpu)),
            ("loadgen_cpu_ms", float(self_cpu_ms() - cpu)),
        ],
    );
    pollers.finish().await
}
