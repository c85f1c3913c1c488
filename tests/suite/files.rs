//! Files and pictures (`POST /api/rooms/{room}/files`, `GET` on a file's `url` and
//! `thumbnail_url`): an upload is a send that carries the file; a decoded image is shown
//! inline with a thumbnail, anything else (an HTML page named `.png`) only downloads; a file
//! goes only to who may read its room now; a size past the limit is refused before anything is
//! kept; deleting the message, the room, or retention removes the file (the sweep finds what
//! no message carries). The same cases run on memory storage and, in `files_s3`, on a real
//! S3-compatible server.

use std::{io::Cursor, time::Duration};

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use image::{ImageFormat, Rgb, RgbImage};
use longpoll_chat::model::RoomName;
use longpoll_chat::server::{
    chat::ChatOptions,
    files::{Files, FilesConfig, FilesLocation, Part},
    BrokerConfig,
};
use serde_json::Value;

use crate::common::{
    accounts::{assert_refused, bearer, empty_request, json_request, private_room, signed_in},
    app::{get, Answer, Reply, Setup, TestApp},
};

const BOUNDARY: &str = "XyZzy-boundary";

/// A multipart body of `parts`: `(name, file name, bytes)`.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend(format!("--{BOUNDARY}\r\n").bytes());
        match file_name {
            Some(file_name) => body.extend(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                     Content-Type: image/png\r\n\r\n"
                )
                .bytes(),
            ),
            None => body
                .extend(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").bytes());
    body
}

fn upload_request(room: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(format!("/api/rooms/{room}/files"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    RgbImage::from_pixel(width, height, Rgb([10, 120, 200]))
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .unwrap();
    bytes
}

/// Uploads `bytes` as `name` to `room`, as the token's account (or a guest, "gus").
async fn upload(
    app: &TestApp,
    token: Option<&str>,
    room: &str,
    name: &str,
    bytes: &[u8],
) -> Answer {
    let mut parts = vec![
        ("file", Some(name), bytes),
        ("text", None, b"look" as &[u8]),
    ];
    if token.is_none() {
        parts.push(("sender", None, b"gus"));
    }
    let request = upload_request(room, multipart(&parts));
    match token {
        Some(token) => app.call(bearer(request, token)).await,
        None => app.call(request).await,
    }
}

/// The attachment of the newest message of `room`.
async fn newest_attachment(app: &TestApp, token: &str, room: &str) -> Value {
    let history = app
        .call(bearer(get(&format!("/api/history?room={room}")), token))
        .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.json);
    let messages = history.json["messages"].as_array().unwrap();
    messages.last().unwrap()["attachment"].clone()
}

async fn fetch(app: &TestApp, token: Option<&str>, url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::empty()).unwrap();
    let request = match token {
        Some(token) => bearer(request, token),
        None => request,
    };
    app.call_raw(request).await
}

fn memory_files() -> Files {
    Files::open(FilesConfig::default()).unwrap()
}

fn app_setup(files: Files) -> Setup {
    Setup {
        chat: ChatOptions {
            files,
            ..ChatOptions::default()
        },
        ..Setup::default()
    }
}

pub async fn an_image_is_sent_with_its_size_and_a_thumbnail_and_served_with_ranges(files: Files) {
    let app = TestApp::build(app_setup(files)).await;
    let ann = signed_in(&app, "ann").await;
    let picture = png(2_000, 1_000);
    let sent = upload(&app, Some(&ann), "general", "C:\\shots\\sky.png", &picture).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.json);
    assert_eq!(sent.json["status"], "sent");

    let attachment = newest_attachment(&app, &ann, "general").await;
    let id = attachment["id"].as_str().unwrap();
    assert_eq!(attachment["name"], "sky.png");
    assert_eq!(attachment["content_type"], "image/png");
    assert_eq!(attachment["size"], picture.len());
    assert_eq!(attachment["width"], 2_000);
    assert_eq!(attachment["height"], 1_000);
    let url = attachment["url"].as_str().unwrap();
    assert_eq!(url, format!("/api/rooms/general/files/{id}"));

    let whole = fetch(&app, None, url, &[]).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.body, picture);
    let header = |reply: &Reply, name: &str| reply.headers[name].to_str().unwrap().to_owned();
    assert_eq!(header(&whole, "content-type"), "image/png");
    assert_eq!(header(&whole, "content-length"), picture.len().to_string());
    assert_eq!(
        header(&whole, "cache-control"),
        "private, max-age=31536000, immutable"
    );
    assert_eq!(header(&whole, "x-content-type-options"), "nosniff");
    assert!(header(&whole, "content-disposition").starts_with("inline;"));
    let etag = header(&whole, "etag");

    let part = fetch(&app, None, url, &[("range", "bytes=10-19")]).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, picture[10..20]);
    assert_eq!(
        header(&part, "content-range"),
        format!("bytes 10-19/{}", picture.len())
    );
    let tail = fetch(&app, None, url, &[("range", "bytes=-7")]).await;
    assert_eq!(tail.body, picture[picture.len() - 7..]);
    let past = fetch(
        &app,
        None,
        url,
        &[("range", &format!("bytes={}-", picture.len()))],
    )
    .await;
    assert_eq!(past.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let cached = fetch(&app, None, url, &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    assert!(cached.body.is_empty());

    let thumbnail = fetch(
        &app,
        None,
        attachment["thumbnail_url"].as_str().unwrap(),
        &[],
    )
    .await;
    assert_eq!(thumbnail.status, StatusCode::OK);
    assert_eq!(header(&thumbnail, "content-type"), "image/jpeg");
    let small = image::load_from_memory(&thumbnail.body).unwrap();
    assert_eq!((small.width(), small.height()), (1_200, 600));
}

pub async fn what_is_not_a_decoded_image_only_downloads_whatever_its_name(files: Files) {
    let app = TestApp::build(app_setup(files)).await;
    let page = b"<!DOCTYPE html><html><body><script>fetch('/api/me')</script></body></html>";
    let sent = upload(&app, None, "general", "cat.png", page).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.json);
    let history = app.get("/api/history?room=general").await;
    let message = &history.json["messages"][0];
    assert_eq!(message["sender"], "gus");
    let attachment = &message["attachment"];
    assert_ne!(attachment["content_type"], "image/png");
    assert!(attachment.get("thumbnail_url").is_none(), "{attachment}");
    assert!(attachment.get("width").is_none());
    let served = fetch(&app, None, attachment["url"].as_str().unwrap(), &[]).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, &page[..]);
    let header = |name: &str| served.headers[name].to_str().unwrap().to_owned();
    assert_ne!(header("content-type"), "image/png");
    assert!(
        header("content-disposition").starts_with("attachment;"),
        "{}",
        header("content-disposition")
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-security-policy").starts_with("sandbox"));
    let id = attachment["id"].as_str().unwrap();
    let thumbnail = fetch(
        &app,
        None,
        &format!("/api/rooms/general/files/{id}/thumbnail"),
        &[],
    )
    .await;
    assert_eq!(thumbnail.status, StatusCode::NOT_FOUND);
}

pub async fn a_file_goes_only_to_who_may_read_its_room_now(files: Files) {
    let app = TestApp::build(app_setup(files)).await;
    let (ann, bob) = (signed_in(&app, "ann").await, signed_in(&app, "bob").await);
    private_room(&app, &ann, "plans", &["bob"]).await;
    let sent = upload(&app, Some(&bob), "plans", "plan.pdf", b"%PDF-1.7 the plan").await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.json);
    let attachment = newest_attachment(&app, &ann, "plans").await;
    assert_eq!(attachment["content_type"], "application/pdf");
    let url = attachment["url"].as_str().unwrap().to_owned();
    assert_eq!(
        fetch(&app, Some(&bob), &url, &[]).await.status,
        StatusCode::OK
    );
    // Someone else, holding the link: as if there were no file.
    let cy = signed_in(&app, "cy").await;
    assert_eq!(
        fetch(&app, Some(&cy), &url, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fetch(&app, None, &url, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    // A guest may not upload to it either, nor anyone who may not see it.
    let refused = upload(&app, Some(&cy), "plans", "x.txt", b"hi").await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    // Removed: no more.
    let remove = empty_request(Method::DELETE, "/api/rooms/plans/members/bob");
    assert_eq!(app.call(bearer(remove, &ann)).await.status, StatusCode::OK);
    assert_eq!(
        fetch(&app, Some(&bob), &url, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    // The room deleted: its files too, for its owner as well.
    assert_eq!(
        fetch(&app, Some(&ann), &url, &[]).await.status,
        StatusCode::OK
    );
    let delete = empty_request(Method::DELETE, "/api/rooms/plans");
    assert_eq!(app.call(bearer(delete, &ann)).await.status, StatusCode::OK);
    private_room(&app, &ann, "plans", &[]).await;
    assert_eq!(
        fetch(&app, Some(&ann), &url, &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

pub async fn deleting_the_message_or_retention_takes_its_file_and_the_sweep_the_orphans(
    files: Files,
) {
    let mut setup = app_setup(files.clone());
    setup.broker = BrokerConfig {
        retention: longpoll_chat::server::store::Retention {
            max_messages_per_room: 2,
            max_age: None,
        },
        ..BrokerConfig::default()
    };
    let app = TestApp::build(setup).await;
    let ann = signed_in(&app, "ann").await;
    assert_eq!(
        upload(&app, Some(&ann), "general", "a.png", &png(4, 4))
            .await
            .status,
        StatusCode::OK
    );
    let attachment = newest_attachment(&app, &ann, "general").await;
    let url = attachment["url"].as_str().unwrap().to_owned();
    let id = attachment["id"].as_str().unwrap().to_owned();
    let history = app.get("/api/history?room=general").await;
    let message_id = history.json["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let delete = empty_request(Method::DELETE, &format!("/api/messages/{message_id}"));
    assert_eq!(app.call(bearer(delete, &ann)).await.status, StatusCode::OK);
    assert_eq!(
        fetch(&app, Some(&ann), &url, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let thumbnail = format!("{url}/thumbnail");
    assert_eq!(
        fetch(&app, Some(&ann), &thumbnail, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    let _ = id;

    // A file whose message left the room's retention, and one no message ever carried (the
    // server stopped between keeping it and sending it): the sweep takes both, and nothing
    // a kept message carries.
    assert_eq!(
        upload(&app, Some(&ann), "general", "old.png", &png(4, 4))
            .await
            .status,
        StatusCode::OK
    );
    let old = newest_attachment(&app, &ann, "general").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let orphan = files
        .keep("general", "orphan.txt", "lost".into())
        .await
        .unwrap();
    let dotted = files.keep("..", "orphan.txt", "lost".into()).await.unwrap();
    for text in ["one", "two"] {
        let send = json_request(
            Method::POST,
            "/api/send",
            serde_json::json!({"room": "general", "text": text}),
        );
        assert_eq!(app.call(bearer(send, &ann)).await.status, StatusCode::OK);
    }
    assert_eq!(
        upload(&app, Some(&ann), "general", "kept.png", &png(4, 4))
            .await
            .status,
        StatusCode::OK
    );
    let kept = newest_attachment(&app, &ann, "general").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let swept = files
        .sweep(app.broker.search_index(), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(swept, 3);
    let dotted_room = RoomName::parse("..").unwrap();
    let left = files
        .serve(dotted_room.as_str(), dotted.id, Part::File, None)
        .await;
    assert!(left.is_err(), "a room named `..` is swept too");
    assert_eq!(
        fetch(&app, Some(&ann), &old, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fetch(&app, Some(&ann), &orphan.url, &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fetch(&app, Some(&ann), &kept, &[]).await.status,
        StatusCode::OK
    );
    // A young file is left alone: its message may be on its way.
    let young = files
        .keep("general", "young.txt", "new".into())
        .await
        .unwrap();
    let swept = files
        .sweep(app.broker.search_index(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(swept, 0);
    assert_eq!(
        fetch(&app, Some(&ann), &young.url, &[]).await.status,
        StatusCode::OK
    );
}

macro_rules! on_memory {
    ($($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                super::$case(memory_files()).await;
            }
        )+
    };
}

mod on_memory {
    use super::*;

    on_memory!(
        an_image_is_sent_with_its_size_and_a_thumbnail_and_served_with_ranges,
        what_is_not_a_decoded_image_only_downloads_whatever_its_name,
        a_file_goes_only_to_who_may_read_its_room_now,
        deleting_the_message_or_retention_takes_its_file_and_the_sweep_the_orphans
    );
}

macro_rules! on_s3 {
    ($($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let s3 = S3Server::start().await;
                let files = Files::open(FilesConfig {
                    location: s3.location("deployment-a"),
                    ..FilesConfig::default()
                })
                .unwrap();
                super::$case(files).await;
            }
        )+
    };
}

mod on_s3 {
    use super::*;
    use crate::common::s3::S3Server;

    on_s3!(
        an_image_is_sent_with_its_size_and_a_thumbnail_and_served_with_ranges,
        what_is_not_a_decoded_image_only_downloads_whatever_its_name,
        a_file_goes_only_to_who_may_read_its_room_now,
        deleting_the_message_or_retention_takes_its_file_and_the_sweep_the_orphans
    );

    #[tokio::test]
    async fn an_instance_serves_a_file_another_kept() {
        let s3 = S3Server::start().await;
        let open = || {
            Files::open(FilesConfig {
                location: s3.location("shared"),
                ..FilesConfig::default()
            })
            .unwrap()
        };
        let (one, other) = (open(), open());
        let kept = one
            .keep("general", "notes.txt", "hello".into())
            .await
            .unwrap();
        let served = other
            .serve(
                "general",
                kept.id,
                longpoll_chat::server::files::Part::File,
                None,
            )
            .await
            .unwrap();
        assert_eq!((served.size, served.name.as_str()), (5, "notes.txt"));
        other.delete_room("general").await;
        assert!(one
            .serve(
                "general",
                kept.id,
                longpoll_chat::server::files::Part::File,
                None
            )
            .await
            .is_err());
    }
}

#[tokio::test]
async fn a_directory_keeps_files_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || FilesConfig {
        location: FilesLocation::Directory(dir.path().join("files")),
        ..FilesConfig::default()
    };
    let kept = Files::open(config())
        .unwrap()
        .keep("general", "a.txt", "abc".into())
        .await
        .unwrap();
    let reopened = Files::open(config()).unwrap();
    let served = reopened
        .serve(
            "general",
            kept.id,
            longpoll_chat::server::files::Part::File,
            None,
        )
        .await
        .unwrap();
    assert_eq!(served.size, 3);
    assert_eq!(served.name, "a.txt");
}

#[tokio::test]
async fn uploads_past_the_limits_or_malformed_are_refused_and_keep_nothing() {
    let files = Files::open(FilesConfig {
        max_upload_bytes: 1_000,
        guest_uploads: false,
        ..FilesConfig::default()
    })
    .unwrap();
    let app = TestApp::build(app_setup(files.clone())).await;
    let ann = signed_in(&app, "ann").await;

    let big = vec![7u8; 100_000];
    assert_refused(
        &upload(&app, Some(&ann), "general", "big.bin", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too large",
    );
    // Within the request's slack for multipart, but the file itself past the limit.
    let over = vec![7u8; 1_500];
    assert_refused(
        &upload(&app, Some(&ann), "general", "over.bin", &over).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too large",
    );
    assert_refused(
        &upload(&app, Some(&ann), "general", "empty.txt", b"").await,
        StatusCode::BAD_REQUEST,
        "empty",
    );
    let whole = png(16, 16);
    let cut = &whole[..whole.len() / 2];
    assert_refused(
        &upload(&app, Some(&ann), "general", "cut.png", cut).await,
        StatusCode::BAD_REQUEST,
        "cannot be decoded",
    );
    let no_file = upload_request("general", multipart(&[("text", None, b"hi")]));
    assert_refused(
        &app.call(bearer(no_file, &ann)).await,
        StatusCode::BAD_REQUEST,
        "missing part `file`",
    );
    let twice = upload_request(
        "general",
        multipart(&[("file", Some("a"), b"1"), ("file", Some("b"), b"2")]),
    );
    assert_refused(
        &app.call(bearer(twice, &ann)).await,
        StatusCode::BAD_REQUEST,
        "unexpected part",
    );
    let mut body = multipart(&[("file", Some("a.txt"), b"hello")]);
    body.truncate(body.len() - 12);
    assert_refused(
        &app.call(bearer(upload_request("general", body), &ann))
            .await,
        StatusCode::BAD_REQUEST,
        "cut off",
    );
    let not_multipart = json_request(
        Method::POST,
        "/api/rooms/general/files",
        serde_json::json!({}),
    );
    assert_eq!(
        app.call(bearer(not_multipart, &ann)).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let no_length = Request::post("/api/rooms/general/files")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(multipart(&[("file", Some("a.txt"), b"hello")])))
        .unwrap();
    assert_eq!(
        app.call(bearer(no_length, &ann)).await.status,
        StatusCode::LENGTH_REQUIRED
    );
    // `--guest-uploads off`.
    assert_refused(
        &upload(&app, None, "general", "a.txt", b"hi").await,
        StatusCode::UNAUTHORIZED,
        "sign in",
    );

    // Nothing was sent and nothing kept.
    let history = app.get("/api/history?room=general").await;
    assert_eq!(history.json["messages"], serde_json::json!([]));
    assert_eq!(
        files
            .sweep(app.broker.search_index(), Duration::ZERO)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn uploads_past_the_rate_are_refused() {
    let mut setup = app_setup(memory_files());
    setup.chat.upload_limiter = Some(
        longpoll_chat::server::send_limit::UploadLimiter::per_minute(
            std::num::NonZeroU32::new(2).unwrap(),
        ),
    );
    let app = TestApp::build(setup).await;
    let ann = signed_in(&app, "ann").await;
    for _ in 0..2 {
        assert_eq!(
            upload(&app, Some(&ann), "general", "a.txt", b"hi")
                .await
                .status,
            StatusCode::OK
        );
    }
    let refused = upload(&app, Some(&ann), "general", "a.txt", b"hi").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
}
