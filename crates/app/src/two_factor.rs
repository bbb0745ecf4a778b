//! Two-factor authentication (C10): TOTP set up from the own-account page,
//! single-use recovery codes, and the second step of a login.
//!
//! A login with the right password for an account with 2FA opens no
//! session: it stores a challenge (hash only) that lives five minutes and
//! allows five wrong codes. Wrong codes also count against the account's
//! lock-out like wrong passwords, on every node. A code is accepted once:
//! its time step is written in the same transaction as the session.

use std::time::Duration;

use ferrodesk_core::{Secret, Surface, Timestamp};
use ferrodesk_store::{NewLoginChallenge, NewLoginRecord, PersonRecord, SecondFactorProof};

use crate::agents::normalized_email;
use crate::audit::{Audit, Caller};
use crate::secrets::{random_bytes, random_token, token_hash};
use crate::sessions::{LoginOutcome, OpenedSession, SessionOpening, may_sign_in};
use crate::totp;
use crate::{Actor, App, AppError, AppResult, PRODUCT_NAME};

/// How long the code may take after the password.
pub const LOGIN_CHALLENGE_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Wrong codes before the password must be given again.
const MAX_CODE_FAILURES: i64 = 5;
const RECOVERY_CODE_COUNT: usize = 10;
/// 32 symbols without i, l, o and 1, so codes read aloud or copied by hand
/// survive; ten of them carry 50 bits.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz023456789";
const RECOVERY_CODE_LENGTH: usize = 10;
const SECRET_PURPOSE: &str = "totp-secret";

/// The second step of a login, as the code form sends it.
pub struct ChallengeAnswer<'a> {
    pub surface: Surface,
    pub challenge: &'a str,
    pub code: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

/// A secret waiting for its first code: shown as a QR code and as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorSetup {
    /// Base32 in groups of four, for typing into an app by hand.
    pub secret_text: String,
    /// The `otpauth://` address the QR code carries.
    pub uri: String,
}

/// What the own-account page shows about 2FA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorOverview {
    pub enabled_at: Option<Timestamp>,
    pub recovery_codes_left: i64,
    pub setup: Option<TwoFactorSetup>,
    /// An admin requires it of every agent.
    pub required: bool,
    /// When an agent without it must have set it up.
    pub deadline: Option<Timestamp>,
}

fn recovery_code() -> AppResult<String> {
    let bytes = random_bytes::<RECOVERY_CODE_LENGTH>()?;
    let symbols: String = bytes
        .iter()
        .map(|byte| char::from(RECOVERY_ALPHABET[usize::from(byte % 32)]))
        .collect();
    Ok(format!("{}-{}", &symbols[..5], &symbols[5..]))
}

/// A typed recovery code in its stored form, or `None` when it cannot be one.
fn normalized_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    (code.len() == RECOVERY_CODE_LENGTH && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)))
        .then_some(code)
}

fn grouped(text: &str) -> String {
    text.as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

impl App {
    fn recovery_code_hash(&self, normalized: &str) -> String {
        hex::encode(self.inner.key.sign("recovery-code", normalized.as_bytes()))
    }

    /// Fresh recovery codes: the codes to show once, and their hashes.
    fn new_recovery_codes_with_hashes(&self) -> AppResult<(Vec<String>, Vec<String>)> {
        let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
        let mut hashes = Vec::with_capacity(RECOVERY_CODE_COUNT);
        while codes.len() < RECOVERY_CODE_COUNT {
            let code = recovery_code()?;
            let hash = self.recovery_code_hash(&code.replace('-', ""));
            if !hashes.contains(&hash) {
                codes.push(code);
                hashes.push(hash);
            }
        }
        Ok((codes, hashes))
    }

    /// Holds a login whose password was right until its code comes.
    pub(crate) async fn challenge_second_factor(
        &self,
        surface: Surface,
        person: &PersonRecord,
        remembered: bool,
    ) -> AppResult<LoginOutcome> {
        let token = random_token()?;
        let now = self.now();
        self.store()
            .two_factor()
            .create_login_challenge(
                &NewLoginChallenge {
                    token_hash: &token_hash(&token),
                    person_id: person.id,
                    surface,
                    remembered,
                    expires_at: now.plus(LOGIN_CHALLENGE_LIFETIME),
                },
                now,
            )
            .await?;
        Ok(LoginOutcome::SecondFactorNeeded {
            challenge: Secret::new(token),
        })
    }

    /// Whether a challenge token still leads to a code form.
    pub async fn login_challenge_is_open(&self, surface: Surface, token: &str) -> AppResult<bool> {
        Ok(self
            .store()
            .two_factor()
            .find_login_challenge(&token_hash(token), surface, self.now())
            .await?
            .is_some())
    }

    /// The second step of a login: a TOTP code or a recovery code. A wrong
    /// code is an `Invalid` error on `code` (and counts as a failed login);
    /// after too many, or once the challenge expired, `LoginChallengeExpired`.
    pub async fn answer_login_challenge(
        &self,
        answer: &ChallengeAnswer<'_>,
    ) -> AppResult<OpenedSession> {
        let now = self.now();
        let challenge_hash = token_hash(answer.challenge);
        let challenge = self
            .store()
            .two_factor()
            .find_login_challenge(&challenge_hash, answer.surface, now)
            .await?
            .ok_or(AppError::LoginChallengeExpired)?;
        let person = self
            .store()
            .people()
            .get_person(challenge.person_id)
            .await?
            .filter(|person| may_sign_in(person, answer.surface))
            .ok_or(AppError::LoginChallengeExpired)?;
        let settings = self.settings().await?;
        let locks = self
            .login_locks(
                &settings,
                (answer.surface, &normalized_email(&person)),
                Some(&person),
                answer.ip,
            )
            .await?;
        let user_agent: String = answer.user_agent.chars().take(512).collect();
        let record = |succeeded: bool, reason: &'static str| NewLoginRecord {
            person_id: Some(person.id),
            email: &person.email,
            surface: answer.surface,
            succeeded,
            reason,
            ip: answer.ip,
            user_agent: &user_agent,
        };
        if let Some(seconds) = self.check_login_locks(&locks).await? {
            self.store()
                .logins()
                .record_login_attempt(&record(false, "locked"), now)
                .await?;
            return Err(App::locked(seconds));
        }
        let state = self
            .store()
            .two_factor()
            .two_factor_state(person.id)
            .await?
            .ok_or(AppError::LoginChallengeExpired)?;
        let Some(sealed) = state.totp_secret.as_deref() else {
            // 2FA was reset since the password was checked.
            self.store()
                .two_factor()
                .delete_login_challenge(&challenge_hash)
                .await?;
            return Err(AppError::LoginChallengeExpired);
        };
        let secret = self.inner.key.open(SECRET_PURPOSE, sealed)?;
        let recovery_hash =
            normalized_recovery_code(answer.code).map(|code| self.recovery_code_hash(&code));
        let proof =
            match totp::matching_step(&secret, answer.code, now.millis(), state.totp_last_step) {
                Some(step) => Some(SecondFactorProof::TotpStep {
                    step,
                    challenge_hash: &challenge_hash,
                }),
                None => recovery_hash
                    .as_deref()
                    .map(|code_hash| SecondFactorProof::RecoveryCode {
                        code_hash,
                        challenge_hash: &challenge_hash,
                    }),
            };
        if let Some(proof) = proof {
            let opened = self
                .open_session(
                    &SessionOpening {
                        surface: answer.surface,
                        ip: answer.ip,
                        remember_me: challenge.remembered,
                        person: &person,
                        record: &record(true, "ok"),
                        lock_key: locks.cleared_on_success(),
                        second_factor: Some(proof),
                    },
                    &settings,
                )
                .await?;
            if let Some(opened) = opened {
                return Ok(opened);
            }
        }
        let failures = self
            .store()
            .two_factor()
            .count_challenge_failure(&challenge_hash, MAX_CODE_FAILURES)
            .await?;
        match self
            .refuse_login::<()>(Some(&person), &record(false, "wrong_code"), &locks)
            .await
        {
            Err(locked @ AppError::LoginLocked { .. }) => Err(locked),
            _ if failures >= MAX_CODE_FAILURES => Err(AppError::LoginChallengeExpired),
            _ => Err(AppError::invalid(
                "code",
                "That code is not right, or was used already. Try the newest code from your app.",
            )),
        }
    }

    /// The own-account view of 2FA.
    pub async fn two_factor_overview(&self, actor: &Actor) -> AppResult<TwoFactorOverview> {
        let person = self.own_person(actor).await?;
        let state = self
            .store()
            .two_factor()
            .two_factor_state(person.id)
            .await?
            .ok_or(AppError::NotFound)?;
        let setup = match (&state.totp_secret, &state.totp_pending_secret) {
            (None, Some(pending)) => {
                let secret = self.inner.key.open(SECRET_PURPOSE, pending)?;
                Some(TwoFactorSetup {
                    secret_text: grouped(&totp::base32(&secret)),
                    uri: totp::provisioning_uri(PRODUCT_NAME, &person.email, &secret),
                })
            }
            _ => None,
        };
        let settings = self.settings().await?;
        let required = person.is_agent && settings.two_factor.required_for_agents;
        Ok(TwoFactorOverview {
            enabled_at: state.totp_enabled_at.map(Timestamp),
            recovery_codes_left: state.recovery_codes_left,
            setup,
            required,
            deadline: if required && state.totp_enabled_at.is_none() {
                settings.two_factor.deadline(person.created_at)
            } else {
                None
            },
        })
    }

    /// Starts (or starts again) setting up TOTP with a new secret.
    pub async fn start_two_factor_setup(&self, caller: &Caller<'_>) -> AppResult<()> {
        let person = self.own_person(caller.actor).await?;
        if person.totp_enabled_at.is_some() {
            return Err(AppError::Conflict(
                "Two-factor login is already on.".to_owned(),
            ));
        }
        let sealed = self
            .inner
            .key
            .seal(SECRET_PURPOSE, &totp::generate_secret()?)?;
        self.store()
            .two_factor()
            .set_pending_totp_secret(person.id, &sealed, self.now())
            .await?;
        Ok(())
    }

    /// Turns TOTP on once the app shows a right code; returns the recovery
    /// codes, which are shown this once and stored only as hashes.
    pub async fn confirm_two_factor_setup(
        &self,
        caller: &Caller<'_>,
        code: &str,
    ) -> AppResult<Vec<String>> {
        let person = self.own_person(caller.actor).await?;
        let state = self
            .store()
            .two_factor()
            .two_factor_state(person.id)
            .await?
            .ok_or(AppError::NotFound)?;
        let Some(pending) = state.totp_pending_secret else {
            return Err(AppError::Conflict(
                "Start the set-up first: there is no code to check.".to_owned(),
            ));
        };
        self.within_code_attempts(person.id).await?;
        let secret = self.inner.key.open(SECRET_PURPOSE, &pending)?;
        let now = self.now();
        let Some(step) = totp::matching_step(&secret, code, now.millis(), 0) else {
            return Err(AppError::invalid(
                "code",
                "That code is not right. Check the time on your phone and try the newest code.",
            ));
        };
        let (codes, hashes) = self.new_recovery_codes_with_hashes()?;
        let audit = Audit::new(caller, "two_factor.enabled").on_person(
            person.id,
            &person.name,
            &person.email,
        );
        let enabled = self
            .store()
            .two_factor()
            .enable_totp(person.id, &pending, step, &hashes, &audit.entry(), now)
            .await?;
        if !enabled {
            return Err(AppError::Conflict(
                "The set-up was started again elsewhere; scan the new code.".to_owned(),
            ));
        }
        Ok(codes)
    }

    /// Replaces the recovery codes; the current password is required.
    pub async fn new_recovery_codes(
        &self,
        caller: &Caller<'_>,
        password: &Secret,
    ) -> AppResult<Vec<String>> {
        let person = self.own_person_with_password(caller, password).await?;
        if person.totp_enabled_at.is_none() {
            return Err(AppError::Conflict("Two-factor login is off.".to_owned()));
        }
        let (codes, hashes) = self.new_recovery_codes_with_hashes()?;
        let audit = Audit::new(caller, "two_factor.recovery_codes_replaced").on_person(
            person.id,
            &person.name,
            &person.email,
        );
        self.store()
            .two_factor()
            .replace_recovery_codes(person.id, &hashes, &audit.entry(), self.now())
            .await?;
        Ok(codes)
    }

    /// Turns 2FA off; the current password is required, and agents cannot
    /// while an admin requires it.
    pub async fn turn_off_two_factor(
        &self,
        caller: &Caller<'_>,
        password: &Secret,
    ) -> AppResult<()> {
        let person = self.own_person_with_password(caller, password).await?;
        if person.is_agent && self.settings().await?.two_factor.required_for_agents {
            return Err(AppError::Conflict(
                "Your admin requires two-factor login; it cannot be turned off.".to_owned(),
            ));
        }
        let audit = Audit::new(caller, "two_factor.disabled").on_person(
            person.id,
            &person.name,
            &person.email,
        );
        if !self
            .store()
            .two_factor()
            .disable_two_factor(person.id, false, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::Conflict("Two-factor login is off.".to_owned()));
        }
        Ok(())
    }

    /// The signed-in person, once their current password is confirmed.
    async fn own_person_with_password(
        &self,
        caller: &Caller<'_>,
        password: &Secret,
    ) -> AppResult<PersonRecord> {
        let person = self.own_person(caller.actor).await?;
        self.within_code_attempts(person.id).await?;
        let matches = self
            .inner
            .passwords
            .verify(password.expose(), person.password_hash.as_deref())
            .await?;
        if !matches {
            return Err(AppError::invalid(
                "current_password",
                "This is not your current password.",
            ));
        }
        Ok(person)
    }

    /// Ten checks of codes or passwords a quarter-hour for one signed-in
    /// person, so a stolen session cannot guess its way through.
    async fn within_code_attempts(&self, person_id: i64) -> AppResult<()> {
        let allowed = self
            .store()
            .rate_limits()
            .hit_rate_limit(
                &format!("two_factor.check:{person_id}"),
                Duration::from_secs(15 * 60),
                10,
                self.now(),
            )
            .await?;
        if allowed {
            Ok(())
        } else {
            Err(AppError::TooManyRequests)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_read_back_in_any_case_and_spacing() {
        let code = recovery_code().unwrap();
        assert_eq!(code.len(), 11);
        let stored = code.replace('-', "");
        assert_eq!(normalized_recovery_code(&code), Some(stored.clone()));
        assert_eq!(
            normalized_recovery_code(&format!(" {} ", code.to_uppercase())),
            Some(stored)
        );
        for junk in [
            "",
            "123456",
            "abcde-fghij-k",
            "iiiii-lllll",
            "abcde\u{00e9}ghij",
        ] {
            assert_eq!(normalized_recovery_code(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn secrets_show_in_groups_of_four() {
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }
}
