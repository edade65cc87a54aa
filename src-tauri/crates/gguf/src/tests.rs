//! The reader against real and synthetic files, and against everything a hostile file can do.

use super::*;
use crate::synthetic::{self, Quant};
use std::sync::atomic::{AtomicU64, Ordering};

fn small() -> write::GgufWriter {
    write::GgufWriter::new("llama")
        .u32("llama.block_count", 2)
        .u32("llama.embedding_length", 64)
        .u32("llama.attention.head_count", 4)
        .u32("llama.context_length", 2048)
        .str("tokenizer.chat_template", "{{ messages }}")
        .str_array("tokenizer.ggml.tokens", vec!["a".into(), "b".into(), "c".into()])
        .tensor("token_embd.weight", &[64, 3], GgmlType::by_name("F32").unwrap())
        .tensor("blk.0.attn_q.weight", &[64, 64], GgmlType::by_name("Q8_0").unwrap())
        .tensor("blk.1.attn_q.weight", &[64, 64], GgmlType::by_name("Q8_0").unwrap())
}

#[test]
fn a_small_header_parses_with_llama_cpp_defaults() {
    let f = parse_bytes(&small().to_bytes()).unwrap();
    assert_eq!(f.architecture, "llama");
    assert_eq!(f.layer_count, 2);
    assert_eq!(f.head_count, vec![4, 4]);
    assert_eq!(f.head_count_kv, vec![4, 4], "KV heads default to heads");
    assert_eq!(f.key_length, Some(16), "head dim defaults to embedding / heads");
    assert_eq!(f.vocab_size, Some(3));
    assert_eq!(f.chat_template.as_deref(), Some("{{ messages }}"));
    assert_eq!(f.tensors.len(), 3);
    assert_eq!(f.tensors[1].bytes, 64 * 64 / 32 * 34);
    assert_eq!(f.parameter_count, 64 * 3 + 2 * 64 * 64);
}

#[test]
fn llama3_8b_q4_k_m_has_the_real_shape_and_size() {
    let w = synthetic::model(&synthetic::llama3_8b(), Quant::Q4KM, false);
    let f = parse_bytes(&w.header().0).unwrap();
    assert_eq!(f.tensors.len(), 1 + 32 * 9 + 2);
    assert_eq!(f.file_type_label.as_deref(), Some("Q4_K_M"));
    assert_eq!(f.head_count_kv, vec![8; 32]);
    // 8.03 B parameters; the published Q4_K_M file is 4,920,734,016 bytes.
    assert!((f.parameter_count as f64 / 8.03e9 - 1.0).abs() < 0.01, "{}", f.parameter_count);
    let ratio = f.tensor_bytes as f64 / 4_920_734_016.0;
    assert!((ratio - 1.0).abs() < 0.02, "Q4_K_M size off by {:.1} %", (ratio - 1.0) * 100.0);
}

#[test]
fn gemma3_marks_five_of_six_layers_as_sliding_window() {
    let f = parse_bytes(&synthetic::model(&synthetic::gemma3_12b(), Quant::Q4KM, false).header().0).unwrap();
    assert_eq!(f.sliding_window, Some(1024));
    assert_eq!(&f.sliding_window_layers[..7], &[true, true, true, true, true, false, true]);
    assert_eq!(f.sliding_window_layers.iter().filter(|s| !**s).count(), 8);
    // Gemma ties the output to the embedding: no output.weight.
    assert!(f.tensors.iter().all(|t| t.name != "output.weight"));
}

#[test]
fn an_unknown_architectures_window_is_ignored_like_llama_cpp_does() {
    let w = small().u32("llama.attention.sliding_window", 4096);
    let f = parse_bytes(&w.to_bytes()).unwrap();
    assert_eq!(f.sliding_window_layers, vec![false, false]);
}

#[test]
fn mixtral_is_a_mixture_of_experts() {
    let f = parse_bytes(&synthetic::model(&synthetic::mixtral_8x7b(), Quant::Q4KM, false).header().0).unwrap();
    assert!(f.is_moe());
    assert_eq!((f.expert_count, f.expert_used_count), (Some(8), Some(2)));
    assert!((f.parameter_count as f64 / 46.7e9 - 1.0).abs() < 0.01, "{}", f.parameter_count);
}

#[test]
fn split_metadata_is_read() {
    let w = small().u32("split.no", 1).u32("split.count", 3).i32("split.tensors.count", 9);
    let f = parse_bytes(&w.to_bytes()).unwrap();
    assert_eq!(f.split, Some(SplitInfo { index: 1, count: 3, tensors_total: Some(9) }));
}

// --- hostile and damaged input --------------------------------------------------------------------

/// A 64-bit value where a 32-bit one belongs is no value, not its low 32 bits: token id 2^32 + 2
/// was read as 2 (the EOS of many models) and file type 2^32 + 15 as Q4_K_M.
#[test]
fn out_of_range_ids_are_none_and_counts_saturate_never_truncated() {
    let big = (1u64 << 32) + 2;
    let w = small()
        .u64("tokenizer.ggml.bos_token_id", big)
        .u64("tokenizer.ggml.eos_token_id", u64::MAX)
        .u64("general.file_type", (1u64 << 32) + 15)
        .u64("llama.expert_count", big)
        .u64("llama.expert_used_count", big)
        .u64("split.no", big)
        .u64("split.count", big);
    let f = parse_bytes(&w.to_bytes()).unwrap();
    assert_eq!((f.bos_token_id, f.eos_token_id), (None, None));
    assert_eq!((f.file_type, f.file_type_label.as_deref()), (None, None));
    assert_eq!((f.expert_count, f.expert_used_count), (Some(u32::MAX), Some(u32::MAX)));
    assert_eq!(f.split, Some(SplitInfo { index: u32::MAX, count: u32::MAX, tensors_total: None }));
}

#[test]
fn every_truncation_of_a_header_is_a_truncation_error_never_a_panic() {
    let bytes = small().header().0;
    // The header ends before the padding that aligns the data; every shorter prefix is truncated.
    let complete = (0..=bytes.len()).find(|&len| parse_bytes(&bytes[..len]).is_ok()).unwrap();
    assert!(complete > bytes.len() - 32);
    for len in 0..complete {
        match parse_bytes(&bytes[..len]) {
            Err(GgufError::Truncated { needed, have }) => assert!(needed > have && have == len as u64),
            other => panic!("prefix of {len} bytes gave {other:?}"),
        }
    }
}

#[test]
fn wrong_magic_version_and_endianness_are_named() {
    let mut b = small().to_bytes();
    b[..4].copy_from_slice(b"GGML");
    assert!(matches!(parse_bytes(&b), Err(GgufError::NotGguf { .. })));
    assert!(matches!(parse_bytes(&small().version(1).to_bytes()), Err(GgufError::UnsupportedVersion(1))));
    let mut be = small().to_bytes();
    be[4..8].copy_from_slice(&3u32.to_be_bytes());
    assert_eq!(parse_bytes(&be), Err(GgufError::BigEndian));
    let err = parse_bytes(b"PK\x03\x04 not a model").unwrap_err();
    assert!(err.to_string().contains("not a GGUF file"), "{err}");
}

/// A header with the given counts and nothing else: what a hostile file claims before lying.
fn claims(tensors: u64, kvs: u64, rest: &[u8]) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&tensors.to_le_bytes());
    b.extend_from_slice(&kvs.to_le_bytes());
    b.extend_from_slice(rest);
    b
}

fn kv_string_len(key: &str, len: u64) -> Vec<u8> {
    let mut b = (key.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(key.as_bytes());
    b.extend_from_slice(&8u32.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b
}

#[test]
fn absurd_counts_and_lengths_are_refused_before_any_allocation() {
    assert!(matches!(parse_bytes(&claims(u64::MAX, 0, &[])), Err(GgufError::TooLarge { .. })));
    assert!(matches!(parse_bytes(&claims(0, u64::MAX, &[])), Err(GgufError::TooLarge { .. })));
    // A string that claims to be 2^63 bytes long.
    let b = claims(0, 1, &kv_string_len("general.name", 1 << 63));
    assert!(matches!(parse_bytes(&b), Err(GgufError::TooLarge { .. })));
    // A key that claims 2^40 bytes.
    let mut rest = (1u64 << 40).to_le_bytes().to_vec();
    rest.extend_from_slice(b"abc");
    assert!(matches!(parse_bytes(&claims(0, 1, &rest)), Err(GgufError::TooLarge { .. })));
    // An array that claims 2^62 items but holds three: runs out, does not loop or allocate.
    let mut rest = 4u64.to_le_bytes().to_vec();
    rest.extend_from_slice(b"arr1");
    rest.extend_from_slice(&9u32.to_le_bytes());
    rest.extend_from_slice(&4u32.to_le_bytes());
    rest.extend_from_slice(&(1u64 << 62).to_le_bytes());
    rest.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
    assert!(matches!(parse_bytes(&claims(0, 1, &rest)), Err(GgufError::Truncated { .. })));
}

fn tensor_info(name: &str, dims: &[u64], ty: u32) -> Vec<u8> {
    let mut b = (name.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(name.as_bytes());
    b.extend_from_slice(&(dims.len() as u32).to_le_bytes());
    dims.iter().for_each(|d| b.extend_from_slice(&d.to_le_bytes()));
    b.extend_from_slice(&ty.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b
}

fn with_arch_and(tensor: Vec<u8>) -> Vec<u8> {
    let mut rest = kv_string_len("general.architecture", 5);
    rest.extend_from_slice(b"llama");
    rest.extend_from_slice(&tensor);
    claims(1, 1, &rest)
}

#[test]
fn bad_tensors_are_named() {
    let cases: [(&[u64], u32, &str); 5] = [
        (&[], 0, "dimensions"),
        (&[1, 1, 1, 1, 1], 0, "dimensions"),
        (&[u64::MAX, 4], 0, "overflows"),
        (&[100], 12, "whole number"),
        (&[256], 31, "unknown type"),
    ];
    for (dims, ty, says) in cases {
        let err = parse_bytes(&with_arch_and(tensor_info("w", dims, ty))).unwrap_err();
        assert!(err.to_string().contains(says), "{dims:?}/{ty}: {err}");
    }
}

#[test]
fn unknown_value_types_and_nested_arrays_are_refused() {
    let mut rest = 1u64.to_le_bytes().to_vec();
    rest.extend_from_slice(b"k");
    rest.extend_from_slice(&99u32.to_le_bytes());
    assert!(matches!(parse_bytes(&claims(0, 1, &rest)), Err(GgufError::UnknownValueType { value_type: 99, .. })));
    let mut rest = 1u64.to_le_bytes().to_vec();
    rest.extend_from_slice(b"k");
    rest.extend_from_slice(&9u32.to_le_bytes());
    rest.extend_from_slice(&9u32.to_le_bytes());
    rest.extend_from_slice(&1u64.to_le_bytes());
    assert!(matches!(parse_bytes(&claims(0, 1, &rest)), Err(GgufError::UnknownValueType { value_type: 9, .. })));
}

#[test]
fn a_missing_architecture_or_a_wrong_typed_key_is_an_error() {
    assert_eq!(parse_bytes(&claims(0, 0, &[])), Err(GgufError::Missing("general.architecture")));
    let w = small().str("llama.context_length", "long");
    assert_eq!(parse_bytes(&w.to_bytes()), Err(GgufError::DuplicateKey("llama.context_length".into())));
    let w = write::GgufWriter::new("llama").str("llama.block_count", "many");
    assert!(matches!(parse_bytes(&w.to_bytes()), Err(GgufError::WrongType { .. })));
}

/// Deterministic mutations of a valid header: whatever the bytes, the reader returns, never panics.
#[test]
fn ten_thousand_mutated_headers_never_panic() {
    let base = small().header().0;
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..10_000 {
        let mut b = base.clone();
        for _ in 0..(next() % 8 + 1) {
            let i = (next() % b.len() as u64) as usize;
            b[i] = next() as u8;
        }
        let _ = parse_bytes(&b);
    }
}

// --- files and remote reads -------------------------------------------------------------------------

#[test]
fn a_file_missing_its_weights_is_truncated_not_ok() {
    let dir = std::env::temp_dir().join(format!("gguf-trunc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.gguf");
    let w = small();
    w.write_sparse(&path).unwrap();
    assert!(read_file(&path).is_ok());
    let full = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(full - 1).unwrap();
    assert!(matches!(read_file(&path), Err(GgufError::Truncated { .. })));
    std::fs::write(&path, b"").unwrap();
    assert!(matches!(read_file(&path), Err(GgufError::Truncated { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A remote file that counts what it serves.
struct Counting {
    bytes: Vec<u8>,
    served: AtomicU64,
    requests: AtomicU64,
}

impl RangeSource for Counting {
    fn fetch(&self, start: u64, len: u64) -> impl std::future::Future<Output = std::result::Result<Vec<u8>, String>> + Send {
        let out = {
            let s = (start as usize).min(self.bytes.len());
            let e = s.saturating_add(len as usize).min(self.bytes.len());
            self.bytes[s..e].to_vec()
        };
        self.served.fetch_add(out.len() as u64, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        async move { Ok(out) }
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    // The futures here never wait on anything: poll once with a no-op waker.
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("test source is synchronous"),
    }
}

#[test]
fn a_remote_header_is_read_in_growing_chunks_without_the_weights() {
    // A 8B model with its 128k-token vocabulary: a header of about 2.3 MB in front of 4.9 GB.
    let w = synthetic::model(&synthetic::llama3_8b(), Quant::Q4KM, true);
    let (header, total) = w.header();
    assert!(header.len() > 2 * FIRST_CHUNK as usize);
    let src = Counting { bytes: header.clone(), served: AtomicU64::new(0), requests: AtomicU64::new(0) };
    let facts = block_on(read_remote(&src)).unwrap();
    assert_eq!(facts.vocab_size, Some(128256));
    assert_eq!(facts.data_offset + facts.tensor_bytes, total - (total - facts.data_end()));
    let served = src.served.load(Ordering::Relaxed);
    assert!(served as usize <= header.len(), "fetched {served} bytes for a {} byte header", header.len());
    assert!(src.requests.load(Ordering::Relaxed) <= 4, "too many round trips");
}

#[test]
fn a_remote_header_over_the_cap_is_refused() {
    let w = synthetic::model(&synthetic::llama3_8b(), Quant::Q4KM, true);
    let src = w.header().0;
    assert_eq!(block_on(read_remote_with(&src, 1024, 64 << 10)), Err(GgufError::HeaderTooLarge { limit: 64 << 10 }));
}

#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
fn the_real_test_model_reads_as_llama_cpp_sees_it() {
    let path = testkit::test_model();
    let f = read_file(&path).unwrap();
    assert_eq!(f.architecture, "llama");
    assert_eq!(f.layer_count, 30);
    assert_eq!(f.embedding_length, Some(576));
    assert_eq!(f.head_count, vec![9; 30]);
    assert_eq!(f.head_count_kv, vec![3; 30]);
    assert_eq!(f.key_length, Some(64));
    assert_eq!(f.context_length, Some(8192));
    assert_eq!(f.vocab_size, Some(49152));
    assert_eq!(f.file_type_label.as_deref(), Some("Q4_1"));
    assert!(f.chat_template.as_deref().unwrap_or_default().contains("<|im_start|>"));
    assert_eq!(f.data_end(), std::fs::metadata(&path).unwrap().len());
    assert!((f.parameter_count as f64 / 134.5e6 - 1.0).abs() < 0.01, "{}", f.parameter_count);
}

/// Everything the fuzzer kept (its corpus) and every input that ever crashed the reader
/// (`fuzz/regressions/`, named after what broke) goes through the reader again on every test run.
#[test]
fn the_fuzz_corpus_and_past_crashes_never_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut seen = 0;
    for dir in ["corpus/parse_header", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for entry in entries.flatten() {
            let bytes = std::fs::read(entry.path()).unwrap();
            let _ = parse_bytes(&bytes);
            seen += 1;
        }
    }
    assert!(seen >= 4, "the fuzz corpus is missing");
}
