//! Connection handling: a client that never finishes its headers is cut off after the header
//! read timeout, and one that never finishes its body after the body deadline (408), while a
//! held poll outlives both untouched; a body over the limit is answered 413 and the rest of it
//! read, so the connection goes on; an address past its cap on connections is answered 503 at
//! once, but trusted proxies and loopback peers are not capped; a client that hangs up while
//! its poll is held releases it at once; the listen backlog is the one configured, and a
//! warning says when the kernel caps it; the server lifts a low soft limit on open files.
//!
//! The real binary where the process matters; `serve` in-process, on tokio's paused clock,
//! where the test is about waiting.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use longpoll_chat::server::http::serve::{self, ServeOptions};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinSet,
};

use crate::common::{
    app::TestApp,
    process::{client, until_held, Server},
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
async fn a_missing_body_is_cut_off_after_the_configured_body_deadline() {
    let server = Server::start_with("memory", "127.0.0.1:0", &["--body-read-timeout-secs", "1"]);
    let mut socket = TcpStream::connect(server.addr).await.unwrap();
    socket
        .write_all(
            b"POST /api/send HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"text\":",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(10), read_until_closed(&mut socket))
        .await
        .expect("the server answers and closes the connection");
    let waited = started.elapsed();
    assert_eq!(answer.status, 408, "{answer:?}");
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

/// The app served in-process by `serve` with `options` on a port of its own, so that tokio's
/// clock (paused in the tests that wait) is the server's too.
async fn serve_app(options: ServeOptions) -> SocketAddr {
    let app = TestApp::new().await;
    let listener = serve::listen("127.0.0.1:0".parse().unwrap(), 128).unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve::serve(
        listener,
        app.router,
        options,
        std::future::pending(),
    ));
    addr
}

/// An HTTP/1.1 answer as read off the socket.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl RawAnswer {
    fn parse(bytes: &[u8]) -> Option<(RawAnswer, usize)> {
        let end = bytes.windows(4).position(|window| window == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&bytes[..end]).to_lowercase();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .map_or(0, |length| length.trim().parse().unwrap());
        let body = bytes.get(end..end + length)?.to_vec();
        Some((RawAnswer { status, head, body }, end + length))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
    }
}

/// Reads one whole answer (its `Content-Length`) from `socket`, which stays open.
async fn read_answer(socket: &mut TcpStream) -> RawAnswer {
    let mut bytes = Vec::new();
    loop {
        if let Some((answer, _)) = RawAnswer::parse(&bytes) {
            return answer;
        }
        let mut buffer = [0; 8192];
        let read = socket.read(&mut buffer).await.unwrap();
        assert!(read > 0, "closed before a whole answer: {bytes:?}");
        bytes.extend_from_slice(&buffer[..read]);
    }
}

/// Reads until the server closes the connection; the one answer it sent.
async fn read_until_closed(socket: &mut TcpStream) -> RawAnswer {
    let mut bytes = Vec::new();
    socket.read_to_end(&mut bytes).await.unwrap();
    let (answer, length) = RawAnswer::parse(&bytes)
        .unwrap_or_else(|| panic!("no whole answer: {:?}", String::from_utf8_lossy(&bytes)));
    assert_eq!(
        length,
        bytes.len(),
        "one answer, then the connection closed"
    );
    answer
}

const BODY_DEADLINE: Duration = Duration::from_secs(15);

#[tokio::test(start_paused = true)]
async fn a_body_that_never_comes_is_answered_408_at_the_body_deadline() {
    let addr = serve_app(ServeOptions {
        body_read_timeout: BODY_DEADLINE,
        ..ServeOptions::default()
    })
    .await;
    let started = tokio::time::Instant::now();
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(
            b"POST /api/send HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"text\":",
        )
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(120), read_until_closed(&mut socket))
        .await
        .expect("answered within the body deadline");
    assert_eq!(started.elapsed(), BODY_DEADLINE);
    assert_eq!(answer.status, 408, "{answer:?}");
    assert_eq!(answer.json()["status"], "error");
    assert!(answer.json()["detail"].as_str().unwrap().contains("body"));
}

#[tokio::test(start_paused = true)]
async fn a_held_stream_outlives_the_body_deadline() {
    let addr = serve_app(ServeOptions {
        body_read_timeout: BODY_DEADLINE,
        ..ServeOptions::default()
    })
    .await;
    let started = tokio::time::Instant::now();
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let body = json!({"client_id": "patient", "timeout": 40, "rooms": [{"room": "quiet"}]});
    let body = body.to_string();
    let request = format!(
        "POST /api/stream HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(120), read_answer(&mut socket))
        .await
        .expect("the stream's own timeout answers it");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["status"], "timeout");
    assert_eq!(started.elapsed(), Duration::from_secs(40));
}

#[tokio::test]
async fn a_body_over_the_limit_is_answered_413_and_the_connection_goes_on() {
    let addr = serve_app(ServeOptions::default()).await;
    let socket = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = socket.into_split();
    let body = vec![b' '; 1024 * 1024];
    // Like a proxy: the whole body is sent whatever the server answers meanwhile.
    let sending = tokio::spawn(async move {
        let head = format!(
            "POST /api/send HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        writer.write_all(head.as_bytes()).await?;
        writer.write_all(&body).await?;
        writer
            .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            .await?;
        Ok::<_, std::io::Error>(writer)
    });
    let mut bytes = Vec::new();
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let mut buffer = [0; 8192];
        let read = reader.read(&mut buffer).await.unwrap();
        assert!(read > 0, "closed after {answers:?}");
        bytes.extend_from_slice(&buffer[..read]);
        while let Some((answer, length)) = RawAnswer::parse(&bytes) {
            answers.push(answer);
            bytes.drain(..length);
        }
    }
    sending.await.unwrap().expect("the whole body was taken");
    assert_eq!(answers[0].status, 413, "{:?}", answers[0]);
    assert_eq!(
        answers[0].json(),
        json!({"status": "error", "detail": "request body is too large"})
    );
    assert_eq!(answers[1].status, 200, "{:?}", answers[1]);
}

/// Opens a connection to `addr` and checks it is served (a `GET /health` on it).
async fn served_connection(addr: SocketAddr) -> TcpStream {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_answer(&mut socket).await.status, 200);
    socket
}

#[tokio::test(start_paused = true)]
async fn connections_past_the_per_address_cap_are_answered_503_at_once() {
    let addr = serve_app(ServeOptions {
        max_connections_per_address: 3,
        cap_loopback: true,
        ..ServeOptions::default()
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(served_connection(addr).await);
    }
    // Refused without sending anything: the answer does not wait for headers that may never
    // come.
    let started = tokio::time::Instant::now();
    let mut refused = TcpStream::connect(addr).await.unwrap();
    let answer = read_until_closed(&mut refused).await;
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("5"));
    assert_eq!(answer.json()["status"], "error");
    // With a request sent, the same.
    let mut refused = TcpStream::connect(addr).await.unwrap();
    refused
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_until_closed(&mut refused).await.status, 503);
    // Once one closes, its place is free again (as soon as the server has seen it close).
    drop(open.pop());
    let mut tries = 0;
    loop {
        let mut socket = TcpStream::connect(addr).await.unwrap();
        socket
            .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        if read_answer(&mut socket).await.status == 200 {
            break;
        }
        tries += 1;
        assert!(tries < 100, "the closed connection's place never came free");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn trusted_proxies_and_loopback_peers_are_not_capped() {
    let behind_nginx = serve_app(ServeOptions {
        max_connections_per_address: 1,
        cap_loopback: true,
        trusted_proxies: "127.0.0.1".parse().unwrap(),
        ..ServeOptions::default()
    })
    .await;
    let local = serve_app(ServeOptions {
        max_connections_per_address: 1,
        ..ServeOptions::default()
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(served_connection(behind_nginx).await);
        open.push(served_connection(local).await);
    }
}
