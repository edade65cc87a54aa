//! Reading in a child process. The child is an executable that calls [`run_reader`] when started
//! with [`READER_FLAG`] (the app and the `hearth` CLI do, first thing in `main`; tests use this
//! crate's `hearth-document-reader`): it takes the file's bytes on stdin and its name as the
//! argument after the flag, and writes `Result<Document, DocumentError>` as JSON on stdout.
//!
//! The parent gives it a time limit and, on Linux, an address-space limit, and turns a child that
//! panicked, overflowed its stack, ran out of memory or hung into a `DocumentError` that says so.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::{read, Document, DocumentError, MAX_FILE_BYTES};

/// The first argument that makes an executable a document reader.
pub const READER_FLAG: &str = "--read-document";
/// How long one document may take: a 500-page PDF reads in a few seconds on a slow machine.
const TIME_LIMIT: Duration = Duration::from_secs(120);
/// The address space the child may map, on Linux: what a 128 MiB file's parse needs many times
/// over, and far less than a parser gone wrong would take from the machine.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const MEMORY_LIMIT: u64 = 4 * 1024 * 1024 * 1024;

/// What reads documents: a program started with [`READER_FLAG`].
#[derive(Debug, Clone)]
pub struct Reader {
    program: PathBuf,
    time_limit: Duration,
}

impl Reader {
    /// This very executable as the reader (it must call [`run_reader`] when given the flag).
    pub fn this_executable() -> Result<Self, DocumentError> {
        let program =
            std::env::current_exe().map_err(|e| DocumentError::Io { reason: format!("cannot find Hearth's own program ({e})") })?;
        Ok(Self::program(program))
    }

    /// Another program as the reader (tests: `hearth-document-reader`).
    pub fn program(program: impl Into<PathBuf>) -> Self {
        Self { program: program.into(), time_limit: TIME_LIMIT }
    }

    pub fn with_time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = limit;
        self
    }

    /// Reads a file: its size checked before a byte is read.
    pub fn read_file(&self, path: &Path, cancelled: &AtomicBool) -> Result<Document, DocumentError> {
        let io = |e: std::io::Error| DocumentError::Io { reason: format!("{}: {e}", path.display()) };
        let bytes = std::fs::metadata(path).map_err(io)?.len();
        if bytes > MAX_FILE_BYTES {
            return Err(DocumentError::TooLarge { bytes, limit: MAX_FILE_BYTES });
        }
        // Read through the bound too: a FIFO or a device reports no size.
        let mut data = Vec::new();
        std::fs::File::open(path).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut data)).map_err(io)?;
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        self.read(&data, &name, cancelled)
    }

    /// Reads a document's bytes in the child. `cancelled` is looked at while it runs.
    pub fn read(&self, bytes: &[u8], name: &str, cancelled: &AtomicBool) -> Result<Document, DocumentError> {
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(DocumentError::TooLarge { bytes: bytes.len() as u64, limit: MAX_FILE_BYTES });
        }
        let failed = |reason: String| DocumentError::ReaderFailed { reason };
        let mut command = Command::new(&self.program);
        command.arg(READER_FLAG).arg(argument_name(name)).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        limit_memory(&mut command);
        let mut child = command.spawn().map_err(|e| DocumentError::ReaderUnavailable { reason: e.to_string() })?;
        let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            return Err(failed("the reader has no pipes".into()));
        };
        // Each pipe on a thread of its own, so that a child that hangs or writes a lot cannot block
        // this side; the wait below gives up on it.
        let input = bytes.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = std::thread::spawn(move || {
            let mut out = Vec::new();
            stdout.read_to_end(&mut out).map(|_| out)
        });
        // The last 64 KiB of what it says: the cause of a death is at the end, after whatever
        // pages it caught panics on.
        let err = std::thread::spawn(move || {
            let (mut kept, mut chunk) = (Vec::new(), [0u8; 8192]);
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                kept.extend_from_slice(&chunk[..n]);
                if kept.len() > 128 * 1024 {
                    kept.drain(..kept.len() - 64 * 1024);
                }
            }
            String::from_utf8_lossy(&kept).into_owned()
        });
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if cancelled.load(Ordering::Relaxed) || started.elapsed() >= self.time_limit => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(if cancelled.load(Ordering::Relaxed) {
                        DocumentError::Cancelled
                    } else {
                        DocumentError::TimedOut { seconds: self.time_limit.as_secs() }
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(failed(format!("the reader could not be waited for: {e}")));
                }
            }
        };
        let _ = writer.join();
        let out = out.join().ok().and_then(Result::ok).unwrap_or_default();
        let err = err.join().unwrap_or_default();
        if status.success() {
            let answer = serde_json::from_slice::<Result<Document, DocumentError>>(&out)
                .map_err(|e| failed(format!("its answer was unreadable: {e}")))?;
            return match answer {
                Ok(document) if !document.is_consistent() => Err(failed("its pages do not lie in its text".into())),
                answer => answer,
            };
        }
        // A panic prints "panicked at …: message"; an allocation over the limit "memory allocation
        // of N bytes failed"; a signal leaves no line. The last line that says something is kept.
        let said = err.lines().rev().find(|l| !l.trim().is_empty() && !l.starts_with("note:")).unwrap_or("").trim().to_owned();
        let how = if said.is_empty() { format!("it stopped: {status}") } else { said };
        Err(failed(how))
    }
}

/// On Linux, the address space the child may map: at most `MEMORY_LIMIT`, never above the limit
/// this process already has, and a limit that cannot be set is no reason not to read (macOS refuses
/// RLIMIT_AS outright, so the time limit alone holds there, as on Windows).
#[cfg(target_os = "linux")]
fn limit_memory(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getrlimit and setrlimit are async-signal-safe, and nothing else runs between fork and
    // exec here.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(|| {
            let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            if libc::getrlimit(libc::RLIMIT_AS, &mut limit) == 0 {
                let wanted = (MEMORY_LIMIT as libc::rlim_t).min(limit.rlim_max);
                limit.rlim_cur = wanted.min(limit.rlim_cur);
                let _ = libc::setrlimit(libc::RLIMIT_AS, &limit);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn limit_memory(_command: &mut Command) {}

/// The file's name as the child's argument: no control characters (a NUL cannot be passed), at
/// most 255 bytes (a client's name is only a hint of the kind and a label).
fn argument_name(name: &str) -> String {
    let mut clean: String = name.chars().filter(|c| !c.is_control()).collect();
    if clean.len() > 255 {
        let keep = clean.rsplit_once('.').map(|(_, ext)| ext.len() + 1).filter(|&k| k <= 16).unwrap_or(0);
        let mut cut = 255 - keep;
        while !clean.is_char_boundary(cut) {
            cut -= 1;
        }
        let ext = clean[clean.len() - keep..].to_owned();
        clean.truncate(cut);
        clean.push_str(&ext);
    }
    clean
}

/// The reader's side: call first thing in `main` when the first argument is [`READER_FLAG`].
pub fn run_reader() -> ExitCode {
    let name = std::env::args().nth(2).unwrap_or_default();
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes) {
        eprintln!("the document could not be read from stdin: {e}");
        return ExitCode::from(2);
    }
    let result = read(&bytes, &name);
    let mut stdout = std::io::stdout().lock();
    match serde_json::to_writer(&mut stdout, &result).and_then(|()| stdout.flush().map_err(serde_json::Error::io)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("the answer could not be written: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_becomes_an_argument_without_controls_and_within_255_bytes() {
        assert_eq!(super::argument_name("a\0b\nc.pdf"), "abc.pdf");
        let long = format!("{}.docx", "é".repeat(300));
        let arg = super::argument_name(&long);
        assert!(arg.len() <= 255 && arg.ends_with(".docx"), "{arg}");
    }
}
