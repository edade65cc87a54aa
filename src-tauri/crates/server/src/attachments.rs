//! Documents in requests, in each API's shape: OpenAI's `file` parts (chat completions:
//! `{"type": "file", "file": {"filename", "file_data": "data:…;base64,…"}}`), the Responses API's
//! `input_file` parts (`{"type": "input_file", "filename", "file_data"}`) and Anthropic's
//! `document` blocks (`{"type": "document", "source": {"type": "base64" | "text", …}, "title"}`).
//!
//! Each is read by `hearth-documents` in a child process (a hostile PDF stops that process, not
//! the server) and goes into the message whole, at its place, as `documents::whole::render` writes
//! it; a request whose prompt then does not fit the model's context is refused by the engine with a
//! 400 that gives its tokens and the context. No hidden retrieval behind an API: a client sees
//! exactly what the model read. Only sent data is read, never a URL or a file id (as pictures).

use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

use base64::Engine as _;
use documents::Reader;
use serde_json::Value;

use crate::error::ApiError;
use crate::pictures::Place;

/// The most documents one request may carry.
pub const MAX_DOCUMENTS: usize = 16;

static READER: OnceLock<Reader> = OnceLock::new();

/// The program that reads documents for this server: by default this executable (the app and
/// `hearth serve` are readers when started with `documents::READER_FLAG`). Tests, whose executable
/// is a test harness, name `hearth-document-reader`. The first call wins.
pub fn use_reader(reader: Reader) {
    let _ = READER.set(reader);
}

fn reader() -> Result<&'static Reader, ApiError> {
    if let Some(reader) = READER.get() {
        return Ok(reader);
    }
    let reader = Reader::this_executable().map_err(|e| ApiError::invalid(e.to_string(), None))?;
    Ok(READER.get_or_init(|| reader))
}

/// An OpenAI `file` part's or a Responses `input_file` part's document, rendered.
pub fn from_openai(part: &Value, place: &Place) -> Result<String, ApiError> {
    let file = part.get("file").unwrap_or(part);
    if file.get("file_id").is_some() && file.get("file_data").is_none() {
        return Err(refused(place, "names a file id; this server has no files API: send the file itself as `file_data` (a data: URL)"));
    }
    if file.get("file_url").is_some() {
        return Err(refused(place, "gives a URL; this server reads only what is sent: send the file itself as `file_data` (a data: URL)"));
    }
    let data = file.get("file_data").and_then(Value::as_str).ok_or_else(|| refused(place, "has no `file_data`"))?;
    let (media_type, bytes) = data_url(data).map_err(|why| refused(place, &why))?;
    let name = file.get("filename").and_then(Value::as_str).map_or_else(|| default_name(&media_type), str::to_owned);
    read(&bytes, &name, place)
}

/// An Anthropic `document` block's document, rendered.
pub fn from_anthropic(block: &Value, place: &Place) -> Result<String, ApiError> {
    let source = block.get("source").cloned().unwrap_or(Value::Null);
    let media_type = source.get("media_type").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    let title = block.get("title").and_then(Value::as_str);
    let name = |media_type: &str| title.map_or_else(|| default_name(media_type), |t| with_extension(t, media_type));
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let data = source.get("data").and_then(Value::as_str).unwrap_or_default();
            let bytes = base64(data).map_err(|why| refused(place, &why))?;
            read(&bytes, &name(&media_type), place)
        }
        Some("text") => {
            let data = source.get("data").and_then(Value::as_str).unwrap_or_default();
            read(data.as_bytes(), &name("text/plain"), place)
        }
        Some("url") => Err(refused(place, "gives a URL; this server reads only what is sent: send the document as base64 or text")),
        Some("file") => Err(refused(place, "names a file id; this server has no files API: send the document as base64 or text")),
        _ => Err(refused(place, "must have a `source` of type base64 or text")),
    }
}

/// The most documents a request may carry, checked before any is read.
pub fn count(n: usize, param: &str) -> Result<(), ApiError> {
    if n > MAX_DOCUMENTS {
        return Err(ApiError::invalid(
            format!("The request has {n} documents; this server reads at most {MAX_DOCUMENTS} in one request."),
            Some(param),
        ));
    }
    Ok(())
}

fn read(bytes: &[u8], name: &str, place: &Place) -> Result<String, ApiError> {
    if place.role != types::ChatRole::User {
        return Err(refused(place, &format!("is a document in a {} message; documents go in the user's messages", place.role.as_str())));
    }
    let never = AtomicBool::new(false);
    let document = reader()?.read(bytes, name, &never).map_err(|e| match e {
        // The server's fault, not the file's.
        documents::DocumentError::ReaderUnavailable { .. } => ApiError::Engine(
            types::HearthError::new(types::ErrorCode::Internal, "Hearth's document reader could not start; the document was not read.")
                .with_details(e.to_string()),
        ),
        e => ApiError::invalid(format!("{} ({name}): {e}", place.path), Some(place.param)),
    })?;
    Ok(documents::whole::render(&document))
}

fn refused(place: &Place, why: &str) -> ApiError {
    ApiError::invalid(format!("{} {why}.", place.path), Some(place.param))
}

/// A data URL's media type and bytes (base64 only).
fn data_url(url: &str) -> Result<(String, Vec<u8>), String> {
    let rest = url.strip_prefix("data:").ok_or("has `file_data` that is not a data: URL")?;
    let (head, data) = rest.split_once(',').ok_or("has a data URL with no comma before the data")?;
    let mut params = head.split(';');
    let media_type = params.next().unwrap_or_default().to_ascii_lowercase();
    if !params.any(|p| p.eq_ignore_ascii_case("base64")) {
        return Err("has a data URL that is not base64-encoded".into());
    }
    Ok((media_type, base64(data)?))
}

fn base64(data: &str) -> Result<Vec<u8>, String> {
    if data.len() / 4 * 3 > documents::MAX_FILE_BYTES as usize + 3 {
        return Err(format!("holds more than the {} MB a document may be", documents::MAX_FILE_BYTES / 1_000_000));
    }
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()).map_err(|e| format!("has damaged base64 ({e})"))
}

/// A name for a document sent without one, from its media type (its kind comes from the name).
fn default_name(media_type: &str) -> String {
    with_extension("document", media_type)
}

fn with_extension(name: &str, media_type: &str) -> String {
    let ext = match media_type {
        "application/pdf" => "pdf",
        "text/markdown" => "md",
        "text/html" => "html",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/epub+zip" => "epub",
        _ => "txt",
    };
    if name.to_ascii_lowercase().ends_with(&format!(".{ext}")) {
        name.to_owned()
    } else {
        format!("{name}.{ext}")
    }
}
