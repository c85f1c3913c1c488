//! The store contract (see `server::store` and `server::store::identity`), one suite run against
//! every store (memory, SQLite, and a private Redis) as one test per store and case
//! (`appends_…::memory`, `…::sqlite`, `…::redis`), plus what only a persistent store promises:
//! surviving a reopen (and a Redis crash), failing cleanly when the disk is full or Redis is
//! gone, and naming the file when it cannot open it; and what only a shared store promises:
//! telling every other instance of identity changes.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use longpoll_chat::{
    model::{Change, ChangeKind, Entry, Message, NotifyLevel},
    server::{
        clock::unix_seconds,
        store::{
            identity::{
                AccountRecord, JoinedRoomRecord, PrivateRoomRecord, SessionRecord, TokenHash,
            },
            Cluster, ClusterSink, CommitSink, IdentitySink, IdentityStore, LiveNews, LogStore,
            PushSubscriptionRecord, RedisStore, Retention, SqliteStore, StoreConfig, StoreError,
            StoredRoom,
        },
    },
};
use tempfile::TempDir;
use uuid::Uuid;

use crate::common::{eventually, redis::RedisServer};

/// A sink that records what it receives, with offsets.
#[derive(Default)]
struct Recorder(Mutex<Vec<(Entry, u64)>>);

impl CommitSink for Recorder {
    fn committed(&self, entry: Entry, offset: u64) {
        self.0.lock().unwrap().push((entry, offset));
    }
}

impl Recorder {
    fn received(&self, room: &str) -> Vec<(Entry, u64)> {
        let received = self.0.lock().unwrap();
        received
            .iter()
            .filter(|(entry, _)| entry.room() == room)
            .cloned()
            .collect()
    }

    fn ids(&self, room: &str) -> Vec<Uuid> {
        self.received(room).iter().map(|(m, _)| m.id()).collect()
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
        // Not the defaults, so a store that drops them fails the contract.
        verified: true,
        author: Some("alice".into()),
        mentions: vec!["bob".into(), "cy".into()],
        ..Message::default()
    }
}

/// The message an entry is (the contract's cases mostly append messages).
fn msg(entry: &Entry) -> &Message {
    entry.message().expect("a message, not a change")
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
                (redis.url().parse().unwrap(), Some(redis))
            }
        };
        Self {
            config,
            _dir: dir,
            redis,
        }
    }

    async fn open(&self, sink: Arc<Recorder>, retention: Retention) -> Arc<dyn LogStore> {
        self.config.open(sink, retention).await.unwrap()
    }

    async fn open_identity(&self, sink: Arc<Heard>) -> Arc<dyn IdentityStore> {
        self.config.open_identity(sink).await.unwrap()
    }

    /// Two stores on the same backing (two instances sharing it), each with its own sink.
    async fn open_two(&self) -> ([Arc<Recorder>; 2], [Arc<dyn LogStore>; 2]) {
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
    store: Arc<dyn LogStore>,
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
        fixture.store.append(message.clone().into()).await.unwrap();
    }
    let received = fixture.sink.received("order");
    let received: Vec<Message> = received.iter().map(|(m, _)| msg(m).clone()).collect();
    assert_eq!(received, sent, "{kind}");
    assert_eq!(fixture.sink.offsets("order"), [0, 1, 2, 3, 4], "{kind}");
}

/// A message and a change of every kind to it, as one room's log entries.
fn message_and_changes(room: &str) -> Vec<Entry> {
    let message = message(room, "typo");
    let change = |kind: ChangeKind| {
        Entry::from(Change {
            id: Uuid::now_v7(),
            room: room.into(),
            message_id: message.id,
            by: "Bob".into(),
            author: "token:bob".into(),
            timestamp: 1_795_000_001.5,
            kind,
        })
    };
    vec![
        Entry::from(message.clone()),
        change(ChangeKind::Edit {
            text: "fixed ✓\nline two".into(),
            mentions: vec!["dee".into()],
        }),
        change(ChangeKind::React {
            emoji: "👍🏽".into()
        }),
        change(ChangeKind::Unreact {
            emoji: "👍🏽".into()
        }),
        change(ChangeKind::Delete),
    ]
}

each_store!(
    #[tokio::test]
    changes_are_entries_of_the_log_in_order_with_messages_and_every_field
);
async fn changes_are_entries_of_the_log_in_order_with_messages_and_every_field(kind: &'static str) {
    let fixture = Fixture::open(kind, Retention::default()).await;
    let entries = message_and_changes("changes");
    for entry in &entries {
        fixture.store.append(entry.clone()).await.unwrap();
    }
    fixture
        .store
        .append(message("changes", "after").into())
        .await
        .unwrap();
    let received: Vec<Entry> = (fixture.sink.received("changes").into_iter())
        .map(|(entry, _)| entry)
        .collect();
    assert_eq!(received[..5], entries[..], "{kind}");
    assert_eq!(msg(&received[5]).text, "after", "{kind}");
    assert_eq!(
        fixture.sink.offsets("changes"),
        [0, 1, 2, 3, 4, 5],
        "{kind}"
    );
    let rooms = fixture.store.load(100).await.unwrap();
    assert_eq!(room(&rooms, "changes").recent, received, "{kind}");
    assert_eq!(room(&rooms, "changes").total, 6, "{kind}");
}

each_store!(#[tokio::test] changes_survive_a_reopen: sqlite, redis);
async fn changes_survive_a_reopen(kind: &'static str) {
    let backing = Backing::new(kind);
    let entries = message_and_changes("kept-changes");
    {
        let store = backing.open(Arc::default(), Retention::default()).await;
        for entry in &entries {
            store.append(entry.clone()).await.unwrap();
        }
    }
    let store = backing.open(Arc::default(), Retention::default()).await;
    let rooms = store.load(100).await.unwrap();
    assert_eq!(room(&rooms, "kept-changes").recent, entries, "{kind}");
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
            store.append(message("race", &format!("m{i}")).into()).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let delivered = fixture.sink.ids("race");
    assert_eq!(delivered.len(), 200, "{kind}");
    assert_eq!(fixture.sink.offsets("race").len(), 200, "{kind}");
    let loaded = fixture.store.load(1_000).await.unwrap();
    let kept: Vec<Uuid> = room(&loaded, "race")
        .recent
        .iter()
        .map(|m| m.id())
        .collect();
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
            .append(message("busy", &format!("b{i}")).into())
            .await
            .unwrap();
    }
    fixture
        .store
        .append(message("calm", "c0").into())
        .await
        .unwrap();
    let rooms = fixture.store.load(3).await.unwrap();
    assert_eq!(rooms.len(), 2, "{kind}");
    let busy = room(&rooms, "busy");
    assert_eq!(busy.total, 8, "{kind}");
    let texts: Vec<&str> = busy.recent.iter().map(|m| msg(m).text.as_str()).collect();
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
            store.append(message.clone().into()).await.unwrap();
        }
    }
    let sink = Arc::new(Recorder::default());
    let store = backing.open(sink.clone(), Retention::default()).await;
    let rooms = store.load(100).await.unwrap();
    let loaded: Vec<Message> = room(&rooms, "durable")
        .recent
        .iter()
        .map(|m| msg(m).clone())
        .collect();
    assert_eq!(loaded, sent, "{kind}");
    assert_eq!(room(&rooms, "durable").total, 10, "{kind}");
    store
        .append(message("durable", "after").into())
        .await
        .unwrap();
    assert_eq!(
        sink.offsets("durable").last(),
        Some(&10),
        "{kind}: offsets go on"
    );
    let rooms = store.load(100).await.unwrap();
    assert_eq!(room(&rooms, "durable").total, 11, "{kind}");
    assert_eq!(
        msg(room(&rooms, "durable").recent.last().unwrap()).text,
        "after",
        "{kind}"
    );
}

#[tokio::test]
async fn a_nested_sqlite_path_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/chat.db");
    let store = open_sqlite(&path, Arc::default()).unwrap();
    store.append(message("nested", "m0").into()).await.unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn redis_going_away_fails_appends_and_checks_and_loses_nothing_acknowledged() {
    let mut backing = Backing::new("redis");
    let sink = Arc::new(Recorder::default());
    let store = backing.open(sink.clone(), Retention::default()).await;
    store
        .append(message("outage", "before").into())
        .await
        .unwrap();
    let server = backing.redis.as_mut().unwrap();
    server.kill();
    assert!(matches!(
        store.append(message("outage", "during").into()).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(store.check().await.is_err());
    server.restart();
    // The store reconnects by itself (backoff starts at 100 ms); look until it serves again.
    eventually(Duration::from_secs(15), "the store reconnects", || async {
        store.check().await.is_ok()
    })
    .await;
    store
        .append(message("outage", "after").into())
        .await
        .unwrap();
    let rooms = store.load(100).await.unwrap();
    let texts: Vec<&str> = room(&rooms, "outage")
        .recent
        .iter()
        .map(|m| msg(m).text.as_str())
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
    let watcher = RedisStore::open_with_ping_period(
        &url,
        None,
        sink.clone(),
        Retention::default(),
        ping_every,
    )
    .await
    .unwrap();
    let sender = backing.open(Arc::default(), Retention::default()).await;
    // Time is what is under test here: let a dozen checks go by.
    tokio::time::sleep(ping_every * 12).await;
    watcher.check().await.expect("still subscribed");
    sender
        .append(message("pinged", "after the checks").into())
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
    let error = url
        .parse::<StoreConfig>()
        .unwrap()
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
    // The schema takes 25 of the pages; the messages (and their index) get the rest.
    let store =
        SqliteStore::open_with_page_limit(&path, sink.clone(), Retention::default(), Some(33))
            .unwrap();
    let big = "x".repeat(3_000);
    let mut failed = None;
    for i in 0..100 {
        match store
            .append(message("full", &format!("{i}{big}")).into())
            .await
        {
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
    assert_eq!(version, 13);
    let tables: i64 = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    // FTS5 keeps the search index in 4 tables of its own besides its virtual one; mentions
    // have one more.
    assert_eq!(
        tables, 16,
        "rooms, messages, the identity tables, the search index's and the push tables"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stores_sharing_a_server_hand_every_message_to_every_sink_in_one_order() {
    let backing = Backing::new("redis");
    let (sinks, stores) = backing.open_two().await;
    let mut tasks = Vec::new();
    for i in 0..300 {
        let store = stores[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            store
                .append(message("shared", &format!("m{i}")).into())
                .await
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
        .map(|m| m.id())
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
            .append(message("lost", &format!("m{i}")).into())
            .await
            .unwrap();
    }
    stores[1].catch_up("lost").await.unwrap();
    // Redis restarts without what it had (as without persistence).
    let url = backing.redis.as_ref().unwrap().url();
    let mut raw = redis::Client::open(url).unwrap();
    let _: () = redis::cmd("FLUSHALL").query(&mut raw).unwrap();

    stores[0]
        .append(message("lost", "after").into())
        .await
        .unwrap();
    stores[1].catch_up("lost").await.unwrap();
    for sink in &sinks {
        let received: Vec<(String, u64)> = sink
            .received("lost")
            .iter()
            .map(|(m, offset)| (msg(m).text.clone(), *offset))
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
        sender
            .append(message(room, "while away").into())
            .await
            .unwrap();
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

/// A sink that records everything a store tells it but interruptions: what reaches it from
/// other instances.
#[derive(Default)]
struct Overheard(Mutex<Vec<String>>);

impl CommitSink for Overheard {
    fn committed(&self, entry: Entry, offset: u64) {
        self.push(format!("committed {} at {offset}", entry.room()));
    }

    fn rewound(&self, room: &str) {
        self.push(format!("rewound {room}"));
    }
}

impl ClusterSink for Overheard {
    fn client_disconnected(&self, owner: &str, client_id: &str) {
        self.push(format!("disconnected {owner} {client_id}"));
    }

    fn live_heard(&self, _instance: &str, news: Vec<LiveNews>) {
        self.push(format!("live {news:?}"));
    }
}

impl Overheard {
    fn push(&self, what: String) {
        self.0.lock().unwrap().push(what);
    }

    fn heard(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// One deployment's store, cluster and identity store, with what their sinks heard.
struct Deployment {
    store: Arc<dyn LogStore>,
    cluster: Arc<dyn Cluster>,
    overheard: Arc<Overheard>,
    identity: Arc<dyn IdentityStore>,
    heard: Arc<Heard>,
}

impl Deployment {
    async fn open(config: &StoreConfig) -> Self {
        let overheard = Arc::new(Overheard::default());
        let heard = Arc::new(Heard::default());
        Self {
            store: config
                .open(overheard.clone(), Retention::default())
                .await
                .unwrap(),
            cluster: config
                .open_cluster(overheard.clone())
                .await
                .unwrap()
                .unwrap(),
            overheard,
            identity: config.open_identity(heard.clone()).await.unwrap(),
            heard,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_deployments_sharing_a_server_hear_nothing_of_each_other() {
    let redis = RedisServer::start();
    let url = redis.url();
    let on_database_0: StoreConfig = url.parse().unwrap();
    // Another database of the same server (pub/sub channels ignore database numbers).
    let on_database_1: StoreConfig = format!("{}/1", url.strip_suffix("/0").unwrap())
        .parse()
        .unwrap();
    let a = [
        Deployment::open(&on_database_0).await,
        Deployment::open(&on_database_0).await,
    ];
    // The same database under another prefix.
    let staging = on_database_0
        .clone()
        .with_redis_prefix(Some("staging:".parse().unwrap()));
    let others = [
        Deployment::open(&on_database_1).await,
        Deployment::open(&staging).await,
    ];

    a[0].cluster
        .record_active_clients(vec!["alice phone".into()])
        .await
        .unwrap();
    for other in &others {
        assert!(!other
            .cluster
            .disconnect_client("alice", "phone")
            .await
            .unwrap());
    }
    a[0].store
        .append(message("secret", "for A only").into())
        .await
        .unwrap();
    let presence = LiveNews::Presence {
        room: "secret".into(),
        people: Vec::new(),
        guests: 1,
    };
    a[0].cluster.publish_live(&[presence]).await.unwrap();
    assert!(a[1]
        .cluster
        .disconnect_client("alice", "phone")
        .await
        .unwrap());
    a[0].identity.create_account(&account("Wes")).await.unwrap();

    // A's other instance hears all of it...
    eventually(Duration::from_secs(5), "A hears A", || async {
        let heard = [a[1].overheard.heard(), a[0].overheard.heard()].concat();
        [
            "committed secret at 0",
            "live [Presence",
            "disconnected alice phone",
        ]
        .iter()
        .all(|what| heard.iter().any(|heard| heard.starts_with(what)))
            && a[1].heard.told() == [Told::AccountChanged("wes".into())]
    })
    .await;
    // ...and what would reach the others through the same server has had as long.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (i, other) in others.iter().enumerate() {
        assert_eq!(
            other.overheard.heard(),
            Vec::<String>::new(),
            "deployment {i}"
        );
        assert_eq!(other.heard.told(), [], "deployment {i}");
        assert_eq!(other.store.load(100).await.unwrap(), [], "deployment {i}");
        assert_eq!(
            other.identity.account("wes").await.unwrap(),
            None,
            "deployment {i}"
        );
        assert_eq!(
            other
                .cluster
                .active_clients(Duration::from_secs(60))
                .await
                .unwrap(),
            0,
            "deployment {i}"
        );
    }
    // A's data is where it was before prefixes existed, so an upgrade keeps it.
    let mut raw = redis::Client::open(url).unwrap();
    let total: Option<u64> = redis::cmd("HGET")
        .arg("chat:rooms")
        .arg("secret")
        .query(&mut raw)
        .unwrap();
    assert_eq!(total, Some(1));
}

#[test]
fn the_redis_prefix_flag_names_the_deployment_and_refuses_unusable_prefixes() {
    use clap::Parser;
    use longpoll_chat::server::config::Config;

    let parse = |args: &[&str]| Config::try_parse_from([&["longpoll-chat"], args].concat());
    let store = |args: &[&str]| parse(args).unwrap().store();
    assert_eq!(
        store(&["--store", "redis://127.0.0.1/2"]),
        "redis://127.0.0.1/2".parse().unwrap(),
        "by default the database's prefix, found when the store opens"
    );
    assert_eq!(
        store(&["--store", "redis://127.0.0.1/2", "--redis-prefix", "chat:"]),
        "redis://127.0.0.1/2"
            .parse::<StoreConfig>()
            .unwrap()
            .with_redis_prefix(Some("chat:".parse().unwrap()))
    );
    assert_eq!(
        store(&["--store", "memory", "--redis-prefix", "chat:"]),
        StoreConfig::Memory
    );
    for bad in ["", "my chat:", "chat:\u{7}", &"x".repeat(65)] {
        let error = parse(&["--store", "redis://127.0.0.1/2", "--redis-prefix", bad])
            .expect_err("refused")
            .to_string();
        assert!(error.contains("--redis-prefix"), "{error}");
        assert!(error.contains("a Redis prefix"), "{error}");
    }
}

each_store!(
    #[tokio::test]
    deleting_a_room_starts_it_again_from_offset_zero_and_leaves_the_others
);
async fn deleting_a_room_starts_it_again_from_offset_zero_and_leaves_the_others(
    kind: &'static str,
) {
    let fixture = Fixture::open(kind, Retention::default()).await;
    for i in 0..3 {
        let doomed = message("doomed", &format!("d{i}"));
        fixture.store.append(doomed.into()).await.unwrap();
        let kept = message("spared", &format!("s{i}"));
        fixture.store.append(kept.into()).await.unwrap();
    }
    fixture.store.delete_room("doomed").await.unwrap();
    fixture.store.delete_room("never-was").await.unwrap();
    let rooms = fixture.store.load(100).await.unwrap();
    assert!(
        rooms.iter().all(|room| room.name != "doomed"),
        "{kind}: {rooms:?}"
    );
    let spared = room(&rooms, "spared");
    assert_eq!(spared.total, 3, "{kind}");
    assert_eq!(spared.recent.len(), 3, "{kind}");

    fixture
        .store
        .append(message("doomed", "reborn").into())
        .await
        .unwrap();
    let offsets: Vec<u64> = fixture
        .sink
        .received("doomed")
        .iter()
        .map(|(_, offset)| *offset)
        .collect();
    assert_eq!(offsets, [0, 1, 2, 0], "{kind}");
    let rooms = fixture.store.load(100).await.unwrap();
    let reborn = room(&rooms, "doomed");
    assert_eq!(reborn.total, 1, "{kind}");
    let texts: Vec<&str> = reborn.recent.iter().map(|m| msg(m).text.as_str()).collect();
    assert_eq!(texts, ["reborn"], "{kind}");
    fixture
        .store
        .append(message("spared", "s3").into())
        .await
        .unwrap();
    assert_eq!(fixture.sink.offsets("spared"), [0, 1, 2, 3], "{kind}");
}

/// What an identity store told its sink, in order.
#[derive(Debug, Clone, PartialEq)]
enum Told {
    SessionRevoked(TokenHash),
    AccountChanged(String),
    RoomChanged(String),
    Interrupted,
}

/// An identity sink that records what it is told.
#[derive(Default)]
struct Heard(Mutex<Vec<Told>>);

impl IdentitySink for Heard {
    fn session_revoked(&self, token_hash: &TokenHash) {
        self.0
            .lock()
            .unwrap()
            .push(Told::SessionRevoked(*token_hash));
    }

    fn account_changed(&self, account: &str) {
        self.0
            .lock()
            .unwrap()
            .push(Told::AccountChanged(account.into()));
    }

    fn room_changed(&self, room: &str) {
        self.0.lock().unwrap().push(Told::RoomChanged(room.into()));
    }

    fn interrupted(&self) {
        self.0.lock().unwrap().push(Told::Interrupted);
    }
}

impl Heard {
    fn told(&self) -> Vec<Told> {
        self.0.lock().unwrap().clone()
    }
}

/// A freshly opened identity store of one kind, with the sink it tells.
struct IdentityFixture {
    store: Arc<dyn IdentityStore>,
    heard: Arc<Heard>,
    _backing: Backing,
}

impl IdentityFixture {
    async fn open(kind: &str) -> Self {
        let backing = Backing::new(kind);
        let heard = Arc::new(Heard::default());
        let store = backing.open_identity(heard.clone()).await;
        Self {
            store,
            heard,
            _backing: backing,
        }
    }

    /// Nothing told: a store tells no sink of its own changes.
    fn told_nothing(&self, kind: &str) {
        assert_eq!(self.heard.told(), [], "{kind}");
    }
}

fn account(name: &str) -> AccountRecord {
    AccountRecord {
        name: name.into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt${name}"),
        disabled: false,
        created_at: 1_795_000_000.5,
    }
}

/// A token hash nobody else uses.
fn token_hash() -> TokenHash {
    let mut hash = [0; 32];
    hash[..16].copy_from_slice(Uuid::now_v7().as_bytes());
    hash[16..].copy_from_slice(Uuid::now_v7().as_bytes());
    hash
}

/// A session of `account` for another hour.
fn session(account: &str) -> SessionRecord {
    SessionRecord {
        token_hash: token_hash(),
        account: account.into(),
        expires_at: unix_seconds() + 3_600.0,
    }
}

fn keys(accounts: &[AccountRecord]) -> Vec<String> {
    accounts.iter().map(AccountRecord::key).collect()
}

each_store!(
    #[tokio::test]
    accounts_are_keyed_by_lowercase_name_and_listed_in_key_order
);
async fn accounts_are_keyed_by_lowercase_name_and_listed_in_key_order(kind: &'static str) {
    let fixture = IdentityFixture::open(kind).await;
    let store = &fixture.store;
    assert_eq!(store.accounts().await.unwrap(), [], "{kind}");
    let zoe = account("Zoe");
    assert!(store.create_account(&zoe).await.unwrap(), "{kind}");
    assert!(store.create_account(&account("adam")).await.unwrap());
    assert!(store.create_account(&account("Mia-2")).await.unwrap());
    let mut disabled = account("Ben");
    disabled.disabled = true;
    assert!(store.create_account(&disabled).await.unwrap());

    assert_eq!(
        store.account("zoe").await.unwrap(),
        Some(zoe.clone()),
        "{kind}"
    );
    assert_eq!(
        store.account("ben").await.unwrap(),
        Some(disabled),
        "{kind}"
    );
    assert_eq!(
        store.account("Zoe").await.unwrap(),
        None,
        "{kind}: keys are lowercase"
    );
    assert_eq!(store.account("nobody").await.unwrap(), None, "{kind}");

    let mut impostor = account("ZOE");
    impostor.password_hash = "$argon2id$other".into();
    assert!(
        !store.create_account(&impostor).await.unwrap(),
        "{kind}: the key is taken whatever the case"
    );
    assert_eq!(
        store.account("zoe").await.unwrap(),
        Some(zoe),
        "{kind}: the first account is unchanged"
    );
    assert_eq!(
        keys(&store.accounts().await.unwrap()),
        ["adam", "ben", "mia-2", "zoe"],
        "{kind}"
    );
    fixture.told_nothing(kind);
}

each_store!(
    #[tokio::test]
    passwords_and_disabling_change_existing_accounts_and_disabling_ends_their_sessions
);
async fn passwords_and_disabling_change_existing_accounts_and_disabling_ends_their_sessions(
    kind: &'static str,
) {
    let fixture = IdentityFixture::open(kind).await;
    let store = &fixture.store;
    store.create_account(&account("Pat")).await.unwrap();
    store.create_account(&account("quinn")).await.unwrap();

    assert!(store.set_password("pat", "$argon2id$new").await.unwrap());
    let pat = store.account("pat").await.unwrap().unwrap();
    assert_eq!(pat.password_hash, "$argon2id$new", "{kind}");
    assert_eq!(pat.name, "Pat", "{kind}");
    assert!(
        !store.set_password("ghost", "$argon2id$x").await.unwrap(),
        "{kind}"
    );
    assert_eq!(store.account("ghost").await.unwrap(), None, "{kind}");

    let pats = [session("pat"), session("pat")];
    let quinns = session("quinn");
    for session in pats.iter().chain([&quinns]) {
        store.create_session(session).await.unwrap();
    }
    assert!(store.set_disabled("pat", true).await.unwrap(), "{kind}");
    assert!(
        store.account("pat").await.unwrap().unwrap().disabled,
        "{kind}"
    );
    for session in &pats {
        assert_eq!(
            store.session(&session.token_hash).await.unwrap(),
            None,
            "{kind}: disabling ends the sessions"
        );
    }
    assert_eq!(
        store.session(&quinns.token_hash).await.unwrap(),
        Some(quinns),
        "{kind}: another account's session stays"
    );
    assert!(store.set_disabled("pat", false).await.unwrap(), "{kind}");
    assert!(
        !store.account("pat").await.unwrap().unwrap().disabled,
        "{kind}"
    );
    assert!(!store.set_disabled("ghost", true).await.unwrap(), "{kind}");
    fixture.told_nothing(kind);
}

each_store!(
    #[tokio::test]
    sessions_are_found_by_hash_until_expired_or_deleted
);
async fn sessions_are_found_by_hash_until_expired_or_deleted(kind: &'static str) {
    let fixture = IdentityFixture::open(kind).await;
    let store = &fixture.store;
    store.create_account(&account("Rae")).await.unwrap();
    store.create_account(&account("sol")).await.unwrap();

    let live = session("rae");
    store.create_session(&live).await.unwrap();
    assert_eq!(
        store.session(&live.token_hash).await.unwrap(),
        Some(live.clone()),
        "{kind}"
    );
    assert_eq!(store.session(&token_hash()).await.unwrap(), None, "{kind}");

    let mut expired = session("sol");
    expired.expires_at = unix_seconds() - 1.0;
    store.create_session(&expired).await.unwrap();
    assert_eq!(
        store.session(&expired.token_hash).await.unwrap(),
        None,
        "{kind}: an expired session is gone"
    );

    assert!(
        store.delete_session(&live.token_hash).await.unwrap(),
        "{kind}"
    );
    assert_eq!(
        store.session(&live.token_hash).await.unwrap(),
        None,
        "{kind}"
    );
    assert!(
        !store.delete_session(&live.token_hash).await.unwrap(),
        "{kind}"
    );

    let raes = [session("rae"), session("rae"), session("rae")];
    for session in &raes {
        store.create_session(session).await.unwrap();
    }
    let sols = session("sol");
    store.create_session(&sols).await.unwrap();
    assert_eq!(store.delete_sessions_of("rae").await.unwrap(), 3, "{kind}");
    for session in &raes {
        assert_eq!(
            store.session(&session.token_hash).await.unwrap(),
            None,
            "{kind}"
        );
    }
    assert_eq!(store.delete_sessions_of("rae").await.unwrap(), 0, "{kind}");
    assert_eq!(
        store.session(&sols.token_hash).await.unwrap(),
        Some(sols),
        "{kind}: another account's session stays"
    );
    fixture.told_nothing(kind);
}

fn private_room(name: &str, owner: &str, members: &[&str]) -> PrivateRoomRecord {
    PrivateRoomRecord {
        name: name.into(),
        owner: owner.into(),
        members: members.iter().map(|member| (*member).to_owned()).collect(),
    }
}

each_store!(
    #[tokio::test]
    private_rooms_are_taken_once_and_list_their_members_besides_the_owner
);
async fn private_rooms_are_taken_once_and_list_their_members_besides_the_owner(kind: &'static str) {
    let fixture = IdentityFixture::open(kind).await;
    let store = &fixture.store;
    let den = private_room("den", "ann", &["bo"]);
    assert!(store.create_private_room(&den).await.unwrap(), "{kind}");
    assert!(
        !store
            .create_private_room(&private_room("den", "cy", &[]))
            .await
            .unwrap(),
        "{kind}: the name is taken"
    );
    assert_eq!(
        store.private_room("den").await.unwrap(),
        Some(den),
        "{kind}"
    );
    assert_eq!(store.private_room("attic").await.unwrap(), None, "{kind}");

    assert!(store.add_member("den", "cy").await.unwrap(), "{kind}");
    assert!(
        store.add_member("den", "cy").await.unwrap(),
        "{kind}: again"
    );
    assert!(
        store.add_member("den", "ann").await.unwrap(),
        "{kind}: the owner"
    );
    assert!(
        !store.add_member("attic", "cy").await.unwrap(),
        "{kind}: no room"
    );
    assert_eq!(
        store.private_room("den").await.unwrap(),
        Some(private_room("den", "ann", &["bo", "cy"])),
        "{kind}: the owner is not listed"
    );

    assert!(store.remove_member("den", "bo").await.unwrap(), "{kind}");
    assert!(
        !store.remove_member("den", "bo").await.unwrap(),
        "{kind}: again"
    );
    assert!(
        !store.remove_member("den", "ann").await.unwrap(),
        "{kind}: the owner is no member"
    );
    assert!(!store.remove_member("attic", "bo").await.unwrap(), "{kind}");

    let attic = private_room("attic", "bo", &["ann", "cy"]);
    assert!(store.create_private_room(&attic).await.unwrap(), "{kind}");
    let mut rooms = store.private_rooms().await.unwrap();
    rooms.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        rooms,
        [attic.clone(), private_room("den", "ann", &["cy"])],
        "{kind}"
    );

    assert!(store.delete_private_room("den").await.unwrap(), "{kind}");
    assert!(!store.delete_private_room("den").await.unwrap(), "{kind}");
    assert_eq!(store.private_room("den").await.unwrap(), None, "{kind}");
    assert!(
        !store.add_member("den", "cy").await.unwrap(),
        "{kind}: gone"
    );
    assert_eq!(store.private_rooms().await.unwrap(), [attic], "{kind}");
    let den = private_room("den", "cy", &[]);
    assert!(
        store.create_private_room(&den).await.unwrap(),
        "{kind}: the name is free again"
    );
    assert_eq!(
        store.private_room("den").await.unwrap(),
        Some(den),
        "{kind}: with none of the old members"
    );
    fixture.told_nothing(kind);
}

/// `count` message ids in the order they were made (the order of their times).
fn ordered_ids(count: usize) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = (0..count).map(|_| Uuid::now_v7()).collect();
    // Made in one process they are ordered already; sorted so the test says what it relies on.
    ids.sort();
    ids
}

fn joined(room: &str, last_read: Option<Uuid>) -> JoinedRoomRecord {
    JoinedRoomRecord {
        room: room.into(),
        last_read,
        notify: None,
    }
}

each_store!(
    #[tokio::test]
    a_rooms_level_is_kept_beside_its_read_position_until_it_is_left
);
async fn a_rooms_level_is_kept_beside_its_read_position_until_it_is_left(kind: &'static str) {
    let fixture = IdentityFixture::open(kind).await;
    let store = &fixture.store;
    let [a, b] = ordered_ids(2).try_into().unwrap();
    let with = |last_read, notify| JoinedRoomRecord {
        room: "hall".into(),
        last_read,
        notify,
    };
    let set = |last_read, notify| store.set_read("ivy", "hall", last_read, notify);
    assert_eq!(
        set(Some(a), None).await.unwrap(),
        Some(with(Some(a), None)),
        "{kind}"
    );
    let all = Some(NotifyLevel::All);
    assert_eq!(
        set(None, all).await.unwrap(),
        Some(with(Some(a), all)),
        "{kind}"
    );
    assert_eq!(
        set(Some(b), None).await.unwrap(),
        Some(with(Some(b), all)),
        "{kind}"
    );
    let none = Some(NotifyLevel::None);
    assert_eq!(
        set(None, none).await.unwrap(),
        Some(with(Some(b), none)),
        "{kind}"
    );
    assert_eq!(
        store.joined_rooms("ivy").await.unwrap(),
        [with(Some(b), none)],
        "{kind}"
    );
    assert!(store.leave_room("ivy", "hall").await.unwrap(), "{kind}");
    assert_eq!(
        set(None, None).await.unwrap(),
        Some(with(None, None)),
        "{kind}: left, forgotten"
    );
}

each_store!(
    #[tokio::test]
    read_positions_only_move_forward_per_account_and_room
);
async fn read_positions_only_move_forward_per_account_and_room(kind: &'static str) {
    let fixture = IdentityFixture::open(kind).await;
    let store = &fixture.store;
    let [a, b, c] = ordered_ids(3).try_into().unwrap();
    assert_eq!(store.joined_rooms("ann").await.unwrap(), [], "{kind}");
    assert_eq!(
        store.set_read("ann", "lobby", None, None).await.unwrap(),
        Some(joined("lobby", None)),
        "{kind}: joined, nothing read yet"
    );
    assert_eq!(
        store.set_read("ann", "lobby", Some(b), None).await.unwrap(),
        Some(joined("lobby", Some(b))),
        "{kind}"
    );
    assert_eq!(
        store.set_read("ann", "lobby", Some(a), None).await.unwrap(),
        Some(joined("lobby", Some(b))),
        "{kind}: an older id keeps the newer"
    );
    assert_eq!(
        store.set_read("ann", "lobby", None, None).await.unwrap(),
        Some(joined("lobby", Some(b))),
        "{kind}: joining again keeps the position"
    );
    assert_eq!(
        store.set_read("ann", "lobby", Some(c), None).await.unwrap(),
        Some(joined("lobby", Some(c))),
        "{kind}"
    );
    store.set_read("ann", "attic", Some(a), None).await.unwrap();
    store.set_read("bo", "lobby", Some(a), None).await.unwrap();
    assert_eq!(
        store.joined_rooms("ann").await.unwrap(),
        [joined("attic", Some(a)), joined("lobby", Some(c))],
        "{kind}: by name"
    );
    assert_eq!(
        store.joined_rooms("bo").await.unwrap(),
        [joined("lobby", Some(a))],
        "{kind}: each account its own"
    );

    assert!(store.leave_room("ann", "lobby").await.unwrap(), "{kind}");
    assert!(!store.leave_room("ann", "lobby").await.unwrap(), "{kind}");
    assert!(!store.leave_room("ann", "never").await.unwrap(), "{kind}");
    assert_eq!(
        store.joined_rooms("ann").await.unwrap(),
        [joined("attic", Some(a))],
        "{kind}"
    );
    assert_eq!(
        store.set_read("ann", "lobby", None, None).await.unwrap(),
        Some(joined("lobby", None)),
        "{kind}: leaving forgot the position"
    );
    assert_eq!(
        store.joined_rooms("bo").await.unwrap(),
        [joined("lobby", Some(a))],
        "{kind}"
    );
    fixture.told_nothing(kind);
}

each_store!(
    #[tokio::test]
    only_a_private_rooms_people_join_it_and_they_leave_it_when_they_lose_it
);
async fn only_a_private_rooms_people_join_it_and_they_leave_it_when_they_lose_it(
    kind: &'static str,
) {
    let fixture = IdentityFixture::open(kind).await;
    let store = &fixture.store;
    let [read] = ordered_ids(1).try_into().unwrap();
    store
        .create_private_room(&private_room("den", "ann", &["bo", "cy"]))
        .await
        .unwrap();
    assert_eq!(
        store
            .set_read("dee", "den", Some(read), None)
            .await
            .unwrap(),
        None,
        "{kind}: not one of its people"
    );
    assert_eq!(store.joined_rooms("dee").await.unwrap(), [], "{kind}");
    for person in ["ann", "bo", "cy"] {
        assert_eq!(
            store
                .set_read(person, "den", Some(read), None)
                .await
                .unwrap(),
            Some(joined("den", Some(read))),
            "{kind}: {person}"
        );
    }
    store.set_read("bo", "lobby", None, None).await.unwrap();

    assert!(store.remove_member("den", "bo").await.unwrap(), "{kind}");
    assert_eq!(
        store.joined_rooms("bo").await.unwrap(),
        [joined("lobby", None)],
        "{kind}: the removed member left it"
    );
    assert_eq!(
        store.set_read("bo", "den", None, None).await.unwrap(),
        None,
        "{kind}: and cannot join it again"
    );
    assert!(!store.remove_member("den", "ann").await.unwrap(), "{kind}");
    for person in ["ann", "cy"] {
        assert_eq!(
            store.joined_rooms(person).await.unwrap(),
            [joined("den", Some(read))],
            "{kind}: {person} stays"
        );
    }

    assert!(store.delete_private_room("den").await.unwrap(), "{kind}");
    for person in ["ann", "cy"] {
        assert_eq!(
            store.joined_rooms(person).await.unwrap(),
            [],
            "{kind}: {person} left the deleted room"
        );
    }
    assert_eq!(
        store.joined_rooms("bo").await.unwrap(),
        [joined("lobby", None)],
        "{kind}"
    );
    assert_eq!(
        store.set_read("dee", "den", None, None).await.unwrap(),
        Some(joined("den", None)),
        "{kind}: the name is a public room's now"
    );
    fixture.told_nothing(kind);
}

each_store!(#[tokio::test] a_persistent_identity_store_keeps_everything_across_a_reopen: sqlite, redis);
async fn a_persistent_identity_store_keeps_everything_across_a_reopen(kind: &'static str) {
    let backing = Backing::new(kind);
    let kept = session("tess");
    let room = private_room("nook", "tess", &["uma"]);
    let [read] = ordered_ids(1).try_into().unwrap();
    {
        let store = backing.open_identity(Arc::default()).await;
        store.create_account(&account("Tess")).await.unwrap();
        store.create_session(&kept).await.unwrap();
        store.create_private_room(&room).await.unwrap();
        store
            .set_read("uma", "nook", Some(read), None)
            .await
            .unwrap();
    }
    let store = backing.open_identity(Arc::default()).await;
    assert_eq!(
        store.account("tess").await.unwrap(),
        Some(account("Tess")),
        "{kind}"
    );
    assert_eq!(
        store.session(&kept.token_hash).await.unwrap(),
        Some(kept),
        "{kind}"
    );
    assert_eq!(
        store.private_room("nook").await.unwrap(),
        Some(room),
        "{kind}"
    );
    assert_eq!(
        store.joined_rooms("uma").await.unwrap(),
        [joined("nook", Some(read))],
        "{kind}"
    );
}

#[tokio::test]
async fn the_sqlite_identity_store_shares_the_file_whichever_store_opens_it_first() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::Sqlite(dir.path().join("nested/chat.db"));
    let identity = config
        .open_identity(Arc::new(Heard::default()))
        .await
        .unwrap();
    assert!(identity.create_account(&account("Vic")).await.unwrap());
    let messages = config
        .open(Arc::new(Recorder::default()), Retention::default())
        .await
        .unwrap();
    messages
        .append(message("shared-file", "m0").into())
        .await
        .unwrap();
    let again = config
        .open_identity(Arc::new(Heard::default()))
        .await
        .unwrap();
    assert_eq!(again.account("vic").await.unwrap(), Some(account("Vic")));
    assert_eq!(
        room(&messages.load(10).await.unwrap(), "shared-file").total,
        1
    );
}

#[tokio::test]
async fn redis_identity_changes_reach_every_other_instance_and_not_their_own() {
    let backing = Backing::new("redis");
    let heard = [Arc::new(Heard::default()), Arc::new(Heard::default())];
    let [a, b] = [
        backing.open_identity(heard[0].clone()).await,
        backing.open_identity(heard[1].clone()).await,
    ];
    a.create_account(&account("Wes")).await.unwrap();
    a.set_password("wes", "$argon2id$new").await.unwrap();
    let signed_in = session("wes");
    a.create_session(&signed_in).await.unwrap();
    a.delete_session(&signed_in.token_hash).await.unwrap();
    a.create_session(&session("wes")).await.unwrap();
    a.delete_sessions_of("wes").await.unwrap();
    a.set_disabled("wes", true).await.unwrap();
    a.create_private_room(&private_room("hut", "wes", &[]))
        .await
        .unwrap();
    a.add_member("hut", "xia").await.unwrap();
    // Read positions are cached nowhere: changing them tells nobody.
    a.set_read("xia", "hut", Some(Uuid::now_v7()), None)
        .await
        .unwrap();
    a.leave_room("xia", "hut").await.unwrap();
    a.set_read("xia", "hut", None, None).await.unwrap();
    a.remove_member("hut", "xia").await.unwrap();
    a.delete_private_room("hut").await.unwrap();
    // What changed nothing tells nobody.
    assert!(!a.delete_session(&signed_in.token_hash).await.unwrap());
    assert!(!a.set_password("ghost", "$argon2id$x").await.unwrap());
    assert!(!a.create_account(&account("WES")).await.unwrap());
    // Creating a session changes nothing cached anywhere: nobody could have its hash.
    a.create_session(&session("wes")).await.unwrap();

    let wes = || Told::AccountChanged("wes".into());
    let hut = || Told::RoomChanged("hut".into());
    let expected = [
        wes(),
        wes(),
        Told::SessionRevoked(signed_in.token_hash),
        wes(),
        wes(),
        hut(),
        hut(),
        hut(),
        hut(),
    ];
    eventually(Duration::from_secs(5), "b hears every change", || async {
        heard[1].told().len() >= expected.len()
    })
    .await;
    // B's own change, after which A must have heard everything published before it.
    b.create_account(&account("Yul")).await.unwrap();
    eventually(Duration::from_secs(5), "a hears b's change", || async {
        !heard[0].told().is_empty()
    })
    .await;
    assert_eq!(heard[1].told(), expected);
    assert_eq!(
        heard[0].told(),
        [Told::AccountChanged("yul".into())],
        "a hears nothing of its own changes"
    );
}

#[tokio::test]
async fn a_redis_identity_store_says_it_was_interrupted_once_redis_is_back() {
    let mut backing = Backing::new("redis");
    let heard = Arc::new(Heard::default());
    let b = backing.open_identity(heard.clone()).await;
    let a = backing.open_identity(Arc::default()).await;
    a.create_account(&account("Zed")).await.unwrap();
    eventually(Duration::from_secs(5), "b hears of the account", || async {
        heard.told() == [Told::AccountChanged("zed".into())]
    })
    .await;

    let server = backing.redis.as_mut().unwrap();
    server.kill();
    server.restart();
    eventually(
        Duration::from_secs(15),
        "b says it was interrupted",
        || async { heard.told().contains(&Told::Interrupted) },
    )
    .await;
    // Its subscription is back, and A's connection reconnects by itself.
    eventually(Duration::from_secs(15), "a serves again", || async {
        a.account("zed").await.is_ok()
    })
    .await;
    a.set_password("zed", "$argon2id$new").await.unwrap();
    eventually(Duration::from_secs(5), "b hears changes again", || async {
        heard.told().last() == Some(&Told::AccountChanged("zed".into())) && heard.told().len() >= 3
    })
    .await;
    eventually(Duration::from_secs(15), "b reads the change", || async {
        b.account("zed")
            .await
            .is_ok_and(|zed| zed.unwrap().password_hash == "$argon2id$new")
    })
    .await;
}

each_store!(
    #[tokio::test]
    changes_never_push_a_message_out_of_retention
);
async fn changes_never_push_a_message_out_of_retention(kind: &'static str) {
    let retention = Retention {
        max_messages_per_room: 3,
        max_age: None,
    };
    let fixture = Fixture::open(kind, retention).await;
    let messages: Vec<Message> = (0..3)
        .map(|i| message("toggled", &format!("t{i}")))
        .collect();
    for message in &messages {
        fixture.store.append(message.clone().into()).await.unwrap();
    }
    // Many times the retention in reactions taken and taken back.
    for round in 0..40 {
        let kind = if round % 2 == 0 {
            ChangeKind::React {
                emoji: "👍".into()
            }
        } else {
            ChangeKind::Unreact {
                emoji: "👍".into()
            }
        };
        let change = Change {
            id: Uuid::now_v7(),
            room: "toggled".into(),
            message_id: messages[2].id,
            by: "Bob".into(),
            author: "bob".into(),
            timestamp: 1_795_000_001.5,
            kind,
        };
        fixture.store.append(change.into()).await.unwrap();
    }
    let loaded = fixture.store.load(3).await.unwrap();
    let toggled = room(&loaded, "toggled");
    let texts: Vec<&str> = (toggled.recent.iter())
        .filter_map(|entry| entry.message())
        .map(|message| message.text.as_str())
        .collect();
    assert_eq!(texts, ["t0", "t1", "t2"], "{kind}: every message kept");
    assert_eq!(
        toggled.recent.len(),
        43,
        "{kind}: and the changes after them"
    );
    assert_eq!(toggled.total, 43, "{kind}");
    // A fourth message pushes out the first, and the changes before it only.
    fixture
        .store
        .append(message("toggled", "t3").into())
        .await
        .unwrap();
    let loaded = fixture.store.load(100).await.unwrap();
    let texts: Vec<&str> = (room(&loaded, "toggled").recent.iter())
        .filter_map(|entry| entry.message())
        .map(|message| message.text.as_str())
        .collect();
    assert_eq!(texts, ["t1", "t2", "t3"], "{kind}");
}

fn subscription(
    endpoint: &str,
    account: &str,
    session: u8,
    created_at: f64,
) -> PushSubscriptionRecord {
    PushSubscriptionRecord {
        endpoint: endpoint.into(),
        account: account.into(),
        session: [session; 32],
        p256dh: format!("key-of-{endpoint}"),
        auth: "auth".into(),
        created_at,
    }
}

each_store!(
    #[tokio::test]
    the_first_vapid_key_offered_is_the_one_kept
);
async fn the_first_vapid_key_offered_is_the_one_kept(kind: &'static str) {
    let backing = Backing::new(kind);
    let store = backing.config.open_push().await.unwrap();
    assert_eq!(store.vapid_key(b"first").await.unwrap(), b"first", "{kind}");
    assert_eq!(
        store.vapid_key(b"second").await.unwrap(),
        b"first",
        "{kind}"
    );
    if kind != "memory" {
        // Another instance, or the next start, signs with the same key.
        let other = backing.config.open_push().await.unwrap();
        assert_eq!(other.vapid_key(b"third").await.unwrap(), b"first", "{kind}");
    }
}

each_store!(
    #[tokio::test]
    an_endpoint_is_one_subscription_listed_oldest_first_and_deleted_by_session
);
async fn an_endpoint_is_one_subscription_listed_oldest_first_and_deleted_by_session(
    kind: &'static str,
) {
    let backing = Backing::new(kind);
    let store = backing.config.open_push().await.unwrap();
    let (older, newer) = (
        subscription("https://a", "wes", 1, 10.0),
        subscription("https://b", "wes", 2, 20.0),
    );
    store.add_subscription(&newer).await.unwrap();
    store.add_subscription(&older).await.unwrap();
    assert_eq!(
        store.subscriptions("wes").await.unwrap(),
        [older.clone(), newer.clone()],
        "{kind}"
    );
    // Someone else signed in on the browser of `https://a`: it is theirs now.
    let moved = subscription("https://a", "xia", 3, 30.0);
    store.add_subscription(&moved).await.unwrap();
    assert_eq!(
        store.subscriptions("wes").await.unwrap(),
        std::slice::from_ref(&newer),
        "{kind}"
    );
    assert_eq!(
        store.subscriptions("xia").await.unwrap(),
        std::slice::from_ref(&moved),
        "{kind}"
    );
    assert!(
        !store.delete_subscription("wes", "https://a").await.unwrap(),
        "{kind}: not wes's"
    );
    assert_eq!(
        store
            .delete_session_subscriptions("wes", &[1; 32])
            .await
            .unwrap(),
        0,
        "{kind}"
    );
    assert_eq!(
        store
            .delete_session_subscriptions("wes", &[2; 32])
            .await
            .unwrap(),
        1,
        "{kind}"
    );
    assert!(
        store.subscriptions("wes").await.unwrap().is_empty(),
        "{kind}"
    );
    assert!(
        store.delete_subscription("xia", "https://a").await.unwrap(),
        "{kind}"
    );
    assert!(
        store.subscriptions("xia").await.unwrap().is_empty(),
        "{kind}"
    );
    if kind != "memory" {
        store.add_subscription(&older).await.unwrap();
        let reopened = backing.config.open_push().await.unwrap();
        assert_eq!(
            reopened.subscriptions("wes").await.unwrap(),
            [older],
            "{kind}: kept"
        );
    }
}

each_store!(
    #[tokio::test]
    the_levels_chosen_in_a_room_are_listed_by_account
);
async fn the_levels_chosen_in_a_room_are_listed_by_account(kind: &'static str) {
    let fixture = IdentityFixture::open(kind).await;
    let store = &fixture.store;
    let all = Some(NotifyLevel::All);
    store.set_read("ivy", "hall", None, all).await.unwrap();
    store
        .set_read("jo", "hall", None, Some(NotifyLevel::None))
        .await
        .unwrap();
    store.set_read("kai", "hall", None, None).await.unwrap();
    store
        .set_read("ivy", "yard", None, Some(NotifyLevel::Mentions))
        .await
        .unwrap();
    let mut levels = store.levels_in("hall").await.unwrap();
    levels.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        levels,
        [
            ("ivy".to_owned(), NotifyLevel::All),
            ("jo".to_owned(), NotifyLevel::None)
        ],
        "{kind}"
    );
    store.leave_room("ivy", "hall").await.unwrap();
    assert_eq!(
        store.levels_in("hall").await.unwrap(),
        [("jo".to_owned(), NotifyLevel::None)],
        "{kind}"
    );
}
