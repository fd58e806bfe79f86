//! The simulated GitHub's web pages: the App's install screen. Choosing an account installs
//! the App there (if it is not already) and sends the browser to the App's Setup URL with
//! `installation_id`, `setup_action=install` and the `state` it came with, as GitHub does.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::{SimGitHub, WEB_PREFIX};

pub fn router<S: Clone + Send + Sync + 'static>(sim: SimGitHub) -> Router<S> {
    let web = Router::new()
        .route("/apps/{slug}/installations/new", get(install_screen))
        .route(
            "/apps/{slug}/installations/new/permissions",
            get(install_screen),
        )
        .route("/apps/{slug}/installations/confirm", get(confirm))
        .with_state(sim);
    Router::new().nest(WEB_PREFIX, web)
}

/// Text made safe for HTML (element content and quoted attributes).
pub(crate) fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// A query value made safe for a URL's query string.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

async fn install_screen(
    State(sim): State<SimGitHub>,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if slug != crate::APP_SLUG {
        return (StatusCode::NOT_FOUND, "no such App").into_response();
    }
    let state = q.get("state").cloned().unwrap_or_default();
    let target: Option<i64> = q.get("target_id").and_then(|t| t.parse().ok());
    let accounts = sim.accounts();
    let items: String = accounts
        .values()
        .filter(|a| target.is_none_or(|t| t == a.id))
        .map(|a| {
            let href = format!(
                "{WEB_PREFIX}/apps/{slug}/installations/confirm?account={}&state={}",
                query_value(&a.login),
                query_value(&state)
            );
            format!(
                "<li><a id=\"install-{login}\" href=\"{href}\">Install on {login}</a> ({kind})</li>",
                login = escape(&a.login),
                href = escape(&href),
                kind = escape(&a.kind),
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Install {slug}</title></head>\
         <body><h1>Install {slug}</h1><p>Simulated GitHub: where do you want to install \
         this App?</p><ul>{items}</ul></body></html>",
        slug = escape(&slug)
    ))
    .into_response()
}

async fn confirm(
    State(sim): State<SimGitHub>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(account) = q.get("account").filter(|a| sim.accounts().contains_key(*a)) else {
        return (StatusCode::NOT_FOUND, "no such account").into_response();
    };
    let installation = sim.install(account);
    let Some(setup) = sim.setup_url() else {
        return (StatusCode::OK, format!("installed: {installation}")).into_response();
    };
    let state = q.get("state").cloned().unwrap_or_default();
    let location = format!(
        "{setup}?installation_id={installation}&setup_action=install&state={}",
        query_value(&state)
    );
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_comes_from_the_query_cannot_break_out_of_the_page_or_the_url() {
        assert_eq!(escape(r#"<script>"a'&"#), "&lt;script&gt;&quot;a&#39;&amp;");
        assert_eq!(query_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(query_value("Az09-_.~"), "Az09-_.~");
    }
}
