//! The instance key and the random tokens derived from or checked against it.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::{AppError, AppResult};

/// Fewer bytes than this would make the instance key guessable.
pub const MIN_KEY_BYTES: usize = 32;
/// A key of 32 identical characters is long but not secret.
const MIN_DISTINCT_KEY_BYTES: usize = 8;

/// The secret every node of one installation shares. Subkeys for separate
/// purposes are derived from it, so no two features ever use the same key.
#[derive(Clone)]
pub struct InstanceKey(Vec<u8>);

#[derive(Debug, thiserror::Error)]
pub enum InstanceKeyError {
    #[error(
        "must be at least {MIN_KEY_BYTES} bytes long (64 hex characters from `openssl rand -hex 32` will do)"
    )]
    TooShort,
    #[error("is too repetitive to be secret; generate one with `openssl rand -hex 32`")]
    Repetitive,
}

impl InstanceKey {
    pub fn from_text(text: &str) -> Result<InstanceKey, InstanceKeyError> {
        let text = text.trim();
        if text.len() < MIN_KEY_BYTES {
            return Err(InstanceKeyError::TooShort);
        }
        let mut distinct: Vec<u8> = text.bytes().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < MIN_DISTINCT_KEY_BYTES {
            return Err(InstanceKeyError::Repetitive);
        }
        Ok(InstanceKey(text.as_bytes().to_vec()))
    }

    /// A fresh key as text, for writing into the data directory.
    pub fn generate_text() -> AppResult<String> {
        Ok(hex::encode(random_bytes::<32>()?))
    }

    /// HMAC-SHA-256 of `message` under the subkey for `purpose`.
    pub fn sign(&self, purpose: &str, message: &[u8]) -> [u8; 32] {
        let subkey = self.mac_with(purpose.as_bytes(), b"ferrodesk subkey");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&subkey)
            .unwrap_or_else(|_| unreachable_mac());
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    fn mac_with(&self, label: &[u8], context: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable_mac());
        mac.update(context);
        mac.update(&[0]);
        mac.update(label);
        mac.finalize().into_bytes().into()
    }
}

// HMAC accepts keys of any length, so building one cannot fail; this keeps the
// code free of `expect` all the same.
fn unreachable_mac() -> Hmac<Sha256> {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(&[0u8; 32]) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of every length"),
    }
}

impl fmt::Debug for InstanceKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("InstanceKey([redacted])")
    }
}

pub(crate) fn random_bytes<const N: usize>() -> AppResult<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|error| AppError::Internal(format!("no randomness: {error}")))?;
    Ok(bytes)
}

/// A 256-bit random token, hex encoded: what session cookies and one-time
/// links carry.
pub(crate) fn random_token() -> AppResult<String> {
    Ok(hex::encode(random_bytes::<32>()?))
}

/// What the database keeps instead of a token.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two strings without leaking, through timing, where they differ.
pub(crate) fn same_secret(left: &str, right: &str) -> bool {
    use subtle::ConstantTimeEq;
    left.len() == right.len() && bool::from(left.as_bytes().ct_eq(right.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_key_is_refused() {
        assert!(InstanceKey::from_text("too short").is_err());
        assert!(InstanceKey::from_text(&"k".repeat(32)).is_err());
        assert!(InstanceKey::from_text("0123456789abcdef0123456789abcdef").is_ok());
    }

    #[test]
    fn subkeys_differ_by_purpose_and_key() {
        let key = InstanceKey::from_text("first key 0123456789 abcdefghij klmno").unwrap();
        let other = InstanceKey::from_text("second key 0123456789 abcdefghij klmno").unwrap();
        assert_ne!(key.sign("csrf", b"x"), key.sign("setup", b"x"));
        assert_ne!(key.sign("csrf", b"x"), other.sign("csrf", b"x"));
        assert_eq!(key.sign("csrf", b"x"), key.sign("csrf", b"x"));
    }

    #[test]
    fn tokens_are_random_and_stored_only_as_hashes() {
        let first = random_token().unwrap();
        let second = random_token().unwrap();
        assert_eq!(first.len(), 64);
        assert_ne!(first, second);
        assert_eq!(token_hash(&first).len(), 64);
        assert_ne!(token_hash(&first), first);
        assert!(same_secret(&first, &first.clone()));
        assert!(!same_secret(&first, &second));
    }
}
