//! The client registry: which client holds which polls, and every rule about holding them.
//!
//! Invariants:
//! - A client holds at most one poll per room and one stream: a newer poll on the same room
//!   (a newer stream) supersedes the older one at once, and is accepted even at the caps (it
//!   replaces a held poll). A stream counts as one poll, however many rooms it follows.
//! - A client id belongs to its [`ClientOwner`] (the person, or the guest's address) from its
//!   first poll until it is forgotten: anyone else polling, streaming or disconnecting under it
//!   is told it is unknown, and supersedes or ends nothing.
//! - The caps (polls per client, per owner, over the whole server) are checked under the
//!   registry's lock, which serializes registrations, so they are exact.
//! - Whatever ends a poll early (superseded, disconnected, store interrupted, shutdown) reaches
//!   it through the poll's own channel, taken under the lock and sent after it.
//! - Once [`Clients::close`] ran, a poll registering later is ended at once: the closed flag is
//!   set under the same lock registrations take, so no registration slips between the two.
//! - A client with no held poll stays known (and counted as active) for the idle window after
//!   its last poll, then is forgotten.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::Duration,
};

use tokio::{sync::oneshot, time::Instant};

use super::{lock, room::Room};
use crate::{
    error::ChatError,
    model::{ClientId, ClientOwner, PollStatus},
    server::metrics::RegistryMetrics,
};

/// How many polls may be held at once.
#[derive(Debug, Clone, Copy)]
pub(super) struct PollCaps {
    /// Over the whole server.
    pub held_polls: usize,
    /// By one client (on different rooms).
    pub per_client: usize,
    /// By one signed-in person, over all their clients.
    pub per_person: usize,
    /// By the guests of one address, over all their clients.
    pub per_guest_address: usize,
}

impl PollCaps {
    fn per_owner(&self, owner: &ClientOwner) -> usize {
        match owner {
            ClientOwner::Person(_) => self.per_person,
            ClientOwner::Guest(_) => self.per_guest_address,
        }
    }
}

/// Why a held poll must end early.
pub(super) type PollEnd = oneshot::Receiver<PollStatus>;

/// Clients by id, with the polls each one holds.
pub(super) struct Clients {
    registry: Mutex<Registry>,
    caps: PollCaps,
    /// Polls held right now, over all clients (read without the lock by stats).
    held: AtomicUsize,
    next_poll_id: AtomicU64,
    metrics: RegistryMetrics,
}

#[derive(Default)]
struct Registry {
    clients: HashMap<ClientId, Client>,
    /// Polls held by each owner (registered and not yet released), none listed at zero.
    held_by: HashMap<ClientOwner, usize>,
    /// Set by [`Clients::close`]: every later poll is ended at once.
    closed: bool,
}

impl Registry {
    /// Taken under the lock (what orders this against registrations), sent after it.
    fn take_ends(&mut self) -> Vec<oneshot::Sender<PollStatus>> {
        self.clients
            .values_mut()
            .flat_map(|client| client.polls.iter_mut().filter_map(|poll| poll.end.take()))
            .collect()
    }
}

fn send_ends(ends: Vec<oneshot::Sender<PollStatus>>, status: PollStatus) {
    for end in ends {
        let _ = end.send(status);
    }
}

struct Client {
    owner: ClientOwner,
    polls: Vec<ClientPoll>,
    /// When the client's last poll started or ended.
    last_seen: Instant,
}

/// What a held poll waits on. A room is the same `Arc` for as long as any poll holds it (see
/// `Rooms::forget_unused`), so rooms are compared by address.
pub(super) enum Follows {
    /// `GET /api/poll`: one room.
    Room(Arc<Room>),
    /// `POST /api/stream`: many rooms.
    Stream(Box<[Arc<Room>]>),
}

impl Follows {
    fn includes(&self, room: &Arc<Room>) -> bool {
        match self {
            Self::Room(polled) => Arc::ptr_eq(polled, room),
            Self::Stream(rooms) => rooms.iter().any(|followed| Arc::ptr_eq(followed, room)),
        }
    }

    /// Whether a newer poll following `self` takes over the held one following `held`.
    fn supersedes(&self, held: &Self) -> bool {
        match (self, held) {
            (Self::Room(new), Self::Room(old)) => Arc::ptr_eq(new, old),
            (Self::Stream(_), Self::Stream(_)) => true,
            _ => false,
        }
    }

    /// How a poll learns that one of its rooms changed hands ([`Clients::end_polls_on`]): a
    /// one-room poll is over (`disconnected`); a stream is answered at once (`success`) and
    /// its caller finds out which of its rooms it lost.
    fn lost_room_status(&self) -> PollStatus {
        match self {
            Self::Room(_) => PollStatus::Disconnected,
            Self::Stream(_) => PollStatus::Success,
        }
    }
}

struct ClientPoll {
    id: u64,
    follows: Follows,
    /// The signed-in user holding the poll, if any (their account key).
    holder: Option<Arc<str>>,
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

impl Client {
    fn is_active(&self, now: Instant, idle: Duration) -> bool {
        !self.polls.is_empty() || now.duration_since(self.last_seen) <= idle
    }
}

/// A poll's place in the registry; dropping it (when the poll answers, or when the HTTP
/// connection goes away) releases it.
pub(super) struct HeldPoll<'a> {
    clients: &'a Clients,
    client_id: &'a ClientId,
    owner: ClientOwner,
    id: u64,
}

impl Drop for HeldPoll<'_> {
    fn drop(&mut self) {
        self.clients.release(self.client_id, &self.owner, self.id);
    }
}

impl Clients {
    pub fn new(caps: PollCaps, metrics: RegistryMetrics) -> Self {
        Self {
            registry: Mutex::default(),
            caps,
            held: AtomicUsize::new(0),
            next_poll_id: AtomicU64::new(0),
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        lock(&self.registry)
    }

    /// Registers a poll of `client_id` by `owner` following `follows`, superseding the
    /// client's earlier poll on the same room (or its earlier stream). Refused with
    /// [`ChatError::TooManyPolls`] past the caps, and [`ChatError::UnknownClient`] when the
    /// client id is someone else's.
    pub fn register<'a>(
        &'a self,
        client_id: &'a ClientId,
        owner: &ClientOwner,
        follows: Follows,
        holder: Option<Arc<str>>,
    ) -> Result<(HeldPoll<'a>, PollEnd), ChatError> {
        let id = self.next_poll_id.fetch_add(1, Ordering::Relaxed);
        let (end, ended) = oneshot::channel();
        let mut poll = ClientPoll {
            id,
            follows,
            holder,
            end: Some(end),
        };
        let superseded = {
            let mut registry = self.lock();
            if registry.closed {
                poll.end(PollStatus::Timeout);
            }
            let held_by_owner = registry.held_by.get(owner).copied().unwrap_or(0);
            let full = |held_by_client: usize| {
                held_by_client >= self.caps.per_client
                    || held_by_owner >= self.caps.per_owner(owner)
                    || self.held.load(Ordering::Relaxed) >= self.caps.held_polls
            };
            let now = Instant::now();
            // Not `entry`, whose owned key would copy the id for every poll of a known client.
            let superseded = match registry.clients.get_mut(client_id) {
                Some(client) if client.owner != *owner => return Err(ChatError::UnknownClient),
                Some(client) => {
                    let previous = client
                        .polls
                        .iter()
                        .position(|held| poll.follows.supersedes(&held.follows));
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
                        owner: owner.clone(),
                        polls: vec![poll],
                        last_seen: now,
                    };
                    registry.clients.insert(client_id.clone(), client);
                    None
                }
            };
            *registry.held_by.entry(owner.clone()).or_default() += 1;
            let held = self.held.fetch_add(1, Ordering::Relaxed) + 1;
            self.metrics.held_polls.set(held as f64);
            self.metrics.clients.set(registry.clients.len() as f64);
            superseded
        };
        if let Some(mut previous) = superseded {
            previous.end(PollStatus::Superseded);
        }
        let held = HeldPoll {
            clients: self,
            client_id,
            owner: owner.clone(),
            id,
        };
        Ok((held, ended))
    }

    fn release(&self, client_id: &ClientId, owner: &ClientOwner, poll_id: u64) {
        let held = self.held.fetch_sub(1, Ordering::Relaxed) - 1;
        self.metrics.held_polls.set(held as f64);
        let mut registry = self.lock();
        if let Some(count) = registry.held_by.get_mut(owner) {
            *count -= 1;
            if *count == 0 {
                registry.held_by.remove(owner);
            }
        }
        if let Some(client) = registry.clients.get_mut(client_id) {
            client.polls.retain(|poll| poll.id != poll_id);
            client.last_seen = Instant::now();
        }
    }

    /// Polls held right now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Forgets the client and answers its polls with `disconnected`; how many, if it was known
    /// as `owner`'s (someone else's is left alone).
    pub fn disconnect(&self, client_id: &ClientId, owner: &ClientOwner) -> Option<usize> {
        let client = {
            let mut registry = self.lock();
            if registry.clients.get(client_id)?.owner != *owner {
                return None;
            }
            let client = registry.clients.remove(client_id);
            self.metrics.clients.set(registry.clients.len() as f64);
            client?
        };
        let answered = client.polls.len();
        for mut poll in client.polls {
            poll.end(PollStatus::Disconnected);
        }
        Some(answered)
    }

    /// Ends the polls following `room` whose holder `ends` picks (`None`: a guest's poll):
    /// one-room polls with `disconnected`, streams with `success` (see
    /// [`Follows::lost_room_status`]); returns how many.
    pub fn end_polls_on(&self, room: &Arc<Room>, ends: impl Fn(Option<&str>) -> bool) -> usize {
        let ends: Vec<_> = self
            .lock()
            .clients
            .values_mut()
            .flat_map(|client| client.polls.iter_mut())
            .filter(|poll| poll.follows.includes(room) && ends(poll.holder.as_deref()))
            .filter_map(|poll| Some((poll.end.take()?, poll.follows.lost_room_status())))
            .collect();
        let answered = ends.len();
        for (end, status) in ends {
            let _ = end.send(status);
        }
        answered
    }

    /// Ends every held poll with `status`. One message per poll, rather than a wake-up list
    /// every poll would join and leave under a lock shared by all of them.
    pub fn end_all(&self, status: PollStatus) {
        let ends = self.lock().take_ends();
        send_ends(ends, status);
    }

    /// Ends every held poll timeout-shaped (clients poll again elsewhere or after a restart),
    /// and every poll registering from now on at once.
    pub fn close(&self) {
        let ends = {
            let mut registry = self.lock();
            registry.closed = true;
            registry.take_ends()
        };
        send_ends(ends, PollStatus::Timeout);
    }

    /// Clients holding a poll or seen within `idle` of `now`.
    pub fn count_active(&self, now: Instant, idle: Duration) -> usize {
        self.lock()
            .clients
            .values()
            .filter(|client| client.is_active(now, idle))
            .count()
    }

    /// The clients holding a poll or seen since `since`, with their owners.
    pub fn active_since(&self, since: Instant) -> Vec<(ClientOwner, String)> {
        self.lock()
            .clients
            .iter()
            .filter(|(_, client)| !client.polls.is_empty() || client.last_seen >= since)
            .map(|(id, client)| (client.owner.clone(), id.as_str().to_owned()))
            .collect()
    }

    /// Forgets the clients that have been inactive for longer than `idle`.
    pub fn forget_idle(&self, now: Instant, idle: Duration) {
        let mut registry = self.lock();
        registry
            .clients
            .retain(|_, client| client.is_active(now, idle));
        self.metrics.clients.set(registry.clients.len() as f64);
    }
}
