//! Signing up, in and out, and who the caller is.

use super::*;

impl Chat {
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
        self.shared.identity.sign_out(user).await?;
        // This browser's pushes were the session's: signed out, it hears of nothing more.
        if let (Some(push), Via::Session { token_hash, .. }) =
            (&self.shared.options.push, &user.via)
        {
            push.forget_session(&user.key, token_hash).await;
        }
        Ok(())
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
}
