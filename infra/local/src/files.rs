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
