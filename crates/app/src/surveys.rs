//! Satisfaction surveys: when admins switch them on, the "resolved" mail
//! asks the requester their question with two links, "good" and "bad".
//! Each link carries the ticket's reference and a code signed with the
//! instance key (no login needed, nothing to guess); it opens a page
//! where the choice is confirmed with an optional comment, so a mail
//! scanner that follows links rates nothing. A ticket is rated once; the
//! rating is in its log, on its page and in the reports, and it is a
//! "ticket updated" event the triggers can answer ("Satisfaction rating
//! changed to bad").

use crate::audit::Caller;
use crate::settings::{SURVEYS, SurveySettings};
use crate::{App, AppError, AppResult, FieldErrors};
use ferrodesk_core::TicketRef;
use ferrodesk_store::{RatingRecord, TicketActor};

/// The longest question, answer wording and comment.
const MAX_WORDING_CHARS: usize = 200;
const MAX_COMMENT_CHARS: usize = 2_000;

/// What the survey page shows.
#[derive(Debug, Clone)]
pub struct SurveyView {
    pub reference: String,
    pub subject: String,
    pub question: String,
    pub good_words: String,
    pub bad_words: String,
    /// The rating given already, if any.
    pub given: Option<RatingRecord>,
}

/// A rating as the form sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rating {
    Good,
    Bad,
}

impl Rating {
    pub fn parse(text: &str) -> Option<Rating> {
        match text {
            "good" => Some(Rating::Good),
            "bad" => Some(Rating::Bad),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Rating::Good => "good",
            Rating::Bad => "bad",
        }
    }
}

impl App {
    /// The code that lets a survey link rate one ticket.
    fn survey_code(&self, reference: &TicketRef) -> String {
        hex::encode(
            self.inner
                .key
                .sign("ticket-survey", reference.as_str().as_bytes()),
        )
    }

    /// What the "resolved" mail of a ticket carries for the survey, when
    /// surveys are on.
    pub(crate) async fn survey_for_mail(
        &self,
        reference: &TicketRef,
    ) -> AppResult<Option<serde_json::Value>> {
        let settings = self.settings().await?.surveys.clone();
        if !settings.enabled {
            return Ok(None);
        }
        let base = format!(
            "{}/survey/{reference}/{}",
            self.public_url(),
            self.survey_code(reference)
        );
        Ok(Some(serde_json::json!({
            "question": settings.question,
            "good_words": settings.good_words,
            "bad_words": settings.bad_words,
            "good_link": format!("{base}?rating=good"),
            "bad_link": format!("{base}?rating=bad"),
        })))
    }

    /// The ticket a survey link names, when its code is right.
    async fn surveyed_ticket(
        &self,
        reference: &str,
        code: &str,
    ) -> AppResult<ferrodesk_store::TicketRecord> {
        let reference = TicketRef::parse(reference).map_err(|_| AppError::NotFound)?;
        let expected = self.survey_code(&reference);
        if !crate::secrets::same_secret(&expected, code) {
            return Err(AppError::NotFound);
        }
        self.store()
            .tickets()
            .find_ticket(&reference)
            .await?
            .filter(|ticket| ticket.merged_into_id.is_none())
            .ok_or(AppError::NotFound)
    }

    /// The survey page of a link.
    pub async fn survey(&self, reference: &str, code: &str) -> AppResult<SurveyView> {
        let ticket = self.surveyed_ticket(reference, code).await?;
        let settings = self.settings().await?.surveys.clone();
        Ok(SurveyView {
            reference: ticket.reference.to_string(),
            subject: ticket.subject.clone(),
            question: settings.question,
            good_words: settings.good_words,
            bad_words: settings.bad_words,
            given: self.store().tickets().ticket_rating(ticket.id).await?,
        })
    }

    /// Records the requester's answer; `false` when the ticket was rated
    /// already.
    pub async fn rate_ticket(
        &self,
        reference: &str,
        code: &str,
        rating: Rating,
        comment: &str,
    ) -> AppResult<bool> {
        let ticket = self.surveyed_ticket(reference, code).await?;
        let comment = comment.trim();
        if comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(AppError::invalid(
                "comment",
                format!("Write at most {MAX_COMMENT_CHARS} characters."),
            ));
        }
        let label = format!(
            "{} <{}> (survey)",
            ticket.requester_name, ticket.requester_email
        );
        let rated = self
            .store()
            .tickets()
            .rate_ticket(
                &RatingRecord {
                    ticket_id: ticket.id,
                    rating: rating.key().to_owned(),
                    comment: comment.to_owned(),
                    rated_at: self.now().millis(),
                },
                TicketActor {
                    id: Some(ticket.requester_id),
                    label: &label,
                },
                self.now(),
            )
            .await?;
        if rated {
            self.wake_workers();
        }
        Ok(rated)
    }

    /// Switches surveys on or off and sets their wording (admins; audited).
    pub async fn set_survey_settings(
        &self,
        caller: &Caller<'_>,
        input: &SurveySettings,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let mut errors = FieldErrors::new();
        let mut checked = |text: &str, field: &'static str| {
            let text = text.trim();
            if text.is_empty() || text.chars().count() > MAX_WORDING_CHARS {
                errors.add(
                    field,
                    format!("Write between 1 and {MAX_WORDING_CHARS} characters."),
                );
            }
            text.to_owned()
        };
        let after = SurveySettings {
            enabled: input.enabled,
            question: checked(&input.question, "question"),
            good_words: checked(&input.good_words, "good_words"),
            bad_words: checked(&input.bad_words, "bad_words"),
        };
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let before = self.settings().await?.surveys.clone();
        self.put_audited_setting(caller, SURVEYS, &before, &after)
            .await
    }
}
