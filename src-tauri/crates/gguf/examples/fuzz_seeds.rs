//! Writes the fuzzer's seed corpus: small valid headers that reach every branch of the reader.
//! `cargo run -p hearth-gguf --example fuzz_seeds -- fuzz/corpus/parse_header`

use gguf::synthetic::{self, Quant};
use gguf::write::GgufWriter;
use gguf::GgmlType;

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus/parse_header".into());
    std::fs::create_dir_all(&dir).expect("corpus folder");
    let t = |n: &str| GgmlType::by_name(n).expect("type");
    let small = GgufWriter::new("llama")
        .u32("llama.block_count", 2)
        .u32("llama.embedding_length", 64)
        .u32("llama.attention.head_count", 4)
        .u32_array("llama.attention.head_count_kv", vec![2, 4])
        .bool_array("llama.attention.sliding_window_pattern", vec![true, false])
        .str("tokenizer.chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}")
        .str_array("tokenizer.ggml.tokens", vec!["<s>".into(), "a".into()])
        .u32("split.count", 2)
        .i32("split.no", 0)
        .f32("llama.rope.freq_base", 10000.0)
        .tensor("token_embd.weight", &[64, 2], t("F32"))
        .tensor("blk.0.attn_q.weight", &[256, 4], t("Q4_K"))
        .tensor("blk.1.ffn_up_exps.weight", &[64, 32, 2], t("Q8_0"));
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("small", small.header().0),
        ("v2", GgufWriter::new("gemma2").version(2).u32("gemma2.attention.sliding_window", 4096).header().0),
        ("gemma3_1layer", {
            let mut s = synthetic::gemma3_12b();
            s.layers = 1;
            synthetic::model(&s, Quant::Q4KM, false).header().0
        }),
        ("mixtral_1layer", {
            let mut s = synthetic::mixtral_8x7b();
            s.layers = 1;
            synthetic::model(&s, Quant::Q2K, false).header().0
        }),
    ];
    for (name, bytes) in seeds {
        std::fs::write(format!("{dir}/seed-{name}"), bytes).expect("write seed");
    }
}
