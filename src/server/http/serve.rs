//! Serving the app over TCP with hyper, where `axum::serve` has no knobs: a header read timeout
//! (which also bounds how long a kept-alive connection may sit idle between requests, so slow
//! or dead sockets cannot pile up), a body deadline, a cap on connections per client address,
//! TCP_NODELAY, the remote address for the rate limit, and a graceful shutdown that lets
//! in-flight requests finish.
//!
//! The header timeout only runs while hyper waits for a request's headers, and the body
//! deadline only while a handler waits for a body ([`body`]), never while a request is being
//! handled, so held polls are never cut by them. A body that misses its deadline is answered
//! 408 and its connection closed.
//!
//! The cap counts the connections of each peer address ([`per_address`]) and answers those
//! past it 503 at once, without reading their request, then closes them. It does not apply to
//! trusted proxies (`--trusted-proxies`: every client behind nginx shares nginx's address; the
//! proxy limits its clients itself) nor to loopback peers (a proxy or a load test on the same
//! host).
//!
//! The listening socket's backlog is ours to set too: tokio's `TcpListener::bind` asks for
//! 128, like the standard library, and a burst of clients connecting at once (a reconnect
//! storm after a restart) overflows that: each dropped handshake waits a second or more for
//! its client's retry.
//!
//! HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a proxy in front terminates, and
//! hyper-util's version-sniffing `auto` connection keeps a buffer of its own in every held
//! poll.

mod body;
mod per_address;

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::{pin, Pin},
    sync::Arc,
    task::{ready, Context, Poll},
    time::Duration,
};

use axum::{
    extract::ConnectInfo,
    http::{header, HeaderValue, Request, StatusCode},
    response::{IntoResponse, Response},
    routing::future::RouteFuture,
    Router,
};
use bytes::Bytes;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::{
    io::AsyncWrite,
    net::{TcpListener, TcpSocket, TcpStream},
    sync::Semaphore,
    time::Instant,
};
use tower::Service;

use self::{
    body::{BodyDeadline, DeadlineBody},
    per_address::ConnectionCounts,
};
use super::client_addr::TrustedProxies;

/// How connections are served, beyond the app itself.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Time to send a request's headers; also the idle limit of a kept-alive connection.
    pub header_read_timeout: Duration,
    /// Time from a request's start to the end of its body; past it, 408 and the connection
    /// closed.
    pub body_read_timeout: Duration,
    /// Connections one client address may hold at once (0: no cap).
    pub max_connections_per_address: usize,
    /// Their connections are never capped: many clients share each of them.
    pub trusted_proxies: TrustedProxies,
    /// Whether loopback peers (a proxy or load test on this host) are capped too.
    pub cap_loopback: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(15),
            max_connections_per_address: 256,
            trusted_proxies: TrustedProxies::default(),
            cap_loopback: false,
        }
    }
}

/// `Retry-After` of a connection refused for its address's cap.
const CONNECTION_RETRY_AFTER_SECS: u64 = 5;

/// How long a refused connection is kept to read what its client sends (so that closing it
/// does not reset the answer away), and how much is read.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
const REFUSAL_READ_BYTES: usize = 64 * 1024;

/// Refused connections lingering at once; past it, further ones are closed without an answer.
const MAX_LINGERING_REFUSALS: usize = 256;

/// Listens on `addr`, with up to `backlog` connections waiting to be accepted (the kernel caps
/// it at `net.core.somaxconn`). `SO_REUSEADDR`, as `TcpListener::bind` sets it: a restart
/// binds again while the old connections linger in TIME_WAIT.
pub fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Accepts connections until `shutdown` resolves, then waits for open connections to finish
/// their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        // Answers are small: one copy into one buffer and one write(2) beat a vectored write,
        // the more so when a send answers thousands of polls at once.
        .writev(false)
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    let counts = ConnectionCounts::new(options.max_connections_per_address);
    let refusals = Arc::new(Semaphore::new(MAX_LINGERING_REFUSALS));
    let refusal = refusal_bytes();
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let peer = remote.ip().to_canonical();
        let capped = options.max_connections_per_address > 0
            && !options.trusted_proxies.trusts(peer)
            && (options.cap_loopback || !peer.is_loopback());
        let slot = if capped {
            match counts.admit(peer) {
                Some(slot) => Some(slot),
                None => {
                    tracing::debug!(%remote, "connection refused: too many from its address");
                    if let Ok(permit) = refusals.clone().try_acquire_owned() {
                        let refusal = refusal.clone();
                        tokio::spawn(async move {
                            refuse(stream, refusal).await;
                            drop(permit);
                        });
                    }
                    continue;
                }
            }
        } else {
            None
        };
        // Chat answers are small and latency-bound: send them at once, not after Nagle's delay.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let service = ConnectionService {
            app: app.clone(),
            remote,
            body_read_timeout: options.body_read_timeout,
            body_deadline: Arc::default(),
        };
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %remote, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The app as one connection serves it: each request's body gets its deadline and the
/// request its remote address.
#[derive(Clone)]
struct ConnectionService {
    app: Router,
    remote: SocketAddr,
    body_read_timeout: Duration,
    body_deadline: Arc<BodyDeadline>,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: Request<Incoming>) -> Answer {
        let expects_continue = request
            .headers()
            .get(header::EXPECT)
            .is_some_and(|expect| expect.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let deadline = Instant::now() + self.body_read_timeout;
        let mut request = request.map(|body| {
            DeadlineBody::new(body, deadline, self.body_deadline.clone(), expects_continue)
        });
        request.extensions_mut().insert(ConnectInfo(self.remote));
        // Always ready: a `Router` has no back-pressure.
        let mut app = self.app.clone();
        Answer {
            inner: app.call(request),
            body_deadline: self.body_deadline.clone(),
        }
    }
}

/// The app's answer, or 408 when the request's body missed its deadline.
struct Answer {
    inner: RouteFuture<Infallible>,
    body_deadline: Arc<BodyDeadline>,
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let answer = ready!(Pin::new(&mut this.inner).poll(cx))?;
        if this.body_deadline.take_missed() {
            // Whatever the handler made of its failed body (a 400, say), the body is what
            // failed; hyper closes the connection after this answer, its body unread.
            return Poll::Ready(Ok(error_answer(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            )));
        }
        Poll::Ready(Ok(answer))
    }
}

/// The API's error shape, `{"status":"error","detail":"..."}`, for answers the server gives
/// before or instead of the app, on a connection it closes.
fn error_answer(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({ "status": "error", "detail": detail });
    let mut answer = (status, axum::Json(body)).into_response();
    answer
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    answer
}

/// The whole 503 answer to a connection past its address's cap, written as is.
fn refusal_bytes() -> Bytes {
    let body = serde_json::json!({
        "status": "error",
        "detail": "too many connections from this address, retry later",
    })
    .to_string();
    Bytes::from(format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: {CONNECTION_RETRY_AFTER_SECS}\r\ncache-control: no-store\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ))
}

/// Answers `stream` with `refusal` without waiting for its request (that wait is what the cap
/// is against), then reads and drops what the client sends for a moment before closing:
/// closing with unread data resets the connection, and a reset can discard the answer before
/// the client reads it.
async fn refuse(mut stream: TcpStream, refusal: Bytes) {
    let linger = async {
        let mut written = 0;
        while written < refusal.len() {
            stream.writable().await?;
            match stream.try_write(&refusal[written..]) {
                Ok(count) => written += count,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
        }
        std::future::poll_fn(|cx| Pin::new(&mut stream).poll_shutdown(cx)).await?;
        let mut buffer = [0; 4096];
        let mut left = REFUSAL_READ_BYTES;
        while left > 0 {
            stream.readable().await?;
            match stream.try_read(&mut buffer) {
                Ok(0) => break,
                Ok(count) => left = left.saturating_sub(count),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    };
    if let Ok(Err(error)) = tokio::time::timeout(REFUSAL_LINGER, linger).await {
        tracing::debug!(%error, "refusing a connection");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_whole_503_in_the_apis_error_shape() {
        let refusal = refusal_bytes();
        let text = std::str::from_utf8(&refusal).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        let lines: Vec<_> = head.split("\r\n").collect();
        assert!(lines.contains(&"retry-after: 5"), "{head}");
        assert!(lines.contains(&"connection: close"), "{head}");
        let length = format!("content-length: {}", body.len());
        assert!(lines.contains(&length.as_str()), "{head}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["status"], "error");
        assert!(json["detail"]
            .as_str()
            .unwrap()
            .contains("too many connections"));
    }
}
