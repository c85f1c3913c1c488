//! The second client implementation (`--client hyper`): hyper 1's HTTP/1.1 client, one
//! connection per simulated client (`hyper::client::conn::http1`, kept alive), used as its
//! documentation shows and with its defaults: a request is an `http::Request` with an owned URI
//! and header map, the connection runs in a task of its own that the request reaches through a
//! channel, and an answer's body is collected into `Bytes`.
//!
//! It sends the same requests as the raw client (`poll_request`, `send_request`: the same
//! method, target, headers and body; hyper writes header names in lower case), so the servers
//! do the same work for both and only the client's cost differs. The test below checks that.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    client::conn::http1::{self, SendRequest},
    header::{
        HeaderMap, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HOST, IF_MODIFIED_SINCE,
        IF_NONE_MATCH, LAST_MODIFIED,
    },
    Request,
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::{
    connection::{
        send_parts, write_poll_target, write_stream_body, Cursor, FollowedRoom, Response,
        STREAM_PATH,
    },
    Kind,
};

pub(crate) struct HyperConn {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
    /// The last answer's status, headers and body, kept until the next request (`Response`
    /// borrows them, as it borrows the raw client's buffer).
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl HyperConn {
    pub(crate) async fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr).await.context("connect")?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // Ends when the server closes the connection or this side drops `sender`.
        tokio::spawn(connection);
        Ok(Self {
            addr,
            sender,
            status: 0,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        })
    }

    pub(crate) async fn reconnect(&mut self) -> Result<()> {
        *self = Self::connect(self.addr).await?;
        Ok(())
    }

    pub(crate) async fn roundtrip(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<'_>> {
        self.sender.ready().await?;
        let (head, body) = self.sender.send_request(request).await?.into_parts();
        self.body = body.collect().await?.to_bytes();
        self.status = head.status.as_u16();
        self.headers = head.headers;
        Ok(Response {
            status: self.status,
            body: &self.body,
            etag: self.headers.get(ETAG).map(|value| value.as_bytes()),
            last_modified: self
                .headers
                .get(LAST_MODIFIED)
                .map(|value| value.as_bytes()),
        })
    }
}

/// The request of `crate::raw_conn::poll_request`, as an `http::Request`.
pub(crate) fn poll_request(
    kind: Kind,
    room: &str,
    client: usize,
    cursor: &Cursor,
    authorization: Option<&str>,
) -> Result<Request<Full<Bytes>>> {
    let mut target = Vec::with_capacity(128);
    write_poll_target(&mut target, kind, room, client, cursor);
    let request = Request::get(String::from_utf8(target)?).header(HOST, "bench");
    let request = match authorization {
        Some(value) => request.header(AUTHORIZATION, value),
        None => request,
    };
    let request =
        if kind == Kind::Nchan && !cursor.etag.is_empty() && !cursor.last_modified.is_empty() {
            request
                .header(IF_NONE_MATCH, &cursor.etag)
                .header(IF_MODIFIED_SINCE, &cursor.last_modified)
        } else {
            request
        };
    Ok(request.body(Full::new(Bytes::new()))?)
}

/// The request of `crate::raw_conn::stream_request`, as an `http::Request`.
pub(crate) fn stream_request(
    client: usize,
    rooms: &[FollowedRoom],
    authorization: Option<&str>,
) -> Result<Request<Full<Bytes>>> {
    let mut body = Vec::with_capacity(64 + 48 * rooms.len());
    write_stream_body(&mut body, client, rooms);
    let request = Request::post(STREAM_PATH).header(HOST, "bench");
    let request = match authorization {
        Some(value) => request.header(AUTHORIZATION, value),
        None => request,
    };
    Ok(request
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_LENGTH, body.len())
        .body(Full::new(Bytes::from(body)))?)
}

/// The request of `crate::raw_conn::send_request`, as an `http::Request`.
pub(crate) fn send_request(kind: Kind, room: &str, text: &str) -> Result<Request<Full<Bytes>>> {
    let (path, content_type, body) = send_parts(kind, room, text);
    Ok(Request::post(path)
        .header(HOST, "bench")
        .header(CONTENT_TYPE, content_type)
        .header(CONTENT_LENGTH, body.len())
        .body(Full::new(Bytes::from(body)))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    /// The bytes hyper writes for `request`, read by a server that answers with an empty 200.
    async fn written_by_hyper(request: Request<Full<Bytes>>) -> Vec<u8> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            loop {
                socket.read_buf(&mut buf).await.unwrap();
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut parsed = httparse::Request::new(&mut headers);
                if let httparse::Status::Complete(head) = parsed.parse(&buf).unwrap() {
                    let length = parsed
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                        .map_or(0, |h| {
                            std::str::from_utf8(h.value).unwrap().parse().unwrap()
                        });
                    if buf.len() >= head + length {
                        break;
                    }
                }
            }
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            buf
        });
        let mut conn = HyperConn::connect(addr).await.unwrap();
        assert_eq!(conn.roundtrip(request).await.unwrap().status, 200);
        server.await.unwrap()
    }

    /// Method, target, headers (names in lower case, in order) and body of a request.
    fn shape(bytes: &[u8]) -> (String, String, Vec<(String, String)>, Vec<u8>) {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Request::new(&mut headers);
        let httparse::Status::Complete(head) = parsed.parse(bytes).unwrap() else {
            panic!("incomplete request");
        };
        let headers = parsed
            .headers
            .iter()
            .map(|h| {
                let value = String::from_utf8(h.value.to_vec()).unwrap();
                (h.name.to_ascii_lowercase(), value)
            })
            .collect();
        (
            parsed.method.unwrap().to_owned(),
            parsed.path.unwrap().to_owned(),
            headers,
            bytes[head..].to_vec(),
        )
    }

    #[tokio::test]
    async fn hyper_sends_the_raw_clients_requests() {
        let first = Cursor::default();
        let later = Cursor {
            last_id: "01abc".into(),
            etag: "7".into(),
            last_modified: "Thu, 26 Nov 2026 10:00:00 GMT".into(),
        };
        let bearer = Some("Bearer lpc_0123456789abcdef");
        for kind in [Kind::Ours, Kind::Nchan] {
            for cursor in [&first, &later] {
                for authorization in [None, bearer] {
                    let mut raw = Vec::new();
                    crate::raw_conn::poll_request(
                        kind,
                        "room1",
                        42,
                        cursor,
                        authorization,
                        &mut raw,
                    );
                    let request = poll_request(kind, "room1", 42, cursor, authorization).unwrap();
                    let hyper = written_by_hyper(request).await;
                    assert_eq!(shape(&hyper), shape(&raw));
                }
            }
            let raw = crate::raw_conn::send_request(kind, "room1", "3 123456");
            let hyper = written_by_hyper(send_request(kind, "room1", "3 123456").unwrap());
            assert_eq!(shape(&hyper.await), shape(&raw));
        }
        let rooms = [
            FollowedRoom {
                name: "room1".into(),
                index: 1,
                last_id: "01abc".into(),
                live_version: Some(7),
            },
            FollowedRoom {
                name: "room2".into(),
                index: 2,
                last_id: String::new(),
                live_version: None,
            },
        ];
        for authorization in [None, bearer] {
            let (mut body, mut raw) = (Vec::new(), Vec::new());
            crate::raw_conn::stream_request(42, &rooms, authorization, &mut body, &mut raw);
            let hyper = written_by_hyper(stream_request(42, &rooms, authorization).unwrap());
            assert_eq!(shape(&hyper.await), shape(&raw));
        }
    }
}
