//! Pictures in a conversation, with the real test model and a synthetic Gemma 3 projector beside
//! it (`gguf::synthetic::tiny_gemma3_projector`), loaded together by the runtime as the library
//! pairs them: a picture attached is kept once under the images folder by its hash, with a
//! thumbnail; the model reads its 256 tokens; the conversation reopened shows it; an edit keeps it;
//! the export carries it whole. A damaged picture, and a picture for a text-only model, are refused
//! before anything is saved.

#[path = "support/seen.rs"]
mod seen;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use chat::{Chat, ExportFormat};
use engine::WorkerCommand;
use seen::{greedy, Seen};
use store::Store;
use types::{ErrorCode, LoadSettings};

fn chat(dir: &Path) -> Chat {
    let worker = WorkerCommand { program: env!("CARGO_BIN_EXE_chat-test-worker").into(), args: Vec::new() };
    let runtime = runtime::Runtime::new(worker, hardware::catalog::imagined(None, 1, 16));
    Chat::new(Arc::new(Store::open(&dir.join("hearth.sqlite3")).unwrap()), Arc::new(runtime), dir.join("images"))
}

/// The test model linked into `dir/models` with a projector beside it.
fn seeing_model(dir: &Path) -> PathBuf {
    let models = dir.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let model = models.join("SmolLM2-135M-Instruct-Q4_1.gguf");
    std::os::unix::fs::symlink(testkit::test_model(), &model).unwrap();
    let projector = gguf::synthetic::projector(&gguf::synthetic::tiny_gemma3_projector(576));
    std::fs::write(models.join("mmproj-F16.gguf"), projector.to_bytes()).unwrap();
    model
}

fn red_png() -> (String, Vec<u8>) {
    let square = types::ChatImage { at: 0, width: 40, height: 30, rgb: [220u8, 20, 20].repeat(40 * 30) };
    let png = images::png(&square).unwrap();
    (format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(&png)), png)
}

static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_picture_is_kept_read_by_the_model_and_there_when_the_conversation_reopens() {
    let _one = ONE.lock().await;
    let dir = std::env::temp_dir().join(format!("hearth-chat-vision-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let model = seeing_model(&dir);
    let chat = chat(&dir);
    let loaded = chat.load(&model, &LoadSettings { context: Some(2048), ..Default::default() }, false, |_| {}).await.unwrap();
    assert!(loaded.info.vision.is_some(), "the projector beside the model is loaded with it");

    let conv = chat.create(None, &greedy(4)).unwrap();
    let (url, png) = red_png();
    let seen = Seen::default();
    chat.send(conv.id, "What colour is this?", std::slice::from_ref(&url), seen.sink()).await.unwrap();
    let stats = seen.done().unwrap();
    assert_eq!(stats.image_tokens, 256);
    assert!(stats.image_ms > 0.0);

    let messages = chat.messages(conv.id).unwrap();
    let image = &messages[0].images[0];
    assert_eq!((image.width, image.height, image.at), (40, 30, 0));
    assert!(image.thumbnail.starts_with("data:image/jpeg;base64,"), "a thumbnail to show");
    // Kept once, by the hash of its bytes, and given back whole.
    let kept = std::fs::read(dir.join("images").join(&image.hash)).unwrap();
    assert_eq!(kept, png);
    assert_eq!(chat.picture(conv.id, &image.hash).unwrap(), url);

    // The same picture again: the same file, and the cache already holds it.
    let again = Seen::default();
    chat.send(conv.id, "And this one?", std::slice::from_ref(&url), again.sink()).await.unwrap();
    let files = std::fs::read_dir(dir.join("images")).unwrap().count();
    assert_eq!(files, 2, "the picture and its thumbnail, once");
    assert_eq!(again.done().unwrap().image_tokens, 512, "both turns' pictures are read");

    // An edit keeps the message's picture.
    let first = chat.messages(conv.id).unwrap()[0].id;
    let edited = Seen::default();
    chat.edit(conv.id, first, "Describe it.", edited.sink()).await.unwrap();
    let messages = chat.messages(conv.id).unwrap();
    assert_eq!((messages.len(), messages[0].content.as_str(), messages[0].images.len()), (2, "Describe it.", 1));

    // Reopened, as after a restart: the picture is there, and goes into the export whole.
    drop(chat);
    let reopened = self::chat(&dir);
    assert_eq!(reopened.messages(conv.id).unwrap()[0].images[0].hash, image.hash);
    let json: serde_json::Value = serde_json::from_str(&reopened.export(conv.id, ExportFormat::Json).unwrap()).unwrap();
    assert_eq!(json["messages"][0]["images"][0]["dataUrl"], url.as_str());
    assert!(reopened.export(conv.id, ExportFormat::Markdown).unwrap().contains(&format!("![picture 1]({url})")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_damaged_picture_or_a_text_only_model_is_said_before_anything_is_saved() {
    let _one = ONE.lock().await;
    let dir = std::env::temp_dir().join(format!("hearth-chat-vision-refused-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let chat = chat(&dir);
    chat.load(&testkit::test_model(), &LoadSettings { context: Some(2048), ..Default::default() }, false, |_| {}).await.unwrap();
    let conv = chat.create(None, &greedy(4)).unwrap();
    let (url, _) = red_png();
    let e = chat.send(conv.id, "What colour?", &[url], |_| {}).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("reads text only"), "{}", e.message);
    let cut = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB";
    let e = chat.send(conv.id, "What colour?", &[cut.to_string()], |_| {}).await.unwrap_err();
    assert!(e.message.contains("damaged or cut short"), "{}", e.message);
    assert!(chat.messages(conv.id).unwrap().is_empty(), "nothing was saved");
    // The conversation goes on in words.
    let seen = Seen::default();
    chat.send(conv.id, "Hello", &[], seen.sink()).await.unwrap();
    assert_eq!(seen.done().unwrap().image_tokens, 0);
    let _ = std::fs::remove_dir_all(&dir);
}
