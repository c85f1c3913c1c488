//! Web Push subscriptions: signed-in accounts of this server only (a push goes to an account's
//! browsers, which another site's token holder does not have here).

use super::*;
use crate::{
    model::{PushKey, PushSubscriptionBody, PushUnsubscribeBody},
    server::store::identity::TokenHash,
};

impl Chat {
    /// The key browsers subscribe with; 404 while Web Push is off.
    pub fn push_key(&self) -> Result<PushKey, ChatError> {
        Ok(self.push()?.key())
    }

    /// Keeps this browser's subscription for the caller's account, until it unsubscribes or
    /// the session ends; `true` if it is new.
    pub async fn subscribe_push(
        &self,
        caller: &Caller,
        body: &PushSubscriptionBody,
    ) -> Result<bool, ChatError> {
        let push = self.push()?;
        let (user, session) = self.push_session(caller)?;
        push.subscribe(&user.key, session, body).await
    }

    /// Ends the caller's subscription of this endpoint; 404 if it has none.
    pub async fn unsubscribe_push(
        &self,
        caller: &Caller,
        body: &PushUnsubscribeBody,
    ) -> Result<(), ChatError> {
        let push = self.push()?;
        let (user, _) = self.push_session(caller)?;
        if push.unsubscribe(&user.key, &body.endpoint).await? {
            Ok(())
        } else {
            Err(ChatError::NoSuchSubscription)
        }
    }

    fn push(&self) -> Result<&Push, ChatError> {
        (self.shared.options.push.as_ref()).ok_or(ChatError::PushOff)
    }

    /// The caller's account and session: subscriptions end with the session they are made in.
    fn push_session<'a>(&self, caller: &'a Caller) -> Result<(&'a User, &'a TokenHash), ChatError> {
        let user = self.account(caller)?;
        match &user.via {
            Via::Session { token_hash, .. } => Ok((user, token_hash)),
            Via::Token { .. } => Err(ChatError::forbidden(
                "pushes go to accounts of this server: sign in with one",
            )),
        }
    }
}
