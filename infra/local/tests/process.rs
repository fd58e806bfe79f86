//! axhub-local as an installed process: what it leaves on disk, what it refuses to start
//! with, and how it stops. Each test runs the real binary on a data directory of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_axhub-local");
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A fresh directory for one test: the data directory is `data` inside it, the stderr log
/// beside it.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("axhub-local-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary on `data`, any port; the environment's own `AXHUB_*` settings left out.
fn command(data: &Path, log: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(data)
        .args(["--port", "0"])
        .args(args);
    for var in [
        "AXHUB_JWT_SECRET",
        "AXHUB_APP_DB_URL",
        "AXHUB_TOKEN_KEY",
        "AXHUB_GITHUB_APP_ID",
        "AXHUB_BIND",
    ] {
        c.env_remove(var);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap());
    c
}

struct Running {
    child: Child,
    log: PathBuf,
}

/// Starts the binary and waits for its "listening on" line.
fn start(root: &Path, args: &[&str]) -> Running {
    let log = root.join("stderr.log");
    let mut child = command(&root.join("data"), &log, args).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Keeps reading so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("axhub-local listening on http://") {
                let _ = tx.send(());
            }
        }
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(()) => Running { child, log },
        Err(_) => {
            let _ = child.kill();
            panic!(
                "axhub-local did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    }
}

/// Runs the binary to its end (it is expected not to start) and returns its stderr.
fn run_to_exit(root: &Path, args: &[&str]) -> (ExitStatus, String) {
    let log = root.join("stderr.log");
    let mut child = command(&root.join("data"), &log, args).spawn().unwrap();
    let status = wait(&mut child, START_TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("axhub-local kept running: {}", read(&log));
    });
    (status, read(&log))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn wait(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM failed");
}

/// SIGTERM, then the exit status (the process is killed if it has not exited in 20 s).
fn stop(mut running: Running) -> ExitStatus {
    sigterm(&running.child);
    wait(&mut running.child, Duration::from_secs(20)).unwrap_or_else(|| {
        let _ = running.child.kill();
        panic!("no exit 20 s after SIGTERM: {}", read(&running.log));
    })
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn github_args(key: &Path) -> Vec<String> {
    // Nothing listens there: the client is built at start but GitHub is never called.
    let nowhere = "http://127.0.0.1:9".to_owned();
    [
        "--github-app-id",
        "1",
        "--github-app-slug",
        "axhub-test",
        "--github-webhook-secret",
        "webhook-secret",
        "--github-api-url",
        &nowhere,
        "--github-web-url",
        &nowhere,
        "--github-private-key-file",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([key.display().to_string()])
    .collect()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// Nobody but the user running axhub-local can read its secrets, its demo tokens or its
/// databases: the data directory is 0700 (an existing one is tightened) and every file in it
/// 0600, the SQLite WAL and shared-memory files included.
#[test]
fn the_data_directory_is_private_to_its_owner() {
    let root = scratch("modes");
    let data = root.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let gh = github_args(&fixture("rsa.pem"));
    let mut args = vec!["--demo"];
    args.extend(gh.iter().map(String::as_str));
    let running = start(&root, &args);

    assert_eq!(format!("{:o}", mode(&data)), "700", "the data directory");
    for file in [
        "jwt-secret",
        "cursor-secret",
        "token-key",
        "demo.json",
        "demo-ids.json",
        "axhub.db",
        "axhub.db-wal",
        "axhub.db-shm",
    ] {
        assert_eq!(format!("{:o}", mode(&data.join(file))), "600", "{file}");
    }
    stop(running);
    std::fs::remove_dir_all(&root).unwrap();
}

/// A secret that cannot be read or is not what axhub-local wrote stops the start with the
/// file's name, and is left as it was: making a new one would invalidate every token signed
/// (or GitHub token encrypted) with the old one.
#[test]
fn a_broken_secret_file_stops_the_start() {
    let gh = github_args(&fixture("rsa.pem"));
    let gh: Vec<&str> = gh.iter().map(String::as_str).collect();
    let cases: [(&str, Option<&str>, &[&str]); 4] = [
        ("jwt-secret", Some("not hex at all\n"), &[]),
        ("cursor-secret", Some(&"ab".repeat(16)), &[]),
        ("token-key", Some(""), &gh),
        // A directory in its place: unreadable even for root, who reads any file.
        ("jwt-secret", None, &[]),
    ];
    for (file, content, args) in cases {
        let root = scratch("secret");
        let data = root.join("data");
        std::fs::create_dir(&data).unwrap();
        let path = data.join(file);
        match content {
            Some(c) => std::fs::write(&path, c).unwrap(),
            None => std::fs::create_dir(&path).unwrap(),
        }
        let (status, stderr) = run_to_exit(&root, args);
        assert!(!status.success(), "{file}: started anyway");
        assert!(
            stderr.contains(&path.display().to_string()),
            "{file}: the error does not name the file: {stderr}"
        );
        if let Some(c) = content {
            assert_eq!(read(&path), c, "{file} was rewritten");
        }
        std::fs::remove_dir_all(&root).unwrap();
    }
}

/// HS256 with a short secret can be brute-forced from any one token.
#[test]
fn a_short_jwt_secret_is_refused() {
    let root = scratch("short");
    let (status, stderr) = run_to_exit(&root, &["--jwt-secret", "hunter2"]);
    assert!(!status.success(), "started with a 7-byte secret");
    assert!(
        stderr.contains("--jwt-secret") && stderr.contains("32 bytes"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
