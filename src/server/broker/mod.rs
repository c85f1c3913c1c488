//! The long-poll broker: delivery only. Rooms with bounded, ordered logs, the polls and streams
//! waiting on them, the clients holding those, and who is online and typing. It knows nothing of
//! HTTP, Leptos or who is allowed what: the chat service (`server::chat`) decides that, then
//! calls [`Broker`].
//!
//! - this module: the [`Broker`] handle (sending, changing, history, disconnects, stats, health,
//!   shutdown), and `LogFeed`, what the store's log hands the rooms;
//! - `config`: [`BrokerConfig`] and its defaults;
//! - `poll`: `GET /api/poll`, one room's wait; `stream`: `POST /api/stream`, many rooms' wait;
//! - `room`: rooms and their logs (offsets, eviction, the shared answers of reads);
//! - `clients`: the client registry (one poll per client and room, the caps, ending polls
//!   early, shutdown);
//! - `answer`: [`PollAnswer`] and [`RoomAnswer`], serialized once for every poll or stream they
//!   answer, and [`StreamAnswer`], assembled from its rooms' [`RoomAnswer`]s;
//! - `presence`: who is online and typing in each room, from the streams, beside the logs;
//! - `cluster`: with a shared store, what this instance tells the others and hears from them.
//!
//! Invariants:
//! - A room's log holds its entries in the store's order, so delivery follows it.
//! - A poll takes the room's wake-up future *before* it reads the log, so a message committed
//!   between the read and the wait still wakes it (no lost wake-ups).
//! - Locks are `std::sync::Mutex`es held for a few instructions and never across an `.await`;
//!   guards are dropped before waking anyone.

mod answer;
mod clients;
mod cluster;
mod config;
mod poll;
mod presence;
mod room;
mod stream;
#[cfg(test)]
mod tests;

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    clock::unix_seconds,
    metrics::BrokerMetrics,
    search::SearchIndex,
    store::{Cluster, CommitSink, LogStore, Retention, StoreConfig, StoreError, StoredRoom},
};
use crate::{
    error::ChatError,
    model::{
        Change, ChangeKind, ClientId, ClientOwner, Entry, History, HistoryRequest, LiveState,
        Message, MessageText, Person, PollStatus, RoomName, SendReceipt, SendRequest, Stats,
        TEXT_MAX_CHARS,
    },
};
pub use answer::{PollAnswer, RoomAnswer, StreamAnswer};
use clients::{Clients, PollCaps};
use cluster::ClusterFeed;
pub use config::{
    BrokerConfig, DEFAULT_MAX_ANSWER_BYTES, DEFAULT_MAX_HELD_POLLS, DEFAULT_MAX_POLLS_PER_ADDRESS,
    DEFAULT_MAX_POLLS_PER_PERSON,
};
use presence::Presence;
use room::Rooms;
pub use room::Unread;

/// A cheap, cloneable handle to the broker.
#[derive(Clone)]
pub struct Broker {
    shared: Arc<Shared>,
}

struct Shared {
    rooms: Arc<Rooms>,
    clients: Arc<Clients>,
    presence: Arc<Presence>,
    store: Arc<dyn LogStore>,
    search: SearchIndex,
    /// The other instances sharing the store, if any.
    cluster: Option<Arc<dyn Cluster>>,
    config: BrokerConfig,
    metrics: BrokerMetrics,
    shutdown: CancellationToken,
}

impl Broker {
    /// Opens the store's log (and, for a shared store, its cluster), loads each room's recent
    /// messages from it, and starts the janitor that forgets idle clients and empty rooms.
    pub async fn open(config: BrokerConfig, store: &StoreConfig) -> Result<Self, StoreError> {
        let metrics = BrokerMetrics::default();
        let rooms = Arc::new(Rooms::new(config.room_capacity, config.max_answer_bytes));
        let caps = PollCaps {
            held_polls: config.max_held_polls,
            per_client: config.max_polls_per_client,
            per_person: config.max_polls_per_person,
            per_guest_address: config.max_polls_per_address,
        };
        let clients = Arc::new(Clients::new(caps, metrics.registry.clone()));
        let presence = Arc::new(Presence::new(config.presence_grace));
        // A store that keeps no index of its own gets one in memory, filled from its commits,
        // and (a shared one) from what it kept before this instance started.
        let indexed_here = match store {
            StoreConfig::Sqlite(_) => None,
            StoreConfig::Memory => Some(SearchIndex::in_memory(config.retention, false)?),
            StoreConfig::Redis { .. } => Some(SearchIndex::in_memory(config.retention, true)?),
        };
        let log_feed = Arc::new(LogFeed {
            rooms: rooms.clone(),
            clients: clients.clone(),
            presence: presence.clone(),
            search: indexed_here.clone(),
        });
        let cluster_feed = Arc::new(ClusterFeed {
            rooms: rooms.clone(),
            clients: clients.clone(),
            presence: presence.clone(),
        });
        let (log, cluster) = (
            store.open(log_feed, config.retention).await?,
            store.open_cluster(cluster_feed).await?,
        );
        for room in log.load(config.room_capacity).await? {
            rooms.restore(&room.name, room.recent, room.total);
        }
        let search = match store {
            StoreConfig::Sqlite(path) => SearchIndex::in_file(path)?,
            _ => indexed_here.expect("a store without an index of its own has one here"),
        };
        if let StoreConfig::Redis { .. } = store {
            let (log, search, kept) = (log.clone(), search.clone(), config.retention);
            tokio::spawn(async move { search.loaded(log_kept(&*log, kept).await) });
        }
        let broker = Self {
            shared: Arc::new(Shared {
                rooms,
                clients,
                presence,
                store: log,
                search,
                cluster,
                config,
                metrics,
                shutdown: CancellationToken::new(),
            }),
        };
        tokio::spawn(broker.clone().run_janitor());
        let shared = &broker.shared;
        tokio::spawn(shared.presence.clone().run(shared.shutdown.clone()));
        if let Some(cluster) = &shared.cluster {
            tokio::spawn(broker.clone().share_activity(cluster.clone()));
            let (cluster, shutdown) = (cluster.clone(), shared.shutdown.clone());
            tokio::spawn(shared.presence.clone().share(cluster, shutdown));
        }
        Ok(broker)
    }

    /// Stores a message and wakes every poll held on its room. `Ok` means the message is
    /// durable in the store and visible to polls and history.
    pub async fn send(&self, request: SendRequest) -> Result<SendReceipt, ChatError> {
        self.check_text_length(&request.text)?;
        let message = Message {
            id: Uuid::now_v7(),
            sender: request.sender.into(),
            text: request.text.into(),
            timestamp: unix_seconds(),
            room: request.room.into(),
            verified: request.author.is_some(),
            author: request.author,
            mentions: request.mentions,
            attachment: request.attachment,
            ..Message::default()
        };
        let receipt = SendReceipt::for_message(&message);
        let metrics = &self.shared.metrics;
        let started = Instant::now();
        if let Err(error) = self.shared.store.append(message.into()).await {
            metrics.send_failed.increment(1);
            return Err(error.reported("store append"));
        }
        metrics.sent.increment(1);
        metrics
            .send_duration
            .record(started.elapsed().as_secs_f64());
        Ok(receipt)
    }

    /// Refuses a text longer than this server's `--max-text-chars`.
    fn check_text_length(&self, text: &MessageText) -> Result<(), ChatError> {
        let max_chars = self.max_text_chars();
        // Texts were checked against TEXT_MAX_CHARS already: count characters only below it.
        if max_chars < TEXT_MAX_CHARS && text.as_str().chars().count() > max_chars {
            return Err(ChatError::invalid(format!(
                "text must be at most {max_chars} characters"
            )));
        }
        Ok(())
    }

    /// A message this instance keeps, as it is now; `None` for an unknown id, or a message
    /// older than its room keeps.
    pub fn message(&self, id: Uuid) -> Option<Arc<Message>> {
        self.shared.rooms.message(id)
    }

    /// Stores a change to `message` by `by` (known as `author`) in the message's room's log,
    /// and wakes the room's streams; returns the message as it is then. Who may make which
    /// change is the caller's to decide; a change that would do nothing (see
    /// [`Message::changed_by`]) is not stored.
    pub async fn change(
        &self,
        message: &Message,
        by: &str,
        author: &str,
        kind: ChangeKind,
    ) -> Result<Arc<Message>, ChatError> {
        if let ChangeKind::Edit { text, .. } = &kind {
            self.check_text_length(&MessageText::parse(text)?)?;
        }
        let change = Change {
            id: Uuid::now_v7(),
            room: message.room.clone(),
            message_id: message.id,
            by: by.to_owned(),
            author: author.to_owned(),
            timestamp: unix_seconds(),
            kind,
        };
        // Against the message as the log has it now, which may be newer than the caller's.
        let current = self
            .message(message.id)
            .unwrap_or_else(|| Arc::new(message.clone()));
        let Some(changed) = current.changed_by(&change) else {
            return Ok(current);
        };
        if let Err(error) = self.shared.store.append(change.into()).await {
            return Err(error.reported("store append"));
        }
        // The log has the message as the change left it, or as a later change did; if it was
        // evicted meanwhile, as this change left it.
        Ok(self
            .message(message.id)
            .unwrap_or_else(|| Arc::new(changed)))
    }

    /// The room's most recent messages, oldest first.
    pub fn history(&self, request: &HistoryRequest) -> History {
        let messages = self
            .shared
            .rooms
            .get(request.room.as_str())
            .map(|room| room.lock().recent(request.limit))
            .unwrap_or_default();
        History {
            room: request.room.to_string(),
            messages,
        }
    }

    /// The room's messages around `id` as they are now (the recent ones with their reactions,
    /// from the room here; older ones as the index keeps them), oldest first, within an
    /// answer's bytes (the farthest from `id` go first); 404 when the room does not keep it.
    pub async fn history_around(
        &self,
        room: &RoomName,
        id: Uuid,
        limit: usize,
    ) -> Result<History, ChatError> {
        let kept = self.shared.search.around(room.as_str(), id, limit).await?;
        let mut messages: VecDeque<Arc<Message>> = kept
            .into_iter()
            .map(|kept| self.message(kept.id).unwrap_or_else(|| Arc::new(kept)))
            .collect();
        let size = |message: &Message| message.text.len() + message.sender.len() + 512;
        let mut bytes: usize = messages.iter().map(|message| size(message)).sum();
        while bytes > self.max_answer_bytes() && messages.len() > 1 {
            let first_is_farther = messages.front().is_some_and(|m| m.id != id)
                && messages.iter().position(|m| m.id == id) >= Some(messages.len() / 2);
            let dropped = if first_is_farther {
                messages.pop_front()
            } else {
                messages
                    .pop_back()
                    .filter(|m| m.id != id)
                    .or_else(|| messages.pop_front())
            };
            bytes -= dropped.map_or(0, |message| size(&message));
        }
        Ok(History {
            room: room.to_string(),
            messages: messages.into(),
        })
    }

    /// The index of every message the store keeps.
    pub fn search_index(&self) -> &SearchIndex {
        &self.shared.search
    }

    /// Answers every poll the client holds with `disconnected` and forgets the client, here
    /// and (through a shared store) on every other instance, if it is `owner`'s. Returns how
    /// many polls this instance answered; unknown means unknown to every instance (or someone
    /// else's), and then no instance ends anything.
    pub async fn disconnect(
        &self,
        client_id: &ClientId,
        owner: &ClientOwner,
    ) -> Result<usize, ChatError> {
        let shared = &*self.shared;
        let answered_here = shared.clients.disconnect(client_id, owner);
        let known_elsewhere = match &shared.cluster {
            Some(cluster) => cluster
                .disconnect_client(&owner.to_string(), client_id.as_str())
                .await
                .map_err(|error| error.reported("disconnecting the client elsewhere")),
            None => Ok(false),
        };
        match (answered_here, known_elsewhere) {
            (Some(answered), _) => Ok(answered),
            (None, Ok(true)) => Ok(0),
            (None, Ok(false)) => Err(ChatError::UnknownClient),
            (None, Err(error)) => Err(error),
        }
    }

    /// Answers with `disconnected` the polls held on `room` whose holder `ends` picks (`None`
    /// for a guest's poll); returns how many. Their clients stay known.
    pub fn end_polls(&self, room: &str, ends: impl Fn(Option<&str>) -> bool) -> usize {
        match self.shared.rooms.get(room) {
            Some(room) => self.shared.clients.end_polls_on(&room, ends),
            None => 0,
        }
    }

    /// Deletes the room's messages from the store, then forgets it here and answers its polls
    /// with `disconnected`. A room of the same name used later starts empty.
    pub async fn delete_room(&self, room: &RoomName) -> Result<(), ChatError> {
        self.shared
            .store
            .delete_room(room.as_str())
            .await
            .map_err(|error| error.reported("deleting a room"))?;
        self.forget_room(room.as_str());
        Ok(())
    }

    /// Forgets the room here and answers its polls with `disconnected` (another instance
    /// deleted it from the shared store).
    pub fn forget_room(&self, room: &str) {
        self.shared.search.forget_room(room);
        if let Some(room) = self.shared.rooms.remove(room) {
            self.shared.clients.end_polls_on(&room, |_| true);
        }
    }

    /// Whether the room has, or ever had, messages, or someone holds a poll or stream of it
    /// here.
    pub fn room_in_use(&self, room: &str) -> bool {
        // Besides the map's and this one, a handle is a poll's, a stream's or presence's.
        self.shared
            .rooms
            .get(room)
            .is_some_and(|room| room.lock().total() > 0 || Arc::strong_count(&room) > 2)
    }

    /// Counters of the whole service, over the rooms `shown` picks. With a shared store, rooms
    /// and messages are those of every instance (each one learns of all messages) and so are
    /// active clients (counted by the store); held polls are this instance's.
    pub async fn stats(&self, shown: impl Fn(&str) -> bool) -> Stats {
        let shared = &*self.shared;
        let idle = shared.config.client_idle;
        let active_here = shared.clients.count_active(Instant::now(), idle);
        let active_clients = match &shared.cluster {
            None => active_here,
            Some(cluster) => match cluster.active_clients(idle).await {
                // The shared count lags by up to a second; it never shows fewer than are here.
                Ok(everywhere) => everywhere.max(active_here),
                Err(error) => {
                    tracing::warn!(%error, "counting active clients in the store failed");
                    active_here
                }
            },
        };
        let (total_messages, rooms) = shared.rooms.summary(shown);
        Stats {
            active_clients,
            total_messages,
            rooms,
            held_polls: self.held_polls(),
            timestamp: unix_seconds(),
        }
    }

    /// The most JSON one answer carries.
    pub fn max_answer_bytes(&self) -> usize {
        self.shared.config.max_answer_bytes
    }

    /// The longest message text `send` takes, in characters.
    pub fn max_text_chars(&self) -> usize {
        self.shared.config.max_text_chars.min(TEXT_MAX_CHARS)
    }

    /// Polls held on this instance right now.
    pub fn held_polls(&self) -> usize {
        self.shared.clients.held()
    }

    /// Whether the store can serve.
    pub async fn check_store(&self) -> Result<(), ChatError> {
        self.shared
            .store
            .check()
            .await
            .map_err(|error| error.reported("store check"))
    }

    /// Whether the store can serve and the server is not shutting down.
    pub async fn check_ready(&self) -> Result<(), ChatError> {
        if self.shared.shutdown.is_cancelled() {
            return Err(ChatError::ShuttingDown);
        }
        self.check_store().await
    }

    /// Answers every held poll (timeout-shaped) and makes new polls return at once.
    pub fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.shared.clients.close();
    }

    /// Forgets clients idle for longer than the idle window and rooms with neither messages
    /// nor anyone using them.
    fn forget_idle(&self) {
        let shared = &*self.shared;
        shared
            .clients
            .forget_idle(Instant::now(), shared.config.client_idle);
        shared.rooms.forget_unused();
    }

    async fn run_janitor(self) {
        let period = (self.shared.config.client_idle / 2).max(Duration::from_secs(1));
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => self.forget_idle(),
                () = self.shared.shutdown.cancelled() => return,
            }
        }
    }

    /// Says `person` is typing in `room`: the room's streams show it within a fraction of a
    /// second, until [`TYPING_LASTS_SECS`](crate::model::TYPING_LASTS_SECS) pass without a new
    /// signal or their message is sent. Nothing is stored.
    pub fn typing(&self, room: &RoomName, person: &Person) {
        let room = self.shared.rooms.get_or_create(room.as_str());
        self.shared.presence.typing(&room, person);
    }

    /// Whether the person of account `key` holds a stream of the room, here or on another
    /// instance, or ended one within the presence grace period: they are looking.
    pub fn is_present(&self, room: &str, key: &str) -> bool {
        (self.shared.rooms.get(room))
            .is_some_and(|room| lock(&room.presence).is_present(key, Instant::now()))
    }

    /// Who is online and typing in the room now.
    pub fn live_state(&self, room: &RoomName) -> LiveState {
        match self.shared.rooms.get(room.as_str()) {
            Some(room) => lock(&room.presence).state(Instant::now()),
            None => LiveState::default(),
        }
    }

    /// How many of the room's messages came after `last_read` (see `RoomLog::unread_after`);
    /// none in a room this instance has no messages of.
    pub fn unread_after(&self, room: &str, last_read: Option<Uuid>) -> Unread {
        self.shared
            .rooms
            .get(room)
            .map(|room| room.lock().unread_after(last_read))
            .unwrap_or_default()
    }
}

/// Locks a mutex, recovering the data if a panic poisoned it: every critical section here
/// leaves the data consistent at each step.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the store's log tells the broker: committed entries go to the rooms.
struct LogFeed {
    rooms: Arc<Rooms>,
    clients: Arc<Clients>,
    presence: Arc<Presence>,
    /// The index this instance fills itself, for a store that keeps none.
    search: Option<SearchIndex>,
}

/// Everything the store keeps, for an index filled here; nothing (logged) if it cannot be read.
async fn log_kept(log: &dyn LogStore, retention: Retention) -> Vec<StoredRoom> {
    log.load(retention.max_messages_per_room)
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, "cannot read the store's messages for the search index");
            Vec::new()
        })
}

impl CommitSink for LogFeed {
    /// A message also ends its author's typing, on every instance (each hears of it here).
    fn committed(&self, entry: Entry, offset: u64) {
        let room = self.rooms.get_or_create(entry.room());
        if let Some(author) = entry
            .message()
            .and_then(|message| message.author.as_deref())
        {
            self.presence.stopped_typing(&room, author);
        }
        if let Some(search) = &self.search {
            search.committed(&entry, offset);
        }
        self.rooms.committed(&room, entry, offset);
    }

    /// Held polls answer (timeout-shaped: the client polls again and catches up once the store
    /// is back) rather than wait on rooms that may stay silent.
    fn interrupted(&self) {
        self.clients.end_all(PollStatus::Timeout);
    }

    fn rewound(&self, room: &str) {
        if let Some(search) = &self.search {
            search.forget_room(room);
        }
        self.rooms.rewound(room);
    }
}
