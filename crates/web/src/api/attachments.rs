//! Files through the API: upload one (multipart, part `file`), get a token,
//! name the token in a new message's `attachments`; download a ticket's
//! attachment the way the agent page serves it.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::response::Response;
use ferrodesk_app::{AppError, TicketKey};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, ApiRequest, ApiResult, ObjectMeta, created, path_id};
use crate::AppState;

/// A stored file waiting to be attached.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Upload {
    /// Name it in `attachments` of a new message within an hour.
    pub token: String,
    pub file_name: String,
    /// `image/png`, `image/jpeg`, `image/gif`, `image/webp`, or
    /// `application/octet-stream` for anything else, whatever was declared.
    pub content_type: String,
    pub size: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct UploadEnvelope {
    pub data: Upload,
    pub meta: ObjectMeta,
}

/// The multipart form of an upload: one part, `file`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct UploadForm {
    /// The file, with its name in the part's `filename`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

fn unreadable() -> ApiError {
    ApiError::invalid(
        "file",
        "Send the file as multipart/form-data in a part named file.",
    )
}

/// Stores a file for a message to come.
#[utoipa::path(post, path = "/api/v2/attachments", tag = "tickets",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = UploadEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 413, body = super::ApiErrorBody),
        (status = 415, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    api: ApiRequest,
    request: Request,
) -> ApiResult<Response> {
    api.scope("tickets.reply")?;
    let mut multipart = match Multipart::from_request(request, &()).await {
        Ok(multipart) => multipart,
        Err(rejection) => {
            return Err(ApiError::for_status(rejection.status()));
        }
    };
    // The form has one part, `file` (the document says so): a missing one
    // or any other part is refused, not skipped.
    let Some(mut field) = multipart.next_field().await.map_err(|_| unreadable())? else {
        return Err(unreadable());
    };
    if field.name() != Some("file") {
        return Err(unreadable());
    }
    let file_name = field.file_name().unwrap_or("attachment").to_owned();
    let mut upload = state
        .app
        .begin_upload(&api.caller.actor, &file_name)
        .await?;
    while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
        upload.write(&chunk).await?;
    }
    drop(field);
    if multipart
        .next_field()
        .await
        .map_err(|_| unreadable())?
        .is_some()
    {
        // The unfinished upload removes its file as it is dropped.
        return Err(unreadable());
    }
    let file = state.app.finish_upload(upload).await?;
    let token = state.app.api_upload_token(&api.caller.actor, &file)?;
    Ok(created(
        "/api/v2/attachments".to_owned(),
        UploadEnvelope {
            data: Upload {
                token,
                file_name: file.file_name,
                content_type: file.content_type,
                size: file.size,
            },
            meta: ObjectMeta::default(),
        },
    ))
}

/// A ticket's attachment, served as the agent page serves it: images
/// inline, everything else as an opaque download.
#[utoipa::path(get, path = "/api/v2/tickets/{ticket}/attachments/{id}", tag = "tickets",
    params(
        ("ticket" = String, Path, description = "The ticket's id or reference", example = "1"),
        ("id" = i64, Path, minimum = 1, example = 1),
    ),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn download(
    State(state): State<AppState>,
    api: ApiRequest,
    Path((ticket, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    api.scope("tickets.view")?;
    let id = path_id(&id)?;
    let download = state
        .app
        .attachment_for_agent(&api.caller.actor, &TicketKey::parse(&ticket)?, id)
        .await?;
    crate::downloads::serve(download)
        .await
        .map_err(|_| ApiError::from(AppError::NotFound))
}
