//! Accounts and sessions: signing up (within the address's and the server's limits), signing
//! in and out, and the operator's account commands. Passwords are hashed in [`super::secrets`]'
//! bounded queues; sessions are kept as token hashes only.

use super::*;

impl Identity {
    /// Creates an account for someone at `address`: 403 when sign-up is off, 400 for a
    /// malformed name or password, 429 past the sign-ups allowed from the address, 503 past
    /// those of the whole server or when the hashing queue is full, 409 if the name is taken
    /// in any letter case. The limits come before the name is looked up, so that past them
    /// the answer says nothing of which names exist.
    pub async fn sign_up(
        &self,
        name: &str,
        password: &str,
        address: IpAddr,
    ) -> Result<AccountRecord, ChatError> {
        if !self.shared.config.sign_up {
            return Err(ChatError::forbidden(
                "sign-up is off on this server: its operator creates the accounts",
            ));
        }
        let name = AccountName::parse(name)?;
        let password = Password::parse(password)?;
        let limits = &self.shared.limits;
        limits
            .sign_up_by_address
            .check(&address_key(address))
            .map_err(|wait| ChatError::TooManySignUps {
                retry_after_secs: retry_after_secs(wait),
            })?;
        limits.sign_ups.check().map_err(|wait| {
            ChatError::busy(
                "too many sign-ups on this server right now, retry later",
                retry_after_secs(wait),
            )
        })?;
        self.create_account(name, password).await
    }

    /// Creates an account, with no limit (the operator's `accounts create`). 409 if the name
    /// is taken in any letter case.
    pub async fn create_account(
        &self,
        name: AccountName,
        password: Password,
    ) -> Result<AccountRecord, ChatError> {
        // A cheap refusal before the expensive hash; the store decides for real below.
        if self.account_exists(&name).await? {
            return Err(ChatError::NameTaken);
        }
        let account = AccountRecord {
            name: name.to_string(),
            password_hash: self.shared.hasher.hash(password).await?,
            disabled: false,
            created_at: unix_seconds(),
        };
        match self.shared.store.create_account(&account).await {
            Ok(true) => Ok(account),
            Ok(false) => Err(ChatError::NameTaken),
            Err(error) => Err(store_failed(error)),
        }
    }

    /// Signs in with a name and password: the same 401 for a wrong name and a wrong password,
    /// after the same work; 429 past the attempts allowed per address, then per name (an
    /// attempt refused for its address spends none of the name's). A name that is no account
    /// name is refused without being counted or kept.
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
        address: IpAddr,
    ) -> Result<NewSession, ChatError> {
        let wrong = || ChatError::unauthenticated("wrong name or password");
        let limits = &self.shared.limits;
        let too_many = |wait| ChatError::TooManyAttempts {
            retry_after_secs: retry_after_secs(wait),
        };
        limits
            .sign_in_by_address
            .check(&address_key(address))
            .map_err(too_many)?;
        let Ok(name) = AccountName::parse(name) else {
            return Err(wrong());
        };
        limits
            .sign_in_by_name
            .check(&name.key())
            .map_err(too_many)?;
        let Ok(password) = Password::parse(password) else {
            return Err(wrong());
        };
        let account = self
            .shared
            .store
            .account(&name.key())
            .await
            .map_err(store_failed)?
            .filter(|account| !account.disabled);
        let phc = account
            .as_ref()
            .map(|account| account.password_hash.clone());
        if !self.shared.hasher.verify(password, phc).await? {
            return Err(wrong());
        }
        let account = account.ok_or_else(wrong)?;
        let (token, token_hash) = new_session_token()?;
        let expires_at = unix_seconds() + self.shared.config.session_ttl.as_secs_f64();
        let session = SessionRecord {
            token_hash,
            account: account.key(),
            expires_at,
        };
        self.shared
            .store
            .create_session(&session)
            .await
            .map_err(store_failed)?;
        Ok(NewSession {
            token,
            name: AccountName::parse(&account.name).unwrap_or(name),
            expires_at,
        })
    }

    /// Ends the session the user signed in with, on every instance.
    pub async fn sign_out(&self, user: &User) -> Result<(), ChatError> {
        let Via::Session { token_hash, .. } = &user.via else {
            return Err(ChatError::invalid(
                "a token from another app cannot be signed out here; it ends when it expires",
            ));
        };
        self.shared
            .store
            .delete_session(token_hash)
            .await
            .map_err(store_failed)?;
        self.sessions().remove(token_hash);
        Ok(())
    }

    /// Replaces an account's password and ends its sessions (an operator's reset). `false`
    /// if there is no such account.
    pub async fn reset_password(
        &self,
        name: &AccountName,
        password: Password,
    ) -> Result<bool, ChatError> {
        let hash = self.shared.hasher.hash(password).await?;
        let store = &self.shared.store;
        let key = name.key();
        if !store
            .set_password(&key, &hash)
            .await
            .map_err(store_failed)?
        {
            return Ok(false);
        }
        store.delete_sessions_of(&key).await.map_err(store_failed)?;
        self.forget_sessions(Some(&key));
        Ok(true)
    }

    /// Disables (ending its sessions) or enables an account. `false` if there is none.
    pub async fn set_disabled(
        &self,
        name: &AccountName,
        disabled: bool,
    ) -> Result<bool, ChatError> {
        let key = name.key();
        let changed = self
            .shared
            .store
            .set_disabled(&key, disabled)
            .await
            .map_err(store_failed)?;
        self.forget_sessions(Some(&key));
        Ok(changed)
    }

    /// Every account, by key.
    pub async fn accounts(&self) -> Result<Vec<AccountRecord>, ChatError> {
        self.shared.store.accounts().await.map_err(store_failed)
    }

    /// Whether an account of that name (in any letter case) exists and is not disabled.
    pub async fn account_active(&self, name: &AccountName) -> Result<bool, ChatError> {
        Ok(self
            .account(name)
            .await?
            .is_some_and(|account| !account.disabled))
    }

    /// Whether an account has this name, in any letter case.
    pub async fn account_exists(&self, name: &AccountName) -> Result<bool, ChatError> {
        Ok(self.account(name).await?.is_some())
    }

    async fn account(&self, name: &AccountName) -> Result<Option<AccountRecord>, ChatError> {
        (self.shared.store)
            .account(&name.key())
            .await
            .map_err(store_failed)
    }
}
