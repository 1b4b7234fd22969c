//! Login and logout. A browser cannot add `Authorization: Bearer` to a navigation, so the token
//! a person types is kept in a cookie the access layer accepts on `/ui/` paths: HttpOnly (no
//! script reads it), SameSite=Strict (no other site's page sends it), Secure over TLS, and
//! without `Path` so it belongs to the UI's own directory whatever prefix a proxy adds. It
//! lasts until the browser closes or the person logs out.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use dkron_api::UI_TOKEN_COOKIE;

use super::{Granted, Ui, html, see_other};
use crate::{links::Pairs, views};

/// `GET /ui/login`.
pub(super) async fn login_form(State(ui): State<Ui>, granted: Granted) -> Response {
    let ctx = ui.ctx("", &granted);
    let needed = ui.options.access.needs_token();
    html(StatusCode::OK, views::login::render(&ctx, needed, None))
}

/// `POST /ui/login` with `token`: a configured token sets the cookie and goes to the
/// dashboard; any other is refused (401) with the form again. The token is never logged.
pub(super) async fn login(State(ui): State<Ui>, granted: Granted, body: Bytes) -> Response {
    let ctx = ui.ctx("", &granted);
    let pairs = Pairs::parse(&body);
    let token = pairs.get("token").unwrap_or_default().trim();
    if !ui.options.access.needs_token() {
        return see_other("./");
    }
    if ui.options.access.role_of_token(token).is_none() {
        return html(
            StatusCode::UNAUTHORIZED,
            views::login::render(&ctx, true, Some("That token is not one of this cluster's.")),
        );
    }
    // Only a configured token gets here, and configured tokens are RFC 6750 b64tokens: no
    // character of it can end or extend the cookie.
    let secure = if ui.options.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{UI_TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict{secure}");
    with_cookie(see_other("./"), &cookie)
}

/// `POST /ui/logout`: forgets the token cookie, back to the login form.
pub(super) async fn logout(State(ui): State<Ui>) -> Response {
    let secure = if ui.options.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{UI_TOKEN_COOKIE}=; Max-Age=0; HttpOnly; SameSite=Strict{secure}");
    with_cookie(see_other("login"), &cookie)
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    match HeaderValue::from_str(cookie) {
        Ok(value) => {
            response.headers_mut().insert(header::SET_COOKIE, value);
            response
        }
        // Unreachable for a configured token (see above); refuse rather than half log in.
        Err(_) => (StatusCode::BAD_REQUEST, "token cannot be stored\n").into_response(),
    }
}
