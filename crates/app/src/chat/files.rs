//! Files in chat: sent by the visitor or an agent taking part, stored by
//! content under the same rules as attachments (blocked names, size
//! limit, never shown inline unless the bytes are a plain image), carried
//! by a chat message, and copied onto the transcript ticket.
//!
//! A visitor reaches a file by a link holding a MAC of the message and the
//! file's content under the instance key (they have no account to check);
//! an agent through the chat's department, like the chat itself.

use ferrodesk_store::{ChatAuthor, ChatFile, ChatMessageRecord};

use super::ChatRecord;
use crate::attachments::{AttachmentDownload, StoredFile, Upload, UploadedFile};
use crate::{Actor, App, AppError, AppResult};

const FILE_LINK_PURPOSE: &str = "chat file";
/// Files one chat may carry in an hour (each side counted together).
const FILES_PER_CHAT_HOUR: i64 = 30;

impl App {
    /// Starts receiving a file for a chat: the caller has shown the chat's
    /// key or is an agent; the attachment rules apply as for tickets.
    pub async fn begin_chat_upload(&self, file_name: &str) -> AppResult<Upload> {
        self.begin_upload_unchecked(file_name).await
    }

    /// Counts a file against the chat's hourly allowance, before a byte is
    /// stored; refuses past it.
    pub async fn take_chat_file_allowance(&self, chat_id: i64) -> AppResult<()> {
        if self
            .store()
            .rate_limits()
            .hit_rate_limit(
                &format!("chat-files:{chat_id}"),
                std::time::Duration::from_secs(3600),
                FILES_PER_CHAT_HOUR,
                self.now(),
            )
            .await?
        {
            Ok(())
        } else {
            Err(AppError::TooManyRequests)
        }
    }

    /// The visitor sends a file in their chat.
    pub async fn post_visitor_file(&self, chat: &ChatRecord, file: &UploadedFile) -> AppResult<()> {
        let author = ChatAuthor {
            agent_id: None,
            name: &chat.visitor_name,
        };
        self.add_chat_file(chat.id, author, file).await
    }

    /// An agent taking part in a chat sends a file in it.
    pub async fn post_agent_file(
        &self,
        actor: &Actor,
        chat_id: i64,
        file: &UploadedFile,
    ) -> AppResult<()> {
        let (agent_id, chat) = self.agent_chat(actor, chat_id).await?;
        if chat.state != "active" || !self.takes_part(agent_id, &chat).await? {
            return Err(AppError::Conflict(
                "Accept the chat before sending files in it.".to_owned(),
            ));
        }
        let name = super::agent_name(actor);
        let author = ChatAuthor {
            agent_id: Some(agent_id),
            name: &name,
        };
        self.add_chat_file(chat.id, author, file).await
    }

    async fn add_chat_file(
        &self,
        chat_id: i64,
        author: ChatAuthor<'_>,
        file: &UploadedFile,
    ) -> AppResult<()> {
        let stored = ChatFile {
            sha256: &file.sha256,
            name: &file.file_name,
            content_type: &file.content_type,
            size: file.size,
        };
        self.store()
            .chats()
            .add_chat_message(chat_id, author, &file.file_name, Some(stored), self.now())
            .await?
            .ok_or_else(|| AppError::Conflict("This chat has ended.".to_owned()))?;
        Ok(())
    }

    /// The secret part of a file's link for the visitor.
    pub fn chat_file_token(&self, message_id: i64, sha256: &str) -> String {
        let mac = self.inner.key.sign(
            FILE_LINK_PURPOSE,
            format!("{message_id}:{sha256}").as_bytes(),
        );
        hex::encode(&mac[..16])
    }

    /// A chat file by the link the visitor was given.
    pub async fn chat_file_for_visitor(
        &self,
        message_id: i64,
        token: &str,
    ) -> AppResult<AttachmentDownload> {
        let message = self.chat_file_message(message_id).await?;
        let sha256 = message.file.file_sha256.clone().unwrap_or_default();
        if !crate::secrets::same_secret(&self.chat_file_token(message_id, &sha256), token) {
            return Err(AppError::NotFound);
        }
        self.chat_download(message)
    }

    /// A chat file for an agent who sees the chat's department.
    pub async fn chat_file_for_agent(
        &self,
        actor: &Actor,
        message_id: i64,
    ) -> AppResult<AttachmentDownload> {
        let message = self.chat_file_message(message_id).await?;
        self.agent_chat(actor, message.chat_id).await?;
        self.chat_download(message)
    }

    async fn chat_file_message(&self, message_id: i64) -> AppResult<ChatMessageRecord> {
        self.store()
            .chats()
            .chat_message(message_id)
            .await?
            .filter(|message| message.file.file_sha256.is_some())
            .ok_or(AppError::NotFound)
    }

    fn chat_download(&self, message: ChatMessageRecord) -> AppResult<AttachmentDownload> {
        let file = message.file;
        self.download_of_blob(StoredFile {
            sha256: file.file_sha256.unwrap_or_default(),
            file_name: file.file_name.unwrap_or_default(),
            content_type: file.file_type.unwrap_or_default(),
            size: file.file_size.unwrap_or_default(),
        })
    }
}
