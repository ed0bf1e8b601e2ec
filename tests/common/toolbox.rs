//! Helpers for the tests of chapters 13 to 16, whose programs take no peer: each runs once,
//! prints a report of `== section` headers and result lines, and exits.
//!
//! A test file includes it with `#[path = "common/toolbox.rs"] mod toolbox;` next to
//! `mod common;`.
#![allow(dead_code)] // each test file uses only part of it

use crate::common::{Output, run};

/// Runs `name` with no arguments and checks that it succeeded and printed no error.
pub fn run_ok(name: &str) -> Output {
    let output = run(name, &[]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(output.stderr, "", "{output:?}");
    output
}

/// The first stdout line that starts with `prefix`; panics with the whole output if none does.
pub fn line<'a>(output: &'a Output, prefix: &str) -> &'a str {
    output
        .stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in {output:#?}"))
}
