//! A JSON schema's grammar, made where a failure of llama.cpp's is an error and not a crash.
//!
//! `schema::check` refuses every schema known to trip llama.cpp's converter or grammar parser, but
//! both are C++ that can abort the process or loop without end on input nobody has thought of yet
//! (a count `{2,1}` kept the parser busy for minutes). So the worker does not run them itself: it
//! starts a copy of its own executable in grammar mode (`serve_if_asked`), hands it the schema on
//! stdin and takes the grammar from its stdout. A copy that dies, fails or takes longer than
//! `TIME_LIMIT` is an error for that one request; the worker, its model and every other reply go
//! on. The worker then builds its grammar sampler from text llama.cpp has already parsed once.
//! Grammars are kept by schema (`CACHE`), so a client that sends the same schema each time (as
//! agents do) pays the copy's start, about 20 ms, once.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Set in the environment of the copy that makes a grammar.
const MODE_ENV: &str = "HEARTH_ENGINE_GRAMMAR_MODE";
/// How long the copy may take. The converter and parser take milliseconds on every schema
/// `schema::check` lets through; this only bounds what nobody has foreseen.
pub const TIME_LIMIT: Duration = Duration::from_secs(10);
/// Grammars kept, most recently used last.
const CACHED: usize = 32;
static CACHE: Mutex<VecDeque<(String, String)>> = Mutex::new(VecDeque::new());

/// The grammar llama.cpp's converter makes for `schema` (JSON text), converted and parsed in a copy
/// of this process. `Err` says why in words.
pub fn from_schema(schema: &str) -> Result<String, String> {
    if let Some(hit) = cached(schema) {
        return Ok(hit);
    }
    let exe = std::env::current_exe().map_err(|e| format!("the engine could not find its own program ({e})"))?;
    // The same arguments: they are what makes the program the engine's worker.
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let grammar = make_in(&Command::new(exe).args(args), schema, TIME_LIMIT)?;
    remember(schema, &grammar);
    Ok(grammar)
}

/// The grammar for `schema`, made by `program` (the engine's worker program, with the arguments that
/// make it one) in grammar mode, given at most `limit`.
pub fn make_in(program: &Command, schema: &str, limit: Duration) -> Result<String, String> {
    let mut child = Command::new(program.get_program())
        .args(program.get_args())
        .env(MODE_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("the engine could not start its grammar maker ({e})"))?;
    let mut stdin = child.stdin.take().ok_or("the grammar maker has no input")?;
    let mut stdout = child.stdout.take().ok_or("the grammar maker has no output")?;
    let written = stdin.write_all(schema.as_bytes());
    drop(stdin);
    // Read on a thread of its own, so that the wait below can give up on a copy that hangs.
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).map(|_| out)
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < limit => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("llama.cpp's converter took longer than {} s on it", limit.as_secs_f32()));
            }
            Err(e) => return Err(format!("the grammar maker could not be waited for ({e})")),
        }
    };
    written.map_err(|e| format!("the grammar maker did not take the schema ({e})"))?;
    let out = reader.join().map_err(|_| "the grammar maker's output was lost".to_string())?.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out).into_owned();
    match status.code() {
        Some(0) => Ok(text),
        Some(_) => Err(text.trim().to_string()),
        None => Err(format!("llama.cpp's converter crashed on it ({status})")),
    }
}

fn cached(schema: &str) -> Option<String> {
    let mut cache = CACHE.lock().ok()?;
    let at = cache.iter().position(|(s, _)| s == schema)?;
    let hit = cache.remove(at)?;
    let grammar = hit.1.clone();
    cache.push_back(hit);
    Some(grammar)
}

fn remember(schema: &str, grammar: &str) {
    if let Ok(mut cache) = CACHE.lock() {
        if cache.len() >= CACHED {
            cache.pop_front();
        }
        cache.push_back((schema.to_string(), grammar.to_string()));
    }
}

/// In the copy started by `from_schema`: reads the schema from stdin, converts it and parses the
/// grammar as the sampler will (without a vocabulary, which only `<[id]>` tokens need and the
/// converter never writes), writes the grammar to stdout and exits 0; else writes why and exits 2.
/// `None` in any other process. Call first thing in the worker's entry point.
pub fn serve_if_asked() -> Option<ExitCode> {
    std::env::var_os(MODE_ENV)?;
    let mut schema = String::new();
    if std::io::stdin().read_to_string(&mut schema).is_err() {
        return Some(ExitCode::from(2));
    }
    let (text, code) = match make(&schema) {
        Ok(grammar) => (grammar, 0),
        Err(why) => (why, 2),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    Some(ExitCode::from(code))
}

// The parse without a vocabulary is not in llama-cpp-2's safe API (its grammar sampler takes a
// model, which this copy has not loaded): two calls into llama.cpp's C API.
#[allow(unsafe_code)]
fn make(schema: &str) -> Result<String, String> {
    let grammar = llama_cpp_2::json_schema_to_grammar(schema).map_err(|e| format!("llama.cpp could not turn it into a grammar ({e})"))?;
    let text = std::ffi::CString::new(grammar.as_str()).map_err(|_| "the grammar holds a NUL character".to_string())?;
    let root = c"root";
    // SAFETY: both strings are NUL-terminated and outlive the call; a null vocabulary is allowed
    // for parsing (llama.cpp's own grammar-parser tests do this), and the sampler is freed at once.
    let sampler = unsafe { llama_cpp_sys_2::llama_rs_sampler_init_grammar(std::ptr::null(), text.as_ptr(), root.as_ptr()) };
    if sampler.is_null() {
        return Err("llama.cpp refused the grammar made from it".into());
    }
    unsafe { llama_cpp_sys_2::llama_sampler_free(sampler) };
    Ok(grammar)
}
