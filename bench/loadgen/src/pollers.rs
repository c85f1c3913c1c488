//! The load itself: `Pollers`, one task and one connection per simulated client, each polling a
//! room in a loop (`GET /api/poll`) or holding one stream on several rooms (`POST /api/stream`),
//! anonymously or with one of a few bearer tokens, and reporting every message it receives as a
//! `Delivery` (a stream's answers are also counted, by what they carried: `StreamEvents`). Starting and finishing wait (bounded) until the server's count of held polls (a
//! stream counts as one) says all of them are held, then all gone, so each scenario measures
//! its own polls.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use tokio::{
    sync::{mpsc, watch},
    task::JoinSet,
};

use crate::{
    answer::{delivered, now_us, parse_message},
    connection::{Connection, Cursor, FollowedRoom},
    raw_conn::Conn,
    stream_answer::{stream_delivered, StreamAnswer, StreamScratch, StreamStatus},
    HttpClient, Kind,
};

/// One received message: which client, which room (its number in the scenario; 0 for the
/// scenarios of one room), which message, when.
pub(crate) struct Delivery {
    pub(crate) client: usize,
    pub(crate) room: u32,
    pub(crate) seq: u64,
    pub(crate) latency_us: u64,
}

/// What a simulated client follows.
pub(crate) enum Follow {
    /// One room, by `GET /api/poll` (nchan: `GET /sub/ROOM`); `index` is its number in the
    /// scenario.
    Room { name: String, index: u32 },
    /// Several rooms by one multi-room stream (`POST /api/stream`, ours only), each with its
    /// own cursor.
    Stream(Vec<FollowedRoom>),
}

/// Rooms of multi-room streams that were reset or became unavailable, over all pollers (the
/// single-room poll path treats a reset as an error instead), and what the streams' answers
/// carried. Scenarios read the counters before and after what they measure.
#[derive(Default)]
pub(crate) struct StreamEvents {
    pub(crate) resets: AtomicU64,
    pub(crate) unavailable: AtomicU64,
    /// Stream answers of any status, each a request the client makes again.
    pub(crate) answers: AtomicU64,
    /// Answers with a message in some room entry.
    pub(crate) with_messages: AtomicU64,
    /// Answers with who is online and typing (`live`), with or without a message.
    pub(crate) with_live: AtomicU64,
    /// Answers with no message but with `live`: woken by presence or typing alone.
    pub(crate) live_only: AtomicU64,
    /// Answers with `live` that came less than `LIVE_EARLY_US` after the same stream's
    /// previous one with `live`: not from one of the server's coalesced wake-ups, which are
    /// at least 200 ms apart per room.
    pub(crate) live_early: AtomicU64,
    /// The most people typing (`live.typing`) and online (`live.online`) any answer showed, and
    /// the most guests; scenarios reset them (`swap(0)`) per phase.
    pub(crate) typing_max: AtomicU64,
    pub(crate) online_max: AtomicU64,
    pub(crate) guests_max: AtomicU64,
}

/// Half the server's period of presence and typing wake-ups (200 ms): two coalesced wake-ups
/// of a room are never this close, however the answers of one are spread.
const LIVE_EARLY_US: u64 = 100_000;

impl StreamEvents {
    /// Counts one stream answer by what it carried; `last_live_us` is when this stream's
    /// previous answer with `live` arrived (moved to `received_us` if this one has it).
    fn answered(&self, answer: &StreamAnswer, received_us: u64, last_live_us: &mut Option<u64>) {
        self.answers.fetch_add(1, Ordering::Relaxed);
        if answer.messages > 0 {
            self.with_messages.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(live) = answer.live {
            self.with_live.fetch_add(1, Ordering::Relaxed);
            if last_live_us.is_some_and(|last| received_us - last < LIVE_EARLY_US) {
                self.live_early.fetch_add(1, Ordering::Relaxed);
            }
            *last_live_us = Some(received_us);
            if answer.messages == 0 {
                self.live_only.fetch_add(1, Ordering::Relaxed);
            }
            self.typing_max.fetch_max(live.typing.0, Ordering::Relaxed);
            self.online_max.fetch_max(live.online.0, Ordering::Relaxed);
            self.guests_max.fetch_max(live.guests, Ordering::Relaxed);
        }
    }
}

/// One simulated client: what it polls and as whom.
struct Poller {
    http: HttpClient,
    kind: Kind,
    addr: SocketAddr,
    follow: Follow,
    client: usize,
    /// The `Authorization` header's value every poll carries (`Bearer TOKEN`), if any.
    authorization: Option<Arc<str>>,
}

impl Poller {
    /// Polls in a loop until `stop`, reporting every message it receives.
    async fn run(
        self,
        deliveries: mpsc::UnboundedSender<Delivery>,
        events: Arc<StreamEvents>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<()> {
        let Self {
            http,
            kind,
            addr,
            mut follow,
            client,
            authorization,
        } = self;
        let mut conn = Connection::connect(http, addr).await?;
        let mut cursor = Cursor::default();
        let mut scratch = StreamScratch::default();
        let mut last_live_us = None;
        while !*stop.borrow() {
            let poll = async {
                match &follow {
                    Follow::Room { name, .. } => {
                        conn.poll(kind, name, client, &cursor, authorization.as_deref())
                            .await
                    }
                    Follow::Stream(rooms) => {
                        conn.stream(client, rooms, authorization.as_deref()).await
                    }
                }
            };
            let response = tokio::select! {
                response = poll => response,
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
            let report = |room, seq, sent_us: u64| {
                let _ = deliveries.send(Delivery {
                    client,
                    room,
                    seq,
                    latency_us: received_us.saturating_sub(sent_us),
                });
            };
            match &mut follow {
                Follow::Room { index, .. } => {
                    delivered(kind, &response, &mut cursor, |text| {
                        if let Some((seq, sent_us)) = parse_message(text) {
                            report(*index, seq, sent_us);
                        }
                    })?;
                }
                Follow::Stream(rooms) => {
                    let answer = stream_delivered(&response, rooms, &mut scratch, report)?;
                    events
                        .resets
                        .fetch_add(answer.resets.into(), Ordering::Relaxed);
                    events
                        .unavailable
                        .fetch_add(answer.unavailable.into(), Ordering::Relaxed);
                    events.answered(&answer, received_us, &mut last_live_us);
                    // No other request of this client_id is held and nothing disconnects it:
                    // either answer means the server lost track of the stream.
                    if matches!(
                        answer.status,
                        StreamStatus::Superseded | StreamStatus::Disconnected
                    ) {
                        bail!("stream of client {client} answered {:?}", answer.status);
                    }
                    if rooms.is_empty() {
                        bail!("every room of client {client}'s stream became unavailable");
                    }
                }
            }
        }
        Ok(())
    }
}

/// Pollers of one room, started together; what they receive arrives on `deliveries`.
pub(crate) struct Pollers {
    kind: Kind,
    addr: SocketAddr,
    count: usize,
    /// Polls the server held before these started: they must all be gone again at the end, so
    /// the next scenario's count of held polls is its own.
    baseline: usize,
    tasks: JoinSet<Result<()>>,
    stop: watch::Sender<bool>,
    pub(crate) deliveries: mpsc::UnboundedReceiver<Delivery>,
    pub(crate) events: Arc<StreamEvents>,
}

impl Pollers {
    /// Starts `count` pollers of `room` and waits until the server holds all their polls.
    /// Pollers take the `Authorization` values of `authorizations` in turn (none if empty).
    pub(crate) async fn start(
        http: HttpClient,
        kind: Kind,
        addr: SocketAddr,
        room: &str,
        count: usize,
        authorizations: &[Arc<str>],
    ) -> Result<Self> {
        let follows = (0..count).map(|_| Follow::Room {
            name: room.to_owned(),
            index: 0,
        });
        Self::start_following(http, kind, addr, follows.collect(), authorizations).await
    }

    /// Starts one poller per entry of `follows` (client number = its position) and waits until
    /// the server holds all their polls. Authorizations as for `start`.
    pub(crate) async fn start_following(
        http: HttpClient,
        kind: Kind,
        addr: SocketAddr,
        follows: Vec<Follow>,
        authorizations: &[Arc<str>],
    ) -> Result<Self> {
        let each = (0..follows.len())
            .map(|client| {
                (!authorizations.is_empty())
                    .then(|| authorizations[client % authorizations.len()].clone())
            })
            .collect();
        Self::start_as(http, kind, addr, follows, each).await
    }

    /// As `start_following`, with each poller's own `Authorization` value (`None`: anonymous),
    /// by client number.
    pub(crate) async fn start_as(
        http: HttpClient,
        kind: Kind,
        addr: SocketAddr,
        follows: Vec<Follow>,
        authorizations: Vec<Option<Arc<str>>>,
    ) -> Result<Self> {
        let count = follows.len();
        let baseline = held_polls(kind, addr).await?;
        let (stop, stopped) = watch::channel(false);
        let (sender, deliveries) = mpsc::unbounded_channel();
        let events = Arc::new(StreamEvents::default());
        let mut tasks = JoinSet::new();
        let mut authorizations = authorizations.into_iter();
        for (client, follow) in follows.into_iter().enumerate() {
            let poller = Poller {
                http,
                kind,
                addr,
                follow,
                client,
                authorization: authorizations.next().flatten(),
            };
            tasks.spawn(poller.run(sender.clone(), events.clone(), stopped.clone()));
        }
        let (expected, what) = (baseline + count, format!("{}", baseline + count));
        tokio::select! {
            held = wait_held(kind, addr, &what, |held| held >= expected) => held?,
            // A poller ends only when stopped or on an error (an answer it does not expect, such
            // as a 404 from a server without the endpoint): report it now, not after 60 s.
            Some(ended) = tasks.join_next() => {
                ended??;
                bail!("a poller ended before the server held all polls");
            }
        }
        Ok(Self {
            kind,
            addr,
            count,
            baseline,
            tasks,
            stop,
            deliveries,
            events,
        })
    }

    /// Stops the pollers and waits until the server holds no more polls than before they
    /// started.
    pub(crate) async fn finish(mut self) -> Result<()> {
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
    pub(crate) async fn all_held(&self) -> Result<()> {
        let expected = self.baseline + self.count;
        wait_held(self.kind, self.addr, &format!("{expected}"), |held| {
            held >= expected
        })
        .await
    }
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
