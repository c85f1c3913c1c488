//! Password hashes and session tokens: what the server keeps of a secret is never the secret.
//!
//! - Passwords: Argon2id (RustCrypto `argon2`, its default parameters: 19 MiB, 2 passes), in
//!   PHC string format with a random salt. Hashing costs tens of milliseconds of CPU and 19 MiB
//!   by design, so it runs on [`Hasher`]'s own few threads, at a lower scheduling priority
//!   (nice 10): a burst of sign-ins neither blocks the async workers that hold polls, nor takes
//!   every core, nor the CPU those workers need when they wake a room.
//! - Session tokens: 256 random bits, `lpc_` + base64url; stored as SHA-256 only. Looking a
//!   token up by its hash leaks nothing usable through timing.

use std::{
    panic::AssertUnwindSafe,
    sync::{mpsc, Arc, Mutex, OnceLock},
};

use argon2::{
    password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier},
    Argon2,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::{error::ChatError, model::Password, server::store::identity::TokenHash};

/// What every session token starts with, so a token is recognisable in a leaked config or
/// log and told apart from a JWT.
pub const TOKEN_PREFIX: &str = "lpc_";

/// A new random session token and the hash the store keeps of it.
pub fn new_session_token() -> Result<(String, TokenHash), ChatError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| {
        tracing::error!(%error, "no randomness for a session token");
        ChatError::Internal
    })?;
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = token_hash(&token);
    Ok((token, hash))
}

pub fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// Runs Argon2id off the async workers, on its own low-priority threads.
#[derive(Clone)]
pub struct Hasher {
    pool: Arc<Pool>,
    /// Verified against when a name is unknown, so that a wrong name costs what a wrong
    /// password costs and the answer time tells nothing of which names exist. Made on first
    /// use: a server nobody signs in to never pays for it.
    decoy: Arc<tokio::sync::OnceCell<String>>,
}

impl Hasher {
    /// At most `parallel` hashes at once (at least one); the threads start on first use.
    pub fn new(parallel: usize) -> Self {
        Self {
            pool: Arc::new(Pool {
                threads: parallel.max(1),
                jobs: OnceLock::new(),
            }),
            decoy: Arc::default(),
        }
    }

    /// The PHC string of a new salted Argon2id hash of `password`.
    pub async fn hash(&self, password: Password) -> Result<String, ChatError> {
        self.run(move || hash_now(password.expose())).await?
    }

    /// Whether `password` matches `phc` (constant-time comparison inside `argon2`). `None`
    /// checks against the decoy and answers `false`.
    pub async fn verify(&self, password: Password, phc: Option<String>) -> Result<bool, ChatError> {
        let known = phc.is_some();
        let phc = match phc {
            Some(phc) => phc,
            None => self
                .decoy
                .get_or_try_init(|| async { self.run(|| hash_now("not anyone's password")).await? })
                .await?
                .clone(),
        };
        let matches = self
            .run(move || {
                PasswordHash::new(&phc).is_ok_and(|hash| {
                    Argon2::default()
                        .verify_password(password.expose().as_bytes(), &hash)
                        .is_ok()
                })
            })
            .await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ChatError> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        let failed = || {
            tracing::error!("the password hashing threads are gone");
            ChatError::Internal
        };
        self.pool.jobs().send(job).map_err(|_| failed())?;
        result.await.map_err(|_| failed())
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads and their queue. They end when the last [`Hasher`] clone is dropped.
struct Pool {
    threads: usize,
    jobs: OnceLock<mpsc::Sender<Job>>,
}

/// The hashing threads' nice value: when they and the async workers want the same core, the
/// workers get most of it, so held polls are answered while a burst of sign-ins waits.
const HASHING_NICE: i32 = 10;

impl Pool {
    fn jobs(&self) -> &mpsc::Sender<Job> {
        self.jobs.get_or_init(|| {
            let (jobs, queue) = mpsc::channel::<Job>();
            let queue = Arc::new(Mutex::new(queue));
            for _ in 0..self.threads {
                let queue = queue.clone();
                let spawned = std::thread::Builder::new()
                    .name("password-hash".into())
                    .spawn(move || {
                        lower_this_threads_priority();
                        loop {
                            let job = match queue.lock() {
                                Ok(queue) => queue.recv(),
                                Err(_) => return,
                            };
                            let Ok(job) = job else { return };
                            // A panicking hash fails its own request (its sender is dropped),
                            // not the thread.
                            let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                        }
                    });
                if let Err(error) = spawned {
                    tracing::error!(%error, "cannot start a password hashing thread");
                }
            }
            jobs
        })
    }
}

#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // SAFETY: setpriority only reads its arguments; on Linux, PRIO_PROCESS with `who` 0 names
    // the calling thread. Raising one's own nice value needs no privilege.
    let failed = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, HASHING_NICE) } != 0;
    if failed {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "cannot lower the password hashing threads' priority"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

fn hash_now(password: &str) -> Result<String, ChatError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| {
            tracing::error!(%error, "password hashing failed");
            ChatError::Internal
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_runs_at_a_lower_priority_than_the_async_workers() {
        let hasher = Hasher::new(1);
        // SAFETY: as in `lower_this_threads_priority`.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let ours = nice();
        let theirs = hasher.run(nice).await.unwrap();
        assert_eq!(theirs, (ours + HASHING_NICE).min(19));
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only_and_never_contains_it() {
        let hasher = Hasher::new(1);
        let password = Password::parse("correct horse").unwrap();
        let phc = hasher.hash(password.clone()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(hasher
            .verify(password.clone(), Some(phc.clone()))
            .await
            .unwrap());
        let wrong = Password::parse("wrong horse").unwrap();
        assert!(!hasher.verify(wrong, Some(phc.clone())).await.unwrap());
        // Salted: the same password hashes differently each time.
        assert_ne!(hasher.hash(password.clone()).await.unwrap(), phc);
        // An unknown name never matches, even with the decoy's own password.
        let decoy = Password::parse("not anyone's password").unwrap();
        assert!(!hasher.verify(decoy, None).await.unwrap());
    }

    #[test]
    fn tokens_are_random_prefixed_and_kept_only_as_their_hash() {
        let (first, first_hash) = new_session_token().unwrap();
        let (second, _) = new_session_token().unwrap();
        assert!(first.starts_with(TOKEN_PREFIX));
        assert_eq!(
            first.len(),
            TOKEN_PREFIX.len() + 43,
            "256 bits in base64url"
        );
        assert_ne!(first, second);
        assert_eq!(token_hash(&first), first_hash);
        assert_ne!(token_hash(&second), first_hash);
    }
}
