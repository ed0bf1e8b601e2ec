//! Harness for the Unix socket chapters (09, 10): a fresh temporary directory per test, and a
//! client connection with timeouts.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::TIMEOUT;

/// A fresh, empty directory under the system's temporary directory, removed (with everything
/// in it) when dropped. Each test makes its own, so tests running in parallel never share a
/// socket file.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("sw-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir); // left over from a killed run with the same pid
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `name` inside the directory, as a string (for command lines).
    pub fn join(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // A test may have made the directory read-only; make it writable again to empty it.
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Connects to the Unix socket at `path`, with read and write timeouts of `TIMEOUT`.
pub fn connect_unix(path: impl AsRef<Path>) -> UnixStream {
    let path = path.as_ref();
    let stream = UnixStream::connect(path)
        .unwrap_or_else(|e| panic!("could not connect to {}: {e}", path.display()));
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(TIMEOUT))
        .expect("write timeout");
    stream
}

/// Reads once (up to 64 KiB) and returns the bytes; panics on timeout or error.
pub fn read_once_unix(stream: &mut UnixStream) -> Vec<u8> {
    let mut buffer = vec![0u8; 65536];
    let n = loop {
        match stream.read(&mut buffer) {
            Ok(n) => break n,
            // A signal, not a failure: when another test thread spawns a program while a child
            // exits, SIGCHLD can interrupt a read that has a timeout (signal(7)). Read again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read failed: {e}"),
        }
    };
    buffer.truncate(n);
    buffer
}

/// Runs `program` with `args` to the end, as an ordinary user: when the tests run as root (who
/// may create and connect to any file), it runs as the user `nobody`, with `setpriv`.
pub fn run_unprivileged(dir: &TempDir, program: &Path, args: &[&str]) -> super::Output {
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;
    if !running_as_root(dir) {
        return super::run_command(Command::new(program).args(args));
    }
    // `nobody` must be able to enter the test's directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the test directory");
    super::run_command(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(program)
            .args(args),
    )
}

/// Are we root? Root may write anywhere, so permission tests must then drop privileges.
pub fn running_as_root(dir: &TempDir) -> bool {
    use std::os::unix::fs::MetadataExt;
    // A directory we created belongs to our user id.
    std::fs::metadata(dir.path())
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}
