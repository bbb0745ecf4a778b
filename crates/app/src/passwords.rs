//! Argon2id hashing, off the async runtime and with bounded concurrency: each
//! hash costs ~19 MiB and tens of milliseconds, so a login flood must queue
//! rather than exhaust memory or starve the request threads.
//!
//! The hashes run on a few threads of their own, one per core, fed through
//! a queue. On the shared blocking pool each of its many threads would keep
//! the 19 MiB of its last hash in its own allocator arena, and a flood would
//! grow the process by hundreds of MiB that are never given back.

use std::sync::{Arc, Mutex, mpsc};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use ferrodesk_core::password_policy::MAX_PASSWORD_INPUT_BYTES;
use tokio::sync::oneshot;

use crate::{AppError, AppResult};

/// Work for the hashing threads.
enum HashJob {
    Hash {
        password: String,
        answer: oneshot::Sender<AppResult<String>>,
    },
    Verify {
        candidate: String,
        stored: String,
        answer: oneshot::Sender<bool>,
    },
}

#[derive(Debug)]
pub(crate) struct PasswordHasher {
    /// Dropping the sender ends the threads.
    jobs: Mutex<mpsc::Sender<HashJob>>,
    /// Verified against when the account is unknown or has no password, so
    /// that such a login costs as much as a wrong password. Made on first
    /// need (or by `warm_up`), so short commands that check no password
    /// (the mail pipe) do not pay a hash and its 19 MiB to start.
    dummy_hash: tokio::sync::OnceCell<String>,
}

impl std::fmt::Debug for HashJob {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("HashJob")
    }
}

fn run_job(job: HashJob) {
    match job {
        HashJob::Hash { password, answer } => {
            let hashed = Argon2::default()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|error| AppError::Internal(format!("cannot hash password: {error}")));
            let _ = answer.send(hashed);
        }
        HashJob::Verify {
            candidate,
            stored,
            answer,
        } => {
            let matched = Argon2::default()
                .verify_password(candidate.as_bytes(), stored.as_str())
                .is_ok();
            let _ = answer.send(matched);
        }
    }
}

fn gone() -> AppError {
    AppError::Internal("the password hashing threads are gone".to_owned())
}

impl PasswordHasher {
    pub(crate) async fn new() -> AppResult<PasswordHasher> {
        let parallelism = std::thread::available_parallelism().map_or(2, usize::from);
        let (sender, receiver) = mpsc::channel::<HashJob>();
        let receiver = Arc::new(Mutex::new(receiver));
        for number in 0..parallelism.max(1) {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("password-hash-{number}"))
                .spawn(move || {
                    loop {
                        let job = match receiver.lock() {
                            Ok(queue) => queue.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => run_job(job),
                            Err(_) => break,
                        }
                    }
                })
                .map_err(|error| AppError::Internal(format!("cannot start a thread: {error}")))?;
        }
        Ok(PasswordHasher {
            jobs: Mutex::new(sender),
            dummy_hash: tokio::sync::OnceCell::new(),
        })
    }

    /// Makes the dummy hash now, so that the first login for an unknown
    /// account takes no longer than any other.
    pub(crate) async fn warm_up(&self) -> AppResult<()> {
        self.dummy_hash().await.map(|_| ())
    }

    async fn dummy_hash(&self) -> AppResult<&str> {
        self.dummy_hash
            .get_or_try_init(|| async {
                let mut dummy_secret = [0u8; 24];
                getrandom::fill(&mut dummy_secret)
                    .map_err(|error| AppError::Internal(error.to_string()))?;
                self.hash_any(hex::encode(dummy_secret)).await
            })
            .await
            .map(String::as_str)
    }

    fn submit(&self, job: HashJob) -> AppResult<()> {
        let jobs = match self.jobs.lock() {
            Ok(jobs) => jobs,
            Err(poisoned) => poisoned.into_inner(),
        };
        jobs.send(job).map_err(|_| gone())
    }

    async fn hash_any(&self, password: String) -> AppResult<String> {
        let (answer, hashed) = oneshot::channel();
        self.submit(HashJob::Hash { password, answer })?;
        hashed.await.map_err(|_| gone())?
    }

    pub(crate) async fn hash(&self, password: &str) -> AppResult<String> {
        if password.len() > MAX_PASSWORD_INPUT_BYTES {
            return Err(AppError::invalid("password", "That password is too long."));
        }
        self.hash_any(password.to_owned()).await
    }

    /// Whether `password` matches `stored`. With no stored hash the dummy hash
    /// is checked instead and the answer is always no.
    pub(crate) async fn verify(&self, password: &str, stored: Option<&str>) -> AppResult<bool> {
        let over_long = password.len() > MAX_PASSWORD_INPUT_BYTES;
        let candidate = if over_long {
            String::new()
        } else {
            password.to_owned()
        };
        let (target, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash().await?.to_owned(), false),
        };
        let (answer, matched) = oneshot::channel();
        self.submit(HashJob::Verify {
            candidate,
            stored: target,
            answer,
        })?;
        let matched = matched.await.map_err(|_| gone())?;
        Ok(real && matched && !over_long)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let hasher = PasswordHasher::new().await.unwrap();
        let hash = hasher.hash("correct horse battery staple").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            hasher
                .verify("correct horse battery staple", Some(&hash))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("wrong", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("anything", None).await.unwrap());
        assert!(!hasher.verify(&"x".repeat(5000), Some(&hash)).await.unwrap());
    }
}
