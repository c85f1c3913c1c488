//! Who is in each room and who is typing there: kept beside the rooms' logs, never stored, and
//! costing no request of its own. Presence comes from the streams themselves: a person whose
//! stream follows a room is online there, and stays so for a grace period after their last
//! stream of it ends, so the gap between two polls is not a leave and a join.
//!
//! Each room's [`RoomPresence`] changes its version whenever what it shows changes. The streams
//! that asked for it are woken through the room's `news`, but [`Presence`] coalesces those
//! wake-ups: a room changed many times within [`WAKE_EVERY`] wakes its streams once, so however
//! many people join or type, a listener is woken for it at most a few times a second.
//!
//! On a store shared by several instances, each instance also shows who the others have online
//! and typing, and tells them its own (`sharing`).
//!
//! Invariants:
//! - a person's stream count is the number of registered streams of theirs following the room;
//!   at zero they are leaving, and a leave is final only once the grace period has passed
//!   without a new stream of theirs;
//! - at most one leave per room and person is queued (`Present::leave_queued`), however often
//!   their streams end and come back, so a client answered many times a second costs one entry;
//!   when it comes due, the leave is final, dropped (they are back) or queued again for grace
//!   after their latest leave;
//! - versions come from one counter for the whole broker, so a room forgotten and made again
//!   never repeats a version a client already has;
//! - locks are taken room first (`Room::presence`), then `Presence`'s own (`pending`,
//!   `outbox`), never the other way round.

mod sharing;
#[cfg(test)]
mod tests;

use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    pin::pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{lock, room::Room};
use crate::{
    model::{LiveState, Person, TYPING_LASTS_SECS},
    server::store::LiveNews,
};
use sharing::Sharing;

/// Wake-ups for presence and typing reach a room's streams at most this often.
pub(super) const WAKE_EVERY: Duration = Duration::from_millis(200);
/// A typing signal sooner than this after the person's last one only extends it: it changes
/// nothing anyone sees, so it wakes nobody.
const TYPING_REFRESH_AFTER: Duration = Duration::from_secs(2);

/// A room's presence and typing.
#[derive(Default)]
pub(super) struct RoomPresence {
    version: u64,
    /// The version the room's streams were last woken for: what they are compared with, so a
    /// stream polling again between two wake-ups waits for the next one instead of being
    /// answered at once for every change.
    published: u64,
    /// What streams are answered for `published`, made once for them all when the first asks.
    shown: Option<Arc<LiveState>>,
    /// This instance's streams' people, by [`Person::key`], or `guest:CLIENT` for a guest.
    people: HashMap<String, Present>,
    typing: HashMap<String, Typist>,
    /// Who other instances sharing the store have online here, by instance.
    elsewhere: HashMap<String, Elsewhere>,
}

struct Elsewhere {
    people: Vec<Person>,
    guests: usize,
    /// Past this without hearing from the instance again, what it said is forgotten.
    until: Instant,
}

struct Present {
    /// `None` for a guest.
    name: Option<String>,
    streams: usize,
    /// When the person's last stream of the room ended, while they have none.
    left_at: Option<Instant>,
    /// A leave of theirs is in `Pending::leaving`: the next one rides on it.
    leave_queued: bool,
}

struct Typist {
    name: String,
    /// The last signal that woke anyone.
    signalled: Instant,
    until: Instant,
}

impl RoomPresence {
    /// The version streams see: the one they were last woken for.
    pub fn published_version(&self) -> u64 {
        self.published
    }

    /// What streams are answered: the room as it was when first asked after the last wake-up.
    /// A typist whose signal runs out before the next one stays listed: pages hide a typist
    /// [`TYPING_LASTS_SECS`] after the last state that listed them.
    pub fn published_state(&mut self, now: Instant) -> Arc<LiveState> {
        if let Some(shown) = &self.shown {
            return shown.clone();
        }
        let shown = Arc::new(self.state(now));
        self.shown = Some(shown.clone());
        shown
    }

    /// Whether the person `key` is online here: this instance's streams (or their grace
    /// period), or another instance's as it last said.
    pub fn is_present(&self, key: &str, now: Instant) -> bool {
        self.people.contains_key(key)
            || (self.elsewhere.values())
                .any(|said| said.until > now && said.people.iter().any(|person| person.key == key))
    }

    /// What the room shows now.
    pub fn state(&self, now: Instant) -> LiveState {
        let mut guests = 0;
        let mut online = BTreeSet::new();
        for present in self.people.values() {
            match &present.name {
                Some(name) => {
                    online.insert(name.clone());
                }
                None => guests += 1,
            }
        }
        for elsewhere in self.elsewhere.values().filter(|said| said.until > now) {
            guests += elsewhere.guests;
            online.extend(elsewhere.people.iter().map(|person| person.name.clone()));
        }
        let typing: BTreeSet<String> = (self.typing.values())
            .filter(|typist| typist.until > now)
            .map(|typist| typist.name.clone())
            .collect();
        LiveState {
            version: self.published,
            online: online.into_iter().collect(),
            guests,
            typing: typing.into_iter().collect(),
        }
    }
}

/// The broker's presence and typing, over every room.
pub(super) struct Presence {
    grace: Duration,
    versions: AtomicU64,
    pending: Mutex<Pending>,
    /// Tells [`Presence::run`] that `pending` has something new.
    pending_changed: Notify,
    sharing: Sharing,
}

#[derive(Default)]
struct Pending {
    /// Rooms changed since their streams were last woken.
    changed: Vec<Arc<Room>>,
    /// Leaves that may become final at their instant, soonest first, at most one per room and
    /// person.
    leaving: VecDeque<(Instant, Arc<Room>, String)>,
}

impl Pending {
    /// Queues a leave at `at`, in order: one queued again for a later leave may be due before
    /// leaves queued since.
    fn queue_leave(&mut self, at: Instant, room: Arc<Room>, key: String) {
        let index = self.leaving.partition_point(|(queued, _, _)| *queued <= at);
        self.leaving.insert(index, (at, room, key));
    }

    /// Gives back what a burst of leaves made the queue take, once most of it is drained.
    fn shrink_leaving(&mut self) {
        let wanted = (2 * self.leaving.len()).max(KEPT_LEAVING);
        if self.leaving.capacity() > 2 * wanted {
            self.leaving.shrink_to(wanted);
        }
    }
}

/// Room for this many queued leaves is kept however few there are: too little to be worth
/// giving back.
const KEPT_LEAVING: usize = 64;

/// A stream's presence in its rooms, for as long as it is held.
pub(super) struct Attendance {
    presence: Arc<Presence>,
    rooms: Vec<Arc<Room>>,
    key: String,
}

impl Drop for Attendance {
    fn drop(&mut self) {
        for room in &self.rooms {
            self.presence.leave(room, &self.key);
        }
    }
}

impl Presence {
    /// Presence with a grace period of `grace`. On a shared store, each instance says who is
    /// online through it a few times per grace period, so that what an instance that died said
    /// runs out about when its people's grace periods would have.
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            versions: AtomicU64::new(0),
            pending: Mutex::new(Pending::default()),
            pending_changed: Notify::new(),
            sharing: Sharing::new(grace),
        }
    }

    /// Counts `person` (a guest's `client_id` for `None`) as online in `rooms` until the
    /// returned guard is dropped and the grace period has passed.
    pub fn attend(
        self: &Arc<Self>,
        rooms: Vec<Arc<Room>>,
        person: Option<&Person>,
        client_id: &str,
    ) -> Attendance {
        let (key, name) = match person {
            Some(person) => (person.key.clone(), Some(&person.name)),
            None => (format!("guest:{client_id}"), None),
        };
        for room in &rooms {
            let mut presence = lock(&room.presence);
            let present = presence
                .people
                .entry(key.clone())
                .or_insert_with(|| Present {
                    name: name.cloned(),
                    streams: 0,
                    left_at: None,
                    leave_queued: false,
                });
            present.streams += 1;
            // Back within the grace period: they never left.
            let arrived = present.streams == 1 && present.left_at.take().is_none();
            if arrived {
                self.changed(room, &mut presence);
                self.presence_changed(room);
            }
        }
        Attendance {
            presence: self.clone(),
            rooms,
            key,
        }
    }

    fn leave(&self, room: &Arc<Room>, key: &str) {
        let now = Instant::now();
        let mut presence = lock(&room.presence);
        let Some(present) = presence.people.get_mut(key) else {
            return;
        };
        present.streams -= 1;
        if present.streams > 0 {
            return;
        }
        present.left_at = Some(now);
        if present.leave_queued {
            // Due no later than this one: it is queued again from there if need be.
            return;
        }
        present.leave_queued = true;
        drop(presence);
        let mut pending = lock(&self.pending);
        (pending.leaving).push_back((now + self.grace, room.clone(), key.to_owned()));
        drop(pending);
        self.pending_changed.notify_waiters();
    }

    /// Says `person` is typing in `room`, here and to the other instances.
    pub fn typing(&self, room: &Arc<Room>, person: &Person) {
        self.heard_typing(room, person);
        self.tell(|outbox| {
            outbox.typing.push(LiveNews::Typing {
                room: room.name.to_string(),
                person: person.clone(),
            });
        });
    }

    /// `person` is typing in `room`, as this or another instance heard.
    fn heard_typing(&self, room: &Arc<Room>, person: &Person) {
        let now = Instant::now();
        let until = now + Duration::from_secs(TYPING_LASTS_SECS);
        let mut presence = lock(&room.presence);
        if let Some(typist) = presence.typing.get_mut(&person.key) {
            if typist.until > now && now < typist.signalled + TYPING_REFRESH_AFTER {
                typist.until = until;
                return;
            }
        }
        presence.typing.retain(|_, typist| typist.until > now);
        let typist = Typist {
            name: person.name.clone(),
            signalled: now,
            until,
        };
        presence.typing.insert(person.key.clone(), typist);
        self.changed(room, &mut presence);
    }

    /// `key` is no longer typing in `room`: their message was sent. Every instance hears of the
    /// message, so this is never passed on.
    pub fn stopped_typing(&self, room: &Arc<Room>, key: &str) {
        let mut presence = lock(&room.presence);
        if presence.typing.remove(key).is_some() {
            self.changed(room, &mut presence);
        }
    }

    /// A new version for the room, and its streams to be woken soon.
    fn changed(&self, room: &Arc<Room>, presence: &mut RoomPresence) {
        presence.version = self.versions.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.pending).changed.push(room.clone());
        self.pending_changed.notify_waiters();
    }

    /// Wakes changed rooms' streams, at most once per [`WAKE_EVERY`], and makes leaves final
    /// when their grace period is over, until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let far = Duration::from_secs(3600);
        loop {
            // Enabled before `pending` is looked at, so nothing added after is missed.
            let mut pending_changed = pin!(self.pending_changed.notified());
            pending_changed.as_mut().enable();
            let (any_changed, next_leave) = {
                let pending = lock(&self.pending);
                let next_leave = pending.leaving.front().map(|(at, _, _)| *at);
                (!pending.changed.is_empty(), next_leave)
            };
            if any_changed {
                // Whatever else changes meanwhile rides on the same wake-up.
                tokio::select! {
                    () = tokio::time::sleep(WAKE_EVERY) => {}
                    () = shutdown.cancelled() => return,
                }
                self.wake_changed();
                continue;
            }
            let next_leave = next_leave.unwrap_or_else(|| Instant::now() + far);
            tokio::select! {
                () = pending_changed => {}
                () = tokio::time::sleep_until(next_leave) => self.end_leaves(Instant::now()),
                () = shutdown.cancelled() => return,
            }
        }
    }

    fn wake_changed(&self) {
        let mut changed = std::mem::take(&mut lock(&self.pending).changed);
        changed.sort_unstable_by_key(Arc::as_ptr);
        changed.dedup_by(|a, b| Arc::ptr_eq(a, b));
        for room in changed {
            {
                let mut presence = lock(&room.presence);
                presence.published = presence.version;
                presence.shown = None;
            }
            room.news.notify_waiters();
        }
    }

    /// Makes final the leaves whose grace period ended by `now`: those people are gone unless
    /// a stream of theirs came back meanwhile. One who came back and left again is queued
    /// again for the grace period after that later leave.
    fn end_leaves(&self, now: Instant) {
        let due: Vec<_> = {
            let mut pending = lock(&self.pending);
            let count = (pending.leaving.iter())
                .take_while(|(at, _, _)| *at <= now)
                .count();
            pending.leaving.drain(..count).collect()
        };
        for (_, room, key) in due {
            let mut presence = lock(&room.presence);
            let Some(present) = presence.people.get_mut(&key) else {
                continue;
            };
            match present.left_at {
                Some(left_at) if present.streams == 0 => {
                    let final_at = left_at + self.grace;
                    if final_at <= now {
                        presence.people.remove(&key);
                        self.changed(&room, &mut presence);
                        self.presence_changed(&room);
                    } else {
                        // They left again since this was queued: the leave stays queued (and
                        // `leave_queued` set), now for grace after that later leave.
                        lock(&self.pending).queue_leave(final_at, room.clone(), key);
                    }
                }
                // Back: their next leave queues its own.
                _ => present.leave_queued = false,
            }
        }
        lock(&self.pending).shrink_leaving();
    }
}
