//! `/openapi.json` checked against the server's real answers: every documented operation is
//! called so as to produce each documented status it can be driven to here, and every answer
//! must have a documented status and match the documented schema.

use axum::{
    body::Body,
    http::{Method, Request},
};
use longpoll_chat::server::{BrokerConfig, HttpConfig};
use serde_json::{json, Value};

use crate::common::{
    accounts::{empty_request, json_request, jwt_setup, signed_in, with_token},
    app::{get, message, post, send_request, stream_request, TestApp},
};

/// Follows a local `$ref`.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(
                spec,
                spec.pointer(pointer).expect("a $ref the spec defines"),
            )
        }
        None => schema,
    }
}

/// Checks `value` against the subset of JSON Schema utoipa emits here.
fn conforms(spec: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(spec, schema);
    if let Some(options) = schema["oneOf"].as_array() {
        return options
            .iter()
            .find_map(|option| conforms(spec, option, value, at).ok())
            .ok_or_else(|| format!("{at}: {value} matches no oneOf option"));
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} not in {allowed:?}"));
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    let matches = |kind: &str| match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    };
    if !types.iter().any(|kind| matches(kind)) {
        return Err(format!("{at}: {value} is not {types:?}"));
    }
    if let Some(object) = value.as_object() {
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap();
            if !object.contains_key(name) {
                return Err(format!("{at}: missing required {name:?} in {value}"));
            }
        }
        if let Some(properties) = schema["properties"].as_object() {
            for (name, property) in properties {
                if let Some(field) = object.get(name) {
                    conforms(spec, property, field, &format!("{at}.{name}"))?;
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            conforms(spec, items, item, &format!("{at}[{index}]"))?;
        }
    }
    Ok(())
}

struct Checker {
    spec: Value,
    covered: Vec<(String, String, u16)>,
}

impl Checker {
    /// Sends `request` to `app` and checks the answer against the operation `path`.
    async fn check(&mut self, app: &TestApp, path: &str, request: Request<Body>) {
        let method = request.method().as_str().to_lowercase();
        let answer = app.call(request).await;
        let status = answer.status.as_u16();
        let body = answer.json;
        let operation = &self.spec["paths"][path][&method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        let documented = &operation["responses"][status.to_string()];
        assert!(
            documented.is_object(),
            "{method} {path} answered undocumented {status}: {body}"
        );
        let schema = &documented["content"]["application/json"]["schema"];
        conforms(
            &self.spec,
            schema,
            &body,
            &format!("{method} {path} {status}"),
        )
        .unwrap();
        self.covered.push((method, path.to_owned(), status));
    }
}

#[tokio::test(start_paused = true)]
async fn every_documented_endpoint_answers_as_documented() {
    let app = TestApp::new().await;
    let spec: Value = app.get("/openapi.json").await.json;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    // The numbers, patterns and defaults it states are checked against the model in
    // tests/suite/schema.rs.

    let mut checker = Checker {
        spec,
        covered: Vec::new(),
    };
    let huge = json!({"sender": "s", "text": "x".repeat(100_000)}).to_string();
    let delete = |id: &str| {
        Request::builder()
            .method(Method::DELETE)
            .uri(format!("/api/client/{id}"))
            .body(Body::empty())
            .unwrap()
    };
    let client = "/api/client/{client_id}";
    // In order: the polls and the deletes depend on what was sent and polled before.
    let cases = [
        ("/api/send", send_request(message("spec", "spec", "hello"))),
        ("/api/send", send_request(message("spec", "spec", "   "))),
        (
            "/api/send",
            post("/api/send", Some("application/json"), "{"),
        ),
        ("/api/send", post("/api/send", Some("text/plain"), "hi")),
        (
            "/api/send",
            post("/api/send", Some("application/json"), huge.clone()),
        ),
        (
            "/api/poll",
            get("/api/poll?client_id=c1&room=spec&last_message_id=nope"),
        ),
        (
            "/api/poll",
            get("/api/poll?client_id=c1&room=quiet&timeout=5"),
        ),
        ("/api/poll", get("/api/poll?room=spec")),
        (
            "/api/stream",
            stream_request(
                json!({"client_id": "c2", "rooms": [{"room": "spec", "last_message_id": "nope"}]}),
            ),
        ),
        (
            "/api/stream",
            stream_request(json!({"client_id": "c2", "rooms": []})),
        ),
        (
            "/api/stream",
            post("/api/stream", Some("text/plain"), "rooms"),
        ),
        (
            "/api/stream",
            post("/api/stream", Some("application/json"), huge),
        ),
        ("/api/stream", {
            let mut request =
                stream_request(json!({"client_id": "c2", "rooms": [{"room": "spec"}]}));
            request.headers_mut().insert(
                axum::http::header::AUTHORIZATION,
                "Bearer lpc_not-a-session".parse().unwrap(),
            );
            request
        }),
        ("/api/history", get("/api/history?room=spec&limit=5")),
        ("/api/history", get("/api/history?limit=0")),
        ("/api/stats", get("/api/stats")),
        (client, delete("c1")),
        (client, delete("c1")),
        (client, delete("bad%20id")),
        ("/health", get("/health")),
        ("/health/ready", get("/health/ready")),
    ];
    for (path, request) in cases {
        checker.check(&app, path, request).await;
    }
    check_identity(&mut checker, &app).await;
    check_reads(&mut checker, &app).await;
    check_messages(&mut checker, &app).await;
    app.broker.shutdown();
    checker
        .check(&app, "/health/ready", get("/health/ready"))
        .await;

    // Overload answers: a server that allows no held poll, and a send rate of one.
    let full = TestApp::with(
        BrokerConfig {
            max_held_polls: 0,
            ..BrokerConfig::default()
        },
        HttpConfig::default(),
    )
    .await;
    checker
        .check(&full, "/api/poll", get("/api/poll?client_id=late"))
        .await;
    let late = stream_request(json!({"client_id": "late", "rooms": [{"room": "a"}]}));
    checker.check(&full, "/api/stream", late).await;
    let limited = TestApp::with_send_limit(1).await;
    for text in ["first", "second"] {
        let request = send_request(message("spec", "spec", text));
        checker.check(&limited, "/api/send", request).await;
    }

    let covered: Vec<String> = checker
        .covered
        .iter()
        .map(|(m, p, s)| format!("{m} {p} {s}"))
        .collect();
    for expected in [
        "post /api/send 200",
        "post /api/send 400",
        "post /api/send 413",
        "post /api/send 415",
        "post /api/send 429",
        "get /api/poll 200",
        "get /api/poll 400",
        "get /api/poll 503",
        "post /api/stream 200",
        "post /api/stream 400",
        "post /api/stream 401",
        "post /api/stream 413",
        "post /api/stream 415",
        "post /api/stream 503",
        "get /api/history 200",
        "get /api/history 400",
        "get /api/stats 200",
        "delete /api/client/{client_id} 200",
        "delete /api/client/{client_id} 400",
        "delete /api/client/{client_id} 404",
        "post /api/accounts 201",
        "post /api/accounts 400",
        "post /api/accounts 409",
        "post /api/sessions 201",
        "post /api/sessions 401",
        "get /api/me 200",
        "get /api/me 401",
        "delete /api/sessions/current 200",
        "delete /api/sessions/current 401",
        "get /api/rooms 200",
        "post /api/rooms 201",
        "post /api/rooms 401",
        "post /api/rooms 409",
        "get /api/rooms/{room}/members 200",
        "get /api/rooms/{room}/members 404",
        "put /api/rooms/{room}/members/{name} 200",
        "put /api/rooms/{room}/members/{name} 403",
        "put /api/rooms/{room}/members/{name} 404",
        "delete /api/rooms/{room}/members/{name} 200",
        "delete /api/rooms/{room}/members/{name} 400",
        "delete /api/rooms/{room} 403",
        "delete /api/rooms/{room} 200",
        "post /api/send 401",
        "post /api/send 403",
        "post /api/send 404",
        "get /api/poll 404",
        "get /api/history 404",
        "get /api/me/rooms 200",
        "get /api/me/rooms 401",
        "get /api/me/rooms 403",
        "put /api/me/rooms/{room} 200",
        "put /api/me/rooms/{room} 400",
        "put /api/me/rooms/{room} 401",
        "put /api/me/rooms/{room} 403",
        "put /api/me/rooms/{room} 404",
        "put /api/me/rooms/{room} 415",
        "delete /api/me/rooms/{room} 200",
        "delete /api/me/rooms/{room} 400",
        "delete /api/me/rooms/{room} 401",
        "delete /api/me/rooms/{room} 403",
        "delete /api/me/rooms/{room} 404",
        "patch /api/messages/{id} 200",
        "patch /api/messages/{id} 400",
        "patch /api/messages/{id} 401",
        "patch /api/messages/{id} 403",
        "patch /api/messages/{id} 404",
        "patch /api/messages/{id} 415",
        "delete /api/messages/{id} 200",
        "delete /api/messages/{id} 400",
        "delete /api/messages/{id} 401",
        "delete /api/messages/{id} 403",
        "delete /api/messages/{id} 404",
        "put /api/messages/{id}/reactions/{emoji} 200",
        "put /api/messages/{id}/reactions/{emoji} 400",
        "put /api/messages/{id}/reactions/{emoji} 401",
        "put /api/messages/{id}/reactions/{emoji} 404",
        "delete /api/messages/{id}/reactions/{emoji} 200",
        "delete /api/messages/{id}/reactions/{emoji} 400",
        "delete /api/messages/{id}/reactions/{emoji} 401",
        "delete /api/messages/{id}/reactions/{emoji} 404",
        "get /api/rooms/{room}/online 200",
        "get /api/rooms/{room}/online 400",
        "get /api/rooms/{room}/online 404",
        "post /api/rooms/{room}/typing 200",
        "post /api/rooms/{room}/typing 400",
        "post /api/rooms/{room}/typing 401",
        "post /api/rooms/{room}/typing 404",
        "get /health 200",
        "get /health/ready 200",
        "get /health/ready 503",
    ] {
        assert!(
            covered.iter().any(|c| c == expected),
            "{expected} was not produced"
        );
    }
}

fn request(method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    let request = match body {
        Some(body) => json_request(method, uri, body),
        None => empty_request(method, uri),
    };
    with_token(request, token)
}

/// Accounts, sessions, rooms and members, each driven to its documented answers.
async fn check_identity(checker: &mut Checker, app: &TestApp) {
    let account = |name: &str| json!({"name": name, "password": "correct horse battery"});
    for body in [
        account("owner"),
        account("member"),
        json!({"name": "x y", "password": "p"}),
        account("OWNER"),
    ] {
        let sign_up = request(Method::POST, "/api/accounts", None, Some(body));
        checker.check(app, "/api/accounts", sign_up).await;
    }
    let mut tokens = Vec::new();
    for name in ["owner", "member"] {
        let sign_in = request(Method::POST, "/api/sessions", None, Some(account(name)));
        let answer = app.call(sign_in).await;
        tokens.push(answer.json["token"].as_str().unwrap().to_owned());
        let again = request(Method::POST, "/api/sessions", None, Some(account(name)));
        checker.check(app, "/api/sessions", again).await;
    }
    let (owner, member) = (tokens[0].as_str(), tokens[1].as_str());
    let wrong = json!({"name": "owner", "password": "not the password"});
    checker
        .check(
            app,
            "/api/sessions",
            request(Method::POST, "/api/sessions", None, Some(wrong)),
        )
        .await;
    checker
        .check(
            app,
            "/api/me",
            request(Method::GET, "/api/me", Some(owner), None),
        )
        .await;
    checker
        .check(app, "/api/me", request(Method::GET, "/api/me", None, None))
        .await;

    let room = json!({"name": "vault", "private": true});
    let members = "/api/rooms/{room}/members";
    let member_path = "/api/rooms/{room}/members/{name}";
    let cases = [
        (
            "/api/rooms",
            request(Method::POST, "/api/rooms", None, Some(room.clone())),
        ),
        (
            "/api/rooms",
            request(Method::POST, "/api/rooms", Some(owner), Some(room.clone())),
        ),
        (
            "/api/rooms",
            request(Method::POST, "/api/rooms", Some(member), Some(room)),
        ),
        (
            "/api/rooms",
            request(Method::GET, "/api/rooms", Some(owner), None),
        ),
        (
            members,
            request(Method::GET, "/api/rooms/vault/members", Some(member), None),
        ),
        (
            member_path,
            request(
                Method::PUT,
                "/api/rooms/vault/members/nobody",
                Some(owner),
                None,
            ),
        ),
        (
            member_path,
            request(
                Method::PUT,
                "/api/rooms/vault/members/member",
                Some(owner),
                None,
            ),
        ),
        (
            members,
            request(Method::GET, "/api/rooms/vault/members", Some(member), None),
        ),
        (
            member_path,
            request(
                Method::PUT,
                "/api/rooms/vault/members/owner",
                Some(member),
                None,
            ),
        ),
        (
            member_path,
            request(
                Method::DELETE,
                "/api/rooms/vault/members/owner",
                Some(owner),
                None,
            ),
        ),
        (
            "/api/rooms/{room}",
            request(Method::DELETE, "/api/rooms/vault", Some(member), None),
        ),
        (
            member_path,
            request(
                Method::DELETE,
                "/api/rooms/vault/members/member",
                Some(owner),
                None,
            ),
        ),
        (
            "/api/send",
            request(
                Method::POST,
                "/api/send",
                Some(member),
                Some(json!({"room": "vault", "text": "hi"})),
            ),
        ),
        (
            "/api/send",
            request(
                Method::POST,
                "/api/send",
                Some(owner),
                Some(json!({"room": "vault", "sender": "member", "text": "hi"})),
            ),
        ),
        (
            "/api/send",
            request(
                Method::POST,
                "/api/send",
                Some("lpc_nonsense"),
                Some(json!({"text": "hi"})),
            ),
        ),
        (
            "/api/poll",
            request(
                Method::GET,
                "/api/poll?client_id=m&room=vault&timeout=5",
                Some(member),
                None,
            ),
        ),
        (
            "/api/history",
            request(Method::GET, "/api/history?room=vault", Some(member), None),
        ),
        (
            "/api/rooms/{room}",
            request(Method::DELETE, "/api/rooms/vault", Some(owner), None),
        ),
        (
            "/api/sessions/current",
            request(Method::DELETE, "/api/sessions/current", Some(owner), None),
        ),
        (
            "/api/sessions/current",
            request(Method::DELETE, "/api/sessions/current", Some(owner), None),
        ),
    ];
    for (path, request) in cases {
        checker.check(app, path, request).await;
    }
}

/// Joined rooms and read positions, each driven to its documented answers; another site's
/// token on an app that accepts them for the 403s.
async fn check_reads(checker: &mut Checker, app: &TestApp) {
    let reader = signed_in(app, "reader").await;
    let hider = signed_in(app, "hider").await;
    let hidden = json!({"name": "hidden", "private": true});
    app.call(request(
        Method::POST,
        "/api/rooms",
        Some(&hider),
        Some(hidden),
    ))
    .await;
    let read = app.send_ok("spec", "to read").await;
    let (list, room) = ("/api/me/rooms", "/api/me/rooms/{room}");
    let reader = Some(reader.as_str());
    let mut plain = request(Method::PUT, "/api/me/rooms/spec", reader, Some(json!({})));
    plain
        .headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    let cases = [
        (list, request(Method::GET, list, None, None)),
        (
            room,
            request(Method::PUT, "/api/me/rooms/spec", None, Some(json!({}))),
        ),
        (
            room,
            request(Method::DELETE, "/api/me/rooms/spec", None, None),
        ),
        (
            room,
            request(Method::PUT, "/api/me/rooms/spec", reader, Some(json!({}))),
        ),
        (
            room,
            request(
                Method::PUT,
                "/api/me/rooms/spec",
                reader,
                Some(json!({"last_read_id": read})),
            ),
        ),
        (
            room,
            request(
                Method::PUT,
                "/api/me/rooms/spec",
                reader,
                Some(json!({"last_read_id": "nope"})),
            ),
        ),
        (room, plain),
        (
            room,
            request(Method::PUT, "/api/me/rooms/hidden", reader, Some(json!({}))),
        ),
        (list, request(Method::GET, list, reader, None)),
        (
            room,
            request(Method::DELETE, "/api/me/rooms/spec", reader, None),
        ),
        (
            room,
            request(Method::DELETE, "/api/me/rooms/spec", reader, None),
        ),
        (
            room,
            request(Method::DELETE, "/api/me/rooms/a%20b", reader, None),
        ),
    ];
    for (path, request) in cases {
        checker.check(app, path, request).await;
    }

    let (setup, jwt) = jwt_setup();
    let tokens = TestApp::build(setup).await;
    let holder = jwt("holder", &[], 600);
    let holder = Some(holder.as_str());
    for (path, request) in [
        (list, request(Method::GET, list, holder, None)),
        (
            room,
            request(Method::PUT, "/api/me/rooms/spec", holder, Some(json!({}))),
        ),
        (
            room,
            request(Method::DELETE, "/api/me/rooms/spec", holder, None),
        ),
    ] {
        checker.check(&tokens, path, request).await;
    }
}

/// Edits, deletions and reactions, each driven to its documented answers; then a stream and
/// the history, which carry what they made.
async fn check_messages(checker: &mut Checker, app: &TestApp) {
    let author = signed_in(app, "author").await;
    let other = signed_in(app, "other").await;
    let sent = app
        .call(request(
            Method::POST,
            "/api/send",
            Some(&author),
            Some(json!({"room": "changes", "text": "draft"})),
        ))
        .await;
    let id = sent.json["message_id"].as_str().unwrap().to_owned();
    let unknown = "01890a5d-ac96-7a4b-9cb3-ea58c4f2b7a1";
    let (author, other) = (Some(author.as_str()), Some(other.as_str()));
    let message = "/api/messages/{id}";
    let reaction = "/api/messages/{id}/reactions/{emoji}";
    let at = |id: &str| format!("/api/messages/{id}");
    let emoji = |id: &str, emoji: &str| format!("/api/messages/{id}/reactions/{emoji}");
    let text = |text: &str| Some(json!({ "text": text }));
    let mut plain = request(Method::PATCH, &at(&id), author, text("x"));
    plain
        .headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    let cases = [
        (
            message,
            request(Method::PATCH, &at(&id), author, text("edited")),
        ),
        (message, request(Method::PATCH, &at(&id), author, text(" "))),
        (
            message,
            request(Method::PATCH, &at("nope"), author, text("x")),
        ),
        (message, request(Method::PATCH, &at(&id), None, text("x"))),
        (message, request(Method::PATCH, &at(&id), other, text("x"))),
        (
            message,
            request(Method::PATCH, &at(unknown), author, text("x")),
        ),
        (message, plain),
        (
            reaction,
            request(Method::PUT, &emoji(&id, "%F0%9F%91%8D"), other, None),
        ),
        (
            reaction,
            request(Method::PUT, &emoji(&id, "x"), other, None),
        ),
        (
            reaction,
            request(Method::PUT, &emoji(&id, "%F0%9F%91%8D"), None, None),
        ),
        (
            reaction,
            request(Method::PUT, &emoji(unknown, "%F0%9F%91%8D"), other, None),
        ),
        (
            reaction,
            request(Method::PUT, &emoji(&id, "%E2%9D%A4%EF%B8%8F"), author, None),
        ),
        (
            reaction,
            request(
                Method::DELETE,
                &emoji(&id, "%E2%9D%A4%EF%B8%8F"),
                author,
                None,
            ),
        ),
        (
            reaction,
            request(Method::DELETE, &emoji(&id, "x"), other, None),
        ),
        (
            reaction,
            request(Method::DELETE, &emoji(&id, "%F0%9F%91%8D"), None, None),
        ),
        (
            reaction,
            request(Method::DELETE, &emoji(unknown, "%F0%9F%91%8D"), other, None),
        ),
        (message, request(Method::DELETE, &at("nope"), author, None)),
        (message, request(Method::DELETE, &at(&id), None, None)),
        (message, request(Method::DELETE, &at(&id), other, None)),
        (message, request(Method::DELETE, &at(unknown), author, None)),
        ("/api/history", get("/api/history?room=changes")),
    ];
    for (path, request) in cases {
        checker.check(app, path, request).await;
    }
    let (online, typing) = ("/api/rooms/{room}/online", "/api/rooms/{room}/typing");
    let hider = signed_in(app, "live-hider").await;
    app.call(request(
        Method::POST,
        "/api/rooms",
        Some(&hider),
        Some(json!({"name": "live-hidden", "private": true})),
    ))
    .await;
    for (path, request) in [
        (
            typing,
            request(Method::POST, "/api/rooms/changes/typing", author, None),
        ),
        (
            typing,
            request(Method::POST, "/api/rooms/a%20b/typing", author, None),
        ),
        (
            typing,
            request(Method::POST, "/api/rooms/changes/typing", None, None),
        ),
        (
            typing,
            request(Method::POST, "/api/rooms/live-hidden/typing", author, None),
        ),
        (
            online,
            request(Method::GET, "/api/rooms/changes/online", None, None),
        ),
        (
            online,
            request(Method::GET, "/api/rooms/a%20b/online", None, None),
        ),
        (
            online,
            request(Method::GET, "/api/rooms/live-hidden/online", author, None),
        ),
    ] {
        checker.check(app, path, request).await;
    }
    let live = json!({"client_id": "live", "rooms": [{"room": "changes", "live_version": 0}]});
    checker
        .check(app, "/api/stream", stream_request(live))
        .await;
    let from = json!({"client_id": "changes", "rooms": [{"room": "changes", "from_start": true}]});
    checker
        .check(app, "/api/stream", stream_request(from))
        .await;
    checker
        .check(
            app,
            message,
            request(Method::DELETE, &at(&id), author, None),
        )
        .await;
    checker
        .check(app, "/api/history", get("/api/history?room=changes"))
        .await;
}
