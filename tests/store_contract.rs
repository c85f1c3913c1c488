//! The store contract (see `server::store`), one suite run against every store (memory, SQLite,
//! and a private Redis) as one test per store and case (`appends_…::memory`, `…::sqlite`,
//! `…::redis`), plus what only a persistent store promises: surviving a reopen (and a Redis
//! crash), failing cleanly when the disk is full or Redis is gone, and naming the file when it
//! cannot open it.
#![cfg(feature = "ssr")]

mod common;

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{eventually, redis::RedisServer};
use longpoll_chat::{
    model::Message,
    server::store::{
        CommitSink, RedisStore, Retention, SqliteStore, Store, StoreConfig, StoreError, StoredRoom,
    },
};
use tempfile::TempDir;
use uuid::Uuid;

/// A sink that records what it receives, with offsets.
#[derive(Default)]
struct Recorder(Mutex<Vec<(Arc<Message>, u64)>>);

impl CommitSink for Recorder {
    fn committed(&self, message: Arc<Message>, offset: u64) {
        self.0.lock().unwrap().push((message, offset));
    }
}

impl Recorder {
    fn received(&self, room: &str) -> Vec<(Arc<Message>, u64)> {
        let received = self.0.lock().unwrap();
        received
            .iter()
            .filter(|(message, _)| message.room == room)
            .cloned()
            .collect()
    }

    fn ids(&self, room: &str) -> Vec<Uuid> {
        self.received(room).iter().map(|(m, _)| m.id).collect()
    }

    /// Offsets received for `room`, checking that they count up by one.
    fn offsets(&self, room: &str) -> Vec<u64> {
        let offsets: Vec<u64> = self.received(room).iter().map(|(_, o)| *o).collect();
        assert!(
            offsets.windows(2).all(|pair| pair[1] == pair[0] + 1),
            "{offsets:?}"
        );
        offsets
    }
}

fn message(room: &str, text: &str) -> Message {
    Message {
        id: Uuid::now_v7(),
        sender: "alice".into(),
        text: text.into(),
        timestamp: 1_795_000_000.25,
        room: room.into(),
        // Not the default, so a store that drops it fails the contract.
        verified: true,
    }
}

fn room<'a>(rooms: &'a [StoredRoom], name: &str) -> &'a StoredRoom {
    rooms
        .iter()
        .find(|room| room.name == name)
        .expect("room is loaded")
}

/// Where a store keeps its messages: nowhere, a SQLite file in a temporary directory, or a
/// private Redis server. Dropping it deletes them.
struct Backing {
    config: StoreConfig,
    _dir: TempDir,
    redis: Option<RedisServer>,
}

impl Backing {
    fn new(kind: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (config, redis) = match kind {
            "memory" => (StoreConfig::Memory, None),
            "sqlite" => (StoreConfig::Sqlite(dir.path().join("chat.db")), None),
            _ => {
                let redis = RedisServer::start();
                (StoreConfig::Redis(redis.url()), Some(redis))
            }
        };
        Self {
            config,
            _dir: dir,
            redis,
        }
    }

    async fn open(&self, sink: Arc<Recorder>, retention: Retention) -> Arc<dyn Store> {
        self.config.open(sink, retention).await.unwrap()
    }

    /// Two stores on the same backing (two instances sharing it), each with its own sink.
    async fn open_two(&self) -> ([Arc<Recorder>; 2], [Arc<dyn Store>; 2]) {
        let sinks = [Arc::new(Recorder::default()), Arc::new(Recorder::default())];
        let stores = [
            self.open(sinks[0].clone(), Retention::default()).await,
            self.open(sinks[1].clone(), Retention::default()).await,
        ];
        (sinks, stores)
    }
}

/// A freshly opened store of one kind, with the sink it feeds.
struct Fixture {
    store: Arc<dyn Store>,
    sink: Arc<Recorder>,
    _backing: Backing,
}

impl Fixture {
    /// A store of `kind` ("memory", "sqlite" or "redis") keeping what `retention` says.
    async fn open(kind: &str, retention: Retention) -> Self {
        let backing = Backing::new(kind);
        let sink = Arc::new(Recorder::default());
        let store = backing.open(sink.clone(), retention).await;
        Self {
            store,
            sink,
            _backing: backing,
        }
    }
}

/// Runs the case `async fn $case(kind: &'static str)` as one `#[$test]` per store, named
/// `$case::memory`, `$case::sqlite` and `$case::redis` (or per store listed), so a failure
/// names its store and the others still run: where `redis-server` is missing, only the Redis
/// ones fail, saying so.
macro_rules! each_store {
    (#[$test:meta] $case:ident) => {
        each_store!(#[$test] $case: memory, sqlite, redis);
    };
    (#[$test:meta] $case:ident: $($kind:ident),+) => {
        mod $case {
            $(
                #[$test]
                async fn $kind() {
                    super::$case(stringify!($kind)).await;
                }
            )+
        }
    };
}

each_store!(
    #[tokio::test]
    appends_reach_the_sink_in_order_with_every_field
);
async fn appends_reach_the_sink_in_order_with_every_field(kind: &'static str) {
    let fixture = Fixture::open(kind, Retention::default()).await;
    let sent: Vec<Message> = (0..5).map(|i| message("order", &format!("m{i}"))).collect();
    for message in &sent {
        fixture.store.append(message.clone()).await.unwrap();
    }
    let received = fixture.sink.received("order");
    let received: Vec<Message> = received.iter().map(|(m, _)| (**m).clone()).collect();
    assert_eq!(received, sent, "{kind}");
    assert_eq!(fixture.sink.offsets("order"), [0, 1, 2, 3, 4], "{kind}");
}

each_store!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    concurrent_appends_are_delivered_in_the_order_they_are_kept
);
async fn concurrent_appends_are_delivered_in_the_order_they_are_kept(kind: &'static str) {
    let fixture = Fixture::open(kind, Retention::default()).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = fixture.store.clone();
        tasks.push(tokio::spawn(async move {
            store.append(message("race", &format!("m{i}"))).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let delivered = fixture.sink.ids("race");
    assert_eq!(delivered.len(), 200, "{kind}");
    assert_eq!(fixture.sink.offsets("race").len(), 200, "{kind}");
    let loaded = fixture.store.load(1_000).await.unwrap();
    let kept: Vec<Uuid> = room(&loaded, "race").recent.iter().map(|m| m.id).collect();
    assert_eq!(
        kept, delivered,
        "{kind}: store order and delivery order differ"
    );
}

each_store!(
    #[tokio::test]
    load_returns_recent_messages_per_room_with_totals_within_retention
);
async fn load_returns_recent_messages_per_room_with_totals_within_retention(kind: &'static str) {
    let retention = Retention {
        max_messages_per_room: 5,
        max_age: None,
    };
    let fixture = Fixture::open(kind, retention).await;
    for i in 0..8 {
        fixture
            .store
            .append(message("busy", &format!("b{i}")))
            .await
            .unwrap();
    }
    fixture.store.append(message("calm", "c0")).await.unwrap();
    let rooms = fixture.store.load(3).await.unwrap();
    assert_eq!(rooms.len(), 2, "{kind}");
    let busy = room(&rooms, "busy");
    assert_eq!(busy.total, 8, "{kind}");
    let texts: Vec<&str> = busy.recent.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["b5", "b6", "b7"], "{kind}");
    let all = fixture.store.load(100).await.unwrap();
    assert_eq!(
        room(&all, "busy").recent.len(),
        5,
        "{kind}: retention keeps 5"
    );
    assert_eq!(room(&all, "calm").total, 1, "{kind}");
    fixture.store.check().await.unwrap();
}

fn open_sqlite(path: &Path, sink: Arc<Recorder>) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(path, sink, Retention::default())
}

each_store!(#[tokio::test] a_persistent_store_keeps_everything_across_a_reopen: sqlite, redis);
async fn a_persistent_store_keeps_everything_across_a_reopen(kind: &'static str) {
    let backing = Backing::new(kind);
    let sent: Vec<Message> = (0..10)
        .map(|i| message("durable", &format!("m{i}")))
        .collect();
    {
        let store = backing.open(Arc::default(), Retention::default()).await;
        for message in &sent {
            store.append(message.clone()).await.unwrap();
        }
    }
    let sink = Arc::new(Recorder::default());
    let store = backing.open(sink.clone(), Retention::default()).await;
    let rooms = store.load(100).await.unwrap();
    let loaded: Vec<Message> = room(&rooms, "durable")
        .recent
        .iter()
        .map(|m| (**m).clone())
        .collect();
    assert_eq!(loaded, sent, "{kind}");
    assert_eq!(room(&rooms, "durable").total, 10, "{kind}");
    store.append(message("durable", "after")).await.unwrap();
    assert_eq!(
        sink.offsets("durable").last(),
        Some(&10),
        "{kind}: offsets go on"
    );
    let rooms = store.load(100).await.unwrap();
    assert_eq!(room(&rooms, "durable").total, 11, "{kind}");
    assert_eq!(
        room(&rooms, "durable").recent.last().unwrap().text,
        "after",
        "{kind}"
    );
}

#[tokio::test]
async fn a_nested_sqlite_path_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/chat.db");
    let store = open_sqlite(&path, Arc::default()).unwrap();
    store.append(message("nested", "m0")).await.unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn redis_going_away_fails_appends_and_checks_and_loses_nothing_acknowledged() {
    let mut backing = Backing::new("redis");
    let sink = Arc::new(Recorder::default());
    let store = backing.open(sink.clone(), Retention::default()).await;
    store.append(message("outage", "before")).await.unwrap();
    let server = backing.redis.as_mut().unwrap();
    server.kill();
    assert!(matches!(
        store.append(message("outage", "during")).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(store.check().await.is_err());
    server.restart();
    // The store reconnects by itself (backoff starts at 100 ms); look until it serves again.
    eventually(Duration::from_secs(15), "the store reconnects", || async {
        store.check().await.is_ok()
    })
    .await;
    store.append(message("outage", "after")).await.unwrap();
    let rooms = store.load(100).await.unwrap();
    let texts: Vec<&str> = room(&rooms, "outage")
        .recent
        .iter()
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(texts, ["before", "after"]);
    assert_eq!(sink.offsets("outage"), [0, 1]);
}

#[tokio::test]
async fn a_redis_subscription_stays_up_through_its_periodic_checks() {
    let backing = Backing::new("redis");
    let url = backing.redis.as_ref().unwrap().url();
    let sink = Arc::new(Recorder::default());
    let ping_every = Duration::from_millis(20);
    let watcher =
        RedisStore::open_with_ping_period(&url, sink.clone(), Retention::default(), ping_every)
            .await
            .unwrap();
    let sender = backing.open(Arc::default(), Retention::default()).await;
    // Time is what is under test here: let a dozen checks go by.
    tokio::time::sleep(ping_every * 12).await;
    watcher.check().await.expect("still subscribed");
    sender
        .append(message("pinged", "after the checks"))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(5),
        "the publication arrives",
        || async { !sink.ids("pinged").is_empty() },
    )
    .await;
    assert_eq!(
        sink.offsets("pinged"),
        [0],
        "delivered by the subscription, not a catch-up"
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_open_error() {
    let redis = RedisServer::start();
    let url = redis.url();
    drop(redis);
    let error = StoreConfig::Redis(url.clone())
        .open(Arc::new(Recorder::default()), Retention::default())
        .await
        .err()
        .expect("open fails");
    let text = error.to_string();
    assert!(text.contains(&url), "{text}");
}

#[tokio::test]
async fn a_full_disk_fails_the_append_reaches_no_sink_and_keeps_serving_reads() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Recorder::default());
    let path = dir.path().join("chat.db");
    // The schema takes 10 of the pages; the messages get the rest.
    let store =
        SqliteStore::open_with_page_limit(&path, sink.clone(), Retention::default(), Some(16))
            .unwrap();
    let big = "x".repeat(3_000);
    let mut failed = None;
    for i in 0..100 {
        match store.append(message("full", &format!("{i}{big}"))).await {
            Ok(()) => {}
            Err(error) => {
                failed = Some((i, error));
                break;
            }
        }
    }
    let (acked, error) = failed.expect("the capped file fills up");
    assert!(
        matches!(error, StoreError::Unavailable(ref cause) if cause.contains("full")),
        "{error}"
    );
    assert_eq!(
        sink.ids("full").len(),
        acked,
        "the failed message reached no poll"
    );
    let rooms = store.load(1_000).await.unwrap();
    assert_eq!(room(&rooms, "full").recent.len(), acked);
    assert_eq!(room(&rooms, "full").total, acked as u64);
    store.check().await.unwrap();
}

#[tokio::test]
async fn a_corrupt_database_file_is_a_clear_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    std::fs::write(
        &path,
        b"this is not a sqlite database, just some text".repeat(100),
    )
    .unwrap();
    let error = open_sqlite(&path, Arc::default())
        .err()
        .expect("open fails");
    let text = error.to_string();
    assert!(text.contains("corrupt.db"), "{text}");
    assert!(text.contains("not a database"), "{text}");
}

#[tokio::test]
async fn migrations_are_versioned_and_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    drop(open_sqlite(&path, Arc::default()).unwrap());
    drop(open_sqlite(&path, Arc::default()).unwrap());
    let connection = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 3);
    let tables: i64 = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tables, 6, "rooms, messages, and the identity tables");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stores_sharing_a_server_hand_every_message_to_every_sink_in_one_order() {
    let backing = Backing::new("redis");
    let (sinks, stores) = backing.open_two().await;
    let mut tasks = Vec::new();
    for i in 0..300 {
        let store = stores[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            store.append(message("shared", &format!("m{i}"))).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    for store in &stores {
        store.catch_up("shared").await.unwrap();
    }
    let kept: Vec<Uuid> = room(&stores[0].load(1_000).await.unwrap(), "shared")
        .recent
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(kept.len(), 300);
    for sink in &sinks {
        assert_eq!(sink.ids("shared"), kept);
        assert_eq!(sink.offsets("shared").len(), 300);
    }
}

#[tokio::test]
async fn redis_losing_its_data_starts_rooms_over_rather_than_dropping_new_messages() {
    let backing = Backing::new("redis");
    let (sinks, stores) = backing.open_two().await;
    for i in 0..3 {
        stores[0]
            .append(message("lost", &format!("m{i}")))
            .await
            .unwrap();
    }
    stores[1].catch_up("lost").await.unwrap();
    // Redis restarts without what it had (as without persistence).
    let url = backing.redis.as_ref().unwrap().url();
    let mut raw = redis::Client::open(url).unwrap();
    let _: () = redis::cmd("FLUSHALL").query(&mut raw).unwrap();

    stores[0].append(message("lost", "after")).await.unwrap();
    stores[1].catch_up("lost").await.unwrap();
    for sink in &sinks {
        let received: Vec<(String, u64)> = sink
            .received("lost")
            .iter()
            .map(|(m, offset)| (m.text.clone(), *offset))
            .collect();
        assert_eq!(
            received,
            [("m0", 0), ("m1", 1), ("m2", 2), ("after", 0)].map(|(t, o)| (t.to_owned(), o))
        );
    }
    let rooms = stores[1].load(100).await.unwrap();
    assert_eq!(room(&rooms, "lost").total, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_store_reads_back_every_room_it_missed_while_unsubscribed() {
    let backing = Backing::new("redis");
    let sink = Arc::new(Recorder::default());
    let watcher = backing.open(sink.clone(), Retention::default()).await;
    // Cut the watcher's subscription (its reconnection waits 100 ms), then send to many rooms.
    let url = backing.redis.as_ref().unwrap().url();
    let mut raw = redis::Client::open(url).unwrap();
    let _: u64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "pubsub"][..])
        .query(&mut raw)
        .unwrap();
    let sender = backing.open(Arc::default(), Retention::default()).await;
    let rooms: Vec<String> = (0..1_000).map(|i| format!("missed{i}")).collect();
    for room in &rooms {
        sender.append(message(room, "while away")).await.unwrap();
    }
    eventually(
        Duration::from_secs(10),
        "every room is read back",
        || async { rooms.iter().all(|room| !sink.ids(room).is_empty()) },
    )
    .await;
    for room in &rooms {
        assert_eq!(sink.offsets(room), [0], "{room}");
    }
    watcher.check().await.unwrap();
}
