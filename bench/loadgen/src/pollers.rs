//! The load itself: `Pollers`, one task and one connection per simulated client, each polling a
//! room in a loop (anonymously, or with one of a few bearer tokens) and reporting every message
//! it receives as a `Delivery`. Starting and finishing wait (bounded) until the server's count
//! of held polls says all of them are held, then all gone, so each scenario measures its own
//! polls.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use tokio::{
    sync::{mpsc, watch},
    task::JoinSet,
};

use crate::{
    answer::{delivered, now_us, parse_message},
    connection::{Connection, Cursor},
    raw_conn::Conn,
    HttpClient, Kind,
};

/// One received message: which client, which message, when.
pub(crate) struct Delivery {
    pub(crate) client: usize,
    pub(crate) seq: u64,
    pub(crate) latency_us: u64,
}

/// One simulated client: what it polls and as whom.
struct Poller {
    http: HttpClient,
    kind: Kind,
    addr: SocketAddr,
    room: String,
    client: usize,
    /// The `Authorization` header's value every poll carries (`Bearer TOKEN`), if any.
    authorization: Option<Arc<str>>,
}

impl Poller {
    /// Polls in a loop until `stop`, reporting every message it receives.
    async fn run(
        self,
        deliveries: mpsc::UnboundedSender<Delivery>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<()> {
        let Self {
            http,
            kind,
            addr,
            room,
            client,
            authorization,
        } = self;
        let mut conn = Connection::connect(http, addr).await?;
        let mut cursor = Cursor::default();
        while !*stop.borrow() {
            let poll = conn.poll(kind, &room, client, &cursor, authorization.as_deref());
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
        let baseline = held_polls(kind, addr).await?;
        let (stop, stopped) = watch::channel(false);
        let (sender, deliveries) = mpsc::unbounded_channel();
        let mut tasks = JoinSet::new();
        for client in 0..count {
            let poller = Poller {
                http,
                kind,
                addr,
                room: room.to_owned(),
                client,
                authorization: (!authorizations.is_empty())
                    .then(|| authorizations[client % authorizations.len()].clone()),
            };
            tasks.spawn(poller.run(sender.clone(), stopped.clone()));
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
