//! The chat service: the one place that decides who may do what, then lets the broker do it.
//! The REST handlers and the server functions are thin adapters over [`Chat`]: they extract a
//! [`Caller`] and the request, and serialize the answer.
//!
//! Rules kept here, for every adapter at once:
//! - with `--guests off`, everything but signing up and in needs a user (401);
//! - the default room, and a room in use (messages, held polls, someone joined it), cannot be
//!   made private;
//! - a private room is seen only by its owner and members (and holders of a token naming it):
//!   for anyone else it does not exist (404), in polls, history, sends, stats, room lists and
//!   search; a direct room's people never change;
//! - a client id is its first holder's (the person, or a guest's address) until it goes idle:
//!   anyone else's poll, stream or disconnection under it is answered as for an unknown one;
//! - a signed-in sender is stamped with their name (naming someone else: 403); a guest names
//!   themselves but not with an account's name (403);
//! - sends are rate-limited per user, or per client address for guests, before anything else
//!   is looked at; changes to a message also per person and message, and a message carries
//!   at most so many different emoji (`--max-reactions-per-message`);
//! - a member losing a room (removed, room deleted, here or on another instance) has their
//!   polls on it answered `disconnected` at once;
//! - joined rooms and read positions are an account's (guests 401, another site's token
//!   holders 403: they have no account here); only rooms the caller may see are joined or
//!   listed, and a read position only moves forward (the store keeps the newer).
//!
//! One `impl Chat` per concern, mirroring `rest/`: `messages` (send, edit, delete, react),
//! `delivery` (poll, stream, history, stats, disconnect), `rooms` (rooms and members),
//! `direct` (direct rooms), `reads` (joined rooms, read positions), `accounts`, `presence`,
//! `search`, `push` (Web Push subscriptions), `files` (uploads and who may fetch them). What they share (who the caller is, whether they may see a room, whose client ids
//! they use) is here.

mod accounts;
mod delivery;
mod direct;
mod files;
mod messages;
mod presence;
mod push;
mod reads;
mod rooms;
mod search;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    broker::{PollAnswer, RoomAnswer, StreamAnswer},
    clock::unix_seconds,
    files::{Files, FilesConfig},
    identity::{Caller, Credentials, Identity, RoomChange, User},
    push::{Push, Sent},
    send_limit::{ChangeLimiter, SearchLimiter, SendKey, SendLimiter, UploadLimiter},
    store::identity::{JoinedRoomRecord, PrivateRoomRecord},
    Broker,
};
use crate::{
    error::ChatError,
    model::{
        is_direct_room, mentioned_names, Account, AccountName, Attachment, ChangeKind, ClientId,
        ClientOwner, Emoji, History, HistoryRequest, JoinedRoom, JoinedRoomList, LiveState,
        MarkRead, Me, MentionList, MentionsRequest, Message, MessageText, NotifyLevel, Person,
        PollRequest, PollStatus, RoomInfo, RoomList, RoomMembers, RoomName, SendDraft, SendReceipt,
        SenderName, SessionCreated, Stats, StreamRequest, DEFAULT_MAX_REACTIONS_PER_MESSAGE,
        DEFAULT_ROOM, DIRECT_ROOM_PREFIX,
    },
    server::identity::Via,
};

/// A cheap, cloneable handle to the service.
#[derive(Clone)]
pub struct Chat {
    shared: Arc<Shared>,
}

struct Shared {
    broker: Broker,
    identity: Identity,
    options: ChatOptions,
}

/// What the service needs beyond the broker and identity.
#[derive(Clone)]
pub struct ChatOptions {
    /// The send rate limit; `None` sends freely.
    pub send_limiter: Option<SendLimiter>,
    /// The rate of changes one person makes to one message; `None`: only the send rate.
    pub change_limiter: Option<ChangeLimiter>,
    /// Different emoji one message may carry as reactions.
    pub max_reactions_per_message: usize,
    /// The search rate limit; `None` searches freely.
    pub search_limiter: Option<SearchLimiter>,
    /// Web Push; `None`: off (`--push off`).
    pub push: Option<Push>,
    /// Where files are kept, and their limits.
    pub files: Files,
    /// The upload rate limit; `None`: only the send rate.
    pub upload_limiter: Option<UploadLimiter>,
}

impl Default for ChatOptions {
    fn default() -> Self {
        Self {
            send_limiter: None,
            change_limiter: None,
            max_reactions_per_message: DEFAULT_MAX_REACTIONS_PER_MESSAGE,
            search_limiter: None,
            push: None,
            files: Files::open(FilesConfig::default()).expect("files in memory always open"),
            upload_limiter: None,
        }
    }
}

impl Chat {
    /// The service over `broker` and `identity`; `room_changes` (from [`Identity::open`]) are
    /// applied to the broker's polls for as long as the service lives.
    pub fn new(
        broker: Broker,
        identity: Identity,
        options: ChatOptions,
        room_changes: mpsc::UnboundedReceiver<RoomChange>,
    ) -> Self {
        let chat = Self {
            shared: Arc::new(Shared {
                broker,
                identity,
                options,
            }),
        };
        tokio::spawn(chat.clone().follow_room_changes(room_changes));
        chat
    }

    /// Who presents `credentials`: a user, or `None` for a guest.
    pub async fn authenticate(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<Option<User>, ChatError> {
        self.shared.identity.authenticate(credentials).await
    }

    /// Session cookies are `Secure`: the server is reached over https (`--public-url`).
    pub fn secure_cookies(&self) -> bool {
        self.shared.identity.config().https
    }

    /// The longest message text this server takes (`--max-text-chars`).
    pub fn max_text_chars(&self) -> usize {
        self.shared.broker.max_text_chars()
    }

    /// `Ok` while the store answers (`/health`).
    pub async fn check_store(&self) -> Result<(), ChatError> {
        self.shared.broker.check_store().await
    }

    /// `Ok` while the store answers and the server is not shutting down (`/health/ready`).
    pub async fn check_ready(&self) -> Result<(), ChatError> {
        self.shared.broker.check_ready().await
    }

    /// The caller's user, if the server lets them in: guests only where allowed.
    fn participant<'a>(&self, caller: &'a Caller) -> Result<Option<&'a User>, ChatError> {
        match &caller.user {
            None if !self.shared.identity.guests_allowed() => Err(ChatError::unauthenticated(
                "sign in first: this server has no guests",
            )),
            user => Ok(user.as_ref()),
        }
    }

    fn signed_in<'a>(&self, caller: &'a Caller) -> Result<&'a User, ChatError> {
        caller
            .user
            .as_ref()
            .ok_or_else(|| ChatError::unauthenticated("sign in first"))
    }

    /// 404 unless the user may see the room.
    fn visible(&self, user: Option<&User>, room: &str) -> Result<(), ChatError> {
        if self.shared.identity.rooms().may_see(user, room) {
            Ok(())
        } else {
            Err(ChatError::NoSuchRoom)
        }
    }

    /// Whose the client ids the caller uses are: the person's, or the guest address's.
    fn owner(caller: &Caller) -> ClientOwner {
        match &caller.user {
            // The account's key as it is (no copy per poll); a token holder as `author` names
            // them, so a token naming an account never owns that account's client ids.
            Some(
                user @ User {
                    via: Via::Session { .. },
                    ..
                },
            ) => ClientOwner::Person(user.key.clone()),
            Some(user) => ClientOwner::Person(user.author().into()),
            None => ClientOwner::Guest(caller.address),
        }
    }

    /// How presence and typing know the user.
    fn person(user: &User) -> Person {
        Person {
            key: user.author(),
            name: user.name.to_string(),
        }
    }

    /// The caller's account: joined rooms and read positions are kept per account of this
    /// server, which another site's token holder does not have (their `alice` is not ours).
    fn account<'a>(&self, caller: &'a Caller) -> Result<&'a User, ChatError> {
        let user = self.signed_in(caller)?;
        match user.via {
            Via::Session { .. } => Ok(user),
            Via::Token { .. } => Err(ChatError::forbidden(
                "joined rooms are kept per account of this server: sign in with one",
            )),
        }
    }
}
