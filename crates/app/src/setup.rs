//! First run: until an admin exists, a one-time setup link lets whoever can
//! read the server's log create the first admin. Nobody else can: the link
//! carries a random token known only to this process.

use std::sync::Mutex;

use ferrodesk_core::Secret;
use ferrodesk_store::NewPerson;

use crate::accounts::{AccountKind, NewAccount};
use crate::secrets::{random_token, same_secret};
use crate::{App, AppError, AppResult};

#[derive(Debug, Default)]
pub(crate) struct SetupToken(Mutex<Option<Secret>>);

impl SetupToken {
    fn get(&self) -> Option<Secret> {
        match self.0.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, value: Option<Secret>) {
        match self.0.lock() {
            Ok(mut guard) => *guard = value,
            Err(poisoned) => *poisoned.into_inner() = value,
        }
    }
}

impl App {
    /// When no admin exists, creates this process's setup token and returns
    /// the setup URL to log; otherwise `None`.
    pub async fn prepare_setup(&self) -> AppResult<Option<Secret>> {
        if self.store().people().count_admins().await? > 0 {
            self.inner.setup.set(None);
            return Ok(None);
        }
        let token = match self.inner.setup.get() {
            Some(token) => token,
            None => {
                let token = Secret::new(random_token()?);
                self.inner.setup.set(Some(token.clone()));
                token
            }
        };
        Ok(Some(Secret::new(format!(
            "{}/setup?token={}",
            self.public_url(),
            token.expose()
        ))))
    }

    /// `Ok` only for this process's setup token while no admin exists;
    /// `NotFound` otherwise, so the page does not exist for anyone else.
    pub async fn check_setup_token(&self, presented: &str) -> AppResult<()> {
        let Some(token) = self.inner.setup.get() else {
            return Err(AppError::NotFound);
        };
        if !same_secret(token.expose(), presented) {
            return Err(AppError::NotFound);
        }
        if self.store().people().count_admins().await? > 0 {
            self.inner.setup.set(None);
            return Err(AppError::NotFound);
        }
        Ok(())
    }

    /// Creates the first admin through the setup page.
    pub async fn complete_setup(&self, presented: &str, account: &NewAccount<'_>) -> AppResult<()> {
        self.check_setup_token(presented).await?;
        let checked = self.check_new_account(account, AccountKind::Admin).await?;
        let created = self
            .store()
            .people()
            .create_first_admin(
                &NewPerson {
                    email: checked.email.as_str(),
                    email_normalized: &checked.email.normalized(),
                    name: checked.name.as_str(),
                    password_hash: Some(&checked.password_hash),
                    is_agent: true,
                    is_admin: true,
                    organization_id: None,
                },
                self.now(),
            )
            .await?;
        self.inner.setup.set(None);
        match created {
            Some(admin) => {
                tracing::info!(person_id = admin.id, "first admin created through setup");
                Ok(())
            }
            None => Err(AppError::NotFound),
        }
    }
}
