//! Full-text search (`GET /api/search`) and opening a result in its context
//! (`GET /api/history?around=`): what a query matches, who may find what (checked at every
//! query), that the index follows edits, deletions, deleted rooms and retention, paging, and
//! the refusals; then the same index on every store (memory, SQLite, Redis), a SQLite file
//! indexed at its first start, and a message sent through one instance found through another.

use std::{sync::Arc, time::Duration};

use std::num::NonZeroU32;

use axum::http::{header, Method, StatusCode};
use longpoll_chat::{
    model::{ChangeKind, Message, MessageText, RoomName, SendRequest, SenderName},
    server::{
        chat::ChatOptions,
        search::{Query, Scope},
        send_limit::SearchLimiter,
        store::{Retention, StoreConfig},
        Broker, BrokerConfig,
    },
};
use serde_json::{json, Value};
use tempfile::TempDir;
use uuid::Uuid;

use crate::common::{
    accounts::{assert_refused, bearer, empty_request, json_request, private_room, signed_in},
    app::{get, Answer, Setup, TestApp},
    eventually,
    redis::RedisServer,
};

/// `GET /api/search?{query}` as `token`'s holder (a guest for `None`).
async fn search(app: &TestApp, token: Option<&str>, query: &str) -> Answer {
    let request = get(&format!("/api/search?{query}"));
    let request = match token {
        Some(token) => bearer(request, token),
        None => request,
    };
    app.call(request).await
}

/// The texts found for `q` (URL-encoded by the caller where needed), best first.
async fn found(app: &TestApp, token: Option<&str>, q: &str) -> Vec<String> {
    let answer = search(app, token, &format!("q={q}&limit=100")).await;
    assert_eq!(answer.status, StatusCode::OK, "{q}: {}", answer.json);
    texts(&answer.json)
}

fn texts(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["message"]["text"].as_str().unwrap().to_owned())
        .collect()
}

fn encoded(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

async fn send_as(app: &TestApp, token: &str, room: &str, text: &str) -> String {
    let answer = app
        .call(bearer(
            json_request(
                Method::POST,
                "/api/send",
                json!({"room": room, "text": text}),
            ),
            token,
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    answer.json["message_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn words_phrases_and_prefixes_match_as_typed_and_as_english_stems() {
    let app = TestApp::new().await;
    let room = "search-matching";
    for text in [
        "We deployed the release",
        "deploys are frozen tonight",
        "the display is broken",
        "release the hounds",
        "Привет, мир",
        "東京タワーに行く",
        "ship it 🚀",
    ] {
        app.send_ok(room, text).await;
    }
    let mut deploy = found(&app, None, "DEPLOY").await;
    deploy.sort();
    assert_eq!(
        deploy,
        ["We deployed the release", "deploys are frozen tonight"]
    );
    assert_eq!(
        found(&app, None, "release+deployed").await,
        ["We deployed the release"]
    );
    assert_eq!(
        found(&app, None, &encoded("\"the release\"")).await,
        ["We deployed the release"]
    );
    let mut prefixed = found(&app, None, &encoded("dep*")).await;
    prefixed.sort();
    assert_eq!(
        prefixed,
        ["We deployed the release", "deploys are frozen tonight"]
    );
    assert_eq!(found(&app, None, &encoded("мир")).await, ["Привет, мир"]);
    assert_eq!(
        found(&app, None, &encoded("東京")).await,
        ["東京タワーに行く"]
    );
    assert!(found(&app, None, &encoded("京東")).await.is_empty());
    assert_eq!(found(&app, None, &encoded("🚀")).await, ["ship it 🚀"]);
    assert!(found(&app, None, "hound+deploy").await.is_empty());
}

#[tokio::test]
async fn a_result_is_the_message_as_shown_elsewhere_with_its_matches_marked_as_data() {
    let app = TestApp::new().await;
    let id = app
        .send_ok("search-snippets", "<b>Deployed</b> at noon")
        .await;
    let answer = search(&app, None, "q=deploy").await;
    let hit = &answer.json["results"][0];
    assert_eq!(hit["room"], "search-snippets");
    assert_eq!(hit["message"]["id"], id.as_str());
    assert_eq!(hit["message"]["sender"], "alice");
    assert_eq!(
        hit["snippet"],
        json!([{"text": "<b>"}, {"text": "Deployed", "mark": true}, {"text": "</b> at noon"}])
    );
    assert_eq!(answer.json["next_before"], Value::Null);
}

#[tokio::test]
async fn a_private_rooms_messages_are_found_by_its_people_only_and_never_after_they_lose_it() {
    let app = TestApp::new().await;
    let owner = signed_in(&app, "sowner").await;
    let member = signed_in(&app, "smember").await;
    let stranger = signed_in(&app, "sstranger").await;
    private_room(&app, &owner, "search-secret", &["smember"]).await;
    send_as(&app, &owner, "search-secret", "the launch codes").await;
    app.send_ok("search-public", "launch party").await;

    assert_eq!(
        found(&app, Some(&member), "launch+codes").await,
        ["the launch codes"]
    );
    assert_eq!(
        found(&app, Some(&owner), "codes").await,
        ["the launch codes"]
    );
    for outsider in [None, Some(stranger.as_str())] {
        assert_eq!(found(&app, outsider, "launch").await, ["launch party"]);
        let named = search(&app, outsider, "q=launch&room=search-secret").await;
        assert_refused(&named, StatusCode::NOT_FOUND, "no such room");
    }

    let remove = empty_request(Method::DELETE, "/api/rooms/search-secret/members/smember");
    assert_eq!(
        app.call(bearer(remove, &owner)).await.status,
        StatusCode::OK
    );
    assert_eq!(found(&app, Some(&member), "launch").await, ["launch party"]);
    assert_eq!(
        found(&app, Some(&owner), "codes").await,
        ["the launch codes"]
    );
}

#[tokio::test]
async fn an_edit_replaces_what_is_found_and_deletions_remove_it() {
    let app = TestApp::new().await;
    let author = signed_in(&app, "seditor").await;
    let id = send_as(&app, &author, "search-changes", "meet at the harbour").await;
    let edit = json_request(
        Method::PATCH,
        &format!("/api/messages/{id}"),
        json!({"text": "meet at the station"}),
    );
    assert_eq!(app.call(bearer(edit, &author)).await.status, StatusCode::OK);
    assert!(found(&app, None, "harbour").await.is_empty());
    assert_eq!(found(&app, None, "station").await, ["meet at the station"]);

    let delete = empty_request(Method::DELETE, &format!("/api/messages/{id}"));
    assert_eq!(
        app.call(bearer(delete, &author)).await.status,
        StatusCode::OK
    );
    assert!(found(&app, None, "station").await.is_empty());

    private_room(&app, &author, "search-doomed", &[]).await;
    send_as(&app, &author, "search-doomed", "doomed words").await;
    assert_eq!(found(&app, Some(&author), "doomed").await, ["doomed words"]);
    let delete_room = empty_request(Method::DELETE, "/api/rooms/search-doomed");
    let deleted = app.call(bearer(delete_room, &author)).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.json);
    assert!(found(&app, Some(&author), "doomed").await.is_empty());
}

#[tokio::test]
async fn pages_go_through_every_result_once_best_first_then_newest() {
    let app = TestApp::new().await;
    let room = "search-pages";
    // Equally good matches: the newest first.
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(app.send_ok(room, &format!("paged {i}")).await);
    }
    // A better match (the word is more of it) comes before them all.
    let best = app.send_ok(room, "paged paged paged").await;
    app.send_ok(room, "unrelated").await;

    let mut seen = Vec::new();
    let mut query = format!("q=paged&room={room}&limit=2");
    loop {
        let answer = search(&app, None, &query).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
        let page = answer.json["results"].as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(
            page.iter()
                .map(|hit| hit["message"]["id"].as_str().unwrap().to_owned()),
        );
        match answer.json["next_before"].as_str() {
            Some(next) => query = format!("q=paged&room={room}&limit=2&before={next}"),
            None => break,
        }
    }
    let mut expected = vec![best];
    expected.extend(sent.into_iter().rev());
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn from_finds_one_accounts_messages() {
    let app = TestApp::new().await;
    let ann = signed_in(&app, "sann").await;
    let ben = signed_in(&app, "sben").await;
    send_as(&app, &ann, "search-from", "standup notes from ann").await;
    send_as(&app, &ben, "search-from", "standup notes from ben").await;
    let answer = search(&app, None, "q=standup&from=SAnn").await;
    assert_eq!(texts(&answer.json), ["standup notes from ann"]);
}

#[tokio::test]
async fn what_cannot_be_searched_is_refused_with_a_reason_and_changes_nothing() {
    let app = TestApp::new().await;
    let id = app.send_ok("search-refusals", "kept as it was").await;
    for (query, detail) in [
        ("", "q must say"),
        ("q=", "q must say"),
        ("q=%22open", "closing quote"),
        ("q=a*", "at least 2"),
        ("q=...%20%3F", "nothing to search for"),
        ("q=kept&limit=0", "limit must be"),
        ("q=kept&limit=101", "limit must be"),
        ("q=kept&before=yesterday", "before must be a message id"),
        ("q=kept&before=", "before must be a message id"),
        ("q=kept&from=no%20spaces", "name"),
        ("q=kept&room=bad%20room", "room"),
    ] {
        let answer = search(&app, None, query).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, detail);
    }
    let long = "w".repeat(257);
    assert_refused(
        &search(&app, None, &format!("q={long}")).await,
        StatusCode::BAD_REQUEST,
        "at most 256",
    );
    // A message id that is no result of this query cannot page it.
    let other = app.send_ok("search-refusals", "something else").await;
    let answer = search(&app, None, &format!("q=kept&before={other}")).await;
    assert_refused(&answer, StatusCode::NOT_FOUND, "no such message");
    assert_eq!(found(&app, None, "kept").await, ["kept as it was"]);
    let history = app.get("/api/history?room=search-refusals").await;
    assert_eq!(history.json["messages"][0]["id"], id.as_str());
}

#[tokio::test]
async fn history_around_a_message_answers_its_neighbours_both_ways() {
    let app = TestApp::new().await;
    let room = "search-around";
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(app.send_ok(room, &format!("m{i}")).await);
    }
    let answer = app
        .get(&format!(
            "/api/history?room={room}&around={}&limit=5",
            ids[4]
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    let around: Vec<&str> = answer.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(around, ["m2", "m3", "m4", "m5", "m6"]);

    let at_the_start = app
        .get(&format!(
            "/api/history?room={room}&around={}&limit=4",
            ids[0]
        ))
        .await;
    assert_eq!(at_the_start.json["messages"][0]["text"], "m0");
    assert_eq!(at_the_start.json["messages"].as_array().unwrap().len(), 4);

    let elsewhere = app.send_ok("search-around-other", "elsewhere").await;
    for unknown in [elsewhere, Uuid::now_v7().to_string()] {
        let answer = app
            .get(&format!("/api/history?room={room}&around={unknown}"))
            .await;
        assert_refused(&answer, StatusCode::NOT_FOUND, "no such message");
    }
    let malformed = app
        .get(&format!("/api/history?room={room}&around=m4"))
        .await;
    assert_refused(
        &malformed,
        StatusCode::BAD_REQUEST,
        "around must be a message id",
    );
}

#[tokio::test]
async fn guests_search_only_where_the_server_lets_them_in() {
    let app = TestApp::without_guests().await;
    let answer = search(&app, None, "q=anything").await;
    assert_refused(&answer, StatusCode::UNAUTHORIZED, "sign in");
}

#[tokio::test]
async fn a_flood_of_searches_is_answered_429_per_person_and_address() {
    let app = TestApp::build(Setup {
        chat: ChatOptions {
            search_limiter: Some(SearchLimiter::per_minute(NonZeroU32::new(2).unwrap())),
            ..ChatOptions::default()
        },
        ..Setup::default()
    })
    .await;
    let ada = signed_in(&app, "sflooder").await;
    for _ in 0..2 {
        assert_eq!(
            search(&app, Some(&ada), "q=anything").await.status,
            StatusCode::OK
        );
    }
    let refused = app.call(bearer(get("/api/search?q=anything"), &ada)).await;
    assert_refused(&refused, StatusCode::TOO_MANY_REQUESTS, "too many searches");
    assert!(refused.header(header::RETRY_AFTER).is_some());
    // Someone else (a guest here) has a bucket of their own.
    assert_eq!(
        search(&app, None, "q=anything").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn long_results_make_shorter_pages_within_an_answers_bytes_and_lose_none() {
    let app = TestApp::build(Setup {
        broker: BrokerConfig {
            max_answer_bytes: 16 * 1024,
            ..BrokerConfig::default()
        },
        ..Setup::default()
    })
    .await;
    let long = "word ".repeat(700);
    let mut sent = Vec::new();
    for i in 0..12 {
        sent.push(
            app.send_ok("search-long", &format!("needle {i} {long}"))
                .await,
        );
    }
    let mut seen = Vec::new();
    let mut query = "q=needle&limit=100".to_owned();
    loop {
        let answer = app.call_raw(get(&format!("/api/search?{query}"))).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(
            answer.body.len() <= 16 * 1024 + 4 * 1024,
            "{} bytes",
            answer.body.len()
        );
        let json: Value = serde_json::from_slice(&answer.body).unwrap();
        let page = json["results"].as_array().unwrap();
        assert!(!page.is_empty() && page.len() < 12);
        seen.extend(
            page.iter()
                .map(|hit| hit["message"]["id"].as_str().unwrap().to_owned()),
        );
        match json["next_before"].as_str() {
            Some(next) => query = format!("q=needle&limit=100&before={next}"),
            None => break,
        }
    }
    seen.sort();
    sent.sort();
    assert_eq!(seen, sent);
}

// The same index on every store.

/// A broker on a store of `kind`, with what keeps it.
struct Opened {
    broker: Broker,
    _dir: TempDir,
    _redis: Option<RedisServer>,
}

async fn open(kind: &str, retention: Retention) -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let (store, redis) = match kind {
        "memory" => (StoreConfig::Memory, None),
        "sqlite" => (StoreConfig::Sqlite(dir.path().join("chat.db")), None),
        _ => {
            let redis = RedisServer::start();
            (redis.url().parse().unwrap(), Some(redis))
        }
    };
    let config = BrokerConfig {
        retention,
        ..BrokerConfig::default()
    };
    Opened {
        broker: Broker::open(config, &store).await.unwrap(),
        _dir: dir,
        _redis: redis,
    }
}

async fn send(broker: &Broker, room: &str, text: &str) -> Message {
    let receipt = broker
        .send(SendRequest {
            room: RoomName::parse(room).unwrap(),
            sender: SenderName::parse("Ann").unwrap(),
            author: Some("ann".into()),
            text: MessageText::parse(text).unwrap(),
            mentions: Vec::new(),
            attachment: None,
        })
        .await
        .unwrap();
    Message::clone(&broker.message(receipt.message_id).unwrap())
}

async fn find(broker: &Broker, q: &str) -> Vec<String> {
    let found = broker
        .search_index()
        .find(Query::parse(q).unwrap(), Scope::default(), None, 100)
        .await
        .unwrap();
    found.messages.into_iter().map(|m| m.text).collect()
}

macro_rules! each_store {
    ($case:ident) => {
        mod $case {
            #[tokio::test]
            async fn memory() {
                super::$case("memory").await;
            }
            #[tokio::test]
            async fn sqlite() {
                super::$case("sqlite").await;
            }
            #[tokio::test]
            async fn redis() {
                super::$case("redis").await;
            }
        }
    };
}

each_store!(every_store_finds_messages_as_they_are_now);
async fn every_store_finds_messages_as_they_are_now(kind: &'static str) {
    let opened = open(kind, Retention::default()).await;
    let broker = &opened.broker;
    let edited = send(broker, "everywhere", "first draft").await;
    let deleted = send(broker, "everywhere", "draft to delete").await;
    send(broker, "elsewhere", "another draft").await;
    broker
        .change(
            &edited,
            "Ann",
            "ann",
            ChangeKind::Edit {
                text: "final words".into(),
                mentions: Vec::new(),
            },
        )
        .await
        .unwrap();
    broker
        .change(&deleted, "Ann", "ann", ChangeKind::Delete)
        .await
        .unwrap();
    let mut drafts = find(broker, "draft").await;
    drafts.sort();
    assert_eq!(drafts, ["another draft"], "{kind}");
    assert_eq!(find(broker, "final").await, ["final words"], "{kind}");
    broker
        .delete_room(&RoomName::parse("elsewhere").unwrap())
        .await
        .unwrap();
    assert!(find(broker, "draft").await.is_empty(), "{kind}");
}

each_store!(retention_removes_from_the_index_what_it_deletes);
async fn retention_removes_from_the_index_what_it_deletes(kind: &'static str) {
    let retention = Retention {
        max_messages_per_room: 3,
        max_age: None,
    };
    let opened = open(kind, retention).await;
    for i in 0..5 {
        send(&opened.broker, "kept-three", &format!("retained {i}")).await;
    }
    let mut kept = find(&opened.broker, "retained").await;
    kept.sort();
    assert_eq!(kept, ["retained 2", "retained 3", "retained 4"], "{kind}");
}

#[tokio::test]
async fn a_sqlite_file_indexes_the_messages_it_kept_from_before_the_index_at_its_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    let store = StoreConfig::Sqlite(path.clone());
    {
        let broker = Broker::open(BrokerConfig::default(), &store).await.unwrap();
        send(&broker, "old", "written before search existed").await;
        broker.shutdown();
    }
    // As a file from before the index: the index's tables empty.
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute("DELETE FROM search_messages", [])
        .unwrap();
    drop(connection);
    let broker = Broker::open(BrokerConfig::default(), &store).await.unwrap();
    assert_eq!(
        find(&broker, "before").await,
        ["written before search existed"]
    );
}

#[tokio::test]
async fn a_message_sent_through_one_instance_is_found_through_another_within_a_second() {
    let redis = RedisServer::start();
    let store: StoreConfig = redis.url().parse().unwrap();
    let sender = Broker::open(BrokerConfig::default(), &store).await.unwrap();
    send(&sender, "shared", "said before the other started").await;
    let finder = Arc::new(Broker::open(BrokerConfig::default(), &store).await.unwrap());
    send(&sender, "shared", "said after the other started").await;
    eventually(
        Duration::from_secs(1),
        "both found through the other instance",
        || {
            let finder = finder.clone();
            async move { find(&finder, "said").await.len() == 2 }
        },
    )
    .await;
}
