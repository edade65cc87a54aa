#!/usr/bin/env python3
"""Checks that errors cross crates as values, never as their text (docs/STYLE.md, "Errors").

A Hearth error is written as a sentence once, by the crate that knows what went wrong, in its
`error.rs` (a `types::Problem`: a sentence for the person, one for a client of the API). Everywhere
else an error goes on as a value (`?`, `From`, a variant that holds it). This script reads every
non-test Rust source of the workspace and fails on the forms that turned an error into English
somewhere else:

- a `HearthError::new(code, message)` whose message holds an error's text: `e.to_string()`, `{e}`,
  `format!(…, e)`, where `e` is a conventional name for an error (`e`, `err`, `error`, `other`);
- `HearthError::new(x.code(), …)`: another error re-wrapped by hand.

`.with_details(e.to_string())` stays allowed: details hold another program's own words (SQLite's,
the operating system's, a dialog's) for a bug report, and neither the window's sentence nor the API
shows them. A script cannot tell a Hearth error from a library's by its name; the rule for people is
that a Hearth error goes into another by value (`From`, a variant that holds it), and review keeps
it. Run: `python3 docs/error-text.py`.
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
CALLS = re.compile(r"HearthError::new\(")
REWRAP = re.compile(r"HearthError::new\(\s*\w+\.code\(\)")


def call_text(text: str, start: int) -> str:
    """The text of the call whose `(` ends at `start`, up to its matching `)`."""
    depth = 1
    i = start
    while i < len(text) and depth:
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    return text[start:i]


def top_level_comma(args: str) -> int:
    """Where the call's first argument ends."""
    depth = 0
    for i, c in enumerate(args):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            return i
    return len(args)


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
            message = args[top_level_comma(args) + 1 :]
            line = text.count("\n", 0, m.start()) + 1
            if STRINGIFIED.search(message):
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
