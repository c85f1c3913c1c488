//! The chat service: the one place that decides who may do what, then lets the broker do it.
//! The REST handlers and the server functions are thin adapters over [`Chat`]: they extract a
//! [`Caller`] and the request, and serialize the answer.
//!
//! Rules kept here, for every adapter at once:
//! - with `--guests off`, everything but signing up and in needs a user (401);
//! - the default room, and a room in use (messages, held polls, someone joined it), cannot be
//!   made private;
//! - a private room is seen only by its owner and members (and holders of a token naming it):
//!   for anyone else it does not exist (404), in polls, history, sends, stats and room lists;
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

use std::{net::IpAddr, sync::Arc};

use axum::http::HeaderMap;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    broker::PollAnswer,
    client_addr::TrustedProxies,
    clock::unix_seconds,
    identity::{store_failed, Caller, Identity, RoomChange, User},
    send_limit::{ChangeLimiter, SendKey, SendLimiter},
    store::identity::{JoinedRoomRecord, PrivateRoomRecord},
    Broker,
};
use crate::{
    error::ChatError,
    model::{
        Account, AccountName, ChangeKind, ClientId, ClientOwner, Emoji, History, HistoryRequest,
        JoinedRoom, JoinedRoomList, LiveState, Me, Message, MessageText, Person, PollRequest,
        PollStatus, RoomInfo, RoomList, RoomMembers, RoomName, RoomNews, SendDraft, SendReceipt,
        SenderName, SessionCreated, Stats, StreamRequest, StreamResponse,
        DEFAULT_MAX_REACTIONS_PER_MESSAGE, DEFAULT_ROOM,
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
    /// Proxies whose forwarding headers name the client's address (`--trusted-proxies`).
    pub trusted_proxies: TrustedProxies,
}

impl Default for ChatOptions {
    fn default() -> Self {
        Self {
            send_limiter: None,
            change_limiter: None,
            max_reactions_per_message: DEFAULT_MAX_REACTIONS_PER_MESSAGE,
            trusted_proxies: TrustedProxies::default(),
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

    pub fn broker(&self) -> &Broker {
        &self.shared.broker
    }

    pub fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    /// The client's address: the peer's, or the one a trusted proxy forwarded for.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        self.shared
            .options
            .trusted_proxies
            .client_address(peer, headers)
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

    /// Sends the draft as the caller.
    pub async fn send(&self, caller: &Caller, draft: SendDraft) -> Result<SendReceipt, ChatError> {
        let user = self.participant(caller)?;
        self.visible(user, draft.room.as_str())?;
        let key = match user {
            Some(user) => SendKey::User(user.key.clone()),
            None => SendKey::Address(caller.address),
        };
        // Before the guest's name is looked up: past the limit, nobody learns which names
        // are accounts'.
        self.check_rate(&key)?;
        let (sender, author) = match user {
            Some(user) => (
                self.stamp(user, draft.sender.as_ref())?,
                Some(user.author()),
            ),
            None => (self.guest_name(draft.sender.as_ref()).await?, None),
        };
        self.shared.broker.send(draft.sent_by(sender, author)).await
    }

    /// 429 past the send rate: sends and changes to messages (each takes a place in the
    /// room's log) share one bucket per user.
    fn check_rate(&self, key: &SendKey) -> Result<(), ChatError> {
        let limiter = self.shared.options.send_limiter.as_ref();
        match limiter.and_then(|limiter| limiter.check(key)) {
            Some(retry_after_secs) => Err(ChatError::RateLimited { retry_after_secs }),
            None => Ok(()),
        }
    }

    /// A signed-in sender's name: theirs, whatever the body says but for naming someone else.
    fn stamp(&self, user: &User, named: Option<&SenderName>) -> Result<SenderName, ChatError> {
        if let Some(named) = named.filter(|named| !named.as_str().eq_ignore_ascii_case(&user.key)) {
            return Err(ChatError::forbidden(format!(
                "you are signed in as {}: leave `sender` out, or name yourself, not \"{named}\"",
                user.name
            )));
        }
        SenderName::parse(user.name.as_str())
    }

    async fn guest_name(&self, named: Option<&SenderName>) -> Result<SenderName, ChatError> {
        let named =
            named.ok_or_else(|| ChatError::invalid("missing field `sender` (or sign in)"))?;
        if let Ok(account) = AccountName::parse(named.as_str()) {
            if self.shared.identity.account_exists(&account).await? {
                return Err(ChatError::forbidden(format!(
                    "\"{named}\" is an account's name: sign in to send as it, or pick another"
                )));
            }
        }
        Ok(named.clone())
    }

    /// Replaces the text of the caller's own message.
    pub async fn edit_message(
        &self,
        caller: &Caller,
        id: Uuid,
        text: &str,
    ) -> Result<Arc<Message>, ChatError> {
        let user = self.changer(caller)?;
        let text = MessageText::parse(text)?;
        let message = self.changeable(user, id)?;
        if message.author.as_deref() != Some(user.author().as_str()) {
            return Err(ChatError::forbidden("only its author may edit a message"));
        }
        let kind = ChangeKind::Edit { text: text.into() };
        self.change(user, &message, kind).await
    }

    /// Deletes a message: the caller's own, or any in a private room the caller owns. Deleting
    /// a deleted message changes nothing.
    pub async fn delete_message(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Arc<Message>, ChatError> {
        let user = self.changer(caller)?;
        let message = self.changeable(user, id)?;
        let own = message.author.as_deref() == Some(user.author().as_str());
        let owner = (self.shared.identity.rooms().get(&message.room))
            .is_some_and(|room| user.is_account(&room.owner));
        if !own && !owner {
            return Err(ChatError::forbidden(
                "only its author or the room's owner may delete a message",
            ));
        }
        if message.deleted {
            return Ok(message);
        }
        self.change(user, &message, ChangeKind::Delete).await
    }

    /// Adds (`add`) or takes back the caller's `emoji` reaction to a message; doing what is
    /// done already changes nothing.
    pub async fn react(
        &self,
        caller: &Caller,
        id: Uuid,
        emoji: &str,
        add: bool,
    ) -> Result<Arc<Message>, ChatError> {
        let user = self.changer(caller)?;
        let emoji = Emoji::parse(emoji)?.as_str().to_owned();
        let message = self.changeable(user, id)?;
        let new_emoji = !message
            .reactions
            .iter()
            .any(|reaction| reaction.emoji == emoji);
        let most = self.shared.options.max_reactions_per_message;
        if add && new_emoji && message.reactions.len() >= most {
            return Err(ChatError::TooManyReactions);
        }
        let kind = if add {
            ChangeKind::React { emoji }
        } else {
            ChangeKind::Unreact { emoji }
        };
        self.change(user, &message, kind).await
    }

    /// The caller, who must be signed in to change or react to messages. Checked before the
    /// request's text or emoji, so that a guest learns first that they may not.
    fn changer<'a>(&self, caller: &'a Caller) -> Result<&'a User, ChatError> {
        self.participant(caller)?;
        caller
            .user
            .as_ref()
            .ok_or_else(|| ChatError::unauthenticated("sign in to change or react to messages"))
    }

    /// The message, which the user must be able to see (404 otherwise, as for an unknown
    /// one).
    fn changeable(&self, user: &User, id: Uuid) -> Result<Arc<Message>, ChatError> {
        self.shared
            .broker
            .message(id)
            .filter(|message| {
                self.shared
                    .identity
                    .rooms()
                    .may_see(Some(user), &message.room)
            })
            .ok_or(ChatError::NoSuchMessage)
    }

    async fn change(
        &self,
        user: &User,
        message: &Message,
        kind: ChangeKind,
    ) -> Result<Arc<Message>, ChatError> {
        if message.deleted && kind != ChangeKind::Delete {
            return Err(ChatError::NoSuchMessage);
        }
        if let Some(limiter) = &self.shared.options.change_limiter {
            if let Some(retry_after_secs) = limiter.check(&(user.author(), message.id)) {
                return Err(ChatError::RateLimited { retry_after_secs });
            }
        }
        self.check_rate(&SendKey::User(user.key.clone()))?;
        let by = user.name.as_str();
        (self.shared.broker)
            .change(message, by, &user.author(), kind)
            .await
    }

    /// Holds the poll (see [`Broker::poll`]) if the caller may see the room.
    pub async fn poll(
        &self,
        caller: &Caller,
        mut request: PollRequest,
    ) -> Result<PollAnswer, ChatError> {
        let user = self.participant(caller)?;
        self.visible(user, request.room.as_str())?;
        request.holder = user.map(|user| user.key.clone());
        request.owner = Self::owner(caller);
        let room = request.room.clone();
        let answer = self.shared.broker.poll(request).await?;
        // Checked again before handing messages out: a room made private (or a member
        // removed) while the poll was being registered ends only the polls registered by then.
        if !answer.messages.is_empty() {
            self.visible(user, room.as_str())?;
        }
        Ok(answer)
    }

    /// Holds one request for many rooms (see [`Broker::stream`]). Rooms the caller may not
    /// read are answered `unavailable` at once, without waiting: they are never followed.
    pub async fn stream(
        &self,
        caller: &Caller,
        mut request: StreamRequest,
    ) -> Result<StreamResponse, ChatError> {
        let user = self.participant(caller)?;
        let private = self.shared.identity.rooms();
        let hidden: Vec<RoomNews> = request
            .rooms
            .iter()
            .filter(|follow| !private.may_see(user, follow.room.as_str()))
            .map(|follow| RoomNews::unavailable(follow.room.to_string()))
            .collect();
        if !hidden.is_empty() {
            return Ok(StreamResponse {
                status: PollStatus::Success,
                rooms: hidden,
                timestamp: unix_seconds(),
            });
        }
        // A signed-in person's stream makes its rooms, so who is there shows before the first
        // message (people are few, and their polls capped); a guest's makes only the default
        // room: a stream naming a hundred unused names makes no room, it waits for them.
        for follow in &mut request.rooms {
            follow.open = user.is_some() || follow.room.as_str() == DEFAULT_ROOM;
        }
        request.holder = user.map(|user| user.key.clone());
        request.owner = Self::owner(caller);
        request.person = user.map(Self::person);
        let rooms: Vec<RoomName> = request.rooms.iter().map(|f| f.room.clone()).collect();
        let mut answer = self.shared.broker.stream(request).await?;
        // Checked again before handing anything out, as in `poll`; and a stream ended early
        // because a room changed hands learns here which rooms it lost.
        if answer.status == PollStatus::Success {
            let private = self.shared.identity.rooms();
            for room in &rooms {
                if private.may_see(user, room.as_str()) {
                    continue;
                }
                match answer
                    .rooms
                    .iter_mut()
                    .find(|news| news.room == room.as_str())
                {
                    Some(news) => *news = RoomNews::unavailable(room.to_string()),
                    None => answer.rooms.push(RoomNews::unavailable(room.to_string())),
                }
            }
        }
        Ok(answer)
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

    /// Says the caller is typing in the room (see [`Broker::typing`]); signed-in users only,
    /// so that nobody shows as typing under a name that is not theirs.
    pub fn typing(&self, caller: &Caller, room: &RoomName) -> Result<(), ChatError> {
        self.participant(caller)?;
        let user = (caller.user.as_ref())
            .ok_or_else(|| ChatError::unauthenticated("sign in to show that you are typing"))?;
        self.visible(Some(user), room.as_str())?;
        self.shared.broker.typing(room, &Self::person(user));
        Ok(())
    }

    /// Who is online and typing in the room, if the caller may see it.
    pub fn online(&self, caller: &Caller, room: &RoomName) -> Result<LiveState, ChatError> {
        let user = self.participant(caller)?;
        self.visible(user, room.as_str())?;
        Ok(self.shared.broker.live_state(room))
    }

    pub fn history(&self, caller: &Caller, request: &HistoryRequest) -> Result<History, ChatError> {
        let user = self.participant(caller)?;
        self.visible(user, request.room.as_str())?;
        Ok(self.shared.broker.history(request))
    }

    /// The counters, over the rooms the caller may see.
    pub async fn stats(&self, caller: &Caller) -> Result<Stats, ChatError> {
        let user = self.participant(caller)?;
        let rooms = self.shared.identity.rooms();
        Ok(self
            .shared
            .broker
            .stats(|room| rooms.may_see(user, room))
            .await)
    }

    pub async fn disconnect(
        &self,
        caller: &Caller,
        client_id: &ClientId,
    ) -> Result<usize, ChatError> {
        self.participant(caller)?;
        (self.shared.broker)
            .disconnect(client_id, &Self::owner(caller))
            .await
    }

    /// The public rooms in use and the private rooms the caller may see, by name.
    pub async fn rooms(&self, caller: &Caller) -> Result<RoomList, ChatError> {
        let user = self.participant(caller)?;
        let private = self.shared.identity.rooms();
        let mut rooms: Vec<RoomInfo> = self
            .stats(caller)
            .await?
            .rooms
            .into_iter()
            .filter(|name| private.get(name).is_none())
            .map(|name| RoomInfo {
                name,
                private: false,
                owner: None,
            })
            .collect();
        if let Some(user) = user {
            for name in private.visible_to(user) {
                let owner = private.get(&name).map(|room| room.owner.clone());
                rooms.push(RoomInfo {
                    name,
                    private: true,
                    owner,
                });
            }
        }
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(RoomList { rooms })
    }

    /// Creates a room. A private one needs a user, who becomes its owner; a public one needs
    /// no creating, so only its name is checked. 409 if the name is in use.
    pub async fn create_room(
        &self,
        caller: &Caller,
        room: RoomName,
        private: bool,
    ) -> Result<RoomInfo, ChatError> {
        let user = self.participant(caller)?;
        let identity = &self.shared.identity;
        if identity.rooms().get(room.as_str()).is_some() {
            return Err(ChatError::RoomTaken);
        }
        if !private {
            return Ok(RoomInfo {
                name: room.into(),
                private: false,
                owner: None,
            });
        }
        let user = user.ok_or_else(|| ChatError::unauthenticated("sign in to own a room"))?;
        if !matches!(user.via, Via::Session { .. }) {
            return Err(ChatError::forbidden(
                "a private room's owner must be an account of this server",
            ));
        }
        // A room people use stays public: the default room, or one with messages, held polls
        // or someone who joined it. One answer for every reason, which says no more than the
        // room list does.
        if room.as_str() == DEFAULT_ROOM
            || self.shared.broker.room_in_use(room.as_str())
            || (identity.store())
                .room_joined(room.as_str())
                .await
                .map_err(store_failed)?
        {
            return Err(ChatError::RoomTaken);
        }
        let record = PrivateRoomRecord {
            name: room.to_string(),
            owner: user.key.to_string(),
            members: Default::default(),
        };
        if !identity
            .store()
            .create_private_room(&record)
            .await
            .map_err(store_failed)?
        {
            return Err(ChatError::RoomTaken);
        }
        identity.rooms().put(record.clone());
        // Polls on the unused name through another instance are ended; a guest's stream
        // waiting for it is answered `unavailable` when its first message comes.
        let owner = record.owner.clone();
        self.shared
            .broker
            .end_polls(room.as_str(), |holder| holder != Some(owner.as_str()));
        Ok(RoomInfo {
            name: record.name,
            private: true,
            owner: Some(record.owner),
        })
    }

    /// The private room, if the user may see it (404 otherwise, and for public rooms).
    fn private_room(
        &self,
        user: Option<&User>,
        room: &RoomName,
    ) -> Result<Arc<PrivateRoomRecord>, ChatError> {
        self.visible(user, room.as_str())?;
        self.shared
            .identity
            .rooms()
            .get(room.as_str())
            .ok_or(ChatError::NoSuchRoom)
    }

    /// The private room, if the user owns it.
    fn owned_room(
        &self,
        user: &User,
        room: &RoomName,
    ) -> Result<Arc<PrivateRoomRecord>, ChatError> {
        let record = self.private_room(Some(user), room)?;
        if !user.is_account(&record.owner) {
            return Err(ChatError::forbidden("only the room's owner can do that"));
        }
        Ok(record)
    }

    /// Deletes a private room and its messages (owner only); its polls are answered
    /// `disconnected`.
    pub async fn delete_room(&self, caller: &Caller, room: &RoomName) -> Result<(), ChatError> {
        let user = self.signed_in(caller)?;
        self.owned_room(user, room)?;
        let identity = &self.shared.identity;
        // Messages first, so the room is never public while it still has them; and again
        // after, for a member's send that landed in between.
        self.shared.broker.delete_room(room).await?;
        identity
            .store()
            .delete_private_room(room.as_str())
            .await
            .map_err(store_failed)?;
        self.shared.broker.delete_room(room).await?;
        identity.rooms().remove(room.as_str());
        Ok(())
    }

    pub fn members(&self, caller: &Caller, room: &RoomName) -> Result<RoomMembers, ChatError> {
        let user = self.participant(caller)?;
        Ok(members_of(&*self.private_room(user, room)?))
    }

    /// Adds an account to a private room (owner only).
    pub async fn add_member(
        &self,
        caller: &Caller,
        room: &RoomName,
        name: &str,
    ) -> Result<RoomMembers, ChatError> {
        let user = self.signed_in(caller)?;
        let mut record = (*self.owned_room(user, room)?).clone();
        let account = AccountName::parse(name)?;
        let identity = &self.shared.identity;
        if !identity.account_exists(&account).await? {
            return Err(ChatError::NoSuchAccount);
        }
        let key = account.key();
        if !identity
            .store()
            .add_member(room.as_str(), &key)
            .await
            .map_err(store_failed)?
        {
            return Err(ChatError::NoSuchRoom);
        }
        if key != record.owner {
            record.members.insert(key);
        }
        identity.rooms().put(record.clone());
        Ok(members_of(&record))
    }

    /// Removes a member from a private room: the owner removes anyone but themselves, a
    /// member may leave. The member's polls on the room are answered `disconnected`.
    pub async fn remove_member(
        &self,
        caller: &Caller,
        room: &RoomName,
        name: &str,
    ) -> Result<RoomMembers, ChatError> {
        let user = self.signed_in(caller)?;
        let mut record = (*self.private_room(Some(user), room)?).clone();
        let key = AccountName::parse(name)?.key();
        if key == record.owner {
            return Err(ChatError::invalid(
                "the owner cannot leave their room: delete it instead",
            ));
        }
        if !user.is_account(&record.owner) && !user.is_account(&key) {
            return Err(ChatError::forbidden(
                "only the room's owner can remove members",
            ));
        }
        let identity = &self.shared.identity;
        if !identity
            .store()
            .remove_member(room.as_str(), &key)
            .await
            .map_err(store_failed)?
        {
            return Err(ChatError::NoSuchMember);
        }
        record.members.remove(&key);
        identity.rooms().put(record.clone());
        self.shared
            .broker
            .end_polls(room.as_str(), |holder| holder == Some(key.as_str()));
        Ok(members_of(&record))
    }

    /// Creates an account, within the sign-up limits of the caller's address and the server.
    pub async fn sign_up(
        &self,
        caller: &Caller,
        name: &str,
        password: &str,
    ) -> Result<Account, ChatError> {
        let account = self
            .shared
            .identity
            .sign_up(name, password, caller.address)
            .await?;
        Ok(Account { name: account.name })
    }

    pub async fn sign_in(
        &self,
        caller: &Caller,
        name: &str,
        password: &str,
    ) -> Result<SessionCreated, ChatError> {
        let session = self
            .shared
            .identity
            .sign_in(name, password, caller.address)
            .await?;
        Ok(SessionCreated {
            token: session.token,
            name: session.name.into(),
            expires_at: session.expires_at,
        })
    }

    pub async fn sign_out(&self, caller: &Caller) -> Result<(), ChatError> {
        let user = self.signed_in(caller)?;
        self.shared.identity.sign_out(user).await
    }

    pub fn me(&self, caller: &Caller) -> Result<Me, ChatError> {
        let user = self.signed_in(caller)?;
        Ok(Me {
            name: user.name.to_string(),
            via: match user.via {
                Via::Session { .. } => "session",
                Via::Token { .. } => "token",
            }
            .to_owned(),
            expires_at: user.expires_at(),
        })
    }

    /// Applies other instances' changes to private rooms to this instance's polls.
    async fn follow_room_changes(self, mut changes: mpsc::UnboundedReceiver<RoomChange>) {
        while let Some(change) = changes.recv().await {
            let broker = &self.shared.broker;
            if change.deleted {
                broker.forget_room(&change.room);
                self.shared.identity.rooms().remove(&change.room);
            } else {
                broker.end_polls(&change.room, |holder| {
                    holder.is_some_and(|holder| change.removed.iter().any(|key| key == holder))
                });
            }
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

    /// The rooms the account joined and may still see, each with its read position and how
    /// many of the room's messages came after it.
    pub async fn joined_rooms(&self, caller: &Caller) -> Result<JoinedRoomList, ChatError> {
        let user = self.account(caller)?;
        let identity = &self.shared.identity;
        let joined = identity
            .store()
            .joined_rooms(&user.key)
            .await
            .map_err(store_failed)?;
        // A room can be joined yet unseen: joined while public, then made private by another.
        let rooms = joined
            .into_iter()
            .filter(|joined| identity.rooms().may_see(Some(user), &joined.room))
            .map(|joined| self.joined_room(joined))
            .collect();
        Ok(JoinedRoomList { rooms })
    }

    /// Joins the room (if the account has not) and moves its read position forward to
    /// `last_read` (if newer than the kept one); answers the room as kept now.
    pub async fn mark_read(
        &self,
        caller: &Caller,
        room: &RoomName,
        last_read: Option<Uuid>,
    ) -> Result<JoinedRoom, ChatError> {
        let user = self.account(caller)?;
        self.visible(Some(user), room.as_str())?;
        let kept = self
            .shared
            .identity
            .store()
            .set_read(&user.key, room.as_str(), last_read)
            .await
            .map_err(store_failed)?
            // The store checks membership too: the member was removed in between.
            .ok_or(ChatError::NoSuchRoom)?;
        Ok(self.joined_room(kept))
    }

    /// Leaves a joined room (its messages and membership stay as they are).
    pub async fn leave_joined_room(
        &self,
        caller: &Caller,
        room: &RoomName,
    ) -> Result<(), ChatError> {
        let user = self.account(caller)?;
        self.visible(Some(user), room.as_str())?;
        if !self
            .shared
            .identity
            .store()
            .leave_room(&user.key, room.as_str())
            .await
            .map_err(store_failed)?
        {
            return Err(ChatError::NotJoined);
        }
        Ok(())
    }

    fn joined_room(&self, joined: JoinedRoomRecord) -> JoinedRoom {
        let unread = self
            .shared
            .broker
            .unread_after(&joined.room, joined.last_read);
        JoinedRoom {
            private: self.shared.identity.rooms().get(&joined.room).is_some(),
            unread: unread.count,
            unread_at_least: unread.at_least,
            last_read_id: joined.last_read,
            room: joined.room,
        }
    }
}

fn members_of(room: &PrivateRoomRecord) -> RoomMembers {
    RoomMembers {
        room: room.name.clone(),
        owner: room.owner.clone(),
        members: room.members.iter().cloned().collect(),
    }
}
