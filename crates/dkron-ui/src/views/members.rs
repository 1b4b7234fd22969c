//! The members: every server and agent, its status and tags, the leader marked.

use dkron_model::Member;
use maud::{Markup, html};

use crate::views::{
    Ctx,
    layout::{Section, page},
};

pub(crate) fn render(ctx: &Ctx, members: &[Member], leader: Option<&str>) -> Markup {
    let body = html! {
        h1 { "Members" }
        p.muted { (members.len()) " known, " (members.iter().filter(|m| m.is_alive()).count()) " alive." }
        div.table-wrap {
            table {
                thead {
                    tr { th { "Name" } th { "Status" } th { "Role" } th.hide-narrow { "Address" } th { "Tags" } th.hide-narrow { "Version" } }
                }
                tbody {
                    @for m in members {
                        tr data-test="member-row" data-member=(m.name) {
                            td.name {
                                (m.name)
                                @if leader == Some(m.name.as_str()) {
                                    span.leader data-test="leader-mark" { "leader" }
                                }
                            }
                            td { span class=(format!("status status-{}", if m.is_alive() { "success" } else { "failed" })) { (m.status.as_str()) } }
                            td { @if m.server { "server" } @else { "agent" } }
                            td.hide-narrow { code { (m.addr) ":" (m.port) } }
                            td {
                                @for (k, v) in &m.tags { span.tag { code { (k) "=" (v) } } }
                                @if !m.region.is_empty() { span.tag { "region=" (m.region) } }
                                @if !m.datacenter.is_empty() { span.tag { "dc=" (m.datacenter) } }
                            }
                            td.hide-narrow { (m.version) }
                        }
                    }
                }
            }
        }
    };
    page(ctx, "Members", "members", Section::Members, body)
}
