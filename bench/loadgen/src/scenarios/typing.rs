//! `typing` (ours only): "100 people typing in a room of 1,000 listeners". `--typing-listeners`
//! clients each hold one `POST /api/stream` on one room asking for who is online and typing
//! (`live_version`, 0 at first, then the version of the last `live` answered, as a browser
//! does); the first `--typing-typists` of them are signed in (their streams carry their
//! tokens), the others are guests. Four phases on the same streams, one row each:
//!
//! - `-quiet`: `--typing-quiet-secs` with no message and no typing: every answer would be a
//!   request that presence alone cost (expected: none);
//! - `-idle`: one message every `--typing-message-ms` for `--typing-secs`, the typists idle:
//!   the baseline fan-out, and the answers that carried no message (expected: none);
//! - `-typing`: the same messages while each typist signals typing
//!   (`POST /api/rooms/{room}/typing`) every 3 s, staggered evenly over the 3 s;
//! - `-typing-alone`: the typists typing for `--typing-quiet-secs`, no message: the wake-ups
//!   typing causes on its own, which the server promises to coalesce to at most one per 200 ms
//!   and room (5 per listener per second).
//!
//! In the typing phases the typists start one signal period before the window opens, so all of
//! them type throughout it. Each phase counts the streams' answers by what they carried
//! (`StreamEvents`): with a message, with only `live` (woken by presence or typing), with
//! `live` sooner than 100 ms after the same stream's previous `live` (not from a coalesced
//! wake-up), per listener per second of the window; the fan-out latency of each message to each
//! listener (send to receipt, through however many re-polls that takes; the ledger checks
//! nothing is lost or duplicated); and server and loadgen CPU over the window. The messages are
//! sent by a guest (`POST /api/send`), so they clear nobody's typing. Before the phases, every
//! stream gets one message so that each has a cursor (a stream without one waits only for the
//! next message, and would miss one sent while it re-polls).

use std::{
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use anyhow::{bail, Result};
use tokio::task::JoinSet;

use super::{
    fanout::wake_round,
    ledger::{tally, Ledger, Tally},
    stream::{send_burst, Destinations},
};
use crate::{
    accounts,
    answer::now_us,
    connection::{Connection, FollowedRoom},
    pollers::{Follow, Pollers, StreamEvents},
    raw_conn::Conn,
    report::{float, percentile, Report},
    usage::{cpu_ms, self_cpu_ms},
    Args, Kind,
};

/// How often a typist signals while typing (the page's `TYPING_SIGNAL_EVERY_SECS`).
const SIGNAL_EVERY: Duration = Duration::from_secs(3);

/// How long the streams' answers must stop before a phase starts: five of the server's
/// presence wake-up periods (200 ms).
const SETTLED_AFTER: Duration = Duration::from_secs(1);

/// The phases, in the order they run: name, with messages, with the typists typing.
const PHASES: [(&str, bool, bool); 4] = [
    ("quiet", false, false),
    ("idle", true, false),
    ("typing", true, true),
    ("typing-alone", false, true),
];

/// One row per phase (`typing-LxT-quiet`, `-idle`, `-typing`, `-typing-alone`).
pub(crate) async fn typing(args: &Args, report: &mut Report) -> Result<()> {
    if args.kind != Kind::Ours {
        bail!("the typing scenario needs --kind ours");
    }
    let (listeners, typists) = (args.typing_listeners, args.typing_typists);
    if listeners == 0 || typists > listeners || args.typing_message_ms == 0 {
        bail!("--typing-typists must be at most --typing-listeners (> 0), --typing-message-ms > 0");
    }
    let tokens = accounts::bearer_sessions(args.addr, "typist", typists).await?;
    let room = format!("typing{}", std::process::id());
    let follows = (0..listeners)
        .map(|_| {
            Follow::Stream(vec![FollowedRoom {
                name: room.clone(),
                index: 0,
                last_id: String::new(),
                live_version: Some(0),
            }])
        })
        .collect();
    let authorizations = (0..listeners).map(|n| tokens.get(n).cloned()).collect();
    let started = Instant::now();
    let mut pollers =
        Pollers::start_as(args.client, args.kind, args.addr, follows, authorizations).await?;
    // Each stream's arrival changed who is online: the answers go on until the last one.
    settled(&pollers.events).await?;
    let setup = started.elapsed();
    let mut sender = Connection::connect(args.client, args.addr).await?;
    let mut primed = Vec::with_capacity(listeners);
    wake_round(
        &mut pollers,
        &mut sender,
        args.kind,
        &room,
        listeners,
        0,
        &mut primed,
    )
    .await?;
    if primed.len() < listeners {
        bail!(
            "{} listeners never got the first message",
            listeners - primed.len()
        );
    }
    settled(&pollers.events).await?;

    let mut first = 1;
    for (phase, with_messages, typing) in PHASES {
        let (secs, messages) = match with_messages {
            true => (
                args.typing_secs,
                args.typing_secs * 1000 / args.typing_message_ms,
            ),
            false => (args.typing_quiet_secs, 0),
        };
        let plan = PhasePlan {
            room: &room,
            listeners,
            typists: typing.then_some(tokens.as_slice()),
            secs,
            first,
            messages,
        };
        let Phase {
            counted,
            tally,
            send_times,
            signals,
        } = phase_of(args, &mut pollers, plan).await?;
        first += messages;
        let per_listener_s = |count: u64| float(count as f64 / listeners as f64 / counted.secs);
        let latencies = &tally.latencies;
        let others = counted.answers - counted.with_messages - counted.live_only;
        report.add(
            format!("typing-{listeners}x{typists}-{phase}"),
            vec![
                ("client", args.client.json()),
                ("listeners", listeners.to_string()),
                ("typing", if typing { typists } else { 0 }.to_string()),
                ("secs", float(counted.secs)),
                ("sent", messages.to_string()),
                ("expected", tally.expected.to_string()),
                ("lost", tally.lost.to_string()),
                ("duplicated", tally.duplicated.to_string()),
                ("fanout_p50_ms", float(percentile(latencies, 0.5))),
                ("fanout_p99_ms", float(percentile(latencies, 0.99))),
                ("fanout_max_ms", float(percentile(latencies, 1.0))),
                ("send_p99_ms", float(percentile(&send_times, 0.99))),
                ("answers", counted.answers.to_string()),
                ("answers_per_listener_s", per_listener_s(counted.answers)),
                (
                    "message_answers_per_listener_s",
                    per_listener_s(counted.with_messages),
                ),
                (
                    "live_only_per_listener_s",
                    per_listener_s(counted.live_only),
                ),
                (
                    "live_answers_per_listener_s",
                    per_listener_s(counted.with_live),
                ),
                (
                    "live_early_per_listener_s",
                    per_listener_s(counted.live_early),
                ),
                ("other_answers_per_listener_s", per_listener_s(others)),
                ("typing_seen_max", counted.typing_max.to_string()),
                ("online_seen_max", counted.online_max.to_string()),
                ("guests_seen_max", counted.guests_max.to_string()),
                ("signals", signals.sent.to_string()),
                ("signals_refused", signals.refused.to_string()),
                ("signal_p99_ms", float(percentile(&signals.times, 0.99))),
                ("server_cpu_ms", float(counted.server_cpu_ms)),
                ("loadgen_cpu_ms", float(counted.loadgen_cpu_ms)),
                ("setup_ms", float(setup.as_secs_f64() * 1000.0)),
            ],
        );
        // Nothing wakes anyone when the last signals lapse 6 s later; the last answers settle
        // before the next phase.
        settled(&pollers.events).await?;
    }
    pollers.finish().await
}

/// What a phase does: `messages` messages (numbered from `first`), one every
/// `--typing-message-ms`, to each of the `listeners` on `room`, while `typists` (their
/// `Authorization` values; `None`: nobody types) signal typing; the window lasts `secs`.
struct PhasePlan<'a> {
    room: &'a str,
    listeners: usize,
    typists: Option<&'a [Arc<str>]>,
    secs: u64,
    first: u64,
    messages: u64,
}

/// What one phase measured.
struct Phase {
    counted: Counted,
    tally: Tally,
    /// Send round trips, microseconds, sorted.
    send_times: Vec<u64>,
    signals: Signals,
}

/// Runs `plan`: the typists start one signal period before the window opens (so all of them
/// type throughout it) and stop as it closes; the window closes `secs` after it opened, or once
/// the last message reached every listener if that is later.
async fn phase_of(args: &Args, pollers: &mut Pollers, plan: PhasePlan<'_>) -> Result<Phase> {
    let PhasePlan {
        room,
        listeners,
        typists,
        secs,
        first,
        messages,
    } = plan;
    let secs = Duration::from_secs(secs);
    let typists = match typists {
        Some(tokens) => {
            let until = tokio::time::Instant::now() + SIGNAL_EVERY + secs;
            let signals = signal_typing(args.addr, room.to_owned(), tokens.to_vec(), until);
            let typists = tokio::spawn(signals);
            tokio::time::sleep(SIGNAL_EVERY).await;
            Some(typists)
        }
        None => None,
    };
    let window = Window::open(args, &pollers.events)?;
    let closes = tokio::time::Instant::now() + secs;
    let rate = 1000.0 / args.typing_message_ms as f64;
    let destinations = Destinations::one(room);
    let mut send_times = send_burst(args, &destinations, first, messages, 1, Some(rate)).await?;
    send_times.sort_unstable();
    let ledger = Ledger::new(listeners, 1, first..first + messages, |_, _| true);
    let tally = tally(pollers, ledger).await;
    tokio::time::sleep_until(closes).await;
    let mut signals = match typists {
        Some(typists) => typists.await??,
        None => Signals::default(),
    };
    let counted = window.close(args, &pollers.events)?;
    signals.times.sort_unstable();
    Ok(Phase {
        counted,
        tally,
        send_times,
        signals,
    })
}

/// The typists' signals: how many were answered 200, how many otherwise, and each one's round
/// trip in microseconds.
#[derive(Default)]
struct Signals {
    sent: u64,
    refused: u64,
    times: Vec<u64>,
}

/// Every typist (`tokens`, one `Authorization` value each) signals typing in `room` every
/// `SIGNAL_EVERY` until `until`, typist `n` first at `n / typists` of a period, each on its own
/// connection (the raw client's, whatever `--client` says: these are not what is measured).
async fn signal_typing(
    addr: std::net::SocketAddr,
    room: String,
    tokens: Vec<Arc<str>>,
    until: tokio::time::Instant,
) -> Result<Signals> {
    let start = tokio::time::Instant::now();
    let count = tokens.len() as u32;
    let mut tasks = JoinSet::new();
    for (n, token) in (0..).zip(tokens) {
        let request = format!(
            "POST /api/rooms/{room}/typing HTTP/1.1\r\nHost: bench\r\nAuthorization: {token}\r\nContent-Length: 0\r\n\r\n"
        );
        tasks.spawn(async move {
            let mut conn = Conn::connect(addr).await?;
            let mut ticks =
                tokio::time::interval_at(start + SIGNAL_EVERY * n / count, SIGNAL_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut signals = Signals::default();
            // Until `until`, not until the first tick after it.
            while tokio::time::timeout_at(until, ticks.tick()).await.is_ok() {
                let sent = now_us();
                let status = conn.roundtrip(request.as_bytes()).await?.status;
                signals.times.push(now_us() - sent);
                match status {
                    200 => signals.sent += 1,
                    _ => signals.refused += 1,
                }
            }
            anyhow::Ok(signals)
        });
    }
    let mut all = Signals::default();
    while let Some(done) = tasks.join_next().await {
        let signals = done??;
        all.sent += signals.sent;
        all.refused += signals.refused;
        all.times.extend(signals.times);
    }
    Ok(all)
}

/// Waits (at most 30 s) until no stream has been answered for `SETTLED_AFTER`.
async fn settled(events: &StreamEvents) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = events.answers.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(SETTLED_AFTER).await;
        let now = events.answers.load(Ordering::Relaxed);
        if now == last {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the streams were still being answered after 30 s");
        }
        last = now;
    }
}

/// The counters and CPU times at the start of a measured window.
struct Window {
    started: Instant,
    answers: u64,
    with_messages: u64,
    with_live: u64,
    live_only: u64,
    live_early: u64,
    server_cpu_ms: f64,
    loadgen_cpu_ms: f64,
}

/// What a window counted.
struct Counted {
    secs: f64,
    answers: u64,
    with_messages: u64,
    with_live: u64,
    live_only: u64,
    live_early: u64,
    typing_max: u64,
    online_max: u64,
    guests_max: u64,
    server_cpu_ms: f64,
    loadgen_cpu_ms: f64,
}

impl Window {
    /// Reads the counters (and resets the largest live state seen).
    fn open(args: &Args, events: &StreamEvents) -> Result<Self> {
        for max in [&events.typing_max, &events.online_max, &events.guests_max] {
            max.swap(0, Ordering::Relaxed);
        }
        Ok(Self {
            started: Instant::now(),
            answers: events.answers.load(Ordering::Relaxed),
            with_messages: events.with_messages.load(Ordering::Relaxed),
            with_live: events.with_live.load(Ordering::Relaxed),
            live_only: events.live_only.load(Ordering::Relaxed),
            live_early: events.live_early.load(Ordering::Relaxed),
            server_cpu_ms: cpu_ms(&args.pids)?,
            loadgen_cpu_ms: self_cpu_ms(),
        })
    }

    fn close(self, args: &Args, events: &StreamEvents) -> Result<Counted> {
        Ok(Counted {
            secs: self.started.elapsed().as_secs_f64(),
            answers: events.answers.load(Ordering::Relaxed) - self.answers,
            with_messages: events.with_messages.load(Ordering::Relaxed) - self.with_messages,
            with_live: events.with_live.load(Ordering::Relaxed) - self.with_live,
            live_only: events.live_only.load(Ordering::Relaxed) - self.live_only,
            live_early: events.live_early.load(Ordering::Relaxed) - self.live_early,
            typing_max: events.typing_max.load(Ordering::Relaxed),
            online_max: events.online_max.load(Ordering::Relaxed),
            guests_max: events.guests_max.load(Ordering::Relaxed),
            server_cpu_ms: cpu_ms(&args.pids)? - self.server_cpu_ms,
            loadgen_cpu_ms: self_cpu_ms() - self.loadgen_cpu_ms,
        })
    }
}
