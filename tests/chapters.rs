//! Keeps the chapters honest. Run with `cargo test --test chapters`.
//!
//! - Listings: a chapter never retypes code. Every ```rust block follows a marker
//!   `<!-- listing: src/bin/02_tcp_server.rs:talk -->` and must equal the region between
//!   `// ANCHOR: talk` and `// ANCHOR_END: talk` in that file (nested anchor lines dropped,
//!   common indentation removed). After editing a listing, `BLESS=1 cargo test --test chapters`
//!   copies the regions into the chapters.
//! - Learners' edits: a learner who solves an exercise changes a listing, and the chapter keeps
//!   quoting the shipped version on purpose. So outside CI, a difference in a source file that
//!   differs from git's committed version (a learner's work in progress) is not a failure, and
//!   neither is a transcript that no longer matches while files under src/ are changed. With
//!   `CI` or `WORKBOOK_STRICT` set (as `.ci/run` does), every difference fails.
//! - Transcripts: a ```text block after `<!-- transcript -->` starts with `$ COMMAND`, where
//!   COMMAND is `scripts/demo.sh NN` or `cargo run -q --bin NAME [-- ARGS]`. The test runs it
//!   (stdout and stderr together) and compares line by line. In the expected text, `{PORT}`
//!   and `{N}` stand for a number, `{ADDR}` for an address such as `127.0.0.1:41234` or
//!   `[::1]:80`, and `{ANY}` for any text. A last line `(exit status N)` says the command
//!   fails with status N; without it, it must succeed.
//! - Shape: every binary has a chapter, a test file and a row in the README, and every chapter
//!   of a binary quotes it and has a transcript.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bin_dir, root, run_command};

struct Block {
    /// The marker line's argument: a `path:anchor` for listings, empty for transcripts.
    marker: String,
    kind: &'static str,
    /// Line numbers (0-based) of the block's first and last content lines, end exclusive.
    start: usize,
    end: usize,
    body: String,
}

fn chapters() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(root().join("chapters"))
        .expect("chapters/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

/// Finds the fenced blocks in a chapter, with the marker comment right before each (if any).
fn blocks(text: &str) -> Vec<(Option<Block>, String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].trim_start().strip_prefix("```") else {
            i += 1;
            continue;
        };
        let fence_line = i;
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && lines[end].trim_start() != "```" {
            end += 1;
        }
        let body = lines[start..end].join("\n");
        let marker_line = (0..fence_line)
            .rev()
            .find(|&j| !lines[j].trim().is_empty())
            .map(|j| lines[j].trim());
        let block = marker_line.and_then(|m| {
            let m = m.strip_prefix("<!--")?.strip_suffix("-->")?.trim();
            if let Some(rest) = m.strip_prefix("listing:") {
                Some(("listing", rest.trim().to_string()))
            } else if m == "transcript" {
                Some(("transcript", String::new()))
            } else {
                None
            }
        });
        let block = block.map(|(kind, marker)| Block {
            marker,
            kind,
            start,
            end,
            body: body.clone(),
        });
        found.push((block, lang.trim().to_string(), fence_line + 1));
        i = end + 1;
    }
    found
}

/// The anchored region `name` of `path`, dedented, without nested anchor lines.
fn anchored(path: &Path, name: &str) -> Result<String, String> {
    let source = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let begin = format!("// ANCHOR: {name}");
    let finish = format!("// ANCHOR_END: {name}");
    let mut inside = false;
    let mut region = Vec::new();
    for line in source.lines() {
        let trimmed = line.trim();
        if trimmed == begin {
            inside = true;
        } else if trimmed == finish {
            if !inside {
                return Err(format!("{}: {finish} before {begin}", path.display()));
            }
            let indent = region
                .iter()
                .filter(|l: &&&str| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            let lines: Vec<&str> = region
                .iter()
                .map(|l| {
                    if l.len() >= indent {
                        &l[indent..]
                    } else {
                        l.trim_start()
                    }
                })
                .collect();
            return Ok(lines.join("\n"));
        } else if inside && !trimmed.starts_with("// ANCHOR") {
            region.push(line);
        }
    }
    Err(format!("{}: no anchor {name:?}", path.display()))
}

/// Does every difference count? Yes under CI (`.ci/run` sets `WORKBOOK_STRICT`), where the
/// shipped workbook is checked.
fn strict() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("WORKBOOK_STRICT").is_some()
}

/// Has the learner changed `path` (relative to the root, or a folder) since it was committed?
/// Without git, or for a file git does not know, the answer is no: the check stays strict.
fn edited_by_learner(path: &str) -> bool {
    if strict() {
        return false;
    }
    Command::new("git")
        .args(["diff", "--quiet", "HEAD", "--", path])
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.code() == Some(1))
}

fn listing_source(marker: &str) -> Result<String, String> {
    let (path, name) = marker
        .rsplit_once(':')
        .ok_or_else(|| format!("listing marker {marker:?} is not PATH:ANCHOR"))?;
    anchored(&root().join(path), name)
}

#[test]
fn every_rust_block_is_quoted_from_its_anchor() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut problems = Vec::new();
    for chapter in chapters() {
        let text = fs::read_to_string(&chapter).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let mut changed = false;
        // Rewrite from the end so earlier line numbers stay valid.
        for (block, lang, fence) in blocks(&text).into_iter().rev() {
            let name = chapter.file_name().unwrap().to_string_lossy();
            match block {
                Some(block) if block.kind == "listing" => match listing_source(&block.marker) {
                    Ok(source) if source == block.body => {}
                    Ok(source) if bless => {
                        lines.splice(block.start..block.end, source.lines().map(String::from));
                        changed = true;
                    }
                    // A learner's exercise: the chapter goes on quoting the shipped listing.
                    Ok(_) if edited_by_learner(block.marker.rsplit_once(':').unwrap().0) => {}
                    Ok(_) => problems.push(format!(
                        "{name}:{fence}: block differs from {} (a workbook developer runs BLESS=1 cargo test --test chapters to copy the listing into the chapter; a learner whose committed exercise changed the listing can ignore this)",
                        block.marker
                    )),
                    Err(e) => problems.push(format!("{name}:{fence}: {e}")),
                },
                _ if lang == "rust" => problems.push(format!(
                    "{name}:{fence}: rust block without a <!-- listing: PATH:ANCHOR --> marker"
                )),
                _ => {}
            }
        }
        if changed {
            fs::write(&chapter, lines.join("\n") + "\n").unwrap();
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Does `actual` match `expected`, where expected may hold placeholders?
fn line_matches(expected: &str, actual: &str) -> bool {
    let Some(open) = expected.find('{') else {
        return expected == actual;
    };
    let Some(close) = expected[open..].find('}').map(|c| open + c) else {
        return expected == actual;
    };
    let (literal, placeholder, rest) = (
        &expected[..open],
        &expected[open + 1..close],
        &expected[close + 1..],
    );
    let Some(after_literal) = actual.strip_prefix(literal) else {
        return false;
    };
    let allowed: fn(char) -> bool = match placeholder {
        "PORT" | "N" => |c| c.is_ascii_digit(),
        "ADDR" => |c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'),
        "ANY" => |_| true,
        _ => return expected.starts_with(literal) && actual == expected, // a literal brace
    };
    // Try every length the placeholder could take, shortest first (at least one character).
    let mut end = 0;
    for (index, c) in after_literal.char_indices() {
        if !allowed(c) {
            break;
        }
        end = index + c.len_utf8();
        if line_matches(rest, &after_literal[end..]) {
            return true;
        }
    }
    end == 0 && placeholder == "ANY" && line_matches(rest, after_literal)
}

/// Turns a transcript's command into something to run from the workbook's root.
fn command_for(line: &str) -> Command {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["cargo", "run", "-q", "--bin", name, rest @ ..] => {
            let args = match rest {
                ["--", args @ ..] => args,
                [] => &[],
                _ => panic!("transcript command {line:?}: put the arguments after --"),
            };
            let mut command = Command::new(bin_dir().join(name));
            command.args(args);
            command
        }
        [script, args @ ..] if script.starts_with("scripts/") => {
            let mut command = Command::new("bash");
            command.arg(root().join(script)).args(args);
            command
        }
        _ => panic!("transcript command {line:?} is neither `cargo run -q --bin` nor scripts/"),
    }
}

/// For `scripts/demo.sh NN`: a tool that the demo's `# needs: TOOL` line names and that is
/// not on this machine's PATH.
fn missing_tool(command_line: &str) -> Option<String> {
    let number = command_line.strip_prefix("scripts/demo.sh ")?;
    let demo = fs::read_to_string(root().join(format!("scripts/demos/{number}.sh"))).ok()?;
    demo.lines()
        .filter_map(|l| l.strip_prefix("# needs: "))
        .find(|tool| {
            !Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}"))
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(str::to_string)
}

#[test]
fn every_transcript_matches_a_real_run() {
    // Every transcript block, as (page, line, the block's text).
    let mut jobs = Vec::new();
    for chapter in chapters() {
        let text = fs::read_to_string(&chapter).unwrap();
        let name = chapter.file_name().unwrap().to_string_lossy().into_owned();
        for (block, _, fence) in blocks(&text) {
            if let Some(block) = block.filter(|b| b.kind == "transcript") {
                jobs.push((name.clone(), fence, block.body));
            }
        }
    }
    assert!(!jobs.is_empty(), "no transcripts found");
    // The longest runs are in the last chapters (27's keepalive experiment alone takes 2 s):
    // starting from the end lets the short ones fill in beside them.
    jobs.reverse();
    // The runs mostly wait (for servers, timeouts and clients), so six at a time take much
    // less time than one after another. Every demo and command uses port 0 or refuses before
    // it binds.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut problems: Vec<(usize, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    let mut found = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some((name, fence, body)) = jobs.get(i) else {
                            return found;
                        };
                        if let Some(problem) = check_transcript(name, *fence, body) {
                            found.push((i, problem));
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    problems.sort();
    let problems: Vec<String> = problems.into_iter().map(|(_, p)| p).collect();
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}

/// Runs one transcript's command and compares what it prints with the block: the problem in
/// words, or `None` when they match.
fn check_transcript(name: &str, fence: usize, body: &str) -> Option<String> {
    let mut expected: Vec<&str> = body.lines().collect();
    let Some(command_line) = expected.first().and_then(|l| l.strip_prefix("$ ")) else {
        return Some(format!(
            "{name}:{fence}: a transcript starts with `$ COMMAND`"
        ));
    };
    let command_line = command_line.to_string();
    expected.remove(0);
    let mut want_status = 0;
    if let Some(last) = expected.last()
        && let Some(code) = last
            .strip_prefix("(exit status ")
            .and_then(|r| r.strip_suffix(')'))
    {
        want_status = code.parse().expect("exit status is a number");
        expected.pop();
    }
    // A demo may need a tool that a fresh machine can lack (`# needs: ss`): without it, a
    // learner's run skips that transcript and says why; CI has every tool.
    if let Some(missing) = missing_tool(&command_line)
        && !strict()
    {
        eprintln!("{name}:{fence}: skipped `{command_line}`: it needs `{missing}`");
        return None;
    }
    // stdout and stderr into one pipe, in the order the program wrote them.
    let command = command_for(&command_line);
    let program = format!("{:?}", command.get_program());
    let mut shell = Command::new("bash");
    shell
        .arg("-c")
        .arg("exec \"$@\" 2>&1")
        .arg("transcript")
        .arg(command.get_program())
        .args(command.get_args())
        .current_dir(root())
        .env("WORKBOOK_BIN_DIR", bin_dir());
    let output = run_command(&mut shell);
    let actual: Vec<&str> = output.stdout.lines().collect();
    let status = output.code().unwrap_or(-1);
    let same = actual.len() == expected.len()
        && expected
            .iter()
            .zip(&actual)
            .all(|(e, a)| line_matches(e, a));
    if (!same || status != want_status) && !edited_by_learner("src") {
        return Some(format!(
            "{name}:{fence}: `{command_line}` ({program}) exited {status} (want {want_status}) and printed:\n{}\n--- but the chapter says:\n{}",
            actual.join("\n"),
            expected.join("\n")
        ));
    }
    None
}

#[test]
fn placeholders_match_what_they_should() {
    assert!(line_matches(
        "Listening on 127.0.0.1:{PORT}",
        "Listening on 127.0.0.1:4123"
    ));
    assert!(!line_matches(
        "Listening on 127.0.0.1:{PORT}",
        "Listening on 127.0.0.1:"
    ));
    assert!(!line_matches(
        "Listening on 127.0.0.1:{PORT}",
        "Listening on 127.0.0.1:41x"
    ));
    assert!(line_matches("from {ADDR}...", "from 127.0.0.1:5000..."));
    assert!(line_matches(
        "from {ADDR} closed.",
        "from [::1]:5000 closed."
    ));
    assert!(line_matches("a {ANY} z", "a b c z"));
    assert!(line_matches("took {N} ms", "took 12 ms"));
    assert!(!line_matches("took {N} ms", "took 12 s"));
    assert!(line_matches("exact", "exact"));
    assert!(!line_matches("exact", "exact!"));
}

/// The binaries in src/bin, by name: a one-file binary by its file stem (`01_tcp_client` for
/// src/bin/01_tcp_client.rs), and a binary made of several modules by its directory's name
/// (`17_http_server` for src/bin/17_http_server/main.rs), as Cargo names them.
fn binaries() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("src/bin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| binary_name(&p))
        .collect();
    names.sort();
    names
}

/// The binary that an entry of src/bin is, if any: `NAME.rs`, or a directory `NAME/` holding
/// a `main.rs`.
fn binary_name(entry: &Path) -> Option<String> {
    let is_binary = if entry.is_dir() {
        entry.join("main.rs").is_file()
    } else {
        entry.extension().is_some_and(|e| e == "rs")
    };
    let name = if entry.is_dir() {
        entry.file_name()
    } else {
        entry.file_stem()
    };
    is_binary.then(|| name.unwrap().to_string_lossy().into_owned())
}

#[test]
fn directory_binaries_are_found_and_their_modules_quoted() {
    let dir = std::env::temp_dir().join(format!("workbook-bins-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("17_server")).unwrap();
    fs::create_dir_all(dir.join("18_no_main")).unwrap();
    fs::write(dir.join("02_server.rs"), "").unwrap();
    fs::write(dir.join("17_server/main.rs"), "").unwrap();
    fs::write(
        dir.join("17_server/pool.rs"),
        "// ANCHOR: pool\n    struct Pool;\n// ANCHOR_END: pool\n",
    )
    .unwrap();
    fs::write(dir.join("notes.txt"), "").unwrap();
    let name = |entry: &str| binary_name(&dir.join(entry));
    assert_eq!(name("02_server.rs").as_deref(), Some("02_server"));
    assert_eq!(name("17_server").as_deref(), Some("17_server"));
    assert_eq!(
        name("18_no_main"),
        None,
        "a directory without main.rs is no binary"
    );
    assert_eq!(name("notes.txt"), None);
    // A marker `src/bin/17_server/pool.rs:pool` splits at its last colon.
    let marker = format!("{}:pool", dir.join("17_server/pool.rs").display());
    let (path, anchor) = marker.rsplit_once(':').unwrap();
    assert_eq!(anchored(Path::new(path), anchor).unwrap(), "struct Pool;");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_binary_has_a_chapter_a_test_and_a_readme_row() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let index = fs::read_to_string(root().join("chapters/README.md")).unwrap();
    let mut problems = Vec::new();
    for name in binaries() {
        // A binary has its own chapter, or (like a small client that goes with a server)
        // shares the chapter of its number: 18_tls_client is taught in 18_tls_server.md.
        let number = &name[..name.find('_').unwrap_or(0)];
        let own = root().join(format!("chapters/{name}.md"));
        let chapter = if own.exists() {
            Some(own)
        } else {
            chapters().into_iter().find(|c| {
                c.file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with(&format!("{number}_")))
            })
        };
        match chapter.map(fs::read_to_string) {
            None | Some(Err(_)) => problems.push(format!("{name}: no chapters/{name}.md")),
            Some(Ok(text)) => {
                let found = blocks(&text);
                let quotes_itself = found.iter().any(|(b, _, _)| {
                    b.as_ref()
                        .is_some_and(|b| b.kind == "listing" && b.marker.contains(&name))
                });
                if !quotes_itself {
                    problems.push(format!("{name}: its chapter quotes none of its anchors"));
                }
                if !found
                    .iter()
                    .any(|(b, _, _)| b.as_ref().is_some_and(|b| b.kind == "transcript"))
                {
                    problems.push(format!("{name}: its chapter has no checked transcript"));
                }
                if !text.contains("exercise_") {
                    problems.push(format!("{name}: its chapter names no exercise check"));
                }
            }
        }
        if !root().join(format!("tests/{name}.rs")).exists() {
            problems.push(format!("{name}: no tests/{name}.rs"));
        }
        if !readme.contains(&format!("`{name}`")) {
            problems.push(format!("{name}: not in the README's table"));
        }
        // A binary that shares its number's chapter is listed there by name (`18_tls_client`).
        if !index.contains(&format!("{name}.md")) && !index.contains(&format!("`{name}`")) {
            problems.push(format!("{name}: not in chapters/README.md"));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_relative_link_points_to_a_file() {
    let mut files = chapters();
    files.push(root().join("README.md"));
    let mut problems = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let dir = file.parent().unwrap();
        for piece in text.split("](").skip(1) {
            let Some(target) = piece.split(')').next() else {
                continue;
            };
            let target = target.split('#').next().unwrap_or_default();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            if !dir.join(target).exists() {
                problems.push(format!("{}: link to missing {target}", file.display()));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The `exercise_*` checks of every test file, as (test file stem, check name).
fn listed_exercise_checks() -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in fs::read_dir(root().join("tests")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        for line in fs::read_to_string(&path).unwrap().lines() {
            if let Some(rest) = line.strip_prefix("fn exercise_") {
                let name = rest.split('(').next().unwrap_or_default();
                found.push((stem.clone(), format!("exercise_{name}")));
            }
        }
    }
    found.sort();
    found
}

/// Every exercise has a hint, a reference solution and at least two known mistakes, each
/// mistake saying what it gets wrong and how its check fails (`scripts/check_solutions.sh`,
/// run by `.ci/run`, applies them); and every solutions folder belongs to a real check.
#[test]
fn every_exercise_has_a_hint_a_solution_and_known_mistakes() {
    let checks = listed_exercise_checks();
    assert!(!checks.is_empty(), "no exercise_* checks found");
    let mut problems = Vec::new();
    for (chapter, name) in &checks {
        let dir = root().join(format!("solutions/{chapter}/{name}"));
        let id = format!("{chapter}/{name}");
        for file in ["hint.md", "solution.patch"] {
            if !dir.join(file).is_file() {
                problems.push(format!("{id}: no solutions/{id}/{file}"));
            }
        }
        let mistakes: Vec<PathBuf> = fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .filter(|p| {
                        p.file_name()
                            .is_some_and(|f| f.to_string_lossy().starts_with("mistake_"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if mistakes.len() < 2 {
            problems.push(format!(
                "{id}: {} known mistakes, want at least 2",
                mistakes.len()
            ));
        }
        for mistake in mistakes {
            let text = fs::read_to_string(&mistake).unwrap();
            let head = text.split("diff --git").next().unwrap_or_default();
            for field in ["Mistake: ", "Fails with: "] {
                if !head
                    .lines()
                    .any(|l| l.starts_with(field) && l.len() > field.len())
                {
                    problems.push(format!("{}: no `{field}` line", mistake.display()));
                }
            }
        }
    }
    for chapter in fs::read_dir(root().join("solutions")).unwrap() {
        let chapter = chapter.unwrap().path();
        if !chapter.is_dir() {
            continue;
        }
        for exercise in fs::read_dir(&chapter).unwrap() {
            let exercise = exercise.unwrap().path();
            let pair = (
                chapter.file_name().unwrap().to_string_lossy().into_owned(),
                exercise.file_name().unwrap().to_string_lossy().into_owned(),
            );
            if !checks.contains(&pair) {
                problems.push(format!("{}: no such exercise check", exercise.display()));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The `](target)` link targets of a Markdown text, in order, without `#anchors`.
fn link_targets(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|piece| piece.split(')').next())
        .map(|target| target.split('#').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_book_lists_every_page_once_in_the_order_of_the_index() {
    // mdBook renders only the pages that chapters/SUMMARY.md names (book.toml); a page
    // missing there would be missing from the book, and links to it would break.
    let summary = link_targets(&fs::read_to_string(root().join("chapters/SUMMARY.md")).unwrap());
    let mut problems = Vec::new();
    for page in chapters() {
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let times = summary.iter().filter(|t| **t == name).count();
        if name != "SUMMARY.md" && times != 1 {
            problems.push(format!(
                "{name}: named {times} times in chapters/SUMMARY.md"
            ));
        }
    }
    let index = link_targets(&fs::read_to_string(root().join("chapters/README.md")).unwrap());
    let in_both = |list: &[String], other: &[String]| -> Vec<String> {
        list.iter().filter(|t| other.contains(t)).cloned().collect()
    };
    if in_both(&summary, &index) != in_both(&index, &summary) {
        problems.push(
            "chapters/SUMMARY.md and chapters/README.md list pages in different orders".into(),
        );
    }
    for target in &summary {
        if !root().join("chapters").join(target).exists() {
            problems.push(format!("chapters/SUMMARY.md names a missing page {target}"));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_demo_in_the_readme_runs_that_chapters_program() {
    // `scripts/demo.sh NN` runs scripts/demos/NN.sh, or the demo whose `# also: NN` line names
    // NN (09's demo also shows 10); its title must name the program of the README's row.
    let demos: Vec<(String, String)> = fs::read_dir(root().join("scripts/demos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let number = p.file_stem().unwrap().to_string_lossy().into_owned();
            (number, fs::read_to_string(&p).unwrap())
        })
        .collect();
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let mut problems = Vec::new();
    for row in readme
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("scripts/demo.sh "))
    {
        // The row's second cell names its program (`01_tcp_client`), or `-` for chapter 00.
        let cell = row.split('|').nth(2).unwrap_or_default();
        let program = cell.split('`').nth(1).unwrap_or("");
        let number = row.split("scripts/demo.sh ").nth(1).unwrap_or_default();
        let number = &number[..number.find('`').unwrap_or(number.len())];
        let demo = demos.iter().find(|(n, text)| {
            n == number || text.lines().any(|l| l == format!("# also: {number}"))
        });
        match demo {
            None => problems.push(format!(
                "{program}: `scripts/demo.sh {number}` finds no demo"
            )),
            Some((_, text)) => {
                let title = text.lines().find_map(|l| l.strip_prefix("# title: "));
                if !title.is_some_and(|t| t.contains(program)) {
                    // An empty program (chapter 00) matches any title; a missing title does not.
                    problems.push(format!(
                        "{program}: the title of `scripts/demo.sh {number}` does not name it"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
