//! The service's rules without HTTP, on memory stores: who may send as whom, who sees a private
//! room, who may change a message, and a stream losing a room it may no longer read.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use super::*;
use crate::{
    model::{ClientOwner, Follow, StreamFrom},
    server::{identity::IdentityConfig, store::StoreConfig, BrokerConfig},
};

const PASSWORD: &str = "correct horse battery";

async fn chat_with(identity: IdentityConfig) -> Chat {
    let store = StoreConfig::Memory;
    let broker = Broker::open(BrokerConfig::default(), &store).await.unwrap();
    let (identity, room_changes) = Identity::open(identity, &store).await.unwrap();
    Chat::new(broker, identity, ChatOptions::default(), room_changes)
}

async fn chat() -> Chat {
    chat_with(IdentityConfig::default()).await
}

fn guest() -> Caller {
    Caller {
        user: None,
        address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
    }
}

/// A new account, signed in.
async fn person(chat: &Chat, name: &str) -> Caller {
    chat.sign_up(&guest(), name, PASSWORD).await.unwrap();
    let session = chat.sign_in(&guest(), name, PASSWORD).await.unwrap();
    let credentials = Credentials {
        bearer: Some(&session.token),
        session_cookie: None,
    };
    Caller {
        user: chat.authenticate(credentials).await.unwrap(),
        ..guest()
    }
}

fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap()
}

fn draft(to: &str, sender: Option<&str>, text: &str) -> SendDraft {
    SendDraft {
        room: room(to),
        sender: sender.map(|name| SenderName::parse(name).unwrap()),
        text: MessageText::parse(text).unwrap(),
    }
}

fn history(of: &str) -> HistoryRequest {
    HistoryRequest {
        room: room(of),
        limit: 50,
        around: None,
    }
}

/// A stream of one room, from `from`.
fn stream_of(client_id: &str, of: &str, from: StreamFrom) -> StreamRequest {
    StreamRequest {
        client_id: ClientId::parse(client_id).unwrap(),
        rooms: vec![Follow {
            room: room(of),
            from,
            live_version: None,
            open: false,
        }],
        timeout: Duration::from_secs(25),
        holder: None,
        owner: ClientOwner::default(),
        person: None,
    }
}

fn status<T: std::fmt::Debug>(result: Result<T, ChatError>) -> u16 {
    result.unwrap_err().status_code()
}

#[tokio::test]
async fn a_signed_in_sender_is_stamped_with_their_name_and_may_not_name_another() {
    let chat = chat().await;
    let alice = person(&chat, "Alice").await;
    chat.send(&alice, draft("lobby", None, "hi")).await.unwrap();
    chat.send(&alice, draft("lobby", Some("alice"), "again"))
        .await
        .unwrap();
    assert_eq!(
        status(
            chat.send(&alice, draft("lobby", Some("bob"), "forged"))
                .await
        ),
        403
    );
    let kept = chat.history(&alice, &history("lobby")).await.unwrap();
    let senders: Vec<_> = kept.messages.iter().map(|m| m.sender.as_str()).collect();
    assert_eq!(
        senders,
        ["Alice", "Alice"],
        "stamped, the forged one not kept"
    );
    assert!(kept.messages.iter().all(|m| m.author.is_some()));
}

#[tokio::test]
async fn a_guest_names_themselves_but_not_with_an_accounts_name() {
    let chat = chat().await;
    person(&chat, "alice").await;
    assert_eq!(
        status(chat.send(&guest(), draft("lobby", None, "hi")).await),
        400
    );
    assert_eq!(
        status(
            chat.send(&guest(), draft("lobby", Some("ALICE"), "hi"))
                .await
        ),
        403,
        "account names are matched whatever their letter case"
    );
    chat.send(&guest(), draft("lobby", Some("visitor"), "hi"))
        .await
        .unwrap();
    let kept = chat.history(&guest(), &history("lobby")).await.unwrap();
    assert_eq!(kept.messages.len(), 1);
    assert_eq!(kept.messages[0].author, None);
}

#[tokio::test]
async fn without_guests_everything_but_signing_in_needs_a_user() {
    let chat = chat_with(IdentityConfig {
        guests: false,
        ..IdentityConfig::default()
    })
    .await;
    assert_eq!(status(chat.history(&guest(), &history("lobby")).await), 401);
    assert_eq!(
        status(chat.send(&guest(), draft("lobby", Some("v"), "hi")).await),
        401
    );
    let alice = person(&chat, "alice").await;
    chat.send(&alice, draft("lobby", None, "hi")).await.unwrap();
}

#[tokio::test]
async fn a_private_room_does_not_exist_for_those_outside_it() {
    let chat = chat().await;
    let alice = person(&chat, "alice").await;
    let bob = person(&chat, "bob").await;
    let carol = person(&chat, "carol").await;
    chat.create_room(&alice, room("plans"), true).await.unwrap();
    chat.add_member(&alice, &room("plans"), "bob")
        .await
        .unwrap();
    chat.send(&bob, draft("plans", None, "secret"))
        .await
        .unwrap();

    for outsider in [&carol, &guest()] {
        assert_eq!(status(chat.history(outsider, &history("plans")).await), 404);
        assert_eq!(
            status(chat.send(outsider, draft("plans", Some("x"), "in")).await),
            404
        );
        let listed = chat.rooms(outsider).await.unwrap();
        assert!(listed.rooms.iter().all(|info| info.name != "plans"));
    }
    assert_eq!(
        chat.history(&alice, &history("plans"))
            .await
            .unwrap()
            .messages
            .len(),
        1
    );
    // A member may not add people; only the owner may.
    assert_eq!(
        status(chat.add_member(&bob, &room("plans"), "carol").await),
        403
    );
}

#[tokio::test]
async fn a_room_in_use_stays_public() {
    let chat = chat().await;
    let alice = person(&chat, "alice").await;
    chat.send(&guest(), draft("busy", Some("v"), "hi"))
        .await
        .unwrap();
    assert_eq!(
        status(chat.create_room(&alice, room("busy"), true).await),
        409
    );
    assert_eq!(
        status(chat.create_room(&alice, room(DEFAULT_ROOM), true).await),
        409
    );
    let bob = person(&chat, "bob").await;
    chat.mark_read(&bob, &room("joined"), MarkRead::default())
        .await
        .unwrap();
    assert_eq!(
        status(chat.create_room(&alice, room("joined"), true).await),
        409
    );
}

#[tokio::test]
async fn only_the_author_edits_and_a_private_rooms_owner_may_delete_any_message() {
    let chat = chat().await;
    let alice = person(&chat, "alice").await;
    let bob = person(&chat, "bob").await;
    chat.create_room(&alice, room("team"), true).await.unwrap();
    chat.add_member(&alice, &room("team"), "bob").await.unwrap();
    let sent = chat.send(&bob, draft("team", None, "typo")).await.unwrap();

    assert_eq!(
        status(chat.edit_message(&alice, sent.message_id, "fixed").await),
        403
    );
    let edited = chat
        .edit_message(&bob, sent.message_id, "fixed")
        .await
        .unwrap();
    assert_eq!(edited.text, "fixed");
    assert_eq!(
        status(chat.edit_message(&guest(), sent.message_id, "x").await),
        401
    );

    chat.delete_message(&alice, sent.message_id).await.unwrap();
    let kept = chat.history(&bob, &history("team")).await.unwrap();
    assert!(kept.messages[0].deleted);

    // In a public room only the author deletes.
    let public = chat.send(&bob, draft("lobby", None, "mine")).await.unwrap();
    assert_eq!(
        status(chat.delete_message(&alice, public.message_id).await),
        403
    );
}

#[tokio::test(start_paused = true)]
async fn a_stream_loses_a_room_its_person_is_removed_from_while_it_waits() {
    let chat = chat().await;
    let alice = person(&chat, "alice").await;
    let bob = person(&chat, "bob").await;
    chat.create_room(&alice, room("team"), true).await.unwrap();
    chat.add_member(&alice, &room("team"), "bob").await.unwrap();
    let request = stream_of("bobs-tab", "team", StreamFrom::Now);
    let stream = tokio::spawn({
        let (chat, bob) = (chat.clone(), bob.clone());
        async move { chat.stream(&bob, request).await }
    });
    while chat.stats(&alice).await.unwrap().held_polls == 0 {
        tokio::task::yield_now().await;
    }
    chat.remove_member(&alice, &room("team"), "bob")
        .await
        .unwrap();

    // Answered at once (a paused clock would otherwise run to the timeout), with the room
    // unavailable and none of its messages.
    let answer = stream.await.unwrap().unwrap();
    assert_eq!(answer.status, PollStatus::Success);
    assert_eq!(answer.rooms.len(), 1);
    assert!(answer.rooms[0].unavailable);
    assert!(answer.rooms[0].messages.is_empty());
    assert_eq!(status(chat.history(&bob, &history("team")).await), 404);
}

#[tokio::test]
async fn a_stream_naming_a_room_it_may_not_read_is_answered_without_waiting() {
    let chat = chat().await;
    let alice = person(&chat, "alice").await;
    chat.create_room(&alice, room("team"), true).await.unwrap();
    let request = stream_of("guest-tab", "team", StreamFrom::Start);
    let answer = chat.stream(&guest(), request).await.unwrap();
    assert!(answer.rooms[0].unavailable);
}

#[tokio::test]
async fn joined_rooms_are_an_accounts_own() {
    let chat = chat().await;
    assert_eq!(
        chat.joined_rooms_unless_guest(&guest()).await.unwrap(),
        None
    );
    assert_eq!(status(chat.joined_rooms(&guest()).await), 401);
    let alice = person(&chat, "alice").await;
    let sent = chat.send(&alice, draft("lobby", None, "hi")).await.unwrap();
    chat.mark_read(
        &alice,
        &room("lobby"),
        MarkRead {
            last_read: Some(sent.message_id),
            notify: None,
        },
    )
    .await
    .unwrap();
    let joined = chat.joined_rooms(&alice).await.unwrap();
    assert_eq!(joined.rooms.len(), 1);
    assert_eq!(joined.rooms[0].last_read_id, Some(sent.message_id));
    assert_eq!(joined.rooms[0].unread, 0);
}
