//! `push` (ours only; issue 28): does Web Push stay off the send path? A send hands the message
//! to the push worker's bounded queue and returns (`Push::sent`, a `try_send`); the worker then
//! picks who should hear of it, at most one push per person and room every 5 s, and delivery
//! tasks encrypt each push and POST it. This measures sends to a room nobody listens to
//! (`quiet-room`) against sends to one whose every message is for `--push-subscribers`
//! accounts (`push-room`), on the same server, in alternating blocks.
//!
//! Setup: a push service of the loadgen's own on 127.0.0.1 (`Sink`: answers every POST 201 and
//! counts it per subscriber), `--push-subscribers` accounts signed up and in, each subscribed
//! (`POST /api/me/push-subscriptions`, endpoint `http://127.0.0.1:PORT/push/<i>`, the same
//! valid browser keys for all) and at level `all` in `push-room`
//! (`PUT /api/me/rooms/push-room {"notify":"all"}`). The server must run with
//! `--push-allow-insecure 127.0.0.1` and sign-up and sign-in limits raised past the count, and
//! be fresh: the room names are fixed, so a second run would also push to the first run's
//! subscribers, whose push service is gone.
//!
//! Then `--push-sends` sends to each room, sequential on one connection (a guest's), in blocks
//! of `--push-block`: a quiet block, then a push block, then the push block's pushes are waited
//! for: one per subscriber at once (the "wave", started by the block's first send) and, when
//! the block had more than one message, one more per subscriber when the 5 s are up (the rest,
//! coalesced: "N new messages"). The next quiet block starts once every subscriber's 5 s have
//! lapsed again, so that every push block starts a wave of its own. In a push block each send
//! to `push-room` is followed by one to `quiet-room` (the "beside" row): if those are as slow
//! as the push room's own, what slows a send during a wave is the server being busy, not the
//! push room's send path. Each phase's row: the send round trips (p50 / p90 / p99 / max /
//! mean), the server's and the loadgen's CPU during its blocks (the sink is the loadgen's), the
//! pushes the sink took during its blocks; the push row also the pushes its blocks caused in
//! all, the waves' times and the server CPU after its blocks until the last push came, and the
//! server's own push counts (`chat_pushes_total`).

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU32, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::{AbortHandle, JoinSet},
};

use super::send;
use crate::{
    accounts,
    answer::now_us,
    connection::Connection,
    raw_conn::Conn,
    report::{float, percentile, Report},
    usage::{cpu_ms, self_cpu_ms},
    Args, Kind,
};

/// The room nobody listens to.
const QUIET_ROOM: &str = "quiet-room";
/// The room every subscriber set to `all`.
const PUSH_ROOM: &str = "push-room";
/// One push per person and room at most this often (the server's `PushConfig::every`, which no
/// option changes).
const PUSH_EVERY: Duration = Duration::from_secs(5);
/// Added to each wait for the server's coalescing period: its timers are late by a little.
const TIMER_MARGIN: Duration = Duration::from_millis(300);
/// How long the sink must have taken no push for the pushes a block caused to be over.
const SINK_QUIET: Duration = Duration::from_millis(300);
/// The longest a block's pushes may take to come, after its 5 s.
const PUSHES_DEADLINE: Duration = Duration::from_secs(10);
/// A browser's subscription keys (`p256dh`: a P-256 public key; `auth`: 16 bytes), valid, so
/// the server encrypts every push for real; nothing decrypts them.
const P256DH: &str =
    "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY";
const AUTH: &str = "_ordMnz7uTCmrpBTeUV4Bw";
/// Subscriptions made at once while setting up.
const SETUP_CONNECTIONS: usize = 8;

/// Four rows: the setup (`push-N-setup`), the quiet room's sends (`push-N-quiet-room`), the
/// push room's (`push-N-push-room`), and the quiet room's between them
/// (`push-N-push-room-beside`).
pub(crate) async fn push(args: &Args, report: &mut Report) -> Result<()> {
    if args.kind != Kind::Ours {
        bail!("push needs --kind ours");
    }
    let (subscribers, block) = (args.push_subscribers, args.push_block.max(1));
    let sink = Sink::start(subscribers).await?;

    let started = Instant::now();
    let tokens = accounts::bearer_sessions(args.addr, "push", subscribers).await?;
    let signed_in = started.elapsed();
    subscribe_all(args.addr, &tokens, sink.addr).await?;
    let subscribed = started.elapsed() - signed_in;
    report.add(
        format!("push-{subscribers}-setup"),
        vec![
            ("subscribers", subscribers.to_string()),
            ("sign_up_in_s", float(signed_in.as_secs_f64())),
            ("subscribe_s", float(subscribed.as_secs_f64())),
        ],
    );

    let mut sender = Sender {
        conn: Connection::connect(args.client, args.addr).await?,
        seq: 0,
    };
    // Not measured: the connection's and the quiet room's first sends.
    for _ in 0..block {
        sender.timed_send(QUIET_ROOM).await?;
    }
    let counted_before = push_counts(args.addr).await?;
    let (mut quiet, mut pushed) = (Phase::default(), Phase::default());
    let mut waves = Vec::new();
    let mut next_block = Instant::now();
    let mut left = args.push_sends;
    while left > 0 {
        let sends = block.min(left);
        left -= sends;
        tokio::time::sleep_until(next_block.into()).await;
        let rooms = (QUIET_ROOM, None);
        quiet.block(args, &mut sender, rooms, sends, &sink).await?;
        let first_send = Instant::now();
        let pushes_before = sink.pushes();
        let rooms = (PUSH_ROOM, Some(QUIET_ROOM));
        pushed.block(args, &mut sender, rooms, sends, &sink).await?;
        // What the block caused: a push per subscriber at once, and another when its 5 s are
        // up if it had more messages than the first.
        let expected = subscribers * if sends > 1 { 2 } else { 1 };
        let (server_cpu, cpu) = (cpu_ms(&args.pids)?, self_cpu_ms());
        let wave = sink
            .wait_for(pushes_before + subscribers as u64, first_send + PUSH_EVERY)
            .await;
        waves.extend(wave.map(|wave| wave.duration_since(first_send).as_micros() as u64));
        if sends > 1 {
            let deadline = first_send + PUSH_EVERY + PUSHES_DEADLINE;
            sink.wait_for(pushes_before + expected as u64, deadline)
                .await;
        }
        sink.quiet_for(SINK_QUIET).await;
        pushed.after_server_cpu_ms += cpu_ms(&args.pids)? - server_cpu;
        pushed.after_loadgen_cpu_ms += self_cpu_ms() - cpu;
        pushed.caused += sink.pushes() - pushes_before;
        pushed.expected += expected as u64;
        // Past the coalescing period that the last pushes started: the next block's first send
        // finds no subscriber pushed to lately, and starts a wave of its own.
        next_block = first_send + 2 * PUSH_EVERY + TIMER_MARGIN;
    }
    let counted = push_counts(args.addr).await?.since(&counted_before);
    waves.sort_unstable();
    let (reached, least, most) = sink.per_subscriber();

    quiet.report(
        args,
        report,
        format!("push-{subscribers}-quiet-room"),
        vec![],
    );
    let extra = vec![
        ("pushes_caused", pushed.caused.to_string()),
        ("pushes_expected", pushed.expected.to_string()),
        ("subscribers_reached", reached.to_string()),
        ("pushes_per_subscriber_min", least.to_string()),
        ("pushes_per_subscriber_max", most.to_string()),
        ("waves", waves.len().to_string()),
        ("wave_p50_ms", float(percentile(&waves, 0.5))),
        ("wave_max_ms", float(percentile(&waves, 1.0))),
        ("after_server_cpu_ms", float(pushed.after_server_cpu_ms)),
        ("after_loadgen_cpu_ms", float(pushed.after_loadgen_cpu_ms)),
        ("server_sent", counted.sent.to_string()),
        ("server_dropped", counted.dropped.to_string()),
        ("server_failed", counted.failed.to_string()),
        ("server_gone", counted.gone.to_string()),
        (
            "sink_other",
            sink.counts.other.load(Ordering::Relaxed).to_string(),
        ),
    ];
    pushed.report(args, report, format!("push-{subscribers}-push-room"), extra);
    Ok(())
}

/// One room's sends over all its blocks.
#[derive(Default)]
struct Phase {
    /// Each send's round trip, in microseconds.
    latencies: Vec<u64>,
    /// The push phase: the round trips of the sends to the quiet room between its own, while
    /// its waves were delivered.
    beside: Vec<u64>,
    blocks: usize,
    secs: f64,
    server_cpu_ms: f64,
    loadgen_cpu_ms: f64,
    /// Pushes the sink took while this phase's blocks ran.
    pushes_during: u64,
    /// The push phase: pushes its blocks caused (during them and until they stopped coming),
    /// how many it should have, and the CPU used after its blocks until they stopped.
    caused: u64,
    expected: u64,
    after_server_cpu_ms: f64,
    after_loadgen_cpu_ms: f64,
}

impl Phase {
    /// `sends` sequential sends to `room`, each followed by one to `beside` if given, timed.
    async fn block(
        &mut self,
        args: &Args,
        sender: &mut Sender,
        (room, beside): (&str, Option<&str>),
        sends: usize,
        sink: &Sink,
    ) -> Result<()> {
        let (server_cpu, cpu, pushes) = (cpu_ms(&args.pids)?, self_cpu_ms(), sink.pushes());
        let started = Instant::now();
        for _ in 0..sends {
            self.latencies.push(sender.timed_send(room).await?);
            if let Some(beside) = beside {
                self.beside.push(sender.timed_send(beside).await?);
            }
        }
        self.secs += started.elapsed().as_secs_f64();
        self.server_cpu_ms += cpu_ms(&args.pids)? - server_cpu;
        self.loadgen_cpu_ms += self_cpu_ms() - cpu;
        self.pushes_during += sink.pushes() - pushes;
        self.blocks += 1;
        Ok(())
    }

    fn report(
        mut self,
        args: &Args,
        report: &mut Report,
        scenario: String,
        extra: Vec<(&'static str, String)>,
    ) {
        let all_sends = self.latencies.len() + self.beside.len();
        let mut fields = vec![("client", args.client.json())];
        fields.extend(round_trips(&mut self.latencies));
        fields.extend([
            ("blocks", self.blocks.to_string()),
            ("sends_per_s", float(all_sends as f64 / self.secs)),
            ("server_cpu_ms", float(self.server_cpu_ms)),
            (
                "server_cpu_us_per_send",
                float(self.server_cpu_ms * 1000.0 / all_sends as f64),
            ),
            ("loadgen_cpu_ms", float(self.loadgen_cpu_ms)),
            ("pushes_during", self.pushes_during.to_string()),
        ]);
        fields.extend(extra);
        report.add(scenario.clone(), fields);
        if !self.beside.is_empty() {
            let mut fields = vec![("client", args.client.json())];
            fields.extend(round_trips(&mut self.beside));
            report.add(format!("{scenario}-beside"), fields);
        }
    }
}

/// The one sender (a guest) and the number of its next message.
struct Sender {
    conn: Connection,
    seq: u64,
}

impl Sender {
    /// Sends the next message to `room`: its round trip in microseconds.
    async fn timed_send(&mut self, room: &str) -> Result<u64> {
        let sent = Instant::now();
        send(&mut self.conn, Kind::Ours, room, self.seq).await?;
        self.seq += 1;
        Ok(sent.elapsed().as_micros() as u64)
    }
}

/// The count and percentiles of round trips (microseconds; sorted here).
fn round_trips(latencies: &mut [u64]) -> Vec<(&'static str, String)> {
    latencies.sort_unstable();
    let mean_ms = latencies.iter().sum::<u64>() as f64 / latencies.len() as f64 / 1000.0;
    vec![
        ("sends", latencies.len().to_string()),
        ("p50_ms", float(percentile(latencies, 0.5))),
        ("p90_ms", float(percentile(latencies, 0.9))),
        ("p99_ms", float(percentile(latencies, 0.99))),
        ("max_ms", float(percentile(latencies, 1.0))),
        ("mean_ms", float(mean_ms)),
    ]
}

/// Subscribes every account (`tokens`: one `Authorization` value each) to a push endpoint of
/// its own on the sink and sets it to hear of every message of `PUSH_ROOM`, a few at a time.
async fn subscribe_all(addr: SocketAddr, tokens: &[Arc<str>], sink: SocketAddr) -> Result<()> {
    let tokens: Arc<[Arc<str>]> = tokens.into();
    let mut tasks = JoinSet::new();
    for first in 0..SETUP_CONNECTIONS.min(tokens.len()) {
        let tokens = tokens.clone();
        tasks.spawn(async move {
            let mut conn = Conn::connect(addr).await?;
            for index in (first..tokens.len()).step_by(SETUP_CONNECTIONS) {
                let token = &tokens[index];
                let subscription = serde_json::json!({
                    "endpoint": format!("http://{sink}/push/{index}"),
                    "keys": { "p256dh": P256DH, "auth": AUTH },
                });
                let path = "/api/me/push-subscriptions";
                expect(&mut conn, "POST", path, token, &subscription, 201).await?;
                let path = format!("/api/me/rooms/{PUSH_ROOM}");
                let level = serde_json::json!({ "notify": "all" });
                expect(&mut conn, "PUT", &path, token, &level, 200).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// Sends `body` as JSON with `token`; an answer other than `status` is an error.
async fn expect(
    conn: &mut Conn,
    method: &str,
    path: &str,
    token: &str,
    body: &serde_json::Value,
    status: u16,
) -> Result<()> {
    let body = body.to_string();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = conn.roundtrip(request.as_bytes()).await?;
    if response.status != status {
        // 400 on the subscription: the server lacks `--push-allow-insecure 127.0.0.1`.
        bail!(
            "{method} {path} answered {}: {}",
            response.status,
            String::from_utf8_lossy(response.body)
        );
    }
    Ok(())
}

/// The server's `chat_pushes_total` by outcome.
#[derive(Default)]
struct PushCounts {
    sent: u64,
    dropped: u64,
    failed: u64,
    gone: u64,
}

impl PushCounts {
    fn since(&self, earlier: &PushCounts) -> PushCounts {
        PushCounts {
            sent: self.sent - earlier.sent,
            dropped: self.dropped - earlier.dropped,
            failed: self.failed - earlier.failed,
            gone: self.gone - earlier.gone,
        }
    }
}

/// Reads `chat_pushes_total` from `GET /metrics` (a count not there yet is 0).
async fn push_counts(addr: SocketAddr) -> Result<PushCounts> {
    let mut conn = Conn::connect(addr).await?;
    let response = conn
        .roundtrip(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")
        .await?;
    if response.status != 200 {
        bail!("/metrics answered {}", response.status);
    }
    let text = std::str::from_utf8(response.body).context("/metrics")?;
    let mut counts = PushCounts::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("chat_pushes_total{outcome=\"") else {
            continue;
        };
        let Some((outcome, value)) = rest.split_once("\"}") else {
            continue;
        };
        let value = value.trim().parse::<f64>().context("a push count")? as u64;
        match outcome {
            "sent" => counts.sent = value,
            "dropped" => counts.dropped = value,
            "failed" => counts.failed = value,
            "gone" => counts.gone = value,
            _ => {}
        }
    }
    Ok(counts)
}

/// A push service on 127.0.0.1: every POST to `/push/<i>` is answered 201 with no body and
/// counted for subscriber `i`; anything else is answered 201 too and counted apart. HTTP/1.1
/// with keep-alive, requests read in place; it lives as long as this value.
struct Sink {
    addr: SocketAddr,
    counts: Arc<SinkCounts>,
    accept: AbortHandle,
}

struct SinkCounts {
    /// Pushes taken.
    pushes: AtomicU64,
    /// Requests that were not a push to `/push/<i>` of a known subscriber.
    other: AtomicU64,
    /// When the last push came (`now_us`).
    last_us: AtomicU64,
    per_subscriber: Box<[AtomicU32]>,
}

impl Sink {
    async fn start(subscribers: usize) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(SinkCounts {
            pushes: AtomicU64::new(0),
            other: AtomicU64::new(0),
            last_us: AtomicU64::new(0),
            per_subscriber: (0..subscribers).map(|_| AtomicU32::new(0)).collect(),
        });
        let shared = counts.clone();
        let accept = tokio::spawn(async move {
            // Owned by this task: aborting it ends every connection.
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(take_pushes(stream, shared.clone()));
                while connections.try_join_next().is_some() {}
            }
        })
        .abort_handle();
        Ok(Self {
            addr,
            counts,
            accept,
        })
    }

    fn pushes(&self) -> u64 {
        self.counts.pushes.load(Ordering::Relaxed)
    }

    /// Waits until the sink has taken `pushes` in all, or `deadline`: when the count was
    /// reached, if it was.
    async fn wait_for(&self, pushes: u64, deadline: Instant) -> Option<Instant> {
        loop {
            if self.pushes() >= pushes {
                return Some(Instant::now());
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Waits until no push has come for `quiet`.
    async fn quiet_for(&self, quiet: Duration) {
        let quiet_us = quiet.as_micros() as u64;
        loop {
            let since = now_us().saturating_sub(self.counts.last_us.load(Ordering::Relaxed));
            if since >= quiet_us {
                return;
            }
            tokio::time::sleep(Duration::from_micros(quiet_us - since)).await;
        }
    }

    /// Subscribers that got at least one push, and the fewest and most any got.
    fn per_subscriber(&self) -> (usize, u32, u32) {
        let counts: Vec<u32> = (self.counts.per_subscriber.iter())
            .map(|count| count.load(Ordering::Relaxed))
            .collect();
        let reached = counts.iter().filter(|count| **count > 0).count();
        let least = counts.iter().copied().min().unwrap_or(0);
        let most = counts.iter().copied().max().unwrap_or(0);
        (reached, least, most)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Answers one connection's requests until it closes.
async fn take_pushes(mut stream: TcpStream, counts: Arc<SinkCounts>) -> Result<()> {
    const CREATED: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(8192);
    loop {
        let (length, subscriber) = loop {
            if let Some((length, subscriber)) = request_at_start(&buf)? {
                if buf.len() >= length {
                    break (length, subscriber);
                }
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        buf.drain(..length);
        match subscriber.and_then(|index| counts.per_subscriber.get(index)) {
            Some(count) => {
                count.fetch_add(1, Ordering::Relaxed);
                counts.last_us.fetch_max(now_us(), Ordering::Relaxed);
                counts.pushes.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                counts.other.fetch_add(1, Ordering::Relaxed);
            }
        }
        stream.write_all(CREATED).await?;
    }
}

/// The request whose head is complete at the start of `buf`: its whole length (head and body)
/// and, for a POST to `/push/<i>`, `i`.
fn request_at_start(buf: &[u8]) -> Result<Option<(usize, Option<usize>)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head) = request.parse(buf)? else {
        return Ok(None);
    };
    let header = |name: &str| {
        (request.headers.iter())
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value)
    };
    if header("transfer-encoding").is_some() {
        bail!("the sink reads bodies with a content-length only");
    }
    let length: usize = match header("content-length") {
        Some(value) => std::str::from_utf8(value)?.trim().parse()?,
        None => 0,
    };
    let subscriber = (request.method == Some("POST"))
        .then_some(request.path)
        .flatten()
        .and_then(|path| path.strip_prefix("/push/")?.parse().ok());
    Ok(Some((head + length, subscriber)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sink_reads_a_push_and_its_body() {
        let push =
            b"POST /push/42 HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 5\r\n\r\nhelloPOST";
        assert_eq!(request_at_start(push).unwrap(), Some((67, Some(42))));
        assert_eq!(request_at_start(&push[..40]).unwrap(), None);
        let other = b"GET /push/1 HTTP/1.1\r\n\r\n";
        assert_eq!(request_at_start(other).unwrap(), Some((other.len(), None)));
    }
}
