//! The download benchmark (issue 4): the same 1 GiB file from the mock Hub, with Hearth's downloader
//! and with curl, on loopback.
//!
//! 1. Unthrottled, one connection: curl and Hearth, each several times (interleaved, after an untimed
//!    round of each), medians compared.
//!    Hearth's time is the whole call — bytes written, sha256 verified, renamed into place —
//!    because that is when a person can use the file; curl only writes the bytes. Hearth's transfer
//!    alone (until its last byte landed) is shown beside it, and so is curl followed by hashing its
//!    copy (with Hearth's sha256 code), the like-for-like figure. CPU seconds of each client and of
//!    the mock Hub are recorded too: on a shared machine they move much less than the wall clock.
//! 2. Each connection throttled to 20 MB/s by the mock Hub: Hearth over 1, 2, 4 and 8 connections
//!    (and curl over one), as a fraction of N × 20 MB/s.
//!
//! The source file is pseudo-random bytes (so the sha256 and the disk writes are honest), written once
//! to `target/bench/` and reused; it is served from memory by the mock Hub, running in this process on
//! its own tokio runtime. Every downloaded copy is deleted after its run. Figures go to
//! `target/bench/download.json` and a markdown table to stdout.
//!
//! `cargo run -q -p hearth-hub --example download_bench [-- --runs 7 --warmup 1 --throttled-runs 1 --size-mib 1024 --from-disk]`
//! (MB is 10^6 bytes throughout; 20 MB/s is 20,000,000 bytes per second.)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hub::download::{self, Job, Options};
use hub::HubClient;
use mockhub::{Data, File, MockHub, Repo};
use serde_json::json;
use tokio_util::sync::CancellationToken;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const REPO: &str = "bench/Download-Bench-GGUF";
const NAME: &str = "download-bench.gguf";
const THROTTLE: u64 = 20_000_000;
const CONNECTIONS: [usize; 4] = [1, 2, 4, 8];

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../target"));
    target.join("bench")
}

/// The source file: `size` pseudo-random bytes (xorshift64*), made once and reused when its size is
/// right; its sha256 is kept beside it.
fn source(dir: &Path, size: u64) -> Res<(PathBuf, String)> {
    let path = dir.join(format!("download-source-{size}.bin"));
    let sha_path = dir.join(format!("download-source-{size}.sha256"));
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
        if let Ok(sha) = std::fs::read_to_string(&sha_path) {
            if sha.trim().len() == 64 {
                return Ok((path, sha.trim().to_string()));
            }
        }
    } else {
        eprintln!("writing {} ({size} pseudo-random bytes, once)", path.display());
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut block = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            for word in block.chunks_exact_mut(8) {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                word.copy_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
            }
            let n = left.min(block.len() as u64) as usize;
            out.write_all(&block[..n])?;
            left -= n as u64;
        }
        out.flush()?;
    }
    eprintln!("hashing {}", path.display());
    let sha = download::sha256_file(&path)?;
    std::fs::write(&sha_path, &sha)?;
    Ok((path, sha))
}

struct Run {
    /// Wall clock for the whole download (Hearth: including the sha256 check and the rename).
    secs: f64,
    /// Hearth only: until the last byte was on disk (before the sha256 check).
    transfer_secs: Option<f64>,
    /// CPU seconds (user + system) the client spent, and the mock Hub meanwhile (Linux only): on a
    /// shared 2-core machine wall clock is at the mercy of other work, CPU per byte much less so.
    client_cpu: Option<f64>,
    server_cpu: Option<f64>,
    /// curl only: hashing its copy afterwards with Hearth's sha256 code, as a careful person would.
    sha_secs: Option<f64>,
}

/// CPU seconds so far: (this process without the mock Hub's threads, the mock Hub's threads, waited-for
/// children), from /proc (clock ticks of 1/100 s, Linux's USER_HZ).
fn cpu() -> Option<(f64, f64, f64)> {
    fn fields(stat: &str) -> Option<(String, Vec<f64>)> {
        let (head, rest) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_string();
        // After the comm: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
        let f: Vec<f64> = rest.split_whitespace().skip(11).take(4).map(|x| x.parse().unwrap_or(0.0) / 100.0).collect();
        (f.len() == 4).then_some((comm, f))
    }
    let (_, me) = fields(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let mut server = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if let Some((comm, f)) = std::fs::read_to_string(task.path().join("stat")).ok().as_deref().and_then(fields) {
            if comm == "mockhub" {
                server += f[0] + f[1];
            }
        }
    }
    Some((me[0] + me[1] - server, server, me[2] + me[3]))
}

fn cpu_since(before: Option<(f64, f64, f64)>) -> (Option<f64>, Option<f64>, Option<f64>) {
    match (before, cpu()) {
        (Some(a), Some(b)) => (Some(b.0 - a.0), Some(b.1 - a.1), Some(b.2 - a.2)),
        _ => (None, None, None),
    }
}

fn remove_copy(dest: &Path) {
    let _ = std::fs::remove_file(dest);
    download::discard(dest);
}

/// curl's download; with `sha256`, its copy is then hashed (timed apart) and must match.
fn curl(url: &str, dest: &Path, size: u64, sha256: Option<&str>) -> Res<Run> {
    remove_copy(dest);
    let before = cpu();
    let started = Instant::now();
    let status = Command::new("curl").args(["-s", "-f", "-L", "-o"]).arg(dest).arg(url).status()?;
    let secs = started.elapsed().as_secs_f64();
    let (_, server_cpu, client_cpu) = cpu_since(before);
    let len = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    let hashed = sha256.map(|expected| {
        let started = Instant::now();
        let actual = download::sha256_file(dest);
        (started.elapsed().as_secs_f64(), actual.map(|a| a == expected))
    });
    remove_copy(dest);
    if !status.success() || len != size {
        return Err(format!("curl failed: {status}, {len} of {size} bytes").into());
    }
    let sha_secs = match hashed {
        Some((secs, Ok(true))) => Some(secs),
        Some((_, Ok(false))) => return Err("curl's copy has the wrong sha256".into()),
        Some((_, Err(e))) => return Err(e.into()),
        None => None,
    };
    Ok(Run { secs, transfer_secs: None, client_cpu, server_cpu, sha_secs })
}

fn hearth(rt: &tokio::runtime::Runtime, client: &HubClient, job: &Job, connections: usize) -> Res<Run> {
    remove_copy(&job.dest);
    let opts = Options { connections, ..Options::default() };
    let last_byte: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let seen = last_byte.clone();
    let before = cpu();
    let started = Instant::now();
    let result = rt.block_on(download::download(client, job, &opts, &CancellationToken::new(), move |p| {
        if p.done >= p.total {
            if let Ok(mut s) = seen.lock() {
                s.get_or_insert_with(Instant::now);
            }
        }
    }));
    let secs = started.elapsed().as_secs_f64();
    let (client_cpu, server_cpu, _) = cpu_since(before);
    let len = std::fs::metadata(&job.dest).map(|m| m.len()).unwrap_or(0);
    remove_copy(&job.dest);
    result?;
    if len != job.size {
        return Err(format!("Hearth left {len} of {} bytes", job.size).into());
    }
    let transfer_secs = last_byte.lock().ok().and_then(|s| *s).map(|t| (t - started).as_secs_f64());
    Ok(Run { secs, transfer_secs, client_cpu, server_cpu, sha_secs: None })
}

/// The 1-minute load average (Linux): other work on the machine shows up in the wall clock.
fn load() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn mb_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn round(x: f64, places: i32) -> f64 {
    let p = 10f64.powi(places);
    (x * p).round() / p
}

fn main() -> Res<()> {
    let size = arg("--size-mib").and_then(|s| s.parse::<u64>().ok()).unwrap_or(1024) << 20;
    let runs = arg("--runs").and_then(|s| s.parse::<usize>().ok()).unwrap_or(7).max(1);
    let warmup = arg("--warmup").and_then(|s| s.parse::<usize>().ok()).unwrap_or(1);
    let throttled_runs = arg("--throttled-runs").and_then(|s| s.parse::<usize>().ok()).unwrap_or(1);
    let from_disk = flag("--from-disk");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let profile = if cfg!(debug_assertions) { "dev" } else { "release" };

    let dir = bench_dir();
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let load_before = load();
    let (source_path, sha256) = source(&dir, size)?;
    let data =
        if from_disk { Data::Disk { path: source_path.clone(), len: size } } else { Data::Bytes(Arc::new(std::fs::read(&source_path)?)) };
    let mut repo = Repo::new(REPO);
    repo.files = vec![File { path: NAME.into(), data, sha256: sha256.clone() }];

    // The mock Hub on its own runtime (its own two threads), the downloader on another, as in the app.
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("mockhub").enable_all().build()?;
    let mock = server_rt.block_on(MockHub::start(vec![repo]))?;
    let client_rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let client = client_rt.block_on(async { HubClient::new(&mock.base, None) })?;
    let url = client.resolve_url(REPO, "main", NAME);
    let copies = dir.join("download-copies");
    std::fs::create_dir_all(&copies)?;
    let curl_dest = copies.join("curl.bin");
    let job = Job { url: url.clone(), dest: copies.join("hearth.bin"), size, sha256: Some(sha256.clone()) };

    eprintln!(
        "{size} bytes from {url} ({}; {profile} profile; {cores} cores shared by the mock Hub, curl and Hearth)",
        if from_disk { "served from disk" } else { "served from memory" }
    );

    // 1. Unthrottled, one connection, interleaved so drift in the machine hits both alike.
    let (mut curl_s, mut curl_sha_s, mut hearth_s, mut hearth_transfer_s) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut curl_cpu, mut hearth_cpu, mut server_cpu_curl, mut server_cpu_hearth) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // `--only hearth` or `--only curl` (for profiling one of them) skips the other (NaN in the figures).
    let only = arg("--only");
    let skipped = || Run { secs: f64::NAN, transfer_secs: None, client_cpu: None, server_cpu: None, sha_secs: None };
    // Untimed rounds first: on a VM the first touches of memory the guest has not used yet cost
    // several times more (writing 1 GiB to the page cache took 0.19 to 1.5 s here), whoever does them.
    for _ in 0..warmup {
        curl(&url, &curl_dest, size, None)?;
        hearth(&client_rt, &client, &job, 1)?;
    }
    for i in 0..runs {
        let c = if only.as_deref() == Some("hearth") { skipped() } else { curl(&url, &curl_dest, size, Some(&sha256))? };
        let h = if only.as_deref() == Some("curl") { skipped() } else { hearth(&client_rt, &client, &job, 1)? };
        eprintln!(
            "  run {}: curl {:.0} MB/s ({:.2} s CPU, mock Hub {:.2} s), Hearth {:.0} MB/s, until last byte {:.0} MB/s ({:.2} s CPU, mock Hub {:.2} s)",
            i + 1,
            mb_s(size, c.secs),
            c.client_cpu.unwrap_or(f64::NAN),
            c.server_cpu.unwrap_or(f64::NAN),
            mb_s(size, h.secs),
            h.transfer_secs.map(|t| mb_s(size, t)).unwrap_or(f64::NAN),
            h.client_cpu.unwrap_or(f64::NAN),
            h.server_cpu.unwrap_or(f64::NAN),
        );
        curl_s.push(c.secs);
        curl_sha_s.push(c.secs + c.sha_secs.unwrap_or(f64::NAN));
        hearth_s.push(h.secs);
        hearth_transfer_s.extend(h.transfer_secs);
        curl_cpu.extend(c.client_cpu);
        hearth_cpu.extend(h.client_cpu);
        server_cpu_curl.extend(c.server_cpu);
        server_cpu_hearth.extend(h.server_cpu);
    }
    let curl_mb = mb_s(size, median(curl_s.clone()));
    let curl_sha_mb = mb_s(size, median(curl_sha_s.clone()));
    let hearth_mb = mb_s(size, median(hearth_s.clone()));
    let hearth_transfer_mb = mb_s(size, median(hearth_transfer_s.clone()));
    let ratio = hearth_mb / curl_mb;
    let transfer_ratio = hearth_transfer_mb / curl_mb;

    // 2. Each connection throttled to 20 MB/s.
    let mut throttled = Vec::new();
    if throttled_runs > 0 {
        mock.faults().throttle_bps.store(THROTTLE, Ordering::SeqCst);
        let mut row = |client_name: &str, n: usize, secs: Vec<f64>, transfer: Vec<f64>| {
            let mb = mb_s(size, median(secs.clone()));
            let target = n as f64 * THROTTLE as f64 / 1e6;
            eprintln!("  throttled, {client_name} × {n}: {mb:.1} MB/s of {target:.0} ({:.2})", mb / target);
            throttled.push(json!({
                "client": client_name,
                "connections": n,
                "runs_s": secs.iter().map(|s| round(*s, 3)).collect::<Vec<_>>(),
                "mb_per_s": round(mb, 2),
                "transfer_mb_per_s": (!transfer.is_empty()).then(|| round(mb_s(size, median(transfer)), 2)),
                "target_mb_per_s": target,
                "fraction": round(mb / target, 3),
            }));
        };
        let secs: Vec<f64> = (0..throttled_runs).map(|_| curl(&url, &curl_dest, size, None).map(|r| r.secs)).collect::<Res<_>>()?;
        row("curl", 1, secs, vec![]);
        for n in CONNECTIONS {
            let mut secs = Vec::new();
            let mut transfer = Vec::new();
            for _ in 0..throttled_runs {
                let r = hearth(&client_rt, &client, &job, n)?;
                secs.push(r.secs);
                transfer.extend(r.transfer_secs);
            }
            row("hearth", n, secs, transfer);
        }
        mock.faults().throttle_bps.store(0, Ordering::SeqCst);
    }
    let _ = std::fs::remove_dir(&copies);

    let note = format!(
        "{cores} cores shared by the mock Hub (in this process, its own 2-thread runtime), curl and Hearth; \
         loopback; source {}; {profile} profile; Hearth with the app's default options (32 MiB segments), its time including \
         its state checkpoints, the sha256 check and the rename (it fsyncs every 5 s, so not within a 1 GiB run at loopback speed; \
         neither does curl)",
        if from_disk { "read from disk per 64 KiB chunk" } else { "served from memory" }
    );
    let report = json!({
        "benchmark": "download",
        "note": note,
        "cores": cores,
        "load_average_1min": { "start": load_before, "end": load() },
        "profile": profile,
        "file_bytes": size,
        "runs": runs,
        "warmup_rounds": warmup,
        "one_connection": {
            "curl": {
                "runs_s": curl_s.iter().map(|s| round(*s, 3)).collect::<Vec<_>>(),
                "mb_per_s": round(curl_mb, 1),
                "cpu_s": round(median(curl_cpu.clone()), 2),
                "mock_hub_cpu_s": round(median(server_cpu_curl.clone()), 2),
                "then_sha256_runs_s": curl_sha_s.iter().map(|s| round(*s, 3)).collect::<Vec<_>>(),
                "then_sha256_mb_per_s": round(curl_sha_mb, 1),
            },
            "hearth": {
                "cpu_s": round(median(hearth_cpu.clone()), 2),
                "mock_hub_cpu_s": round(median(server_cpu_hearth.clone()), 2),
                "runs_s": hearth_s.iter().map(|s| round(*s, 3)).collect::<Vec<_>>(),
                "mb_per_s": round(hearth_mb, 1),
                "transfer_runs_s": hearth_transfer_s.iter().map(|s| round(*s, 3)).collect::<Vec<_>>(),
                "transfer_mb_per_s": round(hearth_transfer_mb, 1),
            },
            "ratio": round(ratio, 3),
            "ratio_to_curl_then_sha256": round(hearth_mb / curl_sha_mb, 3),
            "transfer_ratio": round(transfer_ratio, 3),
            "goal": 0.9,
        },
        "throttled": {
            "per_connection_mb_per_s": THROTTLE as f64 / 1e6,
            "runs": throttled_runs,
            "goal_fraction": 0.8,
            "rows": throttled,
        },
    });
    let json_path = dir.join("download.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")?;

    println!("Download benchmark: {} MiB on loopback; {note}.", size >> 20);
    println!();
    println!("| client | connections | throttle per connection | MB/s (median) | vs goal |");
    println!("| --- | --- | --- | --- | --- |");
    println!("| curl | 1 | none | {curl_mb:.0} | |");
    println!("| Hearth (until verified) | 1 | none | {hearth_mb:.0} | {ratio:.2} × curl (goal 0.9) |");
    println!("| Hearth (until last byte) | 1 | none | {hearth_transfer_mb:.0} | {transfer_ratio:.2} × curl |");
    println!(
        "| curl, then sha256 of its copy | 1 | none | {curl_sha_mb:.0} | Hearth (until verified) is {:.2} × this |",
        hearth_mb / curl_sha_mb
    );
    for r in &throttled {
        let name = if r["client"] == "curl" { "curl".to_string() } else { "Hearth (until verified)".to_string() };
        println!(
            "| {name} | {} | 20 MB/s | {:.1} | {:.2} × N × 20 MB/s{} |",
            r["connections"],
            r["mb_per_s"].as_f64().unwrap_or(f64::NAN),
            r["fraction"].as_f64().unwrap_or(f64::NAN),
            if r["client"] == "curl" { "" } else { " (goal 0.8)" }
        );
    }
    println!();
    println!("(written to {})", json_path.display());
    drop(mock);
    drop(client_rt);
    drop(server_rt);
    Ok(())
}
