//! `hearth run MODEL "…" --image FILE`: the picture is read by the model's projector, found beside
//! the model file as the library pairs them. The model is the real test model (linked into a
//! folder of its own), the projector a synthetic one of Gemma 3's kind sized to it
//! (`gguf::synthetic::tiny_gemma3_projector`): the picture's 256 tokens are in the figures. A file
//! that is no picture, and a picture for a model without a projector, are said in words.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hearth(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth")).args(args).env("HEARTH_HOME", home).output().expect("run hearth")
}

/// The test model in a folder of its own, with a projector beside it.
fn model_with_projector(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let model = dir.join("SmolLM2-135M-Instruct-Q4_1.gguf");
    let _ = std::fs::remove_file(&model);
    #[cfg(unix)]
    std::os::unix::fs::symlink(testkit::test_model(), &model).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(testkit::test_model(), &model).unwrap();
    let projector = gguf::synthetic::projector(&gguf::synthetic::tiny_gemma3_projector(576));
    std::fs::write(dir.join("mmproj-F16.gguf"), projector.to_bytes()).unwrap();
    model
}

#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
fn run_reads_a_picture_through_the_projector_beside_the_model() {
    let root = std::env::temp_dir().join(format!("hearth-cli-vision-{}", std::process::id()));
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let model = model_with_projector(&root.join("models"));
    let model = model.to_string_lossy().into_owned();
    let red = root.join("red.png");
    let square = types::ChatImage { at: 0, width: 64, height: 64, rgb: [220u8, 20, 20].repeat(64 * 64) };
    std::fs::write(&red, images::png(&square).unwrap()).unwrap();
    let red = red.to_string_lossy().into_owned();
    let common = ["--temp", "0", "--max-tokens", "3", "--ctx", "1024", "--cpu"];

    let mut args = vec!["run", model.as_str(), "What colour is this?", "--image", red.as_str()];
    args.extend(common);
    let out = hearth(&args, &home);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("(256 from pictures, encoded in"), "{stderr}");

    // Two pictures.
    let mut args = vec!["run", model.as_str(), "Compare them.", "--image", red.as_str(), "--image", red.as_str()];
    args.extend(common);
    let out = hearth(&args, &home);
    assert!(String::from_utf8_lossy(&out.stderr).contains("(512 from pictures"), "{}", String::from_utf8_lossy(&out.stderr));

    // A file that is no picture, before anything loads.
    let notes = root.join("notes.png");
    std::fs::write(&notes, "just some text").unwrap();
    let notes = notes.to_string_lossy().into_owned();
    let mut args = vec!["run", model.as_str(), "What is it?", "--image", notes.as_str()];
    args.extend(common);
    let out = hearth(&args, &home);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("This is not a PNG, JPEG, WebP or GIF picture (it starts with “just some te”)."), "{stderr}");

    // The test model where it is has no projector beside it.
    let plain = testkit::test_model().to_string_lossy().into_owned();
    let mut args = vec!["run", plain.as_str(), "What is it?", "--image", red.as_str()];
    args.extend(common);
    let out = hearth(&args, &home);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("reads text only"), "{stderr}");
    std::fs::remove_dir_all(&root).ok();
}
