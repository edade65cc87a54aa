//! A hostile chat template cannot exhaust memory (issue 13, item 5). minijinja's fuel pays for
//! instructions and for most bytes a template makes, but each template below makes a gigabyte in
//! a step or two that fuel does not see (turning a value into text, widths and indents, amplifying
//! filters, `split`): each must stop with `TooLarge` (or out of fuel), and this process's peak
//! memory must grow by less than `BOUND` over all of them.
//!
//! One test in this file on purpose: the peak (VmHWM) is the whole process's, so nothing else may
//! run beside it.

use std::time::{Duration, Instant};

use prompt::template::{ChatTemplate, TemplateError, TemplateInputs};
use types::{ChatMessage, ChatRole};

/// What the renders below may add to the peak memory of the process. Fuel pays for at most
/// `FUEL × 64` = 64 MiB of data a render makes, and minijinja copies a string once as it makes it
/// (String to Arc<str>): 128 MiB at worst, plus what is checked before it is made (`MAX_TEXT`,
/// 16 MiB, and the prompt's buffer). Measured here: 96 MiB.
const BOUND_MIB: u64 = 160;

/// Each makes a gigabyte or more if nothing stops it.
const ATTACKS: &[(&str, &str)] = &[
    // A lazily repeated list costs nothing until it is printed: a million 1000-byte strings.
    ("concat of a repeated list", "{{ ('' ~ (['x' * 1000] * 1000000))|length }}"),
    ("string filter of a repeated list", "{{ (['x' * 1000] * 1000000)|string|length }}"),
    ("join of a repeated list", "{{ (['x' * 1000] * 1000000)|join|length }}"),
    ("format of a repeated list", "{{ '%s'|format(['x' * 1000] * 1000000)|length }}"),
    ("str.format of a repeated list", "{{ '{}'.format(['x' * 1000] * 1000000)|length }}"),
    ("in with a repeated list", "{{ (['x' * 1000] * 1000000) in 'abc' }}"),
    ("set block of a repeated list", "{% set s %}{{ ['x' * 1000] * 1000000 }}{% endset %}{{ s|length }}"),
    // Two slots a step, the text doubles: 2^20 copies of 1000 bytes.
    (
        "a list doubled in a loop",
        "{% set ns = namespace(l=['x' * 1000]) %}{% for i in range(20) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ (ns.l|string)|length }}",
    ),
    // Sizes the template picks.
    ("str.format width", "{{ '{:>1000000000}'.format('x')|length }}"),
    ("tojson indent", "{{ [[1]]|tojson(indent=1000000000)|length }}"),
    ("strftime_now amplification", "{{ strftime_now('%c' * 20000000)|length }}"),
    ("str.split into pieces", "{{ (',' * 30000000).split(',')|length }}"),
    ("split filter into pieces", "{{ (',' * 30000000)|split(',')|length }}"),
    ("escape amplification", "{{ ('\"' * 30000000)|e|length }}"),
    ("upper amplification", "{{ ('ΐ' * 15000000)|upper|length }}"),
    // Data that fuel pays for, but more than a prompt may be.
    ("a prompt past the cap", "{% for i in range(3000) %}{{ 'y' * 10000 }}{% endfor %}"),
    ("raise_exception with a huge message", "{{ raise_exception(['x' * 1000] * 1000000) }}"),
    ("debug() of everything", "{% set ns = namespace(l=['x' * 1000] * 1000000) %}{{ debug() }}"),
];

fn hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[test]
fn templates_that_would_make_a_gigabyte_are_stopped_within_a_memory_bound() {
    let messages = [ChatMessage::new(ChatRole::User, "Hello!")];
    let inputs = TemplateInputs { messages: &messages, add_generation_prompt: true, bos_token: "", eos_token: "", tools: None };
    let before = hwm_kib();
    let mut wrong = Vec::new();
    for (name, source) in ATTACKS {
        let started = Instant::now();
        let result = ChatTemplate::new(source).and_then(|t| t.render(&inputs));
        let took = started.elapsed();
        println!("{name}: {result:?} after {took:?}, peak +{} MiB", hwm_kib().saturating_sub(before) / 1024);
        match result {
            Err(TemplateError::TooLarge(_) | TemplateError::OutOfFuel) => {}
            // `debug` is gone: calling it is an unknown function.
            Err(TemplateError::Render(e)) if name.starts_with("debug") && e.contains("unknown function") => {}
            other => wrong.push(format!("{name}: {other:?}")),
        }
        if took > Duration::from_secs(5) {
            wrong.push(format!("{name}: took {took:?}"));
        }
    }
    let grown = hwm_kib().saturating_sub(before) / 1024;
    println!("peak memory grew by {grown} MiB over {} hostile templates (bound {BOUND_MIB} MiB)", ATTACKS.len());
    assert!(wrong.is_empty(), "not stopped as they should be:\n{}", wrong.join("\n"));
    assert!(grown < BOUND_MIB, "peak memory grew by {grown} MiB");
}
