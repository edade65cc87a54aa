//! Many clients streaming at once against a running server, for the load test (tests/real_model.rs,
//! small) and the load example (examples/load_test.rs, 8 × 20): every request must end with
//! `[DONE]` or a clean 429; the figures are requests/s, tokens/s, time to first token, and the
//! worker's resident memory before and after.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub completed: usize,
    pub busy: usize,
    /// Anything else: (status, body), which the tests refuse.
    pub other: Vec<(u16, String)>,
    pub wall_s: f64,
    pub completion_tokens: u64,
    /// Milliseconds from sending to the first chunk with text, of completed requests, sorted.
    pub ttft_ms: Vec<f64>,
}

impl Figures {
    pub fn requests_per_s(&self) -> f64 {
        self.completed as f64 / self.wall_s
    }
    pub fn tokens_per_s(&self) -> f64 {
        self.completion_tokens as f64 / self.wall_s
    }
    pub fn ttft_percentile(&self, p: f64) -> f64 {
        if self.ttft_ms.is_empty() {
            return f64::NAN;
        }
        let i = ((self.ttft_ms.len() as f64 - 1.0) * p).round() as usize;
        self.ttft_ms[i.min(self.ttft_ms.len() - 1)]
    }
}

enum Outcome {
    Completed { ttft_ms: f64, tokens: u64 },
    Busy,
    Other(u16, String),
}

async fn one(client: &reqwest::Client, base: &str, model: &str, n: usize, max_tokens: u32) -> Outcome {
    let prompts = ["Name a colour.", "Say hello.", "What is 2+2?", "Name a fruit.", "Count to three."];
    let body = json!({
        "model": model,
        "messages": [{"role": "user", "content": prompts[n % prompts.len()]}],
        "max_tokens": max_tokens,
        "temperature": 0.7,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let sent = Instant::now();
    let mut r = match client.post(format!("{base}/v1/chat/completions")).json(&body).send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Other(0, e.to_string()),
    };
    let status = r.status().as_u16();
    if status == 429 {
        let retry = r.headers().get("retry-after").is_some();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        return if retry && body["error"]["code"] == "queue_full" { Outcome::Busy } else { Outcome::Other(429, body.to_string()) };
    }
    if status != 200 {
        return Outcome::Other(status, r.text().await.unwrap_or_default());
    }
    let (mut buf, mut ttft, mut tokens, mut done) = (String::new(), None, 0, false);
    loop {
        match r.chunk().await {
            Ok(Some(bytes)) => buf.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(None) => break,
            Err(e) => return Outcome::Other(200, format!("stream broke: {e}")),
        }
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
            if data == "[DONE]" {
                done = true;
                continue;
            }
            let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
            if v.get("error").is_some() {
                return Outcome::Other(200, data.to_string());
            }
            if ttft.is_none() && v["choices"][0]["delta"]["content"].as_str().is_some_and(|c| !c.is_empty()) {
                ttft = Some(sent.elapsed().as_secs_f64() * 1000.0);
            }
            if let Some(n) = v["usage"]["completion_tokens"].as_u64() {
                tokens = n;
            }
        }
    }
    if !done {
        return Outcome::Other(200, "the stream ended without [DONE]".into());
    }
    // A reply that is only an end of turn has no text: its first chunk is as good.
    Outcome::Completed { ttft_ms: ttft.unwrap_or_else(|| sent.elapsed().as_secs_f64() * 1000.0), tokens }
}

/// `clients` tasks, each sending `per_client` streamed requests one after the other.
pub async fn run(base: &str, model: &str, clients: usize, per_client: usize, max_tokens: u32) -> Figures {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (base, model) = (base.to_string(), model.to_string());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(300)).build().unwrap_or_default();
            let mut outcomes = Vec::new();
            for i in 0..per_client {
                outcomes.push(one(&client, &base, &model, c * per_client + i, max_tokens).await);
            }
            outcomes
        }));
    }
    let mut f = Figures::default();
    for t in tasks {
        for o in t.await.unwrap_or_default() {
            match o {
                Outcome::Completed { ttft_ms, tokens } => {
                    f.completed += 1;
                    f.completion_tokens += tokens;
                    f.ttft_ms.push(ttft_ms);
                }
                Outcome::Busy => f.busy += 1,
                Outcome::Other(status, body) => f.other.push((status, body)),
            }
        }
    }
    f.wall_s = started.elapsed().as_secs_f64();
    f.ttft_ms.sort_by(f64::total_cmp);
    f
}

/// Resident memory of a process, in KiB (`VmRSS` in /proc; Linux only).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time a process has used (user + system), in clock ticks (`/proc/PID/stat`; Linux only).
#[allow(dead_code)] // the load example does not use it
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}
