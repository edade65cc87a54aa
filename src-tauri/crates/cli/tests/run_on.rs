//! Where `hearth run` puts the model, on a real Vulkan device (Mesa's lavapipe, which `make test`
//! installs; a software device, opted in with `HEARTH_ALLOW_SOFTWARE_GPU=1`): Auto takes every layer,
//! `--gpu-layers N` takes N, `--cpu` none, and a GPU that is not there runs on the CPU. The stderr line
//! "N/M layers on GPU" is what the engine reported after the load.

use std::process::{Command, Output};

fn hearth(args: &[&str], home: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("HEARTH_HOME", home)
        .env("HEARTH_ALLOW_SOFTWARE_GPU", "1")
        .output()
        .expect("run hearth")
}

fn layers_on_gpu(out: &Output) -> (u32, u32) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = stderr.lines().find(|l| l.contains("layers on GPU")).unwrap_or_else(|| panic!("no layers line: {stderr}"));
    let field = line.rsplit(" · ").next().unwrap().trim_end_matches(" layers on GPU");
    let (on, of) = field.split_once('/').unwrap_or_else(|| panic!("{line}"));
    (on.trim().parse().unwrap(), of.trim().parse().unwrap())
}

#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_vulkan, ignore = "needs a Vulkan driver: make deps-test (Debian package mesa-vulkan-drivers)")]
fn run_on_auto_one_gpu_a_layer_count_and_the_cpu() {
    let model = testkit::test_model();
    let model = model.to_string_lossy().into_owned();
    let home = std::env::temp_dir().join(format!("hearth-cli-run-on-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let probe = hearth(&["probe", "--json"], &home);
    let listed = String::from_utf8_lossy(&probe.stdout);
    assert!(listed.contains("\"Vulkan0\""), "{}, and hearth probe lists no Vulkan device: {listed}", testkit::Resource::Vulkan.reason());
    let run = |extra: &[&str]| {
        let mut args = vec!["run", model.as_str(), "Hi", "--temp", "0", "--max-tokens", "2", "--ctx", "512"];
        args.extend_from_slice(extra);
        layers_on_gpu(&hearth(&args, &home))
    };
    let (all, total) = run(&[]);
    assert_eq!(all, total, "Auto puts the whole small model on the GPU");
    assert_eq!(run(&["--gpu-layers", "10"]), (10, total));
    assert_eq!(run(&["--gpu", "Vulkan0", "--gpu-layers", "5"]), (5, total));
    assert_eq!(run(&["--cpu"]), (0, total));
    assert_eq!(run(&["--gpu", "Vulkan9"]), (0, total), "a GPU that is not there: the CPU");

    // --cpu and --gpu together is a usage error.
    let both = hearth(&["run", &model, "Hi", "--cpu", "--gpu", "Vulkan0"], &home);
    assert_eq!(both.status.code(), Some(2), "{}", String::from_utf8_lossy(&both.stderr));
    std::fs::remove_dir_all(&home).ok();
}

/// A model set to run on the CPU in the window runs there from `hearth run` too (it loaded on the
/// GPU before: the CLI planned without the saved choice); a flag still wins.
#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
#[cfg_attr(hearth_missing_vulkan, ignore = "needs a Vulkan driver: make deps-test (Debian package mesa-vulkan-drivers)")]
fn a_models_saved_choice_of_where_it_runs_is_kept() {
    let model = testkit::test_model();
    let home = std::env::temp_dir().join(format!("hearth-cli-run-on-saved-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    {
        let store = store::Store::open(&home.join("hearth.sqlite3")).unwrap();
        let cpu = types::RunOnSettings { run_on: types::RunOn::Cpu, gpu_layers: None };
        library::settings::set_model_run_on(&store, &model, Some(&cpu)).unwrap();
    }
    let model = model.to_string_lossy().into_owned();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", model.as_str(), "Hi", "--temp", "0", "--max-tokens", "2", "--ctx", "512"];
        args.extend_from_slice(extra);
        layers_on_gpu(&hearth(&args, &home))
    };
    let (on, of) = run(&[]);
    assert_eq!(on, 0, "the saved choice (CPU) is kept: {on}/{of}");
    let (on, _) = run(&["--gpu-layers", "3"]);
    assert_eq!(on, 3, "a flag wins over the saved choice");
    std::fs::remove_dir_all(&home).ok();
}
