//! The broker with the memory store, on tokio's paused clock: one file per area, the helpers
//! they share here.

mod abuse;
mod changes;
mod online;
mod polls;
mod streams;

use std::{collections::HashSet, net::IpAddr};

use super::*;
use crate::model::{
    Follow, MessageText, PollRequest, PollResponse, RoomName, RoomNews, SenderName, StreamFrom,
    StreamRequest, MAX_MESSAGES_PER_POLL, TYPING_LASTS_SECS,
};

async fn broker(room_capacity: usize) -> Broker {
    let config = BrokerConfig {
        room_capacity,
        ..BrokerConfig::default()
    };
    Broker::open(config, &StoreConfig::Memory).await.unwrap()
}

async fn send(broker: &Broker, room: &str, text: &str) -> SendReceipt {
    let request = SendRequest {
        room: RoomName::parse(room).unwrap(),
        sender: SenderName::parse("alice").unwrap(),
        author: None,
        text: MessageText::parse(text).unwrap(),
        mentions: Vec::new(),
        attachment: None,
    };
    broker.send(request).await.unwrap()
}

fn poll_request(client: &str, room: &str, cursor: Option<&str>) -> PollRequest {
    PollRequest {
        client_id: ClientId::parse(client).unwrap(),
        room: RoomName::parse(room).unwrap(),
        last_message_id: cursor.map(str::to_owned),
        timeout: Duration::from_secs(25),
        holder: None,
        owner: ClientOwner::default(),
    }
}

/// Starts a poll in its own task and returns once it is waiting.
async fn spawn_poll(broker: &Broker, request: PollRequest) -> tokio::task::JoinHandle<PollAnswer> {
    let held_before = broker.held_polls();
    let task = tokio::spawn({
        let broker = broker.clone();
        async move { broker.poll(request).await.unwrap() }
    });
    while broker.held_polls() == held_before {
        tokio::task::yield_now().await;
    }
    task
}

fn texts(response: &PollResponse) -> Vec<&str> {
    response.messages.iter().map(|m| m.text.as_str()).collect()
}

/// A message as a store hands it to the rooms.
fn stored(room: &str, text: &str) -> Arc<Message> {
    Arc::new(Message {
        id: Uuid::now_v7(),
        sender: "store".into(),
        text: text.into(),
        timestamp: unix_seconds(),
        room: room.into(),
        ..Message::default()
    })
}

/// The broker's own sink, as the store would call it.
fn sink(broker: &Broker) -> LogFeed {
    LogFeed {
        rooms: broker.shared.rooms.clone(),
        clients: broker.shared.clients.clone(),
        presence: broker.shared.presence.clone(),
        search: Some(broker.shared.search.clone()),
    }
}

/// The texts `history` returns for the room (up to 100).
fn history_texts(broker: &Broker, room: &str) -> Vec<String> {
    let request = HistoryRequest {
        room: RoomName::parse(room).unwrap(),
        limit: 100,
        around: None,
    };
    let history = broker.history(&request);
    history.messages.iter().map(|m| m.text.clone()).collect()
}

fn stream_request(client: &str, rooms: &[(&str, Option<&str>)]) -> StreamRequest {
    StreamRequest {
        client_id: ClientId::parse(client).unwrap(),
        rooms: rooms
            .iter()
            .map(|(room, cursor)| {
                let from = match cursor {
                    Some(id) => StreamFrom::After((*id).to_owned()),
                    None => StreamFrom::Now,
                };
                Follow {
                    room: RoomName::parse(room).unwrap(),
                    from,
                    live_version: None,
                    // As the server asks for the default room and private rooms.
                    open: true,
                }
            })
            .collect(),
        timeout: Duration::from_secs(25),
        holder: None,
        owner: ClientOwner::default(),
        person: None,
    }
}

/// Starts a stream in its own task and returns once it is waiting.
async fn spawn_stream(
    broker: &Broker,
    request: StreamRequest,
) -> tokio::task::JoinHandle<StreamAnswer> {
    let held_before = broker.held_polls();
    let task = tokio::spawn({
        let broker = broker.clone();
        async move { broker.stream(request).await.unwrap() }
    });
    while broker.held_polls() == held_before {
        tokio::task::yield_now().await;
    }
    task
}

/// Each room of the answer with its texts.
fn news(answer: &StreamAnswer) -> Vec<(&str, Vec<&str>)> {
    answer
        .rooms
        .iter()
        .map(|news| {
            let texts = news.messages.iter().map(|m| m.text.as_str()).collect();
            (news.room.as_str(), texts)
        })
        .collect()
}

/// Sends as the account `author`, whose messages it may edit.
async fn send_as(broker: &Broker, room: &str, text: &str, author: &str) -> Arc<Message> {
    let request = SendRequest {
        room: RoomName::parse(room).unwrap(),
        sender: SenderName::parse(author).unwrap(),
        author: Some(author.to_owned()),
        text: MessageText::parse(text).unwrap(),
        mentions: Vec::new(),
        attachment: None,
    };
    let receipt = broker.send(request).await.unwrap();
    broker.message(receipt.message_id).unwrap()
}

async fn change(broker: &Broker, message: &Message, author: &str, kind: ChangeKind) -> Message {
    let changed = broker.change(message, author, author, kind).await.unwrap();
    (*changed).clone()
}

fn react(emoji: &str) -> ChangeKind {
    ChangeKind::React {
        emoji: emoji.into(),
    }
}

/// A stream of `name` (a guest's for `None`) on `room` that asks for who is there, knowing
/// `version`.
fn live_request(client: &str, name: Option<&str>, room: &str, version: u64) -> StreamRequest {
    let mut request = stream_request(client, &[(room, None)]);
    request.rooms[0].live_version = Some(version);
    request.timeout = Duration::from_secs(60);
    request.person = name.map(|name| Person {
        key: name.to_lowercase(),
        name: name.to_owned(),
    });
    request
}

fn live_of(answer: &StreamAnswer) -> &LiveState {
    answer.rooms[0]
        .live
        .as_ref()
        .expect("the room's live state")
}

async fn toggle(broker: &Broker, id: Uuid, person: &str, add: bool) {
    let message = broker.message(id).expect("the message is kept");
    let emoji = "👍".to_owned();
    let kind = if add {
        ChangeKind::React { emoji }
    } else {
        ChangeKind::Unreact { emoji }
    };
    broker.change(&message, person, person, kind).await.unwrap();
}

/// Texts of control characters, each of which JSON escapes to six bytes.
fn escaped_text() -> String {
    "\u{1}".repeat(TEXT_MAX_CHARS)
}
