//! Who is talking and who may read, through the whole app: accounts and sessions, stamped
//! senders, guests, private rooms and their members, per-user send limits, and refusals of
//! cross-site changes. Every refusal is checked to change nothing.

use std::num::NonZeroU32;

use axum::http::{header, Method, StatusCode};
use longpoll_chat::{
    model::{AccountName, Password},
    server::{identity::IdentityConfig, HttpConfig},
};
use serde_json::{json, Value};

use crate::common::{
    accounts::{
        assert_refused, bearer, credentials, empty_request, json_request, jwt_setup, private_room,
        sign_up, signed_in,
    },
    app::{get, message, post, send_limit, send_request, Setup, TestApp},
    eventually,
};

#[tokio::test]
async fn an_account_signs_up_in_and_out_and_its_token_then_stops_working() {
    let app = TestApp::new().await;
    let created = sign_up(&app, "Alice").await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json, json!({"name": "Alice"}));

    // Any letter case signs in; the answer has the token, the name as created, and a cookie.
    let body = credentials("alice", "correct horse battery");
    let session = app
        .call(json_request(Method::POST, "/api/sessions", body))
        .await;
    assert_eq!(session.status, StatusCode::CREATED);
    let token = session.json["token"].as_str().unwrap();
    assert!(token.starts_with("lpc_") && token.len() >= 40, "{token}");
    assert_eq!(session.json["name"], "Alice");
    assert!(session.json["expires_at"].as_f64().unwrap() > 0.0);
    let cookie = session.header(header::SET_COOKIE).unwrap();
    assert!(
        cookie.starts_with(&format!("lpc_session={token};")),
        "{cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");

    let me = app.call(bearer(get("/api/me"), token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["name"], "Alice");
    assert_eq!(me.json["via"], "session");
    // The cookie proves the same.
    let mut by_cookie = get("/api/me");
    by_cookie.headers_mut().insert(
        header::COOKIE,
        format!("theme=dark; lpc_session={token}").parse().unwrap(),
    );
    assert_eq!(app.call(by_cookie).await.json["name"], "Alice");

    let out = app
        .call(bearer(
            empty_request(Method::DELETE, "/api/sessions/current"),
            token,
        ))
        .await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(out.json, json!({"status": "signed_out"}));
    assert!(out
        .header(header::SET_COOKIE)
        .unwrap()
        .contains("Max-Age=0"));
    let after = app.call(bearer(get("/api/me"), token)).await;
    assert_refused(&after, StatusCode::UNAUTHORIZED, "token");
    let send = app
        .call(bearer(send_request(json!({"text": "hi"})), token))
        .await;
    assert_refused(&send, StatusCode::UNAUTHORIZED, "token");
}

#[tokio::test]
async fn bad_sign_ups_and_sign_ins_are_refused_alike_and_change_nothing() {
    let app = TestApp::new().await;
    assert_eq!(sign_up(&app, "bob").await.status, StatusCode::CREATED);
    let attempt = |body: Value, uri: &'static str| json_request(Method::POST, uri, body);
    for (body, detail) in [
        (credentials("", "long enough"), "name must be"),
        (credentials("has space", "long enough"), "name must be"),
        (credentials("-dash", "long enough"), "name must be"),
        (credentials(&"x".repeat(33), "long enough"), "name must be"),
        (credentials("carol", "short"), "at least 8"),
        (json!({"name": "carol"}), "missing field `password`"),
        (json!(["carol", "long enough"]), "expected a map"),
    ] {
        let answer = app.call(attempt(body, "/api/accounts")).await;
        assert_refused(&answer, StatusCode::BAD_REQUEST, detail);
    }
    // Taken in any letter case.
    let taken = app
        .call(attempt(
            credentials("BOB", "another password"),
            "/api/accounts",
        ))
        .await;
    assert_refused(&taken, StatusCode::CONFLICT, "taken");

    // A wrong password and an unknown name get the same answer.
    let wrong_password = app
        .call(attempt(
            credentials("bob", "not the password"),
            "/api/sessions",
        ))
        .await;
    let unknown_name = app
        .call(attempt(
            credentials("nobody", "not the password"),
            "/api/sessions",
        ))
        .await;
    assert_refused(
        &wrong_password,
        StatusCode::UNAUTHORIZED,
        "wrong name or password",
    );
    assert_eq!(wrong_password.json, unknown_name.json);
    assert!(wrong_password.header(header::SET_COOKIE).is_none());
    // Neither answer nor anything else says the password.
    assert!(!wrong_password.json.to_string().contains("not the password"));

    let me = app.get("/api/me").await;
    assert_refused(&me, StatusCode::UNAUTHORIZED, "sign in");
    let garbage = app.call(bearer(get("/api/me"), "lpc_made-up")).await;
    assert_refused(&garbage, StatusCode::UNAUTHORIZED, "token");
    let mut basic = get("/api/me");
    basic
        .headers_mut()
        .insert(header::AUTHORIZATION, "Basic Ym9iOnB3".parse().unwrap());
    assert_refused(&app.call(basic).await, StatusCode::UNAUTHORIZED, "Bearer");
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_name() {
    let app = TestApp::build(Setup {
        identity: IdentityConfig {
            sign_in_per_name: NonZeroU32::new(3).unwrap(),
            ..IdentityConfig::default()
        },
        ..Setup::default()
    })
    .await;
    assert_eq!(sign_up(&app, "dave").await.status, StatusCode::CREATED);
    let attempt = || {
        json_request(
            Method::POST,
            "/api/sessions",
            credentials("Dave", "guessing wrong"),
        )
    };
    for _ in 0..3 {
        assert_eq!(app.call(attempt()).await.status, StatusCode::UNAUTHORIZED);
    }
    let limited = app.call(attempt()).await;
    assert_refused(
        &limited,
        StatusCode::TOO_MANY_REQUESTS,
        "too many sign-in attempts",
    );
    assert!(limited.header(header::RETRY_AFTER).is_some());
    // Even the right password waits now.
    let right = json_request(
        Method::POST,
        "/api/sessions",
        credentials("dave", "correct horse battery"),
    );
    assert_eq!(app.call(right).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn signed_in_senders_are_stamped_and_cannot_be_forged() {
    let app = TestApp::new().await;
    let token = signed_in(&app, "Erin").await;

    // No sender: stamped with the account's name; naming yourself in another case is fine.
    for body in [
        json!({"room": "stamped", "text": "one"}),
        json!({"room": "stamped", "sender": "erin", "text": "two"}),
    ] {
        let sent = app.call(bearer(send_request(body), &token)).await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.json);
    }
    let forged = app
        .call(bearer(
            send_request(message("stamped", "frank", "three")),
            &token,
        ))
        .await;
    assert_refused(&forged, StatusCode::FORBIDDEN, "signed in as Erin");
    assert_refused(&forged, StatusCode::FORBIDDEN, r#"not "frank""#);

    // A guest may not use an account's name, in any letter case.
    for name in ["Erin", "ERIN", " erin "] {
        let guest = app.send(message("stamped", name, "as a guest")).await;
        let said = format!(r#""{}" is an account's name"#, name.trim());
        assert_refused(&guest, StatusCode::FORBIDDEN, &said);
    }
    let guest = app
        .send(message("stamped", "Erin the guest", "hello"))
        .await;
    assert_eq!(guest.status, StatusCode::OK);
    let missing = app.send(json!({"room": "stamped", "text": "who?"})).await;
    assert_refused(&missing, StatusCode::BAD_REQUEST, "sender");

    let history = app.get("/api/history?room=stamped").await;
    let seen: Vec<(Value, Value)> = history.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["sender"].clone(), m["verified"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (json!("Erin"), json!(true)),
            (json!("Erin"), json!(true)),
            (json!("Erin the guest"), json!(false)),
        ]
    );
}

#[tokio::test]
async fn without_guests_everything_but_signing_up_and_in_needs_an_identity() {
    let app = TestApp::without_guests().await;
    for request in [
        get("/api/poll?client_id=c&timeout=5"),
        get("/api/history"),
        get("/api/stats"),
        get("/api/rooms"),
        send_request(message("general", "guest", "hi")),
        empty_request(Method::DELETE, "/api/client/c"),
    ] {
        let uri = request.uri().to_string();
        let answer = app.call(request).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{uri}: {}",
            answer.json
        );
    }
    let token = signed_in(&app, "gina").await;
    let sent = app
        .call(bearer(
            send_request(json!({"text": "members only"})),
            &token,
        ))
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    let stats = app.call(bearer(get("/api/stats"), &token)).await;
    assert_eq!(stats.json["rooms"], json!(["general"]));
    assert_eq!(app.get("/health").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_private_room_does_not_exist_for_others_until_they_are_invited() {
    let app = TestApp::new().await;
    let owner = signed_in(&app, "hana").await;
    let other = signed_in(&app, "ivan").await;
    let create = |private: bool| {
        json_request(
            Method::POST,
            "/api/rooms",
            json!({"name": "secret", "private": private}),
        )
    };

    // Guests cannot own rooms.
    assert_refused(
        &app.call(create(true)).await,
        StatusCode::UNAUTHORIZED,
        "sign in",
    );
    let created = app.call(bearer(create(true), &owner)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    assert_eq!(
        created.json,
        json!({"name": "secret", "private": true, "owner": "hana"})
    );
    assert_refused(
        &app.call(bearer(create(true), &other)).await,
        StatusCode::CONFLICT,
        "exists",
    );
    assert_refused(
        &app.call(create(false)).await,
        StatusCode::CONFLICT,
        "exists",
    );
    let sent = app
        .call(bearer(
            send_request(json!({"room": "secret", "text": "psst"})),
            &owner,
        ))
        .await;
    assert_eq!(sent.status, StatusCode::OK);

    // Guests and other users: 404 everywhere, and nothing in stats or the room list.
    let outsiders: [Option<&str>; 2] = [None, Some(&other)];
    for who in outsiders {
        let as_who = |request| match who {
            Some(token) => bearer(request, token),
            None => request,
        };
        for request in [
            get("/api/poll?client_id=x&room=secret&timeout=5"),
            get("/api/history?room=secret"),
            get("/api/rooms/secret/members"),
            send_request(message("secret", "intruder", "let me in")),
        ] {
            let uri = request.uri().to_string();
            let answer = app.call(as_who(request)).await;
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{uri}: {}",
                answer.json
            );
            assert_eq!(answer.json["detail"], "no such room");
        }
        let stats = app.call(as_who(get("/api/stats"))).await;
        assert!(!stats.json["rooms"].to_string().contains("secret"));
        assert_eq!(stats.json["total_messages"], 0);
        let rooms = app.call(as_who(get("/api/rooms"))).await;
        assert!(!rooms.json.to_string().contains("secret"), "{}", rooms.json);
    }
    let delete = empty_request(Method::DELETE, "/api/rooms/secret");
    assert_refused(
        &app.call(bearer(delete, &other)).await,
        StatusCode::NOT_FOUND,
        "no such room",
    );
    // Only the owner adds members, and only accounts.
    let invite =
        |name: &str| empty_request(Method::PUT, &format!("/api/rooms/secret/members/{name}"));
    assert_refused(
        &app.call(bearer(invite("nobody"), &owner)).await,
        StatusCode::NOT_FOUND,
        "no such account",
    );
    let invited = app.call(bearer(invite("Ivan"), &owner)).await;
    assert_eq!(invited.status, StatusCode::OK);
    assert_eq!(
        invited.json,
        json!({"room": "secret", "owner": "hana", "members": ["ivan"]})
    );

    let history = app
        .call(bearer(get("/api/history?room=secret"), &other))
        .await;
    assert_eq!(history.json["messages"][0]["text"], "psst");
    let rooms = app.call(bearer(get("/api/rooms"), &other)).await;
    assert_eq!(
        rooms.json["rooms"],
        json!([{"name": "secret", "private": true, "owner": "hana"}])
    );
    // A member may not invite or delete.
    assert_refused(
        &app.call(bearer(invite("hana"), &other)).await,
        StatusCode::FORBIDDEN,
        "owner",
    );
    let delete = app
        .call(bearer(
            empty_request(Method::DELETE, "/api/rooms/secret"),
            &other,
        ))
        .await;
    assert_refused(&delete, StatusCode::FORBIDDEN, "owner");
}

#[tokio::test]
async fn removing_a_member_ends_their_held_poll_at_once_and_then_they_see_nothing() {
    let app = TestApp::new().await;
    let owner = signed_in(&app, "jo").await;
    let member = signed_in(&app, "kim").await;
    let create = json_request(
        Method::POST,
        "/api/rooms",
        json!({"name": "club", "private": true}),
    );
    assert_eq!(
        app.call(bearer(create, &owner)).await.status,
        StatusCode::CREATED
    );
    let invite = empty_request(Method::PUT, "/api/rooms/club/members/kim");
    assert_eq!(
        app.call(bearer(invite, &owner)).await.status,
        StatusCode::OK
    );

    let held = app.broker.held_polls();
    let poll = app.spawn(bearer(
        get("/api/poll?client_id=kim-tab&room=club&timeout=30"),
        &member,
    ));
    let owner_poll = app.spawn(bearer(
        get("/api/poll?client_id=jo-tab&room=club&timeout=30"),
        &owner,
    ));
    app.until_held(held + 2).await;

    let remove = empty_request(Method::DELETE, "/api/rooms/club/members/kim");
    let removed = app.call(bearer(remove, &owner)).await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(removed.json["members"], json!([]));
    let answer = poll.await.unwrap();
    assert_eq!(answer.json["status"], "disconnected");
    let again = empty_request(Method::DELETE, "/api/rooms/club/members/kim");
    assert_refused(
        &app.call(bearer(again, &owner)).await,
        StatusCode::NOT_FOUND,
        "no such member",
    );
    // The owner's poll is still held, and gets the next message; the removed member gets 404.
    app.until_held(held + 1).await;
    let sent = app
        .call(bearer(
            send_request(json!({"room": "club", "text": "just us"})),
            &owner,
        ))
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    assert_eq!(
        owner_poll.await.unwrap().json["messages"][0]["text"],
        "just us"
    );
    let again = app
        .call(bearer(
            get("/api/poll?client_id=kim-tab&room=club&timeout=5"),
            &member,
        ))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_a_private_room_deletes_its_messages_and_ends_its_polls() {
    let app = TestApp::new().await;
    let owner = signed_in(&app, "lee").await;
    let create = || {
        json_request(
            Method::POST,
            "/api/rooms",
            json!({"name": "gone", "private": true}),
        )
    };
    assert_eq!(
        app.call(bearer(create(), &owner)).await.status,
        StatusCode::CREATED
    );
    let sent = app
        .call(bearer(
            send_request(json!({"room": "gone", "text": "soon gone"})),
            &owner,
        ))
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    let held = app.broker.held_polls();
    let poll = app.spawn(bearer(
        get("/api/poll?client_id=lee&room=gone&timeout=30"),
        &owner,
    ));
    app.until_held(held + 1).await;

    let deleted = app
        .call(bearer(
            empty_request(Method::DELETE, "/api/rooms/gone"),
            &owner,
        ))
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.json, json!({"status": "deleted", "room": "gone"}));
    assert_eq!(poll.await.unwrap().json["status"], "disconnected");
    // The name is free, and whatever uses it now starts empty: the old messages are gone.
    let history = app.get("/api/history?room=gone").await;
    assert_eq!(history.status, StatusCode::OK);
    assert_eq!(history.json["messages"], json!([]));
    assert_eq!(
        app.call(bearer(create(), &owner)).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn send_limits_count_per_user_not_per_shared_address() {
    let app = TestApp::with_send_limit(1).await;
    // In-process requests all come from one address, like users behind one proxy.
    let first = signed_in(&app, "nell").await;
    let second = signed_in(&app, "otto").await;
    let send = |token: &str| bearer(send_request(json!({"room": "busy", "text": "hi"})), token);
    assert_eq!(app.call(send(&first)).await.status, StatusCode::OK);
    assert_eq!(app.call(send(&second)).await.status, StatusCode::OK);
    assert_eq!(
        app.call(send(&first)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Guests share their address's bucket, apart from the users'.
    assert_eq!(
        app.send(message("busy", "g", "one")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.send(message("busy", "g", "two")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn another_sites_form_cannot_change_anything_even_with_the_users_cookie() {
    let app = TestApp::new().await;
    let token = signed_in(&app, "pia").await;
    let cross_site = |uri: &str, body: &'static str| {
        let mut request = post(uri, Some("application/x-www-form-urlencoded"), body);
        let headers = request.headers_mut();
        headers.insert(header::HOST, "chat.example".parse().unwrap());
        headers.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        headers.insert(
            header::COOKIE,
            format!("lpc_session={token}").parse().unwrap(),
        );
        request
    };
    for (uri, body) in [
        ("/sfn/send", "room=general&text=forged"),
        ("/sfn/sign-out", ""),
        ("/sfn/create-room", "name=evil"),
    ] {
        let answer = app.call(cross_site(uri, body)).await;
        assert_refused(&answer, StatusCode::FORBIDDEN, "cross-site");
    }
    let json_send = {
        let mut request = send_request(json!({"text": "forged"}));
        request
            .headers_mut()
            .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        request
    };
    assert_eq!(app.call(json_send).await.status, StatusCode::FORBIDDEN);
    // Nothing happened: no message, and the session still works.
    assert_eq!(app.get("/api/history").await.json["messages"], json!([]));
    assert_eq!(
        app.call(bearer(get("/api/me"), &token)).await.status,
        StatusCode::OK
    );
    // The app's own page may.
    let mut own = post(
        "/sfn/send",
        Some("application/x-www-form-urlencoded"),
        "room=general&text=mine",
    );
    let headers = own.headers_mut();
    headers.insert(header::HOST, "chat.example".parse().unwrap());
    headers.insert(header::ORIGIN, "http://chat.example".parse().unwrap());
    headers.insert(
        header::COOKIE,
        format!("lpc_session={token}").parse().unwrap(),
    );
    let reply = app.call_raw(own).await;
    assert!(
        reply.status.is_success() || reply.status.is_redirection(),
        "{}",
        reply.status
    );
    assert_eq!(
        app.get("/api/history").await.json["messages"][0]["sender"],
        "pia"
    );
}

#[tokio::test]
async fn another_sites_tokens_let_their_holders_in_and_into_the_rooms_they_name_only() {
    let (setup, token) = jwt_setup();
    let app = TestApp::build(setup).await;
    let owner = signed_in(&app, "uma").await;
    for room in ["named", "unnamed"] {
        let create = json_request(
            Method::POST,
            "/api/rooms",
            json!({"name": room, "private": true}),
        );
        assert_eq!(
            app.call(bearer(create, &owner)).await.status,
            StatusCode::CREATED
        );
    }
    let holder = token("Vera", &["named"], 600);
    let me = app.call(bearer(get("/api/me"), &holder)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.json);
    assert_eq!(
        (&me.json["name"], &me.json["via"]),
        (&json!("Vera"), &json!("token"))
    );

    let sent = app
        .call(bearer(
            send_request(json!({"room": "named", "text": "from the other site"})),
            &holder,
        ))
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.json);
    let history = app
        .call(bearer(get("/api/history?room=named"), &owner))
        .await;
    let message = &history.json["messages"][0];
    assert_eq!(
        (&message["sender"], &message["verified"]),
        (&json!("Vera"), &json!(true))
    );
    let other = app
        .call(bearer(get("/api/history?room=unnamed"), &holder))
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    // That site's "uma" is not this server's account uma: no way into uma's rooms.
    let namesake = token("uma", &[], 600);
    let theirs = app
        .call(bearer(get("/api/history?room=unnamed"), &namesake))
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let create = json_request(
        Method::POST,
        "/api/rooms",
        json!({"name": "mine", "private": true}),
    );
    assert_refused(
        &app.call(bearer(create, &holder)).await,
        StatusCode::FORBIDDEN,
        "account",
    );

    // A token naming uma's room, for that site's "uma": it may read and send there, but it is
    // not the owner, nor a member who could leave: no owner's or member's change is its.
    signed_in(&app, "wes").await;
    private_room(&app, &owner, "ownership", &["wes"]).await;
    let namesake = token("uma", &["ownership"], 600);
    let reads = app
        .call(bearer(get("/api/history?room=ownership"), &namesake))
        .await;
    assert_eq!(reads.status, StatusCode::OK, "{}", reads.json);
    let wes_namesake = token("wes", &["ownership"], 600);
    for (request, holder) in [
        (
            empty_request(Method::DELETE, "/api/rooms/ownership"),
            &namesake,
        ),
        (
            empty_request(Method::PUT, "/api/rooms/ownership/members/vera"),
            &namesake,
        ),
        (
            empty_request(Method::DELETE, "/api/rooms/ownership/members/wes"),
            &namesake,
        ),
        (
            empty_request(Method::DELETE, "/api/rooms/ownership/members/wes"),
            &wes_namesake,
        ),
    ] {
        assert_refused(
            &app.call(bearer(request, holder)).await,
            StatusCode::FORBIDDEN,
            "owner",
        );
    }
    let members = app
        .call(bearer(get("/api/rooms/ownership/members"), &owner))
        .await;
    assert_eq!(members.json["members"], json!(["wes"]), "{}", members.json);

    // Expired, badly signed and malformed tokens: 401, saying why but never echoing them.
    let expired = token("Vera", &[], -120);
    let mut forged = token("Vera", &["unnamed"], 600);
    forged.replace_range(forged.len() - 4.., "AAAA");
    for (bad, why) in [
        (expired, "expired"),
        (forged, "signature"),
        ("a.b.c".to_owned(), "malformed"),
    ] {
        let answer = app.call(bearer(get("/api/me"), &bad)).await;
        assert_refused(&answer, StatusCode::UNAUTHORIZED, why);
        assert!(!answer.json.to_string().contains(&bad));
    }
    // Clock skew within the leeway is tolerated.
    let just_expired = token("Vera", &[], -5);
    assert_eq!(
        app.call(bearer(get("/api/me"), &just_expired)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn only_trusted_proxies_name_the_client_for_guest_send_limits() {
    let app = TestApp::build(Setup {
        chat: send_limit(1),
        // In-process requests come from 0.0.0.0, standing for the proxy here.
        http: HttpConfig {
            trusted_proxies: "0.0.0.0".parse().unwrap(),
            ..HttpConfig::default()
        },
        ..Setup::default()
    })
    .await;
    let from = |client: &str, text: &str| {
        let mut request = send_request(message("proxied", "guest", text));
        request
            .headers_mut()
            .insert("x-forwarded-for", client.parse().unwrap());
        request
    };
    assert_eq!(
        app.call(from("203.0.113.1", "a")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(from("203.0.113.2", "b")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(from("203.0.113.1", "c")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // An untrusted peer's header is ignored: every guest shares the peer's bucket.
    let untrusted = TestApp::with_send_limit(1).await;
    assert_eq!(
        untrusted.call(from("203.0.113.1", "a")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        untrusted.call(from("203.0.113.2", "b")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn behind_https_the_session_cookie_is_secure() {
    let app = TestApp::build(Setup {
        identity: IdentityConfig {
            https: true,
            ..IdentityConfig::default()
        },
        ..Setup::default()
    })
    .await;
    assert_eq!(sign_up(&app, "wes").await.status, StatusCode::CREATED);
    let body = credentials("wes", "correct horse battery");
    let session = app
        .call(json_request(Method::POST, "/api/sessions", body))
        .await;
    let cookie = session.header(header::SET_COOKIE).unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
}

/// An app whose requests name their client in `X-Forwarded-For` (in-process requests come
/// from 0.0.0.0, standing for a trusted proxy), with `identity`.
async fn behind_a_proxy(identity: IdentityConfig) -> TestApp {
    TestApp::build(Setup {
        identity,
        http: HttpConfig {
            trusted_proxies: "0.0.0.0".parse().unwrap(),
            ..HttpConfig::default()
        },
        ..Setup::default()
    })
    .await
}

/// `POST uri` with `name` and `password`, from the client `address`.
fn attempt_from(
    uri: &str,
    address: &str,
    name: &str,
    password: &str,
) -> axum::http::Request<axum::body::Body> {
    let mut request = json_request(Method::POST, uri, credentials(name, password));
    request
        .headers_mut()
        .insert("x-forwarded-for", address.parse().unwrap());
    request
}

#[tokio::test]
async fn sign_ins_refused_for_their_address_do_not_lock_the_account() {
    let app = behind_a_proxy(IdentityConfig {
        sign_in_per_name: NonZeroU32::new(3).unwrap(),
        sign_in_per_address: NonZeroU32::new(2).unwrap(),
        ..IdentityConfig::default()
    })
    .await;
    assert_eq!(sign_up(&app, "victim").await.status, StatusCode::CREATED);
    let attacker = |password| attempt_from("/api/sessions", "203.0.113.66", "victim", password);
    for i in 0..12 {
        let answer = app.call(attacker("guessing wrong")).await;
        if i < 2 {
            assert_refused(&answer, StatusCode::UNAUTHORIZED, "wrong name or password");
        } else {
            assert_refused(
                &answer,
                StatusCode::TOO_MANY_REQUESTS,
                "too many sign-in attempts",
            );
            assert!(answer.header(header::RETRY_AFTER).is_some());
        }
    }
    // The attacker's address spent two of the account's three attempts, no more: its owner
    // signs in from anywhere else.
    let owner = attempt_from(
        "/api/sessions",
        "198.51.100.7",
        "victim",
        "correct horse battery",
    );
    let answer = app.call(owner).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json);
}

#[tokio::test]
async fn a_sign_up_flood_from_one_address_is_refused_past_its_limit() {
    let app = behind_a_proxy(IdentityConfig {
        sign_up_per_address: NonZeroU32::new(3).unwrap(),
        ..IdentityConfig::default()
    })
    .await;
    let sign_up_from = |address: &str, name: &str| {
        attempt_from("/api/accounts", address, name, "correct horse battery")
    };
    for i in 0..3 {
        let answer = app
            .call(sign_up_from("203.0.113.5", &format!("flood{i}")))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json);
    }
    for i in 3..6 {
        let answer = app
            .call(sign_up_from("203.0.113.5", &format!("flood{i}")))
            .await;
        assert_refused(&answer, StatusCode::TOO_MANY_REQUESTS, "too many sign-ups");
        let retry_after: u64 = answer.header(header::RETRY_AFTER).unwrap().parse().unwrap();
        assert!(retry_after >= 1, "{retry_after}");
    }
    // Nothing was created past the limit, and other addresses are not affected.
    let flood3 = AccountName::parse("flood3").unwrap();
    assert!(!app.identity.account_exists(&flood3).await.unwrap());
    let other = app.call(sign_up_from("198.51.100.8", "neighbour")).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.json);
}

#[tokio::test]
async fn sign_ups_past_the_servers_hourly_limit_are_told_to_come_back() {
    let app = behind_a_proxy(IdentityConfig {
        sign_up_per_hour: NonZeroU32::new(2).unwrap(),
        ..IdentityConfig::default()
    })
    .await;
    for (i, address) in ["203.0.113.1", "203.0.113.2"].into_iter().enumerate() {
        let body = attempt_from(
            "/api/accounts",
            address,
            &format!("early{i}"),
            "correct horse battery",
        );
        assert_eq!(app.call(body).await.status, StatusCode::CREATED);
    }
    let late = attempt_from(
        "/api/accounts",
        "203.0.113.3",
        "late",
        "correct horse battery",
    );
    let answer = app.call(late).await;
    assert_refused(
        &answer,
        StatusCode::SERVICE_UNAVAILABLE,
        "too many sign-ups",
    );
    assert!(answer.header(header::RETRY_AFTER).is_some());
}

#[tokio::test]
async fn with_sign_up_off_only_the_operator_creates_accounts() {
    let app = behind_a_proxy(IdentityConfig {
        sign_up: false,
        ..IdentityConfig::default()
    })
    .await;
    let answer = app
        .call(attempt_from(
            "/api/accounts",
            "203.0.113.1",
            "walter",
            "correct horse battery",
        ))
        .await;
    assert_refused(&answer, StatusCode::FORBIDDEN, "sign-up is off");
    // Even a malformed attempt hears why, rather than what it got wrong.
    let answer = app
        .call(attempt_from(
            "/api/accounts",
            "203.0.113.1",
            "walter",
            "short",
        ))
        .await;
    assert_refused(&answer, StatusCode::FORBIDDEN, "sign-up is off");
    // The page's server function says the same.
    let form = post(
        "/sfn/sign-up",
        Some("application/x-www-form-urlencoded"),
        "name=walter&password=correct+horse+battery",
    );
    let answer = app.call_raw(form).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text());
    assert!(
        answer.text().contains("sign-up is off"),
        "{}",
        answer.text()
    );
    assert!(!answer.text().contains("correct horse"));

    // What the operator's `accounts create` does still works, and the account signs in.
    let identity = &app.identity;
    identity
        .create_account(
            AccountName::parse("walter").unwrap(),
            Password::parse("correct horse battery").unwrap(),
        )
        .await
        .unwrap();
    let session = app
        .call(attempt_from(
            "/api/sessions",
            "203.0.113.1",
            "walter",
            "correct horse battery",
        ))
        .await;
    assert_eq!(session.status, StatusCode::CREATED, "{}", session.json);
}

#[test]
fn sign_up_is_switched_off_and_limited_by_flags() {
    use clap::Parser;
    use longpoll_chat::server::config::Config;

    let parse = |args: &[&str]| {
        let config = Config::try_parse_from([&["longpoll-chat"], args].concat()).unwrap();
        config.identity().unwrap()
    };
    assert!(parse(&[]).sign_up);
    assert!(!parse(&["--sign-up", "off"]).sign_up);
    assert!(parse(&["--sign-up", "on"]).sign_up);
    let limits = parse(&[
        "--sign-up-per-address",
        "4",
        "--sign-up-per-hour",
        "50",
        "--hash-queue",
        "7",
    ]);
    assert_eq!(limits.sign_up_per_address.get(), 4);
    assert_eq!(limits.sign_up_per_hour.get(), 50);
    assert_eq!(limits.hash_queue, 7);
}

#[tokio::test]
async fn past_the_send_limit_a_guest_learns_nothing_of_which_names_are_accounts() {
    let app = TestApp::with_send_limit(1).await;
    sign_up(&app, "alice").await;
    assert_eq!(
        app.send(message("oracle", "g", "the one allowed"))
            .await
            .status,
        StatusCode::OK
    );
    // An account's name and a free one are answered alike past the limit.
    for sender in ["alice", "nobody-has-this"] {
        let refused = app.send(message("oracle", sender, "probe")).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{sender}");
    }
}

#[tokio::test]
async fn the_default_room_and_rooms_in_use_cannot_be_taken_private() {
    let app = TestApp::new().await;
    let mallory = signed_in(&app, "mallory").await;
    let bob = signed_in(&app, "bob").await;
    let make_private = |room: &str| {
        bearer(
            json_request(
                Method::POST,
                "/api/rooms",
                json!({"name": room, "private": true}),
            ),
            &mallory,
        )
    };
    // A fresh server: nobody has written to `general` yet.
    let refused = app.call(make_private("general")).await;
    assert_refused(&refused, StatusCode::CONFLICT, "a room of that name exists");
    assert_eq!(
        app.call(get("/api/history?room=general")).await.status,
        StatusCode::OK
    );
    // A room someone joined but nobody wrote to, and one with a held poll.
    let join = json_request(Method::PUT, "/api/me/rooms/joined-only", json!({}));
    assert_eq!(app.call(bearer(join, &bob)).await.status, StatusCode::OK);
    let refused = app.call(make_private("joined-only")).await;
    assert_refused(&refused, StatusCode::CONFLICT, "a room of that name exists");
    let held = app.spawn(get("/api/poll?client_id=waiter&room=waited-on"));
    eventually(
        std::time::Duration::from_secs(5),
        "the poll is held",
        || async { app.broker.held_polls() == 1 },
    )
    .await;
    let refused = app.call(make_private("waited-on")).await;
    assert_refused(&refused, StatusCode::CONFLICT, "a room of that name exists");
    app.send(message("waited-on", "g", "still public")).await;
    assert_eq!(
        held.await.unwrap().json["messages"][0]["text"],
        "still public"
    );
    // An unused name is still anyone's to make private.
    assert_eq!(
        app.call(make_private("fresh")).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn nobody_ends_or_takes_over_another_ones_client_id() {
    let app = TestApp::new().await;
    let alice = signed_in(&app, "alice").await;
    let mallory = signed_in(&app, "mallory").await;
    let held = app.spawn(bearer(
        get("/api/poll?client_id=alices-laptop&room=owned"),
        &alice,
    ));
    eventually(
        std::time::Duration::from_secs(5),
        "the poll is held",
        || async { app.broker.held_polls() == 1 },
    )
    .await;
    let steal = bearer(
        get("/api/poll?client_id=alices-laptop&room=owned"),
        &mallory,
    );
    assert_refused(
        &app.call(steal).await,
        StatusCode::NOT_FOUND,
        "unknown client_id",
    );
    for caller in [Some(&mallory), None] {
        let end = empty_request(Method::DELETE, "/api/client/alices-laptop");
        let end = match caller {
            Some(token) => bearer(end, token),
            None => end,
        };
        assert_refused(
            &app.call(end).await,
            StatusCode::NOT_FOUND,
            "unknown client_id",
        );
    }
    assert_eq!(app.broker.held_polls(), 1, "alice's poll is still held");
    app.send(message("owned", "g", "for alice")).await;
    assert_eq!(held.await.unwrap().json["messages"][0]["text"], "for alice");
    let end = bearer(
        empty_request(Method::DELETE, "/api/client/alices-laptop"),
        &alice,
    );
    assert_eq!(app.call(end).await.status, StatusCode::OK);
}
