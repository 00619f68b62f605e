//! Sign-in, sessions, the CSRF value and who is looking: the UI's access rules.

use super::*;

/// The session cookie's name.
pub(super) const COOKIE: &str = "canaryd_session";
/// How long a sign-in lasts, seconds.
pub(super) const SESSION_S: u64 = 12 * 3600;

/// Sessions one token may hold at once; a new sign-in beyond it ends that token's oldest.
pub(super) const MAX_SESSIONS_PER_TOKEN: usize = 1_000;

/// Sign-in sessions, kept by the daemon: a session ends at logout, after 12 hours, or
/// when the daemon restarts (sign in again). The cookie holds only a random id.
#[derive(Default)]
pub struct Sessions {
    map: std::sync::Mutex<std::collections::HashMap<String, Session>>,
}

#[derive(Clone)]
pub(super) struct Session {
    pub(super) token: String,
    pub(super) csrf: String,
    pub(super) expires_ms: i64,
}

pub(super) fn random_hex() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Sessions {
    pub(super) fn start(&self, token: &str) -> String {
        let now = crate::time::now_ms();
        let id = random_hex();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.expires_ms > now);
        // Each token has its own sessions and its own cap: signing in again and again
        // with one token (a read token) ends only that token's oldest sessions, never
        // another operator's. Tokens are configured, so the total is bounded too.
        loop {
            let mine = map.iter().filter(|(_, s)| s.token == token);
            if mine.clone().count() < MAX_SESSIONS_PER_TOKEN {
                break;
            }
            let Some(oldest) = mine
                .min_by_key(|(_, s)| s.expires_ms)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            Session {
                token: token.to_string(),
                csrf: random_hex(),
                expires_ms: now + (SESSION_S as i64) * 1000,
            },
        );
        id
    }

    pub(super) fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(id) {
            Some(s) if s.expires_ms > crate::time::now_ms() => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    pub(super) fn end(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

pub(super) type HmacSha256 = Hmac<Sha256>;

pub(super) fn mac(key: &str, purpose: &str, name: &str) -> String {
    let mut m = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    m.update(purpose.as_bytes());
    m.update(&[0]);
    m.update(name.as_bytes());
    hex(&m.finalize().into_bytes())
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Who is looking: the token's name and role, and the CSRF value of their forms.
#[derive(Debug, Clone)]
pub(super) struct Viewer {
    pub(super) name: Option<String>,
    pub(super) role: Role,
    pub(super) csrf: String,
}

impl Viewer {
    pub(super) fn may_write(&self) -> bool {
        self.role == Role::Write
    }
}

pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The viewer, or the answer to give instead: a redirect to the sign-in page.
pub(super) fn viewer(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
) -> Result<Viewer, Response> {
    if state.tokens.is_empty() {
        // No sign-in, but forms still carry a CSRF value only this daemon's pages know: a
        // page elsewhere cannot post a judgment or a rollback in the operator's name.
        return Ok(Viewer {
            name: None,
            role: Role::Write,
            csrf: mac(&state.ui_secret, "canaryd ui csrf", ""),
        });
    }
    let session = cookie(headers, COOKIE).and_then(|id| {
        let s = state.sessions.get(id)?;
        let t = state.tokens.iter().find(|t| t.name == s.token)?;
        Some((t, s))
    });
    match session {
        Some((t, s)) => Ok(Viewer {
            name: Some(t.name.clone()),
            role: t.role,
            csrf: s.csrf,
        }),
        None => Err(Redirect::to(&format!("/ui/login?next={}", encode(path))).into_response()),
    }
}

/// The viewer of a form post: signed in, allowed to write, and the form's CSRF value right.
pub(super) fn writer(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    csrf: &str,
) -> Result<Viewer, Response> {
    let v = viewer(state, headers, path)?;
    if !v.may_write() {
        return Err(message_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            &format!(
                "Token `{}` may read but not act. Sign in with a write token.",
                v.name.as_deref().unwrap_or("")
            ),
        ));
    }
    if csrf.is_empty() || !same(v.csrf.as_bytes(), csrf.as_bytes()) {
        return Err(message_page(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form is not from your current session. Reload the page and try again.",
        ));
    }
    Ok(v)
}

pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Only paths of this UI are followed after a sign-in.
pub(super) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/ui")
                && !n.contains("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/ui/analyses".to_string(),
    }
}

#[derive(Deserialize)]
pub(super) struct NextQuery {
    pub(super) next: Option<String>,
}

pub(super) async fn login_form(
    State(state): State<AppState>,
    Query(q): Query<NextQuery>,
) -> Response {
    login_page(&state, q.next.as_deref(), None, StatusCode::OK)
}

pub(super) fn login_page(
    state: &AppState,
    next: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let body = html! {
        h1 { "Sign in" }
        @if state.tokens.is_empty() {
            p { "This daemon has no tokens configured: every page is open." }
            p { a href="/ui/analyses" { "Go to the analyses" } }
        } @else {
            @if let Some(e) = error { p.flash.error { (e) } }
            p { "Sign in with an API token of this daemon (" code { "[[tokens]]" } " in its config). "
                "A read token shows the pages; a write token can also approve, reject and roll back." }
            form.panel method="post" action="/ui/login" {
                input type="hidden" name="next" value=(safe_next(next));
                label { "Token " input type="password" name="token" id="token" autocomplete="current-password" required; }
                " " button type="submit" id="sign-in" { "Sign in" }
            }
        }
    };
    (
        status,
        axum::response::Html(page("Sign in — canaryd", &[], body)),
    )
        .into_response()
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    pub(super) token: String,
    pub(super) next: Option<String>,
}

pub(super) async fn login(State(state): State<AppState>, UiForm(f): UiForm<LoginForm>) -> Response {
    let presented = f.token.trim();
    let Some(t) = state
        .tokens
        .iter()
        .find(|t| same(t.secret.expose().as_bytes(), presented.as_bytes()))
    else {
        return login_page(
            &state,
            f.next.as_deref(),
            Some("Unknown token."),
            StatusCode::UNAUTHORIZED,
        );
    };
    let mut r = Redirect::to(&safe_next(f.next.as_deref())).into_response();
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_S}{}",
        state.sessions.start(&t.name),
        if state.secure_cookies { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

pub(super) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // The session ends here, not only the cookie: a copy of it is worthless from now on.
    if let Some(id) = cookie(&headers, COOKIE) {
        state.sessions.end(id);
    }
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("canaryd_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// A posted form whose refusals (too large, not a form, a missing field) are pages like
/// every other answer of the UI, with the status, not plain text.
pub(super) struct UiForm<T>(pub(super) T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for UiForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(v)) => Ok(UiForm(v)),
            Err(e) => Err(message_page(
                e.status(),
                "The form could not be read",
                &e.body_text(),
            )),
        }
    }
}

#[cfg(test)]
mod session_tests {
    use super::*;

    /// Sign-ins with one token never end another token's session.
    #[test]
    fn sessions_are_capped_per_token() {
        let sessions = Sessions::default();
        let operator = sessions.start("write-token");
        for _ in 0..(MAX_SESSIONS_PER_TOKEN + 500) {
            sessions.start("read-token");
        }
        assert!(
            sessions.get(&operator).is_some(),
            "the operator is still signed in"
        );
        let map = sessions.map.lock().unwrap();
        let reads = map.values().filter(|s| s.token == "read-token").count();
        assert_eq!(reads, MAX_SESSIONS_PER_TOKEN);
    }
}
