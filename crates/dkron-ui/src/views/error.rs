//! A page that says what went wrong, with a way back.

use maud::{Markup, html};

use crate::views::{
    Ctx,
    layout::{Section, page},
};

/// `title` as the heading, `message` below it, and a link to `back` (relative to `/ui/`).
pub(crate) fn render(ctx: &Ctx, title: &str, message: &str, back: (&str, &str)) -> Markup {
    let body = html! {
        h1 { (title) }
        p.errors role="alert" data-test="error-message" { (message) }
        p { a href=(ctx.link(back.0)) { (back.1) } }
    };
    page(ctx, title, "error", Section::None, body)
}
