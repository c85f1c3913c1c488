//! One stream per browser: the tabs of one browser share ONE held `POST /api/stream`.
//!
//! Every tab runs a [`Hub`] (one per page load, in the browser only). The tabs elect a leader
//! with the Web Locks API: the first tab to get the lock `longpoll-chat.leader` holds it for
//! its whole life (the lock's callback answers a promise that never settles), and when that
//! tab closes or crashes the browser grants it at once to the next tab waiting for it. The
//! leader holds the stream, with a `client_id` kept per browser in `localStorage`, following
//! the rooms every tab shows plus the rooms the person joined; tabs announce what they show
//! (with their cursors) over a `BroadcastChannel`, and the leader posts every answer there.
//!
//! Invariants:
//! - Every tab keeps the same book as the leader (what each tab shows, each room's cursor,
//!   the unread counts), from the notes it hears, so a new leader resumes from the cursors
//!   and loses nothing; it also asks every tab to announce again.
//! - A room's cursor is the stream's `last_id`: the last message OR change (edit, deletion,
//!   reaction) read, so no change comes twice. Each view keeps its own position the same way.
//! - A tab applies a room's news only when it continues the view's position: the note carries
//!   the cursor the stream held, and a tab that finds a gap announces its own position, which
//!   rewinds the stream (the others drop what they already have). News adds the messages,
//!   then applies the changes in order (see [`super::changes`]).
//! - Without Web Locks or `BroadcastChannel` the tab leads alone, with a client id of its own.
//! - A tab counts the messages of a joined room after its read position only while no tab
//!   shows it (a shown room is read as it arrives).
//! - The stream asks for presence and typing (`live_version`) of the rooms tabs show, and of
//!   those only, so typing elsewhere wakes nobody. Every tab keeps each shown room's last
//!   state with when it came, hands it to its views of the room, and gives it to a view that
//!   opens the room later; the leader tells a tab that starts showing a room what it has.

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    rc::Rc,
    sync::Arc,
    time::Duration,
};

use gloo_net::http::Request;
use leptos::{prelude::*, task::spawn_local};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};

use super::{changes, following::ConnectionState, presence::RoomLive};
use crate::{
    api::joined_rooms,
    error::ChatError,
    model::{
        LiveState, Message, PollStatus, RoomNews, StreamBody, StreamResponse, StreamRoom,
        MAX_STREAM_ROOMS, POLL_TIMEOUT_SECS,
    },
};

const CHANNEL: &str = "longpoll-chat.stream";
const LOCK: &str = "longpoll-chat.leader";
const CLIENT_ID_KEY: &str = "longpoll-chat.client-id";
/// A guest's read positions: a JSON object of room name to message id.
const READS_KEY: &str = "longpoll-chat.reads";
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(15);
/// Messages kept on screen; older ones scroll away for good.
const MAX_ON_SCREEN: usize = 500;

/// How far the browser has a room: where the stream reads it from.
///
/// There is no "from now": a room shown empty is followed from its start, so a message sent
/// to it between two streams is still new to the next one (a stream without a cursor would wait
/// for the message after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Cursor {
    /// Nothing of the room yet: every message it has is new. Orders before any message.
    Start,
    /// Up to this position of the room's log: a message, or a change to one (ids of both are
    /// UUIDv7s of one space, in log order).
    After(Uuid),
}

impl Cursor {
    fn of(messages: &[Arc<Message>]) -> Self {
        messages
            .last()
            .map_or(Cursor::Start, |message| Cursor::After(message.id))
    }
}

/// What the tabs tell each other over the channel.
// Externally tagged (serde's default): smaller in the WASM than an internal tag.
#[derive(Serialize, Deserialize)]
enum Note {
    /// A tab shows these rooms and has each up to this position.
    Shows {
        tab: String,
        rooms: Vec<(String, Cursor)>,
    },
    /// A tab is going away.
    Gone { tab: String },
    /// A new leader asks every tab what it shows.
    Ask,
    /// The stream answered; `after` is the cursor it held for each room.
    News {
        after: Vec<(String, Cursor)>,
        rooms: Vec<RoomNews>,
    },
    /// The leader's connection.
    State { state: ConnectionState },
    /// The joined rooms, how much of each is unread, and up to which message that was counted.
    Unread {
        rooms: Vec<(String, usize, Option<Uuid>)>,
    },
    /// A tab showed `room` up to `id`.
    Read { room: String, id: Uuid },
    /// A tab signed in or out (for every tab: they share the cookie): joined rooms change.
    Identity,
    /// The leader's last presence and typing of rooms a tab just started showing, each with
    /// when it came (milliseconds since the Unix epoch).
    Live {
        rooms: Vec<(String, LiveState, f64)>,
    },
}

/// A room view following the stream.
struct View {
    room: String,
    messages: RwSignal<Vec<Arc<Message>>>,
    /// How far the view has its room: the last message or change applied to `messages`.
    position: Cursor,
    connection: RwSignal<ConnectionState>,
    /// Who is in the room and who types there.
    live: RoomLive,
    unavailable: bool,
}

#[derive(Default)]
struct Book {
    views: HashMap<u64, View>,
    next_view: u64,
    leading: bool,
    /// The rooms each tab shows (this one's included).
    shows: HashMap<String, Vec<String>>,
    /// The stream's cursor per followed room.
    cursors: HashMap<String, Cursor>,
    /// The last presence and typing of each shown room, with when it came (milliseconds since
    /// the Unix epoch): the stream asks from its version.
    live: HashMap<String, (LiveState, f64)>,
    /// The rooms whose presence the held stream asks for.
    live_asked: BTreeSet<String>,
    /// Joined rooms: unread count and the last message counted (or read).
    joined: BTreeMap<String, (usize, Option<Uuid>)>,
    connection: Option<ConnectionState>,
    /// Set when the followed rooms or cursors changed while a stream is held.
    changed: bool,
    /// The held request, aborted when the rooms change.
    abort: Option<web_sys::AbortController>,
    /// Resolves the leader's wait while it has no room to follow.
    park: Option<js_sys::Function>,
    unread_sinks: Vec<RwSignal<BTreeMap<String, usize>>>,
}

/// This tab's end of the browser's one stream.
pub struct Hub {
    tab: String,
    channel: Option<web_sys::BroadcastChannel>,
    book: RefCell<Book>,
}

thread_local! {
    static HUB: RefCell<Option<Rc<Hub>>> = const { RefCell::new(None) };
}

/// The tab's hub, started on first use (in the browser only: call it from effects).
pub fn hub() -> Rc<Hub> {
    HUB.with(|cell| {
        if let Some(hub) = cell.borrow().as_ref() {
            return hub.clone();
        }
        let hub = Rc::new(Hub {
            tab: Uuid::now_v7().to_string(),
            channel: web_sys::BroadcastChannel::new(CHANNEL).ok(),
            book: RefCell::new(Book::default()),
        });
        *cell.borrow_mut() = Some(hub.clone());
        hub.start();
        hub
    })
}

impl Hub {
    fn start(self: &Rc<Self>) {
        let shared = self.channel.is_some() && {
            let hub = self.clone();
            request_lock(move || hub.lead(browser_client_id()))
        };
        if !shared {
            // Each tab on its own: its own client id, or the tabs would supersede each other.
            self.lead(format!("tab-{}", self.tab));
            return;
        }
        if let Some(channel) = &self.channel {
            let hub = self.clone();
            let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |event: web_sys::MessageEvent| {
                    let text = event.data().as_string().unwrap_or_default();
                    if let Ok(note) = serde_json::from_str::<Note>(&text) {
                        hub.hear(note);
                    }
                },
            );
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            on_message.forget();
        }
        let hub = self.clone();
        let on_pagehide = Closure::<dyn FnMut()>::new(move || {
            hub.post(&Note::Gone {
                tab: hub.tab.clone(),
            });
        });
        let _ = window()
            .add_event_listener_with_callback("pagehide", on_pagehide.as_ref().unchecked_ref());
        on_pagehide.forget();
    }

    /// Follows `room` for a view: its messages go to `messages` (which holds the room up to
    /// its last message), the connection to `connection`, who is there and typing to `live`.
    /// Returns the id [`Hub::unfollow`] takes.
    pub fn follow(
        self: &Rc<Self>,
        room: String,
        messages: RwSignal<Vec<Arc<Message>>>,
        connection: RwSignal<ConnectionState>,
        live: RoomLive,
    ) -> u64 {
        let id = {
            let mut book = self.book.borrow_mut();
            let id = book.next_view;
            book.next_view += 1;
            if let Some(state) = book.connection {
                connection.set(state);
            }
            match book.live.get(&room) {
                Some((state, at)) => live.receive(state, *at),
                None => live.clear(),
            }
            // The history shows its messages as they are now: changes after the last one that
            // it already shows may come again, and applying them again changes nothing.
            let position = messages.with_untracked(|list| Cursor::of(list));
            book.views.insert(
                id,
                View {
                    room,
                    messages,
                    position,
                    connection,
                    live,
                    unavailable: false,
                },
            );
            id
        };
        self.announce();
        id
    }

    pub fn unfollow(self: &Rc<Self>, id: u64) {
        let view = self.book.borrow_mut().views.remove(&id);
        if let Some(view) = view {
            view.live.clear();
        }
        self.announce();
    }

    /// Where the page's unread counts go (per room, only rooms with some).
    pub fn unread_into(&self, sink: RwSignal<BTreeMap<String, usize>>) {
        let mut book = self.book.borrow_mut();
        sink.set(unread_counts(&book.joined));
        book.unread_sinks.retain(|sink| !sink.is_disposed());
        book.unread_sinks.push(sink);
    }

    /// This tab showed `room` up to `id`: it is read, and joined.
    pub fn read(self: &Rc<Self>, room: String, id: Uuid) {
        self.post(&Note::Read {
            room: room.clone(),
            id,
        });
        self.hear_read(room, id);
    }

    /// The page signed in or out: the leader loads the joined rooms of who it is now.
    pub fn identity_changed(self: &Rc<Self>) {
        self.post(&Note::Identity);
        self.reload_joined();
    }

    fn reload_joined(self: &Rc<Self>) {
        if self.book.borrow().leading {
            let hub = self.clone();
            spawn_local(async move { hub.load_joined(true).await });
        }
    }

    fn post(&self, note: &Note) {
        if let (Some(channel), Ok(text)) = (&self.channel, serde_json::to_string(note)) {
            let _ = channel.post_message(&JsValue::from_str(&text));
        }
    }

    /// Tells every tab (and this one's book) what this tab shows, with its cursors.
    fn announce(self: &Rc<Self>) {
        let rooms: Vec<(String, Cursor)> = {
            let book = self.book.borrow();
            book.views
                .values()
                .filter(|view| !view.unavailable && !view.messages.is_disposed())
                .map(|view| (view.room.clone(), view.position))
                .collect()
        };
        self.post(&Note::Shows {
            tab: self.tab.clone(),
            rooms: rooms.clone(),
        });
        self.hear_shows(self.tab.clone(), rooms);
    }

    fn hear(self: &Rc<Self>, note: Note) {
        match note {
            Note::Shows { tab, rooms } => {
                let names: Vec<String> = rooms.iter().map(|(room, _)| room.clone()).collect();
                self.hear_shows(tab, rooms);
                // A tab that just came, or opened a room, needs the leader's state: the stream
                // brings a room's presence only once it changes.
                let book = self.book.borrow();
                if book.leading {
                    let state = book.connection;
                    let unread = unread_note(&book.joined);
                    let live: Vec<_> = (names.into_iter())
                        .filter_map(|room| {
                            let (state, at) = book.live.get(&room)?.clone();
                            Some((room, state, at))
                        })
                        .collect();
                    drop(book);
                    if let Some(state) = state {
                        self.post(&Note::State { state });
                    }
                    self.post(&unread);
                    if !live.is_empty() {
                        self.post(&Note::Live { rooms: live });
                    }
                }
            }
            Note::Gone { tab } => {
                let mut book = self.book.borrow_mut();
                book.shows.remove(&tab);
                prune(&mut book);
            }
            Note::Ask => self.announce(),
            Note::News { after, rooms } => self.apply_news(&after, rooms),
            Note::State { state } => self.apply_state(state),
            Note::Unread { rooms } => {
                let mut book = self.book.borrow_mut();
                book.joined = rooms
                    .into_iter()
                    .map(|(room, count, upto)| (room, (count, upto)))
                    .collect();
                publish_unread(&mut book);
            }
            Note::Read { room, id } => self.hear_read(room, id),
            Note::Identity => self.reload_joined(),
            Note::Live { rooms } => {
                let mut book = self.book.borrow_mut();
                for (room, state, at) in rooms {
                    take_live(&mut book, room, state, at);
                }
            }
        }
    }

    fn hear_shows(&self, tab: String, rooms: Vec<(String, Cursor)>) {
        let mut book = self.book.borrow_mut();
        let mut changed = false;
        for (room, cursor) in &rooms {
            let entry = book.cursors.entry(room.clone());
            match entry {
                std::collections::hash_map::Entry::Vacant(vacant) => {
                    vacant.insert(*cursor);
                    changed = true;
                }
                // An older cursor rewinds the room: that tab is missing what came after it.
                std::collections::hash_map::Entry::Occupied(mut held) => {
                    if cursor < held.get() {
                        held.insert(*cursor);
                        changed = true;
                    }
                }
            }
        }
        book.shows
            .insert(tab, rooms.into_iter().map(|(room, _)| room).collect());
        if changed {
            book.changed = true;
        }
        prune(&mut book);
    }

    fn hear_read(self: &Rc<Self>, room: String, id: Uuid) {
        let mut book = self.book.borrow_mut();
        let entry = book.joined.entry(room.clone()).or_insert((0, None));
        *entry = (0, entry.1.max(Some(id)));
        book.cursors.entry(room).or_insert(Cursor::After(id));
        publish_unread(&mut book);
        if book.leading {
            let note = unread_note(&book.joined);
            drop(book);
            self.post(&note);
        }
    }

    fn apply_state(&self, state: ConnectionState) {
        let mut book = self.book.borrow_mut();
        book.connection = Some(state);
        for view in book.views.values() {
            if !view.unavailable {
                view.connection.try_set(state);
            }
        }
    }

    fn set_state(&self, state: ConnectionState) {
        if self.book.borrow().connection != Some(state) {
            self.post(&Note::State { state });
            self.apply_state(state);
        }
    }

    /// An answer of the stream, in every tab: advances the cursors, counts unread messages,
    /// and hands each view its room's news.
    fn apply_news(self: &Rc<Self>, after: &[(String, Cursor)], rooms: Vec<RoomNews>) {
        let mut gap = false;
        let now = js_sys::Date::now();
        {
            let mut book = self.book.borrow_mut();
            let book = &mut *book;
            let shown: HashSet<&String> = book.shows.values().flatten().collect();
            let mut gone = Vec::new();
            for news in &rooms {
                if news.unavailable {
                    gone.push(news.room.clone());
                    continue;
                }
                let last = news.messages.last().map(|message| message.id);
                if let Some(upto) = news.last_id {
                    book.cursors.insert(news.room.clone(), Cursor::After(upto));
                } else if news.reset {
                    book.cursors.insert(news.room.clone(), Cursor::Start);
                }
                if let Some((count, upto)) = book.joined.get_mut(&news.room) {
                    if shown.contains(&news.room) {
                        *count = 0;
                    } else {
                        *count += news
                            .messages
                            .iter()
                            .filter(|message| upto.is_none_or(|upto| message.id > upto))
                            .count();
                    }
                    *upto = (*upto).max(last);
                }
            }
            for room in gone {
                book.cursors.remove(&room);
                book.joined.remove(&room);
                for rooms in book.shows.values_mut() {
                    rooms.retain(|shown| *shown != room);
                }
            }
            publish_unread(book);
            for news in &rooms {
                if let Some(state) = &news.live {
                    take_live(book, news.room.clone(), LiveState::clone(state), now);
                }
            }
            for view in book.views.values_mut() {
                let Some(news) = rooms.iter().find(|news| news.room == view.room) else {
                    continue;
                };
                if news.unavailable {
                    view.unavailable = true;
                    view.connection.try_set(ConnectionState::Unavailable);
                    view.live.clear();
                    continue;
                }
                let held = after
                    .iter()
                    .find(|(room, _)| *room == view.room)
                    .map(|(_, cursor)| *cursor);
                gap |= !receive(view, news, held);
            }
        }
        if gap {
            self.announce();
        }
    }

    /// Becomes the leader: holds the stream until the tab goes away.
    fn lead(self: &Rc<Self>, client_id: String) {
        self.book.borrow_mut().leading = true;
        // For tests and the curious: which tab holds the stream.
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-stream-leader", "true");
        }
        self.post(&Note::Ask);
        // A held request outlives the network the browser lost, until its timeout: end it, so
        // the page says it is offline and resumes from its cursors once back online.
        let hub = self.clone();
        let on_offline = Closure::<dyn FnMut()>::new(move || {
            if let Some(abort) = &hub.book.borrow().abort {
                abort.abort();
            }
        });
        let _ = window()
            .add_event_listener_with_callback("offline", on_offline.as_ref().unchecked_ref());
        on_offline.forget();
        let hub = self.clone();
        spawn_local(async move {
            hub.load_joined(false).await;
            hub.hold_stream(client_id).await;
        });
    }

    /// The joined rooms and read positions: the account's from the server, a guest's from
    /// `localStorage`. `again`: the identity changed, so rooms no longer listed are dropped.
    async fn load_joined(&self, again: bool) {
        let joined: Vec<(String, usize, Option<Uuid>)> = match joined_rooms().await {
            Ok(Some(list)) => list
                .rooms
                .into_iter()
                // The stream brings what came after the read position (everything the room
                // keeps when there is none) and counts it.
                .map(|room| (room.room, 0, room.last_read_id))
                .collect(),
            Ok(None) | Err(_) => guest_reads()
                .into_iter()
                .map(|(room, id)| (room, 0, Some(id)))
                .collect(),
        };
        let mut book = self.book.borrow_mut();
        if again {
            book.joined
                .retain(|room, _| joined.iter().any(|(listed, _, _)| listed == room));
            // The held stream is someone else's: presence counts it as who it was.
            book.changed = true;
        }
        for (room, count, upto) in joined {
            if !book.cursors.contains_key(&room) {
                book.cursors
                    .insert(room.clone(), upto.map_or(Cursor::Start, Cursor::After));
                book.changed = true;
            }
            book.joined.entry(room).or_insert((count, upto));
        }
        prune(&mut book);
        publish_unread(&mut book);
        let note = unread_note(&book.joined);
        drop(book);
        self.post(&note);
    }

    async fn hold_stream(self: &Rc<Self>, mut client_id: String) {
        let mut retry = FIRST_RETRY;
        self.set_state(ConnectionState::Live);
        loop {
            let (rooms, live) = {
                let mut book = self.book.borrow_mut();
                book.changed = false;
                let (rooms, live) = stream_rooms(&book);
                book.live_asked = live.keys().cloned().collect();
                (rooms, live)
            };
            if rooms.is_empty() {
                self.park().await;
                continue;
            }
            let Ok(abort) = web_sys::AbortController::new() else {
                return;
            };
            self.book.borrow_mut().abort = Some(abort.clone());
            let answer = stream(&client_id, &rooms, &live, &abort.signal()).await;
            let changed = {
                let mut book = self.book.borrow_mut();
                book.abort = None;
                book.changed
            };
            match answer {
                Ok(answer) => {
                    retry = FIRST_RETRY;
                    match answer.status {
                        PollStatus::Success => {
                            self.set_state(ConnectionState::Live);
                            self.post(&Note::News {
                                after: rooms.clone(),
                                rooms: answer.rooms.clone(),
                            });
                            self.apply_news(&rooms, answer.rooms);
                            let book = self.book.borrow();
                            let note = unread_note(&book.joined);
                            drop(book);
                            self.post(&note);
                        }
                        PollStatus::Timeout => self.set_state(ConnectionState::Live),
                        // Another stream of this browser took over (a leader handing over):
                        // wait a moment rather than take it back at once.
                        PollStatus::Superseded => {
                            gloo_timers::future::sleep(with_jitter(FIRST_RETRY)).await;
                        }
                        PollStatus::Disconnected => {
                            self.set_state(ConnectionState::Unavailable);
                            self.park().await;
                        }
                    }
                }
                // Aborted because the rooms changed: start the new stream at once.
                Err(_) if changed => {}
                Err(StreamError::ClientTaken) => client_id = new_client_id(&client_id),
                Err(StreamError::Refused) => {
                    self.set_state(ConnectionState::Unavailable);
                    self.park().await;
                }
                Err(StreamError::Failed) => {
                    let delay = with_jitter(retry);
                    retry = (retry * 2).min(MAX_RETRY);
                    self.set_state(if is_offline() {
                        ConnectionState::Offline
                    } else {
                        ConnectionState::Reconnecting {
                            retry_in_secs: delay.as_secs_f64().ceil() as u32,
                        }
                    });
                    sleep_unless_online(delay).await;
                    self.set_state(ConnectionState::Reconnecting { retry_in_secs: 0 });
                    if healthy().await {
                        self.set_state(ConnectionState::Live);
                    }
                }
            }
        }
    }

    /// Waits until the followed rooms change.
    async fn park(&self) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            self.book.borrow_mut().park = Some(resolve);
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}

/// The rooms the next stream follows, shown ones first should there be more than a stream
/// takes, and for each shown one the presence version it asks from (0: none yet).
fn stream_rooms(book: &Book) -> (Vec<(String, Cursor)>, BTreeMap<String, u64>) {
    let shown: HashSet<&String> = book.shows.values().flatten().collect();
    let mut rooms: Vec<(String, Cursor)> = (book.cursors.iter())
        .map(|(room, cursor)| (room.clone(), *cursor))
        .collect();
    rooms.sort_unstable_by(|(a, _), (b, _)| (!shown.contains(a), a).cmp(&(!shown.contains(b), b)));
    rooms.truncate(MAX_STREAM_ROOMS);
    let live = (rooms.iter())
        .filter(|(room, _)| shown.contains(room))
        .map(|(room, _)| {
            let version = book.live.get(room).map_or(0, |(state, _)| state.version);
            (room.clone(), version)
        })
        .collect();
    (rooms, live)
}

/// Keeps a shown room's new presence and typing, and hands it to the tab's views of the room.
/// A state kept already (a repeat) changes nothing.
fn take_live(book: &mut Book, room: String, state: LiveState, at: f64) {
    let shown = book.shows.values().flatten().any(|shown| *shown == room);
    let known = (book.live.get(&room)).is_some_and(|(held, _)| held.version == state.version);
    if !shown || known {
        return;
    }
    for view in book.views.values() {
        if view.room == room && !view.unavailable {
            view.live.receive(&state, at);
        }
    }
    book.live.insert(room, (state, at));
}

/// Drops rooms no tab shows and nobody joined, and the presence of rooms no tab shows; wakes
/// the leader when the followed rooms changed, or the rooms it asks presence of.
fn prune(book: &mut Book) {
    let shown: HashSet<String> = book.shows.values().flatten().cloned().collect();
    let before = book.cursors.len();
    let joined = &book.joined;
    book.cursors
        .retain(|room, _| shown.contains(room) || joined.contains_key(room));
    if book.cursors.len() != before {
        book.changed = true;
    }
    book.live.retain(|room, _| shown.contains(room));
    if !stream_rooms(book).1.keys().eq(book.live_asked.iter()) {
        book.changed = true;
    }
    if book.changed && book.leading {
        if let Some(abort) = &book.abort {
            abort.abort();
        }
        if let Some(resolve) = book.park.take() {
            let _ = resolve.call0(&JsValue::NULL);
        }
    }
}

fn unread_counts(joined: &BTreeMap<String, (usize, Option<Uuid>)>) -> BTreeMap<String, usize> {
    joined
        .iter()
        .filter(|(_, (count, _))| *count > 0)
        .map(|(room, (count, _))| (room.clone(), *count))
        .collect()
}

fn unread_note(joined: &BTreeMap<String, (usize, Option<Uuid>)>) -> Note {
    Note::Unread {
        rooms: joined
            .iter()
            .map(|(room, (count, upto))| (room.clone(), *count, *upto))
            .collect(),
    }
}

fn publish_unread(book: &mut Book) {
    let counts = unread_counts(&book.joined);
    book.unread_sinks.retain(|sink| !sink.is_disposed());
    for sink in &book.unread_sinks {
        if sink.with_untracked(|shown| *shown != counts) {
            sink.set(counts.clone());
        }
    }
}

/// Adds a room's news to a view's list and applies its changes when it continues the view's
/// position (or replaces the list after a reset), and moves the position on. `held` is the
/// cursor the stream held. Returns false when there is a gap: the stream read the room from
/// further on than the view has it.
fn receive(view: &mut View, news: &RoomNews, held: Option<Cursor>) -> bool {
    let upto = news.last_id.map(Cursor::After);
    if news.reset {
        let mut list = news.messages.clone();
        changes::apply_all(&mut list, &news.changes);
        view.messages.try_set(list);
        view.position = upto.unwrap_or(Cursor::of(&news.messages));
        return true;
    }
    let at = view.position;
    match held {
        // From where the view is, or from before it (another tab's rewind): what the view has
        // already is dropped below.
        Some(held) if held <= at => {}
        None if at == Cursor::Start => {}
        _ => return false,
    }
    let is_new = |id: Uuid| Cursor::After(id) > at;
    let fresh: Vec<Arc<Message>> = (news.messages.iter())
        .filter(|message| is_new(message.id))
        .cloned()
        .collect();
    let changes = news.changes.iter().filter(|change| is_new(change.id));
    if !fresh.is_empty() || news.changes.iter().any(|change| is_new(change.id)) {
        view.messages.try_update(|list| {
            list.extend(fresh);
            changes::apply_all(list, changes);
            let excess = list.len().saturating_sub(MAX_ON_SCREEN);
            list.drain(..excess);
        });
    }
    if let Some(upto) = upto {
        view.position = view.position.max(upto);
    }
    true
}

/// Asks for the leader lock; `on_granted` runs once this tab holds it, which it then keeps
/// for its whole life. False when the browser has no Web Locks (web-sys has no stable binding:
/// `navigator.locks.request` is called through `Reflect`).
fn request_lock(on_granted: impl FnOnce() + 'static) -> bool {
    let navigator: JsValue = window().navigator().into();
    let Ok(locks) = js_sys::Reflect::get(&navigator, &JsValue::from_str("locks")) else {
        return false;
    };
    let Some(request) = js_sys::Reflect::get(&locks, &JsValue::from_str("request"))
        .ok()
        .and_then(|request| request.dyn_into::<js_sys::Function>().ok())
    else {
        return false;
    };
    let mut on_granted = Some(on_granted);
    let callback = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new(move |_lock| {
        if let Some(on_granted) = on_granted.take() {
            on_granted();
        }
        // Never settles: the lock is released only when the tab goes away.
        js_sys::Promise::new(&mut |_, _| {})
    });
    let asked = request
        .call2(
            &locks,
            &JsValue::from_str(LOCK),
            callback.as_ref().unchecked_ref(),
        )
        .is_ok();
    callback.forget();
    asked
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// This browser's client id, kept in `localStorage` so every tab and every leader uses it.
fn browser_client_id() -> String {
    match storage().and_then(|storage| storage.get_item(CLIENT_ID_KEY).ok().flatten()) {
        Some(id) => id,
        None => new_client_id("browser"),
    }
}

/// A new client id of the same kind as `old` (a browser's, kept for every tab; or a tab's).
fn new_client_id(old: &str) -> String {
    let kind = if old.starts_with("tab-") {
        "tab"
    } else {
        "browser"
    };
    let id = format!("{kind}-{}", Uuid::now_v7());
    if kind == "browser" {
        if let Some(storage) = storage() {
            let _ = storage.set_item(CLIENT_ID_KEY, &id);
        }
    }
    id
}

/// A guest's read positions.
pub fn guest_reads() -> BTreeMap<String, Uuid> {
    storage()
        .and_then(|storage| storage.get_item(READS_KEY).ok().flatten())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Keeps a guest's read position of `room` (forward only), at most a stream's worth of rooms.
pub fn keep_guest_read(room: &str, id: Uuid) {
    let mut reads = guest_reads();
    let entry = reads.entry(room.to_owned()).or_insert(id);
    *entry = (*entry).max(id);
    while reads.len() > MAX_STREAM_ROOMS {
        reads.pop_first();
    }
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(&reads)) {
        let _ = storage.set_item(READS_KEY, &text);
    }
}

/// Why a stream brought nothing.
enum StreamError {
    /// 401, 403 or 404: this browser may not follow these rooms.
    Refused,
    /// The client id is someone else's now (another identity held it in this browser, say a
    /// guest before signing in): take a new one.
    ClientTaken,
    /// Network, abort, or another non-200 answer: retry.
    Failed,
}

impl From<gloo_net::Error> for StreamError {
    fn from(_: gloo_net::Error) -> Self {
        Self::Failed
    }
}

/// Holds one stream; `live` is the presence version to ask from for each shown room.
async fn stream(
    client_id: &str,
    rooms: &[(String, Cursor)],
    live: &BTreeMap<String, u64>,
    abort: &web_sys::AbortSignal,
) -> Result<StreamResponse, StreamError> {
    let body = StreamBody {
        client_id: client_id.to_owned(),
        // The server's default, so a curl user and the page see the same poll.
        timeout: Some(POLL_TIMEOUT_SECS.default),
        rooms: rooms
            .iter()
            .map(|(room, cursor)| StreamRoom {
                room: room.clone(),
                last_message_id: match cursor {
                    Cursor::Start => None,
                    Cursor::After(id) => Some(id.to_string()),
                },
                from_start: *cursor == Cursor::Start,
                live_version: live.get(room).copied(),
            })
            .collect(),
    };
    let response = Request::post("/api/stream")
        .abort_signal(Some(abort))
        .json(&body)?
        .send()
        .await?;
    match response.status() {
        200 => Ok(response.json().await?),
        404 if is_unknown_client(response.json().await?) => Err(StreamError::ClientTaken),
        401 | 403 | 404 => Err(StreamError::Refused),
        _ => Err(StreamError::Failed),
    }
}

/// Whether an error answer says the client id is not the caller's.
fn is_unknown_client(answer: serde_json::Value) -> bool {
    answer.get("detail").and_then(serde_json::Value::as_str)
        == Some(ChatError::UnknownClient.to_string().as_str())
}

/// Waits `delay`, or less when the browser comes back online meanwhile: whoever's network
/// returns sees the room catch up at once, not at the end of the backoff.
async fn sleep_unless_online(delay: Duration) {
    let window = window();
    let millis = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, millis);
        window.set_ononline(Some(&resolve));
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    window.set_ononline(None);
}

async fn healthy() -> bool {
    let response = Request::get("/health").send().await;
    response.is_ok_and(|response| response.ok())
}

/// Between half and all of `delay`, so clients that failed together retry apart.
fn with_jitter(delay: Duration) -> Duration {
    delay.mul_f64(0.5 + js_sys::Math::random() / 2.0)
}

fn is_offline() -> bool {
    !window().navigator().on_line()
}
