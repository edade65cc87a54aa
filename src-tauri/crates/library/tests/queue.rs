//! The download queue against the mock Hub: files land in the library; pause keeps the bytes, resume
//! continues from them, cancel removes them.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hub::download::Options;
use hub::HubClient;
use library::{pick, Downloads};
use mockhub::{File, MockHub, Repo};
use store::Store;
use types::DownloadState;

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

async fn setup(name: &str) -> (MockHub, Arc<Downloads>, std::path::PathBuf) {
    let mut repo = Repo::new("org/Tiny-GGUF");
    repo.files = vec![File::bytes("tiny-Q4_K_M.gguf", payload(2 << 20, 1)), File::bytes("tiny-Q8_0.gguf", payload(1 << 20, 2))];
    let mock = MockHub::start(vec![repo]).await.unwrap();
    let dir = std::env::temp_dir().join(format!("hearth-queue-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(Store::open(&dir.join("hearth.sqlite3")).unwrap());
    let opts = Options { connections: 2, segment: 256 << 10, backoff: Duration::from_millis(20), ..Options::default() };
    let dl = Arc::new(Downloads::new(store, HubClient::new(&mock.base, None).unwrap(), dir.join("models"), opts));
    (mock, dl, dir)
}

#[tokio::test]
async fn queued_files_land_in_the_library() {
    let (mock, dl, dir) = setup("all").await;
    let info = HubClient::new(&mock.base, None).unwrap().model_info("org/Tiny-GGUF", None).await.unwrap();
    for q in ["Q4_K_M", "Q8_0"] {
        dl.enqueue("org/Tiny-GGUF", "main", &pick(&info, Some(q)).unwrap().files).await.unwrap();
    }
    dl.run_queue().await.unwrap();
    let models = dl.store().models().unwrap();
    assert_eq!(models.len(), 2);
    assert!(models.iter().all(|m| std::path::Path::new(&m.path).exists() && m.path.starts_with(dir.join("models").to_str().unwrap())));
    assert!(dl.store().downloads().unwrap().iter().all(|d| d.status == DownloadState::Done));
}

#[tokio::test]
async fn pause_keeps_the_bytes_resume_continues_cancel_removes() {
    let (mock, dl, _dir) = setup("pause").await;
    mock.faults().throttle_bps.store(1 << 20, Ordering::SeqCst);
    let info = HubClient::new(&mock.base, None).unwrap().model_info("org/Tiny-GGUF", None).await.unwrap();
    let d = dl.enqueue("org/Tiny-GGUF", "main", &pick(&info, Some("Q4_K_M")).unwrap().files).await.unwrap().remove(0);

    let mut events = dl.subscribe();
    let runner = {
        let dl = dl.clone();
        tokio::spawn(async move { dl.run(d.id).await })
    };
    // Wait for real progress, then pause.
    loop {
        let e = events.recv().await.unwrap();
        if e.done >= 600 << 10 {
            break;
        }
    }
    dl.pause(d.id).unwrap();
    assert_eq!(runner.await.unwrap().unwrap(), DownloadState::Paused);
    let row = dl.store().download(d.id).unwrap().unwrap();
    assert_eq!(row.status, DownloadState::Paused);
    let kept = dl.bytes_on_disk(&row);
    assert!(kept >= 256 << 10, "kept {kept}");

    mock.faults().throttle_bps.store(0, Ordering::SeqCst);
    dl.resume(d.id).unwrap();
    assert_eq!(dl.run(d.id).await.unwrap(), DownloadState::Done);
    assert!(mock.bytes_served("tiny-Q4_K_M.gguf") < (2 << 20) + (1 << 20), "restarted instead of resuming");

    // Cancel a second one while it runs: its part file goes.
    mock.faults().throttle_bps.store(1 << 20, Ordering::SeqCst);
    let d2 = dl.enqueue("org/Tiny-GGUF", "main", &pick(&info, Some("Q8_0")).unwrap().files).await.unwrap().remove(0);
    let runner = {
        let dl = dl.clone();
        tokio::spawn(async move { dl.run(d2.id).await })
    };
    loop {
        let e = events.recv().await.unwrap();
        if e.id == d2.id && e.done > 0 {
            break;
        }
    }
    dl.cancel(d2.id).unwrap();
    assert_eq!(runner.await.unwrap().unwrap(), DownloadState::Cancelled);
    assert!(!hub::download::part_path(std::path::Path::new(&d2.spec.dest)).exists());
    assert!(!std::path::Path::new(&d2.spec.dest).exists());
}

/// Issue 13 (8): a downloaded model deleted from My Models, then downloaded again, is downloaded
/// again. The queue's row stayed "done", so the Download button did nothing.
#[tokio::test]
async fn a_deleted_model_downloaded_again_is_downloaded_again() {
    let (mock, dl, dir) = setup("again").await;
    let info = HubClient::new(&mock.base, None).unwrap().model_info("org/Tiny-GGUF", None).await.unwrap();
    let files = pick(&info, Some("Q8_0")).unwrap().files;
    let first = dl.enqueue("org/Tiny-GGUF", "main", &files).await.unwrap().remove(0);
    dl.run_queue().await.unwrap();
    let path = std::path::PathBuf::from(&first.spec.dest);
    assert!(path.exists());
    let model = dl.store().models().unwrap().remove(0);
    assert_eq!(library::delete(dl.store(), model.id, &[dir.join("models")]).unwrap(), library::Removed::Deleted);
    assert!(!path.exists());

    let again = dl.enqueue("org/Tiny-GGUF", "main", &files).await.unwrap().remove(0);
    assert_eq!((again.id, again.status), (first.id, DownloadState::Queued), "the same row, queued again");
    dl.run_queue().await.unwrap();
    assert_eq!(dl.store().download(first.id).unwrap().unwrap().status, DownloadState::Done);
    assert_eq!(std::fs::read(&path).unwrap(), payload(1 << 20, 2));
    assert_eq!(mock.bytes_served("tiny-Q8_0.gguf"), 2 << 20, "fetched twice");
    assert_eq!(dl.store().models().unwrap().len(), 1, "back in the library");

    // Asked for once more while it is there: nothing to do.
    let kept = dl.enqueue("org/Tiny-GGUF", "main", &files).await.unwrap().remove(0);
    assert_eq!(kept.status, DownloadState::Done);
    assert_eq!(dl.run(kept.id).await.unwrap(), DownloadState::Done);
    assert_eq!(mock.bytes_served("tiny-Q8_0.gguf"), 2 << 20);

    // A row left "done" whose file went some other way (deleted by hand) is downloaded by `run` too.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(dl.run(kept.id).await.unwrap(), DownloadState::Done);
    assert!(path.exists());
}

/// Issue 13 (8): queuing a file again takes what the Hub says now (its size and sha256, here a new
/// upload on another Hub) and the models folder now; the old row kept its first spec for ever.
#[tokio::test]
async fn queuing_again_refreshes_size_sha256_and_destination() {
    let (mock, dl, dir) = setup("refresh").await;
    let info = HubClient::new(&mock.base, None).unwrap().model_info("org/Tiny-GGUF", None).await.unwrap();
    let old = dl.enqueue("org/Tiny-GGUF", "main", &pick(&info, Some("Q8_0")).unwrap().files).await.unwrap().remove(0);
    dl.run_queue().await.unwrap();
    std::fs::remove_file(&old.spec.dest).unwrap();

    let mut repo = Repo::new("org/Tiny-GGUF");
    let newer = payload(1536 << 10, 9);
    repo.files = vec![File::bytes("tiny-Q8_0.gguf", newer.clone())];
    let other = MockHub::start(vec![repo]).await.unwrap();
    dl.set_client(HubClient::new(&other.base, None).unwrap());
    dl.set_models_dir(dir.join("models2"));
    let info = HubClient::new(&other.base, None).unwrap().model_info("org/Tiny-GGUF", None).await.unwrap();
    let row = dl.enqueue("org/Tiny-GGUF", "main", &pick(&info, Some("Q8_0")).unwrap().files).await.unwrap().remove(0);
    assert_eq!(row.id, old.id);
    assert_eq!(row.spec.size, newer.len() as u64);
    assert_eq!(row.spec.sha256.as_deref(), Some(File::bytes("x", newer.clone()).sha256.as_str()));
    assert!(row.spec.dest.starts_with(dir.join("models2").to_str().unwrap()), "{}", row.spec.dest);
    assert!(row.spec.url.starts_with(&other.base), "{}", row.spec.url);
    dl.run_queue().await.unwrap();
    assert_eq!(std::fs::read(&row.spec.dest).unwrap(), newer);
}

/// The queue as the app runs it: woken by an enqueue, it downloads, and a watcher is pushed the
/// list as bytes arrive (not polled), ending with the file done and verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_is_pushed_the_list_as_a_download_moves() {
    let (mock, dl, _dir) = setup("watch").await;
    mock.faults().throttle_bps.store(1 << 20, Ordering::SeqCst);
    let info = HubClient::new(&mock.base, None).unwrap().model_info("org/Tiny-GGUF", None).await.unwrap();
    let queue = library::DownloadQueue::start(Arc::try_unwrap(dl).ok().unwrap(), tokio::runtime::Handle::current());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    queue.watch(move |items| tx.send(items).is_ok());
    queue.downloads.enqueue("org/Tiny-GGUF", "main", &pick(&info, Some("Q4_K_M")).unwrap().files).await.unwrap();
    queue.wake();
    let mut seen = Vec::new();
    let last = loop {
        let items = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.expect("a list within 30 s").expect("open");
        if let Some(d) = items.first() {
            seen.push(d.done_bytes);
            if d.state == DownloadState::Done {
                break d.clone();
            }
        }
    };
    assert_eq!(last.done_bytes, 2 << 20);
    let moving: Vec<_> = seen.iter().filter(|&&b| b > 0 && b < 2 << 20).collect();
    assert!(moving.len() >= 2, "progress came as it happened: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "bytes never go back: {seen:?}");
}
