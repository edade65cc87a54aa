//! The advice for a model shape Hearth knows, on a CPU machine with some RAM, as `hearth fit
//! --advise` prints it for a file: `cargo run -p hearth-advisor --example advise -- llama3_70b Q4_K_M 16`.

use gguf::synthetic::{self, Quant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let shape = match args.first().map(String::as_str).unwrap_or("llama3_70b") {
        "llama3_8b" => synthetic::llama3_8b(),
        "llama31_405b" => synthetic::llama31_405b(),
        "qwen25_7b" => synthetic::qwen25_7b(),
        "qwen25_32b" => synthetic::qwen25_32b(),
        _ => synthetic::llama3_70b(),
    };
    let quant = args.get(1).and_then(|q| Quant::all().into_iter().find(|x| x.label() == q)).unwrap_or(Quant::Q4KM);
    let ram: u32 = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(16);
    let facts = gguf::parse_bytes(&synthetic::model(&shape, quant, false).header().0).expect("header");
    let hw = hardware::catalog::imagined(None, 0, ram);
    let advice =
        advisor::advise(&facts, &format!("{}-{}.gguf", shape.name.replace(' ', "-"), quant.label()), &hw, &types::LoadSettings::default());
    println!("{} {} on a CPU machine with {ram} GB (prices as of {}):", shape.name, quant.label(), advice.prices_date);
    for o in &advice.options {
        let speed = o.tokens_per_second.map(|s| format!("≈ {:.0} tok/s", (s.low + s.high) / 2.0)).unwrap_or_default();
        let price = match (o.usd, o.usd_per_hour, o.usd_per_million_tokens) {
            (_, Some(h), Some(m)) => format!("${h:.2}/h, ${m:.2}/Mtok"),
            (Some(u), _, _) => format!("${u:.0}"),
            _ => String::new(),
        };
        println!("  {:?} {:<42} {:<24} {speed}", o.kind, o.title, price);
        for c in &o.commands {
            println!("      {c}");
        }
    }
}
