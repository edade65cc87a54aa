//! The advisor against the table of known answers (known_answers.md), and the price table's shape.

use gguf::synthetic::{self, Quant, Shape};
use types::{AdviceKind, LoadSettings, Verdict};

fn shape(name: &str) -> Shape {
    match name {
        "llama3_8b" => synthetic::llama3_8b(),
        "llama3_70b" => synthetic::llama3_70b(),
        "llama31_405b" => synthetic::llama31_405b(),
        "qwen25_7b" => synthetic::qwen25_7b(),
        "qwen25_32b" => synthetic::qwen25_32b(),
        other => panic!("unknown model {other}"),
    }
}

fn quant(name: &str) -> Quant {
    Quant::all().into_iter().find(|q| q.label() == name).unwrap_or_else(|| panic!("unknown quant {name}"))
}

#[test]
fn the_advisor_gives_the_known_answers() {
    let table = include_str!("known_answers.md");
    let mut failures = Vec::new();
    let mut rows = 0;
    for line in table.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| model") && !l.starts_with("| ---")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [model, q, ram, kind, answer, tp] = cells[..] else { panic!("bad row: {line}") };
        rows += 1;
        let facts = gguf::parse_bytes(&synthetic::model(&shape(model), quant(q), false).header().0).expect("header");
        let hw = hardware::catalog::imagined(None, 0, ram.parse().expect("RAM"));
        let here = fit::plan(&facts, &hw, &LoadSettings::default());
        assert_ne!(here.verdict, Verdict::Green, "{model} {q} is green on {ram} GB already: a row that tests nothing");
        let advice = advisor::advise(&facts, "model.gguf", &hw, &LoadSettings::default());
        let of = |k: AdviceKind| advice.options.iter().filter(move |o| o.kind == k);
        assert!(advice.options.iter().all(|o| o.verdict == Verdict::Green), "{model} {q}: every option is green");
        let titles = |k: AdviceKind| of(k).map(|o| o.title.clone()).collect::<Vec<_>>();
        let ok = match kind {
            "buy" => of(AdviceKind::Buy).next().is_some_and(|o| o.title.contains(answer)),
            "buy-single" => of(AdviceKind::Buy).find(|o| !o.title.contains(" × ")).is_some_and(|o| o.title.contains(answer)),
            "buy-any" => answer.split(';').map(str::trim).all(|a| of(AdviceKind::Buy).any(|o| o.title.contains(a))),
            "rent" => of(AdviceKind::Rent).next().is_some_and(|o| {
                o.title.contains(answer) && o.commands.iter().any(|c| c.contains(&format!("--tensor-parallel-size {tp}")))
            }),
            "rent-any" => answer.split(';').map(str::trim).all(|a| of(AdviceKind::Rent).any(|o| o.title.contains(a))),
            "here" => of(AdviceKind::Here).any(|o| o.title.contains(answer)),
            other => panic!("unknown kind {other}"),
        };
        if !ok {
            failures.push(format!(
                "{model} {q} on {ram} GB, {kind} = {answer}: here {:?}, buy {:?}, rent {:?}",
                titles(AdviceKind::Here),
                titles(AdviceKind::Buy),
                titles(AdviceKind::Rent)
            ));
        }
    }
    assert!(rows >= 8, "the table lost rows");
    assert!(failures.is_empty(), "{} of {rows} answers wrong:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn rentals_say_what_they_cost_per_hour_and_per_million_tokens_and_the_cheapest_comes_first() {
    let facts = gguf::parse_bytes(&synthetic::model(&synthetic::llama3_70b(), Quant::Q4KM, false).header().0).unwrap();
    let advice = advisor::advise(&facts, "Llama-70B-Q4_K_M.gguf", &hardware::catalog::imagined(None, 0, 16), &LoadSettings::default());
    let rent: Vec<_> = advice.options.iter().filter(|o| o.kind == AdviceKind::Rent).collect();
    assert!(!rent.is_empty());
    for o in &rent {
        let (hour, mtok, tps) = (o.usd_per_hour.unwrap(), o.usd_per_million_tokens.unwrap(), o.tokens_per_second.unwrap());
        let mid = f64::from(tps.low + tps.high) / 2.0;
        assert!((f64::from(mtok) - f64::from(hour) / (mid * 3600.0) * 1e6).abs() < 0.01 * f64::from(mtok), "{o:?}");
        assert!(o.commands.iter().any(|c| c.starts_with("llama-server -m Llama-70B-Q4_K_M.gguf -ngl 999")));
    }
    assert!(rent.windows(2).all(|w| w[0].usd_per_hour <= w[1].usd_per_hour));
    let buy: Vec<_> = advice.options.iter().filter(|o| o.kind == AdviceKind::Buy).collect();
    assert!(buy.windows(2).all(|w| w[0].usd <= w[1].usd));
    assert_eq!(advice.prices_date, "2026-11");
}

#[test]
fn every_price_names_a_gpu_in_hearths_table_and_the_presets_are_the_budget_configurations() {
    let p = advisor::prices();
    for g in p.buy.iter().map(|b| &b.gpu).chain(p.rent.iter().map(|r| &r.gpu)).chain(p.presets.iter().map(|r| &r.gpu)) {
        assert!(hardware::catalog::find(g).is_some(), "{g} is not in hardware::catalog::GPUS");
    }
    let names: Vec<_> = advisor::presets().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["Entry", "Mid", "High"]);
}
