//! The page frame (navigation, who is signed in) and the small pieces every page uses.

use super::*;

pub(super) const NAV: &[(&str, &str)] = &[
    ("/ui/analyses", "Analyses"),
    ("/ui/pipelines", "Pipelines"),
    ("/ui/executions", "Executions"),
];

/// A page of the UI; `refresh` reloads it every 5 s at that address (running things, without
/// a script; pages with a form being filled in never do).
pub(super) fn frame(title: &str, viewer: &Viewer, refresh: Option<&str>, body: Markup) -> Response {
    let body = html! {
        @if let Some(url) = refresh {
            meta http-equiv="refresh" content={ "5; url=" (url) };
        }
        @if let Some(name) = &viewer.name {
            form.inline.session method="post" action="/ui/logout" {
                input type="hidden" name="csrf" value=(viewer.csrf);
                "signed in as " strong { (name) } " (" (role_name(viewer.role)) ") "
                button type="submit" { "Sign out" }
            }
        }
        (body)
    };
    let mut r =
        axum::response::Html(page(&format!("{title} — canaryd"), NAV, body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub(super) fn role_name(r: Role) -> &'static str {
    match r {
        Role::Read => "read",
        Role::Write => "write",
    }
}

pub(super) fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! { h1 { (title) } p { (message) } p { a href="/ui/analyses" { "Back to the analyses" } } };
    (
        status,
        axum::response::Html(page(&format!("{title} — canaryd"), NAV, body)),
    )
        .into_response()
}

pub(super) fn not_found(what: &str) -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        &format!("There is no {what}."),
    )
}

pub(super) fn store_error(e: impl std::fmt::Display) -> Response {
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Store unavailable",
        &format!("The store could not be read: {e}"),
    )
}

pub(super) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(super) fn when(ms: i64) -> String {
    iso(ms).replace('T', " ").trim_end_matches('Z').to_string() + " UTC"
}

/// A text of several lines (a reason: one line per worse pair) as a list.
pub(super) fn lines(text: &str) -> Markup {
    let mut it = text.lines();
    let first = it.next().unwrap_or("");
    let rest: Vec<&str> = it.collect();
    html! {
        (first)
        @if !rest.is_empty() { ul.lines { @for l in &rest { li { (l) } } } }
    }
}

/// A long detail: its short form, the whole text one click away (no script needed).
pub(super) fn long_text(text: &str) -> Markup {
    let short = crate::report::short_detail(text);
    if short == text {
        return html! { (text) };
    }
    // The summary holds the whole first line when only later lines were left out.
    let first = text.lines().next().unwrap_or("");
    if short == format!("{first} …") {
        let rest: Vec<&str> = text.lines().skip(1).collect();
        return html! { details.detail { summary { (first) } ul.lines { @for l in &rest { li { (l) } } } } };
    }
    html! { details.detail { summary { (short) } (lines(text)) } }
}

pub(super) fn badge(class: &str) -> Markup {
    html! { span class={ "badge " (class) } { (class.replace('_', " ")) } }
}

/// An analysis' run status, in words that cannot pass for a verdict: a run that ended
/// normally is `finished` (grey) whatever its verdict, which has its own badge.
pub(super) fn run_status(s: AnalysisStatus) -> &'static str {
    match s {
        AnalysisStatus::Running => "running",
        AnalysisStatus::Succeeded => "finished",
        AnalysisStatus::Error => "run error",
        AnalysisStatus::Cancelled => "cancelled",
    }
}

pub(super) fn run_badge(s: AnalysisStatus) -> Markup {
    let class = match s {
        AnalysisStatus::Running => "running",
        _ => "run",
    };
    html! { span class={ "badge " (class) } title="run status (not the verdict)" { (run_status(s)) } }
}
