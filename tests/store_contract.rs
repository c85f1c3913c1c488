//! The store contract (see `server::store`), one suite run against every store, plus what only
//! a persistent store promises: surviving a reopen, failing cleanly when the disk is full, and
//! naming the file when it cannot open it.
#![cfg(feature = "ssr")]

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use longpoll_chat::{
    model::Message,
    server::store::{
        CommitSink, Retention, SqliteStore, Store, StoreConfig, StoreError, StoredRoom,
    },
};
use tempfile::TempDir;
use uuid::Uuid;

/// A sink that records what it receives.
#[derive(Default)]
struct Recorder(Mutex<Vec<Arc<Message>>>);

impl CommitSink for Recorder {
    fn committed(&self, message: Arc<Message>) {
        self.0.lock().unwrap().push(message);
    }
}

impl Recorder {
    fn ids(&self, room: &str) -> Vec<Uuid> {
        let received = self.0.lock().unwrap();
        received
            .iter()
            .filter(|m| m.room == room)
            .map(|m| m.id)
            .collect()
    }
}

fn message(room: &str, text: &str) -> Message {
    Message {
        id: Uuid::now_v7(),
        sender: "alice".into(),
        text: text.into(),
        timestamp: 1_795_000_000.25,
        room: room.into(),
    }
}

fn room<'a>(rooms: &'a [StoredRoom], name: &str) -> &'a StoredRoom {
    rooms
        .iter()
        .find(|room| room.name == name)
        .expect("room is loaded")
}

/// Opens each kind of store on a fresh sink; the `TempDir` keeps a SQLite file alive.
struct Fixture {
    store: Arc<dyn Store>,
    sink: Arc<Recorder>,
    _dir: TempDir,
}

async fn each_store(retention: Retention) -> Vec<(&'static str, Fixture)> {
    let mut fixtures = Vec::new();
    for kind in ["memory", "sqlite"] {
        let dir = tempfile::tempdir().unwrap();
        let config = match kind {
            "memory" => StoreConfig::Memory,
            _ => StoreConfig::Sqlite(dir.path().join("chat.db")),
        };
        let sink = Arc::new(Recorder::default());
        let store = config.open(sink.clone(), retention).await.unwrap();
        fixtures.push((
            kind,
            Fixture {
                store,
                sink,
                _dir: dir,
            },
        ));
    }
    fixtures
}

#[tokio::test]
async fn appends_reach_the_sink_in_order_with_every_field() {
    for (kind, fixture) in each_store(Retention::default()).await {
        let sent: Vec<Message> = (0..5).map(|i| message("order", &format!("m{i}"))).collect();
        for message in &sent {
            fixture.store.append(message.clone()).await.unwrap();
        }
        let received = fixture.sink.0.lock().unwrap().clone();
        let received: Vec<Message> = received.iter().map(|m| (**m).clone()).collect();
        assert_eq!(received, sent, "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_are_delivered_in_the_order_they_are_kept() {
    for (kind, fixture) in each_store(Retention::default()).await {
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
        let loaded = fixture.store.load(1_000).await.unwrap();
        let kept: Vec<Uuid> = room(&loaded, "race").recent.iter().map(|m| m.id).collect();
        assert_eq!(
            kept, delivered,
            "{kind}: store order and delivery order differ"
        );
    }
}

#[tokio::test]
async fn load_returns_recent_messages_per_room_with_totals_within_retention() {
    let retention = Retention {
        max_messages_per_room: 5,
        max_age: None,
    };
    for (kind, fixture) in each_store(retention).await {
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
}

fn open_sqlite(path: &Path, sink: Arc<Recorder>) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(path, sink, Retention::default())
}

#[tokio::test]
async fn a_sqlite_store_keeps_everything_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/chat.db");
    let sent: Vec<Message> = (0..10)
        .map(|i| message("durable", &format!("m{i}")))
        .collect();
    {
        let store = open_sqlite(&path, Arc::default()).unwrap();
        for message in &sent {
            store.append(message.clone()).await.unwrap();
        }
    }
    let sink = Arc::new(Recorder::default());
    let store = open_sqlite(&path, sink.clone()).unwrap();
    let rooms = store.load(100).await.unwrap();
    let loaded: Vec<Message> = room(&rooms, "durable")
        .recent
        .iter()
        .map(|m| (**m).clone())
        .collect();
    assert_eq!(loaded, sent);
    assert_eq!(room(&rooms, "durable").total, 10);
    store.append(message("durable", "after")).await.unwrap();
    let rooms = store.load(100).await.unwrap();
    assert_eq!(room(&rooms, "durable").total, 11);
    assert_eq!(room(&rooms, "durable").recent.last().unwrap().text, "after");
}

#[tokio::test]
async fn a_full_disk_fails_the_append_reaches_no_sink_and_keeps_serving_reads() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(Recorder::default());
    let path = dir.path().join("chat.db");
    let store =
        SqliteStore::open_with_page_limit(&path, sink.clone(), Retention::default(), Some(8))
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
    assert_eq!(version, 1);
    let tables: i64 = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tables, 2);
}
