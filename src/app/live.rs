//! Following a room live: the browser's long-poll loop and the connection badge.
//!
//! One loop per tab (browsers allow ~6 connections per origin over HTTP/1.1). It passes the id
//! of the last message it has, so nothing is lost or repeated; it re-polls at once after each
//! answer, aborts its held request when the room view goes away, and after an error backs off
//! with jitter (0.5 s doubling to 15 s) and checks `/health` before polling again, so a server
//! restart does not cause a reconnect storm and the badge turns live as soon as it is back.
//! A poll refused with 404 (a private room not, or no longer, the user's) or answered
//! `disconnected` (removed from the room, or the room deleted) ends the loop for good: the
//! room is [`ConnectionState::Unavailable`].

use std::{cell::Cell, rc::Rc, sync::Arc, time::Duration};

use gloo_net::http::Request;
use leptos::{prelude::*, task::spawn_local};
use send_wrapper::SendWrapper;
use uuid::Uuid;

use crate::model::{Message, PollResponse, PollStatus, MAX_MESSAGES_PER_POLL, POLL_TIMEOUT_SECS};

const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(15);
/// Messages kept on screen; older ones scroll away for good.
const MAX_ON_SCREEN: usize = 500;

/// What the badge shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConnectionState {
    /// Before the first poll is on its way.
    Connecting,
    /// A poll is held by the server: messages arrive as they are sent.
    Live,
    /// The last poll failed; the next try is in this many seconds.
    Reconnecting { retry_in_secs: u32 },
    /// The browser itself reports having no network.
    Offline,
    /// The server refuses this room to this user (private, removed, or deleted): no more polls.
    Unavailable,
}

#[component]
pub fn ConnectionBadge(#[prop(into)] state: Signal<ConnectionState>) -> impl IntoView {
    let label = move || match state.get() {
        ConnectionState::Connecting => "Connecting…".to_owned(),
        ConnectionState::Live => "Live".to_owned(),
        ConnectionState::Reconnecting { retry_in_secs: 0 } => "Reconnecting…".to_owned(),
        ConnectionState::Reconnecting { retry_in_secs } => {
            format!("Reconnecting · retry in {retry_in_secs} s")
        }
        ConnectionState::Offline => "Offline".to_owned(),
        ConnectionState::Unavailable => "Unavailable".to_owned(),
    };
    let kind = move || match state.get() {
        ConnectionState::Connecting => "connecting",
        ConnectionState::Live => "live",
        ConnectionState::Reconnecting { .. } => "reconnecting",
        ConnectionState::Offline => "offline",
        ConnectionState::Unavailable => "unavailable",
    };
    view! {
        <span class="badge" data-state=kind role="status">
            <span class="dot" aria-hidden="true"></span>
            {label}
        </span>
    }
}

/// Starts the poll loop for `room`, appending what arrives to `messages`. The loop stops (and
/// its held request is aborted) when the calling component is cleaned up.
pub fn follow_room(
    room: String,
    messages: RwSignal<Vec<Arc<Message>>>,
    connection: RwSignal<ConnectionState>,
) {
    // Effects run only in the browser; the server just renders the history.
    Effect::new(move || {
        let stopped = Rc::new(Cell::new(false));
        let Ok(abort) = web_sys::AbortController::new() else {
            return;
        };
        let signal = abort.signal();
        let stop = SendWrapper::new((stopped.clone(), abort));
        on_cleanup(move || {
            let (stopped, abort) = stop.take();
            stopped.set(true);
            abort.abort();
        });
        let room = room.clone();
        spawn_local(async move {
            let client_id = Uuid::now_v7().to_string();
            let mut retry = FIRST_RETRY;
            connection.set(ConnectionState::Live);
            while !stopped.get() {
                let cursor = messages.with_untracked(|list| list.last().map(|m| m.id.to_string()));
                match poll(&client_id, &room, cursor.as_deref(), &signal).await {
                    Err(PollError::Refused) => {
                        connection.set(ConnectionState::Unavailable);
                        break;
                    }
                    Ok(answer) if answer.status == PollStatus::Disconnected => {
                        connection.set(ConnectionState::Unavailable);
                        break;
                    }
                    Ok(answer) => {
                        retry = FIRST_RETRY;
                        connection.set(ConnectionState::Live);
                        receive(messages, answer);
                    }
                    Err(_) if stopped.get() => break,
                    Err(_) => {
                        let delay = with_jitter(retry);
                        retry = (retry * 2).min(MAX_RETRY);
                        connection.set(if is_offline() {
                            ConnectionState::Offline
                        } else {
                            ConnectionState::Reconnecting {
                                retry_in_secs: delay.as_secs_f64().ceil() as u32,
                            }
                        });
                        gloo_timers::future::sleep(delay).await;
                        if stopped.get() {
                            break;
                        }
                        connection.set(ConnectionState::Reconnecting { retry_in_secs: 0 });
                        if healthy(&signal).await {
                            connection.set(ConnectionState::Live);
                        }
                    }
                }
            }
        });
    });
}

/// Why a poll brought nothing.
enum PollError {
    /// 401, 403 or 404: this user may not follow this room (any more).
    Refused,
    /// Network, abort, or another non-200 answer: retry.
    Failed,
}

impl From<gloo_net::Error> for PollError {
    fn from(_: gloo_net::Error) -> Self {
        Self::Failed
    }
}

/// Holds one poll.
async fn poll(
    client_id: &str,
    room: &str,
    cursor: Option<&str>,
    abort: &web_sys::AbortSignal,
) -> Result<PollResponse, PollError> {
    // The server's default, so a curl user and the page see the same poll.
    let timeout = POLL_TIMEOUT_SECS.default.to_string();
    let mut params = vec![
        ("client_id", client_id),
        ("room", room),
        ("timeout", &timeout),
    ];
    if let Some(cursor) = cursor {
        params.push(("last_message_id", cursor));
    }
    let response = Request::get("/api/poll")
        .query(params)
        .abort_signal(Some(abort))
        .send()
        .await?;
    match response.status() {
        200 => Ok(response.json().await?),
        401 | 403 | 404 => Err(PollError::Refused),
        _ => Err(PollError::Failed),
    }
}

async fn healthy(abort: &web_sys::AbortSignal) -> bool {
    let response = Request::get("/health")
        .abort_signal(Some(abort))
        .send()
        .await;
    response.is_ok_and(|response| response.ok())
}

/// Adds an answer's messages to the list (or replaces the list after a reset).
fn receive(messages: RwSignal<Vec<Arc<Message>>>, answer: PollResponse) {
    if answer.reset {
        messages.set(answer.messages);
        return;
    }
    if answer.status != PollStatus::Success || answer.messages.is_empty() {
        return;
    }
    messages.update(|list| {
        for message in answer.messages {
            // The cursor makes repeats impossible; this guards the screen all the same (an
            // answer holds at most a page, so a repeat would be within the last page shown).
            if !list
                .iter()
                .rev()
                .take(MAX_MESSAGES_PER_POLL)
                .any(|shown| shown.id == message.id)
            {
                list.push(message);
            }
        }
        let excess = list.len().saturating_sub(MAX_ON_SCREEN);
        list.drain(..excess);
    });
}

/// Between half and all of `delay`, so clients that failed together retry apart.
fn with_jitter(delay: Duration) -> Duration {
    delay.mul_f64(0.5 + js_sys::Math::random() / 2.0)
}

fn is_offline() -> bool {
    !window().navigator().on_line()
}
