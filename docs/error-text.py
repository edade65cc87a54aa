#!/usr/bin/env python3
"""Checks that errors cross crates as values, never as their text (docs/STYLE.md, "Errors").

A Hearth error is written as a sentence once, by the crate that knows what went wrong, in its
`error.rs` (a `types::Problem`: a sentence for the person, one for a client of the API). Everywhere
else an error goes on as a value (`?`, `From`, a variant that holds it). This script reads every
non-test Rust source of the workspace and fails on the forms that turned an error into English
somewhere else:

- `HearthError::new(…)` or `.with_details(…)` given an error's text: `e.to_string()`, `{e}`,
  `format!(…, e)`, where `e` is a conventional name for an error (`e`, `err`, `error`, `other`);
- `HearthError::new(x.code(), …)`: another error re-wrapped by hand.

The edges that write sentences for people (the CLI, the app's shell) may print errors; they still
build `HearthError`s only from typed errors. Run: `python3 docs/error-text.py`.
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = ROOT / "src-tauri"

ERROR_NAME = r"(?:e|err|error|other)"
STRINGIFIED = re.compile(
    rf"\b{ERROR_NAME}\.to_string\(\)|\{{{ERROR_NAME}(?::[^}}]*)?\}}|format!\([^;]*,\s*{ERROR_NAME}\s*\)"
)
CALLS = re.compile(r"HearthError::new\(|\.with_details\(")
REWRAP = re.compile(r"HearthError::new\(\s*\w+\.code\(\)")


def call_text(text: str, start: int) -> str:
    """The text of the call whose `(` ends at `start`, up to its matching `)`."""
    depth = 1
    i = start
    while i < len(text) and depth:
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    return text[start:i]


def non_test(text: str) -> str:
    """The source without its `#[cfg(test)]` module (by convention the file's last item)."""
    cut = text.find("#[cfg(test)]\nmod tests")
    return text if cut < 0 else text[:cut]


def main() -> int:
    problems = []
    for path in sorted(SOURCES.rglob("*.rs")):
        rel = path.relative_to(ROOT)
        parts = set(rel.parts)
        if parts & {"target", "tests", "benches", "examples", "fuzz"} or path.name in ("error.rs", "tests.rs"):
            continue
        text = non_test(path.read_text(encoding="utf-8"))
        for m in CALLS.finditer(text):
            args = call_text(text, m.end())
            line = text.count("\n", 0, m.start()) + 1
            if STRINGIFIED.search(args):
                problems.append(f"{rel}:{line}: an error's text goes into a HearthError; give the crate a typed error (error.rs) instead")
        for m in REWRAP.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            problems.append(f"{rel}:{line}: an error re-wrapped by hand; convert it with From (types::Problem)")
    for p in problems:
        print(p)
    if problems:
        print(f"error-text: {len(problems)} place(s) turn an error into English outside its crate's error.rs")
        return 1
    print("error-text: every error crosses crates as a value")
    return 0


if __name__ == "__main__":
    sys.exit(main())
