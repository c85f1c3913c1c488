//! `sign-in-burst`: what a burst of sign-ins costs the polls held meanwhile. A sign-in verifies
//! an Argon2id hash on the server's blocking pool (a few at once, at most one fewer than its
//! cores), which takes CPU from the async workers that answer polls. `--burst-clients` polls
//! held on one room are woken round after round as in `fanout`: first `--burst-quiet-rounds`
//! rounds with no sign-in, then rounds for as long as `--burst-sign-ins` sign-ins, all started
//! at once, are running. The accounts are created before, so sign-up's hashing is not measured.

use std::time::Instant;

use anyhow::{bail, Result};
use tokio::task::JoinSet;

use super::fanout::wake_round;
use crate::{
    accounts,
    connection::Connection,
    pollers::Pollers,
    raw_conn::Conn,
    report::{float, p99, percentile, Report},
    usage::{cpu_time, self_cpu_ms},
    Args, Kind,
};

/// Three rows: the wake-ups without sign-ins (`sign-in-burst-N-quiet`), during them
/// (`sign-in-burst-N-during`), and the sign-ins' own times (`sign-in-burst-N-sign-ins`).
pub(crate) async fn sign_in_burst(args: &Args, report: &mut Report) -> Result<()> {
    if args.kind != Kind::Ours {
        bail!("sign-in-burst needs --kind ours");
    }
    let (clients, sign_ins) = (args.burst_clients, args.burst_sign_ins);
    let names = accounts::account_names("burst", sign_ins);
    accounts::sign_up_all(args.addr, &names).await?;
    let room = format!("burst{clients}x{}", std::process::id());
    let mut pollers =
        Pollers::start(args.client, args.kind, args.addr, &room, clients, &[]).await?;
    let mut sender = Connection::connect(args.client, args.addr).await?;
    let kind = args.kind;
    // Not measured: every connection's first answer pays costs later ones do not (see
    // `first_round_p99_ms` in `fanout`), and both phases should see the same rounds.
    wake_round(
        &mut pollers,
        &mut sender,
        kind,
        &room,
        clients,
        0,
        &mut Vec::new(),
    )
    .await?;
    let mut seq = 1;

    let cpu = (cpu_time(&args.pids)?, self_cpu_ms());
    let mut quiet = Vec::new();
    for _ in 0..args.burst_quiet_rounds {
        wake_round(
            &mut pollers,
            &mut sender,
            kind,
            &room,
            clients,
            seq,
            &mut quiet,
        )
        .await?;
        seq += 1;
    }
    let quiet_usage = (cpu_time(&args.pids)?.since(cpu.0), self_cpu_ms() - cpu.1);
    let quiet_rounds = args.burst_quiet_rounds;

    // Connected before the clock starts: the sign-ins' times are the server's.
    let mut conns = Vec::with_capacity(sign_ins);
    for _ in 0..sign_ins {
        conns.push(Conn::connect(args.addr).await?);
    }
    let cpu = (cpu_time(&args.pids)?, self_cpu_ms());
    let burst_started = Instant::now();
    let mut tasks = JoinSet::new();
    for (mut conn, name) in conns.into_iter().zip(names) {
        tasks.spawn(async move {
            accounts::sign_in(&mut conn, &name).await?;
            anyhow::Ok(burst_started.elapsed())
        });
    }
    // Every round started while a sign-in is still running counts, the last one included.
    let mut sign_in_times = Vec::with_capacity(sign_ins);
    let mut during = Vec::new();
    let mut during_rounds = 0;
    while !tasks.is_empty() {
        wake_round(
            &mut pollers,
            &mut sender,
            kind,
            &room,
            clients,
            seq,
            &mut during,
        )
        .await?;
        seq += 1;
        during_rounds += 1;
        while let Some(done) = tasks.try_join_next() {
            sign_in_times.push(done??.as_micros() as u64);
        }
    }
    let during_usage = (cpu_time(&args.pids)?.since(cpu.0), self_cpu_ms() - cpu.1);
    pollers.finish().await?;

    let phases = [
        ("quiet", quiet, quiet_rounds, quiet_usage),
        ("during", during, during_rounds, during_usage),
    ];
    for (phase, mut latencies, rounds, (server_cpu, loadgen_cpu)) in phases {
        latencies.sort_unstable();
        report.add(
            format!("sign-in-burst-{clients}-{phase}"),
            vec![
                ("client", args.client.json()),
                (
                    "sign_ins",
                    if phase == "quiet" { 0 } else { sign_ins }.to_string(),
                ),
                ("rounds", rounds.to_string()),
                ("delivered", latencies.len().to_string()),
                ("expected", (clients as u64 * rounds).to_string()),
                ("p50_ms", float(percentile(&latencies, 0.5))),
                ("p99_ms", p99(&latencies)),
                ("max_ms", float(percentile(&latencies, 1.0))),
                ("server_cpu_ms", float(server_cpu.total_ms())),
                ("server_user_ms", float(server_cpu.user_ms)),
                ("loadgen_cpu_ms", float(loadgen_cpu)),
            ],
        );
    }
    // All started at once, so each one's time includes its wait for a hashing permit.
    sign_in_times.sort_unstable();
    let burst_ms = percentile(&sign_in_times, 1.0);
    report.add(
        format!("sign-in-burst-{clients}-sign-ins"),
        vec![
            ("sign_ins", sign_in_times.len().to_string()),
            ("burst_ms", float(burst_ms)),
            ("per_sign_in_ms", float(burst_ms / sign_ins as f64)),
            ("p50_ms", float(percentile(&sign_in_times, 0.5))),
            ("p99_ms", p99(&sign_in_times)),
        ],
    );
    Ok(())
}
