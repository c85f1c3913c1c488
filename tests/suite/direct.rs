//! Direct rooms (`POST /api/dms`): the same people always get the same room whoever asks
//! first; it is private to them, listed with its people, and works as any room; nobody joins,
//! is added, removed or deletes it; and every refusal (guests, other sites' tokens, unknown or
//! disabled names, no one or too many) makes nothing.

use axum::http::{Method, StatusCode};
use longpoll_chat::model::AccountName;
use serde_json::{json, Value};

use crate::common::{
    accounts::{assert_refused, bearer, empty_request, json_request, jwt_setup, signed_in},
    app::{get, message, send_request, Answer, TestApp},
};

async fn direct(app: &TestApp, token: Option<&str>, with: Value) -> Answer {
    let request = json_request(Method::POST, "/api/dms", json!({ "with": with }));
    match token {
        Some(token) => app.call(bearer(request, token)).await,
        None => app.call(request).await,
    }
}

async fn made(app: &TestApp, token: &str, with: Value, status: StatusCode) -> String {
    let answer = direct(app, Some(token), with).await;
    assert_eq!(answer.status, status, "{}", answer.json);
    answer.json["name"].as_str().unwrap().to_owned()
}

async fn rooms(app: &TestApp, token: Option<&str>) -> Vec<Value> {
    let request = get("/api/rooms");
    let request = match token {
        Some(token) => bearer(request, token),
        None => request,
    };
    let answer = app.call(request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    answer.json["rooms"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_same_people_get_the_same_private_room_whoever_asks_first() {
    let app = TestApp::new().await;
    let ann = signed_in(&app, "dAnn").await;
    let bob = signed_in(&app, "dbob").await;
    let cy = signed_in(&app, "dcy").await;

    let room = made(&app, &ann, json!(["DBob"]), StatusCode::CREATED).await;
    assert_eq!(
        made(&app, &bob, json!(["dann"]), StatusCode::OK).await,
        room
    );
    assert_eq!(
        made(&app, &ann, json!(["dbob", "dann"]), StatusCode::OK).await,
        room
    );
    let trio = made(&app, &cy, json!(["dann", "dbob"]), StatusCode::CREATED).await;
    assert_ne!(trio, room);
    assert_eq!(
        made(&app, &bob, json!(["dcy", "dann"]), StatusCode::OK).await,
        trio
    );

    let listed = json!({"name": room, "private": true, "owner": "dann", "direct": true,
        "people": ["dann", "dbob"]});
    for person in [&ann, &bob] {
        assert!(rooms(&app, Some(person)).await.contains(&listed));
    }
    assert!(!rooms(&app, Some(&cy))
        .await
        .iter()
        .any(|r| r["name"] == room));
    assert!(!rooms(&app, None).await.iter().any(|r| r["name"] == room));

    // As any room: send, history, joined with its people and unread count.
    let send = json_request(
        Method::POST,
        "/api/send",
        json!({"room": room, "text": "psst"}),
    );
    assert_eq!(app.call(bearer(send, &ann)).await.status, StatusCode::OK);
    let history = app
        .call(bearer(get(&format!("/api/history?room={room}")), &bob))
        .await;
    assert_eq!(history.json["messages"][0]["text"], "psst");
    let join = json_request(Method::PUT, &format!("/api/me/rooms/{room}"), json!({}));
    let joined = app.call(bearer(join, &bob)).await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.json);
    assert_eq!(joined.json["direct"], true);
    assert_eq!(joined.json["people"], json!(["dann", "dbob"]));
    assert_eq!(joined.json["unread"], 1);
    for outsider in [Some(cy.as_str()), None] {
        let request = get(&format!("/api/history?room={room}"));
        let request = match outsider {
            Some(token) => bearer(request, token),
            None => request,
        };
        assert_refused(
            &app.call(request).await,
            StatusCode::NOT_FOUND,
            "no such room",
        );
    }
}

#[tokio::test]
async fn nobody_joins_is_added_removed_or_deletes_a_direct_room() {
    let app = TestApp::new().await;
    let ann = signed_in(&app, "fann").await;
    let bob = signed_in(&app, "fbob").await;
    let cy = signed_in(&app, "fcy").await;
    let room = made(&app, &ann, json!(["fbob"]), StatusCode::CREATED).await;

    for (token, method, uri) in [
        (&ann, Method::PUT, format!("/api/rooms/{room}/members/fcy")),
        (
            &ann,
            Method::DELETE,
            format!("/api/rooms/{room}/members/fbob"),
        ),
        (
            &bob,
            Method::DELETE,
            format!("/api/rooms/{room}/members/fbob"),
        ),
        (&ann, Method::DELETE, format!("/api/rooms/{room}")),
    ] {
        let answer = app.call(bearer(empty_request(method, &uri), token)).await;
        assert_refused(&answer, StatusCode::FORBIDDEN, "never change");
    }
    let join = json_request(Method::PUT, &format!("/api/me/rooms/{room}"), json!({}));
    assert_refused(
        &app.call(bearer(join, &cy)).await,
        StatusCode::NOT_FOUND,
        "no such room",
    );
    let members = app
        .call(bearer(get(&format!("/api/rooms/{room}/members")), &bob))
        .await;
    assert_eq!(members.json["owner"], "fann");
    assert_eq!(members.json["members"], json!(["fbob"]));

    // Its name is no other room's: nobody makes one, and nobody uses one that is not made.
    let create = json_request(Method::POST, "/api/rooms", json!({"name": "dm--mine"}));
    assert_refused(
        &app.call(bearer(create, &cy)).await,
        StatusCode::BAD_REQUEST,
        "direct rooms",
    );
    let guest_send = app
        .call(send_request(message("dm--unmade", "eve", "hi")))
        .await;
    assert_refused(&guest_send, StatusCode::NOT_FOUND, "no such room");
    let poll = app
        .get("/api/poll?client_id=d1&room=dm--unmade&timeout=5")
        .await;
    assert_refused(&poll, StatusCode::NOT_FOUND, "no such room");
}

#[tokio::test]
async fn refusals_say_why_and_make_no_room() {
    let (setup, token) = jwt_setup();
    let app = TestApp::build(setup).await;
    let ann = signed_in(&app, "rann").await;
    signed_in(&app, "rbob").await;
    signed_in(&app, "rgone").await;
    app.identity
        .set_disabled(&AccountName::parse("rgone").unwrap(), true)
        .await
        .unwrap();
    let before = rooms(&app, Some(&ann)).await;

    assert_refused(
        &direct(&app, None, json!(["rbob"])).await,
        StatusCode::UNAUTHORIZED,
        "sign in",
    );
    let site_token = token("rann", &[], 60);
    assert_refused(
        &direct(&app, Some(&site_token), json!(["rbob"])).await,
        StatusCode::FORBIDDEN,
        "other sites' tokens",
    );
    for with in [
        json!(["nobody-here"]),
        json!(["rbob", "nobody-here"]),
        json!(["rgone"]),
    ] {
        let answer = direct(&app, Some(&ann), with).await;
        assert_refused(&answer, StatusCode::NOT_FOUND, "no such account");
        assert!(!answer.json["detail"].as_str().unwrap().contains("nobody"));
    }
    let nine: Vec<String> = (0..9).map(|i| format!("p{i}")).collect();
    for with in [json!([]), json!(["rann"]), json!(nine), json!(["bad name"])] {
        let answer = direct(&app, Some(&ann), with.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{with}: {}",
            answer.json
        );
    }
    let not_a_list = json_request(Method::POST, "/api/dms", json!({"with": "rbob"}));
    assert_eq!(
        app.call(bearer(not_a_list, &ann)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(rooms(&app, Some(&ann)).await, before);
}
