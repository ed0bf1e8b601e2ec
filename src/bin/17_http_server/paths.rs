//! Step 2 of chapter 17 (chapters/17b_safe_paths.md): from the path in a URL to a file that is
//! certainly inside the served directory.
//!
//! A request for `/../../etc/passwd`, the same disguised as `/%2e%2e/%2e%2e/etc/passwd`,
//! `//etc/passwd`, a symbolic link that points out of the directory, `.env` or `.git/config`:
//! each gets 404. Step 1 (serve.rs) calls `resolve` and sends the file it returns.

use std::path::{Path, PathBuf};

// ANCHOR: resolve
/// Finds the file that `target` (such as `/notes/a%20b.md?x=1`) names inside `root`, or the
/// status to answer. `root` is canonical: absolute, with every symbolic link resolved.
pub fn resolve(root: &Path, target: &str, dotfiles: bool) -> Result<PathBuf, u16> {
    // The query (`?x=1`) does not name a file.
    let path = target.split('?').next().unwrap_or_default();
    // Decode `%20` and friends first: `%2e%2e` is `..` in disguise.
    let path = percent_decode(path).ok_or(400_u16)?;
    // Rebuild the path one part at a time, keeping only plain names: `..` could climb out of
    // root, and a leading `/` must not make the path absolute (Path::join would then drop
    // root entirely).
    let mut file = root.to_path_buf();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(404),
            // `.git`, `.env`: names that start with a dot are hidden, and often secret.
            name if name.starts_with('.') && !dotfiles => return Err(404),
            name => file.push(name),
        }
    }
    // A symbolic link inside root may point anywhere. `canonicalize` follows every link and
    // gives the real path, which must still lie inside root.
    let mut real = file.canonicalize().map_err(|_| 404_u16)?;
    if real.is_dir() {
        real = real
            .join("index.html")
            .canonicalize()
            .map_err(|_| 404_u16)?;
    }
    if !real.starts_with(root) || !real.is_file() {
        return Err(404); // outside root, or not a plain file (a device or a pipe, say)
    }
    // A link with a plain name may point at a hidden file: look at the real path too.
    let hidden = |part: std::path::Component| part.as_os_str().to_string_lossy().starts_with('.');
    if !dotfiles
        && real
            .strip_prefix(root)
            .is_ok_and(|inside| inside.components().any(hidden))
    {
        return Err(404);
    }
    Ok(real)
}
// ANCHOR_END: resolve

// ANCHOR: percent_decode
/// Decodes `%XX` escapes. `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            decoded.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}
// ANCHOR_END: percent_decode
