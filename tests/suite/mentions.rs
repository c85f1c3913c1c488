//! Mentions: `@name` of an account that may read the room is kept on the message (and kept
//! current by edits), listed by `GET /api/me/mentions` while the room may be read, and counted
//! unread per joined room; a name that may not read the room is no mention.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{
    accounts::{
        assert_refused, bearer, empty_request, json_request, jwt_setup, private_room, signed_in,
    },
    app::{get, message, send_request, TestApp},
};

async fn send(app: &TestApp, token: &str, room: &str, text: &str) -> Value {
    let request = json_request(
        Method::POST,
        "/api/send",
        json!({"room": room, "text": text}),
    );
    let answer = app.call(bearer(request, token)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    let id = answer.json["message_id"].as_str().unwrap().to_owned();
    let history = app
        .call(bearer(
            get(&format!("/api/history?room={room}&limit=100")),
            token,
        ))
        .await;
    history.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id.as_str())
        .unwrap()
        .clone()
}

async fn mentions_of(app: &TestApp, token: &str) -> Vec<String> {
    let answer = app.call(bearer(get("/api/me/mentions"), token)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    answer.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_mention_is_an_account_that_may_read_the_room_and_edits_keep_it_current() {
    let app = TestApp::new().await;
    let ann = signed_in(&app, "mann").await;
    let bob = signed_in(&app, "mbob").await;
    let cy = signed_in(&app, "mcy").await;

    let public = send(
        &app,
        &ann,
        "m-public",
        "hi @MBob, @mann, @nobody and a@mcy.com",
    )
    .await;
    assert_eq!(public["mentions"], json!(["mbob"]));
    // A guest's message mentions too; a guest's name is no account.
    let guest = app
        .call(send_request(message(
            "m-public",
            "visitor",
            "ping @mcy @visitor",
        )))
        .await;
    assert_eq!(guest.status, StatusCode::OK);

    private_room(&app, &ann, "m-private", &["mbob"]).await;
    let private = send(&app, &ann, "m-private", "@mbob and @mcy, see this").await;
    assert_eq!(private["mentions"], json!(["mbob"]), "mcy may not read it");

    // An edit adds and takes away.
    let id = public["id"].as_str().unwrap();
    let edit = json_request(
        Method::PATCH,
        &format!("/api/messages/{id}"),
        json!({"text": "now only @mcy"}),
    );
    let edited = app.call(bearer(edit, &ann)).await;
    assert_eq!(edited.json["mentions"], json!(["mcy"]));
    assert_eq!(mentions_of(&app, &bob).await, ["@mbob and @mcy, see this"]);
    assert_eq!(
        mentions_of(&app, &cy).await,
        ["ping @mcy @visitor", "now only @mcy"]
    );
}

#[tokio::test]
async fn mentions_are_listed_newest_first_only_while_the_room_may_be_read() {
    let app = TestApp::new().await;
    let ann = signed_in(&app, "lann").await;
    let bob = signed_in(&app, "lbob").await;
    private_room(&app, &ann, "l-private", &["lbob"]).await;
    send(&app, &ann, "l-public", "first @lbob").await;
    send(&app, &ann, "l-private", "second @lbob").await;
    send(&app, &ann, "l-public", "third @lbob").await;
    let deleted = send(&app, &ann, "l-public", "fourth @lbob").await;
    let id = deleted["id"].as_str().unwrap();
    let delete = empty_request(Method::DELETE, &format!("/api/messages/{id}"));
    assert_eq!(app.call(bearer(delete, &ann)).await.status, StatusCode::OK);
    assert_eq!(
        mentions_of(&app, &bob).await,
        ["third @lbob", "second @lbob", "first @lbob"]
    );
    let limited = app
        .call(bearer(get("/api/me/mentions?limit=1"), &bob))
        .await;
    assert_eq!(limited.json["messages"].as_array().unwrap().len(), 1);

    let remove = empty_request(Method::DELETE, "/api/rooms/l-private/members/lbob");
    assert_eq!(app.call(bearer(remove, &ann)).await.status, StatusCode::OK);
    assert_eq!(
        mentions_of(&app, &bob).await,
        ["third @lbob", "first @lbob"]
    );

    for limit in ["0", "101", "x"] {
        let answer = app
            .call(bearer(
                get(&format!("/api/me/mentions?limit={limit}")),
                &bob,
            ))
            .await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, "limit must be");
    }
    assert_refused(
        &app.get("/api/me/mentions").await,
        StatusCode::UNAUTHORIZED,
        "sign in",
    );
}

#[tokio::test]
async fn another_sites_token_has_no_mentions_here() {
    let (setup, token) = jwt_setup();
    let app = TestApp::build(setup).await;
    let answer = app
        .call(bearer(get("/api/me/mentions"), &token("tok", &[], 60)))
        .await;
    assert_refused(&answer, StatusCode::FORBIDDEN, "account");
}

#[tokio::test]
async fn joined_rooms_count_unread_mentions_and_a_direct_rooms_every_unread_message() {
    let app = TestApp::new().await;
    let ann = signed_in(&app, "uann").await;
    let bob = signed_in(&app, "ubob").await;
    let first = send(&app, &ann, "u-room", "hello @ubob").await;
    send(&app, &ann, "u-room", "no mention").await;
    send(&app, &ann, "u-room", "again @ubob").await;
    let join = json_request(
        Method::PUT,
        "/api/me/rooms/u-room",
        json!({"last_read_id": first["id"]}),
    );
    let joined = app.call(bearer(join, &bob)).await;
    assert_eq!(joined.json["unread"], 2);
    assert_eq!(joined.json["mentions"], 1);

    let dm = json_request(Method::POST, "/api/dms", json!({"with": ["ubob"]}));
    let room = app.call(bearer(dm, &ann)).await.json["name"]
        .as_str()
        .unwrap()
        .to_owned();
    send(&app, &ann, &room, "one").await;
    send(&app, &ann, &room, "two").await;
    let join = json_request(Method::PUT, &format!("/api/me/rooms/{room}"), json!({}));
    assert_eq!(app.call(bearer(join, &bob)).await.status, StatusCode::OK);
    let listed = app.call(bearer(get("/api/me/rooms"), &bob)).await;
    let rooms = listed.json["rooms"].as_array().unwrap();
    let mentions =
        |name: &str| rooms.iter().find(|r| r["room"] == name).unwrap()["mentions"].clone();
    assert_eq!(mentions("u-room"), 1);
    assert_eq!(mentions(&room), 2);
}

#[tokio::test]
async fn each_joined_room_has_a_level_kept_per_account_direct_rooms_all_by_default() {
    let app = TestApp::new().await;
    let ann = signed_in(&app, "nann").await;
    let phone = crate::common::accounts::new_session(&app, "nann").await;
    signed_in(&app, "nbob").await;
    let put = |body: Value| json_request(Method::PUT, "/api/me/rooms/n-room", body);

    let joined = app.call(bearer(put(json!({})), &ann)).await;
    assert_eq!(joined.json["notify"], "mentions");
    let set = app.call(bearer(put(json!({"notify": "all"})), &ann)).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.json);
    assert_eq!(set.json["notify"], "all");
    let refused = app.call(bearer(put(json!({"notify": "loud"})), &ann)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.json);
    // Kept per account: the other session sees it, and a read position leaves it as it is.
    let read = app.call(bearer(put(json!({"notify": null})), &phone)).await;
    assert_eq!(read.json["notify"], "all");

    let dm = json_request(Method::POST, "/api/dms", json!({"with": ["nbob"]}));
    let room = app.call(bearer(dm, &ann)).await.json["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let join = json_request(Method::PUT, &format!("/api/me/rooms/{room}"), json!({}));
    assert_eq!(app.call(bearer(join, &ann)).await.json["notify"], "all");
    let quiet = json_request(
        Method::PUT,
        &format!("/api/me/rooms/{room}"),
        json!({"notify": "none"}),
    );
    assert_eq!(app.call(bearer(quiet, &ann)).await.json["notify"], "none");
    let listed = app.call(bearer(get("/api/me/rooms"), &phone)).await;
    let levels: Vec<(&str, &str)> = listed.json["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["room"].as_str().unwrap(), r["notify"].as_str().unwrap()))
        .collect();
    assert_eq!(levels, [(room.as_str(), "none"), ("n-room", "all")]);
}
