//! `fanout` and `cross`: many polls held on one room, woken by one send at a time (`cross`:
//! sent to another instance sharing the rooms), round after round: how long each message takes
//! to reach each poll, and the CPU each round costs. With `--bearer-sessions`, the fan-out's
//! polls carry session tokens (`fanout-bearer-N` rows). `wake_round`, one send and its
//! answers, is shared with `sign-in-burst`.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use super::send;
use crate::{
    accounts,
    connection::Connection,
    pollers::Pollers,
    report::{float, p99, percentile, Report},
    usage::{cpu_time, self_cpu_ms, CpuTime},
    Args, Kind,
};

/// For each of `--fanout-clients`: that many polls, 5 sends. With `--bearer-sessions N`, N
/// accounts are signed up and in first, and the polls take their tokens in turn.
pub(crate) async fn fanout(args: &Args, report: &mut Report) -> Result<()> {
    let authorizations = match args.bearer_sessions {
        0 => Vec::new(),
        _ if args.kind != Kind::Ours => bail!("--bearer-sessions needs --kind ours"),
        count => accounts::bearer_sessions(args.addr, "fanout", count).await?,
    };
    let name = if authorizations.is_empty() {
        "fanout"
    } else {
        "fanout-bearer"
    };
    for &clients in &args.fanout_clients {
        let measured = WakeUps {
            scenario: format!("{name}-{clients}"),
            room: format!("fanout{clients}x{}", std::process::id()),
            clients,
            authorizations: &authorizations,
            send_addr: args.addr,
            rounds: 5,
        };
        wake_rounds(args, measured, report).await?;
    }
    Ok(())
}

/// For each of `--cross-clients`: that many polls held on one instance, woken by sends to
/// another (`--send-addr`).
pub(crate) async fn cross(args: &Args, report: &mut Report) -> Result<()> {
    let send_addr = args
        .send_addr
        .context("the cross scenario needs --send-addr")?;
    for &clients in &args.cross_clients {
        let measured = WakeUps {
            scenario: format!("cross-instance-{clients}"),
            room: format!("cross{clients}x{}", std::process::id()),
            clients,
            authorizations: &[],
            send_addr,
            // As many samples for one poll as for a thousand.
            rounds: if clients < 100 { 1_000 } else { 20 },
        };
        wake_rounds(args, measured, report).await?;
    }
    Ok(())
}

/// One wake-up measurement: `clients` polls held on `room` at `--addr` (taking the
/// `Authorization` values of `authorizations` in turn; none if empty), `rounds` sends to
/// `send_addr`. Its result row is named `scenario`.
struct WakeUps<'a> {
    scenario: String,
    room: String,
    clients: usize,
    authorizations: &'a [Arc<str>],
    send_addr: SocketAddr,
    rounds: u64,
}

/// Sends message `seq` once every poll is held again and waits (at most 10 s) until each of
/// the `clients` polls received it: their latencies are pushed onto `latencies`.
pub(super) async fn wake_round(
    pollers: &mut Pollers,
    sender: &mut Connection,
    kind: Kind,
    room: &str,
    clients: usize,
    seq: u64,
    latencies: &mut Vec<u64>,
) -> Result<()> {
    pollers.all_held().await?;
    send(sender, kind, room, seq).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut received = 0;
    while received < clients {
        match tokio::time::timeout_at(deadline, pollers.deliveries.recv()).await {
            Ok(Some(delivery)) if delivery.seq == seq => {
                latencies.push(delivery.latency_us);
                received += 1;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    Ok(())
}

/// The polls of `measured` and its sends, each once every poll is held again: how long each
/// message takes to reach each poll.
async fn wake_rounds(args: &Args, measured: WakeUps<'_>, report: &mut Report) -> Result<()> {
    let WakeUps {
        scenario,
        room,
        clients,
        authorizations,
        send_addr,
        rounds,
    } = measured;
    let room = room.as_str();
    let started = Instant::now();
    let mut pollers = Pollers::start(
        args.client,
        args.kind,
        args.addr,
        room,
        clients,
        authorizations,
    )
    .await?;
    let setup = started.elapsed();
    let mut sender = Connection::connect(args.client, send_addr).await?;
    let cpu = self_cpu_ms();
    let server_cpu = cpu_time(&args.pids)?;
    let mut latencies = Vec::with_capacity(clients * rounds as usize);
    // Each connection's first answer, apart (see `first_round_p99_ms` below): how many
    // latencies the first round left, and the server CPU it took.
    let mut first_round = (0, CpuTime::default());
    for round in 0..rounds {
        let kind = args.kind;
        wake_round(
            &mut pollers,
            &mut sender,
            kind,
            room,
            clients,
            round,
            &mut latencies,
        )
        .await?;
        if round == 0 {
            first_round = (latencies.len(), cpu_time(&args.pids)?.since(server_cpu));
        }
    }
    let server_cpu = cpu_time(&args.pids)?.since(server_cpu);
    let (first_len, first_cpu) = first_round;
    let (first, later) = latencies.split_at_mut(first_len);
    first.sort_unstable();
    later.sort_unstable();
    let (first_round_p99, later_rounds_p99) = (p99(first), p99(later));
    latencies.sort_unstable();
    report.add(
        scenario,
        vec![
            ("client", args.client.json()),
            ("sessions", authorizations.len().to_string()),
            ("delivered", latencies.len().to_string()),
            ("expected", (clients * rounds as usize).to_string()),
            ("p50_ms", float(percentile(&latencies, 0.5))),
            ("p99_ms", p99(&latencies)),
            ("max_ms", float(percentile(&latencies, 1.0))),
            ("server_cpu_ms", float(server_cpu.total_ms())),
            ("server_user_ms", float(server_cpu.user_ms)),
            ("loadgen_cpu_ms", float(self_cpu_ms() - cpu)),
            // The first round is every connection's first answer, the first use of its write
            // buffer: it may pay costs later rounds do not (page faults on fresh memory).
            ("first_round_p99_ms", first_round_p99),
            ("later_rounds_p99_ms", later_rounds_p99),
            ("first_round_server_cpu_ms", float(first_cpu.total_ms())),
            // From starting the clients (all at once) to the server holding all their polls: a
            // burst past the listen backlog shows here as whole seconds of handshake retries.
            ("setup_ms", float(setup.as_secs_f64() * 1000.0)),
        ],
    );
    pollers.finish().await
}
