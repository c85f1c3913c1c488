//! The leader's HTTP loop: one held `POST /api/stream` after another, for as long as the tab
//! lives, and the browser's client id (kept in `localStorage`, so every tab and every leader
//! holds the stream as the same client).
//!
//! Invariants:
//! - After a failure the loop waits with a backoff with jitter (0.5 s doubling to 15 s), cut
//!   short when the browser comes back online, then checks `/health`: a server restart causes
//!   no reconnect storm, and the badge turns live as soon as the server is back.
//! - A stream aborted because the followed rooms changed starts again at once, not after a
//!   backoff; a refused one (401, 403, 404) waits until the rooms change.
//! - With no room to follow the loop waits (parks) instead of polling.

use std::{collections::BTreeMap, rc::Rc, time::Duration};

use gloo_net::http::Request;
use leptos::prelude::*;
use uuid::Uuid;

use super::{cursor_book::Cursor, storage, tabs::Note, Hub};
use crate::{
    app::following::ConnectionState,
    error::ChatError,
    model::{PollStatus, StreamBody, StreamResponse, StreamRoom, POLL_TIMEOUT_SECS},
};

const CLIENT_ID_KEY: &str = "longpoll-chat.client-id";
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(15);

impl Hub {
    pub(super) async fn hold_stream(self: &Rc<Self>, mut client_id: String) {
        let mut retry = FIRST_RETRY;
        self.set_state(ConnectionState::Live);
        loop {
            let (rooms, presence) = {
                let mut book = self.book.borrow_mut();
                book.changed = false;
                if std::mem::take(&mut book.identity_changed) {
                    client_id = new_client_id(&client_id);
                }
                let (rooms, presence) = book.next_stream();
                book.presence_asked = presence.keys().cloned().collect();
                (rooms, presence)
            };
            if rooms.is_empty() {
                self.park().await;
                continue;
            }
            let Ok(abort) = web_sys::AbortController::new() else {
                return;
            };
            self.book.borrow_mut().abort = Some(abort.clone());
            let answer = stream(&client_id, &rooms, &presence, &abort.signal()).await;
            let changed = {
                let mut book = self.book.borrow_mut();
                book.abort = None;
                book.changed
            };
            match answer {
                Ok(answer) => {
                    retry = FIRST_RETRY;
                    match answer.status {
                        PollStatus::Success => {
                            self.set_state(ConnectionState::Live);
                            self.post(&Note::News {
                                after: rooms.clone(),
                                rooms: answer.rooms.clone(),
                            });
                            self.apply_news(&rooms, answer.rooms);
                            let book = self.book.borrow();
                            let note = book.unread.note();
                            drop(book);
                            self.post(&note);
                        }
                        PollStatus::Timeout => self.set_state(ConnectionState::Live),
                        // Another stream of this browser took over (a leader handing over):
                        // wait a moment rather than take it back at once.
                        PollStatus::Superseded => {
                            gloo_timers::future::sleep(with_jitter(FIRST_RETRY)).await;
                        }
                        PollStatus::Disconnected => {
                            self.set_state(ConnectionState::Unavailable);
                            self.park().await;
                        }
                    }
                }
                // Aborted because the rooms changed: start the new stream at once.
                Err(_) if changed => {}
                Err(StreamError::ClientTaken) => client_id = new_client_id(&client_id),
                Err(StreamError::Refused) => {
                    self.set_state(ConnectionState::Unavailable);
                    self.park().await;
                }
                Err(StreamError::Failed) => {
                    let delay = with_jitter(retry);
                    retry = (retry * 2).min(MAX_RETRY);
                    self.set_state(if is_offline() {
                        ConnectionState::Offline
                    } else {
                        ConnectionState::Reconnecting {
                            retry_in_secs: delay.as_secs_f64().ceil() as u32,
                        }
                    });
                    sleep_unless_online(delay).await;
                    self.set_state(ConnectionState::Reconnecting { retry_in_secs: 0 });
                    if healthy().await {
                        self.set_state(ConnectionState::Live);
                    }
                }
            }
        }
    }

    /// Waits until the followed rooms change.
    async fn park(&self) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            self.book.borrow_mut().park = Some(resolve);
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}

/// This browser's client id, kept in `localStorage` so every tab and every leader uses it.
pub(super) fn browser_client_id() -> String {
    match storage().and_then(|storage| storage.get_item(CLIENT_ID_KEY).ok().flatten()) {
        Some(id) => id,
        None => new_client_id("browser"),
    }
}

/// A new client id of the same kind as `old` (a browser's, kept for every tab; or a tab's).
fn new_client_id(old: &str) -> String {
    let kind = if old.starts_with("tab-") {
        "tab"
    } else {
        "browser"
    };
    let id = format!("{kind}-{}", Uuid::now_v7());
    if kind == "browser" {
        if let Some(storage) = storage() {
            let _ = storage.set_item(CLIENT_ID_KEY, &id);
        }
    }
    id
}

/// Why a stream brought nothing.
enum StreamError {
    /// 401, 403 or 404: this browser may not follow these rooms.
    Refused,
    /// The client id is someone else's now (another identity held it in this browser, say a
    /// guest before signing in): take a new one.
    ClientTaken,
    /// Network, abort, or another non-200 answer: retry.
    Failed,
}

impl From<gloo_net::Error> for StreamError {
    fn from(_: gloo_net::Error) -> Self {
        Self::Failed
    }
}

/// Holds one stream; `presence` is the presence version to ask from for each shown room.
async fn stream(
    client_id: &str,
    rooms: &[(String, Cursor)],
    presence: &BTreeMap<String, u64>,
    abort: &web_sys::AbortSignal,
) -> Result<StreamResponse, StreamError> {
    let body = StreamBody {
        client_id: client_id.to_owned(),
        // The server's default, so a curl user and the page see the same poll.
        timeout: Some(POLL_TIMEOUT_SECS.default),
        rooms: rooms
            .iter()
            .map(|(room, cursor)| StreamRoom {
                room: room.clone(),
                last_message_id: match cursor {
                    Cursor::Start => None,
                    Cursor::After(id) => Some(id.to_string()),
                },
                from_start: *cursor == Cursor::Start,
                live_version: presence.get(room).copied(),
            })
            .collect(),
    };
    let response = Request::post("/api/stream")
        .abort_signal(Some(abort))
        .json(&body)?
        .send()
        .await?;
    match response.status() {
        200 => Ok(response.json().await?),
        404 if is_unknown_client(response.json().await?) => Err(StreamError::ClientTaken),
        401 | 403 | 404 => Err(StreamError::Refused),
        _ => Err(StreamError::Failed),
    }
}

/// Whether an error answer says the client id is not the caller's.
fn is_unknown_client(answer: serde_json::Value) -> bool {
    answer.get("detail").and_then(serde_json::Value::as_str)
        == Some(ChatError::UnknownClient.to_string().as_str())
}

/// Waits `delay`, or less when the browser comes back online meanwhile: whoever's network
/// returns sees the room catch up at once, not at the end of the backoff.
async fn sleep_unless_online(delay: Duration) {
    let window = window();
    let millis = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, millis);
        window.set_ononline(Some(&resolve));
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    window.set_ononline(None);
}

async fn healthy() -> bool {
    let response = Request::get("/health").send().await;
    response.is_ok_and(|response| response.ok())
}

/// Between half and all of `delay`, so clients that failed together retry apart.
fn with_jitter(delay: Duration) -> Duration {
    delay.mul_f64(0.5 + js_sys::Math::random() / 2.0)
}

fn is_offline() -> bool {
    !window().navigator().on_line()
}
