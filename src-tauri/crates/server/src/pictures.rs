//! Pictures in requests, in each API's shape: OpenAI's `image_url` parts (chat completions), the
//! Responses API's `input_image` parts and Anthropic's `image` blocks. Only pictures sent in the
//! request are read — a data URL or base64 — and never an address: a server that fetched URLs for
//! whoever can reach it would reach, on their behalf, whatever this machine can. Each picture is
//! decoded and scaled here (`hearth-images`, bounded against bombs) into the pixels the engine
//! takes, at its place in the message's text. Only a person's messages carry pictures (OpenAI and
//! Anthropic take them nowhere else); the request parsers run off the async threads
//! (`routes::parse_off_thread`), since a large photo takes a moment to decode.

use serde_json::Value;
use types::{ChatImage, ChatRole};

use crate::error::ApiError;

/// The longer side pictures are scaled to before they go to the engine: the projector scales what
/// it is given to what it reads (Gemma 3's 896 pixels square), and this bounds what crosses to the
/// worker whatever was sent.
pub const SIDE: u32 = 1024;

/// Where a picture part was found, for the error that names it.
pub struct Place<'a> {
    pub param: &'static str,
    pub path: &'a str,
    pub role: ChatRole,
}

/// An OpenAI `image_url` part's picture: `{"type": "image_url", "image_url": {"url": "data:…"}}`
/// (or the URL as a string), and the Responses API's `{"type": "input_image", "image_url": "data:…"}`.
pub fn from_image_url(part: &Value, at: usize, place: &Place) -> Result<ChatImage, ApiError> {
    only_for_people(place)?;
    let url = match part.get("image_url") {
        Some(Value::String(u)) => u.as_str(),
        Some(Value::Object(o)) => o.get("url").and_then(Value::as_str).unwrap_or_default(),
        _ if part.get("file_id").is_some() => return Err(refused(place, "names a file id; send the picture itself as a data: URL")),
        _ => return Err(refused(place, "has no `image_url`")),
    };
    let bytes = images::from_data_url(url).map_err(|e| refused(place, &e.clause()))?;
    decode(&bytes, at, place)
}

/// An Anthropic `image` block's picture: `{"type": "image", "source": {"type": "base64",
/// "media_type": "image/png", "data": "…"}}`.
pub fn from_anthropic(block: &Value, at: usize, place: &Place) -> Result<ChatImage, ApiError> {
    only_for_people(place)?;
    let source = block.get("source").cloned().unwrap_or(Value::Null);
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let data = source.get("data").and_then(Value::as_str).unwrap_or_default();
            let bytes = images::from_base64(data).map_err(|e| refused(place, &e.clause()))?;
            decode(&bytes, at, place)
        }
        Some("url") => {
            let scheme = source.get("url").and_then(Value::as_str).unwrap_or_default().split(':').next().unwrap_or_default().to_string();
            Err(refused(place, &images::ImageError::NotADataUrl { scheme }.clause()))
        }
        _ => Err(refused(place, "must have a `source` of type base64")),
    }
}

/// The most pictures a request may carry, checked before any is decoded.
pub fn count(n: usize, param: &str) -> Result<(), ApiError> {
    if n > types::MAX_IMAGES {
        return Err(ApiError::invalid(format!("The request has {n} pictures; this server reads at most {} in one request.", types::MAX_IMAGES), Some(param)));
    }
    Ok(())
}

fn decode(bytes: &[u8], at: usize, place: &Place) -> Result<ChatImage, ApiError> {
    images::read(bytes, SIDE, u32::try_from(at).unwrap_or(u32::MAX)).map_err(|e| refused(place, &e.clause()))
}

fn only_for_people(place: &Place) -> Result<(), ApiError> {
    if place.role != ChatRole::User {
        return Err(ApiError::invalid(
            format!("{} has a picture in a {} message; pictures go in the user's messages.", place.path, place.role.as_str()),
            Some(place.param),
        ));
    }
    Ok(())
}

fn refused(place: &Place, why: &str) -> ApiError {
    ApiError::invalid(format!("The picture in {} cannot be read: {why}.", place.path), Some(place.param))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use engine::Prompt;
    use serde_json::json;

    use crate::request::{parse, Endpoint, ValidRequest};

    fn png_base64(width: u32, height: u32) -> String {
        let image = types::ChatImage { at: 0, width, height, rgb: vec![200; (width * height * 3) as usize] };
        base64::engine::general_purpose::STANDARD.encode(images::png(&image).unwrap())
    }

    fn messages(req: &ValidRequest) -> &[types::ChatMessage] {
        match &req.prompt {
            Prompt::Chat(m) => m,
            Prompt::Raw(_) => panic!("a chat"),
        }
    }

    fn chat(content: serde_json::Value, role: &str) -> Result<ValidRequest, crate::error::ApiError> {
        parse(json!({"model": "m", "messages": [{"role": role, "content": content}]}).to_string().as_bytes(), Endpoint::Chat, usize::MAX)
    }

    fn message_of(e: crate::error::ApiError) -> String {
        e.body()["error"]["message"].as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn an_image_url_part_becomes_a_picture_at_its_place() {
        let url = format!("data:image/png;base64,{}", png_base64(3, 2));
        let req = chat(json!([{"type": "text", "text": "Look: "}, {"type": "image_url", "image_url": {"url": url, "detail": "auto"}}, {"type": "text", "text": " ok?"}]), "user")
            .unwrap();
        let m = &messages(&req)[0];
        assert_eq!(m.content, "Look:  ok?");
        assert_eq!((m.images.len(), m.images[0].at, m.images[0].width, m.images[0].height), (1, 6, 3, 2));
    }

    #[test]
    fn only_pictures_sent_in_the_request_are_read_and_only_in_a_persons_message() {
        let remote = chat(json!([{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]), "user").unwrap_err();
        assert_eq!(remote.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(message_of(remote).contains("never fetches a https: address"));

        let url = format!("data:image/png;base64,{}", png_base64(2, 2));
        let system = chat(json!([{"type": "image_url", "image_url": {"url": url}}]), "system").unwrap_err();
        assert!(message_of(system).contains("pictures go in the user's messages"));

        let broken = chat(json!([{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA"}}]), "user").unwrap_err();
        let broken = message_of(broken);
        assert!(broken.contains("The picture in messages[0].content[0] cannot be read: the PNG picture is damaged or cut short"), "{broken}");

        let many: Vec<serde_json::Value> = (0..17).map(|_| json!({"type": "image_url", "image_url": {"url": "data:,"}})).collect();
        let e = chat(json!(many), "user").unwrap_err();
        assert!(message_of(e).contains("at most 16"), "refused before any is decoded");
    }

    #[test]
    fn anthropic_image_blocks_and_responses_input_images_are_read() {
        let data = png_base64(4, 4);
        let body = json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}, {"type": "text", "text": "What is it?"}]}]});
        let req = crate::anthropic::parse(body.to_string().as_bytes(), usize::MAX, false).unwrap();
        assert_eq!(messages(&req)[0].images.len(), 1);
        assert_eq!(messages(&req)[0].images[0].at, 0);
        let by_url = json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": "http://10.0.0.1/x.png"}}]}]});
        let e = crate::anthropic::parse(by_url.to_string().as_bytes(), usize::MAX, false).unwrap_err();
        assert!(message_of(e).contains("never fetches a http: address"));

        let body = json!({"model": "m", "input": [{"role": "user", "content": [
            {"type": "input_text", "text": "Hi "}, {"type": "input_image", "image_url": format!("data:image/png;base64,{data}")}]}]});
        let req = crate::responses::read(body.to_string().as_bytes()).unwrap().request(&[], usize::MAX).unwrap();
        assert_eq!(messages(&req)[0].images[0].at, 3);
        let by_file = json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]});
        let e = crate::responses::read(by_file.to_string().as_bytes()).unwrap().request(&[], usize::MAX).unwrap_err();
        assert!(message_of(e).contains("file id"));
    }
}
