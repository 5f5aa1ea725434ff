//! The HTML pages. Every sentence is generated here from facts (the report, the listing, the
//! feedback counts); every string that comes from outside goes through [`Html::text`].

use portent_local::listening::OwnerStatus;
use portent_local::meaning::{Flag, Report, Row};
use portent_registry::report::{Concern, PortReport, ProtocolEntry, ServiceRow, notes_for_page};
use portent_registry::{Hit, HitKind, PortRange, Protocol, Status};

use crate::feedback::{MAX_COMMENT, Summary};
use crate::grid::{Cell, PALETTE};
use crate::html::Html;
use crate::i18n::{Lang, Text};
use crate::words::{self, LiveAnswer, Said};

/// Per-request page context: the language, whether it was asked for explicitly (then links
/// carry `?lang=`), and the path (for the language switcher).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub explicit: bool,
    pub path: String,
}

impl Ctx {
    pub fn t(&self) -> &'static Text {
        self.lang.t()
    }

    /// `path` with the language kept when it was chosen by `?lang=`.
    pub fn href(&self, path: &str) -> String {
        if !self.explicit {
            return path.to_owned();
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{path}{sep}lang={}", self.lang.code())
    }
}

/// The frame shared by all pages: head, navigation, search, language switcher, footer.
pub fn layout(ctx: &Ctx, title: &str, crumbs: &[(String, Option<String>)], body: &str) -> String {
    layout_with(ctx, title, crumbs, body, false)
}

/// Which search box a page has: the header's, or its own in the body (the index), never both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchBox {
    Header,
    InBody,
}

/// [`layout`]; `refresh` makes the page reload itself every 15 s when JavaScript is off (with
/// it on, the script refreshes the live part in place).
pub fn layout_with(
    ctx: &Ctx,
    title: &str,
    crumbs: &[(String, Option<String>)],
    body: &str,
    refresh: bool,
) -> String {
    frame(ctx, title, crumbs, body, refresh, SearchBox::Header)
}

fn frame(
    ctx: &Ctx,
    title: &str,
    crumbs: &[(String, Option<String>)],
    body: &str,
    refresh: bool,
    search: SearchBox,
) -> String {
    let t = ctx.t();
    let mut h = Html::with_capacity(body.len() + 3000);
    h.raw("<!doctype html>\n<html lang=\"")
        .raw(ctx.lang.code())
        .raw("\" dir=\"")
        .raw(ctx.lang.dir())
        .raw("\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>")
        .text(title)
        .raw(" · portent</title><link rel=\"stylesheet\" href=\"/assets/style.css\"><script src=\"/assets/app.js\" defer></script>");
    if refresh {
        h.raw("<noscript><meta http-equiv=\"refresh\" content=\"15\"></noscript>");
    }
    h.raw("</head><body>");
    h.raw("<header class=\"top\"><nav class=\"site\"><a class=\"brand\" href=\"")
        .text(&ctx.href("/ports"))
        .raw("\">portent</a> ")
        .link(&ctx.href("/ports"), t.ports)
        .raw(" ")
        .link(&ctx.href("/listening"), t.listening)
        .raw(" ")
        .link(&ctx.href("/hosts"), t.hosts)
        .raw(" ")
        .link(&ctx.href("/fleet"), t.fleet)
        .raw(" ")
        .link(&ctx.href("/feedback"), t.feedback)
        .raw("</nav>");
    if search == SearchBox::Header {
        search_form(&mut h, ctx, "search", None);
    }
    h.raw("<nav class=\"langs\" aria-label=\"")
        .text(t.language)
        .raw("\">");
    for l in Lang::ALL {
        let sep = if ctx.path.contains('?') { '&' } else { '?' };
        let href = format!("{}{sep}lang={}", ctx.path, l.code());
        h.raw("<a hreflang=\"")
            .raw(l.code())
            .raw("\" lang=\"")
            .raw(l.code())
            .raw(if l == ctx.lang {
                "\" aria-current=\"true\" href=\""
            } else {
                "\" href=\""
            })
            .text(&href)
            .raw("\">")
            .text(l.native())
            .raw("</a> ");
    }
    h.raw("</nav></header>");
    if !crumbs.is_empty() {
        h.raw("<nav class=\"crumbs\" aria-label=\"breadcrumb\"><ol>");
        for (label, href) in crumbs {
            h.raw("<li>");
            match href {
                Some(href) => h.link(href, label),
                None => h
                    .raw("<span aria-current=\"page\">")
                    .text(label)
                    .raw("</span>"),
            };
            h.raw("</li>");
        }
        h.raw("</ol></nav>");
    }
    let mut out = h.finish();
    out.push_str("<main>");
    out.push_str(body);
    out.push_str("</main><footer>portent · generated from the IANA registry and portent's own notes; no outside resources.</footer></body></html>\n");
    out
}

/// A 400/404/413/429 page.
pub fn error_page(ctx: &Ctx, heading: &str, message: &str) -> String {
    let t = ctx.t();
    let mut h = Html::default();
    h.el("<h1>", heading, "</h1>")
        .el("<p class=\"error\">", message, "</p>")
        .raw("<p>")
        .link(&ctx.href("/ports"), t.back_to_index)
        .raw("</p>");
    layout(ctx, heading, &[], &h.finish())
}

fn status_word(t: &Text, s: Status) -> &'static str {
    match s {
        Status::Assigned => t.assigned,
        Status::Reserved => t.reserved,
        Status::PrivateUse => t.private_use,
        Status::Unassigned => t.unassigned,
    }
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Assigned => "st st-assigned",
        Status::Reserved => "st st-reserved",
        Status::PrivateUse => "st st-private",
        Status::Unassigned => "st st-unassigned",
    }
}

/// Registry references such as `[RFC4511][Tim_Howes]`: RFC numbers become links.
fn reference(h: &mut Html, text: &str) {
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        h.text(&rest[..open]);
        let Some(close) = rest[open..].find(']') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        let num = inner
            .strip_prefix("RFC")
            .filter(|n| !n.is_empty() && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit()));
        match num {
            Some(n) => {
                let url = format!("https://www.rfc-editor.org/rfc/rfc{n}");
                h.raw("[").source_link(&url, inner).raw("]");
            }
            None => {
                h.raw("[").text(inner).raw("]");
            }
        }
        rest = &rest[open + close + 1..];
    }
    h.text(rest);
}

/// One registry entry's rows; `protocols` are all those with this same answer (folded, as
/// "tcp, udp, sctp, dccp").
fn service_rows(h: &mut Html, protocols: &[Protocol], e: &ProtocolEntry, t: &Text) {
    let label = protocols
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<&ServiceRow> = e.services.iter().chain(&e.other_rows).collect();
    if rows.is_empty() {
        h.raw("<tr><td>")
            .text(&label)
            .raw("</td><td><span class=\"")
            .raw(status_class(e.status))
            .raw("\">")
            .text(status_word(t, e.status))
            .raw("</span></td><td colspan=\"6\" class=\"dim\">no registry row mentions this port</td></tr>");
        return;
    }
    for (i, r) in rows.iter().enumerate() {
        h.raw("<tr><td>");
        if i == 0 {
            h.text(&label);
        }
        h.raw("</td><td>");
        if i == 0 {
            h.raw("<span class=\"")
                .raw(status_class(e.status))
                .raw("\">")
                .text(status_word(t, e.status))
                .raw("</span>");
        }
        h.raw("</td><td>");
        if r.name.is_empty() {
            h.el(
                "<span class=\"dim\">",
                &format!("ports {}", r.ports),
                "</span>",
            );
        } else {
            h.el("<strong>", r.name, "</strong>");
        }
        h.raw("</td><td>").text(r.description);
        if let Some(was) = &r.history {
            h.el("<br><span class=\"history\">", was, "</span>");
        }
        if !r.unauthorized_use.is_empty() {
            h.el(
                "<br><span class=\"dim\">",
                &if r.unauthorized_use.trim().eq_ignore_ascii_case("yes") {
                    "IANA marks use of this port without an assignment (no details given)"
                        .to_owned()
                } else {
                    format!(
                        "IANA notes use without an assignment: {}",
                        r.unauthorized_use
                    )
                },
                "</span>",
            );
        }
        if let Some(keys) = &r.dns_sd_txt_keys {
            h.el(
                "<br><span class=\"dim\">",
                &format!("DNS-SD TXT record keys: {keys}"),
                "</span>",
            );
        }
        let (short, cut) = notes_for_page(r, 160);
        if cut {
            // The whole text behind a "more", which works without script.
            h.raw("<br><details class=\"dim\"><summary>")
                .text(&short)
                .raw(" <span class=\"more\">")
                .text(t.more)
                .raw("</span></summary>")
                .text(&r.notes.split_whitespace().collect::<Vec<_>>().join(" "))
                .raw("</details>");
        } else if !short.is_empty() {
            h.el("<br><span class=\"dim\">", &short, "</span>");
        }
        h.raw("</td><td>")
            .text(r.assignee)
            .raw("</td><td>")
            .text(r.registered);
        h.raw("</td><td>").text(r.modified).raw("</td><td>");
        reference(h, r.reference);
        h.raw("</td></tr>");
    }
}

/// The concern level's CSS class suffix.
fn concern_class(c: Concern) -> &'static str {
    match c {
        Concern::Low => "low",
        Concern::Medium => "medium",
        Concern::High => "high",
    }
}

/// The headline status of a port: its name, or the strongest TCP/UDP status.
fn headline(r: &PortReport, t: &Text) -> String {
    match r.primary_name() {
        Some(n) => n.to_owned(),
        // The registry's own words stay English in every language: names, history, titles.
        None if r.range == PortRange::Dynamic && r.assessment.known_use.is_none() => {
            t.dynamic.to_owned()
        }
        None if r.headline.contains(';') || r.assessment.private_use => r.headline.clone(),
        None => {
            let s = r
                .entry(Protocol::Tcp)
                .status
                .max(r.entry(Protocol::Udp).status);
            status_word(t, s).to_owned()
        }
    }
}

/// The live box: rows for this port, or why there are none.
pub enum LiveBox<'a> {
    Report(&'a Report<'a>),
    Error(&'a str),
}

pub fn port_page(
    ctx: &Ctx,
    r: &PortReport,
    live: &LiveBox<'_>,
    thanks: bool,
    seen: &[(String, String)],
) -> String {
    let t = ctx.t();
    let p = r.port;
    let mut h = Html::with_capacity(24_000);
    h.raw("<article class=\"port\"><h1>")
        .text(t.port)
        .raw(" ")
        .num(p)
        .raw(" <span class=\"name\">")
        .text(&headline(r, t))
        .raw("</span>");
    if r.assessment.ghost {
        h.raw(" <span class=\"flag flag-ghost\">")
            .text(ghost_word(ctx.lang))
            .raw("</span>");
    }
    h.raw("</h1>");
    let he = |s: String| words::bidi(ctx.lang, s);
    h.el("<p class=\"lead\">", &he(words::lead(ctx.lang, r)), "</p>");

    // What it is.
    h.raw("<section id=\"what\"><h2>")
        .text(t.what_it_is)
        .raw("</h2><dl class=\"facts\">");
    h.raw("<dt>").text(t.range).raw("</dt><dd>");
    h.text(&he(format!(
        "{} ({}-{}): {}",
        words::range_name(ctx.lang, r.range),
        r.range_bounds.0,
        r.range_bounds.1,
        words::range_meaning(ctx.lang, r.range)
    )))
    .raw("</dd>");
    h.raw("<dt>")
        .text(t.privilege)
        .raw("</dt><dd>")
        .text(&words::privilege(ctx.lang, r))
        .raw("</dd>");
    h.raw("<dt>")
        .text(t.ephemeral)
        .raw("</dt><dd>")
        .text(&he(words::ephemeral(ctx.lang, r)))
        .raw("</dd></dl></section>");

    // What listens here now, right under the facts (where `portent port` shows it); nothing
    // to look for (or refresh) on port 0.
    if r.assessment.listenable {
        h.raw("<section id=\"live\" class=\"live\" data-refresh=\"5\"><h2>")
            .text(t.live)
            .raw("</h2><div id=\"live-table\">");
        live_box(&mut h, ctx, live);
        h.raw("</div></section>");
    } else {
        h.raw("<section id=\"live\" class=\"live\"><h2>")
            .text(t.live)
            .raw("</h2>");
        h.el("<p>", t.nothing_can_listen, "</p>");
        h.raw("</section>");
    }

    // The registry.
    h.raw("<section id=\"registry\">");
    h.raw("<h2>")
        .text(t.registry)
        .raw("</h2><div class=\"scroll\"><table class=\"reg\"><thead><tr><th>");
    for col in [
        t.protocol,
        t.status,
        t.name,
        t.description,
        t.assignee,
        t.registered,
        t.modified,
    ] {
        h.text(col).raw("</th><th>");
    }
    h.text(t.reference).raw("</th></tr></thead>");
    // The registry's rows stay as IANA wrote them, in English.
    h.raw(if ctx.lang == Lang::En {
        "<tbody>"
    } else {
        "<tbody lang=\"en\">"
    });
    for (protocols, e) in r.folded_registry() {
        service_rows(&mut h, &protocols, e, t);
    }
    h.raw("</tbody></table></div>");
    h.el(
        "<p class=\"dim\">",
        &format!("{} {}.", t.data_date, r.data_date),
        "</p>",
    );
    h.raw("</section>");

    // Notes.
    if !r.notes.is_empty() {
        h.raw("<section id=\"history\"><h2>")
            .text(t.history)
            .raw("</h2>");
        for n in &r.notes {
            // Curated notes are written in English.
            h.raw(if ctx.lang == Lang::En {
                "<div class=\"note\"><h3>"
            } else {
                "<div class=\"note\" lang=\"en\"><h3>"
            })
            .text(n.title)
            .raw(" <span class=\"kind\">")
            .text(n.kind.as_str())
            .raw("</span></h3>");
            h.el("<p>", n.summary, "</p>");
            for para in n.detail.split("\n\n").filter(|s| !s.trim().is_empty()) {
                h.el("<p>", para.trim(), "</p>");
            }
            if !n.registry.is_empty() {
                h.raw("<p class=\"vs\"><strong>Registry vs. folklore:</strong> ")
                    .text(n.registry)
                    .raw("</p>");
            }
            if !n.sources.is_empty() {
                h.raw("<p class=\"sources\">").text(t.sources).raw(": ");
                for (i, s) in n.sources.iter().enumerate() {
                    if i > 0 {
                        h.raw(" · ");
                    }
                    h.source_link(s.url, s.title);
                }
                h.raw("</p>");
            }
            h.raw("</div>");
        }
        h.raw("</section>");
    }

    // Where the store last saw it open.
    if !seen.is_empty() {
        h.raw("<section id=\"seen\"><h2>")
            .text(t.seen_open_on)
            .raw("</h2><ul>");
        for (host, when) in seen {
            h.raw("<li>")
                .link(&ctx.href(&format!("/hosts/{host}")), host)
                .raw(" <span class=\"dim\">")
                .text(when)
                .raw("</span></li>");
        }
        h.raw("</ul></section>");
    }

    // Why it matters; for port 0, that it cannot be open (no concern level to give).
    let (reason, reasons) = words::assessment(ctx.lang, r);
    h.raw("<section id=\"why\"><h2>");
    if r.assessment.listenable {
        h.text(t.why_matters)
            .raw("</h2><p>")
            .text(t.concern)
            .raw(": <span class=\"concern concern-")
            .raw(concern_class(r.assessment.concern))
            .raw("\">")
            .text(words::concern_word(ctx.lang, r.assessment.concern))
            .raw("</span> ");
        said(&mut h, ctx, "<span class=\"dim\"", &reason, "</span>");
        h.raw("</p><ul>");
    } else {
        h.text(t.can_be_open)
            .raw("</h2><p><strong>")
            .text(t.no)
            .raw("</strong></p><ul>");
    }
    for reason in &reasons {
        said(&mut h, ctx, "<li", reason, "</li>");
    }
    h.raw("</ul></section>");

    // What the statuses mean: a glossary, folded away, the ones that apply marked and named
    // in the summary.
    let defs = words::status_texts(ctx.lang, r);
    let applying: Vec<&str> = defs.iter().filter(|d| d.1).map(|d| d.0).collect();
    h.raw("<section id=\"meaning\"><details class=\"glossary\"><summary>")
        .text(t.meaning);
    if !applying.is_empty() {
        h.raw(" <span class=\"dim\">(")
            .text(&applying.join(", "))
            .raw(")</span>");
    }
    h.raw("</summary><dl class=\"meanings\">");
    for (word, applies, text) in defs {
        h.raw(if applies {
            "<div class=\"applies\"><dt>"
        } else {
            "<div><dt>"
        })
        .text(word);
        if applies {
            h.text(&format!(" ({})", t.applies_here));
        }
        h.raw("</dt><dd>").text(&he(text)).raw("</dd></div>");
    }
    h.raw("</dl></details></section>");

    // How to check; for port 0, how to see traffic sent to it (Linux and macOS only).
    h.raw("<section id=\"check\"><h2>")
        .text(if r.assessment.listenable {
            t.how_to_check
        } else {
            t.how_to_see_traffic
        })
        .raw("</h2><div class=\"checks\">");
    for (os, cmds) in [
        ("Linux", &r.check.linux),
        ("macOS", &r.check.macos),
        ("Windows", &r.check.windows),
        (t.from_elsewhere, &r.check.remote),
    ] {
        if cmds.is_empty() {
            continue;
        }
        h.raw("<div><h3>").text(os).raw("</h3>");
        for c in cmds {
            h.el("<pre><code>", c, "</code></pre>");
        }
        h.raw("</div>");
    }
    h.raw("</div></section>");

    // Related.
    if !r.related.is_empty() {
        h.raw("<section id=\"related\"><h2>")
            .text(t.related)
            .raw("</h2><ul class=\"related\">");
        for rel in &r.related {
            h.raw("<li>");
            let label = match rel.name {
                Some(n) => format!("{} {} ({n})", t.port, rel.port),
                None => format!("{} {}", t.port, rel.port),
            };
            h.link(&ctx.href(&format!("/ports/{}", rel.port)), &label)
                .raw(" <span class=\"dim\">")
                .text(&rel.why)
                .raw("</span></li>");
        }
        h.raw("</ul></section>");
    }

    // FAQ.
    h.raw("<section id=\"faq\"><h2>")
        .text(t.faq)
        .raw("</h2><dl class=\"faq\">");
    for (q, a) in faq(ctx.lang, r, live) {
        h.el("<dt>", &q, "</dt>");
        said(&mut h, ctx, "<dd", &a, "</dd>");
    }
    h.raw("</dl></section>");

    // Feedback.
    h.raw("<section id=\"feedback\" class=\"feedback\"><h2>")
        .text(t.helpful)
        .raw("</h2>");
    if thanks {
        h.el("<p class=\"thanks\" role=\"status\">", t.thanks, "</p>");
    }
    h.raw("<form method=\"post\" action=\"/ports/")
        .num(p)
        .raw("/feedback\" id=\"feedback-form\"><input type=\"hidden\" name=\"lang\" value=\"")
        .raw(ctx.lang.code())
        .raw("\"><label for=\"comment\">")
        .text(t.comment)
        .raw("</label><textarea id=\"comment\" name=\"comment\" rows=\"2\" maxlength=\"")
        .num(MAX_COMMENT as u64)
        .raw("\"></textarea><div class=\"answers\">");
    for (value, label) in [("yes", t.yes), ("partly", t.partly), ("no", t.no)] {
        h.raw("<button type=\"submit\" name=\"answer\" value=\"")
            .raw(value)
            .raw("\">")
            .text(label)
            .raw("</button>");
    }
    h.raw("</div><p class=\"thanks hidden\" role=\"status\" id=\"feedback-thanks\">")
        .text(t.thanks)
        .raw("</p></form></section></article>");

    let title = format!("{} {p}: {}", t.port, headline(r, t));
    let crumbs = [
        (t.ports.to_owned(), Some(ctx.href("/ports"))),
        (format!("{} {p}", t.port), None),
    ];
    layout(ctx, &title, &crumbs, &h.finish())
}

fn live_box(h: &mut Html, ctx: &Ctx, live: &LiveBox<'_>) {
    let t = ctx.t();
    match live {
        LiveBox::Report(rep) if rep.sockets.is_empty() => {
            h.el("<p>", t.nothing_here, "</p>");
            for n in &rep.notes {
                h.el("<p class=\"warn\">", n, "</p>");
            }
        }
        LiveBox::Report(rep) => {
            listeners_table(h, ctx, &rep.sockets);
            for n in &rep.notes {
                h.el("<p class=\"warn\">", n, "</p>");
            }
        }
        LiveBox::Error(e) => {
            h.el("<p class=\"dim\">", &format!("unknown: {e}"), "</p>");
        }
    }
}

fn faq(lang: Lang, r: &PortReport, live: &LiveBox<'_>) -> Vec<(String, Said)> {
    let mut holders: Vec<String> = Vec::new();
    let mut unknown = false;
    if let LiveBox::Report(rep) = live {
        for s in &rep.sockets {
            match s.process.as_deref() {
                Some(p) => holders.push(p.to_owned()),
                None => unknown = true,
            }
        }
    }
    holders.sort();
    holders.dedup();
    let answer = match live {
        _ if !r.assessment.listenable => LiveAnswer::NotListenable,
        LiveBox::Report(rep) if rep.sockets.is_empty() => LiveAnswer::Nothing,
        LiveBox::Report(rep) => LiveAnswer::Sockets {
            count: rep.sockets.len(),
            holders: &holders,
            unknown,
        },
        LiveBox::Error(_) => LiveAnswer::Unknown,
    };
    words::faq(lang, r, answer)
}

/// `open` (an element's start without its `>`), the text, `close`; a sentence that stays
/// English on a German or Hebrew page is marked `lang="en"`.
fn said(h: &mut Html, ctx: &Ctx, open: &'static str, s: &Said, close: &'static str) {
    h.raw(open);
    if matches!(s, Said::English(_)) && ctx.lang != Lang::En {
        h.raw(" lang=\"en\"");
    }
    h.raw(">")
        .text(&words::bidi(ctx.lang, s.text().to_owned()))
        .raw(close);
}

fn ghost_word(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "ghost",
        Lang::De => "Geist",
        Lang::He => "רוח רפאים",
    }
}

fn flag_class(row: &Row, f: Flag) -> &'static str {
    match f {
        Flag::Ghost if row.strong_ghost() => "flag flag-ghost strong",
        Flag::Ghost => "flag flag-ghost",
        Flag::Exposed => "flag flag-exposed",
        Flag::Ephemeral => "flag flag-ephemeral",
        Flag::DualStack => "flag flag-dual",
        Flag::Dynamic => "flag flag-dynamic",
    }
}

/// How much of a command line the listeners table shows (the rest is in a tooltip).
const COMMAND_CUT: usize = 240;

/// One owner of a socket as table cells: pid, process, user, command.
type OwnerCells = (String, String, String, String);

/// The listeners table (listening page and live box).
pub fn listeners_table(h: &mut Html, ctx: &Ctx, rows: &[Row]) {
    let t = ctx.t();
    h.raw("<div class=\"scroll\"><table class=\"listeners\"><thead><tr>");
    for col in [
        t.protocol, t.address, t.port, t.name, "PID", t.process, t.user, t.flags, t.command,
    ] {
        h.el("<th>", col, "</th>");
    }
    h.raw("</tr></thead><tbody>");
    for row in rows {
        let l = &row.socket;
        h.raw("<tr><td>")
            .text(l.protocol.as_str())
            .raw("</td><td class=\"mono\">");
        h.text(&l.address.to_string());
        if let Some(dev) = &l.interface {
            h.text(&format!("%{dev}"));
        }
        h.raw("</td><td>")
            .link(
                &ctx.href(&format!("/ports/{}", l.port)),
                &l.port.to_string(),
            )
            .raw("</td><td>");
        match row.registry.services.first() {
            Some(n) if row.registry.status == Status::Assigned => h.text(n),
            _ => h.el(
                "<span class=\"dim\">",
                row.registry.status.as_str(),
                "</span>",
            ),
        };
        h.raw("</td>");
        let owners: Vec<OwnerCells> = if l.owners.is_empty() {
            let what = if l.owner_status == OwnerStatus::Hidden {
                "(hidden)"
            } else {
                "(none)"
            };
            vec![("-".into(), what.into(), l.user_label(), String::new())]
        } else {
            l.owners
                .iter()
                .map(|o| match &o.process {
                    Some(p) => (
                        o.pid.to_string(),
                        p.name.to_string(),
                        p.user
                            .as_deref()
                            .map(str::to_owned)
                            .or_else(|| p.uid.map(|u| u.to_string()))
                            .unwrap_or_default(),
                        if p.cmdline.is_empty() {
                            format!("[{}]", p.name)
                        } else {
                            p.cmdline.join(" ")
                        },
                    ),
                    None => (
                        o.pid.to_string(),
                        "unknown".into(),
                        String::new(),
                        "(exited)".into(),
                    ),
                })
                .collect()
        };
        let cell = |h: &mut Html, f: &dyn Fn(&OwnerCells) -> &str, class: &'static str| {
            h.raw(class);
            for (i, o) in owners.iter().enumerate() {
                if i > 0 {
                    h.raw("<br>");
                }
                h.text(f(o));
            }
            h.raw("</td>");
        };
        cell(h, &|o| &o.0, "<td>");
        cell(h, &|o| &o.1, "<td>");
        cell(h, &|o| &o.2, "<td>");
        h.raw("<td>");
        for f in row.flags.iter() {
            h.raw("<span class=\"")
                .raw(flag_class(row, f))
                .raw("\">")
                .text(f.as_str())
                .raw("</span> ");
        }
        h.raw("</td>");
        // Long command lines are cut in the table; the whole line is in the title (hover).
        h.raw("<td class=\"cmd mono\">");
        for (i, o) in owners.iter().enumerate() {
            if i > 0 {
                h.raw("<br>");
            }
            if o.3.chars().count() > COMMAND_CUT {
                let short: String = o.3.chars().take(COMMAND_CUT - 1).collect();
                h.raw("<span title=\"")
                    .text(&o.3)
                    .raw("\">")
                    .text(&short)
                    .raw("\u{2026}</span>");
            } else {
                h.text(&o.3);
            }
        }
        h.raw("</td>");
        h.raw("</tr>");
    }
    h.raw("</tbody></table></div>");
}

/// Filters of the listening page, as given in the query string.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ListeningParams {
    pub ghosts: Option<String>,
    /// Only sockets in the dynamic range 49152-65535 (`dynamic=1`).
    pub dynamic: Option<String>,
    pub exposed: Option<String>,
    pub process: Option<String>,
    pub pid: Option<u32>,
    pub protocol: Option<String>,
    /// The page of the table: rows from `offset`, at most `limit` of them.
    pub offset: Option<String>,
    pub limit: Option<String>,
}

/// Which rows of a listing one answer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Page {
    /// The rows of `total` this page shows.
    pub fn range(&self, total: usize) -> std::ops::Range<usize> {
        let start = self.offset.min(total);
        start..start.saturating_add(self.limit).min(total)
    }
}

impl ListeningParams {
    pub fn on(v: &Option<String>) -> bool {
        v.as_deref()
            .is_some_and(|v| matches!(v, "1" | "on" | "true" | "yes"))
    }
}

/// `rep` holds every matching row; the table shows those of `page`, and `next` links to the
/// following page when there is one.
pub fn listening_page(
    ctx: &Ctx,
    rep: Result<&Report<'_>, &str>,
    params: &ListeningParams,
    page: Page,
    next: Option<&str>,
) -> String {
    let t = ctx.t();
    let mut h = Html::with_capacity(16_000);
    h.el("<h1>", t.listening, "</h1>");
    h.raw("<form class=\"filters\" method=\"get\" action=\"/listening\"><label><input type=\"checkbox\" name=\"ghosts\" value=\"1\"");
    if ListeningParams::on(&params.ghosts) {
        h.raw(" checked");
    }
    h.raw("> ")
        .text(t.only_ghosts)
        .raw("</label> <label><input type=\"checkbox\" name=\"exposed\" value=\"1\"");
    if ListeningParams::on(&params.exposed) {
        h.raw(" checked");
    }
    h.raw("> ")
        .text(t.only_exposed)
        .raw("</label> <label>")
        .text(t.process)
        .raw(" <input type=\"text\" name=\"process\" size=\"12\" value=\"")
        .text(params.process.as_deref().unwrap_or(""))
        .raw("\"></label> <label>")
        .text(t.protocol)
        .raw(" <select name=\"protocol\">");
    for (v, label) in [("", "tcp+udp"), ("tcp", "tcp"), ("udp", "udp")] {
        h.raw("<option value=\"").raw(v).raw("\"");
        if params.protocol.as_deref().unwrap_or("") == v {
            h.raw(" selected");
        }
        h.raw(">").raw(label).raw("</option>");
    }
    h.raw("</select></label>");
    if ctx.explicit {
        h.raw("<input type=\"hidden\" name=\"lang\" value=\"")
            .raw(ctx.lang.code())
            .raw("\">");
    }
    h.raw(" <button type=\"submit\">")
        .text(t.apply)
        .raw("</button></form>");
    h.raw("<section class=\"live\" data-refresh=\"3\"><p class=\"dim\">")
        .text(t.refreshes)
        .raw("</p><div id=\"live-table\">");
    match rep {
        Ok(rep) => {
            let (tcp, udp, ghosts, exposed) = rep.counts();
            h.el(
                "<p class=\"counts\">",
                &format!(
                    "{} sockets: {tcp} tcp, {udp} udp; {ghosts} ghosts, {exposed} exposed",
                    rep.sockets.len()
                ),
                "</p>",
            );
            let shown = page.range(rep.sockets.len());
            if rep.sockets.is_empty() {
                h.el("<p>", t.no_results, "</p>");
            } else {
                listeners_table(&mut h, ctx, &rep.sockets[shown.clone()]);
            }
            if shown.len() < rep.sockets.len() {
                h.el(
                    "<p class=\"dim\">",
                    &format!(
                        "rows {} to {} of {}",
                        (shown.start + 1).min(shown.end),
                        shown.end,
                        rep.sockets.len()
                    ),
                    "</p>",
                );
            }
            if let Some(next) = next {
                h.raw("<p><a rel=\"next\" href=\"")
                    .text(&ctx.href(next))
                    .raw("\">")
                    .text("next rows")
                    .raw("</a></p>");
            }
            for n in &rep.notes {
                h.el("<p class=\"warn\">", n, "</p>");
            }
        }
        Err(e) => {
            h.el(
                "<p class=\"warn\">",
                &format!("cannot list sockets: {e}"),
                "</p>",
            );
        }
    }
    h.raw("</div></section>");
    let crumbs = [(t.listening.to_owned(), None)];
    layout_with(ctx, t.listening, &crumbs, &h.finish(), true)
}

/// `/hosts`: every host the store remembers, with its newest run.
pub fn hosts_page(
    ctx: &Ctx,
    reg: &portent_registry::Registry,
    hosts: Result<Option<&[crate::memory::HostSummary]>, &str>,
) -> String {
    let t = ctx.t();
    let mut h = Html::with_capacity(8_000);
    h.el("<h1>", t.hosts, "</h1>");
    match hosts {
        Err(e) => {
            h.el(
                "<p class=\"warn\">",
                &format!("cannot read the store: {e}"),
                "</p>",
            );
        }
        Ok(None) => {
            h.el("<p>", t.nothing_stored, "</p>");
        }
        Ok(Some([])) => {
            h.el("<p>", t.nothing_stored, "</p>");
        }
        Ok(Some(list)) => {
            h.raw("<div class=\"scroll\"><table class=\"hosts\"><thead><tr><th>")
                .text(t.host)
                .raw("</th><th>")
                .text(t.last_run)
                .raw("</th><th>")
                .text(t.open_ports)
                .raw("</th><th>ghosts</th></tr></thead><tbody>");
            for s in list {
                let ghosts = s
                    .open
                    .iter()
                    .filter(|p| p.protocol == "tcp" && crate::memory::ghost(reg, p.port))
                    .count();
                h.raw("<tr><td>")
                    .link(&ctx.href(&format!("/hosts/{}", s.host)), &s.host)
                    .raw("</td><td>")
                    .text(&format!(
                        "{} ({}{})",
                        portent_store::utc_readable(s.run.started_ms),
                        s.run.id,
                        // A named scan says which of its shards are missing.
                        match &s.shards {
                            Some(sh) if !sh.all_done() => format!(", {}", sh.summary()),
                            _ if s.run.complete => String::new(),
                            _ => ", partial".to_owned(),
                        }
                    ))
                    .raw("</td><td>");
                for (i, p) in s.open.iter().enumerate() {
                    if i > 0 {
                        h.raw(" ");
                    }
                    h.link(
                        &ctx.href(&format!("/ports/{}", p.port)),
                        &p.port.to_string(),
                    );
                }
                h.raw("</td><td>")
                    .num(u16::try_from(ghosts).unwrap_or(u16::MAX))
                    .raw("</td></tr>");
            }
            h.raw("</tbody></table></div>");
        }
    }
    let crumbs = [(t.hosts.to_owned(), None)];
    layout(ctx, t.hosts, &crumbs, &h.finish())
}

/// `/hosts/{addr}`: the life of each port seen open on one host.
pub fn host_page(
    ctx: &Ctx,
    host: &str,
    lines: Result<Option<&[portent_store::PortTimeline]>, &str>,
) -> String {
    let t = ctx.t();
    let mut h = Html::with_capacity(8_000);
    h.el("<h1>", host, "</h1>");
    match lines {
        Err(e) => {
            h.el(
                "<p class=\"warn\">",
                &format!("cannot read the store: {e}"),
                "</p>",
            );
        }
        Ok(None) | Ok(Some([])) => {
            h.el("<p>", t.nothing_stored, "</p>");
        }
        Ok(Some(lines)) => {
            for l in lines {
                h.raw("<section class=\"timeline\"><h2>")
                    .link(
                        &ctx.href(&format!("/ports/{}", l.port)),
                        &format!("{}/{}", l.port, l.protocol),
                    )
                    .raw(if l.open_now {
                        " <span class=\"st st-assigned\">open</span>"
                    } else {
                        " <span class=\"st st-unassigned\">closed</span>"
                    })
                    .raw("</h2><ul>");
                for e in &l.events {
                    let detail = e
                        .detail
                        .as_deref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default();
                    h.el(
                        "<li>",
                        &format!(
                            "{} {} (run {}){detail}",
                            portent_store::utc_readable(e.at_ms),
                            e.event,
                            e.run
                        ),
                        "</li>",
                    );
                }
                h.raw("</ul></section>");
            }
        }
    }
    let crumbs = [
        (t.hosts.to_owned(), Some(ctx.href("/hosts"))),
        (host.to_owned(), None),
    ];
    layout(ctx, host, &crumbs, &h.finish())
}

/// The index: search results (when `q` is given), the grid, this machine's listeners.
/// The search form (site header and index page): a GET to `/ports` that keeps an explicitly
/// chosen language. `value` pre-fills the box (the index page) and gives it the id `q`.
fn search_form(h: &mut Html, ctx: &Ctx, class: &'static str, value: Option<&str>) {
    let t = ctx.t();
    h.raw("<form class=\"")
        .raw(class)
        .raw("\" method=\"get\" action=\"/ports\" role=\"search\"><input");
    if let Some(v) = value {
        h.raw(" id=\"q\" value=\"").text(v).raw("\"");
    }
    h.raw(" type=\"search\" name=\"q\" placeholder=\"")
        .text(t.search_placeholder)
        .raw("\" aria-label=\"")
        .text(t.search)
        .raw("\">");
    if ctx.explicit {
        h.raw("<input type=\"hidden\" name=\"lang\" value=\"")
            .raw(ctx.lang.code())
            .raw("\">");
    }
    h.raw("<button type=\"submit\">")
        .text(t.search)
        .raw("</button></form>");
}

/// A listening port as the grid marks it.
#[derive(Debug, Clone)]
pub struct GridMark {
    pub port: u16,
    pub cell: Cell,
    pub names: Vec<&'static str>,
}

impl GridMark {
    /// "Port 22: assigned, ssh; listening here".
    fn title(&self, ctx: &Ctx) -> String {
        let t = ctx.t();
        let status = match self.cell {
            Cell::Assigned => t.assigned,
            Cell::Reserved => t.reserved,
            Cell::Dynamic => t.dynamic,
            Cell::Unassigned | Cell::Listening => t.unassigned,
        };
        let mut s = format!("{} {}: {status}", t.port, self.port);
        if !self.names.is_empty() {
            s.push_str(", ");
            s.push_str(&self.names.join(", "));
        }
        s.push_str("; ");
        s.push_str(t.listener_here);
        s
    }
}

pub fn index_page(
    ctx: &Ctx,
    q: Option<&str>,
    direct: Option<u16>,
    hits: &[Hit],
    marks: &[GridMark],
    curated: &[(u16, &'static str)],
) -> String {
    let t = ctx.t();
    let mut h = Html::with_capacity(20_000);
    h.el("<h1>", t.ports, "</h1>");
    search_form(&mut h, ctx, "search big", Some(q.unwrap_or("")));
    if let Some(q) = q {
        h.raw("<section id=\"results\"><h2>")
            .text(t.results)
            .raw(": ")
            .text(q)
            .raw("</h2>");
        if direct.is_none() && hits.is_empty() {
            h.el("<p>", t.no_results, "</p>");
        }
        h.raw("<ul class=\"hits\">");
        if let Some(p) = direct {
            h.raw("<li>")
                .link(
                    &ctx.href(&format!("/ports/{p}")),
                    &format!("{} {p}", t.port),
                )
                .raw("</li>");
        }
        for hit in hits {
            let kind = match hit.kind {
                HitKind::Service => hit
                    .protocols
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                HitKind::Note => "note".to_owned(),
            };
            // Separate ports are listed and linked one by one (6568, 7070), ranges as
            // ranges (6000-6063); a name registered without a port says so.
            let items = portent_registry::port_items(&hit.ports);
            h.raw("<li>");
            match items.as_slice() {
                [] => {
                    h.el("<span class=\"noport\">", t.no_port, "</span>");
                }
                [one] if one.is_single() => {
                    h.link(
                        &ctx.href(&format!("/ports/{}", one.first)),
                        &format!("{} {}", t.port, one.first),
                    );
                }
                _ => {
                    h.text(t.ports).raw(" ");
                    for (i, s) in items.iter().enumerate() {
                        if i > 0 {
                            h.raw(", ");
                        }
                        let label = if s.is_single() {
                            s.first.to_string()
                        } else {
                            format!("{}-{}", s.first, s.last)
                        };
                        h.link(&ctx.href(&format!("/ports/{}", s.first)), &label);
                    }
                }
            }
            h.raw(" <strong>")
                .text(hit.name)
                .raw("</strong> <span class=\"dim\">")
                .text(&kind)
                .raw("</span> ")
                .text(hit.text.lines().next().unwrap_or(""))
                .raw("</li>");
        }
        h.raw("</ul></section>");
    }
    h.raw("<section id=\"grid\"><h2>").text(t.grid).raw("</h2>");
    h.el("<p class=\"dim\">", t.grid_help, "</p>");
    h.raw("<ul class=\"legend\">");
    for (cell, word) in [
        (Cell::Assigned, t.assigned),
        (Cell::Reserved, t.reserved),
        (Cell::Unassigned, t.unassigned),
        (Cell::Dynamic, t.dynamic),
    ] {
        let _ = PALETTE[cell as usize];
        h.raw("<li><span class=\"sw sw-")
            .num(cell as u8)
            .raw("\"></span>")
            .text(word)
            .raw("</li>");
    }
    // Listeners are drawn in their own colour and ringed, so they show without colour too.
    h.raw("<li><span class=\"sw sw-4 ring\"></span>")
        .text(t.listener_here)
        .raw("</li></ul>");
    // The picture with its axes: the first port of every 16th row down the side (each row
    // is 256 ports), the offset within the row along the top; a ringed marker, with a
    // title, on each listening port. The script adds a title for every cell.
    h.raw("<div class=\"gridbox\" data-port=\"")
        .text(t.port)
        .raw("\" data-words=\"");
    for (i, w) in [
        t.unassigned,
        t.reserved,
        t.assigned,
        t.dynamic,
        t.listener_here,
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            h.raw("|");
        }
        h.text(w);
    }
    h.raw("\"><ol class=\"axis-x\" aria-hidden=\"true\">");
    for col in [0u16, 64, 128, 192] {
        h.raw("<li>+").num(col).raw("</li>");
    }
    h.raw("</ol><ol class=\"axis-y\" aria-label=\"")
        .text(t.grid_rows)
        .raw("\">");
    for block in (0u32..256).step_by(16) {
        let first = block * 256;
        h.raw("<li>")
            .link(&ctx.href(&format!("/ports/{first}")), &first.to_string())
            .raw("</li>");
    }
    h.raw("</ol><div class=\"gridpic\"><a href=\"/ports/at\" id=\"grid-link\"><img id=\"grid-img\" src=\"/ports/grid.png\" ismap width=\"512\" height=\"512\" alt=\"")
        .text(t.grid)
        .raw("\"></a><svg class=\"marks\" id=\"grid-marks\" viewBox=\"0 0 512 512\" width=\"512\" height=\"512\" aria-label=\"")
        .text(t.listener_here)
        .raw("\">");
    for m in marks {
        let (x, y) = (
            u32::from(m.port % 256) * 2 + 1,
            u32::from(m.port / 256) * 2 + 1,
        );
        h.raw("<a class=\"mark\" href=\"")
            .text(&ctx.href(&format!("/ports/{}", m.port)))
            .raw("\"><title>")
            .text(&m.title(ctx))
            .raw("</title><circle cx=\"")
            .num(x)
            .raw("\" cy=\"")
            .num(y)
            .raw("\" r=\"6\"></circle></a>");
    }
    h.raw("</svg></div></div><div id=\"grid-tip\" class=\"tip\" aria-live=\"polite\"></div></section>");
    if !marks.is_empty() {
        h.raw("<section id=\"here\"><h2>")
            .text(t.listening)
            .raw("</h2><p class=\"portlist\">");
        for m in marks {
            h.link(
                &ctx.href(&format!("/ports/{}", m.port)),
                &m.port.to_string(),
            )
            .raw(" ");
        }
        h.raw("</p></section>");
    }
    if !curated.is_empty() {
        h.raw("<section id=\"notes\"><h2>")
            .text(t.history)
            .raw("</h2><ul class=\"curated\">");
        for (p, title) in curated {
            h.raw("<li>")
                .link(
                    &ctx.href(&format!("/ports/{p}")),
                    &format!("{} {p}", t.port),
                )
                .raw(" ")
                .text(title)
                .raw("</li>");
        }
        h.raw("</ul></section>");
    }
    frame(
        ctx,
        t.ports,
        &[(t.ports.to_owned(), None)],
        &h.finish(),
        false,
        SearchBox::InBody,
    )
}

pub fn feedback_page(ctx: &Ctx, s: &Summary) -> String {
    let t = ctx.t();
    let mut h = Html::with_capacity(8_000);
    h.el("<h1>", t.feedback, "</h1>");
    let total = s.total.yes + s.total.partly + s.total.no;
    if total == 0 {
        h.el("<p>", t.no_feedback, "</p>");
    } else {
        h.el(
            "<p class=\"lead\">",
            &format!(
                "{total} answers: {} yes, {} partly, {} no.",
                s.total.yes, s.total.partly, s.total.no
            ),
            "</p>",
        );
        h.raw("<h2>")
            .text(t.answers)
            .raw("</h2><div class=\"scroll\"><table><thead><tr>");
        for col in [t.port, t.yes, t.partly, t.no] {
            h.el("<th>", col, "</th>");
        }
        h.raw("</tr></thead><tbody>");
        for c in &s.ports {
            h.raw("<tr><td>")
                .link(
                    &ctx.href(&format!("/ports/{}", c.port)),
                    &c.port.to_string(),
                )
                .raw("</td><td>")
                .num(c.yes)
                .raw("</td><td>")
                .num(c.partly)
                .raw("</td><td>")
                .num(c.no)
                .raw("</td></tr>");
        }
        h.raw("</tbody></table></div>");
        if !s.comments.is_empty() {
            h.raw("<h2>")
                .text(t.recent_comments)
                .raw("</h2><ul class=\"comments\">");
            for c in &s.comments {
                h.raw("<li>")
                    .link(
                        &ctx.href(&format!("/ports/{}", c.port)),
                        &format!("{} {}", t.port, c.port),
                    )
                    .raw(" <span class=\"dim\">")
                    .text(&c.answer)
                    .raw("</span> <q>")
                    .text(&c.comment)
                    .raw("</q></li>");
            }
            h.raw("</ul>");
        }
    }
    layout(
        ctx,
        t.feedback,
        &[(t.feedback.to_owned(), None)],
        &h.finish(),
    )
}

/// A stored socket's flags as the listening table marks them.
fn fleet_flags(h: &mut Html, s: &crate::fleet::FleetSocket) {
    use portent_registry::PortRange;
    for f in s.flags.iter() {
        let class = match f {
            Flag::Ghost
                if s.registry
                    .as_ref()
                    .is_some_and(|r| r.range == PortRange::System) =>
            {
                "flag flag-ghost strong"
            }
            Flag::Ghost => "flag flag-ghost",
            Flag::Exposed => "flag flag-exposed",
            Flag::Ephemeral => "flag flag-ephemeral",
            Flag::DualStack => "flag flag-dual",
            Flag::Dynamic => "flag flag-dynamic",
        };
        h.raw("<span class=\"")
            .raw(class)
            .raw("\">")
            .text(f.as_str())
            .raw("</span> ");
    }
}

/// `80/tcp (http)` linking to the port's page.
fn fleet_port(h: &mut Html, ctx: &Ctx, s: &crate::fleet::FleetSocket) {
    h.link(
        &ctx.href(&format!("/ports/{}", s.socket.port)),
        &format!("{}/{}", s.socket.port, s.socket.protocol),
    )
    .el(" <span class=\"svc\">(", &s.service(), ")</span>");
}

/// Sockets as a list of ports in one cell, with the address when it is not a wildcard.
fn fleet_port_list(h: &mut Html, ctx: &Ctx, list: &[crate::fleet::FleetSocket]) {
    if list.is_empty() {
        h.raw("-");
    }
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            h.raw("<br>");
        }
        h.text(&s.socket.address).raw(" ");
        fleet_port(h, ctx, s);
    }
}

/// `web-1 (machine-id 3f2a…)`: how a host is named on the pages.
fn fleet_host_name(host: &crate::fleet::FleetHost) -> String {
    match &host.machine_id {
        Some(m) => format!(
            "{} (machine-id {}…)",
            host.hostname,
            m.chars().take(12).collect::<String>()
        ),
        None => host.hostname.clone(),
    }
}

fn fleet_changes(h: &mut Html, ctx: &Ctx, changes: &[crate::fleet::FleetChange]) {
    if changes.is_empty() {
        h.raw("-");
    }
    for (i, c) in changes.iter().enumerate() {
        if i > 0 {
            h.raw("<br>");
        }
        h.raw(if c.action == "added" {
            "<span class=\"change added\">+ added</span> "
        } else {
            "<span class=\"change removed\">- removed</span> "
        })
        .text(&c.socket.socket.address)
        .raw(" ");
        fleet_port(h, ctx, &c.socket);
        h.raw(" ");
        fleet_flags(h, &c.socket);
    }
}

/// `/fleet`: one row per host with a listening snapshot in the store.
pub fn fleet_page(ctx: &Ctx, fleet: Result<Option<&crate::fleet::Fleet>, &str>) -> String {
    let t = ctx.t();
    let mut h = Html::with_capacity(8_000);
    h.el("<h1>", t.fleet, "</h1>");
    match fleet {
        Err(e) => {
            h.el(
                "<p class=\"warn\">",
                &format!("cannot read the store: {e}"),
                "</p>",
            );
        }
        Ok(None) => {
            h.el("<p>", t.nothing_stored, "</p>");
        }
        Ok(Some(f)) if f.hosts.is_empty() => {
            h.el("<p>", t.nothing_stored, "</p>");
        }
        Ok(Some(f)) => {
            let n = f.totals;
            h.el(
                "<p class=\"summary\" id=\"fleet-totals\">",
                &format!(
                    "{} hosts, {} listeners; {} ghosts on {} hosts, {} exposed on {} hosts; \
                     {} hosts changed since their snapshot before",
                    n.hosts,
                    n.listeners,
                    n.ghosts,
                    n.hosts_with_ghosts,
                    n.exposed,
                    n.hosts_with_exposed,
                    n.hosts_changed
                ),
                "</p>",
            );
            h.raw(
                "<div class=\"scroll\"><table class=\"fleet\"><thead><tr><th>host</th>\
                 <th>last snapshot</th><th>listeners</th><th>ghosts</th><th>exposed</th>\
                 <th>changes since the snapshot before</th></tr></thead><tbody>",
            );
            for host in &f.hosts {
                h.raw("<tr data-host=\"")
                    .text(&host.host_id)
                    .raw("\"><td>")
                    .link(
                        &ctx.href(&format!(
                            "/fleet/{}",
                            crate::fleet::path_segment(&host.host_id)
                        )),
                        &host.host_id,
                    )
                    .el(
                        "<br><span class=\"dim\">",
                        &fleet_host_name(host),
                        "</span>",
                    )
                    .raw("</td><td>")
                    .text(&format!("{} ({})", host.started, host.snapshot))
                    .raw("</td><td class=\"num\">")
                    .num(host.listeners as u64)
                    .raw("</td><td>");
                fleet_port_list(&mut h, ctx, &host.ghost_sockets);
                h.raw("</td><td>");
                fleet_port_list(&mut h, ctx, &host.exposed_sockets);
                h.raw("</td><td>");
                if host.previous.is_none() {
                    h.raw("<span class=\"dim\">first snapshot</span>");
                } else {
                    fleet_changes(&mut h, ctx, &host.changes);
                }
                h.raw("</td></tr>");
            }
            h.raw("</tbody></table></div>");
        }
    }
    let crumbs = [(t.fleet.to_owned(), None)];
    layout(ctx, t.fleet, &crumbs, &h.finish())
}

/// `/fleet/HOST`: every socket of the host's newest snapshot with what it means, and what
/// changed since the snapshot before.
pub fn fleet_host_page(ctx: &Ctx, d: &crate::fleet::FleetHostDetail) -> String {
    let t = ctx.t();
    let host = &d.host;
    let mut h = Html::with_capacity(8_000);
    h.el("<h1>", &host.host_id, "</h1>");
    h.el(
        "<p class=\"summary\">",
        &format!(
            "{}; snapshot {} at {} of {}: {} listeners, {} ghosts, {} exposed",
            fleet_host_name(host),
            host.snapshot,
            host.started,
            host.target,
            host.listeners,
            host.ghosts,
            host.exposed
        ),
        "</p>",
    );
    h.raw("<h2>changes since the snapshot before</h2><p id=\"changes\">");
    match &host.previous {
        None => {
            h.raw("none: this is the host's first snapshot");
        }
        Some(p) => {
            h.text(&format!("since {p}: ")).raw("<br>");
            fleet_changes(&mut h, ctx, &host.changes);
        }
    }
    h.raw("</p><h2>listeners</h2>");
    h.raw(
        "<div class=\"scroll\"><table class=\"listeners\"><thead><tr><th>proto</th>\
         <th>address</th><th>port</th><th>service</th><th>flags</th><th>pid</th>\
         <th>process</th><th>user</th><th>executable</th></tr></thead><tbody>",
    );
    for s in &d.sockets {
        let so = &s.socket;
        h.el("<tr><td>", &so.protocol, "</td>")
            .el("<td class=\"mono\">", &so.address, "</td>")
            .raw("<td class=\"num\">")
            .link(
                &ctx.href(&format!("/ports/{}", so.port)),
                &so.port.to_string(),
            )
            .raw("</td>")
            .el("<td>", &s.service(), "</td>")
            .raw("<td>");
        fleet_flags(&mut h, s);
        h.el(
            "</td><td class=\"num\">",
            &so.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
            "</td>",
        )
        .el("<td>", so.process.as_deref().unwrap_or("-"), "</td>")
        .el("<td>", &so.user, "</td>")
        .el("<td class=\"mono\">", &so.executable, "</td></tr>");
    }
    h.raw("</tbody></table></div>");
    let crumbs = [
        (t.fleet.to_owned(), Some(ctx.href("/fleet"))),
        (host.host_id.clone(), None),
    ];
    layout(ctx, &host.host_id, &crumbs, &h.finish())
}
