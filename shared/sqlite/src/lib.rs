//! Embedded adapters for `axhub-local` and tests: the state store and the job queues on one
//! SQLite file (WAL), and the app database as one SQLite file per app and environment.

mod appdb;
mod queue;
mod store;

pub use appdb::SqliteAppDatabase;
pub use queue::SqliteQueue;
pub use store::SqliteStore;

use std::path::Path;

/// Creates the database file at `path`, empty and readable by its owner only (0600), unless
/// it exists. SQLite opens an empty file as an empty database and creates its `-wal` and
/// `-shm` files with the database file's mode, so a new database is never readable by other
/// users, not even for a moment, whatever the process's umask. An existing file keeps its
/// mode: its directory is what keeps others out of it.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `dir` and its missing parents, each searchable by its owner only (0700).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
