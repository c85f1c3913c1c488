//! The long-poll broker: rooms with bounded, ordered message logs, the polls waiting on them,
//! and the clients holding those polls. It knows nothing of HTTP or Leptos; the REST handlers and
//! the server functions are thin adapters over [`Broker`].
//!
//! Invariants:
//! - A room's log holds its messages in store order; offsets count every message the room has
//!   ever had, so a waiting poll's position stays meaningful while old messages are evicted.
//! - A poll takes the room's wake-up future *before* it reads the log, so a message committed
//!   between the read and the wait still wakes it (no lost wake-ups).
//! - Whatever ends a poll early (superseded, disconnected, store interrupted, shutdown) reaches
//!   it through its own channel in the client registry, taken under the registry's lock.
//! - Locks are `std::sync::Mutex`es held for a few instructions and never across an `.await`;
//!   guards are dropped before waking anyone.
//! - Each client holds at most one poll per room: a newer one supersedes the older at once.

use std::{
    collections::{HashMap, VecDeque},
    ops::Deref,
    pin::pin,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard, OnceLock,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use tokio::{
    sync::{oneshot, Notify},
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    metrics::BrokerMetrics,
    store::{CommitSink, Retention, Store, StoreConfig, StoreError},
};
use crate::{
    error::ChatError,
    model::{
        ClientId, History, HistoryRequest, Message, PollRequest, PollResponse, PollStatus,
        SendReceipt, SendRequest, Stats, MAX_MESSAGES_PER_POLL, TEXT_MAX_CHARS,
    },
};

/// Tunables of the broker.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Messages kept per room in memory; older ones are evicted (and answered with a reset).
    pub room_capacity: usize,
    /// A client with no held poll counts as active this long after its last poll ended, and is
    /// forgotten after it.
    pub client_idle: Duration,
    /// What the store keeps.
    pub retention: Retention,
    /// Polls held at once over the whole server; past it new polls get 503 with Retry-After.
    pub max_held_polls: usize,
    /// Polls one client may hold at once (on different rooms; one room holds one poll).
    pub max_polls_per_client: usize,
    /// Longest message text in characters; at most [`TEXT_MAX_CHARS`], which every message
    /// must respect anyway.
    pub max_text_chars: usize,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            room_capacity: 1_000,
            client_idle: Duration::from_secs(60),
            retention: Retention::default(),
            max_held_polls: 50_000,
            max_polls_per_client: 8,
            max_text_chars: TEXT_MAX_CHARS,
        }
    }
}

/// A cheap, cloneable handle to the broker.
#[derive(Clone)]
pub struct Broker {
    shared: Arc<Shared>,
}

struct Shared {
    rooms: Arc<Rooms>,
    clients: Arc<Clients>,
    store: Arc<dyn Store>,
    config: BrokerConfig,
    /// Polls held right now, over all rooms.
    held_polls: AtomicUsize,
    metrics: BrokerMetrics,
    shutdown: CancellationToken,
}

impl Broker {
    /// Opens the store, loads each room's recent messages from it, and starts the janitor that
    /// forgets idle clients and empty rooms.
    pub async fn open(config: BrokerConfig, store: &StoreConfig) -> Result<Self, StoreError> {
        let rooms = Arc::new(Rooms::new(config.room_capacity));
        let clients = Arc::new(Clients::default());
        let sink = Arc::new(Sink {
            rooms: rooms.clone(),
            clients: clients.clone(),
        });
        let store = store.open(sink, config.retention).await?;
        for room in store.load(config.room_capacity).await? {
            rooms.restore(&room.name, room.recent, room.total);
        }
        let broker = Self {
            shared: Arc::new(Shared {
                rooms,
                clients,
                store,
                config,
                held_polls: AtomicUsize::new(0),
                metrics: BrokerMetrics::default(),
                shutdown: CancellationToken::new(),
            }),
        };
        tokio::spawn(broker.clone().run_janitor());
        if broker.shared.store.is_shared() {
            tokio::spawn(broker.clone().share_activity());
        }
        Ok(broker)
    }

    /// Stores a message and wakes every poll held on its room. `Ok` means the message is
    /// durable in the store and visible to polls and history.
    pub async fn send(&self, request: SendRequest) -> Result<SendReceipt, ChatError> {
        let max_chars = self.max_text_chars();
        // Texts were checked against TEXT_MAX_CHARS already: count characters only below it.
        if max_chars < TEXT_MAX_CHARS && request.text.as_str().chars().count() > max_chars {
            return Err(ChatError::invalid(format!(
                "text must be at most {max_chars} characters"
            )));
        }
        let message = Message {
            id: Uuid::now_v7(),
            sender: request.sender.into(),
            text: request.text.into(),
            timestamp: unix_now(),
            room: request.room.into(),
        };
        let receipt = SendReceipt::for_message(&message);
        let metrics = &self.shared.metrics;
        let started = Instant::now();
        self.shared.store.append(message).await.map_err(|error| {
            tracing::error!(%error, "store append failed");
            metrics.send_failed.increment(1);
            metrics.store_errors.increment(1);
            ChatError::StoreUnavailable
        })?;
        metrics.sent.increment(1);
        metrics
            .send_duration
            .record(started.elapsed().as_secs_f64());
        Ok(receipt)
    }

    /// Holds until the room has messages the client has not seen, the timeout passes, a newer
    /// poll of the same client on the same room supersedes this one, the client is
    /// disconnected, or the server shuts down.
    ///
    /// Fails with [`ChatError::TooManyPolls`] when the server or the client already holds as
    /// many polls as allowed (a poll that supersedes another is always accepted).
    pub async fn poll(&self, request: PollRequest) -> Result<PollAnswer, ChatError> {
        let answer = self.wait_for_messages(&request).await;
        let metrics = &self.shared.metrics;
        match &answer {
            Ok(answer) => metrics.poll_answered(answer.status, answer.reset, answer.messages.len()),
            Err(_) => metrics.poll_refused(),
        }
        answer
    }

    async fn wait_for_messages(&self, request: &PollRequest) -> Result<PollAnswer, ChatError> {
        let shared = &*self.shared;
        let room_name = request.room.as_str();
        let room = shared.rooms.get_or_create(room_name);
        let (_held, mut ended) = match HeldPoll::register(shared, request, &room) {
            Ok(registered) => registered,
            Err(refused) => {
                // A refused poll leaves nothing behind, not even the empty room it created.
                shared.rooms.forget_if_unused(room_name, room);
                return Err(refused);
            }
        };
        let mut timeout = pin!(tokio::time::sleep(request.timeout));
        let mut position = None;
        let mut caught_up = false;
        let mut woken = false;
        loop {
            // Made before the log is read, so it completes for any message committed after
            // that read (tokio's `Notified` sees `notify_waiters` calls from its creation on).
            // It joins the room's waiter list only if the poll must wait: a woken poll usually
            // finds its message below and returns without touching the list.
            let arrived = pin!(room.arrived.notified());
            let start = match position {
                Some(offset) => Some(offset),
                None => room.lock().start_after(request.last_message_id.as_deref()),
            };
            if start.is_none() && !caught_up && request.last_message_id.is_some() {
                // The cursor may come from another instance sharing the store and be newer
                // than anything this one has seen yet: fetch what the store has, then look again.
                caught_up = true;
                if let Err(error) = shared.store.catch_up(room_name).await {
                    tracing::warn!(%error, room = room_name, "store catch-up failed");
                }
                continue;
            }
            {
                let mut log = room.lock();
                let Some(from) = start else {
                    return Ok(log.reset());
                };
                match log.read_from(from) {
                    Read::Nothing => position = Some(from),
                    Read::Messages(answer) => {
                        if let (true, Some(newest)) = (woken, answer.messages.last()) {
                            let delay = unix_now() - newest.timestamp;
                            shared.metrics.wakeup.record(delay.max(0.0));
                        }
                        return Ok(answer);
                    }
                    // More messages arrived than the room keeps since this poll last looked.
                    Read::Evicted => return Ok(log.reset()),
                }
            }
            tokio::select! {
                () = arrived => woken = true,
                () = &mut timeout => return Ok(PollAnswer::empty(PollStatus::Timeout)),
                // Superseded, disconnected, or timeout-shaped when the store lost sight of new
                // messages or the server shuts down (see `Clients::end_all`).
                end = &mut ended => {
                    // A dropped sender means the client was forgotten: treat it as disconnected.
                    return Ok(PollAnswer::empty(end.unwrap_or(PollStatus::Disconnected)));
                }
            }
        }
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

    /// Answers every poll the client holds with `disconnected` and forgets the client, here
    /// and (through a shared store) on every other instance. Returns how many polls this
    /// instance answered; unknown means unknown to every instance.
    pub async fn disconnect(&self, client_id: &ClientId) -> Result<usize, ChatError> {
        let shared = &*self.shared;
        let answered_here = shared.clients.disconnect(client_id);
        shared.metrics.clients.set(shared.clients.count() as f64);
        let known_elsewhere = shared
            .store
            .disconnect_client(client_id.as_str())
            .await
            .map_err(|error| {
                tracing::warn!(%error, "disconnecting the client on other instances failed");
                shared.metrics.store_errors.increment(1);
                ChatError::StoreUnavailable
            });
        match (answered_here, known_elsewhere) {
            (Some(answered), _) => Ok(answered),
            (None, Ok(true)) => Ok(0),
            (None, Ok(false)) => Err(ChatError::UnknownClient),
            (None, Err(error)) => Err(error),
        }
    }

    /// Counters of the whole service. With a shared store, rooms and messages are those of
    /// every instance (each one learns of all messages) and so are active clients (counted by
    /// the store); held polls are this instance's.
    pub async fn stats(&self) -> Stats {
        let shared = &*self.shared;
        let idle = shared.config.client_idle;
        let active_here = shared.clients.count_active(Instant::now(), idle);
        let active_clients = match shared.store.active_clients(idle).await {
            // The shared count lags by up to a second; it never shows fewer than are here.
            Ok(everywhere) => everywhere.map_or(active_here, |count| count.max(active_here)),
            Err(error) => {
                tracing::warn!(%error, "counting active clients in the store failed");
                active_here
            }
        };
        let (total_messages, rooms) = shared.rooms.summary();
        Stats {
            active_clients,
            total_messages,
            rooms,
            held_polls: self.held_polls(),
            timestamp: unix_now(),
        }
    }

    /// The longest message text `send` takes, in characters.
    pub fn max_text_chars(&self) -> usize {
        self.shared.config.max_text_chars.min(TEXT_MAX_CHARS)
    }

    /// Polls held on this instance right now.
    pub fn held_polls(&self) -> usize {
        self.shared.held_polls.load(Ordering::Relaxed)
    }

    /// Whether the store can serve.
    pub async fn check_store(&self) -> Result<(), ChatError> {
        self.shared.store.check().await.map_err(|error| {
            tracing::warn!(%error, "store check failed");
            self.shared.metrics.store_errors.increment(1);
            ChatError::StoreUnavailable
        })
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
        // After the cancellation: a poll registering later sees it (see `HeldPoll::register`).
        self.shared.clients.end_all(PollStatus::Timeout);
    }

    /// Forgets clients idle for longer than the idle window and rooms with neither messages
    /// nor anyone using them. Runs periodically; public so tests can drive it.
    pub fn forget_idle(&self) {
        let shared = &*self.shared;
        let remaining = shared
            .clients
            .forget_idle(Instant::now(), shared.config.client_idle);
        shared.metrics.clients.set(remaining as f64);
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

    /// Tells a shared store, every [`SHARE_ACTIVITY_EVERY`], which clients were active here
    /// since the last time, so that every instance can count them.
    async fn share_activity(self) {
        let shared = &*self.shared;
        let mut ticks = tokio::time::interval(SHARE_ACTIVITY_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut since = Instant::now();
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = shared.shutdown.cancelled() => return,
            }
            let now = Instant::now();
            let active = shared.clients.active_since(since);
            since = now;
            if active.is_empty() {
                continue;
            }
            if let Err(error) = shared.store.record_active_clients(active).await {
                tracing::warn!(%error, "sharing active clients failed");
            }
        }
    }
}

/// How often a broker on a shared store reports its active clients (and so how stale the
/// cluster-wide count may be).
const SHARE_ACTIVITY_EVERY: Duration = Duration::from_secs(1);

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// Locks a mutex, recovering the data if a panic poisoned it: every critical section here
/// leaves the data consistent at each step.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A poll's answer. Polls that get the same answer share it (one send answers every caught-up
/// poll of the room with the same messages), and its JSON is made once for all of them.
#[derive(Debug, Clone)]
pub struct PollAnswer(Arc<SharedAnswer>);

#[derive(Debug)]
struct SharedAnswer {
    response: PollResponse,
    json: OnceLock<Bytes>,
}

impl PollAnswer {
    fn new(response: PollResponse) -> Self {
        Self(Arc::new(SharedAnswer {
            response,
            json: OnceLock::new(),
        }))
    }

    fn empty(status: PollStatus) -> Self {
        Self::new(PollResponse::empty(status))
    }

    /// The answer as JSON, serialized by the first poll that asks.
    pub fn to_json(&self) -> Result<Bytes, ChatError> {
        if let Some(json) = self.0.json.get() {
            return Ok(json.clone());
        }
        let json = serde_json::to_vec(&self.0.response).map_err(|error| {
            tracing::error!(%error, "a poll answer did not serialize");
            ChatError::Internal
        })?;
        Ok(self.0.json.get_or_init(|| json.into()).clone())
    }
}

impl PartialEq for PollAnswer {
    fn eq(&self, other: &Self) -> bool {
        self.0.response == other.0.response
    }
}

impl PartialEq<PollResponse> for PollAnswer {
    fn eq(&self, other: &PollResponse) -> bool {
        self.0.response == *other
    }
}

impl Deref for PollAnswer {
    type Target = PollResponse;

    fn deref(&self) -> &PollResponse {
        &self.0.response
    }
}

/// All rooms by name. Also the store's [`CommitSink`]: committed messages land here.
struct Rooms {
    map: Mutex<HashMap<String, Arc<Room>>>,
    capacity: usize,
}

struct Room {
    log: Mutex<RoomLog>,
    /// Notified (all waiters at once) after each message is appended to the log.
    arrived: Notify,
}

impl Room {
    fn lock(&self) -> MutexGuard<'_, RoomLog> {
        lock(&self.log)
    }
}

impl Rooms {
    fn new(capacity: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn get(&self, name: &str) -> Option<Arc<Room>> {
        lock(&self.map).get(name).cloned()
    }

    fn get_or_create(&self, name: &str) -> Arc<Room> {
        let mut map = lock(&self.map);
        if let Some(room) = map.get(name) {
            return room.clone();
        }
        let room = Arc::new(Room {
            log: Mutex::new(RoomLog::new(self.capacity)),
            arrived: Notify::new(),
        });
        map.insert(name.to_owned(), room.clone());
        room
    }

    fn restore(&self, name: &str, recent: Vec<Arc<Message>>, total: u64) {
        let room = self.get_or_create(name);
        let mut log = room.lock();
        let first_offset = total - recent.len() as u64;
        for (offset, message) in (first_offset..).zip(recent) {
            log.insert(offset, message);
        }
    }

    /// Total messages ever sent to known rooms, and the names of rooms in use.
    fn summary(&self) -> (u64, Vec<String>) {
        let map = lock(&self.map);
        let mut total = 0;
        let mut names = Vec::new();
        for (name, room) in map.iter() {
            let log = room.lock();
            total += log.next_offset;
            // Someone besides the map holding the room means a poll is waiting on it.
            if !log.messages.is_empty() || Arc::strong_count(room) > 1 {
                names.push(name.clone());
            }
        }
        names.sort_unstable();
        (total, names)
    }

    fn forget_unused(&self) {
        lock(&self.map).retain(|_, room| !Self::unused(room));
    }

    /// Forgets room `name` unless it is in use once `handle`, the caller's, is dropped.
    fn forget_if_unused(&self, name: &str, handle: Arc<Room>) {
        drop(handle);
        let mut map = lock(&self.map);
        if map.get(name).is_some_and(Self::unused) {
            map.remove(name);
        }
    }

    /// No messages and no poll waiting. Only conclusive while the map's lock is held: then
    /// nobody can obtain the room from the map, so a count of one is final.
    fn unused(room: &Arc<Room>) -> bool {
        Arc::strong_count(room) == 1 && room.lock().messages.is_empty()
    }

    /// Adds a committed message to its room's log and wakes the room's polls.
    fn committed(&self, message: Arc<Message>, offset: u64) {
        let room = self.get_or_create(&message.room);
        let inserted = room.lock().insert(offset, message);
        // The log guard is gone: woken polls can read at once.
        if inserted {
            room.arrived.notify_waiters();
        }
    }
}

/// What the store tells the broker: committed messages go to the rooms, and a client
/// disconnected on another instance sharing the store is disconnected here too.
struct Sink {
    rooms: Arc<Rooms>,
    clients: Arc<Clients>,
}

impl CommitSink for Sink {
    fn committed(&self, message: Arc<Message>, offset: u64) {
        self.rooms.committed(message, offset);
    }

    /// Held polls answer (timeout-shaped: the client polls again and catches up once the store
    /// is back) rather than wait on rooms that may stay silent.
    fn interrupted(&self) {
        self.clients.end_all(PollStatus::Timeout);
    }

    fn rewound(&self, room: &str) {
        if let Some(room) = self.rooms.get(room) {
            room.lock().forget();
            // Polls waiting past the room's new end find out at once (and get a reset).
            room.arrived.notify_waiters();
        }
    }

    fn client_disconnected(&self, client_id: &str) {
        if let Ok(client_id) = ClientId::parse(client_id) {
            self.clients.disconnect(&client_id);
        }
    }
}

/// A room's most recent messages. Offsets number every message the room ever had.
struct RoomLog {
    messages: VecDeque<Arc<Message>>,
    /// Offset the next message will get (= messages the room ever had).
    next_offset: u64,
    capacity: usize,
    /// The last answer read from the log and the offset it was read from, until the log
    /// changes: the polls a send wakes all read from the same offset.
    last_read: Option<(u64, PollAnswer)>,
}

/// What a poll finds in the log from its position on.
enum Read {
    /// No message yet past the position.
    Nothing,
    Messages(PollAnswer),
    /// Some of the messages were evicted (or forgotten) since the position was taken.
    Evicted,
}

impl RoomLog {
    fn new(capacity: usize) -> Self {
        Self {
            messages: VecDeque::new(),
            next_offset: 0,
            capacity,
            last_read: None,
        }
    }

    fn first_offset(&self) -> u64 {
        self.next_offset - self.messages.len() as u64
    }

    /// Appends the message at `offset`, unless the log already has that offset. After a jump
    /// past the end, the messages in between are unknown: the log restarts at `offset`, and
    /// polls that were waiting before it are answered with a reset.
    fn insert(&mut self, offset: u64, message: Arc<Message>) -> bool {
        if offset < self.next_offset {
            return false;
        }
        if offset > self.next_offset {
            self.messages.clear();
            self.next_offset = offset;
        }
        if self.messages.len() == self.capacity {
            self.messages.pop_front();
        }
        self.messages.push_back(message);
        self.next_offset += 1;
        self.last_read = None;
        true
    }

    /// Where a poll with this cursor starts reading: just after the cursor's message, or at
    /// the end when there is no cursor. `None` for a cursor the room does not have.
    fn start_after(&self, last_message_id: Option<&str>) -> Option<u64> {
        let Some(id) = last_message_id else {
            return Some(self.next_offset);
        };
        let id = Uuid::parse_str(id).ok()?;
        // Clients are usually at or near the end: search from the newest message.
        let index = self.messages.iter().rposition(|message| message.id == id)?;
        Some(self.first_offset() + index as u64 + 1)
    }

    /// Up to [`MAX_MESSAGES_PER_POLL`] messages from `offset` on.
    fn read_from(&mut self, offset: u64) -> Read {
        if offset == self.next_offset {
            return Read::Nothing;
        }
        if let Some((read_from, answer)) = &self.last_read {
            if *read_from == offset {
                return Read::Messages(answer.clone());
            }
        }
        // Before the first message kept (evicted), or past the end (the log was forgotten since
        // this position was taken).
        let Some(skip) = offset
            .checked_sub(self.first_offset())
            .filter(|_| offset < self.next_offset)
        else {
            return Read::Evicted;
        };
        let messages = self.messages.iter().skip(skip as usize);
        let answer = PollAnswer::new(PollResponse::messages(
            messages.take(MAX_MESSAGES_PER_POLL).cloned().collect(),
        ));
        self.last_read = Some((offset, answer.clone()));
        Read::Messages(answer)
    }

    /// The answer for a poll whose position the log does not have: its latest messages.
    fn reset(&self) -> PollAnswer {
        PollAnswer::new(PollResponse::reset(self.recent(MAX_MESSAGES_PER_POLL)))
    }

    /// Forgets every message and offset, for a store that lost them: the next message inserted
    /// starts the log again at its own offset.
    fn forget(&mut self) {
        self.messages.clear();
        self.next_offset = 0;
        self.last_read = None;
    }

    /// The last `count` messages, oldest first.
    fn recent(&self, count: usize) -> Vec<Arc<Message>> {
        let skip = self.messages.len().saturating_sub(count);
        self.messages.iter().skip(skip).cloned().collect()
    }
}

/// Clients by id, with the polls each one holds.
#[derive(Default)]
struct Clients {
    map: Mutex<HashMap<ClientId, Client>>,
    next_poll_id: AtomicU64,
}

struct Client {
    polls: Vec<ClientPoll>,
    /// When the client's last poll started or ended.
    last_seen: Instant,
}

struct ClientPoll {
    id: u64,
    /// The room polled: the same `Arc` for as long as any poll holds it (see
    /// `Rooms::forget_unused`), so compared by address.
    room: Arc<Room>,
    /// Tells the waiting poll why it must end early; taken once told.
    end: Option<oneshot::Sender<PollStatus>>,
}

impl ClientPoll {
    fn end(&mut self, status: PollStatus) {
        // The poll may be finishing on its own; then there is nobody left to tell.
        if let Some(end) = self.end.take() {
            let _ = end.send(status);
        }
    }
}

impl Clients {
    fn count(&self) -> usize {
        lock(&self.map).len()
    }

    /// Forgets the client and answers its polls with `disconnected`; how many, if it was known.
    fn disconnect(&self, client_id: &ClientId) -> Option<usize> {
        let client = lock(&self.map).remove(client_id)?;
        let answered = client.polls.len();
        for mut poll in client.polls {
            poll.end(PollStatus::Disconnected);
        }
        Some(answered)
    }

    /// Ends every held poll with `status`. One message per poll, rather than a wake-up list
    /// every poll would join and leave under a lock shared by all of them.
    fn end_all(&self, status: PollStatus) {
        // Taken under the lock (what orders this against registrations), sent after it.
        let ends: Vec<_> = lock(&self.map)
            .values_mut()
            .flat_map(|client| client.polls.iter_mut().filter_map(|poll| poll.end.take()))
            .collect();
        for end in ends {
            let _ = end.send(status);
        }
    }

    fn count_active(&self, now: Instant, idle: Duration) -> usize {
        lock(&self.map)
            .values()
            .filter(|client| client.is_active(now, idle))
            .count()
    }

    /// Clients holding a poll or seen since `since`.
    fn active_since(&self, since: Instant) -> Vec<String> {
        lock(&self.map)
            .iter()
            .filter(|(_, client)| !client.polls.is_empty() || client.last_seen >= since)
            .map(|(id, _)| id.as_str().to_owned())
            .collect()
    }

    /// Forgets inactive clients; returns how many remain.
    fn forget_idle(&self, now: Instant, idle: Duration) -> usize {
        let mut clients = lock(&self.map);
        clients.retain(|_, client| client.is_active(now, idle));
        clients.len()
    }
}

impl Client {
    fn is_active(&self, now: Instant, idle: Duration) -> bool {
        !self.polls.is_empty() || now.duration_since(self.last_seen) <= idle
    }
}

/// A poll's registration with its client and the broker's counters; dropping it (when the poll
/// answers, or when the HTTP connection goes away) unregisters it.
struct HeldPoll<'a> {
    shared: &'a Shared,
    client_id: &'a ClientId,
    id: u64,
}

impl<'a> HeldPoll<'a> {
    fn register(
        shared: &'a Shared,
        request: &'a PollRequest,
        room: &Arc<Room>,
    ) -> Result<(Self, oneshot::Receiver<PollStatus>), ChatError> {
        let id = shared.clients.next_poll_id.fetch_add(1, Ordering::Relaxed);
        let (end, ended) = oneshot::channel();
        let superseded = {
            let mut clients = lock(&shared.clients.map);
            let mut poll = ClientPoll {
                id,
                room: room.clone(),
                end: Some(end),
            };
            // Under the lock that `Broker::shutdown` takes after cancelling: a poll registering
            // once shutdown began is answered at once.
            if shared.shutdown.is_cancelled() {
                poll.end(PollStatus::Timeout);
            }
            // Registrations are serialized by the clients lock, so these checks are exact.
            let full = |held_by_client: usize| {
                held_by_client >= shared.config.max_polls_per_client
                    || shared.held_polls.load(Ordering::Relaxed) >= shared.config.max_held_polls
            };
            let now = Instant::now();
            // Not `entry`, whose owned key would copy the id for every poll of a known client.
            let superseded = match clients.get_mut(&request.client_id) {
                Some(client) => {
                    let same_room = |held: &ClientPoll| Arc::ptr_eq(&held.room, room);
                    let previous = client.polls.iter().position(same_room);
                    if previous.is_none() && full(client.polls.len()) {
                        return Err(ChatError::TooManyPolls);
                    }
                    client.last_seen = now;
                    let superseded = previous.map(|index| client.polls.swap_remove(index));
                    client.polls.push(poll);
                    superseded
                }
                None => {
                    if full(0) {
                        return Err(ChatError::TooManyPolls);
                    }
                    let client = Client {
                        polls: vec![poll],
                        last_seen: now,
                    };
                    clients.insert(request.client_id.clone(), client);
                    None
                }
            };
            let held = shared.held_polls.fetch_add(1, Ordering::Relaxed) + 1;
            shared.metrics.held_polls.set(held as f64);
            shared.metrics.clients.set(clients.len() as f64);
            superseded
        };
        if let Some(mut previous) = superseded {
            previous.end(PollStatus::Superseded);
        }
        let held = Self {
            shared,
            client_id: &request.client_id,
            id,
        };
        Ok((held, ended))
    }
}

impl Drop for HeldPoll<'_> {
    fn drop(&mut self) {
        let held = self.shared.held_polls.fetch_sub(1, Ordering::Relaxed) - 1;
        self.shared.metrics.held_polls.set(held as f64);
        let mut clients = lock(&self.shared.clients.map);
        if let Some(client) = clients.get_mut(self.client_id) {
            client.polls.retain(|poll| poll.id != self.id);
            client.last_seen = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::model::{MessageText, RoomName, SenderName};

    async fn broker(room_capacity: usize) -> Broker {
        let config = BrokerConfig {
            room_capacity,
            ..BrokerConfig::default()
        };
        Broker::open(config, &StoreConfig::Memory).await.unwrap()
    }

    async fn send(broker: &Broker, room: &str, text: &str) -> SendReceipt {
        let request = SendRequest {
            room: RoomName::parse(room).unwrap(),
            sender: SenderName::parse("alice").unwrap(),
            text: MessageText::parse(text).unwrap(),
        };
        broker.send(request).await.unwrap()
    }

    fn poll_request(client: &str, room: &str, cursor: Option<&str>) -> PollRequest {
        PollRequest {
            client_id: ClientId::parse(client).unwrap(),
            room: RoomName::parse(room).unwrap(),
            last_message_id: cursor.map(str::to_owned),
            timeout: Duration::from_secs(25),
        }
    }

    /// Starts a poll in its own task and returns once it is waiting.
    async fn spawn_poll(
        broker: &Broker,
        request: PollRequest,
    ) -> tokio::task::JoinHandle<PollAnswer> {
        let held_before = broker.held_polls();
        let task = tokio::spawn({
            let broker = broker.clone();
            async move { broker.poll(request).await.unwrap() }
        });
        while broker.held_polls() == held_before {
            tokio::task::yield_now().await;
        }
        task
    }

    fn texts(response: &PollResponse) -> Vec<&str> {
        response.messages.iter().map(|m| m.text.as_str()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_wakes_every_poll_held_on_the_room_at_once() {
        let broker = broker(100).await;
        let first = spawn_poll(&broker, poll_request("c1", "wake", None)).await;
        let second = spawn_poll(&broker, poll_request("c2", "wake", None)).await;
        let started = Instant::now();
        let receipt = send(&broker, "wake", "hello").await;
        for task in [first, second] {
            let response = task.await.unwrap();
            assert_eq!(response.status, PollStatus::Success);
            assert_eq!(texts(&response), ["hello"]);
            assert_eq!(response.messages[0].id, receipt.message_id);
        }
        assert_eq!(started.elapsed(), Duration::ZERO, "no timer was involved");
    }

    #[tokio::test(start_paused = true)]
    async fn polls_woken_by_one_send_share_one_answer_serialized_once() {
        let broker = broker(100).await;
        let first = spawn_poll(&broker, poll_request("c1", "shared", None)).await;
        let second = spawn_poll(&broker, poll_request("c2", "shared", None)).await;
        send(&broker, "shared", "hello").await;
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        let (first_json, second_json) = (first.to_json().unwrap(), second.to_json().unwrap());
        assert_eq!(
            first_json.as_ptr(),
            second_json.as_ptr(),
            "one serialization"
        );
        let parsed: PollResponse = serde_json::from_slice(&first_json).unwrap();
        assert_eq!(texts(&parsed), ["hello"]);
        assert_eq!(parsed.messages[0].id, first.messages[0].id);
        assert_eq!(parsed.status, PollStatus::Success);
    }

    #[tokio::test(start_paused = true)]
    async fn a_shared_answer_is_not_reused_once_the_room_has_more() {
        let broker = broker(100).await;
        let cursor = send(&broker, "grows", "m0").await.message_id.to_string();
        send(&broker, "grows", "m1").await;
        let read = |client| broker.poll(poll_request(client, "grows", Some(&cursor)));
        assert_eq!(texts(&read("c1").await.unwrap()), ["m1"]);
        assert_eq!(texts(&read("c2").await.unwrap()), ["m1"]);
        send(&broker, "grows", "m2").await;
        assert_eq!(texts(&read("c3").await.unwrap()), ["m1", "m2"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_times_out_after_its_timeout_and_not_before() {
        let broker = broker(100).await;
        let started = Instant::now();
        let mut request = poll_request("c1", "quiet", None);
        request.timeout = Duration::from_secs(7);
        let response = broker.poll(request).await.unwrap();
        assert_eq!(response, PollResponse::empty(PollStatus::Timeout));
        assert_eq!(started.elapsed(), Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cursor_behind_the_room_gets_the_missed_messages_at_once() {
        let broker = broker(1_000).await;
        let first = send(&broker, "catchup", "m0").await;
        for i in 1..=150 {
            send(&broker, "catchup", &format!("m{i}")).await;
        }
        let cursor = first.message_id.to_string();
        let response = broker
            .poll(poll_request("c1", "catchup", Some(&cursor)))
            .await
            .unwrap();
        assert_eq!(response.messages.len(), MAX_MESSAGES_PER_POLL);
        assert_eq!(response.messages[0].text, "m1");
        let cursor = response.messages.last().unwrap().id.to_string();
        let rest = broker
            .poll(poll_request("c1", "catchup", Some(&cursor)))
            .await
            .unwrap();
        assert_eq!(rest.messages.len(), 50);
        assert_eq!(rest.messages.last().unwrap().text, "m150");
        assert!(!rest.reset);
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_without_cursor_waits_for_the_next_message() {
        let broker = broker(100).await;
        send(&broker, "next", "old").await;
        let task = spawn_poll(&broker, poll_request("c1", "next", None)).await;
        send(&broker, "next", "new").await;
        assert_eq!(texts(&task.await.unwrap()), ["new"]);
    }

    /// A message as a store hands it to the rooms.
    fn stored(room: &str, text: &str) -> Arc<Message> {
        Arc::new(Message {
            id: Uuid::now_v7(),
            sender: "store".into(),
            text: text.into(),
            timestamp: unix_now(),
            room: room.into(),
        })
    }

    /// The broker's own sink, as the store would call it.
    fn sink(broker: &Broker) -> Sink {
        Sink {
            rooms: broker.shared.rooms.clone(),
            clients: broker.shared.clients.clone(),
        }
    }

    /// The texts `history` returns for the room (up to 100).
    fn history_texts(broker: &Broker, room: &str) -> Vec<String> {
        let request = HistoryRequest {
            room: RoomName::parse(room).unwrap(),
            limit: 100,
        };
        let history = broker.history(&request);
        history.messages.iter().map(|m| m.text.clone()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_offset_the_room_already_has_is_ignored() {
        let broker = broker(100).await;
        let rooms = &broker.shared.rooms;
        let first = stored("twice", "first");
        rooms.committed(first.clone(), 0);
        let task = spawn_poll(
            &broker,
            poll_request("c1", "twice", Some(&first.id.to_string())),
        )
        .await;
        rooms.committed(stored("twice", "first again"), 0);
        rooms.committed(stored("twice", "second"), 1);
        assert_eq!(texts(&task.await.unwrap()), ["second"]);
        assert_eq!(history_texts(&broker, "twice"), ["first", "second"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_jump_in_offsets_answers_polls_waiting_before_it_with_a_reset() {
        let broker = broker(100).await;
        let rooms = &broker.shared.rooms;
        let first = stored("gap", "m0");
        rooms.committed(first.clone(), 0);
        let task = spawn_poll(
            &broker,
            poll_request("c1", "gap", Some(&first.id.to_string())),
        )
        .await;
        // Offsets 1..=4 are gone from the store: the poll cannot get them.
        rooms.committed(stored("gap", "m5"), 5);
        let response = task.await.unwrap();
        assert!(response.reset);
        assert_eq!(texts(&response), ["m5"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rewound_room_resets_waiting_polls_and_starts_over() {
        let broker = broker(100).await;
        let sink = sink(&broker);
        let mut last = None;
        for offset in 0..5 {
            let message = stored("rewind", &format!("m{offset}"));
            sink.committed(message.clone(), offset);
            last = Some(message.id.to_string());
        }
        let waiting = spawn_poll(&broker, poll_request("c1", "rewind", last.as_deref())).await;
        sink.rewound("rewind");
        sink.committed(stored("rewind", "again"), 2);
        let response = waiting.await.unwrap();
        assert!(response.reset, "{response:?}");
        assert_eq!(history_texts(&broker, "rewind"), ["again"]);
        let next = spawn_poll(&broker, poll_request("c2", "rewind", None)).await;
        sink.committed(stored("rewind", "then"), 3);
        assert_eq!(texts(&next.await.unwrap()), ["then"]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupted_store_answers_held_polls_timeout_shaped_at_once() {
        let broker = broker(100).await;
        let started = Instant::now();
        let task = spawn_poll(&broker, poll_request("c1", "cut", None)).await;
        sink(&broker).interrupted();
        assert_eq!(
            task.await.unwrap(),
            PollResponse::empty(PollStatus::Timeout)
        );
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_cursor_is_answered_with_a_reset_and_the_recent_messages() {
        let broker = broker(100).await;
        send(&broker, "reset", "a").await;
        send(&broker, "reset", "b").await;
        for cursor in ["garbage", "0190e4a2-0000-7000-8000-000000000000"] {
            let response = broker
                .poll(poll_request("c1", "reset", Some(cursor)))
                .await
                .unwrap();
            assert!(response.reset);
            assert_eq!(response.status, PollStatus::Success);
            assert_eq!(texts(&response), ["a", "b"]);
        }
        // A cursor from another room is unknown here too.
        let other = send(&broker, "elsewhere", "x").await.message_id.to_string();
        let response = broker
            .poll(poll_request("c1", "reset", Some(&other)))
            .await
            .unwrap();
        assert!(response.reset);
    }

    #[tokio::test(start_paused = true)]
    async fn logs_are_bounded_and_an_evicted_cursor_resets() {
        let broker = broker(10).await;
        let first = send(&broker, "bounded", "m0").await;
        for i in 1..15 {
            send(&broker, "bounded", &format!("m{i}")).await;
        }
        let room = RoomName::parse("bounded").unwrap();
        let history = broker.history(&HistoryRequest { room, limit: 100 });
        assert_eq!(history.messages.len(), 10);
        assert_eq!(history.messages[0].text, "m5");
        assert_eq!(broker.stats().await.total_messages, 15);
        let cursor = first.message_id.to_string();
        let response = broker
            .poll(poll_request("c1", "bounded", Some(&cursor)))
            .await
            .unwrap();
        assert!(response.reset);
        assert_eq!(response.messages.len(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_poll_of_a_client_on_a_room_supersedes_the_first() {
        let broker = broker(100).await;
        let older = spawn_poll(&broker, poll_request("c1", "dup", None)).await;
        let other_room = spawn_poll(&broker, poll_request("c1", "dup2", None)).await;
        // The older poll can only end once the newer one has registered.
        let newer = tokio::spawn({
            let broker = broker.clone();
            async move { broker.poll(poll_request("c1", "dup", None)).await.unwrap() }
        });
        assert_eq!(
            older.await.unwrap(),
            PollResponse::empty(PollStatus::Superseded)
        );
        assert_eq!(broker.held_polls(), 2);
        send(&broker, "dup", "hi").await;
        assert_eq!(texts(&newer.await.unwrap()), ["hi"]);
        assert!(!other_room.is_finished());
        other_room.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn disconnect_answers_every_poll_of_the_client_and_forgets_it() {
        let broker = broker(100).await;
        let a = spawn_poll(&broker, poll_request("gone", "r1", None)).await;
        let b = spawn_poll(&broker, poll_request("gone", "r2", None)).await;
        let client = ClientId::parse("gone").unwrap();
        assert_eq!(broker.disconnect(&client).await, Ok(2));
        for task in [a, b] {
            assert_eq!(
                task.await.unwrap(),
                PollResponse::empty(PollStatus::Disconnected)
            );
        }
        assert_eq!(
            broker.disconnect(&client).await,
            Err(ChatError::UnknownClient)
        );
        assert_eq!(broker.stats().await.active_clients, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_clients_stay_active_for_the_window_then_are_forgotten() {
        let broker = broker(100).await;
        let mut request = poll_request("idle", "idle", None);
        request.timeout = Duration::from_secs(5);
        broker.poll(request).await.unwrap();
        assert_eq!(broker.stats().await.active_clients, 1);
        tokio::time::advance(Duration::from_secs(60)).await;
        broker.forget_idle();
        assert_eq!(broker.stats().await.active_clients, 1);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(broker.stats().await.active_clients, 0);
        broker.forget_idle();
        let client = ClientId::parse("idle").unwrap();
        assert_eq!(
            broker.disconnect(&client).await,
            Err(ChatError::UnknownClient)
        );
        assert!(
            broker.stats().await.rooms.is_empty(),
            "the empty room is forgotten too"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stats_list_rooms_with_messages_or_waiters() {
        let broker = broker(100).await;
        send(&broker, "b-room", "x").await;
        let waiting = spawn_poll(&broker, poll_request("c1", "a-room", None)).await;
        let stats = broker.stats().await;
        assert_eq!(stats.rooms, ["a-room", "b-room"]);
        assert_eq!(stats.total_messages, 1);
        assert_eq!(stats.held_polls, 1);
        assert_eq!(stats.active_clients, 1);
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(broker.held_polls(), 0, "a dropped poll unregisters");
    }

    #[tokio::test(start_paused = true)]
    async fn polls_past_the_caps_are_refused_at_once_and_held_ones_keep_working() {
        let config = BrokerConfig {
            max_held_polls: 3,
            max_polls_per_client: 2,
            ..BrokerConfig::default()
        };
        let broker = Broker::open(config, &StoreConfig::Memory).await.unwrap();
        let a1 = spawn_poll(&broker, poll_request("a", "cap-1", None)).await;
        let a2 = spawn_poll(&broker, poll_request("a", "cap-2", None)).await;
        let third_room = broker.poll(poll_request("a", "cap-3", None)).await;
        assert_eq!(third_room, Err(ChatError::TooManyPolls), "per-client cap");
        let rooms = || lock(&broker.shared.rooms.map).len();
        assert_eq!(rooms(), 2, "a refused poll leaves no room behind");
        let b1 = spawn_poll(&broker, poll_request("b", "cap-1", None)).await;
        let over_server_cap = broker.poll(poll_request("c", "cap-1", None)).await;
        assert_eq!(
            over_server_cap,
            Err(ChatError::TooManyPolls),
            "server-wide cap"
        );
        assert_eq!(rooms(), 2, "nor removes the room others wait on");
        assert_eq!(broker.held_polls(), 3);
        // Superseding replaces a held poll, so it is accepted even at the cap.
        let a2_again = tokio::spawn({
            let broker = broker.clone();
            async move { broker.poll(poll_request("a", "cap-2", None)).await.unwrap() }
        });
        assert_eq!(
            a2.await.unwrap(),
            PollResponse::empty(PollStatus::Superseded)
        );
        send(&broker, "cap-1", "still works").await;
        assert_eq!(texts(&a1.await.unwrap()), ["still works"]);
        assert_eq!(texts(&b1.await.unwrap()), ["still works"]);
        send(&broker, "cap-2", "and here").await;
        assert_eq!(texts(&a2_again.await.unwrap()), ["and here"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lower_text_limit_rejects_longer_texts_and_stores_nothing() {
        let config = BrokerConfig {
            max_text_chars: 5,
            ..BrokerConfig::default()
        };
        let broker = Broker::open(config, &StoreConfig::Memory).await.unwrap();
        let request = |text: &str| SendRequest {
            room: RoomName::parse("short").unwrap(),
            sender: SenderName::parse("a").unwrap(),
            text: MessageText::parse(text).unwrap(),
        };
        assert!(broker.send(request("ünï5c")).await.is_ok());
        assert_eq!(
            broker.send(request("toolong")).await,
            Err(ChatError::invalid("text must be at most 5 characters"))
        );
        assert_eq!(broker.stats().await.total_messages, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_answers_held_polls_timeout_shaped() {
        let broker = broker(100).await;
        let task = spawn_poll(&broker, poll_request("c1", "bye", None)).await;
        broker.shutdown();
        assert_eq!(
            task.await.unwrap(),
            PollResponse::empty(PollStatus::Timeout)
        );
        // A poll arriving once shutdown began is answered at once, not after its timeout.
        let started = Instant::now();
        let late = broker.poll(poll_request("c2", "bye", None)).await.unwrap();
        assert_eq!(late, PollResponse::empty(PollStatus::Timeout));
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    /// Races sends against polls starting on many threads: a lost wake-up would leave a poll
    /// waiting for its full timeout although its message is in the log.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_wake_up_is_lost_when_a_send_races_a_poll_start() {
        let broker = broker(10_000).await;
        let mut cursor = send(&broker, "race", "start").await.message_id.to_string();
        for round in 0..500 {
            let mut request = poll_request("racer", "race", Some(&cursor));
            request.timeout = Duration::from_secs(30);
            let poll = tokio::spawn({
                let broker = broker.clone();
                async move { broker.poll(request).await.unwrap() }
            });
            let sent = send(&broker, "race", &format!("m{round}")).await;
            let response = tokio::time::timeout(Duration::from_secs(10), poll)
                .await
                .expect("a poll missed its wake-up")
                .unwrap();
            assert_eq!(response.messages.last().unwrap().id, sent.message_id);
            cursor = sent.message_id.to_string();
        }
    }

    /// A client polling in a loop with its cursor sees every message of a burst exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_looping_client_sees_a_burst_exactly_once_in_order() {
        let broker = broker(1_000).await;
        let poller = tokio::spawn({
            let broker = broker.clone();
            async move {
                let mut cursor: Option<String> = None;
                let mut seen = Vec::new();
                // Start from the beginning: wait for the first message without a cursor.
                while seen.len() < 500 {
                    let response = broker
                        .poll(poll_request("looper", "burst", cursor.as_deref()))
                        .await
                        .unwrap();
                    assert!(!response.reset);
                    for message in &response.messages {
                        seen.push(message.text.clone());
                    }
                    if let Some(last) = response.messages.last() {
                        cursor = Some(last.id.to_string());
                    }
                }
                seen
            }
        });
        while broker.held_polls() == 0 {
            tokio::task::yield_now().await;
        }
        for i in 0..500 {
            send(&broker, "burst", &format!("m{i}")).await;
        }
        let seen = poller.await.unwrap();
        let expected: Vec<String> = (0..500).map(|i| format!("m{i}")).collect();
        assert_eq!(seen, expected);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 500);
    }
}
