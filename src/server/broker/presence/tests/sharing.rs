//! Two instances sharing a store, with what one tells the other passed on by hand.

use super::*;

struct Instance {
    name: &'static str,
    presence: Arc<Presence>,
    rooms: Rooms,
}

impl Instance {
    fn new(name: &'static str) -> Self {
        let presence = Arc::new(Presence::new(GRACE));
        presence.sharing.telling.store(true, Ordering::Relaxed);
        let rooms = Rooms::new(100, usize::MAX);
        Self {
            name,
            presence,
            rooms,
        }
    }

    fn room(&self) -> Arc<Room> {
        self.rooms.get_or_create("hall")
    }

    /// What the room shows here now, and its version (changed whether or not streams
    /// were woken for it yet).
    fn shows(&self) -> (LiveState, u64) {
        let room = self.room();
        let presence = lock(&room.presence);
        (presence.state(Instant::now()), presence.version)
    }

    /// Hands what this instance would publish now to `other`.
    fn tell(&self, other: &Instance, news: Vec<LiveNews>) {
        (other.presence).heard(self.name, news, |room| other.rooms.get_or_create(room));
    }

    fn tell_outbox(&self, other: &Instance) {
        self.tell(other, self.presence.take_outbox());
    }
}

#[tokio::test(start_paused = true)]
async fn who_is_online_on_one_instance_shows_on_the_other_until_they_leave() {
    let (a, b) = (Instance::new("a"), Instance::new("b"));
    let alice = a
        .presence
        .attend(vec![a.room()], Some(&person("alice")), "c1");
    let _guest = a.presence.attend(vec![a.room()], None, "c2");
    let _bob = b
        .presence
        .attend(vec![b.room()], Some(&person("bob")), "c3");
    a.tell_outbox(&b);
    let (shown, before) = b.shows();
    assert_eq!(shown.online, ["alice", "bob"]);
    assert_eq!(shown.guests, 1);

    // Said again unchanged (a refresh): nothing to show, so no new version.
    a.tell(&b, a.presence.refresh(Instant::now()));
    assert_eq!(b.shows().1, before);

    // Alice's stream ends: she leaves once the grace period is over, everywhere.
    drop(alice);
    tokio::time::advance(GRACE).await;
    a.presence.end_leaves(Instant::now());
    a.tell_outbox(&b);
    let (shown, after) = b.shows();
    assert_eq!(shown.online, ["bob"]);
    assert_eq!(shown.guests, 1);
    assert!(after > before);
}

#[tokio::test(start_paused = true)]
async fn an_instance_that_stops_saying_who_is_online_is_forgotten_after_a_while() {
    let (a, b) = (Instance::new("a"), Instance::new("b"));
    let _alice = a
        .presence
        .attend(vec![a.room()], Some(&person("alice")), "c1");
    a.tell_outbox(&b);
    let heard_lasts = b.presence.sharing.heard_lasts;
    assert!(heard_lasts >= GRACE);

    // A keeps saying it: alice stays.
    for _ in 0..5 {
        tokio::time::advance(a.presence.sharing.refresh_every).await;
        a.tell(&b, a.presence.refresh(Instant::now()));
        assert!(
            b.presence.refresh(Instant::now()).is_empty(),
            "b has nobody"
        );
        assert_eq!(b.shows().0.online, ["alice"]);
    }

    // A dies: once what it said runs out, alice is gone, with a new version.
    let before = b.shows().1;
    tokio::time::advance(heard_lasts - Duration::from_millis(1)).await;
    b.presence.refresh(Instant::now());
    assert_eq!(b.shows().1, before, "not yet");
    assert_eq!(b.shows().0.online, ["alice"]);
    tokio::time::advance(Duration::from_millis(1)).await;
    b.presence.refresh(Instant::now());
    let (shown, after) = b.shows();
    assert!(shown.online.is_empty());
    assert!(after > before);
    // And the room is no longer tracked: nothing holds it for presence.
    b.presence.refresh(Instant::now());
    assert!(lock(&b.presence.sharing.outbox).tracked.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_joining_instance_is_told_who_is_online_at_once() {
    let (a, b) = (Instance::new("a"), Instance::new("b"));
    let _alice = a
        .presence
        .attend(vec![a.room()], Some(&person("alice")), "c1");
    a.presence.take_outbox();
    // B (re)joins and says hello.
    b.tell(&a, vec![LiveNews::Hello]);
    a.tell_outbox(&b);
    assert_eq!(b.shows().0.online, ["alice"]);
}

#[tokio::test(start_paused = true)]
async fn typing_on_one_instance_shows_on_the_other_and_ends_with_the_message() {
    let (a, b) = (Instance::new("a"), Instance::new("b"));
    a.presence.typing(&a.room(), &person("alice"));
    a.tell_outbox(&b);
    assert_eq!(b.shows().0.typing, ["alice"]);
    // What B heard is not passed on again.
    assert!(b.presence.take_outbox().is_empty());
    // Every instance hears of alice's message and ends her typing itself.
    b.presence.stopped_typing(&b.room(), "alice");
    assert!(b.shows().0.typing.is_empty());
    // Without a message, it ends by itself.
    a.presence.typing(&a.room(), &person("carol"));
    a.tell_outbox(&b);
    tokio::time::advance(Duration::from_secs(TYPING_LASTS_SECS)).await;
    assert!(b.shows().0.typing.is_empty());
}

#[tokio::test(start_paused = true)]
async fn with_nobody_to_tell_nothing_is_kept_for_them() {
    let presence = Arc::new(Presence::new(GRACE));
    let rooms = Rooms::new(100, usize::MAX);
    let room = rooms.get_or_create("hall");
    let _alice = presence.attend(vec![room.clone()], Some(&person("alice")), "c1");
    presence.typing(&room, &person("alice"));
    let outbox = lock(&presence.sharing.outbox);
    assert!(outbox.typing.is_empty() && outbox.presence_changed.is_empty());
    assert!(outbox.tracked.is_empty());
}
