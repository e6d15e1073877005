//! Statement uploads: streamed to a temporary file as they arrive, so memory stays flat however
//! large the file; a few at a time per user; then imported as `saldo import` imports a file.

use crate::auth::RequestActor;
use crate::query::{self, Params};
use crate::{busy, ApiError};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use saldo_app::import::FileReport;
use saldo_app::import::ImportRequest;
use saldo_app::ops::{App, OpsError};
use saldo_core::ids::UserId;
use std::collections::HashMap;
use std::io::{Seek, Write};
use std::sync::{Arc, Mutex};

/// The largest statement file taken: a million-row CAMT export is 1.4 GB.
pub const MAX_UPLOAD_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Uploads one user may have under way at once.
const UPLOADS_PER_USER: usize = 2;

/// The content types a statement may be sent as: the file itself, or a form's file field.
const RAW_TYPES: [&str; 7] = [
    "application/octet-stream",
    "text/csv",
    "application/xml",
    "text/xml",
    "application/x-ofx",
    "application/vnd.intu.qfx",
    "application/x-mt940",
];

/// The import's report, as `saldo import --json` prints it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ImportJson {
    /// One report per file: what was new, duplicate, replaced, and the problems.
    #[schema(value_type = Vec<Object>)]
    pub files: Vec<saldo_app::import::FileReport>,
}

/// Uploads under way, per user.
#[derive(Debug, Default)]
pub struct UploadSlots {
    in_use: Mutex<HashMap<UserId, usize>>,
}

/// One upload's place; given back when dropped.
struct Slot<'a> {
    slots: &'a UploadSlots,
    user: UserId,
}

impl UploadSlots {
    fn take(&self, user: UserId) -> Option<Slot<'_>> {
        let mut in_use = self.in_use.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = in_use.entry(user).or_insert(0);
        if *count >= UPLOADS_PER_USER {
            return None;
        }
        *count += 1;
        Some(Slot { slots: self, user })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut in_use = self.slots.in_use.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = in_use.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                in_use.remove(&self.user);
            }
        }
    }
}

/// Why an upload was not taken whole.
enum Spooling {
    TooLarge,
    /// The client stopped sending (the edge's timeout), or the connection broke.
    Broken(String),
    Disk(std::io::Error),
}

impl From<Spooling> for ApiError {
    fn from(failure: Spooling) -> ApiError {
        match failure {
            Spooling::TooLarge => ApiError::Status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("a statement file may be at most {} GiB", MAX_UPLOAD_BYTES >> 30),
            ),
            Spooling::Broken(why) => ApiError::Status(
                StatusCode::REQUEST_TIMEOUT,
                "incomplete_upload",
                format!("the upload did not arrive whole ({why}); nothing was imported"),
            ),
            Spooling::Disk(err) => {
                tracing::error!(error = %err, "an upload could not be spooled");
                ApiError::Status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; the server log has the details".into(),
                )
            }
        }
    }
}

/// Appends chunks to an unnamed temporary file (gone when closed), counting them.
struct Spool {
    file: std::fs::File,
    written: u64,
}

impl Spool {
    fn new() -> Result<Spool, Spooling> {
        Ok(Spool { file: tempfile::tempfile().map_err(Spooling::Disk)?, written: 0 })
    }

    async fn append(&mut self, chunk: Bytes) -> Result<(), Spooling> {
        self.written += chunk.len() as u64;
        if self.written > MAX_UPLOAD_BYTES {
            return Err(Spooling::TooLarge);
        }
        let mut file = self.file.try_clone().map_err(Spooling::Disk)?;
        tokio::task::spawn_blocking(move || file.write_all(&chunk))
            .await
            .map_err(|err| Spooling::Disk(std::io::Error::other(err)))?
            .map_err(Spooling::Disk)
    }

    fn into_file(mut self) -> Result<std::fs::File, Spooling> {
        self.file.rewind().map_err(Spooling::Disk)?;
        Ok(self.file)
    }
}

async fn spool_body(body: Body) -> Result<Spool, Spooling> {
    let mut spool = Spool::new()?;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| Spooling::Broken(err.to_string()))?;
        if let Ok(chunk) = frame.into_data() {
            spool.append(chunk).await?;
        }
    }
    Ok(spool)
}

/// The first file field of a form, spooled, and the name it was sent under.
async fn spool_form(mut form: Multipart) -> Result<(Spool, Option<String>), ApiError> {
    while let Some(mut field) = form.next_field().await.map_err(|err| Spooling::Broken(err.body_text()))? {
        if field.file_name().is_none() && field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().map(str::to_string);
        let mut spool = Spool::new()?;
        while let Some(chunk) = field.chunk().await.map_err(|err| Spooling::Broken(err.body_text()))? {
            spool.append(chunk).await?;
        }
        return Ok((spool, name));
    }
    Err(OpsError::Invalid("the form has no file field: send the statement as a field named file".into()).into())
}

/// The import's options from the query, and the file name it gives.
fn import_request(params: &HashMap<String, String>) -> Result<(ImportRequest, Option<String>), OpsError> {
    let known = [
        "filename",
        "format",
        "account",
        "kind",
        "currency",
        "amount_column",
        "dry_run",
        "skip_unreadable",
        "accept_truncated",
    ];
    let params = Params::new(params, &known)?;
    let format = match params.text("format") {
        None => None,
        Some(auto) if auto.eq_ignore_ascii_case("auto") => None,
        Some(value) => Some(saldo_import::Format::parse(value).ok_or_else(|| OpsError::InvalidField {
            field: "format".into(),
            message: format!("unknown format {value:?}: expected auto, ofx, camt, mt940 or csv"),
        })?),
    };
    let request = ImportRequest {
        format,
        account: params.text("account").map(str::to_string),
        kind: params.text("kind").map(|k| query::kind(k, "kind")).transpose()?,
        currency: params.text("currency").map(|c| query::currency(c, "currency")).transpose()?,
        amount_column: params
            .text("amount_column")
            .map(|value| {
                value.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| OpsError::InvalidField {
                    field: "amount_column".into(),
                    message: format!("invalid amount_column {value:?}: expected a column number from 1"),
                })
            })
            .transpose()?,
        dry_run: params.flag("dry_run")?.unwrap_or(false),
        skip_unreadable: params.flag("skip_unreadable")?.unwrap_or(false),
        accept_truncated: params.flag("accept_truncated")?.unwrap_or(false),
    };
    Ok((request, params.text("filename").map(str::to_string)))
}

/// Uploads one statement file and imports it as `saldo import` does: the file as the body (one of
/// `RAW_TYPES`), or as the file field of a `multipart/form-data` form. Query: `filename` (helps
/// detection), `format` (auto, ofx, camt, mt940, csv), `account` (id or name), `kind` and
/// `currency` (for a new account that the file doesn't describe), `amount_column` (the CSV
/// column, from 1, holding the amounts), `dry_run=true`, `accept_truncated=true` (import what a
/// cut-off file holds, instead of refusing it), `skip_unreadable=true`. Answers the file's report
/// as `{"files": [report]}`: 200 when it was imported (or checked), 422 when nothing of it was
/// (the report's `error` says why).
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports", params(("filename" = Option<String>, Query), ("format" = Option<String>, Query, description = "auto, ofx, camt, mt940 or csv"), ("account" = Option<String>, Query), ("kind" = Option<String>, Query), ("currency" = Option<String>, Query), ("amount_column" = Option<u32>, Query, minimum = 1), ("dry_run" = Option<bool>, Query), ("accept_truncated" = Option<bool>, Query), ("skip_unreadable" = Option<bool>, Query)), request_body(content = Vec<u8>, description = "The statement file", content_type = "application/octet-stream"), responses((status = 200, body = ImportJson), (status = 422, description = "Nothing of the file was imported; its report says why", body = ImportJson)))]
pub(crate) async fn import_file(
    State(ctx): State<App>,
    Extension(slots): Extension<Arc<UploadSlots>>,
    RequestActor(actor): RequestActor,
    Query(params): Query<HashMap<String, String>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (import, given_name) = import_request(&params)?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    let form = match content_type.as_deref() {
        Some("multipart/form-data") => true,
        Some(raw) if RAW_TYPES.contains(&raw) => false,
        _ => {
            let message = format!(
                "send the statement file as the body with Content-Type {} or as the file field of a \
                 multipart/form-data form",
                RAW_TYPES.join(", ")
            );
            return Err(ApiError::Status(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message));
        }
    };
    let Some(_slot) = slots.take(actor.user.id) else {
        let message = format!("at most {UPLOADS_PER_USER} uploads at a time: try again when one has finished");
        let mut response = ApiError::Status(StatusCode::TOO_MANY_REQUESTS, "too_many_uploads", message).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return Ok(response);
    };
    let (spool, sent_name) = if form {
        let form = Multipart::from_request(request, &()).await.map_err(|err| OpsError::Invalid(err.body_text()))?;
        spool_form(form).await?
    } else {
        (spool_body(request.into_body()).await?, None)
    };
    if spool.written == 0 {
        return Err(OpsError::Invalid("the request body is empty: send the statement file as the body".into()).into());
    }
    let name = given_name.or(sent_name).unwrap_or_else(|| "upload".to_string());
    let file = spool.into_file()?;
    let report = saldo_app::import::import_spooled(&ctx, &actor, &name, file, &import).await;
    if report.busy {
        return Ok(busy());
    }
    let status = if report.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, Json(ImportJson { files: vec![report] })).into_response())
}

/// What a page's import form sent: the file and its other fields, in the order of the form (the
/// fields before the file).
pub(crate) struct FormUpload {
    pub file: std::fs::File,
    pub name: String,
    pub fields: HashMap<String, String>,
}

/// Reads an import form: its short text fields, then the file, spooled to disk as the API does.
pub(crate) async fn read_import_form(mut form: Multipart) -> Result<FormUpload, ApiError> {
    let mut fields = HashMap::new();
    while let Some(mut field) = form.next_field().await.map_err(|err| Spooling::Broken(err.body_text()))? {
        let key = field.name().unwrap_or_default().to_string();
        if field.file_name().is_none() && key != "file" {
            let text = field.text().await.map_err(|err| Spooling::Broken(err.body_text()))?;
            fields.insert(key, text.chars().take(200).collect());
            continue;
        }
        let name = field.file_name().filter(|n| !n.is_empty()).unwrap_or("upload").to_string();
        let mut spool = Spool::new()?;
        while let Some(chunk) = field.chunk().await.map_err(|err| Spooling::Broken(err.body_text()))? {
            spool.append(chunk).await?;
        }
        if spool.written == 0 {
            return Err(OpsError::Invalid("the file is empty: choose a statement file".into()).into());
        }
        return Ok(FormUpload { file: spool.into_file()?, name, fields });
    }
    Err(OpsError::Invalid("choose a statement file to import".into()).into())
}

/// Imports what a page's form sent, holding one of the user's upload slots meanwhile.
pub(crate) async fn import_form(
    ctx: &App,
    actor: &saldo_app::ops::Actor,
    slots: &UploadSlots,
    form: Multipart,
) -> Result<FileReport, ApiError> {
    let Some(_slot) = slots.take(actor.user.id) else {
        let message = format!("at most {UPLOADS_PER_USER} uploads at a time: try again when one has finished");
        return Err(ApiError::Status(StatusCode::TOO_MANY_REQUESTS, "too_many_uploads", message));
    };
    let upload = read_import_form(form).await?;
    let mut params = upload.fields;
    params.retain(|_, value| !value.is_empty());
    let (request, _) = import_request(&params)?;
    let report = saldo_app::import::import_spooled(ctx, actor, &upload.name, upload.file, &request).await;
    if report.busy {
        return Err(OpsError::Invalid("saldo is busy writing: send the file again in a moment".into()).into());
    }
    Ok(report)
}
