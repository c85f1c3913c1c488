//! `/api/rooms/{room}/files`: uploading a file (a send), and fetching one or its thumbnail.
//! Who may do which is [`Chat`]'s; what a file is and where it lives is `server::files`'s.
//!
//! An upload's length is known before its body is read (`Content-Length`, which the server
//! holds it to): past `--max-upload-bytes` it is refused then, and whoever may not send to the
//! room is refused before a byte of the body is read.

use axum::{
    body::Body,
    extract::{DefaultBodyLimit, Multipart, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use object_store::GetRange;
use uuid::Uuid;

use super::{
    extract::{ApiCaller, ApiPath},
    ErrorBody,
};
use crate::{
    error::ChatError,
    model::{MessageText, RoomName, SendDraft, SendReceipt, SenderName},
    server::{chat::Chat, files::Part},
};

/// What a multipart body may carry besides the file: its boundaries, headers and the caption.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// The routes of this module, for [`super::routes`].
pub(super) fn routes() -> Router<Chat> {
    Router::new()
        // The upload's own limit is checked against its length before it is read.
        .route(
            "/api/rooms/{room}/files",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/rooms/{room}/files/{id}", get(file))
        .route("/api/rooms/{room}/files/{id}/thumbnail", get(thumbnail))
}

/// Uploads a file to the room and sends it as a message (`multipart/form-data`: one `file`
/// part, an optional `text` caption, and `sender` for a guest). The message carries
/// `attachment`; it answers like a send, and wakes polls and streams like one.
#[utoipa::path(
    post, path = "/api/rooms/{room}/files", tag = "files",
    params(("room" = String, Path, description = "The room")),
    request_body(content_type = "multipart/form-data", description = "`file` (required), `text`, `sender`"),
    responses(
        (status = 200, description = "Kept and sent", body = SendReceipt),
        (status = 400, description = "No file, an empty or undecodable one, an unknown part, a cut-off body, or a bad caption", body = ErrorBody),
        (status = 401, description = "A guest where guests may not upload, or a bad token", body = ErrorBody),
        (status = 403, description = "Naming someone else as sender", body = ErrorBody),
        (status = 404, description = "A private room the caller may not see", body = ErrorBody),
        (status = 411, description = "No Content-Length", body = ErrorBody),
        (status = 413, description = "Larger than `--max-upload-bytes`", body = ErrorBody),
        (status = 415, description = "Not multipart/form-data", body = ErrorBody),
        (status = 429, description = "Sending or uploading too fast (see Retry-After)", body = ErrorBody),
        (status = 503, description = "Too many uploads at once, or the files cannot be kept", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub(super) async fn upload(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath(room): ApiPath<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<SendReceipt>, ChatError> {
    let room = RoomName::parse(&room)?;
    let mut multipart = multipart.map_err(|_| ChatError::UnsupportedMediaType)?;
    let length = (headers.get(header::CONTENT_LENGTH))
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
        .ok_or(ChatError::LengthRequired)?;
    let max = chat.files().config().max_upload_bytes;
    if length > max + MULTIPART_OVERHEAD {
        return Err(ChatError::PayloadTooLarge);
    }
    chat.may_upload(&caller, &room)?;
    let _memory = chat.files().reserve(length)?;
    let cut_off = |_| ChatError::invalid("the upload is cut off or malformed");
    let (mut file, mut caption, mut sender) = (None, None, None);
    while let Some(field) = multipart.next_field().await.map_err(cut_off)? {
        match field.name() {
            Some("file") if file.is_none() => {
                let name = field.file_name().unwrap_or("file").to_owned();
                let bytes = field.bytes().await.map_err(cut_off)?;
                if bytes.len() as u64 > max {
                    return Err(ChatError::PayloadTooLarge);
                }
                file = Some((name, bytes));
            }
            Some("text") if caption.is_none() => {
                caption = Some(field.text().await.map_err(cut_off)?)
            }
            Some("sender") if sender.is_none() => {
                sender = Some(field.text().await.map_err(cut_off)?)
            }
            Some(name) => {
                return Err(ChatError::invalid(format!(
                "unexpected part {name:?}: send one `file`, and `text` and `sender` at most once"
            )))
            }
            None => return Err(ChatError::invalid("a part without a name")),
        }
    }
    let (name, bytes) = file.ok_or_else(|| ChatError::invalid("missing part `file`"))?;
    let draft = SendDraft {
        room,
        sender: sender.as_deref().map(SenderName::parse).transpose()?,
        text: MessageText::caption(caption.as_deref().unwrap_or_default())?,
    };
    Ok(Json(chat.upload(&caller, draft, &name, bytes).await?))
}

/// The file's bytes, with its type, `Content-Length`, range requests and an `ETag`, kept
/// privately for a year (a file never changes). An image the server decoded is shown inline;
/// anything else downloads, and never runs as a page. 404 unless the caller may read the room
/// now.
#[utoipa::path(
    get, path = "/api/rooms/{room}/files/{id}", tag = "files",
    params(
        ("room" = String, Path, description = "The room"),
        ("id" = String, Path, description = "The file's id"),
    ),
    responses(
        (status = 200, description = "The file"),
        (status = 206, description = "The part the Range asked for"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "A malformed room name or id", body = ErrorBody),
        (status = 401, description = "A bad token, or no identity on a server without guests", body = ErrorBody),
        (status = 404, description = "No such file, or a room the caller may not read", body = ErrorBody),
        (status = 416, description = "The range is not within the file", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub(super) async fn file(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath((room, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ChatError> {
    serve(chat, caller, room, id, Part::File, headers).await
}

/// An image's thumbnail: at most 1,200 pixels on its longest side, JPEG (PNG with
/// transparency), with the same rules as the file.
#[utoipa::path(
    get, path = "/api/rooms/{room}/files/{id}/thumbnail", tag = "files",
    params(
        ("room" = String, Path, description = "The room"),
        ("id" = String, Path, description = "The file's id"),
    ),
    responses(
        (status = 200, description = "The thumbnail"),
        (status = 206, description = "The part the Range asked for"),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "A malformed room name or id", body = ErrorBody),
        (status = 401, description = "A bad token, or no identity on a server without guests", body = ErrorBody),
        (status = 404, description = "No such image, or a room the caller may not read", body = ErrorBody),
        (status = 416, description = "The range is not within the thumbnail", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub(super) async fn thumbnail(
    State(chat): State<Chat>,
    ApiCaller(caller): ApiCaller,
    ApiPath((room, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ChatError> {
    serve(chat, caller, room, id, Part::Thumbnail, headers).await
}

async fn serve(
    chat: Chat,
    caller: crate::server::identity::Caller,
    room: String,
    id: String,
    part: Part,
    headers: HeaderMap,
) -> Result<Response, ChatError> {
    let room = RoomName::parse(&room)?;
    let id = Uuid::parse_str(&id).map_err(|_| ChatError::invalid("id is not a file id"))?;
    let etag = match part {
        Part::File => format!("\"{id}\""),
        Part::Thumbnail => format!("\"{id}-thumbnail\""),
    };
    // Checked before answering 304 too: a link is no way in.
    let range = requested_range(&headers);
    let served = chat.file(&caller, &room, id, part, range.clone()).await?;
    let private_year = HeaderValue::from_static("private, max-age=31536000, immutable");
    let not_modified = (headers.get(header::IF_NONE_MATCH))
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    if not_modified {
        let mut answer = StatusCode::NOT_MODIFIED.into_response();
        answer
            .headers_mut()
            .insert(header::CACHE_CONTROL, private_year);
        answer
            .headers_mut()
            .insert(header::ETAG, header_value(&etag));
        return Ok(answer);
    }
    let partial = range.is_some();
    let length = served.range.end - served.range.start;
    let mut answer = Response::new(Body::from_stream(served.body));
    *answer.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let set = answer.headers_mut();
    set.insert(header::CONTENT_TYPE, header_value(&served.content_type));
    set.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    set.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    set.insert(header::ETAG, header_value(&etag));
    set.insert(header::CACHE_CONTROL, private_year);
    set.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if partial {
        let content_range = format!(
            "bytes {}-{}/{}",
            served.range.start,
            served.range.end.saturating_sub(1),
            served.size
        );
        set.insert(header::CONTENT_RANGE, header_value(&content_range));
    }
    let disposition = if served.inline {
        "inline"
    } else {
        "attachment"
    };
    set.insert(
        header::CONTENT_DISPOSITION,
        header_value(&content_disposition(disposition, &served.name)),
    );
    if !served.inline {
        // Opened rather than downloaded anyway (a link typed in), it runs nothing.
        set.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'"),
        );
    }
    Ok(answer)
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266), the ASCII name
/// without quotes or backslashes.
fn content_disposition(disposition: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect();
    format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// One range of `Range: bytes=...` (several, or a malformed one, is answered whole, as RFC
/// 9110 allows).
fn requested_range(headers: &HeaderMap) -> Option<GetRange> {
    let spec = headers
        .get(header::RANGE)?
        .to_str()
        .ok()?
        .strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.trim().split_once('-')?;
    match (start.parse::<u64>().ok(), end.parse::<u64>().ok()) {
        (Some(start), Some(end)) if start <= end => Some(GetRange::Bounded(start..end + 1)),
        (Some(start), None) if end.is_empty() => Some(GetRange::Offset(start)),
        (None, Some(suffix)) if start.is_empty() && suffix > 0 => Some(GetRange::Suffix(suffix)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str) -> Option<GetRange> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        requested_range(&headers)
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(range("bytes=0-99"), Some(GetRange::Bounded(0..100)));
        assert_eq!(range("bytes=100-"), Some(GetRange::Offset(100)));
        assert_eq!(range("bytes=-5"), Some(GetRange::Suffix(5)));
        assert_eq!(range("bytes=5-1"), None);
        assert_eq!(range("bytes=0-1,4-5"), None);
        assert_eq!(range("items=0-1"), None);
    }

    #[test]
    fn a_name_is_quoted_safely() {
        assert_eq!(
            content_disposition("attachment", "a \"b\".txt"),
            "attachment; filename=\"a _b_.txt\"; filename*=UTF-8''a%20%22b%22.txt"
        );
        assert!(content_disposition("inline", "日本.png").contains("filename*=UTF-8''%E6%97%A5"));
    }
}
