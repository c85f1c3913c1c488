//! What the scenarios poll and send through, over either client: `Connection`, the `Response`
//! both clients lend out, the `Cursor` a poll starts from, the rooms a stream follows
//! (`FollowedRoom`, with the version of who is online and typing it last got, if it asks), and
//! the parts of a send and a stream both build their requests from (`send_parts`,
//! `write_stream_body`), so the two clients put the same requests on the wire.

use std::{io::Write, net::SocketAddr};

use anyhow::Result;

use crate::{
    hyper_conn,
    hyper_conn::HyperConn,
    raw_conn::{poll_request, send_request, stream_request, Conn},
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

/// A room a multi-room stream (`POST /api/stream`) follows, and where the client is in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FollowedRoom {
    pub(crate) name: String,
    /// The room's number in its scenario (what `Delivery::room` reports).
    pub(crate) index: u32,
    /// The id of the last message received from the room (empty: none yet, wait for the next).
    pub(crate) last_id: String,
    /// The `live.version` (who is online and typing) last received from the room, if the stream
    /// asks for it (`Some(0)` before the first); `None`: the stream does not ask.
    pub(crate) live_version: Option<u64>,
}

/// The path of the multi-room stream.
pub(crate) const STREAM_PATH: &str = "/api/stream";

/// Writes a stream's JSON body into `out` for client number `client`: the same for both clients.
/// Room names and message ids need no escaping (the server allows neither quotes nor
/// backslashes in room names, and its ids are alphanumeric).
pub(crate) fn write_stream_body(out: &mut impl Write, client: usize, rooms: &[FollowedRoom]) {
    // Writing to memory cannot fail. The longest timeout the server takes: the scenarios end
    // their polls themselves.
    let _ = write!(out, r#"{{"client_id":"m{client}","timeout":60,"rooms":["#);
    for (n, room) in rooms.iter().enumerate() {
        let comma = if n == 0 { "" } else { "," };
        let _ = write!(out, r#"{comma}{{"room":"{}""#, room.name);
        if !room.last_id.is_empty() {
            let _ = write!(out, r#","last_message_id":"{}""#, room.last_id);
        }
        if let Some(version) = room.live_version {
            let _ = write!(out, r#","live_version":{version}"#);
        }
        let _ = write!(out, "}}");
    }
    let _ = write!(out, "]}}");
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
    /// The raw client, the buffer its poll and stream requests are written into, and the one
    /// a stream's body is written into first (its length goes into the head).
    Raw {
        conn: Conn,
        request: Vec<u8>,
        body: Vec<u8>,
    },
    Hyper(HyperConn),
}

impl Connection {
    pub(crate) async fn connect(client: HttpClient, addr: SocketAddr) -> Result<Self> {
        Ok(match client {
            HttpClient::Raw => Self::Raw {
                conn: Conn::connect(addr).await?,
                request: Vec::with_capacity(256),
                body: Vec::new(),
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
            Self::Raw { conn, request, .. } => {
                poll_request(kind, room, client, cursor, authorization, request);
                conn.roundtrip(request).await
            }
            Self::Hyper(conn) => {
                let request = hyper_conn::poll_request(kind, room, client, cursor, authorization)?;
                conn.roundtrip(request).await
            }
        }
    }

    /// Holds one multi-room stream (`POST /api/stream`, ours only) as client number `client`,
    /// each of `rooms` from its own cursor.
    pub(crate) async fn stream(
        &mut self,
        client: usize,
        rooms: &[FollowedRoom],
        authorization: Option<&str>,
    ) -> Result<Response<'_>> {
        match self {
            Self::Raw {
                conn,
                request,
                body,
            } => {
                stream_request(client, rooms, authorization, body, request);
                conn.roundtrip(request).await
            }
            Self::Hyper(conn) => {
                let request = hyper_conn::stream_request(client, rooms, authorization)?;
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
