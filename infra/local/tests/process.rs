//! axhub-local as an installed process: what it leaves on disk, what it refuses to start
//! with, and how it stops. Each test runs the real binary on a data directory of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
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
        "AXHUB_KUBECONFIG",
        "AXHUB_REGISTRY",
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
    addr: SocketAddr,
    log: PathBuf,
}

/// A test that fails half-way does not leave its server running.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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
            if let Some(url) = line.strip_prefix("axhub-local listening on http://") {
                let _ = tx.send(url.parse::<SocketAddr>().unwrap());
            }
        }
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(addr) => Running { child, addr, log },
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

/// An HTTP/1.1 request on a connection of its own; the reply is read later by `response`.
fn send(addr: SocketAddr, method: &str, path: &str, token: &str, body: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    s
}

/// The status code and the whole reply (the server closes the connection after it).
fn response(mut s: TcpStream) -> (u16, String) {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    (status, text)
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
    assert_eq!(stop(running).code(), Some(0));
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

/// SIGTERM stops accepting connections at once, lets a request in flight finish (here one
/// held in its handler by a write lock on the database), and exits 0.
#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_0() {
    let root = scratch("sigterm");
    let mut running = start(&root, &["--demo"]);
    let demo: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("data/demo.json")).unwrap()).unwrap();
    let token = demo["users"]["owner"]["token"].as_str().unwrap();
    let path = format!(
        "/api/v1/apps/{}/deployments",
        demo["app_id"].as_str().unwrap()
    );

    let db = rusqlite::Connection::open(root.join("data/axhub.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    db.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let body = r#"{"commit_sha":"0123456789abcdef0123456789abcdef01234567"}"#;
    let in_flight = send(running.addr, "POST", &path, token, body);
    // The trigger waits for the lock (the store's busy timeout is 5 s): no answer yet.
    in_flight
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    let early = (&in_flight).read(&mut byte);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "answered before the lock was released: {early:?}"
    );

    sigterm(&running.child);
    let refused_by = Instant::now() + Duration::from_secs(3);
    while TcpStream::connect(running.addr).is_ok() {
        assert!(Instant::now() < refused_by, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        running.child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );
    db.execute_batch("ROLLBACK").unwrap();

    let (status, reply) = response(in_flight);
    assert_eq!(status, 202, "{reply}");
    let exit = wait(&mut running.child, Duration::from_secs(20)).expect("no exit after SIGTERM");
    assert_eq!(exit.code(), Some(0), "{}", read(&running.log));
    std::fs::remove_dir_all(&root).unwrap();
}

/// The operator's actions over HTTP: a platform admin adds a tenant, a member and an app and
/// mints the member a token that works; anyone else is refused, and bad input is 400 naming
/// the field.
#[test]
fn the_admin_routes_are_the_platform_admins_and_their_token_works() {
    let root = scratch("admin-http");
    let running = start(&root, &["--demo"]);
    let demo: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("data/demo.json")).unwrap()).unwrap();
    let token = |who: &str| demo["users"][who]["token"].as_str().unwrap().to_owned();
    let (root_token, tenant_admin) = (token("platform_admin"), token("admin"));
    let call = |method: &str, path: &str, token: &str, body: &str| {
        let (status, reply) = response(send(running.addr, method, path, token, body));
        let json = reply
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        (status, json)
    };
    let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();

    let (status, _) = call(
        "POST",
        "/local/admin/tenants",
        &tenant_admin,
        r#"{"slug":"acme"}"#,
    );
    assert_eq!(status, 403, "a tenant admin is no platform admin");
    let (status, reply) = call(
        "POST",
        "/local/admin/tenants",
        &root_token,
        r#"{"slug":"Not Ok"}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(
        json(&reply)["error"]["fields"][0]["name"],
        "slug",
        "{reply}"
    );

    let (status, reply) = call(
        "POST",
        "/local/admin/tenants",
        &root_token,
        r#"{"slug":"acme"}"#,
    );
    assert_eq!(status, 200, "{reply}");
    let tenant = json(&reply)["tenant_id"].as_str().unwrap().to_owned();
    let member = format!(r#"{{"tenant":"{tenant}","user":"carol","role":"admin"}}"#);
    assert_eq!(
        call("POST", "/local/admin/members", &root_token, &member).0,
        200
    );
    let app = format!(
        r#"{{"tenant":"{tenant}","slug":"shop","subdomain":"shop","owner":"carol","repo":"acme/shop"}}"#
    );
    let (status, reply) = call("POST", "/local/admin/apps", &root_token, &app);
    assert_eq!(status, 200, "{reply}");
    let app_id = json(&reply)["app_id"].as_str().unwrap().to_owned();
    let (_, reply) = call(
        "POST",
        "/local/admin/tokens",
        &root_token,
        r#"{"user":"carol"}"#,
    );
    let carol = json(&reply)["token"].as_str().unwrap().to_owned();

    let deploy = format!("/api/v1/apps/{app_id}/deployments");
    let body = r#"{"commit_sha":"0123456789abcdef0123456789abcdef01234567"}"#;
    let (status, reply) = call("POST", &deploy, &carol, body);
    assert_eq!(status, 202, "{reply}");

    let (status, reply) = call(
        "POST",
        "/local/admin/pats",
        &root_token,
        r#"{"user":"carol"}"#,
    );
    assert_eq!(status, 200, "{reply}");
    let id = json(&reply)["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        "DELETE",
        &format!("/local/admin/pats/{id}"),
        &tenant_admin,
        "",
    );
    assert_eq!(status, 403);
    let (status, _) = call(
        "DELETE",
        &format!("/local/admin/pats/{id}"),
        &root_token,
        "",
    );
    assert_eq!(status, 200);
    stop(running);
    std::fs::remove_dir_all(&root).unwrap();
}

/// `--kubeconfig`: a deployment of the demo app is built through the Kubernetes adapter on the
/// cluster the kubeconfig names (here a mock API server): the tenant's build namespace is
/// prepared, the build's Secret holds the operator's registry credential and the clone token
/// the (simulated) GitHub minted for the one repository, and the kaniko Job is created there.
#[test]
fn with_a_kubeconfig_builds_run_on_that_cluster() {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(async {
        let api = MockServer::start().await;
        let not_found = serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"});
        Mock::given(method("GET"))
            .and(path_regex("^/apis/batch/v1/namespaces/[^/]+/jobs/[^/]+$"))
            .respond_with(ResponseTemplate::new(404).set_body_json(not_found))
            .mount(&api)
            .await;
        let job = serde_json::json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "build-x", "namespace": "n", "uid": "6c1a2b3c-0000-4000-8000-000000000001"},
            "status": {"active": 1}});
        Mock::given(method("POST"))
            .and(path_regex("/jobs$"))
            .respond_with(ResponseTemplate::new(201).set_body_json(job))
            .mount(&api)
            .await;
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
            .mount(&api)
            .await;
        // The app's one pod and its container log, for the logs route.
        let pods = serde_json::json!({"apiVersion": "v1", "kind": "PodList", "metadata": {},
            "items": [{"metadata": {"name": "hello-7d9f-a"}, "spec": {"containers": [{"name": "app"}]}}]});
        Mock::given(method("GET"))
            .and(path_regex("^/api/v1/namespaces/tenant-[0-9a-f]+/pods$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(pods))
            .mount(&api)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("/pods/hello-7d9f-a/log$"))
            .respond_with(ResponseTemplate::new(200).set_body_string(
                "2026-12-02T04:00:00.000000001Z listening on :8080\n\
                 2026-12-02T04:00:01.5Z \u{1b}[31mready\u{1b}[0m\n",
            ))
            .mount(&api)
            .await;
        api
    });
    let root = scratch("kubeconfig");
    let kubeconfig = root.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: mock\n\
             clusters: [{{name: mock, cluster: {{server: \"{}\"}}}}]\n\
             users: [{{name: operator, user: {{token: operator-token}}}}]\n\
             contexts: [{{name: mock, context: {{cluster: mock, user: operator}}}}]\n",
            api.uri()
        ),
    )
    .unwrap();
    let auth = root.join("registry.json");
    let registry_auth = r#"{"auths":{"registry.example:5000":{"auth":"b3A6cHc="}}}"#;
    std::fs::write(&auth, registry_auth).unwrap();
    let running = start(
        &root,
        &[
            "--demo",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--registry",
            "registry.example:5000/axhub",
            "--registry-auth-file",
            auth.to_str().unwrap(),
            "--cluster-cidrs",
            "10.0.0.0/16,172.20.0.0/16",
        ],
    );
    let demo: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("data/demo.json")).unwrap()).unwrap();
    let token = demo["users"]["owner"]["token"].as_str().unwrap();
    let deploy = format!(
        "/api/v1/apps/{}/deployments",
        demo["app_id"].as_str().unwrap()
    );
    let body = r#"{"commit_sha":"0123456789abcdef0123456789abcdef01234567"}"#;
    let (status, reply) = response(send(running.addr, "POST", &deploy, token, body));
    assert_eq!(status, 202, "{reply}");

    let tenant = demo["tenant_id"].as_str().unwrap().replace('-', "");
    let namespace = format!("axhub-build-{tenant}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let seen = loop {
        let seen = rt.block_on(api.received_requests()).unwrap_or_default();
        if seen.iter().any(|r| r.method.as_str() == "POST") {
            break seen;
        }
        assert!(
            Instant::now() < deadline,
            "no Job created: {}",
            read(&running.log)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let find = |verb: &str, part: &str| {
        seen.iter()
            .find(|r| r.method.as_str() == verb && r.url.path().contains(part))
            .unwrap_or_else(|| panic!("no {verb} …{part}…"))
    };
    let ns = find("PATCH", &format!("/api/v1/namespaces/{namespace}"));
    assert_eq!(ns.url.path(), format!("/api/v1/namespaces/{namespace}"));
    find("PATCH", "/networkpolicies/axhub-default-deny");
    let secret: serde_json::Value =
        serde_json::from_slice(&find("PATCH", "/secrets/build-").body).unwrap();
    use base64::Engine;
    let b64 = |v: &serde_json::Value| {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(b64(&secret["data"]["config.json"]), registry_auth);
    assert!(
        b64(&secret["data"]["git-password"]).starts_with("ghs_sim"),
        "a clone token"
    );
    let job: serde_json::Value = serde_json::from_slice(&find("POST", "/jobs").body).unwrap();
    assert_eq!(job["metadata"]["namespace"], namespace.as_str());
    let args = job["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(
        args.contains(&format!(
            "--destination=registry.example:5000/axhub/{tenant}/hello:"
        )),
        "{args}"
    );
    assert!(
        seen.iter().all(
            |r| r.headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some("Bearer operator-token")
        ),
        "every request carries the kubeconfig's credential"
    );
    stop(running);
    std::fs::remove_dir_all(&root).unwrap();
}
