//! What the scenarios poll and send through, over either client: `Connection`, the `Response`
//! both clients lend out, the `Cursor` a poll starts from, and the parts of a send both build
//! their requests from (`send_parts`), so the two clients put the same requests on the wire.

use std::{io::Write, net::SocketAddr};

use anyhow::Result;

use crate::{
    hyper_conn,
    hyper_conn::HyperConn,
    raw_conn::{poll_request, send_request, Conn},
    HttpClient, Kind,
};

/// A response, borrowed from its connection until the next request (the raw client's buffer,
/// or the last answer the hyper client kept).
pub(crate) struct Response<'a> {
    pub(crate) status: u16,
    pub(crate) body: &'a [u8],
    pub(crate) etag: Option<&'a [u8]>,
    pub(crate) last_modified: Option<&'a [u8]>,
}

/// Where a client is in a room's stream (empty: nowhere yet). Reused from poll to poll.
#[derive(Clone, Default)]
pub(crate) struct Cursor {
    pub(crate) last_id: String,
    pub(crate) etag: String,
    pub(crate) last_modified: String,
}

/// A send's path, content type and body.
pub(crate) fn send_parts(kind: Kind, room: &str, text: &str) -> (String, &'static str, String) {
    match kind {
        Kind::Ours => (
            "/api/send".to_owned(),
            "application/json",
            format!(r#"{{"sender":"bench","text":"{text}","room":"{room}"}}"#),
        ),
        Kind::Nchan => (format!("/pub/{room}"), "text/plain", text.to_owned()),
    }
}

/// Writes a poll's request target (path and query) into `out`: the same for both clients.
pub(crate) fn write_poll_target(
    out: &mut impl Write,
    kind: Kind,
    room: &str,
    client: usize,
    cursor: &Cursor,
) {
    // Writing to memory cannot fail.
    match kind {
        Kind::Ours => {
            let _ = write!(out, "/api/poll?client_id=c{client}&room={room}&timeout=60");
            if !cursor.last_id.is_empty() {
                let _ = write!(out, "&last_message_id={}", cursor.last_id);
            }
        }
        Kind::Nchan => {
            let _ = write!(out, "/sub/{room}");
        }
    }
}

/// A connection of either client: what the scenarios poll and send through.
pub(crate) enum Connection {
    /// The raw client and the buffer its poll requests are written into.
    Raw {
        conn: Conn,
        request: Vec<u8>,
    },
    Hyper(HyperConn),
}

impl Connection {
    pub(crate) async fn connect(client: HttpClient, addr: SocketAddr) -> Result<Self> {
        Ok(match client {
            HttpClient::Raw => Self::Raw {
                conn: Conn::connect(addr).await?,
                request: Vec::with_capacity(256),
            },
            HttpClient::Hyper => Self::Hyper(HyperConn::connect(addr).await?),
        })
    }

    pub(crate) async fn reconnect(&mut self) -> Result<()> {
        match self {
            Self::Raw { conn, .. } => conn.reconnect().await,
            Self::Hyper(conn) => conn.reconnect().await,
        }
    }

    /// Polls `room` as client number `client`, from `cursor`, with `authorization` as the
    /// `Authorization` header's value if there is one (`Bearer TOKEN`).
    pub(crate) async fn poll(
        &mut self,
        kind: Kind,
        room: &str,
        client: usize,
        cursor: &Cursor,
        authorization: Option<&str>,
    ) -> Result<Response<'_>> {
        match self {
            Self::Raw { conn, request } => {
                poll_request(kind, room, client, cursor, authorization, request);
                conn.roundtrip(request).await
            }
            Self::Hyper(conn) => {
                let request = hyper_conn::poll_request(kind, room, client, cursor, authorization)?;
                conn.roundtrip(request).await
            }
        }
    }

    /// Sends `text` to `room`; returns the answer's status.
    pub(crate) async fn send(&mut self, kind: Kind, room: &str, text: &str) -> Result<u16> {
        match self {
            Self::Raw { conn, .. } => Ok(conn
                .roundtrip(&send_request(kind, room, text))
                .await?
                .status),
            Self::Hyper(conn) => {
                let request = hyper_conn::send_request(kind, room, text)?;
                Ok(conn.roundtrip(request).await?.status)
            }
        }
    }
}
