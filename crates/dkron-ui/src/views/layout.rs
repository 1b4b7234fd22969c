//! The frame of every page: head, navigation, theme toggle, logout, and `<main>` with the page's
//! test hook.

use maud::{DOCTYPE, Markup, html};

use crate::{assets::VERSION, views::Ctx};

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Dashboard,
    Jobs,
    Members,
    None,
}

/// A whole page: `title` for the tab, `name` for `<main data-test="page-<name>">`.
pub(crate) fn page(ctx: &Ctx, title: &str, name: &str, section: Section, body: Markup) -> Markup {
    let version = VERSION.as_str();
    let current = |s: Section| (s == section).then_some("page");
    html! {
        (DOCTYPE)
        html lang="en" data-theme="light" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · dkron" }
                link rel="icon" href=(ctx.link(&format!("assets/favicon.svg?v={version}"))) type="image/svg+xml";
                link rel="stylesheet" href=(ctx.link(&format!("assets/app.css?v={version}")));
                // In the head, not deferred: it sets the theme before the body is painted.
                script src=(ctx.link(&format!("assets/app.js?v={version}"))) {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    nav aria-label="Main" {
                        a.brand href=(ctx.link("")) { "dkron" }
                        div.links {
                            a href=(ctx.link("")) aria-current=[current(Section::Dashboard)] { "Dashboard" }
                            a href=(ctx.link("jobs")) aria-current=[current(Section::Jobs)] { "Jobs" }
                            a href=(ctx.link("members")) aria-current=[current(Section::Members)] { "Members" }
                        }
                        div.tools {
                            @if ctx.viewer.logged_in {
                                span.whoami {
                                    @if ctx.viewer.can_write { "write access" } @else { "read-only" }
                                }
                                form method="post" action=(ctx.link("logout")) {
                                    button type="submit" data-test="logout" { "Log out" }
                                }
                            }
                            button type="button" data-test="theme-toggle" aria-pressed="false" { "Dark theme" }
                        }
                    }
                }
                main id="main" data-test=(format!("page-{name}")) {
                    (body)
                }
            }
        }
    }
}
