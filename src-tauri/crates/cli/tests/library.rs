//! One Hearth (issue 26): `hearth ls`, `hearth fit` and the window's My Models (`Hearth::models`,
//! what the `models_list` command returns) give the same verdict for the same file and settings,
//! including a choice the person saved for one model in the window; and a name means the same
//! model to `hearth run` as to the library.
//!
//! One test in its own binary: it sets HOME and HF_HUB_CACHE for this process, so that the
//! in-process Hearth reads the same (empty) other apps' folders as the commands it starts.

use std::path::Path;
use std::process::Command;

use gguf::synthetic::{self, Quant};
use types::{LocalModel, RunOn, RunOnSettings, Verdict};

fn hearth(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("HEARTH_HOME", home)
        .env("HOME", home)
        .env("HF_HUB_CACHE", home.join("no-hf-cache"))
        .env("HEARTH_NO_KEYCHAIN", "1")
        .env_remove("HF_TOKEN")
        .output()
        .unwrap()
}

#[test]
fn hearth_ls_fit_and_my_models_agree_with_a_saved_choice_and_names_mean_one_model() {
    let home = std::env::temp_dir().join(format!("hearth-one-core-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let dir = home.join("models/bartowski/Qwen2.5-7B-Instruct-GGUF");
    std::fs::create_dir_all(&dir).unwrap();
    // One RAM bandwidth for every process here: each measures its own and keeps the highest, and a
    // 7B's verdict on a CPU-only machine turns on its predicted speed (green from 5 tok/s).
    std::fs::write(home.join("ram-bandwidth"), "1000\n").unwrap();
    // Real headers in sparse files: planning reads only the header.
    let q4 = dir.join("Qwen2.5-7B-Instruct-Q4_K_M.gguf");
    let q8 = dir.join("Qwen2.5-7B-Instruct-Q8_0.gguf");
    synthetic::model(&synthetic::qwen25_7b(), Quant::Q4KM, false).write_sparse(&q4).unwrap();
    synthetic::model(&synthetic::qwen25_7b(), Quant::Q8_0, false).write_sparse(&q8).unwrap();
    let listed = |out: std::process::Output| -> Vec<LocalModel> {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // The first listing records the files; then the person saves, for the Q8 file only, a GPU
    // this machine does not have (as Chat's "Run on" does, through the same setting).
    let first = listed(hearth(&home, &["ls", "--json"]));
    assert_eq!(first.len(), 2, "{first:?}");
    let store = store::Store::open(&home::Home::at(&home).unwrap().database_path()).unwrap();
    let q8_path = first.iter().find(|m| m.file_name.contains("Q8_0")).unwrap().path.clone();
    library::settings::set_model_run_on(&store, Path::new(&q8_path), Some(&RunOnSettings { run_on: RunOn::Gpu { device: "Vulkan7".into() }, gpu_layers: None }))
        .unwrap();

    let cli = listed(hearth(&home, &["ls", "--json"]));
    // The window's list, from the same home, assembled as the window assembles it.
    std::env::set_var("HOME", &home);
    std::env::set_var("HF_HUB_CACHE", home.join("no-hf-cache"));
    std::env::set_var("HEARTH_NO_KEYCHAIN", "1");
    let worker = engine::WorkerCommand { program: env!("CARGO_BIN_EXE_hearth").into(), args: vec!["--engine-worker".into()] };
    let window = hearth::Hearth::open(home::Home::at(&home).unwrap(), worker, |m| eprintln!("{m}")).unwrap().models().unwrap();
    let verdicts = |ms: &[LocalModel]| -> Vec<(String, Option<Verdict>, Option<String>)> {
        ms.iter().map(|m| (m.file_name.clone(), m.plan.as_ref().map(|p| p.verdict), m.plan.as_ref().map(|p| p.label.clone()))).collect()
    };
    assert_eq!(verdicts(&cli), verdicts(&window), "hearth ls and My Models");
    let q8 = cli.iter().find(|m| m.file_name.contains("Q8_0")).unwrap();
    let q4 = cli.iter().find(|m| m.file_name.contains("Q4_K_M")).unwrap();
    let q8_plan = q8.plan.as_ref().unwrap();
    assert_eq!(q8_plan.verdict, Verdict::Yellow, "the saved GPU is not here: {q8_plan:?}");
    assert!(q8_plan.reason.contains("Vulkan7"), "{}", q8_plan.reason);
    assert_ne!(q4.plan.as_ref().unwrap().reason, q8_plan.reason, "the choice is the Q8 file's alone");

    // `hearth fit` of each file says what the list says.
    for m in &cli {
        let fit: types::FitPlan = serde_json::from_slice(&hearth(&home, &["fit", &m.path, "--json"]).stdout).unwrap();
        let listed = m.plan.as_ref().unwrap();
        assert_eq!((fit.verdict, &fit.label), (listed.verdict, &listed.label), "hearth fit {}", m.file_name);
    }

    // A name: the same lookup everywhere. Ambiguous is said, with both files.
    let run = hearth(&home, &["run", "qwen", "Hi", "--max-tokens", "1"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success() && err.contains("names 2 library models") && err.contains("Q8_0.gguf"), "{err}");
    assert_eq!(hearth::find(&window, "q8_0").unwrap().path, q8_path);
    let _ = std::fs::remove_dir_all(&home);
}
