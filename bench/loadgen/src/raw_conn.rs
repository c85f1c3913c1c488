//! The hand-written HTTP/1.1 client (`--client raw`, the default): one keep-alive `TcpStream`,
//! answers parsed in place with `httparse`, and the requests both clients send.
//!
//! Nothing is allocated per poll: a poll request is written into a buffer the caller reuses
//! (`poll_request`), and an answer is read into the connection's buffer and lent out as a
//! `Response` until the next request. The bench's counters and the churn scenario always use
//! this client.

use std::{io::Write as _, net::SocketAddr, ops::Range};

use anyhow::{bail, Context, Result};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    connection::{
        send_parts, write_poll_target, write_stream_body, Cursor, FollowedRoom, Response,
        STREAM_PATH,
    },
    Kind,
};

/// A keep-alive connection of the raw client, with the buffer its answers are read into.
pub(crate) struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` the last response took; dropped before the next request.
    consumed: usize,
}

/// Where a response's parts lie in the connection's buffer.
struct Parsed {
    status: u16,
    body: Range<usize>,
    etag: Option<Range<usize>>,
    last_modified: Option<Range<usize>>,
}

impl Conn {
    pub(crate) async fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr).await.context("connect")?;
        stream.set_nodelay(true)?;
        Ok(Self {
            addr,
            stream,
            buf: Vec::with_capacity(4096),
            consumed: 0,
        })
    }

    pub(crate) async fn reconnect(&mut self) -> Result<()> {
        *self = Self::connect(self.addr).await?;
        Ok(())
    }

    pub(crate) async fn roundtrip(&mut self, request: &[u8]) -> Result<Response<'_>> {
        self.buf.drain(..self.consumed);
        self.consumed = 0;
        self.stream.write_all(request).await?;
        loop {
            if let Some(parsed) = parse(&self.buf)? {
                self.consumed = parsed.body.end;
                let part = |range: Range<usize>| &self.buf[range];
                return Ok(Response {
                    status: parsed.status,
                    body: part(parsed.body),
                    etag: parsed.etag.map(part),
                    last_modified: parsed.last_modified.map(part),
                });
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                bail!("connection closed");
            }
        }
    }
}

/// Parses the response at the start of `buf`, if all of it is there.
fn parse(buf: &[u8]) -> Result<Option<Parsed>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head) = response.parse(buf)? else {
        return Ok(None);
    };
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let length: usize =
        std::str::from_utf8(header("content-length").context("response without content-length")?)?
            .trim()
            .parse()?;
    if buf.len() < head + length {
        return Ok(None);
    }
    // Header values borrow from `buf`: their offsets in it.
    let range_in_buf = |value: &[u8]| {
        let start = value.as_ptr() as usize - buf.as_ptr() as usize;
        start..start + value.len()
    };
    Ok(Some(Parsed {
        status: response.code.unwrap_or(0),
        body: head..head + length,
        etag: header("etag").map(range_in_buf),
        last_modified: header("last-modified").map(range_in_buf),
    }))
}

/// Writes a poll request into `request` (cleared first; its buffer is reused), with an
/// `Authorization` header if `authorization` is given.
pub(crate) fn poll_request(
    kind: Kind,
    room: &str,
    client: usize,
    cursor: &Cursor,
    authorization: Option<&str>,
    request: &mut Vec<u8>,
) {
    request.clear();
    request.extend_from_slice(b"GET ");
    write_poll_target(request, kind, room, client, cursor);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: bench\r\n");
    if let Some(value) = authorization {
        request.extend_from_slice(b"Authorization: ");
        request.extend_from_slice(value.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    // Writing to a Vec cannot fail.
    if kind == Kind::Nchan && !cursor.etag.is_empty() && !cursor.last_modified.is_empty() {
        let _ = write!(
            request,
            "If-None-Match: {}\r\nIf-Modified-Since: {}\r\n",
            cursor.etag, cursor.last_modified
        );
    }
    request.extend_from_slice(b"\r\n");
}

/// Writes a multi-room stream request into `request`, its body first into `body` (both cleared
/// first; their buffers are reused), with an `Authorization` header if `authorization` is given.
pub(crate) fn stream_request(
    client: usize,
    rooms: &[FollowedRoom],
    authorization: Option<&str>,
    body: &mut Vec<u8>,
    request: &mut Vec<u8>,
) {
    body.clear();
    write_stream_body(body, client, rooms);
    request.clear();
    // Writing to a Vec cannot fail.
    let _ = write!(request, "POST {STREAM_PATH} HTTP/1.1\r\nHost: bench\r\n");
    if let Some(value) = authorization {
        let _ = write!(request, "Authorization: {value}\r\n");
    }
    let _ = write!(
        request,
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    request.extend_from_slice(body);
}

/// The request that sends `text` to `room`.
pub(crate) fn send_request(kind: Kind, room: &str, text: &str) -> Vec<u8> {
    let (path, content_type, body) = send_parts(kind, room, text);
    format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
