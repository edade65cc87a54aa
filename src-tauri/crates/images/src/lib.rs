//! Pictures on their way to a model's projector. Whatever sends one (Chat's attach button, an
//! `image_url` data URL, an Anthropic `image` block, `hearth run --image`) hands its bytes to
//! [`read`], which gives the [`types::ChatImage`] the worker takes: RGB pixels, never a file format.
//! Decoding happens here, in the process that received the bytes, with pure-Rust decoders (the
//! `image` crate), so that a hostile file meets memory-safe code with limits instead of the C
//! decoder inside llama.cpp's worker; the worker only ever sees pixels.
//!
//! The limits, and why: a file of at most [`MAX_FILE_BYTES`] (a phone's largest photos are under
//! it); at most [`MAX_PIXELS`] pixels, checked from the header before anything is decoded (a
//! 20,000 × 20,000 image or a decompression bomb is refused in microseconds, and decoding never
//! holds more than about 300 MB); then scaled down so that its longer side is at most the side the
//! projector reads (Gemma 3's reads 896 × 896 whatever it is given), which bounds what crosses to the
//! worker to a few megabytes a picture.

use std::io::Cursor;

use base64::Engine;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use types::ChatImage;

mod error;
pub use error::ImageError;

/// The largest picture file read: 20 MiB.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// The most pixels a picture may have: 100 megapixels (a 200-megapixel phone sensor's pictures are
/// saved binned to 50).
pub const MAX_PIXELS: u64 = 100_000_000;
/// The longer side pictures are scaled to when the projector does not say what it reads.
pub const DEFAULT_SIDE: u32 = 1024;
/// The most pictures one request may carry to the engine.
pub use types::MAX_IMAGES;

/// The formats read, as their media types.
pub const MEDIA_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/gif"];

/// Decodes a picture (PNG, JPEG, WebP, or a GIF's first frame), turns it upright as its EXIF says,
/// lays any transparency over white, and scales it so that its longer side is at most `max_side`
/// (a smaller picture keeps its size). `at` is where it sits in its message's text.
pub fn read(bytes: &[u8], max_side: u32, at: u32) -> Result<ChatImage, ImageError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ImageError::FileTooLarge { bytes: bytes.len() as u64 });
    }
    let format = image::guess_format(bytes)
        .ok()
        .filter(|f| matches!(f, ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif));
    let Some(format) = format else { return Err(ImageError::NotAPicture { starts: sniff(bytes) }) };
    let name = format_name(format);
    let damaged = |e: image::ImageError| ImageError::Damaged { format: name, reason: e.to_string() };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    // The decoder's own buffers on top of the pixels: the pixel check below is the real bound.
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(damaged)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageError::Damaged { format: name, reason: "it has no pixels".into() });
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooManyPixels { width, height });
    }
    let orientation = decoder.orientation().ok();
    let mut picture = DynamicImage::from_decoder(decoder).map_err(damaged)?;
    if let Some(o) = orientation {
        picture.apply_orientation(o);
    }
    let rgb = scale(on_white(picture), max_side.max(1));
    Ok(ChatImage { at, width: rgb.width(), height: rgb.height(), rgb: rgb.into_raw() })
}

/// The bytes of an RFC 2397 data URL with a picture's media type, base64-encoded
/// (`data:image/png;base64,...`): what OpenAI's `image_url` parts carry.
pub fn from_data_url(url: &str) -> Result<Vec<u8>, ImageError> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(ImageError::NotADataUrl { scheme: url.split(':').next().unwrap_or_default().chars().take(16).collect() });
    };
    let Some((head, data)) = rest.split_once(',') else {
        return Err(ImageError::BadDataUrl { reason: "it has no comma before the data".into() });
    };
    let mut params = head.split(';');
    let media_type = params.next().unwrap_or_default().to_ascii_lowercase();
    if !params.any(|p| p.eq_ignore_ascii_case("base64")) {
        return Err(ImageError::BadDataUrl { reason: "it is not base64-encoded".into() });
    }
    if !media_type.is_empty() && !media_type.starts_with("image/") {
        return Err(ImageError::BadDataUrl { reason: format!("its media type is {media_type}, not a picture's") });
    }
    from_base64(data)
}

/// Base64 (standard alphabet, whitespace allowed), as Anthropic's `image` blocks carry a picture.
pub fn from_base64(data: &str) -> Result<Vec<u8>, ImageError> {
    // A quick bound before decoding: 4 characters for every 3 bytes.
    if data.len() / 4 * 3 > MAX_FILE_BYTES + 3 {
        return Err(ImageError::FileTooLarge { bytes: (data.len() / 4 * 3) as u64 });
    }
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| ImageError::BadDataUrl { reason: format!("its base64 is damaged ({e})") })
}

/// The media type of a picture's bytes ("image/png"), by what they start with; `None` for
/// anything else.
pub fn media_type(bytes: &[u8]) -> Option<&'static str> {
    match image::guess_format(bytes).ok()? {
        ImageFormat::Png => Some("image/png"),
        ImageFormat::Jpeg => Some("image/jpeg"),
        ImageFormat::WebP => Some("image/webp"),
        ImageFormat::Gif => Some("image/gif"),
        _ => None,
    }
}

/// A picture as a JPEG (quality 80): what Chat shows as a thumbnail.
pub fn jpeg(image: &ChatImage) -> Result<Vec<u8>, ImageError> {
    let rgb = RgbImage::from_raw(image.width, image.height, image.rgb.clone())
        .ok_or_else(|| ImageError::Damaged { format: "RGB", reason: "its pixels do not fill its size".into() })?;
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&rgb)
        .map_err(|e| ImageError::Damaged { format: "JPEG", reason: e.to_string() })?;
    Ok(out)
}

/// A picture as PNG: what a test writes.
pub fn png(image: &ChatImage) -> Result<Vec<u8>, ImageError> {
    let rgb = RgbImage::from_raw(image.width, image.height, image.rgb.clone())
        .ok_or_else(|| ImageError::Damaged { format: "RGB", reason: "its pixels do not fill its size".into() })?;
    let mut out = Cursor::new(Vec::new());
    rgb.write_to(&mut out, ImageFormat::Png).map_err(|e| ImageError::Damaged { format: "PNG", reason: e.to_string() })?;
    Ok(out.into_inner())
}

/// Scales a picture down in place so that its longer side is at most `max_side` (a picture read
/// at one bound, sent to a projector that reads less).
pub fn shrink(image: &mut ChatImage, max_side: u32) {
    if image.width.max(image.height) <= max_side {
        return;
    }
    let Some(rgb) = RgbImage::from_raw(image.width, image.height, std::mem::take(&mut image.rgb)) else { return };
    let scaled = scale(rgb, max_side.max(1));
    image.width = scaled.width();
    image.height = scaled.height();
    image.rgb = scaled.into_raw();
}

/// Transparent pixels laid over white, as a viewer shows them (a screenshot's transparent corners
/// would otherwise turn black).
fn on_white(picture: DynamicImage) -> RgbImage {
    if !picture.color().has_alpha() {
        return picture.into_rgb8();
    }
    let rgba = picture.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u16::from(p.0[3]);
        for c in 0..3 {
            o.0[c] = ((u16::from(p.0[c]) * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

fn scale(rgb: RgbImage, max_side: u32) -> RgbImage {
    let (w, h) = rgb.dimensions();
    let longer = w.max(h);
    if longer <= max_side {
        return rgb;
    }
    let ratio = f64::from(max_side) / f64::from(longer);
    let (nw, nh) = (((f64::from(w) * ratio).round() as u32).max(1), ((f64::from(h) * ratio).round() as u32).max(1));
    image::imageops::resize(&rgb, nw, nh, image::imageops::FilterType::Triangle)
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Gif => "GIF",
        _ => "picture",
    }
}

/// What a file that is not a picture starts with, for the error: its first bytes as text when they
/// are text, else nothing.
fn sniff(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(12)];
    let text = std::str::from_utf8(head).ok()?;
    text.chars().all(|c| !c.is_control() || c.is_whitespace()).then(|| text.trim().to_string()).filter(|t| !t.is_empty())
}

/// Bytes as a data URL of `media_type`.
pub fn data_url(media_type: &str, bytes: &[u8]) -> String {
    format!("data:{media_type};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests;
