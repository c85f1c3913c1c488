//! Connection handling of the real binary: a client that never finishes its headers is cut
//! off after the header read timeout, while a held poll outlives that timeout untouched; a
//! client that hangs up while its poll is held releases it at once; the listen backlog is the
//! one configured, and a warning says when the kernel caps it; the server lifts a low soft
//! limit on open files.
#![cfg(feature = "ssr")]

mod common;

use std::time::{Duration, Instant};

use common::process::{client, until_held, Server};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinSet,
};

#[tokio::test]
async fn unfinished_headers_are_cut_off_after_the_header_read_timeout() {
    let server = Server::start_with(
        "memory",
        "127.0.0.1:0",
        &["--header-read-timeout-secs", "1"],
    );
    let mut socket = TcpStream::connect(server.addr).await.unwrap();
    socket
        .write_all(b"GET /health HTTP/1.1\r\nHost: slow\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut buffer))
        .await
        .expect("the server closes the connection");
    let waited = started.elapsed();
    assert!(read.is_err() || buffer.is_empty() || buffer.starts_with(b"HTTP/1.1 408"));
    assert!(
        waited >= Duration::from_millis(900),
        "closed too early: {waited:?}"
    );
}

#[tokio::test]
async fn a_held_poll_outlives_the_header_read_timeout() {
    let server = Server::start_with(
        "memory",
        "127.0.0.1:0",
        &["--header-read-timeout-secs", "1"],
    );
    let client = client();
    let poll = tokio::spawn(
        client
            .get(server.url("/api/poll?client_id=patient&room=slow"))
            .send(),
    );
    until_held(&client, &server, 1).await;
    // Time passing is what this test is about: hold the poll past the header timeout.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    client
        .post(server.url("/api/send"))
        .json(&json!({"sender": "s", "text": "worth the wait", "room": "slow"}))
        .send()
        .await
        .unwrap();
    let answer: serde_json::Value = poll.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(answer["messages"][0]["text"], "worth the wait");
}

#[tokio::test]
async fn a_client_that_hangs_up_releases_its_held_poll_at_once() {
    let server = Server::start_with("memory", "127.0.0.1:0", &[]);
    let client = client();
    let mut socket = TcpStream::connect(server.addr).await.unwrap();
    socket
        .write_all(
            b"GET /api/poll?client_id=leaver&room=door&timeout=60 HTTP/1.1\r\nHost: t\r\n\r\n",
        )
        .await
        .unwrap();
    until_held(&client, &server, 1).await;
    drop(socket);
    // Far less than the poll's 60 s (10 s): the server notices the closed connection, not the
    // timeout.
    until_held(&client, &server, 0).await;
}

/// Linux completes handshakes into a listening socket's queue without the process, up to the
/// backlog (plus one); past it, it drops them, and their clients retry only after a second.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_listen_backlog_bounds_the_connections_waiting_to_be_accepted() {
    let backlog = 8;
    let server = Server::start_with(
        "memory",
        "127.0.0.1:0",
        &["--listen-backlog", &backlog.to_string()],
    );
    // Stopped, the server accepts nothing: every completed handshake waits in the queue.
    signal(&server, "STOP");
    let mut queued = Vec::new();
    for _ in 0..backlog {
        let connect =
            tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(server.addr));
        queued.push(connect.await.expect("room in the backlog").unwrap());
    }
    let mut late = JoinSet::new();
    for _ in 0..backlog {
        late.spawn(tokio::time::timeout(
            Duration::from_millis(500),
            TcpStream::connect(server.addr),
        ));
    }
    let connected = late
        .join_all()
        .await
        .into_iter()
        .filter(Result::is_ok)
        .count();
    // One more fits; two handshakes processed at the same instant can both pass the kernel's
    // check. With the default backlog (4,096) all of them would connect.
    assert!(
        connected <= backlog / 2,
        "{connected} of {backlog} more connected past a full backlog"
    );
    signal(&server, "CONT");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_listen_backlog_the_kernel_caps_is_reported_at_start() {
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap();
    let somaxconn: u32 = somaxconn.trim().parse().unwrap();
    let server = Server::start_with("memory", "127.0.0.1:0", &["--listen-backlog", "65535"]);
    let warned = server
        .startup_log
        .iter()
        .any(|line| line.contains("WARN") && line.contains("somaxconn"));
    assert_eq!(warned, somaxconn < 65_535, "{:#?}", server.startup_log);
}

fn signal(server: &Server, name: &str) {
    let pid = server.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// The soft and hard limits on open files of process `pid`, from `/proc`.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .unwrap();
    let mut values = line.split_whitespace();
    (values.next().unwrap().into(), values.next().unwrap().into())
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_server_lifts_a_low_open_file_limit_and_holds_polls_past_it() {
    // Each held poll is an open connection: more of them than the limit the server starts with.
    let polls = 100;
    let (_, hard) = open_file_limits(std::process::id());
    assert!(
        hard.parse::<u64>().is_ok_and(|hard| hard >= 2 * polls),
        "this test needs a hard limit on open files of {} or more, not {hard}",
        2 * polls
    );
    let server = Server::start_with_open_file_limit("-Sn 64", &[]);
    let (soft, hard) = open_file_limits(server.child.id());
    assert_eq!(soft, hard, "the soft limit is lifted to the hard one");
    let _held = hold_polls(&server, polls, "many").await;
    until_held(&client(), &server, polls).await;
}

/// Opens `count` connections that each hold a poll (client ids `{prefix}0`, `{prefix}1`...).
async fn hold_polls(server: &Server, count: u64, prefix: &str) -> Vec<TcpStream> {
    let mut sockets = Vec::new();
    for client in 0..count {
        let mut socket = TcpStream::connect(server.addr).await.unwrap();
        let request = format!(
            "GET /api/poll?client_id={prefix}{client}&room=crowd&timeout=60 HTTP/1.1\r\nHost: t\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        sockets.push(socket);
    }
    sockets
}

/// The server's startup log lines at `level` that mention `what`.
fn logged<'a>(server: &'a Server, level: &str, what: &str) -> Vec<&'a String> {
    let lines = server.startup_log.iter();
    lines
        .filter(|line| line.contains(level) && line.contains(what))
        .collect()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_default_poll_cap_follows_a_low_open_file_limit_and_an_explicit_one_warns() {
    // 256 open files are kept for the server's own use: a hard limit of 266 leaves 10 polls.
    let server = Server::start_with_open_file_limit("-n 266", &[]);
    let said = logged(
        &server,
        "INFO",
        "--max-held-polls follows the open-file limit",
    );
    assert!(
        said.iter().any(|line| line.contains("max_held_polls=10")),
        "{:#?}",
        server.startup_log
    );
    assert!(logged(&server, "WARN", "open-file").is_empty());
    let _held = hold_polls(&server, 10, "capped").await;
    let client = client();
    until_held(&client, &server, 10).await;
    let refused = client
        .get(server.url("/api/poll?client_id=one-too-many&timeout=5"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503, "past the cap that follows the limit");

    let explicit = Server::start_with_open_file_limit("-n 266", &["--max-held-polls", "5000"]);
    let warned = logged(
        &explicit,
        "WARN",
        "open-file limit is too low for --max-held-polls",
    );
    assert_eq!(warned.len(), 1, "{:#?}", explicit.startup_log);
}
