//! The satisfaction survey's page, reached from the "resolved" mail's
//! links without signing in: the choice is confirmed on the page (with an
//! optional comment), so a mail scanner that opens links rates nothing.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrodesk_app::{AppError, Rating, SurveyView};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::Chrome;
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/survey/{reference}/{code}", get(show).post(rate))
}

#[derive(Debug, Default, Deserialize)]
struct ChoiceQuery {
    #[serde(default)]
    rating: String,
}

#[derive(Debug, Default, Deserialize)]
struct RatingForm {
    #[serde(default)]
    rating: String,
    #[serde(default)]
    comment: String,
}

#[derive(Template)]
#[template(path = "help_center/survey.html")]
struct SurveyPage {
    chrome: Chrome,
    survey: SurveyView,
    /// The link's code, sent back with the answer.
    code: String,
    /// The answer chosen by the link or the form.
    chosen: String,
    comment: String,
    /// Set once the answer is recorded (or was, earlier).
    thanked: bool,
    problem: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    Path((reference, code)): Path<(String, String)>,
    Query(query): Query<ChoiceQuery>,
) -> WebResult<Response> {
    let survey = state.app.survey(&reference, &code).await?;
    let thanked = survey.given.is_some();
    let page = SurveyPage {
        chrome: Chrome::for_session(&session),
        survey,
        code,
        chosen: Rating::parse(&query.rating)
            .map_or_else(String::new, |rating| rating.key().to_owned()),
        comment: String::new(),
        thanked,
        problem: None,
    };
    Ok(crate::pages::render(&page)?.into_response())
}

async fn rate(
    State(state): State<AppState>,
    session: Session,
    Path((reference, code)): Path<(String, String)>,
    HtmlForm(form): HtmlForm<RatingForm>,
) -> WebResult<Response> {
    let problem = match Rating::parse(&form.rating) {
        None => Some("Choose one of the two answers.".to_owned()),
        Some(rating) => match state
            .app
            .rate_ticket(&reference, &code, rating, &form.comment)
            .await
        {
            Ok(_) => None,
            Err(AppError::Invalid(errors)) => Some(
                errors
                    .iter()
                    .map(|(_, message)| message.to_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Err(other) => return Err(other.into()),
        },
    };
    let survey = state.app.survey(&reference, &code).await?;
    let page = SurveyPage {
        chrome: Chrome::for_session(&session),
        thanked: problem.is_none(),
        survey,
        code,
        chosen: form.rating,
        comment: form.comment,
        problem,
    };
    let status = if page.thanked {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, crate::pages::render(&page)?).into_response())
}
