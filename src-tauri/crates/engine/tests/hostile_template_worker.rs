//! A model whose chat template would build a gigabyte string (issue 13, item 5), through the real
//! worker: the reply fails with TEMPLATE_ERROR, the worker's peak memory grows by less than
//! `BOUND_MIB` while it tries, and the model keeps answering. The model is the real test model with
//! only its `tokenizer.chat_template` replaced.

#[path = "support/common.rs"]
mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use common::*;
use types::{ChatMessage, ChatRole, ErrorCode};

/// What one hostile render may add to the worker's peak memory.
const BOUND_MIB: u64 = 160;

/// A million 1000-byte strings, printed into one: a gigabyte that fuel never sees, since the list
/// is lazy. Only its length is written, so nothing but the intermediate string is large. (No
/// ChatML markers, so llama.cpp's built-in templates do not recognise it either.)
const HOSTILE: &str = "{{ ('' ~ (['x' * 1000] * 1000000))|length }}";

/// A copy of `model` with `template` as its chat template. The header grows by a multiple of the
/// alignment (the template is padded with spaces), so the tensor data stays aligned and every
/// tensor offset, counted from the start of the data, stays right.
fn with_template(model: &Path, template: &str, out: &Path) {
    let facts = gguf::read_file(model).expect("the test model's header");
    let mut file = std::fs::File::open(model).expect("model");
    let mut header = vec![0u8; facts.data_offset as usize];
    file.read_exact(&mut header).expect("header");
    let key = b"tokenizer.chat_template";
    let mut needle = (key.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(key);
    needle.extend_from_slice(&8u32.to_le_bytes());
    let at = header.windows(needle.len()).position(|w| w == needle.as_slice()).expect("the model has a chat template") + needle.len();
    let old_len = u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes")) as usize;
    let align = facts.alignment as usize;
    let mut new = template.to_string();
    while (new.len() as isize - old_len as isize).rem_euclid(align as isize) != 0 {
        new.push(' ');
    }
    let mut out_file = std::fs::File::create(out).expect("copy");
    out_file.write_all(&header[..at]).expect("write");
    out_file.write_all(&(new.len() as u64).to_le_bytes()).expect("write");
    out_file.write_all(new.as_bytes()).expect("write");
    out_file.write_all(&header[at + 8 + old_len..]).expect("write");
    file.seek(SeekFrom::Start(facts.data_offset)).expect("seek");
    std::io::copy(&mut file, &mut out_file).expect("the weights");
}

fn hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[cfg(target_os = "linux")]
#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_template_that_would_build_a_gigabyte_gives_template_error_and_the_worker_stays_small() {
    let _serial = one_at_a_time().await;
    let model = model();
    let dir = std::env::temp_dir().join(format!("hearth-hostile-template-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let hostile: PathBuf = dir.join("hostile.gguf");
    with_template(&model, HOSTILE, &hostile);
    assert_eq!(gguf::read_file(&hostile).expect("the copy reads").chat_template.as_deref().map(str::trim), Some(HOSTILE));

    let host = host();
    host.load_and_wait(load_params(hostile.clone())).await.expect("the copy loads");
    let pid = host.pid().expect("a worker runs");
    let before = hwm_kib(pid);
    let error = run(&host, chat(vec![ChatMessage::new(ChatRole::User, "Hello!")], greedy(4))).await.expect_err("the template must fail");
    let grown = hwm_kib(pid).saturating_sub(before) / 1024;
    println!("{:?}: {}; the worker's peak grew by {grown} MiB (bound {BOUND_MIB} MiB)", error.code, error.message);
    assert_eq!(error.code, ErrorCode::TemplateError, "{}", error.message);
    assert!(error.message.contains("too much text"), "{}", error.message);
    assert!(grown < BOUND_MIB, "the worker's peak memory grew by {grown} MiB");

    // The model is still there and still answers a prompt written out.
    let (_, stats) = run(&host, raw("The capital of France is", greedy(4))).await.expect("the model still answers");
    assert_eq!(stats.generated_tokens, 4);
    drop(host);
    std::fs::remove_dir_all(&dir).ok();
}
