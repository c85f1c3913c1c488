//! Leaves, with `Presence::run` making them final: only once the grace period has passed
//! without a new stream, and queued once per room and person however often their streams end
//! and come back.

use super::*;

/// Presence running as the broker runs it, and `count` rooms.
fn running(count: usize) -> (Arc<Presence>, Vec<Arc<Room>>) {
    let presence = Arc::new(Presence::new(GRACE));
    tokio::spawn(presence.clone().run(CancellationToken::new()));
    let rooms = Rooms::new(100, usize::MAX);
    let rooms = (0..count)
        .map(|room| rooms.get_or_create(&format!("room{room}")))
        .collect();
    (presence, rooms)
}

fn online(room: &Room) -> Vec<String> {
    lock(&room.presence).state(Instant::now()).online
}

fn queued(presence: &Presence) -> usize {
    lock(&presence.pending).leaving.len()
}

/// Long enough past a leave's final instant for `run` to have made it final: it may be busy
/// waking streams then.
const SETTLED: Duration = WAKE_EVERY.saturating_mul(2);

#[tokio::test(start_paused = true)]
async fn a_client_back_within_the_grace_period_again_and_again_queues_one_leave_per_room() {
    let (presence, rooms) = running(3);
    let alice = person("alice");
    // Answered ten times a second for two grace periods: her queued leaves come due meanwhile.
    let every = Duration::from_millis(100);
    for _ in 0..(2 * GRACE.as_millis() / every.as_millis()) {
        drop(presence.attend(rooms.clone(), Some(&alice), "c1"));
        assert!(queued(&presence) <= rooms.len(), "one per room at most");
        tokio::time::sleep(every).await;
        assert!(rooms.iter().all(|room| online(room) == ["alice"]));
    }

    // She stays away: gone once the grace period after her last leave is over, not before.
    let left = Instant::now() - every;
    tokio::time::sleep_until(left + GRACE - Duration::from_millis(1)).await;
    assert!(rooms.iter().all(|room| online(room) == ["alice"]));
    tokio::time::sleep(SETTLED).await;
    assert!(rooms.iter().all(|room| online(room).is_empty()));
    assert_eq!(queued(&presence), 0);
}

#[tokio::test(start_paused = true)]
async fn one_who_comes_back_and_leaves_again_is_gone_grace_after_the_later_leave() {
    let (presence, rooms) = running(1);
    let (alice, room) = (person("alice"), &rooms[0]);
    drop(presence.attend(rooms.clone(), Some(&alice), "c1"));
    tokio::time::sleep(GRACE / 3).await;
    let back = presence.attend(rooms.clone(), Some(&alice), "c1");
    tokio::time::sleep(GRACE / 3).await;
    drop(back);
    let left = Instant::now();
    assert_eq!(queued(&presence), 1, "the later leave rides on the first");
    // Bob leaves after her: his leave is queued behind the first of hers, before her later one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(presence.attend(rooms.clone(), Some(&person("bob")), "c2"));

    // Past the first leave's grace period: still there, her leave queued for the later one.
    tokio::time::sleep_until(left + GRACE - Duration::from_millis(1)).await;
    assert_eq!(online(room), ["alice", "bob"]);
    assert_eq!(queued(&presence), 2);
    // Gone in time, not when Bob's leave comes due.
    tokio::time::sleep(SETTLED).await;
    assert_eq!(online(room), ["bob"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(online(room).is_empty());
    assert_eq!(queued(&presence), 0);
}

#[tokio::test(start_paused = true)]
async fn one_back_for_good_stays_and_their_next_leave_is_queued_anew() {
    let (presence, rooms) = running(1);
    let (alice, room) = (person("alice"), &rooms[0]);
    drop(presence.attend(rooms.clone(), Some(&alice), "c1"));
    let back = presence.attend(rooms.clone(), Some(&alice), "c1");
    tokio::time::sleep(GRACE + SETTLED).await;
    assert_eq!(online(room), ["alice"]);
    assert_eq!(
        queued(&presence),
        0,
        "the leave she came back from is dropped"
    );

    drop(back);
    let left = Instant::now();
    assert_eq!(queued(&presence), 1);
    tokio::time::sleep_until(left + GRACE - Duration::from_millis(1)).await;
    assert_eq!(online(room), ["alice"]);
    tokio::time::sleep(SETTLED).await;
    assert!(online(room).is_empty());
}

#[tokio::test(start_paused = true)]
async fn what_a_burst_of_leaves_took_is_given_back_once_they_are_final() {
    let (presence, rooms) = running(1);
    let guests = 10_000;
    for client in 0..guests {
        drop(presence.attend(rooms.clone(), None, &format!("c{client}")));
    }
    assert_eq!(queued(&presence), guests);
    assert_eq!(
        lock(&rooms[0].presence).state(Instant::now()).guests,
        guests
    );

    tokio::time::sleep(GRACE + SETTLED).await;
    assert_eq!(lock(&rooms[0].presence).state(Instant::now()).guests, 0);
    let pending = lock(&presence.pending);
    assert!(pending.leaving.is_empty());
    assert!(pending.leaving.capacity() <= 2 * KEPT_LEAVING);
}
