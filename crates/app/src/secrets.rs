//! The instance key and the random tokens derived from or checked against it.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::{AppError, AppResult};

/// Fewer bytes than this would make the instance key guessable.
pub const MIN_KEY_BYTES: usize = 32;
/// A key of 32 identical characters is long but not secret.
const MIN_DISTINCT_KEY_BYTES: usize = 8;
/// XChaCha20's nonce: long enough to pick at random for every value.
const SEAL_NONCE_BYTES: usize = 24;

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

    /// Encrypts `plaintext` for storage (the SMTP password, 2FA secrets,
    /// API upload tokens) with XChaCha20-Poly1305 under the subkey for `purpose`. The
    /// purpose is also bound as associated data, so a value sealed for one
    /// setting cannot be passed off as another. Returns hex of nonce and
    /// ciphertext.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> AppResult<String> {
        use chacha20poly1305::aead::{Aead, Payload};
        let nonce_bytes = random_bytes::<SEAL_NONCE_BYTES>()?;
        let nonce = chacha20poly1305::XNonce::from(nonce_bytes);
        let sealed = self
            .cipher(purpose)
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| AppError::Internal("cannot encrypt a secret".to_owned()))?;
        let mut stored = nonce_bytes.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(hex::encode(stored))
    }

    /// Decrypts what [`InstanceKey::seal`] made for the same purpose. Fails
    /// when the value was altered, sealed for another purpose or under
    /// another instance key.
    pub fn open(&self, purpose: &str, stored: &str) -> AppResult<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, Payload};
        let broken = || AppError::Internal(format!("the stored {purpose} cannot be decrypted"));
        let bytes = hex::decode(stored).map_err(|_| broken())?;
        if bytes.len() < SEAL_NONCE_BYTES {
            return Err(broken());
        }
        let (nonce_bytes, sealed) = bytes.split_at(SEAL_NONCE_BYTES);
        let nonce = chacha20poly1305::XNonce::try_from(nonce_bytes).map_err(|_| broken())?;
        self.cipher(purpose)
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| broken())
    }

    fn cipher(&self, purpose: &str) -> chacha20poly1305::XChaCha20Poly1305 {
        use chacha20poly1305::KeyInit;
        let subkey = self.mac_with(purpose.as_bytes(), b"ferrodesk encryption");
        chacha20poly1305::XChaCha20Poly1305::new(&chacha20poly1305::Key::from(subkey))
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
    fn sealed_secrets_open_only_with_the_same_key_and_purpose() {
        let key = InstanceKey::from_text("first key 0123456789 abcdefghij klmno").unwrap();
        let other = InstanceKey::from_text("second key 0123456789 abcdefghij klmno").unwrap();
        let sealed = key.seal("smtp password", b"hunter2 but longer").unwrap();
        assert!(!sealed.contains(&hex::encode(b"hunter2")));
        assert_eq!(
            key.open("smtp password", &sealed).unwrap(),
            b"hunter2 but longer"
        );
        assert_ne!(
            sealed,
            key.seal("smtp password", b"hunter2 but longer").unwrap(),
            "a fresh nonce every time"
        );
        assert!(key.open("imap password", &sealed).is_err());
        assert!(other.open("smtp password", &sealed).is_err());
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        assert!(
            key.open("smtp password", &String::from_utf8(tampered).unwrap())
                .is_err()
        );
        assert!(key.open("smtp password", "not hex").is_err());
        assert!(key.open("smtp password", "00").is_err());
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
