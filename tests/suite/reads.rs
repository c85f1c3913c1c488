//! Joined rooms and read positions through the whole app (`/api/me/rooms`): they follow an
//! account across its sessions, only move forward, count what is unread from the room's log,
//! are refused to guests, other sites' token holders and rooms the caller may not see (each
//! refusal checked to change nothing), leave with a lost private room, and survive a restart
//! on SQLite (real processes).

use axum::http::{header, Method, StatusCode};
use longpoll_chat::server::BrokerConfig;
use serde_json::{json, Value};
use tempfile::TempDir;
use uuid::Uuid;

use crate::common::{
    accounts::{
        assert_refused, bearer, empty_request, json_request, jwt_setup, new_session, private_room,
        signed_in,
    },
    app::{get, send_request, Answer, TestApp},
    process::{call, client, send, sign_up_and_in, sqlite, Server},
};

async fn joined(app: &TestApp, token: &str) -> Value {
    let answer = app.call(bearer(get("/api/me/rooms"), token)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    answer.json
}

/// `PUT /api/me/rooms/{room}` with `body`.
async fn mark(app: &TestApp, token: &str, room: &str, body: Value) -> Answer {
    let uri = format!("/api/me/rooms/{room}");
    app.call(bearer(json_request(Method::PUT, &uri, body), token))
        .await
}

async fn mark_read(app: &TestApp, token: &str, room: &str, id: &str) -> Value {
    let answer = mark(app, token, room, json!({"last_read_id": id})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    answer.json
}

async fn leave(app: &TestApp, token: &str, room: &str) -> Answer {
    let uri = format!("/api/me/rooms/{room}");
    app.call(bearer(empty_request(Method::DELETE, &uri), token))
        .await
}

fn entry(room: &str, last_read: Option<&str>, unread: usize, private: bool) -> Value {
    json!({
        "room": room,
        "last_read_id": last_read,
        "unread": unread,
        "unread_at_least": false,
        "private": private,
        "mentions": 0,
        "notify": "mentions",
    })
}

#[tokio::test]
async fn read_positions_follow_the_account_to_every_session_and_only_move_forward() {
    let app = TestApp::new().await;
    let phone = signed_in(&app, "Rita").await;
    let laptop = new_session(&app, "rita").await;
    assert_eq!(joined(&app, &phone).await, json!({"rooms": []}));
    let room = "reads-forward";
    let mut ids = Vec::new();
    for text in ["m0", "m1", "m2"] {
        ids.push(app.send_ok(room, text).await);
    }

    // Joining without a position: everything the room keeps is unread.
    let joined_now = mark(&app, &phone, room, json!({})).await;
    assert_eq!(joined_now.status, StatusCode::OK, "{}", joined_now.json);
    assert_eq!(joined_now.json, entry(room, None, 3, false));

    // Read up to m1 on the laptop; the phone's late report of m0 does not move it back.
    let laptop_read = mark_read(&app, &laptop, room, &ids[1]).await;
    assert_eq!(laptop_read, entry(room, Some(&ids[1]), 1, false));
    let phone_late = mark_read(&app, &phone, room, &ids[0]).await;
    assert_eq!(phone_late, entry(room, Some(&ids[1]), 1, false));
    let null_is_no_change = mark(&app, &phone, room, json!({"last_read_id": null})).await;
    assert_eq!(null_is_no_change.json, entry(room, Some(&ids[1]), 1, false));
    assert_eq!(
        joined(&app, &phone).await,
        json!({"rooms": [entry(room, Some(&ids[1]), 1, false)]})
    );

    // A new message is one more unread, on every session; another room is listed by name.
    ids.push(app.send_ok(room, "m3").await);
    mark(&app, &laptop, "a-reads-first", json!({})).await;
    assert_eq!(
        joined(&app, &laptop).await,
        json!({"rooms": [
            entry("a-reads-first", None, 0, false),
            entry(room, Some(&ids[1]), 2, false),
        ]})
    );
    let caught_up = mark_read(&app, &phone, room, &ids[3]).await;
    assert_eq!(caught_up, entry(room, Some(&ids[3]), 0, false));

    let left = leave(&app, &laptop, room).await;
    assert_eq!(left.status, StatusCode::OK, "{}", left.json);
    assert_eq!(left.json, json!({"status": "ok"}));
    assert_refused(
        &leave(&app, &phone, room).await,
        StatusCode::NOT_FOUND,
        "not joined",
    );
    assert_eq!(
        joined(&app, &phone).await,
        json!({"rooms": [entry("a-reads-first", None, 0, false)]})
    );
    // Another account has positions of its own.
    let other = signed_in(&app, "sam").await;
    assert_eq!(joined(&app, &other).await, json!({"rooms": []}));
}

#[tokio::test]
async fn unread_counts_say_when_the_room_no_longer_keeps_the_read_position() {
    let app = TestApp::with(
        BrokerConfig {
            room_capacity: 3,
            ..BrokerConfig::default()
        },
        Default::default(),
    )
    .await;
    let token = signed_in(&app, "ulla").await;
    let room = "reads-evicted";
    let first = app.send_ok(room, "m0").await;
    for text in ["m1", "m2", "m3", "m4"] {
        app.send_ok(room, text).await;
    }
    let read = mark_read(&app, &token, room, &first).await;
    assert_eq!(
        (&read["unread"], &read["unread_at_least"]),
        (&json!(3), &json!(true)),
        "{read}"
    );
    let rejoined = mark(&app, &token, room, json!({})).await.json;
    assert_eq!(rejoined["last_read_id"], json!(first), "kept, not cleared");
}

#[tokio::test]
async fn refusals_are_answered_as_errors_and_change_nothing() {
    let (setup, jwt) = jwt_setup();
    let app = TestApp::build(setup).await;
    let token = signed_in(&app, "vic").await;
    let owner = signed_in(&app, "wren").await;
    let room = "reads-refusals";
    let id = app.send_ok(room, "m0").await;
    let kept = mark_read(&app, &token, room, &id).await;
    let before = joined(&app, &token).await;
    assert_eq!(before, json!({"rooms": [kept]}));
    let uri = format!("/api/me/rooms/{room}");

    // Guests have no account to keep positions in.
    for request in [
        get("/api/me/rooms"),
        json_request(Method::PUT, &uri, json!({})),
        empty_request(Method::DELETE, &uri),
    ] {
        assert_refused(
            &app.call(request).await,
            StatusCode::UNAUTHORIZED,
            "sign in",
        );
    }
    // Nor do other sites' token holders, even in a room their token names.
    private_room(&app, &owner, "reads-named", &[]).await;
    let holder = jwt("Vic", &["reads-named"], 600);
    for request in [
        get("/api/me/rooms"),
        json_request(Method::PUT, "/api/me/rooms/reads-named", json!({})),
        empty_request(Method::DELETE, "/api/me/rooms/reads-named"),
    ] {
        assert_refused(
            &app.call(bearer(request, &holder)).await,
            StatusCode::FORBIDDEN,
            "account",
        );
    }

    // Ids that are no message's: garbage, not a UUIDv7, not hyphenated, not a string.
    let message_id = Uuid::parse_str(&id).unwrap();
    for bad in [
        json!({"last_read_id": "nope"}),
        json!({"last_read_id": "67e55044-10b1-426f-9247-bb680e5fe0c8"}), // version 4
        json!({"last_read_id": message_id.simple().to_string()}),
        json!({"last_read_id": 7}),
    ] {
        let answer = mark(&app, &token, room, bad.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            answer.json
        );
        assert_eq!(answer.json["status"], "error");
    }
    let not_an_object = app
        .call(bearer(json_request(Method::PUT, &uri, json!([id])), &token))
        .await;
    assert_refused(&not_an_object, StatusCode::BAD_REQUEST, "expected a map");
    let mut plain = bearer(json_request(Method::PUT, &uri, json!({})), &token);
    plain
        .headers_mut()
        .insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
    assert_eq!(
        app.call(plain).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    for bad_room in ["a%20b", &"r".repeat(65)] {
        let uri = format!("/api/me/rooms/{bad_room}");
        let answer = app
            .call(bearer(json_request(Method::PUT, &uri, json!({})), &token))
            .await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, "room must be");
        let answer = app
            .call(bearer(empty_request(Method::DELETE, &uri), &token))
            .await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, "room must be");
    }

    // Someone else's private room does not exist, whatever one does with it.
    private_room(&app, &owner, "reads-den", &[]).await;
    let hidden = app.send_ok("general", "unrelated").await;
    for body in [json!({}), json!({"last_read_id": hidden})] {
        assert_refused(
            &mark(&app, &token, "reads-den", body).await,
            StatusCode::NOT_FOUND,
            "no such room",
        );
    }
    assert_refused(
        &leave(&app, &token, "reads-den").await,
        StatusCode::NOT_FOUND,
        "no such room",
    );

    assert_eq!(joined(&app, &token).await, before, "nothing changed");
}

#[tokio::test]
async fn losing_a_private_room_leaves_it_and_only_visible_rooms_are_listed() {
    let app = TestApp::new().await;
    let ann = signed_in(&app, "ann").await;
    let bo = signed_in(&app, "bo").await;
    let cy = signed_in(&app, "cy").await;
    let room = "reads-den";
    private_room(&app, &ann, room, &["bo", "cy"]).await;
    let message = app
        .call(bearer(
            send_request(json!({"room": room, "text": "hello"})),
            &ann,
        ))
        .await;
    let id = message.json["message_id"].as_str().unwrap().to_owned();
    for token in [&ann, &bo, &cy] {
        assert_eq!(
            mark(&app, token, room, json!({})).await.json,
            entry(room, None, 1, true)
        );
    }

    let removed = app
        .call(bearer(
            empty_request(Method::DELETE, &format!("/api/rooms/{room}/members/bo")),
            &ann,
        ))
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.json);
    assert_eq!(joined(&app, &bo).await, json!({"rooms": []}));
    assert_refused(
        &mark(&app, &bo, room, json!({"last_read_id": id})).await,
        StatusCode::NOT_FOUND,
        "no such room",
    );
    assert_eq!(joined(&app, &bo).await, json!({"rooms": []}), "not again");
    assert_eq!(
        joined(&app, &cy).await,
        json!({"rooms": [entry(room, None, 1, true)]}),
        "the other member keeps it"
    );

    let deleted = app
        .call(bearer(
            empty_request(Method::DELETE, &format!("/api/rooms/{room}")),
            &ann,
        ))
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.json);
    for token in [&ann, &cy] {
        assert_eq!(joined(&app, token).await, json!({"rooms": []}));
    }

    // A public room someone joined cannot be taken private by another: it stays listed.
    let public = "reads-taken";
    mark(&app, &bo, public, json!({})).await;
    let take = json_request(
        Method::POST,
        "/api/rooms",
        json!({"name": public, "private": true}),
    );
    assert_refused(
        &app.call(bearer(take, &ann)).await,
        StatusCode::CONFLICT,
        "a room of that name exists",
    );
    assert_eq!(
        joined(&app, &bo).await,
        json!({"rooms": [entry(public, None, 0, false)]})
    );
}

#[tokio::test]
async fn read_positions_survive_a_restart_on_sqlite() {
    let dir = TempDir::new().unwrap();
    let store = sqlite(&dir);
    let client = client();
    let server = Server::start(&store, "127.0.0.1:0");
    let token = sign_up_and_in(&client, &server, "tova").await;
    let room = "reads-durable";
    let mut ids = Vec::new();
    for text in ["m0", "m1", "m2"] {
        ids.push(send(&client, &server.url(""), room, text).await);
    }
    let (status, read) = call(
        &client,
        reqwest::Method::PUT,
        server.url(&format!("/api/me/rooms/{room}")),
        Some(&token),
        Some(json!({"last_read_id": ids[0]})),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{read}");
    let addr = server.kill();

    let server = Server::start(&store, &addr.to_string());
    let (status, listed) = call(
        &client,
        reqwest::Method::GET,
        server.url("/api/me/rooms"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{listed}");
    assert_eq!(
        listed,
        json!({"rooms": [entry(room, Some(&ids[0]), 2, false)]})
    );
}
