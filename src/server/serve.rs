//! Serving the app over TCP with hyper, where `axum::serve` has no knobs: a header read timeout
//! (which also bounds how long a kept-alive connection may sit idle between requests, so slow
//! or dead sockets cannot pile up), TCP_NODELAY, the remote address for the rate limit, and a
//! graceful shutdown that lets in-flight requests finish.
//!
//! The header timeout only runs while hyper waits for a request's headers, never while a
//! request is being handled, so held polls are never cut by it.
//!
//! The listening socket's backlog is ours to set too: tokio's `TcpListener::bind` asks for
//! 128, like the standard library, and a burst of clients connecting at once (a reconnect
//! storm after a restart) overflows that: each dropped handshake waits a second or more for
//! its client's retry.
//!
//! HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a proxy in front terminates, and
//! hyper-util's version-sniffing `auto` connection keeps a buffer of its own in every held
//! poll.

use std::{future::Future, io, net::SocketAddr, pin::pin, time::Duration};

use axum::{extract::ConnectInfo, Router};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::net::{TcpListener, TcpSocket};
use tower::ServiceExt;

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
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        // Answers are small: one copy into one buffer and one write(2) beat a vectored write,
        // the more so when a send answers thousands of polls at once.
        .writev(false)
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
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
        // Chat answers are small and latency-bound: send them at once, not after Nagle's delay.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let service = app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request
            });
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %remote, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
