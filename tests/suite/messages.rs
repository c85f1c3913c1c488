//! Edits, deletions and reactions through the whole app (`/api/messages/{id}`): history shows
//! messages as they are now, a stream carries each change in order with the messages, a poll
//! still answers new messages only, every refusal is a 4xx that changes nothing, and changes
//! survive a restart on SQLite (real processes).

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use uuid::Uuid;

use crate::common::{
    accounts::{
        assert_refused, bearer, empty_request, json_request, jwt_setup, private_room, signed_in,
        with_token,
    },
    app::{get, message, send_request, Answer, Setup, TestApp},
    process::{self, client, sign_up_and_in, sqlite, Server},
};

/// Sends `text` to `room` as the holder of `token`; returns the message id.
async fn send_as(app: &TestApp, token: &str, room: &str, text: &str) -> String {
    let request = bearer(send_request(json!({"room": room, "text": text})), token);
    let answer = app.call(request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    answer.json["message_id"].as_str().unwrap().to_owned()
}

async fn edit(app: &TestApp, token: Option<&str>, id: &str, text: &str) -> Answer {
    let request = json_request(
        Method::PATCH,
        &format!("/api/messages/{id}"),
        json!({"text": text}),
    );
    app.call(with_token(request, token)).await
}

async fn delete(app: &TestApp, token: Option<&str>, id: &str) -> Answer {
    let request = empty_request(Method::DELETE, &format!("/api/messages/{id}"));
    app.call(with_token(request, token)).await
}

/// `PUT` (`add`) or `DELETE` the caller's reaction; `emoji` goes into the path as given.
async fn react(app: &TestApp, token: Option<&str>, id: &str, emoji: &str, add: bool) -> Answer {
    let method = if add { Method::PUT } else { Method::DELETE };
    let uri = format!("/api/messages/{id}/reactions/{emoji}");
    app.call(with_token(empty_request(method, &uri), token))
        .await
}

fn ok(answer: Answer) -> Value {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    answer.json
}

async fn history(app: &TestApp, token: Option<&str>, room: &str) -> Vec<Value> {
    let answer = app
        .call(with_token(get(&format!("/api/history?room={room}")), token))
        .await;
    let history = ok(answer);
    history["messages"].as_array().unwrap().clone()
}

/// `%F0%9F%91%8D`: 👍 as a URL path carries it.
const THUMBS_UP: &str = "%F0%9F%91%8D";

#[tokio::test]
async fn history_shows_edits_deletions_and_reactions_and_a_stream_carries_each_in_order() {
    let app = TestApp::new().await;
    let alice = signed_in(&app, "Alice").await;
    let bob = signed_in(&app, "bob").await;
    let room = "msg-life";
    let typo = send_as(&app, &alice, room, "helo").await;
    let gone = send_as(&app, &alice, room, "oops").await;
    // A guest's message, the seed's shape: nothing new in it.
    let guest = app.send(message(room, "guest", "hi")).await;
    assert_eq!(guest.status, StatusCode::OK);

    let edited = ok(edit(&app, Some(&alice), &typo, "hello").await);
    assert_eq!(
        (edited["text"].as_str(), edited["author"].as_str()),
        (Some("hello"), Some("alice"))
    );
    assert!(edited["edited_at"].as_f64().unwrap() >= edited["timestamp"].as_f64().unwrap());
    ok(react(&app, Some(&bob), &typo, THUMBS_UP, true).await);
    ok(react(&app, Some(&alice), &typo, "👍", true).await);
    // Once per person: adding it again changes nothing.
    let again = ok(react(&app, Some(&bob), &typo, THUMBS_UP, true).await);
    assert_eq!(
        again["reactions"],
        json!([{"emoji": "👍", "count": 2, "by": ["bob", "Alice"]}])
    );
    ok(react(&app, Some(&bob), &typo, "🎉", true).await);
    ok(react(&app, Some(&bob), &typo, "🎉", false).await);
    let tombstone = ok(delete(&app, Some(&alice), &gone).await);
    assert_eq!(
        (tombstone["deleted"].as_bool(), tombstone["text"].as_str()),
        (Some(true), Some(""))
    );

    let messages = history(&app, None, room).await;
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0]["text"], "hello");
    assert_eq!(messages[0]["reactions"][0]["count"], 2);
    assert_eq!(messages[1]["deleted"], true);
    assert_eq!(messages[1]["text"], "");
    let fields: Vec<&String> = messages[2].as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        ["id", "room", "sender", "text", "timestamp", "verified"]
    );

    // A stream from the first message: the later ones as they are now, then every change.
    let body = json!({"client_id": "life", "rooms": [{"room": room, "last_message_id": typo}]});
    let answer = ok(app
        .call(json_request(Method::POST, "/api/stream", body))
        .await);
    let news = &answer["rooms"][0];
    assert_eq!(news["messages"].as_array().unwrap().len(), 2);
    let changes: Vec<(&str, &str)> = (news["changes"].as_array().unwrap().iter())
        .map(|c| (c["type"].as_str().unwrap(), c["by"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [
            ("edit", "Alice"),
            ("react", "bob"),
            ("react", "Alice"),
            ("react", "bob"),
            ("unreact", "bob"),
            ("delete", "Alice")
        ]
    );
    let last = news["changes"][5]["id"].as_str().unwrap();
    assert_eq!(news["last_id"], last);
    assert_eq!(news["changes"][0]["message_id"], typo.as_str());
    assert_eq!(news["changes"][0]["text"], "hello");
    assert_eq!(news["changes"][1]["emoji"], "👍");

    // A poll from the first message sees the new messages only, as it always did.
    let poll = ok(app
        .get(&format!(
            "/api/poll?client_id=p&room={room}&last_message_id={typo}"
        ))
        .await);
    assert_eq!(poll["messages"].as_array().unwrap().len(), 2);
    assert!(poll.get("changes").is_none());
}

#[tokio::test]
async fn a_held_stream_wakes_for_a_change_and_a_held_poll_does_not() {
    let app = TestApp::new().await;
    let alice = signed_in(&app, "ann").await;
    let room = "msg-wake";
    let id = send_as(&app, &alice, room, "wake me").await;
    let poll = app
        .spawn_poll(&format!(
            "client_id=p&room={room}&last_message_id={id}&timeout=5"
        ))
        .await;
    let body = json!({"client_id": "s", "rooms": [{"room": room, "last_message_id": id}]});
    let stream = app.spawn(json_request(Method::POST, "/api/stream", body));
    app.until_held(2).await;
    ok(react(&app, Some(&alice), &id, "👀", true).await);
    let answer = ok(stream.await.unwrap());
    assert_eq!(answer["rooms"][0]["changes"][0]["emoji"], "👀");
    assert!(!poll.is_finished(), "a poll answers new messages only");
    let next = send_as(&app, &alice, room, "now").await;
    let answer = ok(poll.await.unwrap());
    assert_eq!(answer["messages"][0]["id"], next.as_str());
}

#[tokio::test]
async fn every_refusal_is_a_clear_4xx_and_changes_nothing() {
    let app = TestApp::new().await;
    let alice = signed_in(&app, "alice").await;
    let bob = signed_in(&app, "bob").await;
    let room = "msg-refusals";
    let id = send_as(&app, &alice, room, "mine").await;
    let guest = app.send(message(room, "guest", "a guest's")).await;
    let guest_id = guest.json["message_id"].as_str().unwrap().to_owned();
    let before = history(&app, None, room).await;

    assert_refused(
        &edit(&app, None, &id, "x").await,
        StatusCode::UNAUTHORIZED,
        "sign in",
    );
    assert_refused(
        &delete(&app, None, &id).await,
        StatusCode::UNAUTHORIZED,
        "sign in",
    );
    assert_refused(
        &react(&app, None, &id, "👍", true).await,
        StatusCode::UNAUTHORIZED,
        "sign in",
    );
    // A guest learns first that they may not, whatever else is wrong with the request.
    for answer in [
        react(&app, None, &id, "x", true).await,
        edit(&app, None, &id, " ").await,
    ] {
        assert_refused(&answer, StatusCode::UNAUTHORIZED, "sign in");
    }
    assert_refused(
        &edit(&app, Some(&bob), &id, "x").await,
        StatusCode::FORBIDDEN,
        "author",
    );
    assert_refused(
        &delete(&app, Some(&bob), &id).await,
        StatusCode::FORBIDDEN,
        "author",
    );
    // Nobody is a guest message's author: not even an account may edit it.
    assert_refused(
        &edit(&app, Some(&bob), &guest_id, "x").await,
        StatusCode::FORBIDDEN,
        "author",
    );
    let unknown = Uuid::now_v7().to_string();
    assert_refused(
        &edit(&app, Some(&alice), &unknown, "x").await,
        StatusCode::NOT_FOUND,
        "no such message",
    );
    assert_refused(
        &react(&app, Some(&alice), &unknown, "👍", true).await,
        StatusCode::NOT_FOUND,
        "no such message",
    );
    for bad_id in ["nope", "67e55044-10b1-426f-9247-bb680e5fe0c8"] {
        assert_refused(
            &edit(&app, Some(&alice), bad_id, "x").await,
            StatusCode::BAD_REQUEST,
            "message id",
        );
    }
    for not_one in ["x", "%F0%9F%91%8D%F0%9F%91%8D", ":+1:"] {
        assert_refused(
            &react(&app, Some(&bob), &id, not_one, true).await,
            StatusCode::BAD_REQUEST,
            "not an emoji",
        );
    }
    assert_refused(
        &edit(&app, Some(&alice), &id, " \n ").await,
        StatusCode::BAD_REQUEST,
        "text",
    );
    assert_refused(
        &edit(&app, Some(&alice), &id, &"x".repeat(4_001)).await,
        StatusCode::BAD_REQUEST,
        "4000",
    );
    let no_text = json_request(
        Method::PATCH,
        &format!("/api/messages/{id}"),
        json!({"txt": "x"}),
    );
    assert_refused(
        &app.call(bearer(no_text, &alice)).await,
        StatusCode::BAD_REQUEST,
        "text",
    );
    let not_json = axum::http::Request::builder()
        .method(Method::PATCH)
        .uri(format!("/api/messages/{id}"))
        .header("content-type", "text/plain")
        .body(axum::body::Body::from("x"))
        .unwrap();
    let not_json = bearer(not_json, &alice);
    assert_eq!(
        app.call(not_json).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(history(&app, None, room).await, before, "nothing changed");

    // A deleted message takes no edit and no reaction; deleting it again changes nothing.
    ok(delete(&app, Some(&alice), &id).await);
    let after_delete = history(&app, None, room).await;
    assert_refused(
        &edit(&app, Some(&alice), &id, "back").await,
        StatusCode::NOT_FOUND,
        "no such message",
    );
    assert_refused(
        &react(&app, Some(&bob), &id, "👍", true).await,
        StatusCode::NOT_FOUND,
        "no such message",
    );
    assert_eq!(ok(delete(&app, Some(&alice), &id).await)["deleted"], true);
    assert_eq!(history(&app, None, room).await, after_delete);
}

#[tokio::test]
async fn a_private_room_s_messages_are_changed_by_those_who_may_and_hidden_from_the_rest() {
    let app = TestApp::new().await;
    let owner = signed_in(&app, "olga").await;
    let member = signed_in(&app, "mona").await;
    let outsider = signed_in(&app, "otto").await;
    let room = "msg-private";
    private_room(&app, &owner, room, &["mona"]).await;
    let id = send_as(&app, &member, room, "member's").await;
    let before = history(&app, Some(&owner), room).await;
    // For an outsider the message does not exist, whatever they try.
    for answer in [
        edit(&app, Some(&outsider), &id, "x").await,
        delete(&app, Some(&outsider), &id).await,
        react(&app, Some(&outsider), &id, "👍", true).await,
    ] {
        assert_refused(&answer, StatusCode::NOT_FOUND, "no such message");
    }
    assert_eq!(history(&app, Some(&owner), room).await, before);
    // The owner may react, and delete a member's message, but not edit it.
    ok(react(&app, Some(&owner), &id, "👍", true).await);
    assert_refused(
        &edit(&app, Some(&owner), &id, "x").await,
        StatusCode::FORBIDDEN,
        "author",
    );
    ok(delete(&app, Some(&owner), &id).await);
    assert_eq!(history(&app, Some(&member), room).await[0]["deleted"], true);
}

#[tokio::test]
async fn a_token_naming_an_account_never_changes_that_account_s_messages() {
    let (setup, token) = jwt_setup();
    let app = TestApp::build(setup).await;
    let alice = signed_in(&app, "alice").await;
    let room = "msg-namesake";
    let id = send_as(&app, &alice, room, "the account's").await;
    let namesake = token("alice", &[], 60);
    let before = history(&app, None, room).await;
    assert_refused(
        &edit(&app, Some(&namesake), &id, "forged").await,
        StatusCode::FORBIDDEN,
        "author",
    );
    assert_refused(
        &delete(&app, Some(&namesake), &id).await,
        StatusCode::FORBIDDEN,
        "author",
    );
    assert_eq!(history(&app, None, room).await, before);
    // Its own messages are its own.
    let own = send_as(&app, &namesake, room, "the token's").await;
    assert_eq!(
        ok(edit(&app, Some(&namesake), &own, "edited").await)["author"],
        "token:alice"
    );
}

#[tokio::test]
async fn changes_survive_a_restart_on_sqlite() {
    let dir = TempDir::new().unwrap();
    let store = sqlite(&dir);
    let client = client();
    let server = Server::start(&store, "127.0.0.1:0");
    let call =
        |method: reqwest::Method, url: String, token: Option<String>, body: Option<Value>| {
            let client = client.clone();
            async move {
                let (status, json) =
                    process::call(&client, method, url, token.as_deref(), body).await;
                assert!(status.is_success(), "{status}: {json}");
                json
            }
        };
    let token = Some(sign_up_and_in(&client, &server, "rhea").await);
    let room = "msg-durable";
    let send = |text: &str| {
        call(
            reqwest::Method::POST,
            server.url("/api/send"),
            token.clone(),
            Some(json!({"room": room, "text": text})),
        )
    };
    let first = send("frist").await["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = send("second").await["message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        reqwest::Method::PATCH,
        server.url(&format!("/api/messages/{first}")),
        token.clone(),
        Some(json!({"text": "first"})),
    )
    .await;
    call(
        reqwest::Method::PUT,
        server.url(&format!("/api/messages/{first}/reactions/{THUMBS_UP}")),
        token.clone(),
        None,
    )
    .await;
    call(
        reqwest::Method::DELETE,
        server.url(&format!("/api/messages/{second}")),
        token.clone(),
        None,
    )
    .await;
    let history_url = server.url(&format!("/api/history?room={room}"));
    let before = call(reqwest::Method::GET, history_url, None, None).await;
    let addr = server.kill();

    let server = Server::start(&store, &addr.to_string());
    let after = call(
        reqwest::Method::GET,
        server.url(&format!("/api/history?room={room}")),
        None,
        None,
    )
    .await;
    assert_eq!(after, before);
    assert_eq!(after["messages"][0]["text"], "first");
    assert_eq!(after["messages"][0]["reactions"][0]["by"], json!(["rhea"]));
    assert_eq!(after["messages"][1]["deleted"], true);
    // Reactions are still one per person after the restart.
    let again = call(
        reqwest::Method::PUT,
        server.url(&format!("/api/messages/{first}/reactions/{THUMBS_UP}")),
        token.clone(),
        None,
    )
    .await;
    assert_eq!(again["reactions"][0]["count"], 1);
    let stats = call(reqwest::Method::GET, server.url("/api/stats"), None, None).await;
    assert_eq!(stats["total_messages"], 2, "changes are not messages");
}

#[tokio::test]
async fn changes_share_the_send_rate_limit_and_past_it_change_nothing() {
    let app = TestApp::with_send_limit(1).await;
    let alice = signed_in(&app, "alice").await;
    // The send takes the only token of the burst: a reaction right after is one too many.
    let id = send_as(&app, &alice, "msg-limited", "hi").await;
    let before = history(&app, None, "msg-limited").await;
    let refused = react(&app, Some(&alice), &id, "👍", true).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.json
    );
    assert_eq!(history(&app, None, "msg-limited").await, before);
}

#[tokio::test]
async fn toggling_a_reaction_past_the_rate_per_person_and_message_is_refused() {
    use longpoll_chat::server::{chat::ChatOptions, send_limit::ChangeLimiter};
    use std::num::NonZeroU32;

    let app = TestApp::build(Setup {
        chat: ChatOptions {
            change_limiter: Some(ChangeLimiter::per_minute(NonZeroU32::new(4).unwrap())),
            ..ChatOptions::default()
        },
        ..Setup::default()
    })
    .await;
    let alice = signed_in(&app, "alice").await;
    let bob = signed_in(&app, "bob").await;
    let id = send_as(&app, &alice, "msg-toggled", "toggle me").await;
    let other = send_as(&app, &alice, "msg-toggled", "another").await;
    for round in 0..4 {
        let answer = react(&app, Some(&bob), &id, "👍", round % 2 == 0).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    }
    let before = history(&app, None, "msg-toggled").await;
    let refused = react(&app, Some(&bob), &id, "👍", true).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.json
    );
    assert!(refused.header(axum::http::header::RETRY_AFTER).is_some());
    assert_eq!(history(&app, None, "msg-toggled").await, before);
    // Per person and message: bob's other message, and alice on this one, go on.
    let answer = react(&app, Some(&bob), &other, "👍", true).await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = react(&app, Some(&alice), &id, "👍", true).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn a_message_carries_at_most_twenty_different_emoji() {
    let app = TestApp::new().await;
    let alice = signed_in(&app, "alice").await;
    let id = send_as(&app, &alice, "msg-emoji", "react").await;
    let emoji: Vec<String> = (0..21)
        .map(|i| char::from_u32(0x1F600 + i).unwrap().to_string())
        .collect();
    for one in &emoji[..20] {
        let answer = react(&app, Some(&alice), &id, &urlencode(one), true).await;
        assert_eq!(answer.status, StatusCode::OK, "{one}: {}", answer.json);
    }
    let refused = react(&app, Some(&alice), &id, &urlencode(&emoji[20]), true).await;
    assert_refused(&refused, StatusCode::CONFLICT, "different reactions");
    // One of the twenty is still welcome from someone else.
    let bob = signed_in(&app, "bob").await;
    let answer = react(&app, Some(&bob), &id, &urlencode(&emoji[0]), true).await;
    assert_eq!(answer.status, StatusCode::OK);
}

fn urlencode(text: &str) -> String {
    text.bytes().map(|byte| format!("%{byte:02X}")).collect()
}
