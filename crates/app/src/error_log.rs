use ferrodesk_store::NewErrorLogEntry;

use crate::App;

/// A server error as the web layer saw it.
#[derive(Debug)]
pub struct ServerError<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub message: &'a str,
}

impl App {
    /// Keeps a server error for the admins' error log. When the database is
    /// what failed, the error still reaches the process log.
    pub async fn record_server_error(&self, error: &ServerError<'_>) {
        tracing::error!(
            request_id = error.request_id,
            status = error.status,
            message = error.message,
            "server error"
        );
        let entry = NewErrorLogEntry {
            request_id: error.request_id,
            method: error.method,
            path: error.path,
            status: error.status,
            message: error.message,
        };
        if let Err(store_error) = self
            .store()
            .error_log()
            .record_error(&entry, self.now())
            .await
        {
            tracing::error!(request_id = error.request_id, %store_error, "cannot write the error log");
        }
    }
}
