//! The token form: shown when the API takes tokens, since a browser cannot add `Authorization`
//! to a navigation. The token goes into an HttpOnly cookie (see the routes).

use maud::{Markup, html};

use crate::views::{
    Ctx,
    layout::{Section, page},
};

/// The form; `error` says why the last token was refused. `needed` is false when the API
/// takes no tokens (protected or open mode): then there is nothing to log in to.
pub(crate) fn render(ctx: &Ctx, needed: bool, error: Option<&str>) -> Markup {
    let body = html! {
        h1 { "Log in" }
        @if needed {
            p { "This dkron cluster needs an API token. A read token shows the cluster; a write token may also change it." }
            form.job method="post" action="login" data-test="login" {
                div.field {
                    label for="f-token" { "API token" }
                    input id="f-token" name="token" type="password" autocomplete="current-password"
                        required spellcheck="false" aria-describedby=[error.map(|_| "error-token")];
                    @if let Some(error) = error {
                        p.field-error data-test="field-error" data-field="token" id="error-token" { (error) }
                    }
                }
                div.actions { button.primary type="submit" data-test="submit" { "Log in" } }
            }
        } @else {
            p { "This server takes no API tokens: there is nothing to log in to." }
            p { a href=(ctx.link("")) { "Go to the dashboard" } }
        }
    };
    page(ctx, "Log in", "login", Section::None, body)
}
