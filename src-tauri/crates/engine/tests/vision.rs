//! Pictures through a projector, with the real test model and llama.cpp's real multimodal
//! library. No small vision model is on the package registries, so the projector is written here:
//! one of Gemma 3's kind (`gguf::synthetic::tiny_gemma3_projector`), reading 896 pixels in patches
//! of 14 as Gemma 3's does (256 tokens a picture), one layer 64 wide, projecting to the test
//! model's 576. Its weights are zeros, so what the model makes of a picture means nothing; what is
//! checked is the way there: the load and its memory as llama.cpp logs it, the tokens a picture
//! takes, the cache that keeps a picture across turns, and every refusal with the worker alive.

#[path = "support/common.rs"]
mod common;

use std::path::PathBuf;

use common::*;
use gguf::synthetic::{projector, tiny_gemma3_projector};
use types::{ChatImage, ChatMessage, ChatRole, ErrorCode};

fn write_projector(text_width: u64, name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("hearth-mmproj-{name}-{}.gguf", std::process::id()));
    std::fs::write(&path, projector(&tiny_gemma3_projector(text_width)).to_bytes()).expect("write the projector");
    path
}

fn red_square(side: u32, at: u32) -> ChatImage {
    ChatImage { at, width: side, height: side, rgb: [220u8, 20, 20].repeat((side * side) as usize) }
}

fn asking(images: Vec<ChatImage>) -> Vec<ChatMessage> {
    vec![ChatMessage { images, ..ChatMessage::new(ChatRole::User, "What colour is this picture?") }]
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_picture_is_read_through_the_projector_and_kept_in_the_cache() {
    let _serial = one_at_a_time().await;
    let mmproj = write_projector(576, "fits");
    let host = host();
    let info = host.load_and_wait(load_params(model()).with_projector(Some(mmproj.clone()))).await.expect("loads with its projector");
    let vision = info.vision.expect("the projector is reported");
    eprintln!("projector: {vision:?}");
    assert_eq!(vision.image_side, 896);
    // llama.cpp logs the projector's size to 0.01 MiB: the file's tensors, 1,481,472 bytes.
    let expected = 1_481_472f64;
    assert!((vision.weights_bytes as f64 - expected).abs() / expected < 0.01, "{}", vision.weights_bytes);
    assert!(vision.compute_bytes > 0, "its compute buffer is reported");

    let (_, text_only) = run(&host, chat(asking(Vec::new()), greedy(4))).await.expect("text alone");
    let (pieces, first) = run(&host, chat(asking(vec![red_square(64, 0)]), greedy(4))).await.expect("a picture is read");
    assert!(!pieces.is_empty());
    // Gemma 3's projector makes 256 tokens of any picture, and wraps them in its markers' text.
    assert_eq!(first.image_tokens, 256);
    let wrapping = first.prompt_tokens_total - text_only.prompt_tokens_total - 256;
    assert!(wrapping > 0 && wrapping < 24, "the markers' text: {wrapping} tokens");
    assert!(first.image_ms > 0.0);

    // The next turn carries the same picture: it is in the cache, and not read again.
    let mut next = asking(vec![red_square(64, 0)]);
    next.push(ChatMessage::new(ChatRole::Assistant, pieces.concat()));
    next.push(ChatMessage::new(ChatRole::User, "And now?"));
    let (_, second) = run(&host, chat(next, greedy(4))).await.expect("the second turn");
    assert_eq!(second.image_tokens, 256);
    assert_eq!(second.image_ms, 0.0, "the picture was not encoded again");
    assert!(second.reused_prefix_tokens >= first.prompt_tokens_total - 1, "{} of {}", second.reused_prefix_tokens, first.prompt_tokens_total);

    // Another picture in the same place is read again.
    let mut other = red_square(64, 0);
    other.rgb[0] = 0;
    let (_, third) = run(&host, chat(asking(vec![other]), greedy(4))).await.expect("another picture");
    assert!(third.image_ms > 0.0);
    assert!(third.reused_prefix_tokens < first.prompt_tokens_total - 256);

    // A wide picture and two pictures in one message.
    let wide = ChatImage { at: 0, width: 300, height: 20, rgb: vec![128; 300 * 20 * 3] };
    let (_, two) = run(&host, chat(asking(vec![wide, red_square(8, 4)]), greedy(2))).await.expect("two pictures");
    assert_eq!(two.image_tokens, 512);

    // Too many pictures: refused, and the worker goes on.
    let e = run(&host, chat(asking((0..17).map(|_| red_square(2, 0)).collect()), greedy(2))).await.expect_err("17 pictures");
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("at most 16"), "{}", e.message);
    // Pixels that do not fill the picture's size.
    let short = ChatImage { at: 0, width: 10, height: 10, rgb: vec![0; 5] };
    let e = run(&host, chat(asking(vec![short]), greedy(2))).await.expect_err("a short picture");
    assert_eq!(e.code, ErrorCode::InvalidInput);
    let (pieces, _) = run(&host, chat(asking(Vec::new()), greedy(2))).await.expect("the worker is alive");
    assert!(!pieces.is_empty());
    let _ = std::fs::remove_file(mmproj);
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_projector_of_another_width_is_refused_and_a_text_model_says_it_reads_text() {
    let _serial = one_at_a_time().await;
    let wrong = write_projector(512, "wrong");
    let host = host();
    let e = host.load_and_wait(load_params(model()).with_projector(Some(wrong.clone()))).await.expect_err("512 wide, for a 576-wide model");
    assert_eq!(e.code, ErrorCode::ModelLoadFailed);
    assert!(e.message.contains("512") && e.message.contains("576"), "{}", e.message);
    let missing = host.load_and_wait(load_params(model()).with_projector(Some("/nowhere/mmproj.gguf".into()))).await.expect_err("no file");
    assert!(missing.message.contains("projector"), "{}", missing.message);

    host.load_and_wait(load_params(model())).await.expect("the model alone loads");
    let e = run(&host, chat(asking(vec![red_square(4, 0)]), greedy(2))).await.expect_err("no projector");
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("reads text only"), "{}", e.message);
    let (pieces, stats) = run(&host, chat(asking(Vec::new()), greedy(2))).await.expect("the worker is alive");
    assert!(!pieces.is_empty());
    assert_eq!(stats.image_tokens, 0);
    let _ = std::fs::remove_file(wrong);
}

/// With a real vision model (run by hand where one is at hand: `HEARTH_VISION_MODEL=…/gemma-3-4b-it-Q4_K_M.gguf
/// HEARTH_VISION_PROJECTOR=…/mmproj-model-f16.gguf cargo test --workspace --test vision -- --ignored`):
/// a generated solid red square is seen as red.
#[tokio::test]
#[ignore = "needs a real vision model: set HEARTH_VISION_MODEL and HEARTH_VISION_PROJECTOR, then run with --ignored"]
async fn a_real_vision_model_sees_a_red_square_as_red() {
    let _serial = one_at_a_time().await;
    let path = |var: &str| PathBuf::from(std::env::var(var).unwrap_or_else(|_| panic!("set {var} to a real vision model's file")));
    let (model, projector) = (path("HEARTH_VISION_MODEL"), path("HEARTH_VISION_PROJECTOR"));
    let host = host();
    let info = host.load_and_wait(load_params(model).with_projector(Some(projector))).await.expect("loads with its projector");
    eprintln!("projector: {:?}", info.vision);
    let question = ChatMessage {
        images: vec![red_square(256, 0)],
        ..ChatMessage::new(ChatRole::User, "What colour is this square? Answer with one word.")
    };
    let (pieces, stats) = run(&host, chat(vec![question], greedy(8))).await.expect("a reply");
    let answer = pieces.concat();
    eprintln!("answer: {answer:?} · {} image tokens, encoded in {:.0} ms · first token {:.0} ms", stats.image_tokens, stats.image_ms, stats.time_to_first_token_ms);
    assert!(answer.to_lowercase().contains("red"), "{answer}");
}
