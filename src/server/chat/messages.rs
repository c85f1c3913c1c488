//! Sending, editing, deleting and reacting: who may write what, the sender stamp, the rates.

use super::*;

impl Chat {
    /// Sends the draft as the caller.
    pub async fn send(&self, caller: &Caller, draft: SendDraft) -> Result<SendReceipt, ChatError> {
        let user = self.may_send(caller, &draft.room)?;
        self.send_checked(user, draft, None).await
    }

    /// The caller, if they may send to `room` now: guests only where allowed, a room they may
    /// see, within the send rate (which this spends).
    pub(super) fn may_send<'a>(
        &self,
        caller: &'a Caller,
        room: &RoomName,
    ) -> Result<Option<&'a User>, ChatError> {
        let user = self.participant(caller)?;
        self.visible(user, room.as_str())?;
        let key = match user {
            Some(user) => SendKey::User(user.key.clone()),
            None => SendKey::Address(caller.address),
        };
        // Before the guest's name is looked up: past the limit, nobody learns which names
        // are accounts'.
        self.check_rate(&key)?;
        Ok(user)
    }

    /// Sends the draft (with `attachment`, kept already) as `user` ([`Chat::may_send`]'s).
    pub(super) async fn send_checked(
        &self,
        user: Option<&User>,
        draft: SendDraft,
        attachment: Option<Attachment>,
    ) -> Result<SendReceipt, ChatError> {
        let (sender, author) = match user {
            Some(user) => (
                self.stamp(user, draft.sender.as_ref())?,
                Some(user.author()),
            ),
            None => (self.guest_name(draft.sender.as_ref()).await?, None),
        };
        let mut mentions = self
            .mentioned_in(draft.room.as_str(), draft.text.as_str())
            .await?;
        mentions.retain(|key| user.is_none_or(|user| !user.is_account(key)));
        let mut request = draft.sent_by(sender, author);
        request.mentions = mentions;
        request.attachment = attachment;
        let Some(push) = &self.shared.options.push else {
            return self.shared.broker.send(request).await;
        };
        let mut sent = Sent {
            room: request.room.to_string(),
            id: uuid::Uuid::nil(),
            sender: request.sender.to_string(),
            author: request.author.clone(),
            text: match &request.attachment {
                // A file without a caption is told of by its name.
                Some(file) if request.text.as_str().is_empty() => format!("📎 {}", file.name),
                _ => request.text.as_str().to_owned(),
            },
            mentions: request.mentions.clone(),
        };
        let receipt = self.shared.broker.send(request).await?;
        sent.id = receipt.message_id;
        push.sent(sent);
        Ok(receipt)
    }

    /// Who `text` mentions in `room`: the active accounts it names that may read the room
    /// (the sender's own name aside, which callers take out). A name that may not is no
    /// mention: it tells nothing and nobody hears of it.
    async fn mentioned_in(&self, room: &str, text: &str) -> Result<Vec<String>, ChatError> {
        let names = mentioned_names(text);
        let mut mentions = Vec::new();
        if names.is_empty() {
            // Most sends: no room lookup on the send path.
            return Ok(mentions);
        }
        let private = self.shared.identity.rooms().get(room);
        for key in names {
            let may_read = private
                .as_ref()
                .is_none_or(|room| room.owner == key || room.members.contains(&key));
            let Ok(name) = AccountName::parse(&key) else {
                continue;
            };
            if may_read && self.shared.identity.account_active(&name).await? {
                mentions.push(key);
            }
        }
        Ok(mentions)
    }

    /// 429 past the send rate: sends and changes to messages (each takes a place in the
    /// room's log) share one bucket per user.
    pub(super) fn check_rate(&self, key: &SendKey) -> Result<(), ChatError> {
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
        let mut mentions = self.mentioned_in(&message.room, text.as_str()).await?;
        mentions.retain(|key| !user.is_account(key));
        let kind = ChangeKind::Edit {
            text: text.into(),
            mentions,
        };
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
        let deleted = self.change(user, &message, ChangeKind::Delete).await?;
        if let Some(file) = &message.attachment {
            self.shared
                .options
                .files
                .delete(&message.room, file.id)
                .await;
        }
        Ok(deleted)
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
}
