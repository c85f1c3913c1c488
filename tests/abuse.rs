//! The abuse suite: the attacks of issue 27's security review, run against the real binary on
//! loopback, each bounded in count and time. Every test checks two things: that the attack is
//! refused or bounded, and that the server stays available to someone it does not target (the
//! bystander): their held poll is answered by the next message, their sign-in takes under
//! [`SIGN_IN_WITHIN`], and the server's resident memory grows by less than a bound the test
//! states.
//!
//! Loopback is one address, so every server here trusts 127.0.0.1 as its proxy
//! (`--trusted-proxies`) and each request names its client in `X-Forwarded-For`, as nginx would:
//! attackers and the bystander come from addresses of their own. The attacks run one at a time
//! ([`ONE_ATTACK_AT_A_TIME`]): the timings measure what an attack does to its own server, not
//! what another test's attack does to the two cores they share. For the same reason they are a
//! test binary of their own rather than a module of `tests/suite`: cargo runs test binaries one
//! after another, so no other test shares the cores with them (beside the suite's, a bystander's
//! sign-in took over a second).
//!
//! Not here: the per-address connection cap (loopback peers and trusted proxies are never
//! capped, so only `tests/suite/connections.rs` can reach it, in-process), and the findings that
//! need nginx or Redis (`tests/suite/nginx.rs`, `tests/suite/cluster.rs`).
#![cfg(feature = "ssr")]

// The suite's harness, of which the attacks use the real-process part.
#[allow(dead_code)]
mod common;

use std::{
    future::Future,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use common::{
    eventually,
    process::{client, held_polls, until_held, Server, PASSWORD},
};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::{mpsc, Mutex, Semaphore},
    task::JoinSet,
};

/// The longest an unaffected account's sign-in may take during or after an attack.
const SIGN_IN_WITHIN: Duration = Duration::from_millis(500);

/// The bystander's account and address: nobody attacks either.
const BYSTANDER: &str = "bystander";
const BYSTANDER_ADDRESS: &str = "198.51.100.1";

/// One mebibyte, in the kibibytes `/proc` counts memory in.
const MIB: u64 = 1024;

/// Held by each test for its whole run (see the module's doc).
static ONE_ATTACK_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// A server under attack, with the bystander's account made and its memory measured after
/// warming up (a sign-up, a sign-in, a poll answered).
struct Target {
    server: Server,
    client: Client,
    /// Resident memory once warmed up, in KiB.
    baseline_kib: u64,
    /// Bystander checks made so far (each uses a room of its own).
    checks: AtomicUsize,
}

impl Target {
    /// Starts the server (memory store) trusting loopback as its proxy, with `options`.
    async fn start(options: &[&str]) -> Target {
        let mut all = vec!["--trusted-proxies", "127.0.0.1"];
        all.extend_from_slice(options);
        let server = Server::start_with("memory", "127.0.0.1:0", &all);
        let client = client();
        let mut target = Target {
            server,
            client,
            baseline_kib: 0,
            checks: AtomicUsize::new(0),
        };
        let made = target
            .request(reqwest::Method::POST, "/api/accounts", BYSTANDER_ADDRESS)
            .json(&json!({"name": BYSTANDER, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), StatusCode::CREATED);
        target.assert_available().await;
        target.baseline_kib = target.rss_kib();
        target
    }

    /// A request to `path` from a client at `address` (through the trusted proxy).
    fn request(&self, method: reqwest::Method, path: &str, address: &str) -> RequestBuilder {
        self.client
            .request(method, self.server.url(path))
            .header("X-Forwarded-For", address)
    }

    /// The server's resident memory now, in KiB.
    fn rss_kib(&self) -> u64 {
        rss_kib(self.server.child.id())
    }

    /// Fails unless resident memory grew by less than `bound_mib` since the warm-up.
    fn assert_memory_within(&self, bound_mib: u64) {
        let grown = self.rss_kib().saturating_sub(self.baseline_kib);
        assert!(
            grown < bound_mib * MIB,
            "memory grew by {} MiB (from {} MiB), more than {bound_mib} MiB",
            grown / MIB,
            self.baseline_kib / MIB
        );
    }

    /// The bystander is still served: a sign-in under [`SIGN_IN_WITHIN`], and a held poll
    /// answered by the next message of its room.
    async fn assert_available(&self) {
        let (status, took) = self.timed_sign_in(BYSTANDER, BYSTANDER_ADDRESS).await;
        assert_eq!(status, StatusCode::CREATED, "the bystander's sign-in");
        assert!(
            took < SIGN_IN_WITHIN,
            "the bystander's sign-in took {took:?}"
        );

        let check = self.checks.fetch_add(1, Ordering::Relaxed);
        let room = format!("bystanders-{check}");
        let cursor = self
            .send_as_guest(BYSTANDER_ADDRESS, &room, "anyone here?")
            .await;
        let held = held_polls(&self.client, &self.server).await;
        let poll = tokio::spawn(
            self.request(
                reqwest::Method::GET,
                &format!(
                    "/api/poll?client_id=bystander-{check}&room={room}&last_message_id={cursor}&timeout=30"
                ),
                BYSTANDER_ADDRESS,
            )
            .send(),
        );
        until_held(&self.client, &self.server, held + 1).await;
        self.send_as_guest(BYSTANDER_ADDRESS, &room, "still here")
            .await;
        let answer = poll.await.unwrap().unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "the bystander's poll");
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(answer["status"], "success", "{answer}");
        assert_eq!(answer["messages"][0]["text"], "still here", "{answer}");
    }

    /// Signs `name` in with [`PASSWORD`] from `address`: the status and how long it took.
    async fn timed_sign_in(&self, name: &str, address: &str) -> (StatusCode, Duration) {
        let started = Instant::now();
        let answer = self
            .request(reqwest::Method::POST, "/api/sessions", address)
            .json(&json!({"name": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        (answer.status(), started.elapsed())
    }

    /// Makes the account `name` from `address` and signs it in; its session token.
    async fn account(&self, name: &str, address: &str) -> String {
        let made = self
            .request(reqwest::Method::POST, "/api/accounts", address)
            .json(&json!({"name": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), StatusCode::CREATED, "signing up {name}");
        let session = self
            .request(reqwest::Method::POST, "/api/sessions", address)
            .json(&json!({"name": name, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(session.status(), StatusCode::CREATED, "signing in {name}");
        let session: Value = session.json().await.unwrap();
        session["token"].as_str().unwrap().to_owned()
    }

    /// Sends `text` to `room` as a guest at `address`; the message's id.
    async fn send_as_guest(&self, address: &str, room: &str, text: &str) -> String {
        let answer = self
            .request(reqwest::Method::POST, "/api/send", address)
            .json(&json!({"sender": "guest", "room": room, "text": text}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "sending to {room}");
        let answer: Value = answer.json().await.unwrap();
        answer["message_id"].as_str().unwrap().to_owned()
    }
}

/// The resident memory of process `pid` (`VmRSS`), in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .expect("VmRSS in /proc/PID/status");
    line.trim().trim_end_matches("kB").trim().parse().unwrap()
}

/// Runs `task(0)` to `task(count - 1)`, at most `at_once` at a time; their results in order.
async fn bounded<T, Fut>(count: usize, at_once: usize, task: impl Fn(usize) -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(at_once));
    let mut running = JoinSet::new();
    for i in 0..count {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let work = task(i);
        running.spawn(async move {
            let result = work.await;
            drop(permit);
            (i, result)
        });
    }
    let mut results = running.join_all().await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, result)| result).collect()
}

/// The status of `answer`, and whether it says when to retry.
fn status_and_retry(answer: &Response) -> (StatusCode, bool) {
    (
        answer.status(),
        answer.headers().contains_key("retry-after"),
    )
}

/// The i-th of the addresses in 10.`block`.0.0/16 (62,500 of them), none the bystander's.
fn address(block: u8, i: usize) -> String {
    format!("10.{block}.{}.{}", i / 250, i % 250 + 1)
}

/// Finding 1: twenty accounts toggling a reaction on a room of fifty messages, past their rate
/// per message. No change takes a message's place: the room keeps all fifty (a log of 60
/// entries would have lost them all to 400 changes), and an old cursor is not reset.
#[tokio::test]
async fn reaction_toggling_by_twenty_accounts_erases_no_message() {
    let _turn = ONE_ATTACK_AT_A_TIME.lock().await;
    let target = Target::start(&["--room-capacity", "60"]).await;
    let room = "toggled";
    let mut ids = Vec::new();
    for i in 0..50 {
        let id = target
            .send_as_guest("198.51.100.2", room, &format!("earlier {i}"))
            .await;
        ids.push(id);
    }
    // Sign-up allows ten accounts an hour per address: the attacker uses two.
    let mut tokens = Vec::new();
    for i in 0..20 {
        let from = if i < 10 { "203.0.113.1" } else { "203.0.113.2" };
        tokens.push(target.account(&format!("toggler{i}"), from).await);
    }

    let target = Arc::new(target);
    let started = Instant::now();
    let per_account = 30;
    let results = bounded(tokens.len(), tokens.len(), |account| {
        let target = target.clone();
        let token = tokens[account].clone();
        let path = format!("/api/messages/{}/reactions/%F0%9F%91%8D", ids[49]);
        async move {
            let mut answers = Vec::new();
            for toggle in 0..per_account {
                let method = if toggle % 2 == 0 {
                    reqwest::Method::PUT
                } else {
                    reqwest::Method::DELETE
                };
                let answer = target
                    .request(method, &path, "203.0.113.1")
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                answers.push(status_and_retry(&answer));
            }
            answers
        }
    })
    .await;
    // 20 a minute, all at once if need be, and one more every 3 s.
    let allowed = 20 + started.elapsed().as_secs() as usize / 3;
    for (account, answers) in results.iter().enumerate() {
        let accepted = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        assert!(
            (20..=allowed).contains(&accepted),
            "toggler{account}: {accepted} changes accepted, {allowed} allowed: {answers:?}"
        );
        for (status, retry) in &answers[accepted..] {
            assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{answers:?}");
            assert!(retry, "a 429 says when to retry");
        }
    }

    let history: Value = target
        .request(
            reqwest::Method::GET,
            &format!("/api/history?room={room}&limit=100"),
            "198.51.100.2",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kept: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(kept, ids, "every earlier message is still in history");
    // The oldest cursor still names a message of the room: its poll is no reset.
    let poll: Value = target
        .request(
            reqwest::Method::GET,
            &format!(
                "/api/poll?client_id=late-reader&room={room}&last_message_id={}",
                ids[0]
            ),
            "198.51.100.2",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(poll["status"], "success", "{poll}");
    assert_eq!(poll.get("reset"), None, "{poll}");
    assert_eq!(poll["messages"].as_array().unwrap().len(), 49);

    target.assert_available().await;
    target.assert_memory_within(16);
}

/// A text of 4,000 control characters as JSON: each one escapes to six bytes.
const CONTROL_TEXT_BYTES: usize = 4_000 * 6;
/// The JSON of one message of such a text, at most.
const ONE_MESSAGE_BYTES: usize = CONTROL_TEXT_BYTES + 512;
/// The default `--max-answer-bytes`.
const ANSWER_BUDGET: usize = 1024 * 1024;

/// Finding 2: a stream naming 30 rooms with cursors the rooms do not know, whose messages are
/// 4,000 control characters each (24 KB of JSON): unbounded, its answer would be 8.4 MB. It
/// stays within the byte budget plus one message, as do history and a reset poll; ten clients
/// that never read their answers do not make the server balloon.
#[tokio::test]
async fn a_stream_of_thirty_rooms_of_control_characters_stays_within_the_answer_budget() {
    let _turn = ONE_ATTACK_AT_A_TIME.lock().await;
    let target = Arc::new(Target::start(&[]).await);
    let rooms: Vec<String> = (0..30).map(|i| format!("wide-{i:02}")).collect();
    // 60 messages in the first room (1.4 MB as JSON), 10 in each other one.
    let sends: Vec<&str> = (0..60)
        .map(|_| rooms[0].as_str())
        .chain(rooms[1..].iter().flat_map(|room| [room.as_str(); 10]))
        .collect();
    let text = "\u{1}".repeat(CONTROL_TEXT_BYTES / 6);
    let sent = bounded(sends.len(), 8, |i| {
        let request = target
            .request(reqwest::Method::POST, "/api/send", "203.0.113.20")
            .json(&json!({"sender": "flooder", "room": sends[i], "text": text}));
        async move { request.send().await.unwrap().status() }
    })
    .await;
    assert!(
        sent.iter().all(|status| *status == StatusCode::OK),
        "{sent:?}"
    );
    let baseline_kib = target.rss_kib();

    let stream_body = |client_id: &str| {
        let follows: Vec<Value> = rooms
            .iter()
            .map(|room| json!({"room": room, "last_message_id": "not-a-cursor-of-this-room"}))
            .collect();
        json!({"client_id": client_id, "rooms": follows}).to_string()
    };
    let within_budget = |what: &str, bytes: usize| {
        assert!(
            bytes <= ANSWER_BUDGET + ONE_MESSAGE_BYTES,
            "{what}: {bytes} bytes, over the budget and one message"
        );
        assert!(
            bytes > CONTROL_TEXT_BYTES,
            "{what}: {bytes} bytes, no message"
        );
    };
    let stream = target
        .request(reqwest::Method::POST, "/api/stream", "203.0.113.20")
        .header("Content-Type", "application/json")
        .body(stream_body("wide-reader"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let stream = stream.bytes().await.unwrap();
    within_budget("the stream", stream.len());
    let stream: Value = serde_json::from_slice(&stream).unwrap();
    assert_eq!(stream["status"], "success");

    let history = target
        .request(
            reqwest::Method::GET,
            "/api/history?room=wide-00&limit=100",
            "203.0.113.20",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), StatusCode::OK);
    within_budget("history", history.bytes().await.unwrap().len());
    let reset = target
        .request(
            reqwest::Method::GET,
            "/api/poll?client_id=resetting&room=wide-00&last_message_id=not-a-cursor",
            "203.0.113.20",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    let reset = reset.bytes().await.unwrap();
    within_budget("the reset poll", reset.len());
    assert_eq!(
        serde_json::from_slice::<Value>(&reset).unwrap()["reset"],
        true
    );

    // Clients that send the stream and never read its answer: each reads only the status line,
    // which the server writes once the whole answer is built.
    let mut unread = Vec::new();
    for client in 0..10 {
        let body = stream_body(&format!("never-reads-{client}"));
        let mut socket = TcpStream::connect(target.server.addr).await.unwrap();
        let request = format!(
            "POST /api/stream HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.21\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut status_line = [0; 12];
        socket.read_exact(&mut status_line).await.unwrap();
        assert_eq!(&status_line, b"HTTP/1.1 200");
        unread.push(socket);
    }
    let grown = target.rss_kib().saturating_sub(baseline_kib);
    assert!(
        grown < 32 * MIB,
        "ten unread streams grew the server by {} MiB",
        grown / MIB
    );
    target.assert_available().await;
    target.assert_memory_within(48);
    drop(unread);
}

/// Finding 3: an address past its sign-in limit keeps trying alice's password. Its refused
/// attempts spend none of alice's, so alice signs in from her own address; and 1,500 refused or
/// failed sign-ins with 60 KB names leave none of those names in the server's memory.
#[tokio::test]
async fn sign_ins_refused_for_their_address_neither_lock_alice_out_nor_keep_their_names() {
    let _turn = ONE_ATTACK_AT_A_TIME.lock().await;
    let target = Arc::new(Target::start(&["--sign-in-per-address", "5"]).await);
    target.account("alice", "198.51.100.20").await;
    let attacker = "203.0.113.13";
    let mut statuses = Vec::new();
    for _ in 0..45 {
        let answer = target
            .request(reqwest::Method::POST, "/api/sessions", attacker)
            .json(&json!({"name": "alice", "password": "a wrong guess"}))
            .send()
            .await
            .unwrap();
        statuses.push(status_and_retry(&answer));
    }
    // The address's 5 attempts, then refusals that say when to retry.
    assert!(
        statuses[..5]
            .iter()
            .all(|(status, _)| *status == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert!(
        statuses[5..]
            .iter()
            .all(|answer| *answer == (StatusCode::TOO_MANY_REQUESTS, true)),
        "{statuses:?}"
    );
    // 45 attempts at alice's name, but only 5 counted against it (10 a minute).
    let (status, took) = target.timed_sign_in("alice", "198.51.100.20").await;
    assert_eq!(status, StatusCode::CREATED, "alice is not locked out");
    assert!(took < SIGN_IN_WITHIN, "alice's sign-in took {took:?}");

    // Half from the blocked address (429), half from addresses of their own (401: no such
    // account); 90 MB of names in all.
    let long_name = "x".repeat(60_000);
    let answers = bounded(1_500, 16, |i| {
        let from = if i % 2 == 0 {
            attacker.to_owned()
        } else {
            address(1, i)
        };
        let body = format!(r#"{{"name":"{i}{long_name}","password":"a wrong guess"}}"#);
        let request = target
            .request(reqwest::Method::POST, "/api/sessions", &from)
            .header("Content-Type", "application/json")
            .body(body);
        async move { request.send().await.unwrap().status() }
    })
    .await;
    for (i, status) in answers.iter().enumerate() {
        let expected = if i % 2 == 0 {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(*status, expected, "long-name sign-in {i}");
    }
    target.assert_available().await;
    target.assert_memory_within(16);
}

/// Finding 4: behind the proxy, a client adds its own `Forwarded: for=...` to every sign-in,
/// a new address each time. Only the proxy's `X-Forwarded-For` names the client: past the
/// address's limit the attempts are refused all the same.
#[tokio::test]
async fn a_client_s_own_forwarded_header_does_not_escape_its_address_limit() {
    let _turn = ONE_ATTACK_AT_A_TIME.lock().await;
    let target = Target::start(&["--sign-in-per-address", "15"]).await;
    let mut statuses = Vec::new();
    for i in 0..45 {
        let answer = target
            .request(reqwest::Method::POST, "/api/sessions", "203.0.113.4")
            .header("Forwarded", format!("for=10.9.0.{}", i + 1))
            .json(&json!({"name": format!("nobody{i}"), "password": "a wrong guess"}))
            .send()
            .await
            .unwrap();
        statuses.push(status_and_retry(&answer));
    }
    assert!(
        statuses[..15]
            .iter()
            .all(|(status, _)| *status == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert!(
        statuses[15..]
            .iter()
            .all(|answer| *answer == (StatusCode::TOO_MANY_REQUESTS, true)),
        "{statuses:?}"
    );
    target.assert_available().await;
    target.assert_memory_within(16);
}

/// Finding 5: sign-ups flood in, first from one address (past its limit, 429), then from
/// hundreds of addresses at once (past the hashing queue, 503). Every refusal says when to
/// retry, and an existing account's sign-ins during the flood go first.
#[tokio::test]
async fn a_sign_up_flood_is_refused_past_its_limits_while_sign_ins_go_first() {
    let _turn = ONE_ATTACK_AT_A_TIME.lock().await;
    let target = Arc::new(
        Target::start(&[
            "--sign-up-per-address",
            "10",
            "--sign-up-per-hour",
            "600",
            "--hash-queue",
            "32",
        ])
        .await,
    );
    let one_address = bounded(100, 25, |i| {
        let request = target
            .request(reqwest::Method::POST, "/api/accounts", "203.0.113.50")
            .json(&json!({"name": format!("flood{i}"), "password": PASSWORD}));
        async move { status_and_retry(&request.send().await.unwrap()) }
    })
    .await;
    let created = one_address
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    let limited = one_address
        .iter()
        .filter(|answer| **answer == (StatusCode::TOO_MANY_REQUESTS, true))
        .count();
    assert!(created <= 10, "{created} accounts from one address");
    // The ten the address may make can still meet a full hashing queue.
    let busy = one_address
        .iter()
        .filter(|answer| **answer == (StatusCode::SERVICE_UNAVAILABLE, true))
        .count();
    assert_eq!(created + limited + busy, 100, "{one_address:?}");
    assert!(limited >= 90, "{one_address:?}");

    // From 200 addresses at once: the hashing queue (32) fills, the rest are refused at once,
    // and the queued sign-ups take a second or more to hash.
    let answered = Arc::new(AtomicUsize::new(0));
    let flood = tokio::spawn({
        let target = target.clone();
        let answered = answered.clone();
        async move {
            bounded(200, 200, |i| {
                let request = target
                    .request(reqwest::Method::POST, "/api/accounts", &address(2, i))
                    .json(&json!({"name": format!("wave{i}"), "password": PASSWORD}));
                let answered = answered.clone();
                async move {
                    let answer = status_and_retry(&request.send().await.unwrap());
                    answered.fetch_add(1, Ordering::Relaxed);
                    answer
                }
            })
            .await
        }
    });
    eventually(
        Duration::from_secs(10),
        "the flood's refusals are answered",
        || async { answered.load(Ordering::Relaxed) >= 100 },
    )
    .await;
    let (status, took) = target.timed_sign_in(BYSTANDER, BYSTANDER_ADDRESS).await;
    let unanswered = 200 - answered.load(Ordering::Relaxed);
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        took < SIGN_IN_WITHIN,
        "a sign-in during the flood took {took:?}"
    );
    assert!(
        unanswered > 0,
        "the sign-in did not go first: every queued sign-up was answered before it"
    );
    let answers = flood.await.unwrap();
    let created = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    let busy = answers
        .iter()
        .filter(|answer| **answer == (StatusCode::SERVICE_UNAVAILABLE, true))
        .count();
    assert_eq!(created + busy, 200, "{answers:?}");
    assert!(
        busy >= 100,
        "{busy} of 200 refused for a full hashing queue"
    );

    target.assert_available().await;
    target.assert_memory_within(32);
}

/// Finding 6: one guest address asks for 200 held polls under 200 client ids, and one signed-in
/// person for 40; each gets its own cap (50, 20) and 503 with Retry-After past it, leaving the
/// server's other 130 places to everyone else.
#[tokio::test]
async fn one_address_taking_every_held_poll_slot_gets_only_its_own_cap() {
    let _turn = ONE_ATTACK_AT_A_TIME.lock().await;
    let target = Arc::new(
        Target::start(&[
            "--max-held-polls",
            "200",
            "--max-polls-per-address",
            "50",
            "--max-polls-per-person",
            "20",
        ])
        .await,
    );
    let mallory = target.account("mallory", "203.0.113.66").await;
    let (answered, mut refusals) = mpsc::unbounded_channel();
    let mut attack = JoinSet::new();
    for i in 0..240 {
        let mut request = target.request(
            reqwest::Method::GET,
            &format!("/api/poll?client_id=hog-{i}&room=crowd&timeout=60"),
            "203.0.113.66",
        );
        if i >= 200 {
            request = request.bearer_auth(&mallory);
        }
        let answered = answered.clone();
        attack.spawn(async move {
            let answer = request.send().await.unwrap();
            let _ = answered.send((i, status_and_retry(&answer)));
        });
    }
    let mut refused = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while refused.len() < 170 {
            refused.push(refusals.recv().await.unwrap());
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} polls refused: {refused:?}", refused.len()));
    for (i, answer) in &refused {
        assert_eq!(
            *answer,
            (StatusCode::SERVICE_UNAVAILABLE, true),
            "poll hog-{i}"
        );
    }
    let refused_guests = refused.iter().filter(|(i, _)| *i < 200).count();
    assert_eq!(refused_guests, 150, "the address's polls past its 50");
    until_held(&target.client, &target.server, 70).await;

    target.assert_available().await;
    // Another guest's stream of a busy room is held too.
    let stream = tokio::spawn(
        target
            .request(reqwest::Method::POST, "/api/stream", "198.51.100.67")
            .json(
                &json!({"client_id": "another-guest", "timeout": 30, "rooms": [{"room": "crowd"}]}),
            )
            .send(),
    );
    until_held(&target.client, &target.server, 71).await;
    target
        .send_as_guest("198.51.100.67", "crowd", "for everyone")
        .await;
    let stream: Value = stream.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(stream["rooms"][0]["messages"][0]["text"], "for everyone");
    target.assert_memory_within(16);
    attack.abort_all();
}

/// Finding 7: 300 connections announce a 1,000-byte body and never send it. Each is answered
/// 408 and closed at the body deadline, and meanwhile the bystander is served.
#[tokio::test]
async fn bodies_that_never_come_are_cut_off_at_the_body_deadline() {
    let _turn = ONE_ATTACK_AT_A_TIME.lock().await;
    let target = Target::start(&["--body-read-timeout-secs", "3"]).await;
    let started = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..300 {
        let mut socket = TcpStream::connect(target.server.addr).await.unwrap();
        socket
            .write_all(
                b"POST /api/send HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.70\r\n\
                  Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
            )
            .await
            .unwrap();
        silent.push(socket);
    }
    // While all 300 wait for their deadline.
    target.assert_available().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the bystander was checked before the deadline"
    );
    let mut closing = JoinSet::new();
    for mut socket in silent {
        closing.spawn(async move {
            let mut answer = Vec::new();
            socket.read_to_end(&mut answer).await.unwrap();
            answer
        });
    }
    let answers = tokio::time::timeout(Duration::from_secs(8), closing.join_all())
        .await
        .expect("every silent connection closed within 8 s");
    let waited = started.elapsed();
    for answer in &answers {
        assert!(
            answer.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(answer)
        );
    }
    assert!(
        waited >= Duration::from_millis(2_500),
        "closed too early: {waited:?}"
    );
    target.assert_available().await;
    target.assert_memory_within(16);
}

/// Finding 8: Mallory knows the client ids of alice (signed in) and of a guest. Disconnecting
/// them, polling or streaming under them, signed in or as a guest, is answered 404 "unknown
/// client_id", and both polls are still held and answered by the next message.
#[tokio::test]
async fn mallory_can_neither_end_nor_take_over_someone_else_s_client_id() {
    let _turn = ONE_ATTACK_AT_A_TIME.lock().await;
    let target = Target::start(&[]).await;
    let alice = target.account("alice", "198.51.100.30").await;
    let mallory = target.account("mallory", "203.0.113.7").await;
    let room = "watched";
    let cursor = target.send_as_guest("198.51.100.31", room, "before").await;
    let held = held_polls(&target.client, &target.server).await;
    let poll = |client_id: &str, address: &str, token: Option<&str>| {
        let mut request = target.request(
            reqwest::Method::GET,
            &format!(
                "/api/poll?client_id={client_id}&room={room}&last_message_id={cursor}&timeout=30"
            ),
            address,
        );
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let alices = tokio::spawn(poll("alice-tab", "198.51.100.30", Some(&alice)));
    let guests = tokio::spawn(poll("guest-tab", "198.51.100.31", None));
    until_held(&target.client, &target.server, held + 2).await;

    for victim in ["alice-tab", "guest-tab"] {
        for token in [None, Some(mallory.as_str())] {
            let mut disconnect = target.request(
                reqwest::Method::DELETE,
                &format!("/api/client/{victim}"),
                "203.0.113.7",
            );
            let mut stream = target
                .request(reqwest::Method::POST, "/api/stream", "203.0.113.7")
                .json(&json!({"client_id": victim, "rooms": [{"room": room}]}));
            if let Some(token) = token {
                disconnect = disconnect.bearer_auth(token);
                stream = stream.bearer_auth(token);
            }
            let attempts = [
                ("DELETE", disconnect.send().await.unwrap()),
                ("poll", poll(victim, "203.0.113.7", token).await.unwrap()),
                ("stream", stream.send().await.unwrap()),
            ];
            for (what, answer) in attempts {
                let signed_in = token.is_some();
                assert_eq!(
                    answer.status(),
                    StatusCode::NOT_FOUND,
                    "{what} under {victim} (signed in: {signed_in})"
                );
                let answer: Value = answer.json().await.unwrap();
                assert_eq!(answer["detail"], "unknown client_id");
            }
        }
    }
    until_held(&target.client, &target.server, held + 2).await;
    target.send_as_guest("198.51.100.31", room, "after").await;
    for poll in [alices, guests] {
        let answer: Value = poll.await.unwrap().unwrap().json().await.unwrap();
        assert_eq!(answer["status"], "success", "{answer}");
        assert_eq!(answer["messages"][0]["text"], "after", "{answer}");
    }
    target.assert_available().await;
    target.assert_memory_within(16);
}

/// Finding 9: a fresh account asks to make `general` its private room, and then rooms in use
/// (with messages, with a held poll). Each is answered 409, one answer whatever the reason, and
/// guests still read and follow `general`.
#[tokio::test]
async fn a_fresh_account_cannot_take_the_default_room_or_a_room_in_use_private() {
    let _turn = ONE_ATTACK_AT_A_TIME.lock().await;
    let target = Target::start(&[]).await;
    let squatter = target.account("squatter", "203.0.113.9").await;
    target
        .send_as_guest("198.51.100.40", "lobby", "we are here")
        .await;
    let held = held_polls(&target.client, &target.server).await;
    let waiting = tokio::spawn(
        target
            .request(
                reqwest::Method::GET,
                "/api/poll?client_id=waiter&room=waiting-room&timeout=30",
                "198.51.100.41",
            )
            .send(),
    );
    until_held(&target.client, &target.server, held + 1).await;

    let take = |room: &str| {
        target
            .request(reqwest::Method::POST, "/api/rooms", "203.0.113.9")
            .bearer_auth(&squatter)
            .json(&json!({"name": room, "private": true}))
            .send()
    };
    let mut refusals = Vec::new();
    for room in ["general", "lobby", "waiting-room"] {
        let answer = take(room).await.unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::CONFLICT,
            "making {room} private"
        );
        refusals.push(answer.json::<Value>().await.unwrap());
    }
    assert!(
        refusals.iter().all(|refusal| *refusal == refusals[0]),
        "one answer for every room in use: {refusals:?}"
    );
    // A room nobody uses may be made private: the refusals are not about the account.
    assert_eq!(take("hideout").await.unwrap().status(), StatusCode::CREATED);

    let general = target
        .request(
            reqwest::Method::GET,
            "/api/history?room=general",
            "198.51.100.42",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(general.status(), StatusCode::OK);
    let cursor = target
        .send_as_guest("198.51.100.42", "general", "hello")
        .await;
    let held = held_polls(&target.client, &target.server).await;
    let follow = tokio::spawn(
        target
            .request(
                reqwest::Method::GET,
                &format!("/api/poll?client_id=regular&room=general&last_message_id={cursor}"),
                "198.51.100.42",
            )
            .send(),
    );
    until_held(&target.client, &target.server, held + 1).await;
    target
        .send_as_guest("198.51.100.43", "general", "hello again")
        .await;
    let answer: Value = follow.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(answer["messages"][0]["text"], "hello again", "{answer}");
    waiting.abort();
    target.assert_available().await;
    target.assert_memory_within(16);
}
