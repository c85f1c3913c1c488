//! The chat page as the server renders it for each kind of visitor: a guest, a signed-in
//! user, a member and a stranger of a private room, and a visitor of a server without guests.
//! What the HTML holds is what a browser without JavaScript gets, and what hydration starts
//! from. The page in the browser is tested by end2end/.

use std::time::Duration;

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::json;

use crate::common::{
    accounts::{bearer, json_request, signed_in, with_cookie},
    app::{get, message, Reply, TestApp},
};

/// Renders `request` as a browser asks for a page, failing rather than hanging if the page
/// never finishes (a resource made anew on every render of a `Suspense` keeps the server
/// rendering forever).
async fn page(app: &TestApp, mut request: Request<Body>) -> Reply {
    request
        .headers_mut()
        .insert(header::ACCEPT, "text/html".parse().unwrap());
    tokio::time::timeout(Duration::from_secs(30), app.call_raw(request))
        .await
        .expect("the page finishes rendering")
}

/// `alice` owns the private room `hideout` (with `bob` in it, and one message); `carol` is
/// signed in too. Returns the three session tokens.
async fn private_room(app: &TestApp) -> [String; 3] {
    let [alice, bob, carol] = [
        signed_in(app, "alice").await,
        signed_in(app, "bob").await,
        signed_in(app, "carol").await,
    ];
    let create = json_request(
        Method::POST,
        "/api/rooms",
        json!({"name": "hideout", "private": true}),
    );
    assert_eq!(
        app.call(bearer(create, &alice)).await.status,
        StatusCode::CREATED
    );
    let add = json_request(Method::PUT, "/api/rooms/hideout/members/bob", json!({}));
    assert_eq!(app.call(bearer(add, &alice)).await.status, StatusCode::OK);
    let send = json_request(
        Method::POST,
        "/api/send",
        json!({"room": "hideout", "text": "the key is under the mat"}),
    );
    assert_eq!(app.call(bearer(send, &alice)).await.status, StatusCode::OK);
    [alice, bob, carol]
}

#[tokio::test]
async fn a_guest_gets_the_sign_in_form_and_a_name_field_and_no_private_room() {
    let app = TestApp::new().await;
    private_room(&app).await;
    let sent = app
        .send(message("general", "a guest", "hello from a guest"))
        .await;
    assert_eq!(sent.status, StatusCode::OK);

    let reply = page(&app, get("/")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text();
    assert!(html.contains("hello from a guest"), "{html}");
    assert!(html.contains(r#"action="/sfn/sign-in""#), "{html}");
    assert!(html.contains(r#"name="sender""#), "the guest picks a name");
    assert!(!html.contains("hideout"), "a private room is not listed");
    assert!(!html.contains("Signed in as"));
}

#[tokio::test]
async fn a_signed_in_page_sends_as_the_account_and_lists_its_private_rooms() {
    let app = TestApp::new().await;
    let [alice, ..] = private_room(&app).await;

    let reply = page(&app, with_cookie(get("/room/hideout"), &alice)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text();
    assert!(html.contains("Signed in as"), "{html}");
    assert!(html.contains("the key is under the mat"));
    assert!(
        !html.contains(r#"name="sender""#),
        "the server stamps the name"
    );
    assert!(html.contains(r#"aria-label="private""#), "the lock mark");
    // The owner sees the members and the form that adds them.
    assert!(html.contains(r#"aria-label="Members: 2""#), "{html}");
    assert!(html.contains(r#"action="/sfn/add-member""#));
}

#[tokio::test]
async fn a_member_sees_the_room_but_may_not_add_members() {
    let app = TestApp::new().await;
    let [_, bob, _] = private_room(&app).await;

    let html = page(&app, with_cookie(get("/room/hideout"), &bob)).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.text().contains("the key is under the mat"));
    assert!(html.text().contains(r#"aria-label="Members: 2""#));
    assert!(!html.text().contains(r#"action="/sfn/add-member""#));
    assert!(
        html.text().contains(r#"aria-label="Leave bob""#),
        "a member may leave"
    );
}

#[tokio::test]
async fn a_stranger_or_a_guest_learns_nothing_of_a_private_room() {
    let app = TestApp::new().await;
    let [_, _, carol] = private_room(&app).await;

    for request in [
        with_cookie(get("/room/hideout"), &carol),
        get("/room/hideout"),
    ] {
        let reply = page(&app, request).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        let html = reply.text();
        assert!(
            html.contains("This room is private or no longer exists"),
            "{html}"
        );
        for secret in ["the key is under the mat", "Members"] {
            assert!(!html.contains(secret), "{secret} leaked: {html}");
        }
        // Names as the page would show or carry them (not inside other words: "combobox").
        for name in ["alice", "bob"] {
            for shown in [
                format!(">{name}<"),
                format!("\"{name}\""),
                format!("\\\"{name}\\\""),
            ] {
                assert!(!html.contains(&shown), "{shown} leaked: {html}");
            }
        }
        assert!(!html.contains(r#"action="/sfn/send""#), "no composer");
    }
}

#[tokio::test]
async fn without_guests_every_room_sends_a_visitor_to_sign_in_and_back() {
    let app = TestApp::without_guests().await;
    let alice = signed_in(&app, "alice").await;
    let send = json_request(
        Method::POST,
        "/api/send",
        json!({"room": "staff", "text": "members only"}),
    );
    assert_eq!(app.call(bearer(send, &alice)).await.status, StatusCode::OK);

    for (path, back_to) in [("/", "/room/general"), ("/room/staff", "/room/staff")] {
        let reply = page(&app, get(path)).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{path}");
        assert_eq!(
            reply.header(header::LOCATION),
            Some(format!("/sign-in?next={back_to}").as_str())
        );
        assert!(!reply.text().contains("members only"));
    }
    let sign_in = page(&app, get("/sign-in?next=/room/staff")).await;
    assert_eq!(sign_in.status, StatusCode::OK);
    assert!(sign_in.text().contains(r#"action="/sfn/sign-in""#));

    // Signed in, the sign-in page sends the user back: to a page of the chat only.
    for (next, back_to) in [
        ("/room/staff", "/room/staff"),
        ("https://evil.example/", "/"),
        ("//evil.example/room/x", "/"),
        ("/room/..%2F..%2Fevil", "/"),
    ] {
        let request = with_cookie(get(&format!("/sign-in?next={next}")), &alice);
        let reply = page(&app, request).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{next}");
        assert_eq!(reply.header(header::LOCATION), Some(back_to), "{next}");
    }
    let room = page(&app, with_cookie(get("/room/staff"), &alice)).await;
    assert_eq!(room.status, StatusCode::OK);
    assert!(room.text().contains("members only"));
}

#[tokio::test]
async fn the_search_results_page_links_each_hit_to_its_room_at_the_message_and_loads_no_code() {
    let app = TestApp::new().await;
    private_room(&app).await;
    let sent = app
        .send(message("general", "gus", "the key to the garden"))
        .await;
    let id = sent.json["message_id"].as_str().unwrap().to_owned();
    app.send(message("general", "gus", "nothing to find")).await;

    let reply = page(&app, get("/search?q=key")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text();
    assert!(html.contains("<mark>key"), "{html}");
    assert!(
        html.contains(&format!(r#"href="/room/general?at={id}""#)),
        "{html}"
    );
    assert!(!html.contains("nothing to find"));
    assert!(
        !html.contains("under the mat"),
        "a guest finds no private room's message"
    );
    assert!(
        !html.contains(r#"type="module""#) && !html.contains(".wasm"),
        "the results page loads no code: {html}"
    );

    // The query comes back as text, never as markup.
    let reply = page(&app, get("/search?q=%3Cb%3Ebold")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text().contains("“&lt;b&gt;bold”"), "{}", reply.text());

    let reply = page(&app, get("/search?q=%22open")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.text().contains("closing quote"), "{}", reply.text());
}

#[tokio::test]
async fn a_room_opened_at_a_message_highlights_it_among_its_neighbours() {
    let app = TestApp::new().await;
    app.send_ok("general", "before it").await;
    let id = app.send_ok("general", "the one").await;
    app.send_ok("general", "after it").await;

    let reply = page(&app, get(&format!("/room/general?at={id}"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text();
    let highlighted = html.find("highlight").expect("a highlighted message");
    let (before, after) = (
        html.find("before it").unwrap(),
        html.find("after it").unwrap(),
    );
    let one = html.find("the one").unwrap();
    assert!(
        before < highlighted && highlighted < one && one < after,
        "{html}"
    );
    assert_eq!(html.matches("highlight").count(), 1, "{html}");
    // The room's end is shown: no way back to it is needed.
    assert!(!html.contains("Jump to latest"));

    let unknown = uuid::Uuid::now_v7();
    let reply = page(&app, get(&format!("/room/general?at={unknown}"))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

/// `alice` starts the direct room of `bob` and her, and mentions him there and in `general`;
/// `carol` is signed in too. Returns the room's name and the three session tokens.
async fn direct_room(app: &TestApp) -> (String, [String; 3]) {
    let [alice, bob, carol] = [
        signed_in(app, "alice").await,
        signed_in(app, "bob").await,
        signed_in(app, "carol").await,
    ];
    let start = json_request(Method::POST, "/api/dms", json!({"with": ["bob"]}));
    let started = app.call(bearer(start, &alice)).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.json);
    let room = started.json["name"].as_str().unwrap().to_owned();
    for (room, text) in [
        (room.as_str(), "psst, bob"),
        ("general", "@bob look at this"),
    ] {
        let send = json_request(
            Method::POST,
            "/api/send",
            json!({"room": room, "text": text}),
        );
        assert_eq!(app.call(bearer(send, &alice)).await.status, StatusCode::OK);
    }
    (room, [alice, bob, carol])
}

#[tokio::test]
async fn a_direct_room_is_listed_and_headed_by_its_people_never_by_its_name() {
    let app = TestApp::new().await;
    let (room, [_, bob, carol]) = direct_room(&app).await;

    let reply = page(&app, with_cookie(get(&format!("/room/{room}")), &bob)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text();
    assert!(html.contains("psst, bob"), "{html}");
    assert!(html.contains(">Direct messages<"), "{html}");
    assert!(html.contains(r#"<span class="room-name">alice<"#), "{html}");
    assert!(html.contains("<h1>alice<"), "{html}");
    assert!(html.contains(r#"placeholder="Message alice""#), "{html}");
    assert!(
        html.contains("<title>Direct message · longpoll-chat</title>"),
        "{html}"
    );
    // The name is in the addresses only, never shown.
    for shown in [format!(">{room}<"), format!("#{room}"), format!("{room} ·")] {
        assert!(!html.contains(&shown), "{shown} shown: {html}");
    }
    // Starting another one needs no code: a form posting to the server function.
    assert!(html.contains(r#"action="/sfn/direct-room""#), "{html}");
    assert!(html.contains(r#"name="with[0]""#), "{html}");

    // Someone else's direct room is not theirs to see; a guest has no direct messages.
    let reply = page(&app, with_cookie(get(&format!("/room/{room}")), &carol)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(!reply.text().contains("psst"));
    let reply = page(&app, get("/")).await;
    assert!(!reply.text().contains("Direct messages"));
    assert!(!reply.text().contains("/sfn/direct-room"));
}

#[tokio::test]
async fn the_new_message_form_opens_the_direct_room_it_made() {
    let app = TestApp::new().await;
    let (room, [alice, ..]) = direct_room(&app).await;

    let post = Request::post("/sfn/direct-room")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::REFERER, "http://localhost/room/general")
        .body(Body::from("with%5B0%5D=bob"))
        .unwrap();
    let reply = app.call_raw(with_cookie(post, &alice)).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text());
    assert_eq!(
        reply.header(header::LOCATION),
        Some(format!("/room/{room}").as_str())
    );
}

#[tokio::test]
async fn a_message_that_mentions_the_reader_is_marked_for_them_only() {
    let app = TestApp::new().await;
    let (_, [alice, bob, _]) = direct_room(&app).await;

    let reply = page(&app, with_cookie(get("/room/general"), &bob)).await;
    let html = reply.text();
    assert!(html.contains("@bob look at this"), "{html}");
    assert_eq!(html.matches("mentions-me").count(), 1, "{html}");
    let reply = page(&app, with_cookie(get("/room/general"), &alice)).await;
    assert!(!reply.text().contains("mentions-me"), "{}", reply.text());
}

#[tokio::test]
async fn every_page_links_the_web_app_manifest() {
    let app = TestApp::new().await;
    for path in ["/", "/sign-in", "/search?q=x"] {
        let reply = page(&app, get(path)).await;
        let html = reply.text();
        assert!(
            html.contains(r#"<link rel="manifest" href="/manifest.webmanifest">"#),
            "{path}: {html}"
        );
    }
}
