//! Presence and typing through the whole app: a stream that asks (`live_version`) learns who
//! is there and who types, `GET /api/rooms/{room}/online` says the same, and every refusal
//! (guests typing, private rooms, bad names) is a 4xx that shows nothing.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{
    accounts::{
        assert_refused, bearer, empty_request, private_room, signed_in, with_cookie, with_token,
    },
    app::{get, post, send_request, stream_request, TestApp},
};

fn typing(room: &str, token: Option<&str>) -> axum::http::Request<axum::body::Body> {
    let request = empty_request(Method::POST, &format!("/api/rooms/{room}/typing"));
    with_token(request, token)
}

fn stream(client: &str, room: &str, live_version: u64) -> axum::http::Request<axum::body::Body> {
    let body = json!({
        "client_id": client,
        "rooms": [{"room": room, "live_version": live_version}],
    });
    stream_request(body)
}

#[tokio::test]
async fn a_stream_that_asks_learns_who_is_there_and_who_types() {
    let app = TestApp::new().await;
    let alice = signed_in(&app, "Alice").await;
    let bob = signed_in(&app, "bob").await;
    let room = "live-hall";
    // Alice's first stream answers at once: she arrived, and knew version 0.
    let first = app.call(bearer(stream("a", room, 0), &alice)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    let live = &first.json["rooms"][0]["live"];
    assert_eq!(live["online"], json!(["Alice"]));
    let version = live["version"].as_u64().unwrap();

    let held = app.spawn(bearer(stream("a", room, version), &alice));
    app.until_held(1).await;
    let noted = app.call(typing(room, Some(&bob))).await;
    assert_eq!(noted.json, json!({"status": "ok"}));
    let answer = held.await.unwrap();
    let live = &answer.json["rooms"][0]["live"];
    assert_eq!(live["typing"], json!(["bob"]), "{}", answer.json);
    assert!(answer.json["rooms"][0].get("messages").is_some());

    let online: Value = app.get(&format!("/api/rooms/{room}/online")).await.json;
    assert_eq!(
        online["online"],
        json!(["Alice"]),
        "her stream ended a moment ago"
    );
    assert_eq!(online["typing"], json!(["bob"]));
    // Bob's message ends his typing at once.
    let sent = bearer(send_request(json!({"room": room, "text": "hi"})), &bob);
    assert_eq!(app.call(sent).await.status, StatusCode::OK);
    let online: Value = app.get(&format!("/api/rooms/{room}/online")).await.json;
    assert_eq!(online["typing"], json!([]));
}

#[tokio::test]
async fn typing_and_presence_are_refused_to_whom_they_are_not_for() {
    let app = TestApp::new().await;
    let owner = signed_in(&app, "olga").await;
    let outsider = signed_in(&app, "otto").await;
    private_room(&app, &owner, "live-vault", &[]).await;
    assert_refused(
        &app.call(typing("live-open", None)).await,
        StatusCode::UNAUTHORIZED,
        "sign in",
    );
    for answer in [
        app.call(typing("live-vault", Some(&outsider))).await,
        app.call(bearer(get("/api/rooms/live-vault/online"), &outsider))
            .await,
        app.get("/api/rooms/live-vault/online").await,
    ] {
        assert_refused(&answer, StatusCode::NOT_FOUND, "no such room");
    }
    assert_refused(
        &app.call(typing("bad%20name", Some(&owner))).await,
        StatusCode::BAD_REQUEST,
        "room",
    );
    let online = app
        .call(bearer(get("/api/rooms/live-vault/online"), &owner))
        .await;
    assert_eq!(
        online.json["typing"],
        json!([]),
        "the refused signal showed nothing"
    );
}

#[tokio::test]
async fn the_pages_typing_signal_is_the_same_as_the_rest_one() {
    let app = TestApp::new().await;
    let pia = signed_in(&app, "pia").await;
    let room = "live-page";
    // The page's server function, as the composer calls it (with the session cookie).
    let form = Some("application/x-www-form-urlencoded");
    let signal = || post("/sfn/typing", form, "room=live-page");
    let noted = app.call_raw(with_cookie(signal(), &pia)).await;
    assert_eq!(noted.status, StatusCode::OK, "{}", noted.text());
    let online: Value = app.get(&format!("/api/rooms/{room}/online")).await.json;
    assert_eq!(online["typing"], json!(["pia"]));
    // A guest does not show as typing.
    let refused = app.call_raw(signal()).await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.text()
    );
}
