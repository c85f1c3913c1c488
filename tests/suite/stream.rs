//! `POST /api/stream` through the whole app: one held request for many rooms, its refusals,
//! and private rooms appearing, disappearing and refused while it is held.

use axum::http::{header, Method, StatusCode};
use longpoll_chat::model::MAX_STREAM_ROOMS;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::common::{
    accounts::{bearer, empty_request, json_request, private_room, signed_in, with_token},
    app::{get, message, post, stream_request, Answer, TestApp},
};

/// Starts a stream (with the bearer `token`, if any) and returns once the broker holds it.
async fn spawn_stream(app: &TestApp, body: Value, token: Option<&str>) -> JoinHandle<Answer> {
    let held = app.broker.held_polls();
    let stream = app.spawn(with_token(stream_request(body), token));
    app.until_held(held + 1).await;
    stream
}

/// The answer's rooms as `(room, texts)`.
fn news(answer: &Answer) -> Vec<(String, Vec<String>)> {
    answer.json["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|news| {
            let texts = news["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|message| message["text"].as_str().unwrap().to_owned())
                .collect();
            (news["room"].as_str().unwrap().to_owned(), texts)
        })
        .collect()
}

#[tokio::test]
async fn one_held_stream_follows_many_rooms_and_counts_as_one_poll() {
    let app = TestApp::new().await;
    let first = app.send_ok("north", "before").await;
    let body = json!({
        "client_id": "tab-1",
        "timeout": 30,
        "rooms": [{"room": "north", "last_message_id": first}, {"room": "south"}, {"room": "east", "last_message_id": null}],
    });
    let stream = spawn_stream(&app, body, None).await;
    assert_eq!(app.get("/api/stats").await.json["held_polls"], 1);
    app.send_ok("south", "hello south").await;
    let answer = stream.await.unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["status"], "success");
    assert_eq!(
        news(&answer),
        [("south".to_owned(), vec!["hello south".to_owned()])]
    );
    let message = &answer.json["rooms"][0]["messages"][0];
    for field in ["id", "sender", "text", "timestamp", "room", "verified"] {
        assert!(message.get(field).is_some(), "{field} in {message}");
    }
    assert!(answer.json["timestamp"].is_f64());
    assert_eq!(answer.header(header::CACHE_CONTROL), Some("no-store"));
}

#[tokio::test]
async fn bad_streams_are_refused_and_hold_nothing() {
    let app = TestApp::new().await;
    let too_many: Vec<Value> = (0..=MAX_STREAM_ROOMS)
        .map(|n| json!({"room": format!("r{n}")}))
        .collect();
    let cases = [
        (json!({"rooms": [{"room": "a"}]}), "client_id"),
        (
            json!({"client_id": "c", "rooms": []}),
            "rooms must list 1 to 100",
        ),
        (
            json!({"client_id": "c", "rooms": too_many}),
            "rooms must list 1 to 100",
        ),
        (
            json!({"client_id": "c", "rooms": [{"room": "a"}, {"room": "a"}]}),
            "twice",
        ),
        (
            json!({"client_id": "c", "rooms": [{"room": "bad name"}]}),
            "room must be",
        ),
        (
            json!({"client_id": "c", "rooms": [{"room": ""}]}),
            "room must be",
        ),
        (
            json!({"client_id": "bad id", "rooms": [{"room": "a"}]}),
            "client_id must be",
        ),
        (
            json!({"client_id": "c", "timeout": 4, "rooms": [{"room": "a"}]}),
            "timeout must be",
        ),
        (
            json!({"client_id": "c", "timeout": "soon", "rooms": [{"room": "a"}]}),
            "invalid JSON body",
        ),
        (json!({"client_id": "c", "rooms": "a"}), "invalid JSON body"),
        (json!(["not", "an", "object"]), "expected a map"),
    ];
    for (body, detail) in cases {
        let answer = app.call(stream_request(body.clone())).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.json
        );
        assert_eq!(answer.json["status"], "error");
        let said = answer.json["detail"].as_str().unwrap();
        assert!(said.contains(detail), "{body}: {said:?} lacks {detail:?}");
    }
    let form = post("/api/stream", Some("text/plain"), "client_id=c&room=a");
    assert_eq!(
        app.call(form).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let not_json = post("/api/stream", Some("application/json"), "{");
    assert_eq!(app.call(not_json).await.status, StatusCode::BAD_REQUEST);
    let answer = app.call(get("/api/stream")).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(app.broker.held_polls(), 0);
    assert_eq!(app.get("/api/stats").await.json["rooms"], json!([]));
}

#[tokio::test]
async fn a_client_that_saw_a_room_empty_gets_what_was_sent_before_its_next_stream() {
    let app = TestApp::new().await;
    let body =
        json!({"client_id": "tab", "timeout": 5, "rooms": [{"room": "empty", "from_start": true}]});
    assert_eq!(
        app.get("/api/history?room=empty").await.json["messages"],
        json!([])
    );
    app.send_ok("empty", "first words").await;
    let answer = app.call(stream_request(body)).await;
    assert_eq!(
        news(&answer),
        [("empty".to_owned(), vec!["first words".to_owned()])]
    );
}

#[tokio::test]
async fn a_newer_stream_of_a_client_supersedes_the_older() {
    let app = TestApp::new().await;
    let body = json!({"client_id": "tab", "rooms": [{"room": "one"}]});
    let older = spawn_stream(&app, body.clone(), None).await;
    // Held polls stay at one: the newer replaces the older.
    let newer = app.spawn(stream_request(body));
    let older = older.await.unwrap();
    assert_eq!(older.json["status"], "superseded");
    assert_eq!(older.json["rooms"], json!([]));
    app.until_held(1).await;
    let disconnected = app
        .call(empty_request(Method::DELETE, "/api/client/tab"))
        .await;
    assert_eq!(disconnected.status, StatusCode::OK);
    assert_eq!(newer.await.unwrap().json["status"], "disconnected");
}

#[tokio::test]
async fn a_private_room_of_others_is_answered_unavailable_and_never_followed() {
    let app = TestApp::new().await;
    let owner = signed_in(&app, "olga").await;
    let member = signed_in(&app, "mo").await;
    let stranger = signed_in(&app, "sam").await;
    private_room(&app, &owner, "vault", &["mo"]).await;
    let secret = app
        .call(bearer(
            json_request(
                Method::POST,
                "/api/send",
                json!({"room": "vault", "text": "gold"}),
            ),
            &owner,
        ))
        .await;
    assert_eq!(secret.status, StatusCode::OK);

    let body = json!({"client_id": "peek", "rooms": [{"room": "lobby"}, {"room": "vault", "last_message_id": "00000000-0000-0000-0000-000000000000"}]});
    for token in [Some(stranger.as_str()), None] {
        let request = with_token(stream_request(body.clone()), token);
        let answer = app.call(request).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            answer.json["rooms"],
            json!([{"room": "vault", "messages": [], "unavailable": true}]),
            "nothing of the room's messages"
        );
        assert_eq!(app.broker.held_polls(), 0, "not held");
    }

    // A member reads it; the reset shows what an unknown cursor gets.
    let answer = app.call(bearer(stream_request(body), &member)).await;
    assert_eq!(
        news(&answer),
        [("vault".to_owned(), vec!["gold".to_owned()])]
    );
    assert_eq!(answer.json["rooms"][0]["reset"], true);
}

#[tokio::test]
async fn a_member_removed_or_a_room_deleted_while_streaming_is_told_at_once() {
    let app = TestApp::new().await;
    let owner = signed_in(&app, "ann").await;
    let member = signed_in(&app, "ben").await;
    private_room(&app, &owner, "club", &["ben"]).await;
    private_room(&app, &owner, "den", &["ben"]).await;
    let body = |client: &str| json!({"client_id": client, "timeout": 30, "rooms": [{"room": "lobby"}, {"room": "club"}, {"room": "den"}]});

    let ben = spawn_stream(&app, body("ben-tab"), Some(&member)).await;
    let ann = spawn_stream(&app, body("ann-tab"), Some(&owner)).await;
    let remove = empty_request(Method::DELETE, "/api/rooms/club/members/ben");
    assert_eq!(
        app.call(bearer(remove, &owner)).await.status,
        StatusCode::OK
    );
    let answer = ben.await.unwrap();
    assert_eq!(answer.json["status"], "success");
    assert_eq!(
        answer.json["rooms"],
        json!([{"room": "club", "messages": [], "unavailable": true}])
    );
    assert!(!ann.is_finished(), "the owner's stream is not disturbed");

    // Ben follows what is left; deleting `den` tells both streams.
    let ben = spawn_stream(
        &app,
        json!({"client_id": "ben-tab", "timeout": 30, "rooms": [{"room": "lobby"}, {"room": "den"}]}),
        Some(&member),
    )
    .await;
    let delete = empty_request(Method::DELETE, "/api/rooms/den");
    assert_eq!(
        app.call(bearer(delete, &owner)).await.status,
        StatusCode::OK
    );
    for stream in [ben, ann] {
        let answer = stream.await.unwrap();
        assert_eq!(answer.json["status"], "success");
        assert_eq!(
            answer.json["rooms"],
            json!([{"room": "den", "messages": [], "unavailable": true}])
        );
    }
}

#[tokio::test]
async fn a_room_made_private_while_a_guest_streams_it_is_taken_away() {
    let app = TestApp::new().await;
    let owner = signed_in(&app, "pia").await;
    let guest = spawn_stream(
        &app,
        json!({"client_id": "guest", "timeout": 30, "rooms": [{"room": "soon-private"}, {"room": "lobby"}]}),
        None,
    )
    .await;
    let create = json_request(
        Method::POST,
        "/api/rooms",
        json!({"name": "soon-private", "private": true}),
    );
    assert_eq!(
        app.call(bearer(create, &owner)).await.status,
        StatusCode::CREATED
    );
    // Nobody had written to it, so the guest's stream waits for it rather than follow it, and
    // learns it is taken away when its first message comes, without seeing it.
    let sent = bearer(
        json_request(
            Method::POST,
            "/api/send",
            json!({"room": "soon-private", "text": "ours"}),
        ),
        &owner,
    );
    assert_eq!(app.call(sent).await.status, StatusCode::OK);
    let answer = guest.await.unwrap();
    assert_eq!(
        answer.json["rooms"],
        json!([{"room": "soon-private", "messages": [], "unavailable": true}])
    );
}

#[tokio::test]
async fn without_guests_a_stream_needs_an_identity() {
    let app = TestApp::without_guests().await;
    let body = json!({"client_id": "c", "rooms": [{"room": "a"}]});
    let answer = app.call(stream_request(body.clone())).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json["status"], "error");
    let bad_token = app.call(bearer(stream_request(body), "lpc_nope")).await;
    assert_eq!(bad_token.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.broker.held_polls(), 0);
}

#[tokio::test]
async fn a_guests_stream_of_unused_names_makes_no_rooms_yet_hears_their_first_message() {
    let app = TestApp::new().await;
    let rooms: Vec<Value> = (0..30)
        .map(|i| json!({"room": format!("nobody-wrote-{i}")}))
        .collect();
    let held = spawn_stream(&app, json!({"client_id": "curious", "rooms": rooms}), None).await;
    let stats = app.call(get("/api/stats")).await;
    let listed = stats.json["rooms"].as_array().unwrap();
    assert!(
        !listed
            .iter()
            .any(|room| room.as_str().unwrap().starts_with("nobody-wrote-")),
        "{listed:?}"
    );
    app.send(message("nobody-wrote-7", "g", "first")).await;
    let answer = held.await.unwrap();
    assert_eq!(
        news(&answer),
        [("nobody-wrote-7".to_owned(), vec!["first".to_owned()])]
    );
}
