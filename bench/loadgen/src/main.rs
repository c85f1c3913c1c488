//! Load generator for longpoll-chat and, as a peer, nginx with the nchan long-poll module.
//!
//! One TCP connection (keep-alive) and one task per simulated client, on one of two HTTP/1.1
//! clients (`--client`): `raw` (the default), a small reader on `httparse` that allocates
//! nothing per poll (requests are written into a reused buffer, answers are read in place), or
//! `hyper`, hyper 1's client connection used as documented (`hyper_conn.rs`). Both send the same
//! requests and read answers' messages one at a time. The client shares the machine with the
//! server, so its CPU per answer is part of what a scenario measures: the fan-out is run with
//! both so that neither client's cost flatters one server. The counters the bench reads from
//! the server and the churn scenario always use the raw client. Every message
//! carries its sequence number and the instant it was sent, so receivers measure end-to-end latency
//! and the tally finds lost and duplicated messages. Every wait is bounded in time.
//!
//! Scenarios (see `bench/run.sh` for how the servers are started):
//! - `fanout`:  N clients hold a poll on one room; one send; time to each answer; 5 rounds.
//! - `memory`:  10,000 idle held polls: server RSS growth per poll, then CPU used in 10 s idle.
//! - `stream`:  clients poll in a loop with cursors while 4 senders send 8,000 messages as fast
//!   as they can, then 1,000 messages/s for 5 s: throughput, loss, duplicates, latency.
//! - `latency`: one client, 1,000 sequential send -> answer round trips.

use std::{
    collections::HashMap,
    fmt::Write as _,
    io::Write as _,
    net::SocketAddr,
    ops::Range,
    sync::OnceLock,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::{mpsc, watch},
    task::JoinSet,
};

mod hyper_conn;
use hyper_conn::HyperConn;

#[derive(Parser)]
#[command(about = "Load generator for long-poll servers")]
struct Args {
    /// Which server protocol to speak.
    #[arg(long, value_enum)]
    kind: Kind,
    /// Server address.
    #[arg(long)]
    addr: SocketAddr,
    /// The HTTP client of the pollers and senders (their rows say which).
    #[arg(long, value_enum, default_value = "raw")]
    client: HttpClient,
    /// Where the cross scenario sends (another instance sharing the server's rooms).
    #[arg(long)]
    send_addr: Option<SocketAddr>,
    /// Held-poll counts for the cross scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,1000")]
    cross_clients: Vec<usize>,
    /// Server processes whose memory and CPU time are measured (nginx: its workers).
    #[arg(long, value_delimiter = ',', required = true)]
    pids: Vec<u32>,
    /// Name of the run in the output (e.g. `ours-memory`).
    #[arg(long)]
    label: String,
    /// Scenarios to run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "latency,fanout,stream,memory"
    )]
    scenarios: Vec<String>,
    /// Client counts for the fan-out scenario.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    fanout_clients: Vec<usize>,
    /// Polling clients in the stream scenario.
    #[arg(long, default_value_t = 50)]
    stream_clients: usize,
    /// Concurrent senders (one connection each, one send in flight) in the stream scenario's
    /// flat-out phase.
    #[arg(long, default_value_t = 4)]
    stream_senders: u64,
    /// Messages sent in the stream scenario's flat-out phase.
    #[arg(long, default_value_t = 8_000)]
    stream_messages: u64,
    /// Held polls in the memory scenario.
    #[arg(long, default_value_t = 10_000)]
    idle_clients: usize,
    /// Distinct client ids per round of the churn scenario (two rounds).
    #[arg(long, default_value_t = 500_000)]
    churn_clients: usize,
    /// Seconds to wait between churn rounds (the server's client idle window plus a janitor pass).
    #[arg(long, default_value_t = 4)]
    churn_pause_secs: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// longpoll-chat's `GET /api/poll` and `POST /api/send`.
    Ours,
    /// nchan: `GET /sub/ROOM` (long-poll), `POST /pub/ROOM`, `/nchan_status`.
    Nchan,
}

/// The two client implementations.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum HttpClient {
    /// A hand-written HTTP/1.1 client on `httparse` (`Conn` below).
    Raw,
    /// hyper 1's HTTP/1.1 client connection (`HyperConn`, in `hyper_conn.rs`).
    Hyper,
}

impl HttpClient {
    /// The value of a result row's `client` field.
    fn json(self) -> String {
        match self {
            Self::Raw => r#""raw""#.into(),
            Self::Hyper => r#""hyper""#.into(),
        }
    }
}

fn now_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 keep-alive connection: the raw client.

struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` the last response took; dropped before the next request.
    consumed: usize,
}

/// A response, borrowed from its connection's buffer until the next request.
struct Response<'a> {
    status: u16,
    body: &'a [u8],
    etag: Option<&'a [u8]>,
    last_modified: Option<&'a [u8]>,
}

/// Where a response's parts lie in the connection's buffer.
struct Parsed {
    status: u16,
    body: Range<usize>,
    etag: Option<Range<usize>>,
    last_modified: Option<Range<usize>>,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr).await.context("connect")?;
        stream.set_nodelay(true)?;
        Ok(Self {
            addr,
            stream,
            buf: Vec::with_capacity(4096),
            consumed: 0,
        })
    }

    async fn reconnect(&mut self) -> Result<()> {
        *self = Self::connect(self.addr).await?;
        Ok(())
    }

    async fn roundtrip(&mut self, request: &[u8]) -> Result<Response<'_>> {
        self.buf.drain(..self.consumed);
        self.consumed = 0;
        self.stream.write_all(request).await?;
        loop {
            if let Some(parsed) = parse(&self.buf)? {
                self.consumed = parsed.body.end;
                let part = |range: Range<usize>| &self.buf[range];
                return Ok(Response {
                    status: parsed.status,
                    body: part(parsed.body),
                    etag: parsed.etag.map(part),
                    last_modified: parsed.last_modified.map(part),
                });
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                bail!("connection closed");
            }
        }
    }
}

/// Parses the response at the start of `buf`, if all of it is there.
fn parse(buf: &[u8]) -> Result<Option<Parsed>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head) = response.parse(buf)? else {
        return Ok(None);
    };
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let length: usize =
        std::str::from_utf8(header("content-length").context("response without content-length")?)?
            .trim()
            .parse()?;
    if buf.len() < head + length {
        return Ok(None);
    }
    // Header values borrow from `buf`: their offsets in it.
    let range_in_buf = |value: &[u8]| {
        let start = value.as_ptr() as usize - buf.as_ptr() as usize;
        start..start + value.len()
    };
    Ok(Some(Parsed {
        status: response.code.unwrap_or(0),
        body: head..head + length,
        etag: header("etag").map(range_in_buf),
        last_modified: header("last-modified").map(range_in_buf),
    }))
}

// ---------------------------------------------------------------------------------------------
// The two protocols.

/// Where a client is in a room's stream (empty: nowhere yet). Reused from poll to poll.
#[derive(Clone, Default)]
struct Cursor {
    last_id: String,
    etag: String,
    last_modified: String,
}

/// Writes a poll request into `request` (cleared first; its buffer is reused).
fn poll_request(kind: Kind, room: &str, client: usize, cursor: &Cursor, request: &mut Vec<u8>) {
    request.clear();
    // Writing to a Vec cannot fail.
    match kind {
        Kind::Ours => {
            let _ = write!(
                request,
                "GET /api/poll?client_id=c{client}&room={room}&timeout=60"
            );
            if !cursor.last_id.is_empty() {
                let _ = write!(request, "&last_message_id={}", cursor.last_id);
            }
            request.extend_from_slice(b" HTTP/1.1\r\nHost: bench\r\n\r\n");
        }
        Kind::Nchan => {
            let _ = write!(request, "GET /sub/{room} HTTP/1.1\r\nHost: bench\r\n");
            if !cursor.etag.is_empty() && !cursor.last_modified.is_empty() {
                let _ = write!(
                    request,
                    "If-None-Match: {}\r\nIf-Modified-Since: {}\r\n",
                    cursor.etag, cursor.last_modified
                );
            }
            request.extend_from_slice(b"\r\n");
        }
    }
}

/// A send's path, content type and body.
fn send_parts(kind: Kind, room: &str, text: &str) -> (String, &'static str, String) {
    match kind {
        Kind::Ours => (
            "/api/send".to_owned(),
            "application/json",
            format!(r#"{{"sender":"bench","text":"{text}","room":"{room}"}}"#),
        ),
        Kind::Nchan => (format!("/pub/{room}"), "text/plain", text.to_owned()),
    }
}

fn send_request(kind: Kind, room: &str, text: &str) -> Vec<u8> {
    let (path, content_type, body) = send_parts(kind, room, text);
    format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads a poll answer in one pass, without collecting its messages: `each` gets every
/// message's text, `last_id` the last message's id. Returns whether the answer is a reset; the
/// server writes `reset` after `messages`, so `each` has seen a reset answer's messages by then.
struct PollAnswerSeed<'c, F> {
    last_id: &'c mut String,
    each: F,
}

impl<'de, F: FnMut(&str)> DeserializeSeed<'de> for PollAnswerSeed<'_, F> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(&str)> Visitor<'de> for PollAnswerSeed<'_, F> {
    type Value = bool;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a poll answer")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<bool, A::Error> {
        let (mut messages, mut reset) = (false, false);
        while let Some(key) = map.next_key::<PollAnswerKey>()? {
            match key {
                PollAnswerKey::Messages => {
                    map.next_value_seed(MessagesSeed(&mut self))?;
                    messages = true;
                }
                PollAnswerKey::Reset => reset = map.next_value()?,
                PollAnswerKey::Other => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        if !messages {
            return Err(serde::de::Error::missing_field("messages"));
        }
        Ok(reset)
    }
}

/// The keys of a poll answer that matter here, matched without copying them.
#[derive(serde::Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum PollAnswerKey {
    Messages,
    Reset,
    #[serde(other)]
    Other,
}

/// The `messages` array of a poll answer, read one message at a time.
struct MessagesSeed<'s, 'c, F>(&'s mut PollAnswerSeed<'c, F>);

impl<'de, F: FnMut(&str)> DeserializeSeed<'de> for MessagesSeed<'_, '_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(&str)> Visitor<'de> for MessagesSeed<'_, '_, F> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a list of messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let answer = self.0;
        while let Some(message) = seq.next_element::<PolledMessage>()? {
            (answer.each)(&message.text);
            answer.last_id.clear();
            answer.last_id.push_str(&message.id);
        }
        Ok(())
    }
}

/// Borrowed unless the JSON escapes something (then owned: a borrowed `&str` would fail).
#[derive(serde::Deserialize)]
struct PolledMessage<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    text: std::borrow::Cow<'a, str>,
}

/// Calls `each` with the text of every message a poll answer delivered; advances the cursor.
fn delivered(
    kind: Kind,
    response: &Response,
    cursor: &mut Cursor,
    mut each: impl FnMut(&str),
) -> Result<()> {
    match kind {
        Kind::Ours => {
            if response.status != 200 {
                bail!("poll answered {}", response.status);
            }
            let answer = PollAnswerSeed {
                last_id: &mut cursor.last_id,
                each,
            };
            let mut json = serde_json::Deserializer::from_slice(response.body);
            let reset = answer.deserialize(&mut json)?;
            json.end()?;
            if reset {
                bail!("cursor reset: messages were lost");
            }
            Ok(())
        }
        Kind::Nchan => match response.status {
            200 => {
                for (kept, value) in [
                    (&mut cursor.etag, response.etag),
                    (&mut cursor.last_modified, response.last_modified),
                ] {
                    kept.clear();
                    kept.push_str(std::str::from_utf8(value.unwrap_or_default())?);
                }
                each(std::str::from_utf8(response.body)?);
                Ok(())
            }
            // 304/408: nothing new before nchan's own timeout.
            304 | 408 => Ok(()),
            status => bail!("poll answered {status}"),
        },
    }
}

/// A message as the bench sends it: `SEQ SENT_US`.
fn message_text(seq: u64) -> String {
    format!("{seq} {}", now_us())
}

fn parse_message(text: &str) -> Option<(u64, u64)> {
    let (seq, sent) = text.split_once(' ')?;
    Some((seq.parse().ok()?, sent.parse().ok()?))
}

/// Polls held right now, as the server reports it.
async fn held_polls(kind: Kind, addr: SocketAddr) -> Result<usize> {
    let path = match kind {
        Kind::Ours => "/api/stats",
        Kind::Nchan => "/nchan_status",
    };
    let mut conn = Conn::connect(addr).await?;
    let response = conn
        .roundtrip(format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes())
        .await?;
    match kind {
        Kind::Ours => {
            let stats: serde_json::Value = serde_json::from_slice(response.body)?;
            Ok(stats["held_polls"].as_u64().unwrap_or(0) as usize)
        }
        Kind::Nchan => {
            let text = String::from_utf8_lossy(response.body);
            let line = text
                .lines()
                .find_map(|line| line.strip_prefix("subscribers:"))
                .context("no subscribers line")?;
            Ok(line.trim().parse()?)
        }
    }
}

/// Waits (at most 60 s) until the server's count of held polls satisfies `done`.
async fn wait_held(
    kind: Kind,
    addr: SocketAddr,
    what: &str,
    done: impl Fn(usize) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let held = held_polls(kind, addr).await?;
        if done(held) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{held} polls held after 60 s, expected {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Clients.

/// A connection of either client: what the scenarios poll and send through.
enum Connection {
    /// The raw client and the buffer its poll requests are written into.
    Raw {
        conn: Conn,
        request: Vec<u8>,
    },
    Hyper(HyperConn),
}

impl Connection {
    async fn connect(client: HttpClient, addr: SocketAddr) -> Result<Self> {
        Ok(match client {
            HttpClient::Raw => Self::Raw {
                conn: Conn::connect(addr).await?,
                request: Vec::with_capacity(256),
            },
            HttpClient::Hyper => Self::Hyper(HyperConn::connect(addr).await?),
        })
    }

    async fn reconnect(&mut self) -> Result<()> {
        match self {
            Self::Raw { conn, .. } => conn.reconnect().await,
            Self::Hyper(conn) => conn.reconnect().await,
        }
    }

    /// Polls `room` as client number `client`, from `cursor`.
    async fn poll(
        &mut self,
        kind: Kind,
        room: &str,
        client: usize,
        cursor: &Cursor,
    ) -> Result<Response<'_>> {
        match self {
            Self::Raw { conn, request } => {
                poll_request(kind, room, client, cursor, request);
                conn.roundtrip(request).await
            }
            Self::Hyper(conn) => {
                let request = hyper_conn::poll_request(kind, room, client, cursor)?;
                conn.roundtrip(request).await
            }
        }
    }

    /// Sends `text` to `room`; returns the answer's status.
    async fn send(&mut self, kind: Kind, room: &str, text: &str) -> Result<u16> {
        match self {
            Self::Raw { conn, .. } => Ok(conn
                .roundtrip(&send_request(kind, room, text))
                .await?
                .status),
            Self::Hyper(conn) => {
                let request = hyper_conn::send_request(kind, room, text)?;
                Ok(conn.roundtrip(request).await?.status)
            }
        }
    }
}

/// One received message: which client, which message, when.
struct Delivery {
    client: usize,
    seq: u64,
    latency_us: u64,
}

/// Polls `room` in a loop until `stop`, reporting every message it receives.
async fn poller(
    http: HttpClient,
    kind: Kind,
    addr: SocketAddr,
    room: String,
    client: usize,
    deliveries: mpsc::UnboundedSender<Delivery>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let mut conn = Connection::connect(http, addr).await?;
    let mut cursor = Cursor::default();
    while !*stop.borrow() {
        let response = tokio::select! {
            response = conn.poll(kind, &room, client, &cursor) => response,
            _ = stop.changed() => break,
        };
        let response = match response {
            Ok(response) => response,
            Err(_) => {
                conn.reconnect().await?;
                continue;
            }
        };
        let received_us = now_us();
        delivered(kind, &response, &mut cursor, |text| {
            if let Some((seq, sent_us)) = parse_message(text) {
                let _ = deliveries.send(Delivery {
                    client,
                    seq,
                    latency_us: received_us.saturating_sub(sent_us),
                });
            }
        })?;
    }
    Ok(())
}

struct Pollers {
    kind: Kind,
    addr: SocketAddr,
    count: usize,
    /// Polls the server held before these started: they must all be gone again at the end, so
    /// the next scenario's count of held polls is its own.
    baseline: usize,
    tasks: JoinSet<Result<()>>,
    stop: watch::Sender<bool>,
    deliveries: mpsc::UnboundedReceiver<Delivery>,
}

impl Pollers {
    async fn start(
        http: HttpClient,
        kind: Kind,
        addr: SocketAddr,
        room: &str,
        count: usize,
    ) -> Result<Self> {
        let baseline = held_polls(kind, addr).await?;
        let (stop, stopped) = watch::channel(false);
        let (sender, deliveries) = mpsc::unbounded_channel();
        let mut tasks = JoinSet::new();
        for client in 0..count {
            tasks.spawn(poller(
                http,
                kind,
                addr,
                room.to_owned(),
                client,
                sender.clone(),
                stopped.clone(),
            ));
        }
        let expected = baseline + count;
        wait_held(kind, addr, &format!("{expected}"), |held| held >= expected).await?;
        Ok(Self {
            kind,
            addr,
            count,
            baseline,
            tasks,
            stop,
            deliveries,
        })
    }

    async fn finish(mut self) -> Result<()> {
        self.stop.send_replace(true);
        while let Some(result) = self.tasks.join_next().await {
            result??;
        }
        let baseline = self.baseline;
        wait_held(
            self.kind,
            self.addr,
            &format!("at most {baseline}"),
            |held| held <= baseline,
        )
        .await
    }

    /// Waits until every poller holds a poll again.
    async fn all_held(&self) -> Result<()> {
        let expected = self.baseline + self.count;
        wait_held(self.kind, self.addr, &format!("{expected}"), |held| {
            held >= expected
        })
        .await
    }
}

async fn send(conn: &mut Connection, kind: Kind, room: &str, seq: u64) -> Result<()> {
    let status = conn.send(kind, room, &message_text(seq)).await?;
    if !(200..300).contains(&status) {
        bail!("send answered {status}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Measurements.

fn p99(sorted: &[u64]) -> String {
    float(percentile(sorted, 0.99))
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

/// Resident memory of the processes, in KiB.
fn rss_kib(pids: &[u32]) -> Result<u64> {
    let mut total = 0;
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .context("no VmRSS")?;
        total += line.trim().trim_end_matches("kB").trim().parse::<u64>()?;
    }
    Ok(total)
}

/// CPU time used by processes, in milliseconds.
#[derive(Clone, Copy, Default)]
struct CpuTime {
    user_ms: f64,
    system_ms: f64,
}

impl CpuTime {
    fn total_ms(self) -> f64 {
        self.user_ms + self.system_ms
    }

    fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user_ms: self.user_ms - earlier.user_ms,
            system_ms: self.system_ms - earlier.system_ms,
        }
    }
}

/// User and system CPU time of the processes so far.
fn cpu_time(pids: &[u32]) -> Result<CpuTime> {
    let ms_per_tick = 1000.0 / 100.0; // USER_HZ on Linux
    let mut time = CpuTime {
        user_ms: 0.0,
        system_ms: 0.0,
    };
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("bad stat")?
            .1
            .split_whitespace()
            .collect();
        time.user_ms += fields[11].parse::<f64>()? * ms_per_tick;
        time.system_ms += fields[12].parse::<f64>()? * ms_per_tick;
    }
    Ok(time)
}

/// User + system CPU time of the processes, in milliseconds.
fn cpu_ms(pids: &[u32]) -> Result<f64> {
    Ok(cpu_time(pids)?.total_ms())
}

fn self_cpu_ms() -> f64 {
    cpu_ms(&[std::process::id()]).unwrap_or(f64::NAN)
}

/// Prints each result as a table line and as a JSON line (`JSON {...}`) for scripts.
struct Report {
    label: String,
}

impl Report {
    fn add(&self, scenario: String, fields: Vec<(&'static str, String)>) {
        let mut json = format!(r#"{{"run":"{}","scenario":"{scenario}""#, self.label);
        let mut line = format!("{:<16} {:<22}", self.label, scenario);
        for (name, value) in &fields {
            let _ = write!(json, r#","{name}":{value}"#);
            let _ = write!(line, " {name}={}", value.trim_matches('"'));
        }
        json.push('}');
        println!("{line}");
        println!("JSON {json}");
    }
}

fn float(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}")
    } else {
        "null".to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

async fn latency(args: &Args, report: &mut Report) -> Result<()> {
    let room = format!("latency{}", std::process::id());
    let mut pollers = Pollers::start(args.client, args.kind, args.addr, &room, 1).await?;
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

/// For each of `--fanout-clients`: that many polls, 5 sends.
async fn fanout(args: &Args, report: &mut Report) -> Result<()> {
    for &clients in &args.fanout_clients {
        let room = format!("fanout{clients}x{}", std::process::id());
        let scenario = format!("fanout-{clients}");
        wake_rounds(args, &room, clients, args.addr, 5, scenario, report).await?;
    }
    Ok(())
}

/// For each of `--cross-clients`: that many polls held on one instance, woken by sends to
/// another (`--send-addr`).
async fn cross(args: &Args, report: &mut Report) -> Result<()> {
    let send_addr = args
        .send_addr
        .context("the cross scenario needs --send-addr")?;
    for &clients in &args.cross_clients {
        let room = format!("cross{clients}x{}", std::process::id());
        let scenario = format!("cross-instance-{clients}");
        // As many samples for one poll as for a thousand.
        let rounds = if clients < 100 { 1_000 } else { 20 };
        wake_rounds(args, &room, clients, send_addr, rounds, scenario, report).await?;
    }
    Ok(())
}

/// `clients` polls held on `args.addr` and `rounds` sends to `send_addr`, each once every
/// poll is held again: how long each message takes to reach each poll.
async fn wake_rounds(
    args: &Args,
    room: &str,
    clients: usize,
    send_addr: SocketAddr,
    rounds: u64,
    scenario: String,
    report: &mut Report,
) -> Result<()> {
    let started = Instant::now();
    let mut pollers = Pollers::start(args.client, args.kind, args.addr, room, clients).await?;
    let setup = started.elapsed();
    let mut sender = Connection::connect(args.client, send_addr).await?;
    let cpu = self_cpu_ms();
    let server_cpu = cpu_time(&args.pids)?;
    let mut latencies = Vec::with_capacity(clients * rounds as usize);
    // Each connection's first answer, apart (see `first_round_p99_ms` below): how many
    // latencies the first round left, and the server CPU it took.
    let mut first_round = (0, CpuTime::default());
    for round in 0..rounds {
        pollers.all_held().await?;
        send(&mut sender, args.kind, room, round).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut received = 0;
        while received < clients {
            match tokio::time::timeout_at(deadline, pollers.deliveries.recv()).await {
                Ok(Some(delivery)) if delivery.seq == round => {
                    latencies.push(delivery.latency_us);
                    received += 1;
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
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

async fn stream(args: &Args, report: &mut Report) -> Result<()> {
    let clients = args.stream_clients;
    let room = format!("stream{clients}x{}", std::process::id());
    let mut pollers = Pollers::start(args.client, args.kind, args.addr, &room, clients).await?;

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

async fn memory_and_idle(args: &Args, report: &mut Report) -> Result<()> {
    let clients = args.idle_clients;
    let room = format!("idle{}", std::process::id());
    let before = rss_kib(&args.pids)?;
    let pollers = Pollers::start(args.client, args.kind, args.addr, &room, clients).await?;
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
async fn churn(args: &Args, report: &mut Report) -> Result<()> {
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

#[tokio::main]
async fn main() -> Result<()> {
    // On a worker thread rather than in `block_on`'s: every delivery a poller reports would
    // otherwise have to wake the main thread (a futex call each, thousands per round).
    tokio::spawn(run(Args::parse())).await?
}

async fn run(args: Args) -> Result<()> {
    let mut report = Report {
        label: args.label.clone(),
    };
    for scenario in &args.scenarios {
        let outcome = match scenario.as_str() {
            "latency" => latency(&args, &mut report).await,
            "fanout" => fanout(&args, &mut report).await,
            "cross" => cross(&args, &mut report).await,
            "stream" => stream(&args, &mut report).await,
            "memory" => memory_and_idle(&args, &mut report).await,
            "churn" => churn(&args, &mut report).await,
            other => bail!("unknown scenario {other}"),
        };
        if let Err(error) = outcome {
            println!("{:<16} {scenario:<22} FAILED: {error:#}", args.label);
        }
    }
    Ok(())
}
