//! The data directory is private to the user running axhub-local: the directory is 0700 and
//! every file written into it is 0600 from the moment it exists (never created readable and
//! narrowed afterwards). Anyone who can read `jwt-secret` or `demo.json` can act as a platform
//! admin, `token-key` decrypts the stored GitHub tokens, and the databases hold every
//! tenant's state. The SQLite files are made the same way by `axhub-sqlite` (the database
//! file created 0600 before SQLite opens it; SQLite gives `-wal` and `-shm` the same mode).
//! No process umask: setting one takes `unsafe` (libc), which the workspace forbids, and
//! would make the modes depend on where a file is written rather than on how.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Creates the data directory 0700, or narrows an existing one to 0700: its files may have
/// been written by an older axhub-local with the umask's modes, and a directory others cannot
/// enter keeps them out of those too.
pub fn data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("reading data directory {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting data directory {} to 0700", dir.display()))?;
        tracing::info!(dir = %dir.display(), was = format!("{:o}", mode & 0o777), "data directory restricted to its owner (0700)");
    }
    Ok(())
}

/// Replaces `path` with `bytes`, 0600: written to a fresh temporary file beside it, then
/// renamed over it, so a reader (or a crash) sees the old content or the new, never a part.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    let write = || -> std::io::Result<()> {
        // Left by a crash, perhaps with other modes: create_new below must make it anew.
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().with_context(|| format!("writing {}", path.display()))
}

/// The bytes of a secret axhub-local writes: 32 random bytes, kept as 64 hex characters.
const SECRET_BYTES: usize = 32;

/// A secret kept in the data directory, made on first start, so that what was signed or
/// encrypted with it (`invalidates`: tokens, cursors, stored GitHub tokens) stays valid across
/// restarts. A file that exists but cannot be read, or does not hold 32 bytes in hex, stops
/// the start: replacing it would silently invalidate all of that.
pub fn persistent_secret(dir: &Path, name: &str, invalidates: &str) -> anyhow::Result<Vec<u8>> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => match hex::decode(text.trim()) {
            Ok(bytes) if bytes.len() == SECRET_BYTES => Ok(bytes),
            _ => anyhow::bail!(
                "{} does not hold a secret ({} hex characters expected); it was left as it is, \
                 since a new one would invalidate {invalidates}. Restore it, or delete it to \
                 start with a new one",
                path.display(),
                SECRET_BYTES * 2
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes: [u8; SECRET_BYTES] = rand::random();
            write_private(&path, hex::encode(bytes).as_bytes())?;
            Ok(bytes.to_vec())
        }
        Err(e) => Err(e).with_context(|| format!("reading the secret {}", path.display())),
    }
}
