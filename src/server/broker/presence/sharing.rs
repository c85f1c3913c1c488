//! This instance's presence among the others sharing its store: it tells them ([`LiveNews`],
//! through the [`Cluster`]) who is online through it in each room, whenever that changes and
//! again every refresh period, and passes typing signals on; and it keeps what they say of
//! each room, which lasts a few refresh periods without being said again, so the people of an
//! instance that died are gone by then, as they would be had their streams ended there.
//!
//! Nothing goes into the outbox until [`Presence::share`] runs: without a shared store there is
//! nobody to tell.

use std::{
    collections::{hash_map, HashMap},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{Elsewhere, Presence, RoomPresence};
use crate::{
    model::Person,
    server::{
        broker::{lock, room::Room},
        store::{Cluster, LiveNews},
    },
};

/// This instance's side of presence on a store shared with other instances.
pub(super) struct Sharing {
    /// How often this instance says again who is online through it.
    pub(super) refresh_every: Duration,
    /// How long what another instance said of a room lasts without being said again.
    pub(super) heard_lasts: Duration,
    /// Set once [`Presence::share`] runs: until then (and for a store nobody else shares) there is
    /// nobody to tell, so nothing goes into the outbox.
    pub(super) telling: AtomicBool,
    pub(super) outbox: Mutex<Outbox>,
    /// Tells [`Presence::share`] the outbox has something; keeps a permit while it is busy.
    pub(super) outbox_filled: Notify,
}

#[derive(Default)]
pub(super) struct Outbox {
    pub(super) typing: Vec<LiveNews>,
    /// Rooms whose presence here changed since the other instances were last told.
    pub(super) presence_changed: Vec<Arc<Room>>,
    /// Rooms with anyone online, here or elsewhere, by name: their presence here is said again
    /// every refresh, and what other instances stopped saying of them is forgotten.
    pub(super) tracked: HashMap<Arc<str>, Arc<Room>>,
}

impl Sharing {
    /// Refreshing a few times per grace period of `grace`, so that what an instance that died
    /// said runs out about when its people's grace periods would have.
    pub fn new(grace: Duration) -> Self {
        let refresh_every = (grace / 3).clamp(Duration::from_millis(250), Duration::from_secs(5));
        Self {
            refresh_every,
            heard_lasts: grace.max(refresh_every * 3),
            telling: AtomicBool::new(false),
            outbox: Mutex::default(),
            outbox_filled: Notify::new(),
        }
    }
}

impl RoomPresence {
    /// Who is online in `room` through this instance, for the others; people in key order, so
    /// the same people say the same.
    fn presence_here(&self, room: &str) -> LiveNews {
        let mut guests = 0;
        let mut people = Vec::new();
        for (key, present) in &self.people {
            match &present.name {
                Some(name) => people.push(Person {
                    key: key.clone(),
                    name: name.clone(),
                }),
                None => guests += 1,
            }
        }
        people.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        LiveNews::Presence {
            room: room.to_owned(),
            people,
            guests,
        }
    }
}

impl Presence {
    /// Who is online in `room` through this instance changed: the other instances are told.
    /// Called with the room's `presence` held, so the room is tracked before anyone can look.
    pub(super) fn presence_changed(&self, room: &Arc<Room>) {
        self.tell(|outbox| {
            outbox.presence_changed.push(room.clone());
            outbox.track(room);
        });
    }

    /// Puts something in the outbox, if there is anyone to tell.
    pub(super) fn tell(&self, put: impl FnOnce(&mut Outbox)) {
        if self.sharing.telling.load(Ordering::Relaxed) {
            put(&mut lock(&self.sharing.outbox));
            self.sharing.outbox_filled.notify_one();
        }
    }

    /// What another instance sharing the store said; `room` finds (or makes) a room by name.
    pub fn heard(&self, instance: &str, news: Vec<LiveNews>, room: impl Fn(&str) -> Arc<Room>) {
        for news in news {
            match news {
                LiveNews::Presence {
                    room: name,
                    people,
                    guests,
                } => self.heard_presence(instance, &room(&name), people, guests),
                LiveNews::Typing { room: name, person } => self.heard_typing(&room(&name), &person),
                LiveNews::Hello => self.say_again(),
            }
        }
    }

    /// What `instance` has online in `room`, as it just said: it replaces what it said before.
    fn heard_presence(&self, instance: &str, room: &Arc<Room>, people: Vec<Person>, guests: usize) {
        let now = Instant::now();
        let mut presence = lock(&room.presence);
        let changed = if people.is_empty() && guests == 0 {
            presence.elsewhere.remove(instance).is_some()
        } else {
            let until = now + self.sharing.heard_lasts;
            match presence.elsewhere.entry(instance.to_owned()) {
                hash_map::Entry::Occupied(mut said) => {
                    let said = said.get_mut();
                    let same = said.until > now && said.people == people && said.guests == guests;
                    *said = Elsewhere {
                        people,
                        guests,
                        until,
                    };
                    !same
                }
                hash_map::Entry::Vacant(vacant) => {
                    vacant.insert(Elsewhere {
                        people,
                        guests,
                        until,
                    });
                    lock(&self.sharing.outbox).track(room);
                    true
                }
            }
        };
        if changed {
            self.changed(room, &mut presence);
        }
    }

    /// Another instance joined: it is told who is online here in every room.
    fn say_again(&self) {
        self.tell(|outbox| {
            let tracked = outbox.tracked.values().cloned().collect::<Vec<_>>();
            outbox.presence_changed.extend(tracked);
        });
    }

    /// Everything in the outbox, presence as it is now.
    pub(super) fn take_outbox(&self) -> Vec<LiveNews> {
        let (mut rooms, typing) = {
            let mut outbox = lock(&self.sharing.outbox);
            let rooms = std::mem::take(&mut outbox.presence_changed);
            (rooms, std::mem::take(&mut outbox.typing))
        };
        rooms.sort_unstable_by_key(Arc::as_ptr);
        rooms.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let mut news: Vec<LiveNews> = (rooms.iter())
            .map(|room| lock(&room.presence).presence_here(&room.name))
            .collect();
        news.extend(typing);
        news
    }

    /// Who is online here in every room where anyone is, to be said again; and forgets what
    /// other instances said of a room and did not say again in time (such an instance has
    /// died, or lost the store).
    pub(super) fn refresh(&self, now: Instant) -> Vec<LiveNews> {
        let tracked: Vec<Arc<Room>> = (lock(&self.sharing.outbox).tracked.values())
            .cloned()
            .collect();
        let mut news = Vec::new();
        for room in tracked {
            let mut presence = lock(&room.presence);
            let said_elsewhere = presence.elsewhere.len();
            presence.elsewhere.retain(|_, said| said.until > now);
            if presence.elsewhere.len() != said_elsewhere {
                self.changed(&room, &mut presence);
            }
            if !presence.people.is_empty() {
                news.push(presence.presence_here(&room.name));
            } else if presence.elsewhere.is_empty() {
                // Under the room's lock, so nobody is tracking it again meanwhile.
                let mut outbox = lock(&self.sharing.outbox);
                if outbox
                    .tracked
                    .get(&room.name)
                    .is_some_and(|r| Arc::ptr_eq(r, &room))
                {
                    outbox.tracked.remove(&room.name);
                }
            }
        }
        news
    }

    /// Tells the other instances (through `cluster`) of presence and typing here, as it changes
    /// and every refresh period, until `shutdown`.
    pub async fn share(self: Arc<Self>, cluster: Arc<dyn Cluster>, shutdown: CancellationToken) {
        let sharing = &self.sharing;
        sharing.telling.store(true, Ordering::Relaxed);
        let mut ticks = tokio::time::interval(sharing.refresh_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            let news = tokio::select! {
                () = sharing.outbox_filled.notified() => self.take_outbox(),
                _ = ticks.tick() => self.refresh(Instant::now()),
                () = shutdown.cancelled() => return,
            };
            if news.is_empty() {
                continue;
            }
            match cluster.publish_live(&news).await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("telling other instances who is online works again");
                }
                Ok(()) => {}
                // Once per outage: a signal for every keystroke would flood the log.
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, "cannot tell other instances who is online");
                }
                Err(_) => {}
            }
        }
    }
}

impl Outbox {
    /// A room deleted and made again under its name replaces the old one, which nobody can
    /// follow any more.
    fn track(&mut self, room: &Arc<Room>) {
        match self.tracked.get(&room.name) {
            Some(tracked) if Arc::ptr_eq(tracked, room) => {}
            _ => {
                self.tracked.insert(room.name.clone(), room.clone());
            }
        }
    }
}
