//! Files: an upload is a send (who may post where, the stamped sender, the send rate, and an
//! upload rate of its own), and fetching a file is reading its room: only someone who may read
//! the room now gets it, whoever holds its link.

use bytes::Bytes;
use object_store::GetRange;

use super::*;
use crate::server::files::{Files, Part, Served};

impl Chat {
    /// The files (where they are, their limits).
    pub fn files(&self) -> &Files {
        &self.shared.options.files
    }

    /// Whether the caller may upload to `room` now, before anything of the upload is read:
    /// the send rules, uploads by guests only with `--guest-uploads`, and the upload rate.
    /// Spends a send and an upload from the caller's rates.
    pub fn may_upload(&self, caller: &Caller, room: &RoomName) -> Result<(), ChatError> {
        if caller.user.is_none() && !self.files().config().guest_uploads {
            self.participant(caller)?;
            return Err(ChatError::unauthenticated("sign in to send files"));
        }
        let user = self.may_send(caller, room)?;
        if let Some(limiter) = &self.shared.options.upload_limiter {
            let key = match user {
                Some(user) => SendKey::User(user.key.clone()),
                None => SendKey::Address(caller.address),
            };
            if let Some(retry_after_secs) = limiter.check(&key) {
                return Err(ChatError::RateLimited { retry_after_secs });
            }
        }
        Ok(())
    }

    /// Keeps the file and sends it to the draft's room with the draft's text as its caption
    /// ([`Chat::may_upload`] first). A send that fails leaves no file behind.
    pub async fn upload(
        &self,
        caller: &Caller,
        draft: SendDraft,
        name: &str,
        bytes: Bytes,
    ) -> Result<SendReceipt, ChatError> {
        let user = self.participant(caller)?;
        let room = draft.room.clone();
        let attachment = self.files().keep(room.as_str(), name, bytes).await?;
        let id = attachment.id;
        match self.send_checked(user, draft, Some(attachment)).await {
            Ok(receipt) => Ok(receipt),
            Err(error) => {
                self.files().delete(room.as_str(), id).await;
                Err(error)
            }
        }
    }

    /// The file (or its thumbnail) `id` of `room`, if the caller may read the room now.
    pub async fn file(
        &self,
        caller: &Caller,
        room: &RoomName,
        id: Uuid,
        part: Part,
        range: Option<GetRange>,
    ) -> Result<Served, ChatError> {
        let user = self.participant(caller)?;
        if !self.shared.identity.rooms().may_see(user, room.as_str()) {
            return Err(ChatError::NoSuchFile);
        }
        self.files().serve(room.as_str(), id, part, range).await
    }
}
