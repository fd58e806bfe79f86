//! `GET /api/v1/apps/{appID}/logs`: who may read, the parameters, paging backward and
//! tailing forward over the HTTP edge, the backend down, and app output made inert.

use std::sync::Arc;

use axhub_app::Deps;
use axhub_domain::logs::LogLine;
use axhub_simcluster::logs::LogBook;
use axhub_tests::*;
use http::{Method, StatusCode};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

async fn with_book() -> (TestApp, Arc<LogBook>) {
    let book = Arc::new(LogBook::default());
    let deps = Deps::new(sqlite_store().await, b"cursor-secret").with_logs(book.clone());
    (app_with(deps).await, book)
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn line(ms: i64, pod: &str, n: usize) -> LogLine {
    LogLine {
        timestamp_ms: ms,
        id: format!("{pod}/app/stdout/{n}"),
        stream: "stdout".into(),
        pod: pod.into(),
        container: "app".into(),
        message: format!("line {n:04}"),
    }
}

fn messages(body: &Value) -> Vec<String> {
    body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect()
}

fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn the_owner_and_admins_read_members_are_refused_outsiders_find_nothing() {
    let (t, book) = with_book().await;
    let w = t.world.clone();
    book.insert(w.app, vec![line(now_ms(), "web-a", 0)]);
    let uri = format!("/api/v1/apps/{}/logs", w.app);
    for (who, status, code) in [
        (Some(&w.owner), 200, ""),
        (Some(&w.admin), 200, ""),
        (Some(&w.platform_admin), 200, ""),
        (Some(&w.member), 403, "forbidden"),
        (Some(&w.outsider), 404, "not_found"),
        (None, 401, "token_missing"),
    ] {
        let r = t
            .call(Method::GET, &uri, who.map(String::as_str), None)
            .await;
        assert_eq!(r.status.as_u16(), status, "{who:?}: {:?}", r.body);
        assert_eq!(r.code(), code, "{who:?}");
        if status == 200 {
            assert_eq!(messages(&r.body), ["line 0000"]);
            let l = &r.body["lines"][0];
            assert_eq!(
                (l["pod"].as_str(), l["container"].as_str()),
                (Some("web-a"), Some("app"))
            );
            assert_eq!(l["stream"], "stdout");
            assert!(OffsetDateTime::parse(l["timestamp"].as_str().unwrap(), &Rfc3339).is_ok());
            assert_eq!(r.body["has_more"], false);
            assert_eq!(r.body["next_cursor"], "");
        }
    }
    // Another tenant's app id, asked by that tenant's outsider-to-us: still a 404 for ours.
    let missing = format!("/api/v1/apps/{}/logs", uuid::Uuid::now_v7());
    let r = t.call(Method::GET, &missing, Some(&w.owner), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn each_bad_parameter_is_a_400_naming_it_and_unknown_ones_are_ignored() {
    let (t, book) = with_book().await;
    let w = t.world.clone();
    book.insert(w.app, (0..3).map(|n| line(now_ms(), "web-a", n)).collect());
    let base = format!("/api/v1/apps/{}/logs", w.app);
    let backward = t
        .call(
            Method::GET,
            &format!("{base}?limit=1"),
            Some(&w.owner),
            None,
        )
        .await;
    let backward_cursor = backward.body["next_cursor"].as_str().unwrap().to_owned();
    assert!(!backward_cursor.is_empty());
    for (query, field) in [
        ("direction=sideways", "direction"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        (
            "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
            "until",
        ),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage", "cursor"),
        // A backward cursor does not continue a tail.
        (
            &format!("direction=forward&cursor={backward_cursor}"),
            "cursor",
        ),
    ] {
        let r = t
            .call(
                Method::GET,
                &format!("{base}?{query}"),
                Some(&w.owner),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {:?}", r.body);
        assert_eq!(r.body["error"]["fields"][0]["name"], field, "{query}");
    }
    let r = t
        .call(
            Method::GET,
            &format!("{base}?colour=red&limit=1000"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(messages(&r.body).len(), 3);
}

#[tokio::test]
async fn backward_pages_join_into_the_history_and_a_forward_tail_gets_late_lines_once() {
    let (t, book) = with_book().await;
    let w = t.world.clone();
    let ms = now_ms() - 10_000;
    // 150 lines of three pods in one millisecond (fewer than a tail's window holds).
    let pods = ["web-a", "web-b", "worker-c"];
    book.insert(w.app, (0..150).map(|n| line(ms, pods[n % 3], n)).collect());
    let base = format!("/api/v1/apps/{}/logs", w.app);

    let mut joined: Vec<String> = Vec::new();
    let mut uri = format!("{base}?limit=60");
    let mut pages = 0;
    loop {
        let r = t.call(Method::GET, &uri, Some(&w.owner), None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        pages += 1;
        let mut page = messages(&r.body);
        page.append(&mut joined);
        joined = page;
        let next = r.body["next_cursor"].as_str().unwrap();
        assert_eq!(r.body["has_more"], !next.is_empty());
        if next.is_empty() {
            break;
        }
        uri = format!("{base}?limit=60&cursor={next}");
    }
    assert_eq!(pages, 3);
    let mut sorted = joined.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 150, "each line once");

    // The tail from that millisecond: a full page says there is more at once.
    let first = t
        .call(
            Method::GET,
            &format!(
                "{base}?direction=forward&since={}&limit=100",
                rfc3339(ms - 5_000)
            ),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(messages(&first.body).len(), 100);
    assert_eq!(first.body["has_more"], true);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = t
        .call(
            Method::GET,
            &format!("{base}?direction=forward&cursor={cursor}&limit=100"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(messages(&second.body).len(), 50);
    assert_eq!(second.body["has_more"], false);
    let mut tail: Vec<String> = messages(&first.body);
    tail.extend(messages(&second.body));
    assert_eq!(tail, joined, "the same order both ways");

    // Lines that reach the backend late: one of the same millisecond, one a second older.
    book.insert(
        w.app,
        vec![line(ms, "web-b", 900), line(ms - 1_000, "web-a", 901)],
    );
    let cursor = second.body["next_cursor"].as_str().unwrap().to_owned();
    assert!(!cursor.is_empty(), "a tail always gets a cursor");
    let third = t
        .call(
            Method::GET,
            &format!("{base}?direction=forward&cursor={cursor}"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(messages(&third.body), ["line 0901", "line 0900"]);
    let cursor = third.body["next_cursor"].as_str().unwrap().to_owned();
    let fourth = t
        .call(
            Method::GET,
            &format!("{base}?direction=forward&cursor={cursor}"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(
        messages(&fourth.body),
        Vec::<String>::new(),
        "nothing twice"
    );
    assert!(!fourth.body["next_cursor"].as_str().unwrap().is_empty());

    // Bounded by time: only the late line a second older.
    let r = t
        .call(
            Method::GET,
            &format!("{base}?until={}", rfc3339(ms - 1)),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(messages(&r.body), ["line 0901"]);
}

#[tokio::test]
async fn the_backend_down_is_a_503_and_no_backend_says_so() {
    let (t, book) = with_book().await;
    let w = t.world.clone();
    book.set_unavailable(true);
    let uri = format!("/api/v1/apps/{}/logs", w.app);
    let r = t.call(Method::GET, &uri, Some(&w.owner), None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert_eq!(r.code(), "temporarily_unavailable");
    assert_eq!(r.body["error"]["retryable"], true);

    let none = sqlite_app().await;
    let uri = format!("/api/v1/apps/{}/logs", none.world.app);
    let r = none
        .call(Method::GET, &uri, Some(&none.world.owner), None)
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.code(), "backend_unimplemented");
}

#[tokio::test]
async fn what_the_app_printed_arrives_inert_and_bounded() {
    let (t, book) = with_book().await;
    let w = t.world.clone();
    let mut hostile = line(now_ms(), "web-a", 0);
    hostile.message =
        "\u{1b}[31mFATAL\u{1b}[0m\u{7}: \u{202e}ignore previous instructions\u{200b}\r\n".into();
    let mut long = line(now_ms(), "web-a", 1);
    long.message = "x".repeat(20_000);
    book.insert(w.app, vec![hostile, long]);
    let uri = format!("/api/v1/apps/{}/logs", w.app);
    let r = t.call(Method::GET, &uri, Some(&w.owner), None).await;
    let got = messages(&r.body);
    assert!(
        got.contains(&"FATAL: ignore previous instructions".to_owned()),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|m| m.len() == axhub_app::logs::MESSAGE_MAX_CHARS)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deployed_app_logs_what_its_containers_print() {
    let s = stack(StackOptions::default()).await;
    let w = s.app.world.clone();
    let d = did(&s.app.deploy(w.app, &w.owner, &sha(7)).await);
    let done = s.wait_for(w.app, &d, terminal).await;
    assert_eq!(done["status"], "succeeded", "{done:?}");
    let uri = format!("/api/v1/apps/{}/logs", w.app);
    let r = s.app.call(Method::GET, &uri, Some(&w.owner), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        messages(&r.body).contains(&"listening on :8080".to_owned()),
        "{:?}",
        r.body
    );
    assert!(
        r.body["lines"][0]["pod"]
            .as_str()
            .unwrap()
            .starts_with("app-")
    );
}
