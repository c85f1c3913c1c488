//! The operator's commands, run by the same binary against the configured store
//! (`longpoll-chat accounts create NAME`, ...): a first account, or a locked-out user, needs no
//! SQL. Passwords are read from the terminal without echo, or from the first line of standard
//! input when it is not a terminal (for scripts); never from the command line, where `ps` and
//! shell histories would show them.

use std::io::{BufRead, IsTerminal};

use clap::Subcommand;

use super::{
    clock::unix_time,
    identity::{Identity, IdentityConfig},
    store::StoreConfig,
};
use crate::{
    error::ChatError,
    model::{AccountName, Password},
};

#[derive(Debug, Clone, Subcommand)]
pub enum AccountCommand {
    /// Creates an account (the password is asked for).
    Create { name: String },
    /// Sets a new password (asked for) and ends the account's sessions.
    ResetPassword { name: String },
    /// Stops the account from signing in and ends its sessions.
    Disable { name: String },
    /// Lets a disabled account sign in again.
    Enable { name: String },
    /// Lists every account: name, state and creation date.
    List,
}

/// Why a command failed, as the operator reads it.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("{0}")]
    Refused(#[from] ChatError),
    #[error("no account named {0:?}")]
    NoSuchAccount(String),
    #[error("reading the password: {0}")]
    Password(std::io::Error),
    #[error("the two passwords differ")]
    PasswordsDiffer,
    #[error("cannot open the store: {0}")]
    Store(String),
}

/// Runs `command` against `store`; what it did, for the operator.
pub async fn run(command: AccountCommand, store: &StoreConfig) -> Result<String, OperatorError> {
    let (identity, _) = Identity::open(IdentityConfig::default(), store)
        .await
        .map_err(|error| OperatorError::Store(error.to_string()))?;
    let disable = matches!(command, AccountCommand::Disable { .. });
    match command {
        AccountCommand::Create { name } => {
            let name = AccountName::parse(&name)?;
            if identity.account_exists(&name).await? {
                return Err(ChatError::NameTaken.into());
            }
            let account = identity.create_account(name, read_password()?).await?;
            Ok(format!("created {}", account.name))
        }
        AccountCommand::ResetPassword { name } => {
            let name = AccountName::parse(&name)?;
            if !identity.account_exists(&name).await? {
                return Err(OperatorError::NoSuchAccount(name.to_string()));
            }
            if !identity.reset_password(&name, read_password()?).await? {
                return Err(OperatorError::NoSuchAccount(name.to_string()));
            }
            Ok(format!("new password set for {name}; its sessions ended"))
        }
        AccountCommand::Disable { name } | AccountCommand::Enable { name } => {
            let name = AccountName::parse(&name)?;
            if !identity.set_disabled(&name, disable).await? {
                return Err(OperatorError::NoSuchAccount(name.to_string()));
            }
            Ok(match disable {
                true => format!("disabled {name}; its sessions ended"),
                false => format!("enabled {name}"),
            })
        }
        AccountCommand::List => {
            let now = unix_time().as_secs_f64();
            let lines: Vec<String> = identity
                .accounts()
                .await?
                .into_iter()
                .map(|account| {
                    let state = if account.disabled {
                        "disabled"
                    } else {
                        "active"
                    };
                    let days = ((now - account.created_at) / 86_400.0).max(0.0).floor();
                    format!("{}\t{state}\tcreated {days} days ago", account.name)
                })
                .collect();
            Ok(match lines.is_empty() {
                true => "no accounts".to_owned(),
                false => lines.join("\n"),
            })
        }
    }
}

/// A new password: asked twice on a terminal, or the first line of standard input.
fn read_password() -> Result<Password, OperatorError> {
    let typed = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ").map_err(OperatorError::Password)?;
        let again = rpassword::prompt_password("again: ").map_err(OperatorError::Password)?;
        if first != again {
            return Err(OperatorError::PasswordsDiffer);
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(OperatorError::Password)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Ok(Password::parse(&typed)?)
}
