//! Attachments: each file body is stored once, under its SHA-256, in the
//! data directory (never under the name the uploader chose), and reached
//! only through a ticket the reader may see. Only images whose bytes say
//! they are PNG, JPEG, GIF or WebP are ever shown inline; everything else
//! (HTML, SVG, XML, PDF, …) is served as an opaque download.

use std::path::{Path, PathBuf};

use ferrodesk_core::Timestamp;
use ferrodesk_store::{AttachmentRecord, StoredAttachment};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::secrets::random_bytes;
use crate::{Actor, App, AppError, AppResult, FieldErrors};

/// How long a blob no message refers to is kept before the sweep deletes
/// it: long enough for any upload still being attached.
const UNREFERENCED_BLOB_GRACE: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);
const MAX_FILE_NAME_CHARS: usize = 200;
const API_UPLOAD_PURPOSE: &str = "api upload";
/// How long an uploaded file waits to be attached through the API.
const API_UPLOAD_LIFETIME: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// What an API upload token carries, sealed.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SealedUpload {
    person_id: i64,
    sha256: String,
    file_name: String,
    content_type: String,
    size: i64,
    expires_at: i64,
}

/// What every non-image is served as.
pub(crate) const OPAQUE_CONTENT_TYPE: &str = "application/octet-stream";

/// Where blobs live: `<root>/ab/cd/abcd…` by their SHA-256, with uploads in
/// progress under `<root>/incoming`.
#[derive(Debug, Clone)]
pub(crate) struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub(crate) fn new(root: impl Into<PathBuf>) -> BlobStore {
        BlobStore { root: root.into() }
    }

    fn path_of(&self, sha256: &str) -> PathBuf {
        self.root
            .join(&sha256[..2])
            .join(&sha256[2..4])
            .join(sha256)
    }

    fn incoming(&self) -> PathBuf {
        self.root.join("incoming")
    }
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

/// The image type the first bytes of a file show, if it is one we display.
pub(crate) fn sniff_inline_image(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The uploader's file name made safe to show and offer: the last path
/// component, no control characters and no invisible formatting (a
/// right-to-left override would show `invoice\u{202e}fdp.exe` as
/// `invoiceexe.pdf`), at most 200 characters.
pub(crate) fn clean_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !ferrodesk_core::is_invisible_formatting(*c))
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        "attachment".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// A file being received, written to a temporary file and hashed as it
/// comes. Dropped unfinished, its temporary file is removed.
#[derive(Debug)]
pub struct Upload {
    file: Option<tokio::fs::File>,
    temp_path: PathBuf,
    hasher: Sha256,
    size: u64,
    limit: u64,
    head: Vec<u8>,
    file_name: String,
}

impl Upload {
    /// Adds the next piece of the file; past the size limit the upload is
    /// refused with a message naming the file.
    pub async fn write(&mut self, chunk: &[u8]) -> AppResult<()> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(AppError::invalid(
                "attachments",
                format!(
                    "\u{201c}{}\u{201d} is larger than {} MiB.",
                    self.file_name,
                    self.limit / (1024 * 1024)
                ),
            ));
        }
        if self.head.len() < 16 {
            let wanted = (16 - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..wanted]);
        }
        self.hasher.update(chunk);
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| AppError::Internal("upload already finished".to_owned()))?;
        file.write_all(chunk).await.map_err(storage_error)?;
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

/// A received file, stored and ready to attach to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    pub sha256: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
}

/// A stored file, by content, with what it was called and its type.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub sha256: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
}

/// What a download needs: where the bytes are and how to serve them.
#[derive(Debug, Clone)]
pub struct AttachmentDownload {
    pub path: PathBuf,
    pub file_name: String,
    /// An image type for inline images, otherwise `application/octet-stream`.
    pub content_type: String,
    pub inline: bool,
    pub size: i64,
    pub sha256: String,
}

fn storage_error(error: std::io::Error) -> AppError {
    AppError::Internal(format!("attachment storage: {error}"))
}

async fn create_dir(path: &Path) -> AppResult<()> {
    tokio::fs::create_dir_all(path).await.map_err(storage_error)
}

impl App {
    fn blob_store(&self) -> AppResult<&BlobStore> {
        self.inner
            .blobs
            .as_ref()
            .ok_or_else(|| AppError::Internal("no directory for attachments".to_owned()))
    }

    /// Starts receiving a file for a message; signed-in people only, and
    /// names with a blocked extension are refused before a byte is stored.
    pub async fn begin_upload(&self, actor: &Actor, file_name: &str) -> AppResult<Upload> {
        if actor.signed_in().is_none() {
            return Err(AppError::Unauthenticated);
        }
        self.begin_upload_unchecked(file_name).await
    }

    /// `begin_upload` for a caller checked otherwise (a chat's visitor).
    pub(crate) async fn begin_upload_unchecked(&self, file_name: &str) -> AppResult<Upload> {
        let limits = self.settings().await?.attachments.clone();
        let file_name = clean_file_name(file_name);
        if let Some(refusal) = refusal_of(&limits, &file_name) {
            return Err(AppError::invalid("attachments", refusal));
        }
        self.start_upload(file_name, limits.max_file_bytes()).await
    }

    async fn start_upload(&self, file_name: String, limit: u64) -> AppResult<Upload> {
        let blobs = self.blob_store()?;
        create_dir(&blobs.incoming()).await?;
        let temp_path = blobs.incoming().join(hex::encode(random_bytes::<16>()?));
        let file = tokio::fs::File::create(&temp_path)
            .await
            .map_err(storage_error)?;
        Ok(Upload {
            file: Some(file),
            temp_path,
            hasher: Sha256::new(),
            size: 0,
            limit,
            head: Vec::with_capacity(16),
            file_name,
        })
    }

    /// Stores a file that came by mail, within the admin's limits; a file
    /// the limits refuse answers why, in words for the ticket.
    pub(crate) async fn store_mail_file(
        &self,
        file_name: &str,
        bytes: &[u8],
    ) -> AppResult<Result<UploadedFile, String>> {
        let limits = self.settings().await?.attachments.clone();
        let file_name = clean_file_name(file_name);
        if let Some(refusal) = refusal_of(&limits, &file_name) {
            return Ok(Err(refusal));
        }
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limits.max_file_bytes() {
            return Ok(Err(format!(
                "\u{201c}{file_name}\u{201d} is larger than {} MiB.",
                limits.max_file_mib
            )));
        }
        let mut upload = self
            .start_upload(file_name, limits.max_file_bytes())
            .await?;
        if let Err(error) = upload.write(bytes).await {
            let _ = tokio::fs::remove_file(&upload.temp_path).await;
            return Err(error);
        }
        self.finish_upload(upload).await.map(Ok)
    }

    /// Keeps a received message's source as a file in the store, by its
    /// content like an attachment; `None` when this helpdesk stores no
    /// files (the source then stays in its row).
    pub(crate) async fn store_source_file(&self, source: &[u8]) -> AppResult<Option<UploadedFile>> {
        if self.inner.blobs.is_none() {
            return Ok(None);
        }
        let limit = u64::try_from(source.len()).unwrap_or(u64::MAX);
        let mut upload = self.start_upload("message.eml".to_owned(), limit).await?;
        upload.write(source).await?;
        self.finish_upload(upload).await.map(Some)
    }

    /// A stored file's bytes, by its SHA-256.
    pub(crate) async fn read_stored_file(&self, sha256: &str) -> AppResult<Vec<u8>> {
        if !is_sha256_hex(sha256) {
            return Err(AppError::Internal(format!("not a file name: {sha256}")));
        }
        let path = self.blob_store()?.path_of(sha256);
        tokio::fs::read(&path).await.map_err(storage_error)
    }

    /// Finishes a file: moved to its place by content (a body stored before
    /// is kept and the copy dropped) and recorded, so the sweep leaves it.
    pub async fn finish_upload(&self, mut upload: Upload) -> AppResult<UploadedFile> {
        let mut file = upload
            .file
            .take()
            .ok_or_else(|| AppError::Internal("upload already finished".to_owned()))?;
        let temp_path = upload.temp_path.clone();
        let result = async {
            file.flush().await.map_err(storage_error)?;
            file.sync_all().await.map_err(storage_error)?;
            drop(file);
            let sha256 = hex::encode(std::mem::take(&mut upload.hasher).finalize());
            let blobs = self.blob_store()?;
            let target = blobs.path_of(&sha256);
            if let Some(parent) = target.parent() {
                create_dir(parent).await?;
            }
            // Same name, same bytes: replacing a body stored before is
            // harmless, and the rename is atomic.
            tokio::fs::rename(&temp_path, &target)
                .await
                .map_err(storage_error)?;
            let size = i64::try_from(upload.size)
                .map_err(|_| AppError::Internal("file size out of range".to_owned()))?;
            self.store()
                .tickets()
                .record_blob(&sha256, size, self.now())
                .await?;
            Ok(UploadedFile {
                sha256,
                file_name: upload.file_name.clone(),
                content_type: sniff_inline_image(&upload.head)
                    .unwrap_or(OPAQUE_CONTENT_TYPE)
                    .to_owned(),
                size,
            })
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&temp_path).await;
        }
        result
    }

    /// A token naming an uploaded file, for the API's "upload, then
    /// attach": sealed under the instance key, so it cannot be forged or
    /// read, bound to the uploading agent, and good for an hour (well
    /// inside the day the sweep keeps a blob no message uses).
    pub fn api_upload_token(&self, actor: &Actor, file: &UploadedFile) -> AppResult<String> {
        let person = actor.signed_in().ok_or(AppError::Unauthenticated)?;
        let sealed = SealedUpload {
            person_id: person.person_id,
            sha256: file.sha256.clone(),
            file_name: file.file_name.clone(),
            content_type: file.content_type.clone(),
            size: file.size,
            expires_at: self.now().plus(API_UPLOAD_LIFETIME).millis(),
        };
        let json = serde_json::to_vec(&sealed)
            .map_err(|error| AppError::Internal(format!("upload token: {error}")))?;
        self.inner.key.seal(API_UPLOAD_PURPOSE, &json)
    }

    /// The file a token from [`App::api_upload_token`] names; a token that
    /// is altered, expired or another person's is refused as invalid input.
    pub fn api_upload_from_token(&self, actor: &Actor, token: &str) -> AppResult<UploadedFile> {
        let refused = || {
            AppError::unresolved(
                "attachments",
                "An upload is unknown or expired; upload the file again.",
            )
        };
        let person = actor.signed_in().ok_or(AppError::Unauthenticated)?;
        let bytes = self
            .inner
            .key
            .open(API_UPLOAD_PURPOSE, token.trim())
            .map_err(|_| refused())?;
        let sealed: SealedUpload = serde_json::from_slice(&bytes).map_err(|_| refused())?;
        if sealed.person_id != person.person_id
            || sealed.expires_at <= self.now().millis()
            || !is_sha256_hex(&sealed.sha256)
        {
            return Err(refused());
        }
        Ok(UploadedFile {
            sha256: sealed.sha256,
            file_name: sealed.file_name,
            content_type: sealed.content_type,
            size: sealed.size,
        })
    }

    /// Checks the number of files on one message against the settings.
    pub(crate) async fn check_attachment_count(
        &self,
        count: usize,
        errors: &mut FieldErrors,
    ) -> AppResult<()> {
        let limit = self.settings().await?.attachments.max_files_per_message;
        if count > limit as usize {
            errors.add(
                "attachments",
                format!("Attach at most {limit} files to one message."),
            );
        }
        Ok(())
    }

    /// An attachment of a ticket the agent may see (notes included), by the
    /// ticket's reference and the attachment's id; anything else is
    /// "not found".
    pub async fn attachment_for_agent(
        &self,
        actor: &Actor,
        key: &crate::TicketKey,
        attachment_id: i64,
    ) -> AppResult<AttachmentDownload> {
        let context = self.agent_context(actor).await?;
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        let attachment = self
            .store()
            .tickets()
            .find_attachment(attachment_id)
            .await?
            .filter(|attachment| attachment.ticket_id == ticket.id)
            .ok_or(AppError::NotFound)?;
        self.download_of(attachment)
    }

    pub(crate) fn download_of(
        &self,
        attachment: StoredAttachment,
    ) -> AppResult<AttachmentDownload> {
        self.download_of_blob(StoredFile {
            sha256: attachment.blob_sha256,
            file_name: attachment.file_name,
            content_type: attachment.content_type,
            size: attachment.size,
        })
    }

    /// How to serve a stored file: inline only when it is an image we
    /// recognised, otherwise as an opaque download.
    pub(crate) fn download_of_blob(&self, file: StoredFile) -> AppResult<AttachmentDownload> {
        if !is_sha256_hex(&file.sha256) {
            return Err(AppError::Internal("malformed blob name".to_owned()));
        }
        let path = self.blob_store()?.path_of(&file.sha256);
        let inline = is_inline_image_type(&file.content_type);
        Ok(AttachmentDownload {
            path,
            file_name: file.file_name,
            content_type: if inline {
                file.content_type
            } else {
                OPAQUE_CONTENT_TYPE.to_owned()
            },
            inline,
            size: file.size,
            sha256: file.sha256,
        })
    }

    /// Deletes blobs no attachment has referred to for a day; returns how
    /// many went.
    pub async fn sweep_unreferenced_blobs(&self) -> AppResult<usize> {
        let Some(blobs) = self.inner.blobs.as_ref() else {
            return Ok(0);
        };
        let before = Timestamp::minus(self.now(), UNREFERENCED_BLOB_GRACE);
        // The logo is a blob no attachment refers to.
        let logo = self.settings().await?.branding.logo_sha256.clone();
        let mut removed = 0;
        for sha256 in self
            .store()
            .tickets()
            .unreferenced_blobs(before, 500)
            .await?
        {
            if logo.as_deref() == Some(sha256.as_str()) {
                continue;
            }
            if is_sha256_hex(&sha256) && self.store().tickets().forget_blob(&sha256).await? {
                let _ = tokio::fs::remove_file(blobs.path_of(&sha256)).await;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

impl App {
    /// The help center's logo, to serve inline, if one was uploaded.
    pub async fn brand_logo(&self) -> AppResult<AttachmentDownload> {
        let branding = self.settings().await?.branding.clone();
        let (Some(sha256), Some(content_type)) = (branding.logo_sha256, branding.logo_content_type)
        else {
            return Err(AppError::NotFound);
        };
        let size = tokio::fs::metadata(self.blob_store()?.path_of(&sha256))
            .await
            .map(|metadata| i64::try_from(metadata.len()).unwrap_or(i64::MAX))
            .map_err(|_| AppError::NotFound)?;
        self.download_of(StoredAttachment {
            id: 0,
            ticket_id: 0,
            is_note: false,
            blob_sha256: sha256,
            file_name: "logo".to_owned(),
            content_type,
            size,
        })
    }
}

/// Why the limits refuse a file of this name, if they do.
fn refusal_of(limits: &crate::AttachmentLimits, file_name: &str) -> Option<String> {
    if limits.max_files_per_message == 0 {
        Some("Attachments are turned off.".to_owned())
    } else if limits.blocks(file_name) {
        Some(format!(
            "Files like \u{201c}{file_name}\u{201d} cannot be attached."
        ))
    } else {
        None
    }
}

/// Whether a stored content type is one of the images shown inline.
pub fn is_inline_image_type(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// Attachments grouped by message, for a thread.
pub(crate) fn attachments_by_message(
    attachments: Vec<AttachmentRecord>,
) -> std::collections::HashMap<i64, Vec<AttachmentRecord>> {
    let mut grouped: std::collections::HashMap<i64, Vec<AttachmentRecord>> =
        std::collections::HashMap::new();
    for attachment in attachments {
        grouped
            .entry(attachment.message_id)
            .or_default()
            .push(attachment);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_image_bytes_count_as_images() {
        assert_eq!(
            sniff_inline_image(b"\x89PNG\r\n\x1a\n0000"),
            Some("image/png")
        );
        assert_eq!(sniff_inline_image(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff_inline_image(b"RIFF1234WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_inline_image(b"<svg xmlns="), None);
        assert_eq!(sniff_inline_image(b"<html><script>"), None);
        assert_eq!(sniff_inline_image(b""), None);
    }

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\Users\\me\\report.pdf"), "report.pdf");
        assert_eq!(clean_file_name("a\u{0}b\r\n.txt"), "ab.txt");
        assert_eq!(clean_file_name("invoice\u{202e}fdp.exe"), "invoicefdp.exe");
        assert_eq!(clean_file_name("\u{200b}report\u{feff}.pdf"), "report.pdf");
        assert_eq!(clean_file_name(".."), "attachment");
        assert_eq!(clean_file_name(""), "attachment");
        assert_eq!(clean_file_name(&"x".repeat(500)).chars().count(), 200);
    }
}
