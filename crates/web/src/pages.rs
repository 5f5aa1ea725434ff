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

/// [`layout`]; `refresh` makes the page reload itself every 15 s when JavaScript is off (with
/// it on, the script refreshes the live part in place).
pub fn layout_with(
    ctx: &Ctx,
    title: &str,
    crumbs: &[(String, Option<String>)],
    body: &str,
    refresh: bool,
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
        .link(&ctx.href("/feedback"), t.feedback)
        .raw("</nav>");
    search_form(&mut h, ctx, "search", None);
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

fn concern_word(c: Concern) -> &'static str {
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

/// One sentence summing up the registry's answer, from the facts.
fn summary_sentence(r: &PortReport) -> String {
    let p = r.port;
    let (lo, hi) = r.range_bounds;
    let mut s = format!("Port {p} lies in the {} range ({lo}-{hi}). ", r.range);
    let parts: Vec<String> = Protocol::ALL
        .iter()
        .map(|&proto| {
            let e = r.entry(proto);
            let mut names: Vec<&str> = e.services.iter().map(|s| s.name).collect();
            names.dedup();
            if names.is_empty() {
                format!("{} {}", proto.as_str().to_uppercase(), e.status)
            } else {
                format!(
                    "{} assigned to {}",
                    proto.as_str().to_uppercase(),
                    names.join(", ")
                )
            }
        })
        .collect();
    s.push_str("In the IANA registry: ");
    s.push_str(&parts.join("; "));
    s.push('.');
    if r.assessment.ghost {
        s.push_str(
            " Neither TCP nor UDP is assigned, so a listener here is what portent calls a ghost.",
        );
    }
    if let Some(k) = &r.assessment.known_use {
        s.push_str(&format!(" It is commonly {}.", k.title));
    }
    if r.assessment.private_use {
        s.push_str(" It is set aside for private use of the kind the registry names.");
    }
    if !r.assessment.listenable {
        s.push_str(
            " Nothing can listen on it: binding port 0 asks the operating system for any free port.",
        );
    }
    s
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
        h.raw(" <span class=\"flag flag-ghost\">ghost</span>");
    }
    h.raw("</h1>");
    h.el("<p class=\"lead\">", &summary_sentence(r), "</p>");

    // What it is.
    h.raw("<section id=\"what\"><h2>")
        .text(t.what_it_is)
        .raw("</h2><dl class=\"facts\">");
    h.raw("<dt>").text(t.range).raw("</dt><dd>");
    h.text(&format!(
        "{} ({}-{}): ",
        r.range, r.range_bounds.0, r.range_bounds.1
    ))
    .text(r.range_meaning)
    .raw("</dd>");
    h.raw("<dt>")
        .text(t.privilege)
        .raw("</dt><dd>")
        .text(&r.privilege_detail)
        .raw("</dd>");
    h.raw("<dt>").text(t.ephemeral).raw("</dt><dd>");
    match (r.ephemeral, r.ephemeral_range) {
        (_, Some((lo, hi))) if !r.assessment.listenable => {
            h.text(&format!(
                "binding port {p} gets a free port from this host's ephemeral range {lo}-{hi}"
            ));
        }
        (Some(inside), Some((lo, hi))) => {
            let verdict = if inside { "inside" } else { "outside" };
            h.text(&format!("{verdict} this host's ephemeral range {lo}-{hi}"));
        }
        _ => {
            h.text("unknown on this host");
        }
    }
    h.raw("</dd></dl>");
    h.raw("<h3>")
        .text(t.registry)
        .raw("</h3><div class=\"scroll\"><table class=\"reg\"><thead><tr><th>");
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
    h.text(t.reference).raw("</th></tr></thead><tbody>");
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
            h.raw("<div class=\"note\"><h3>")
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
    h.raw("<section id=\"why\"><h2>");
    if r.assessment.listenable {
        h.text(t.why_matters)
            .raw("</h2><p>")
            .text(t.concern)
            .raw(": <span class=\"concern concern-")
            .raw(concern_word(r.assessment.concern))
            .raw("\">")
            .text(concern_word(r.assessment.concern))
            .raw("</span> <span class=\"dim\">")
            .text(&r.assessment.concern_reason)
            .raw("</span></p><ul>");
    } else {
        h.text(t.can_be_open)
            .raw("</h2><p><strong>")
            .text(t.no)
            .raw("</strong></p><ul>");
    }
    for reason in &r.assessment.reasons {
        h.el("<li>", reason, "</li>");
    }
    h.raw("</ul></section>");

    // What the status means.
    h.raw("<section id=\"meaning\"><h2>")
        .text(t.meaning)
        .raw("</h2><dl class=\"meanings\">");
    let tcp = r.entry(Protocol::Tcp).status;
    let udp = r.entry(Protocol::Udp).status;
    let here = |s: Status| tcp == s || udp == s;
    let defs: [(&str, bool, String); 5] = [
        (t.assigned, here(Status::Assigned), "IANA has recorded a service under this number for the protocol; the name, the person or body responsible and a reference come with it. Other software may still use the port; the registry only says who asked for it.".to_owned()),
        (t.reserved, here(Status::Reserved), "IANA keeps the number back and will not hand it out (RFC 6335 section 6): the edges of the ranges (0, 1023, 1024, 49151), numbers given back by a de-assignment, and TCP or UDP twins of numbers assigned on another transport. Nothing standard should listen here.".to_owned()),
        (t.private_use, here(Status::PrivateUse), "One of the registry's oldest rows sets the number aside for any private service of a kind (a site's own mail system, printer server, terminal access...), with a person recorded for it. A local service of that kind belongs here without a registration of its own.".to_owned()),
        (t.unassigned, here(Status::Unassigned) && r.range != PortRange::Dynamic, "No service is registered for the protocol. The number may be handed out in future, or may have been assigned once and given back (de-registered). Anything listening here chose the number for itself.".to_owned()),
        (t.dynamic, r.range == PortRange::Dynamic, format!("Ports 49152-65535 are never assigned. Operating systems give them to outgoing connections; this host uses {} for that.", r.ephemeral_range.map_or("an unknown range".to_owned(), |(a, b)| format!("{a}-{b}")))),
    ];
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
        h.raw("</dt><dd>").text(&text).raw("</dd></div>");
    }
    h.raw("</dl></section>");

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

    // Live box; nothing to look for (or refresh) on port 0.
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

    // FAQ.
    h.raw("<section id=\"faq\"><h2>")
        .text(t.faq)
        .raw("</h2><dl class=\"faq\">");
    for (q, a) in faq(r, live) {
        h.el("<dt>", &q, "</dt>").el("<dd>", &a, "</dd>");
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

fn faq(r: &PortReport, live: &LiveBox<'_>) -> Vec<(String, String)> {
    let p = r.port;
    let mut out = Vec::new();
    let tcp = r.entry(Protocol::Tcp);
    let udp = r.entry(Protocol::Udp);
    let answer = match r.primary_name() {
        Some(n) => format!(
            "Yes. The IANA registry lists {n} on port {p} (TCP {}, UDP {}).",
            tcp.status, udp.status
        ),
        None if r.range == PortRange::Dynamic => {
            format!("No. Port {p} is in the dynamic range, where IANA assigns nothing.")
        }
        None => format!(
            "No. The registry has no service on port {p} for TCP ({}) or UDP ({}).",
            tcp.status, udp.status
        ),
    };
    out.push((format!("Is port {p} assigned to a service?"), answer));
    let listenable = r.assessment.listenable;
    out.push((
        format!("Does a program need root to listen on port {p}?"),
        if listenable {
            format!(
                "{} Here: {}.",
                if r.privileged == Some(true) {
                    "Yes."
                } else {
                    "No."
                },
                r.privilege_detail
            )
        } else {
            format!(
                "The question does not arise: nothing can listen on port {p}. A program that binds port {p} asks the operating system for any free port, and its socket gets that port."
            )
        },
    ));
    if let Some((lo, hi)) = r.ephemeral_range {
        out.push((
            format!("Can port {p} show up as the source port of an outgoing connection?"),
            if !listenable {
                format!(
                    "Not from this host: it never picks port {p}, but a port from its ephemeral range {lo}-{hi}. Packets from port {p} are anomalous, like those sent to it."
                )
            } else if r.ephemeral == Some(true) {
                format!("Yes: it is inside this host's ephemeral range {lo}-{hi}.")
            } else {
                format!("Not from this host's own choice: its ephemeral range is {lo}-{hi}.")
            },
        ));
    }
    if let Some(n) = r.notes.first() {
        out.push((
            format!("What else is port {p} known for?"),
            format!(
                "{} (see \"{}\" above).",
                n.summary.trim_end_matches('.'),
                n.title
            ),
        ));
    }
    let live_answer = match live {
        _ if !listenable => {
            format!("No, and nothing can: a socket bound to port {p} gets a free port, never {p}.")
        }
        LiveBox::Report(rep) if rep.sockets.is_empty() => {
            format!("Nothing was listening on port {p} when this page was made.")
        }
        LiveBox::Report(rep) => {
            let mut names: Vec<String> = rep
                .sockets
                .iter()
                .map(|s| {
                    s.process
                        .as_deref()
                        .unwrap_or("an unknown process")
                        .to_owned()
                })
                .collect();
            names.sort();
            names.dedup();
            format!(
                "Yes: {} socket(s), held by {}; see the table above.",
                rep.sockets.len(),
                names.join(", ")
            )
        }
        LiveBox::Error(_) => "portent could not list this machine's sockets.".to_owned(),
    };
    out.push((
        format!("Is anything listening on port {p} on this machine?"),
        live_answer,
    ));
    out
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
                        if s.run.complete { "" } else { ", partial" }
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

pub fn index_page(
    ctx: &Ctx,
    q: Option<&str>,
    direct: Option<u16>,
    hits: &[Hit],
    listening: &[u16],
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
            let Some(first) = hit.ports.first() else {
                continue;
            };
            let span = match hit.ports.as_slice() {
                [one] if one.first == one.last => one.first.to_string(),
                [one] => format!("{}-{}", one.first, one.last),
                [a, .., b] => format!("{}..{}", a.first, b.last),
                [] => String::new(),
            };
            let kind = match hit.kind {
                HitKind::Service => hit
                    .protocols
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                HitKind::Note => "note".to_owned(),
            };
            h.raw("<li>")
                .link(
                    &ctx.href(&format!("/ports/{}", first.first)),
                    &format!("{} {span}", t.port),
                )
                .raw(" <strong>")
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
        (Cell::Listening, t.listener_here),
    ] {
        let _ = PALETTE[cell as usize];
        h.raw("<li><span class=\"sw sw-")
            .num(cell as u8)
            .raw("\"></span>")
            .text(word)
            .raw("</li>");
    }
    h.raw("</ul><div class=\"gridbox\"><a href=\"/ports/at\" id=\"grid-link\"><img id=\"grid-img\" src=\"/ports/grid.png\" ismap width=\"512\" height=\"512\" alt=\"")
        .text(t.grid)
        .raw("\"></a><div id=\"grid-tip\" class=\"tip\" aria-live=\"polite\"></div></div>");
    // Row links: readable and usable without the picture.
    h.raw("<details class=\"rows\"><summary>0 - 65535</summary><p>");
    for block in (0u32..256).step_by(16) {
        let first = block * 256;
        h.link(
            &ctx.href(&format!("/ports/{first}")),
            &format!("{first}-{}", first + 16 * 256 - 1),
        )
        .raw(" ");
    }
    h.raw("</p></details></section>");
    if !listening.is_empty() {
        h.raw("<section id=\"here\"><h2>")
            .text(t.listening)
            .raw("</h2><p class=\"portlist\">");
        for p in listening {
            h.link(&ctx.href(&format!("/ports/{p}")), &p.to_string())
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
    layout(ctx, t.ports, &[(t.ports.to_owned(), None)], &h.finish())
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
