//! A tool's result as Hearth uses it: the text the model reads (text parts, resources' text,
//! structured content when there is no text), capped with a visible marker, and the images the
//! person sees. Read from the result's JSON (MCP's `content` blocks).

use serde::Serialize;
use serde_json::Value;

/// The most characters of a result the model reads; a longer one is cut, and says so.
pub const MAX_RESULT_CHARS: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Image {
    pub mime_type: String,
    /// Base64, as MCP sends it.
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// What the model reads.
    pub text: String,
    pub images: Vec<Image>,
    /// The server says the tool failed (`isError`): the text says how, and the model reads it.
    pub is_error: bool,
    /// The result's text was longer than `MAX_RESULT_CHARS` and was cut.
    pub cut: bool,
}

impl Outcome {
    pub fn from_json(result: &Value) -> Self {
        let mut parts = Vec::new();
        let mut images = Vec::new();
        for block in result.get("content").and_then(Value::as_array).into_iter().flatten() {
            let s = |k: &str| block.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            match block.get("type").and_then(Value::as_str) {
                Some("text") => parts.push(s("text")),
                Some("image") => {
                    images.push(Image { mime_type: s("mimeType"), data: s("data") });
                    parts.push(format!("[an image, {}]", s("mimeType")));
                }
                Some("resource") => match block.get("resource").and_then(|r| r.get("text")).and_then(Value::as_str) {
                    Some(text) => parts.push(text.to_string()),
                    None => parts.push(format!("[a resource: {}]", block["resource"]["uri"].as_str().unwrap_or_default())),
                },
                Some("resource_link") => parts.push(format!("[a link: {} {}]", s("name"), s("uri"))),
                Some(other) => parts.push(format!("[{other} content]")),
                None => {}
            }
        }
        if parts.is_empty() {
            if let Some(structured) = result.get("structuredContent").filter(|v| !v.is_null()) {
                parts.push(structured.to_string());
            }
        }
        let (text, cut) = cap(&parts.join("\n"));
        Self { text, images, is_error: result.get("isError").and_then(Value::as_bool).unwrap_or(false), cut }
    }
}

/// `text` cut to `MAX_RESULT_CHARS`, with a marker that says how much there was.
fn cap(text: &str) -> (String, bool) {
    let total = text.chars().count();
    if total <= MAX_RESULT_CHARS {
        return (text.to_string(), false);
    }
    let kept: String = text.chars().take(MAX_RESULT_CHARS).collect();
    (format!("{kept}\n[… the result was cut here: {MAX_RESULT_CHARS} of its {total} characters are shown]"), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_images_and_errors_are_read_and_a_long_result_is_cut_visibly() {
        let o = Outcome::from_json(&json!({"content": [
            {"type": "text", "text": "two files"},
            {"type": "image", "data": "iVBOR", "mimeType": "image/png"},
            {"type": "resource", "resource": {"uri": "file:///a", "text": "a's text"}}
        ]}));
        assert_eq!(o.text, "two files\n[an image, image/png]\na's text");
        assert_eq!(o.images, vec![Image { mime_type: "image/png".into(), data: "iVBOR".into() }]);
        assert!(!o.is_error && !o.cut);
        let failed = Outcome::from_json(&json!({"content": [{"type": "text", "text": "no such file"}], "isError": true}));
        assert!(failed.is_error);
        assert_eq!(Outcome::from_json(&json!({"content": [], "structuredContent": {"sum": 3}})).text, r#"{"sum":3}"#);
        let long = Outcome::from_json(&json!({"content": [{"type": "text", "text": "é".repeat(50_000)}]}));
        assert!(long.cut);
        assert!(long.text.ends_with("[… the result was cut here: 20000 of its 50000 characters are shown]"), "{}", &long.text[long.text.len() - 120..]);
    }
}
