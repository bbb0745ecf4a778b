//! Argon2id hashing, off the async runtime and with bounded concurrency: each
//! hash costs ~19 MiB and tens of milliseconds, so a login flood must queue
//! rather than exhaust memory or starve the request threads.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use ferrodesk_core::password_policy::MAX_PASSWORD_INPUT_BYTES;
use tokio::sync::Semaphore;

use crate::{AppError, AppResult};

#[derive(Debug)]
pub(crate) struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Verified against when the account is unknown or has no password, so
    /// that such a login costs as much as a wrong password.
    dummy_hash: String,
}

impl PasswordHasher {
    pub(crate) async fn new() -> AppResult<PasswordHasher> {
        let parallelism = std::thread::available_parallelism().map_or(2, usize::from);
        let permits = Arc::new(Semaphore::new(parallelism.max(1)));
        let mut dummy_secret = [0u8; 24];
        getrandom::fill(&mut dummy_secret)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let dummy_hash = hash_blocking(hex::encode(dummy_secret), permits.clone()).await?;
        Ok(PasswordHasher {
            permits,
            dummy_hash,
        })
    }

    pub(crate) async fn hash(&self, password: &str) -> AppResult<String> {
        if password.len() > MAX_PASSWORD_INPUT_BYTES {
            return Err(AppError::invalid("password", "That password is too long."));
        }
        hash_blocking(password.to_owned(), self.permits.clone()).await
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
            None => (self.dummy_hash.clone(), false),
        };
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let matched = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(candidate.as_bytes(), target.as_str())
                .is_ok()
        })
        .await
        .map_err(|error| AppError::Internal(error.to_string()))?;
        Ok(real && matched && !over_long)
    }
}

async fn hash_blocking(password: String, permits: Arc<Semaphore>) -> AppResult<String> {
    let _permit = permits
        .acquire_owned()
        .await
        .map_err(|error| AppError::Internal(error.to_string()))?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| AppError::Internal(format!("cannot hash password: {error}")))
    })
    .await
    .map_err(|error| AppError::Internal(error.to_string()))?
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
