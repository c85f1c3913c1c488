//! What clients cost the server while they wait or come and go: `memory` (RSS per held poll,
//! then CPU used by idle held polls) and `churn` (RSS as a million client ids come and go).

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use tokio::task::JoinSet;

use crate::{
    pollers::Pollers,
    raw_conn::Conn,
    report::{float, Report},
    usage::{cpu_ms, rss_kib},
    Args,
};

/// `--idle-clients` held polls: server RSS before and after starting them, then the server
/// CPU time they cost in 10 s without messages.
pub(crate) async fn memory_and_idle(args: &Args, report: &mut Report) -> Result<()> {
    let clients = args.idle_clients;
    let room = format!("idle{}", std::process::id());
    let before = rss_kib(&args.pids)?;
    let pollers = Pollers::start(args.client, args.kind, args.addr, &room, clients, &[]).await?;
    let after = rss_kib(&args.pids)?;
    let cpu_before = cpu_ms(&args.pids)?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_cpu = cpu_ms(&args.pids)? - cpu_before;
    report.add(
        format!("memory-{clients}"),
        vec![
            ("client", args.client.json()),
            ("rss_before_kib", before.to_string()),
            ("rss_after_kib", after.to_string()),
            (
                "kib_per_poll",
                float(after.saturating_sub(before) as f64 / clients as f64),
            ),
        ],
    );
    report.add(
        format!("idle-{clients}-10s"),
        vec![
            ("client", args.client.json()),
            ("server_cpu_ms", float(idle_cpu)),
        ],
    );
    pollers.finish().await
}

/// Client ids coming and going: each id makes one poll that is answered at once (its cursor is
/// unknown, so the answer is a reset), then is never seen again. Two rounds with a pause longer
/// than the server's idle window between them: if idle clients are forgotten, memory stays flat.
pub(crate) async fn churn(args: &Args, report: &mut Report) -> Result<()> {
    const CONNECTIONS: usize = 64;
    let rss_start = rss_kib(&args.pids)?;
    let mut rss_after_round = Vec::new();
    for round in 0..2 {
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for connection in 0..CONNECTIONS {
            let (addr, total) = (args.addr, args.churn_clients);
            tasks.spawn(async move {
                let mut conn = Conn::connect(addr).await?;
                let mut client = connection;
                while client < total {
                    let request = format!(
                        "GET /api/poll?client_id=churn{round}x{client}&room=churn&last_message_id=gone HTTP/1.1\r\nHost: bench\r\n\r\n"
                    );
                    let response = conn.roundtrip(request.as_bytes()).await?;
                    if response.status != 200 {
                        bail!("churn poll answered {}", response.status);
                    }
                    client += CONNECTIONS;
                }
                anyhow::Ok(())
            });
        }
        while let Some(result) = tasks.join_next().await {
            result??;
        }
        let rate = args.churn_clients as f64 / started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(args.churn_pause_secs)).await;
        rss_after_round.push((rss_kib(&args.pids)?, rate));
    }
    let active: serde_json::Value = {
        let mut conn = Conn::connect(args.addr).await?;
        let response = conn
            .roundtrip(b"GET /api/stats HTTP/1.1\r\nHost: bench\r\n\r\n")
            .await?;
        serde_json::from_slice(response.body)?
    };
    report.add(
        format!("churn-2x{}", args.churn_clients),
        vec![
            ("rss_start_kib", rss_start.to_string()),
            ("rss_after_round1_kib", rss_after_round[0].0.to_string()),
            ("rss_after_round2_kib", rss_after_round[1].0.to_string()),
            ("polls_per_s", float(rss_after_round[1].1)),
            ("active_clients_after", active["active_clients"].to_string()),
        ],
    );
    Ok(())
}
