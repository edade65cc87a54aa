//! Pictures through the model's projector (an mmproj file), with llama.cpp's multimodal library
//! (`mtmd`, through llama-cpp-2). The projector is loaded beside the model; a picture in the
//! conversation becomes a run of positions in the prompt that the projector's embeddings fill.
//!
//! How a picture travels: the host decoded and scaled it already (`hearth-images`), so only RGB
//! pixels reach this process. `Session::render` writes this load's marker where each picture sits
//! in its message; the rendered prompt is cut at the markers, the text between tokenized as any
//! prompt is, and each picture tokenized alone (`Vision::picture`) into llama.cpp's chunks, with
//! whatever text the projector wraps around it (Gemma 3's `<start_of_image>`). In the prompt a
//! picture stands as `n_pos` copies of a negative id made from its pixels' hash, which no real
//! token has: the K/V prefix reuse compares prompts as before and finds a picture already in the
//! cache by its pixels, so it is not encoded again. The session decodes text in its shared batches
//! and evaluates a picture's chunks on their own (`Picture::eval`: encode, then decode the
//! embeddings, non-causally for Gemma 3, at the positions llama.cpp says: M-RoPE models take fewer
//! positions than tokens).
//!
//! The marker is random for each load, so text a person or a client writes cannot stand in for a
//! picture.

use std::path::Path;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::mtmd::{MtmdBitmap, MtmdContext, MtmdContextParams, MtmdInputChunkType, MtmdInputChunks, MtmdInputText};
use llama_cpp_2::token::LlamaToken;
use types::{ChatImage, HearthError};

use crate::error::EngineError;

pub struct Vision {
    ctx: MtmdContext,
    /// What `render` writes where a picture goes: random for this load.
    pub marker: String,
    /// The longer side, in pixels, the projector reads.
    pub image_side: u32,
}

/// One picture as the prompt holds it: llama.cpp's chunks (the picture and the projector's text
/// around it) and what they take in the sequence.
pub struct Picture {
    chunks: MtmdInputChunks,
    /// What stands for it in the prompt's tokens: `n_pos` times.
    pub key: LlamaToken,
    /// Cells of the cache it takes (tokens, the wrapping text's included).
    pub n_tokens: usize,
    /// Positions it advances the sequence by (fewer than `n_tokens` on M-RoPE models).
    pub n_pos: usize,
    /// Of `n_tokens`, the picture's own (the rest is the projector's text around it).
    pub image_tokens: usize,
}

impl Vision {
    /// Loads the projector for `model`. `log` gives the lines llama.cpp has logged during the load
    /// so far: its reasons, when it refuses the projector.
    pub fn load(model: &LlamaModel, projector: &Path, use_gpu: bool, threads: i32, log: &dyn Fn() -> Vec<String>) -> Result<Self, HearthError> {
        if !projector.is_file() {
            return Err(EngineError::ProjectorMissing { path: projector.to_path_buf() }.into());
        }
        let marker = format!("<__hearth_picture_{:016x}__>", random());
        let params = MtmdContextParams {
            use_gpu,
            print_timings: false,
            n_threads: threads,
            media_marker: std::ffi::CString::new(marker.clone()).unwrap_or_default(),
            ..MtmdContextParams::default()
        };
        let ctx = MtmdContext::init_from_file(&projector.to_string_lossy(), model, &params).map_err(|_| {
            let lines = log();
            match widths(&lines) {
                Some((model_width, projector_width)) => {
                    EngineError::ProjectorWidth { projector: projector.to_path_buf(), projector_width, model_width }
                }
                None => EngineError::ProjectorFailed { projector: projector.to_path_buf(), last_lines: last_errors(&lines) },
            }
        })?;
        if !ctx.support_vision() {
            let last_lines = vec!["it reads no pictures (an audio projector?)".to_string()];
            return Err(EngineError::ProjectorFailed { projector: projector.to_path_buf(), last_lines }.into());
        }
        let image_side = image_side(projector).unwrap_or(DEFAULT_SIDE);
        Ok(Self { ctx, marker, image_side })
    }

    /// A picture tokenized alone: its chunks, and the id that stands for it in the prompt.
    pub fn picture(&self, image: &ChatImage) -> Result<Picture, HearthError> {
        let unread = |reason: &str| HearthError::from(EngineError::PictureUnread { reason: reason.to_string() });
        let mut bitmap = MtmdBitmap::from_image_data(image.width, image.height, &image.rgb).map_err(|_| unread("its pixels do not fill its size"))?;
        let hash = fnv1a(&image.rgb, image.width, image.height);
        // llama.cpp keys its own caches by this id.
        let _ = bitmap.set_id(&format!("{hash:016x}"));
        let text = MtmdInputText { text: self.marker.clone(), add_special: false, parse_special: true };
        let chunks = self.ctx.tokenize(text, &[&bitmap]).map_err(|e| unread(&e.to_string()))?;
        let n_pos = usize::try_from(chunks.total_positions()).unwrap_or(0);
        let n_tokens = chunks.total_tokens();
        let image_tokens = (0..chunks.len())
            .filter_map(|i| chunks.get(i))
            .filter(|c| c.chunk_type() == MtmdInputChunkType::Image)
            .map(|c| c.n_tokens())
            .sum();
        // Negative, so never a real token; the same pixels give the same id.
        let key = LlamaToken(-1 - (hash & 0x3fff_ffff) as i32);
        Ok(Picture { chunks, key, n_tokens, n_pos, image_tokens })
    }

    /// Encodes `picture` and decodes its embeddings into sequence `seq` from position `n_past`, in
    /// batches of `n_batch`. Answers the position after it.
    pub fn eval(&mut self, picture: &Picture, ctx: &mut LlamaContext, n_past: usize, seq: i32, n_batch: usize) -> Result<usize, HearthError> {
        let n_past = i32::try_from(n_past).unwrap_or(i32::MAX);
        let batch = i32::try_from(n_batch).unwrap_or(i32::MAX);
        let after = picture
            .chunks
            .eval_chunks(&mut self.ctx, ctx, n_past, seq, batch, false)
            .map_err(|e| EngineError::Llama { what: "read a picture", reason: e.to_string() })?;
        Ok(usize::try_from(after).unwrap_or(0))
    }
}

/// The cells of the cache a prompt of `tokens` takes, its pictures (each standing as `n_pos` keys)
/// counted at their `n_tokens`.
pub fn cells(tokens: usize, pictures: &[(usize, Picture)]) -> usize {
    let positions: usize = pictures.iter().map(|(_, p)| p.n_pos).sum();
    let cells: usize = pictures.iter().map(|(_, p)| p.n_tokens).sum();
    tokens - positions + cells
}

/// The widths in llama.cpp's refusal of a projector made for another model: "mismatch between
/// text model (n_embd = 576) and mmproj (n_embd = 512)" (its check compares the text model's width
/// with the projector's last matrix, whatever the header says). `(model, projector)`.
fn widths(lines: &[String]) -> Option<(u64, u64)> {
    let line = lines.iter().find(|l| l.contains("mismatch between text model"))?;
    let mut numbers = line.split("n_embd = ").skip(1).map(|s| s.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok());
    Some((numbers.next()??, numbers.next()??))
}

/// The side of the square a projector's encoder reads (`clip.vision.image_size`).
fn image_side(path: &Path) -> Option<u32> {
    let header = gguf::read_file(path).ok()?;
    header.uint("clip.vision.image_size").and_then(|v| u32::try_from(v).ok()).filter(|&v| v > 0)
}

/// The longer side pictures are sent at when the projector does not say what it reads.
const DEFAULT_SIDE: u32 = 1024;

/// llama.cpp's error lines of the load, which say why it refused the projector.
fn last_errors(lines: &[String]) -> Vec<String> {
    let errors: Vec<String> = lines.iter().filter(|l| l.contains("error") || l.contains("mismatch") || l.contains("failed")).cloned().collect();
    errors.into_iter().rev().take(4).rev().collect()
}

/// FNV-1a over the pixels and the size: the same picture gives the same id on every run.
fn fnv1a(bytes: &[u8], width: u32, height: u32) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in width.to_le_bytes().iter().chain(&height.to_le_bytes()).chain(bytes) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Enough randomness for a marker nobody can guess from outside: the clock and the process.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.write_u32(std::process::id());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_cpps_refusal_gives_both_widths() {
        let lines = vec![
            "load_hparams: model size:         1.41 MiB".to_string(),
            "mtmd_init_from_file: error: mismatch between text model (n_embd = 576) and mmproj (n_embd = 512)".to_string(),
        ];
        assert_eq!(widths(&lines), Some((576, 512)));
        assert_eq!(widths(&lines[..1]), None);
    }
}
