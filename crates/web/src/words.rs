//! The port page's own sentences in English, German and Hebrew: the lead sentence, the range
//! and status texts, privilege and ephemeral facts, the assessment and the FAQ.
//!
//! English comes from [`PortReport`] as the CLI prints it. German and Hebrew are built here
//! from the same facts. Text that is curated (note summaries) or the registry's own (service
//! names, descriptions) stays English inside a translated sentence; a sentence that is
//! English as a whole is returned as [`Said::English`], so the page can mark it `lang="en"`.

use portent_registry::report::{Concern, PortReport, ProtocolEntry};
use portent_registry::{PortRange, Protocol, Status};

use crate::i18n::Lang;

/// A sentence in the page's language, or one that stays English (a curated note's summary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Own(String),
    English(String),
}

impl Said {
    pub fn text(&self) -> &str {
        match self {
            Said::Own(s) | Said::English(s) => s,
        }
    }
}

/// Number ranges such as `32768-60999` in a Hebrew sentence, kept left to right and on one
/// line: isolated (U+2066 ... U+2069) with a word joiner after the hyphen. Other languages
/// are returned as they are.
pub fn bidi(lang: Lang, s: String) -> String {
    if lang != Lang::He {
        return s;
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        let digits = |from: usize| {
            chars[from..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count()
        };
        let starts_number = chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_digit());
        if starts_number {
            let a = digits(i);
            let dash = i + a;
            let b = if chars.get(dash) == Some(&'-') {
                digits(dash + 1)
            } else {
                0
            };
            if b > 0 {
                out.push('\u{2066}');
                out.extend(&chars[i..dash]);
                out.push_str("-\u{2060}");
                out.extend(&chars[dash + 1..dash + 1 + b]);
                out.push('\u{2069}');
                i = dash + 1 + b;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `status` as one word (lower case) in `lang`.
pub fn status_word(lang: Lang, s: Status) -> &'static str {
    let t = lang.t();
    match s {
        Status::Assigned => t.assigned,
        Status::Reserved => t.reserved,
        Status::PrivateUse => t.private_use,
        Status::Unassigned => t.unassigned,
    }
}

/// The range's name as it stands before its bounds in the facts list: "system (0-1023)".
pub fn range_name(lang: Lang, r: PortRange) -> &'static str {
    match (lang, r) {
        (Lang::En, r) => r.as_str(),
        (Lang::De, PortRange::System) => "Systemports",
        (Lang::De, PortRange::User) => "Benutzerports",
        (Lang::De, PortRange::Dynamic) => "dynamische Ports",
        (Lang::He, PortRange::System) => "פורטי מערכת",
        (Lang::He, PortRange::User) => "פורטי משתמש",
        (Lang::He, PortRange::Dynamic) => "פורטים דינמיים",
    }
}

/// What the range means, in a sentence.
pub fn range_meaning(lang: Lang, r: PortRange) -> &'static str {
    match (lang, r) {
        (Lang::En, r) => r.meaning(),
        (Lang::De, PortRange::System) => {
            "Systemports (0-1023, auch „well-known“ genannt) werden in einem IETF-Verfahren vergeben; Unix-artige Systeme verlangen traditionell besondere Rechte, um sie zu binden."
        }
        (Lang::De, PortRange::User) => {
            "Benutzerports (1024-49151, auch „registered“ genannt) vergibt die IANA auf Antrag nach einer fachlichen Prüfung; jedes Programm darf sie binden."
        }
        (Lang::De, PortRange::Dynamic) => {
            "Dynamische Ports (49152-65535) vergibt die IANA nie; Betriebssysteme teilen sie kurzlebigen Client-Sockets zu, und Programme wählen sie frei."
        }
        (Lang::He, PortRange::System) => {
            "פורטי מערכת (0-1023, נקראים גם well-known) מוקצים בתהליך בדיקה של ה-IETF; במערכות דמויות Unix נדרשות בדרך כלל הרשאות מיוחדות כדי לקשור אותם."
        }
        (Lang::He, PortRange::User) => {
            "פורטי משתמש (1024-49151, נקראים גם registered) מוקצים על ידי IANA לפי בקשה, אחרי בדיקה של מומחה; כל תוכנית רשאית לקשור אותם."
        }
        (Lang::He, PortRange::Dynamic) => {
            "פורטים דינמיים (49152-65535) לעולם אינם מוקצים על ידי IANA; מערכות ההפעלה מחלקות אותם לשקעי לקוח קצרי חיים, ותוכניות בוחרות בהם בחופשיות."
        }
    }
}

/// Service names of one protocol's entry, in registry order, without repeats.
fn names(e: &ProtocolEntry) -> Vec<&'static str> {
    let mut v: Vec<&str> = e.services.iter().map(|s| s.name).collect();
    v.dedup();
    v
}

/// The sentence under the heading: range, the registry per protocol, and what follows.
pub fn lead(lang: Lang, r: &PortReport) -> String {
    let p = r.port;
    let (lo, hi) = r.range_bounds;
    let parts: Vec<String> = Protocol::ALL
        .iter()
        .map(|&proto| {
            let e = r.entry(proto);
            let names = names(e);
            let up = proto.as_str().to_uppercase();
            match (lang, names.is_empty()) {
                (_, true) => format!("{up} {}", status_word(lang, e.status)),
                (Lang::En, false) => format!("{up} assigned to {}", names.join(", ")),
                (Lang::De, false) => format!("{up} vergeben an {}", names.join(", ")),
                (Lang::He, false) => format!("{up} מוקצה ל-{}", names.join(", ")),
            }
        })
        .collect();
    let mut s = match lang {
        Lang::En => format!(
            "Port {p} lies in the {} range ({lo}-{hi}). In the IANA registry: ",
            r.range
        ),
        Lang::De => {
            let range = match r.range {
                PortRange::System => "Systembereich",
                PortRange::User => "Benutzerbereich",
                PortRange::Dynamic => "dynamischen Bereich",
            };
            format!("Port {p} liegt im {range} ({lo}-{hi}). Im IANA-Register: ")
        }
        Lang::He => {
            let range = match r.range {
                PortRange::System => "המערכת",
                PortRange::User => "המשתמשים",
                PortRange::Dynamic => "הדינמי",
            };
            // The mark after the colon keeps it with "IANA" in a right-to-left line.
            format!("פורט {p} נמצא בטווח {range} ({lo}-{hi}). במרשם של IANA:\u{200f} ")
        }
    };
    s.push_str(&parts.join("; "));
    s.push('.');
    let a = &r.assessment;
    if a.ghost {
        s.push_str(match lang {
            Lang::En => {
                " Neither TCP nor UDP is assigned, so a listener here is what portent calls a ghost."
            }
            Lang::De => {
                " Weder TCP noch UDP ist vergeben; ein Dienst, der hier lauscht, ist daher das, was portent einen Geist nennt."
            }
            Lang::He => {
                " לא TCP ולא UDP מוקצים, ולכן תהליך שמאזין כאן הוא מה ש-portent מכנה רוח רפאים."
            }
        });
    }
    if let Some(k) = &a.known_use {
        s.push_str(&match lang {
            Lang::En => format!(" It is commonly {}.", k.title),
            Lang::De => format!(" Häufig wird er für {} genutzt.", k.title),
            Lang::He => format!(" לעתים קרובות משתמשים בו עבור {}.", k.title),
        });
    }
    if a.private_use {
        s.push_str(match lang {
            Lang::En => " It is set aside for private use of the kind the registry names.",
            Lang::De => " Er ist für private Nutzung der Art freigehalten, die das Register nennt.",
            Lang::He => " הוא שמור לשימוש פרטי מהסוג שהמרשם מציין.",
        });
    }
    if !a.listenable {
        s.push_str(match lang {
            Lang::En => {
                " Nothing can listen on it: binding port 0 asks the operating system for any free port."
            }
            Lang::De => {
                " Auf ihm kann nichts lauschen: Wer Port 0 bindet, bittet das Betriebssystem um einen beliebigen freien Port."
            }
            Lang::He => {
                " שום תהליך לא יכול להאזין לו: קשירה לפורט 0 מבקשת ממערכת ההפעלה פורט פנוי כלשהו."
            }
        });
    }
    s
}

/// The number in "(net.ipv4.ip_unprivileged_port_start = N)" of the English detail.
fn unprivileged_start(detail: &str) -> Option<u16> {
    let (_, rest) = detail.split_once("ip_unprivileged_port_start = ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Whether binding the port needs privilege here, in a phrase.
pub fn privilege(lang: Lang, r: &PortReport) -> String {
    if lang == Lang::En {
        return r.privilege_detail.clone();
    }
    let de = lang == Lang::De;
    if !r.assessment.listenable {
        return if de {
            "entfällt: Port 0 selbst bindet niemand; wer Port 0 bindet, bittet das Betriebssystem um einen beliebigen freien ephemeren Port".to_owned()
        } else {
            "לא רלוונטי: אף תוכנית לא קושרת את פורט 0 עצמו; קשירה לפורט 0 מבקשת ממערכת ההפעלה פורט זמני פנוי כלשהו".to_owned()
        };
    }
    let privileged = r.privileged == Some(true);
    if let Some(start) = unprivileged_start(&r.privilege_detail) {
        let sysctl = format!("(net.ipv4.ip_unprivileged_port_start = {start})");
        // Kept left to right, brackets and all, inside a Hebrew sentence.
        let sysctl = if de {
            sysctl
        } else {
            format!("\u{2066}{sysctl}\u{2069}")
        };
        return match (de, privileged) {
            (true, true) => format!(
                "das Binden erfordert auf diesem Rechner root oder CAP_NET_BIND_SERVICE {sysctl}"
            ),
            (true, false) => format!("jeder Benutzer darf ihn auf diesem Rechner binden {sysctl}"),
            (false, true) => {
                format!("הקשירה דורשת במחשב הזה root או CAP_NET_BIND_SERVICE {sysctl}")
            }
            (false, false) => format!("כל משתמש רשאי לקשור אותו במחשב הזה {sysctl}"),
        };
    }
    if r.privilege_detail.starts_with("Windows") {
        return if de {
            "Windows erlaubt jedem Benutzer, jeden Port zu binden".to_owned()
        } else {
            "ב-Windows כל משתמש רשאי לקשור כל פורט".to_owned()
        };
    }
    match (de, privileged) {
        (true, true) => {
            "das Binden erfordert auf Unix-artigen Systemen besondere Rechte (Ports unter 1024)"
        }
        (true, false) => "jeder Benutzer darf ihn auf Unix-artigen Systemen binden (ab 1024)",
        (false, true) => "במערכות דמויות Unix הקשירה דורשת הרשאות מיוחדות (פורטים מתחת ל-1024)",
        (false, false) => "במערכות דמויות Unix כל משתמש רשאי לקשור אותו (מ-1024 ומעלה)",
    }
    .to_owned()
}

/// Whether the port is inside this host's ephemeral range, in a phrase.
pub fn ephemeral(lang: Lang, r: &PortReport) -> String {
    let p = r.port;
    match (r.ephemeral, r.ephemeral_range) {
        (_, Some((lo, hi))) if !r.assessment.listenable => match lang {
            Lang::En => format!(
                "binding port {p} gets a free port from this host's ephemeral range {lo}-{hi}"
            ),
            Lang::De => format!(
                "wer Port {p} bindet, erhält einen freien Port aus dem ephemeren Bereich dieses Rechners ({lo}-{hi})"
            ),
            Lang::He => {
                format!("קשירה לפורט {p} מקבלת פורט פנוי מהטווח הזמני של המחשב הזה ({lo}-{hi})")
            }
        },
        (Some(inside), Some((lo, hi))) => match (lang, inside) {
            (Lang::En, true) => format!("inside this host's ephemeral range {lo}-{hi}"),
            (Lang::En, false) => format!("outside this host's ephemeral range {lo}-{hi}"),
            (Lang::De, true) => {
                format!("innerhalb des ephemeren Bereichs dieses Rechners ({lo}-{hi})")
            }
            (Lang::De, false) => {
                format!("außerhalb des ephemeren Bereichs dieses Rechners ({lo}-{hi})")
            }
            (Lang::He, true) => format!("בתוך הטווח הזמני של המחשב הזה ({lo}-{hi})"),
            (Lang::He, false) => format!("מחוץ לטווח הזמני של המחשב הזה ({lo}-{hi})"),
        },
        _ => match lang {
            Lang::En => "unknown on this host",
            Lang::De => "auf diesem Rechner unbekannt",
            Lang::He => "לא ידוע במחשב הזה",
        }
        .to_owned(),
    }
}

pub fn concern_word(lang: Lang, c: Concern) -> &'static str {
    match (lang, c) {
        (Lang::En, Concern::Low) => "low",
        (Lang::En, Concern::Medium) => "medium",
        (Lang::En, Concern::High) => "high",
        (Lang::De, Concern::Low) => "gering",
        (Lang::De, Concern::Medium) => "mittel",
        (Lang::De, Concern::High) => "hoch",
        (Lang::He, Concern::Low) => "נמוכה",
        (Lang::He, Concern::Medium) => "בינונית",
        (Lang::He, Concern::High) => "גבוהה",
    }
}

/// The glossary: each status, whether it applies to this port, and what it means.
pub fn status_texts(lang: Lang, r: &PortReport) -> [(&'static str, bool, String); 5] {
    let t = lang.t();
    let tcp = r.entry(Protocol::Tcp).status;
    let udp = r.entry(Protocol::Udp).status;
    let here = |s: Status| tcp == s || udp == s;
    let dynamic = r.range == PortRange::Dynamic;
    let ephemeral = r.ephemeral_range.map(|(a, b)| format!("{a}-{b}"));
    let (assigned, reserved, private, unassigned, dyn_text) = match lang {
        Lang::En => (
            "IANA has recorded a service under this number for the protocol; the name, the person or body responsible and a reference come with it. Other software may still use the port; the registry only says who asked for it.",
            "IANA keeps the number back and will not hand it out (RFC 6335 section 6): the edges of the ranges (0, 1023, 1024, 49151), numbers given back by a de-assignment, and TCP or UDP twins of numbers assigned on another transport. Nothing standard should listen here.",
            "One of the registry's oldest rows sets the number aside for any private service of a kind (a site's own mail system, printer server, terminal access...), with a person recorded for it. A local service of that kind belongs here without a registration of its own.",
            "No service is registered for the protocol. The number may be handed out in future, or may have been assigned once and given back (de-registered). Anything listening here chose the number for itself.",
            format!(
                "Ports 49152-65535 are never assigned. Operating systems give them to outgoing connections; this host uses {} for that.",
                ephemeral.unwrap_or_else(|| "an unknown range".to_owned())
            ),
        ),
        Lang::De => (
            "Die IANA hat für das Protokoll einen Dienst unter dieser Nummer eingetragen, mit Name, verantwortlicher Person oder Stelle und einer Referenz. Andere Software kann den Port trotzdem nutzen; das Register sagt nur, wer ihn beantragt hat.",
            "Die IANA hält die Nummer zurück und vergibt sie nicht (RFC 6335, Abschnitt 6): die Ränder der Bereiche (0, 1023, 1024, 49151), Nummern, die nach einer aufgehobenen Vergabe zurückgegeben wurden, und TCP- oder UDP-Gegenstücke von Nummern, die auf einem anderen Transportprotokoll vergeben sind. Kein Standarddienst sollte hier lauschen.",
            "Einer der ältesten Einträge des Registers hält die Nummer für beliebige private Dienste einer Art frei (das eigene Mailsystem eines Standorts, einen Druckserver, Terminalzugang …), mit einer dafür eingetragenen Person. Ein lokaler Dienst dieser Art gehört hierher, ohne eigene Registrierung.",
            "Für das Protokoll ist kein Dienst eingetragen. Die Nummer kann künftig vergeben werden oder war früher vergeben und wurde zurückgegeben. Was hier lauscht, hat die Nummer selbst gewählt.",
            format!(
                "Die Ports 49152-65535 werden nie vergeben. Betriebssysteme teilen sie ausgehenden Verbindungen zu; dieser Rechner nutzt dafür {}.",
                ephemeral
                    .map(|e| format!("den Bereich {e}"))
                    .unwrap_or_else(|| "einen unbekannten Bereich".to_owned())
            ),
        ),
        Lang::He => (
            "IANA רשמה שירות תחת המספר הזה עבור הפרוטוקול, יחד עם שם, האדם או הגוף האחראי והפניה למקור. תוכנות אחרות עדיין יכולות להשתמש בפורט; המרשם רק אומר מי ביקש אותו.",
            "IANA שומרת את המספר ולא תקצה אותו (RFC 6335, סעיף 6): קצוות הטווחים (0, 1023, 1024, 49151), מספרים שהוחזרו אחרי ביטול הקצאה, ומקבילים ב-TCP או ב-UDP של מספרים שהוקצו בפרוטוקול תעבורה אחר. שום שירות תקני לא אמור להאזין כאן.",
            "אחת הרשומות הוותיקות ביותר במרשם שומרת את המספר לכל שירות פרטי מסוג מסוים (מערכת הדואר של אתר, שרת הדפסה, גישה למסופים...), עם אדם שרשום עבורה. שירות מקומי מהסוג הזה שייך לכאן בלי רישום משלו.",
            "לא רשום שירות עבור הפרוטוקול. ייתכן שהמספר יוקצה בעתיד, או שהוקצה בעבר והוחזר. מה שמאזין כאן בחר את המספר בעצמו.",
            format!(
                "הפורטים 49152-65535 לעולם אינם מוקצים. מערכות ההפעלה נותנות אותם לחיבורים יוצאים; המחשב הזה משתמש לשם כך {}.",
                ephemeral
                    .map(|e| format!("בטווח {e}"))
                    .unwrap_or_else(|| "בטווח לא ידוע".to_owned())
            ),
        ),
    };
    [
        (t.assigned, here(Status::Assigned), assigned.to_owned()),
        (t.reserved, here(Status::Reserved), reserved.to_owned()),
        (t.private_use, here(Status::PrivateUse), private.to_owned()),
        (
            t.unassigned,
            here(Status::Unassigned) && !dynamic,
            unassigned.to_owned(),
        ),
        (t.dynamic, dynamic, dyn_text),
    ]
}

/// The assessment: the sentence that set the concern level, and every reason, in `lang`.
/// Reasons that quote a curated note stay English.
pub fn assessment(lang: Lang, r: &PortReport) -> (Said, Vec<Said>) {
    let a = &r.assessment;
    if lang == Lang::En {
        return (
            Said::Own(a.concern_reason.clone()),
            a.reasons.iter().cloned().map(Said::Own).collect(),
        );
    }
    let de = lang == Lang::De;
    if !a.listenable {
        let (reason, first, second) = if de {
            (
                "Auf Port 0 kann nichts lauschen; es gibt also keinen Dienst, um den man sich sorgen müsste.",
                "Port 0 ist reserviert, und nichts kann auf ihm lauschen: Ein Programm, das Port 0 bindet, bittet das Betriebssystem, einen freien Port aus dem ephemeren Bereich zu wählen, und sein Socket erhält diesen Port, nie 0.",
                "Verkehr an Port 0 ist ungewöhnlich: meist ein Scan oder eine Erkennung des Betriebssystems (Netzwerkstacks antworten darauf unterschiedlich) oder fehlerhafte oder fragmentierte Pakete, deren Portfeld falsch gelesen wurde. Im Firewall-Protokoll kann er einen Vermerk wert sein; einen Dienst dahinter gibt es nicht.",
            )
        } else {
            (
                "שום תהליך לא יכול להאזין לפורט 0, ולכן אין מאזין שצריך לדאוג ממנו.",
                "פורט 0 שמור ושום תהליך לא יכול להאזין לו: תוכנית שקושרת את פורט 0 מבקשת ממערכת ההפעלה לבחור פורט פנוי כלשהו מהטווח הזמני, והשקע שלה מקבל את הפורט הזה, אף פעם לא 0.",
                "תעבורה שממוענת לפורט 0 חריגה: בדרך כלל סריקה או זיהוי של מערכת ההפעלה (מחסניות רשת עונות לה בצורות שונות), או חבילות פגומות או מקוטעות ששדה הפורט שלהן נקרא לא נכון. כדאי לציין אותה ביומן של חומת האש; אין מאחוריה שירות למצוא.",
            )
        };
        return (
            Said::Own(reason.to_owned()),
            vec![Said::Own(first.to_owned()), Said::Own(second.to_owned())],
        );
    }
    let main = Said::Own(main_reason(de, r));
    // The reasons in the order the report gives them: the main one, privilege, ephemeral,
    // those from notes (English), IANA's unauthorized-use remark.
    let mut rest = a.reasons.iter().skip(1);
    let mut out = vec![main.clone()];
    if r.privileged == Some(true) && rest.next().is_some() {
        out.push(Said::Own(if de {
            "Das Binden dieses Ports erfordert hier besondere Rechte; ein Dienst, der hier lauscht, wurde also von root gestartet oder von einem Prozess, dem dieses Recht gewährt wurde.".to_owned()
        } else {
            "קשירת הפורט הזה דורשת כאן הרשאות מיוחדות, ולכן מאזין כאן הופעל על ידי root או על ידי תהליך שקיבל את ההרשאה הזו.".to_owned()
        }));
    }
    let p = r.port;
    if r.ephemeral == Some(true) && rest.next().is_some() {
        out.push(Said::Own(if de {
            format!(
                "Port {p} liegt im ephemeren Bereich dieses Rechners; der Kernel kann ihn also auch als Quellport ausgehender Verbindungen verwenden."
            )
        } else {
            format!(
                "פורט {p} נמצא בטווח הזמני של המחשב הזה, ולכן הליבה עשויה להשתמש בו גם כפורט המקור של חיבורים יוצאים."
            )
        }));
    }
    let from_notes: Vec<&String> = rest.collect();
    let unregistered = a.unregistered_use.first();
    let keep = from_notes.len() - usize::from(unregistered.is_some()).min(from_notes.len());
    out.extend(
        from_notes[..keep]
            .iter()
            .map(|s| Said::English((*s).clone())),
    );
    if let Some(u) = unregistered {
        let quote = if u.text.eq_ignore_ascii_case("yes") {
            String::new()
        } else {
            format!(" („{}“)", u.text)
        };
        out.push(Said::Own(match (de, &u.party) {
            (true, who) => format!(
                "Das IANA-Register vermerkt eine Nutzung dieses Ports {}ohne Vergabe{quote}: Ein Programm hat die Nummer benutzt, ohne sie zu registrieren. Das gehört zur Geschichte der Nummer und ist kein Zeichen eines Angriffs.",
                who.as_ref().map(|w| format!("durch {w} ")).unwrap_or_default()
            ),
            (false, who) => format!(
                "המרשם של IANA מציין שימוש בפורט הזה{} ללא הקצאה{quote}: תוכנה כלשהי השתמשה במספר בלי לרשום אותו. זה חלק מההיסטוריה של המספר, לא סימן להתקפה.",
                who.as_ref().map(|w| format!(" על ידי {w}")).unwrap_or_default()
            ),
        }));
    }
    // The concern comes from the main sentence unless a note raised it.
    let reason = if a.reasons.first() == Some(&a.concern_reason) {
        main
    } else {
        Said::English(a.concern_reason.clone())
    };
    (reason, out)
}

/// The first reason of the assessment (the one from the registry and the range).
fn main_reason(de: bool, r: &PortReport) -> String {
    let p = r.port;
    let a = &r.assessment;
    let tcp = r.entry(Protocol::Tcp);
    let udp = r.entry(Protocol::Udp);
    let was = if a.history.is_empty() {
        String::new()
    } else if de {
        format!(
            " Das Register verzeichnet seine Vergangenheit ({}): Alte Software dieses Namens kann hier noch lauschen.",
            a.history.join("; ")
        )
    } else {
        format!(
            " המרשם מתעד את העבר שלו ({}): ייתכן שתוכנה ישנה בשם הזה עדיין מאזינה כאן.",
            a.history.join("; ")
        )
    };
    if a.dynamic {
        let common = a
            .known_use
            .as_ref()
            .map(|k| {
                if de {
                    format!(
                        " Dieser Port wird sehr häufig für {} genutzt: siehe die Notiz unten.",
                        k.title
                    )
                } else {
                    format!(
                        " הפורט הזה משמש לעתים קרובות מאוד עבור {}: ראו את ההערה למטה.",
                        k.title
                    )
                }
            })
            .unwrap_or_default();
        return if de {
            format!(
                "Port {p} liegt im dynamischen Bereich (49152-65535), den RFC 6335 für dynamische und private Nutzung vorsieht und aus dem die IANA nie vergibt: Betriebssysteme geben diese Ports kurzlebigen Client-Sockets, und RPC-, Medien-, Spiele- und Peer-to-Peer-Programme lauschen auf hier gewählten Ports. Ein Dienst, der hier lauscht, ist kein Geist; sein Prozess verrät, was er ist.{common}"
            )
        } else {
            format!(
                "פורט {p} נמצא בטווח הדינמי (49152-65535), ש-RFC 6335 מייעד לשימוש דינמי ופרטי ו-IANA לעולם אינה מקצה ממנו: מערכות ההפעלה נותנות את הפורטים האלה לשקעי לקוח קצרי חיים, ותוכניות RPC, מדיה, משחקים ועמית-לעמית מאזינות לפורטים שנבחרו כאן. מאזין כאן אינו רוח רפאים; התהליך שמחזיק בו מגלה מה הוא.{common}"
            )
        };
    }
    if tcp.status == Status::Assigned || udp.status == Status::Assigned {
        let expected = if tcp.status == Status::Assigned {
            names(tcp)
        } else {
            names(udp)
        }
        .join(", ");
        return if de {
            format!(
                "Das Register erwartet auf Port {p} {expected}; ein Dienst, der hier etwas anderes spricht, verdient einen genaueren Blick."
            )
        } else {
            format!(
                "המרשם מצפה ל-{expected} בפורט {p}; מאזין שמדבר כאן משהו אחר ראוי לבדיקה מקרוב."
            )
        };
    }
    if a.private_use {
        let rows = || [tcp, udp].into_iter().flat_map(|e| &e.other_rows);
        let what = rows()
            .find(|r| {
                r.description
                    .to_ascii_lowercase()
                    .starts_with("any private")
            })
            .map_or("any private service", |r| r.description);
        let who = rows()
            .map(|r| r.assignee.trim_matches(['[', ']']))
            .find(|a| !a.is_empty())
            .map(|a| a.replace('_', " "));
        return if de {
            format!(
                "Das Register hält Port {p} frei für „{what}“{}: Ein Standort darf hier ohne eigene Registrierung einen eigenen Dienst dieser Art betreiben. Ein Dienst, der hier lauscht, sollte ein lokaler sein; prüfen Sie, ob es der ist, den Sie eingerichtet haben.",
                who.map(|w| format!(" (eingetragen von {w})"))
                    .unwrap_or_default()
            )
        } else {
            format!(
                "המרשם שומר את פורט {p} עבור \"{what}\"{}: אתר רשאי להפעיל כאן שירות משלו מהסוג הזה בלי רישום נפרד. מאזין כאן אמור להיות שירות מקומי; בדקו שזה השירות שהגדרתם.",
                who.map(|w| format!(" (נרשם על ידי {w})"))
                    .unwrap_or_default()
            )
        };
    }
    if let Some(k) = &a.known_use {
        return if de {
            format!(
                "Das Register gibt Port {p} keinem TCP- oder UDP-Dienst, aber er wird sehr häufig für {} genutzt (siehe die Notiz). Ein Dienst, der hier lauscht, ist höchstwahrscheinlich dieser; sein Prozess bestätigt es.{was}",
                k.title
            )
        } else {
            format!(
                "המרשם אינו נותן את פורט {p} לאף שירות TCP או UDP, אבל משתמשים בו לעתים קרובות מאוד עבור {} (ראו את ההערה). מאזין כאן הוא כנראה זה, והתהליך שמחזיק בו יאשר זאת.{was}",
                k.title
            )
        };
    }
    let reserved = tcp.status == Status::Reserved || udp.status == Status::Reserved;
    let elsewhere = a
        .assigned_elsewhere
        .iter()
        .map(|o| {
            let proto = o.protocol.as_str().to_uppercase();
            let desc = o.description.lines().next().unwrap_or("");
            match (de, desc.is_empty()) {
                (true, true) => format!("{} auf {proto}", o.name),
                (true, false) => format!("{} ({desc}) auf {proto}", o.name),
                (false, true) => format!("{} ב-{proto}", o.name),
                (false, false) => format!("{} ({desc}) ב-{proto}", o.name),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let taken = match (elsewhere.is_empty(), de) {
        (true, _) => String::new(),
        (false, true) => format!(
            " Er ist nur auf einem anderen Transportprotokoll vergeben, an {elsewhere}; ein TCP- oder UDP-Dienst hier ist nicht dieser Dienst."
        ),
        (false, false) => format!(
            " הוא מוקצה רק בפרוטוקול תעבורה אחר, ל-{elsewhere}; מאזין TCP או UDP כאן אינו השירות הזה."
        ),
    };
    match (r.range, de) {
        (PortRange::System, true) => format!(
            "Port {p} ist auf TCP und UDP {}: Hier lebt kein Standarddienst, ein Dienst, der hier lauscht, ist also ein Geist.{taken}{was} Dahinter steckt eigene oder alte Software oder etwas, das unbemerkt bleiben will; suchen Sie den Prozess, dem er gehört.",
            if reserved {
                "ein Systemport, den die IANA zurückhält (reserviert) und niemandem gibt"
            } else {
                "ein nicht vergebener Systemport"
            }
        ),
        (PortRange::System, false) => format!(
            "פורט {p} הוא ב-TCP וב-UDP {}: אין כאן שירות תקני, ולכן מאזין כאן הוא רוח רפאים.{taken}{was} זו תוכנה מותאמת אישית או ישנה, או משהו שמנסה לא להיראות; מצאו את התהליך שמחזיק בו.",
            if reserved {
                "פורט מערכת ש-IANA שומרת (שמור) ואינה נותנת לאיש"
            } else {
                "פורט מערכת שאינו מוקצה"
            }
        ),
        (_, true) => format!(
            "Port {p} ist im Benutzerbereich auf TCP und UDP {}: Programme wählen solche Ports oft für eigene Dienste.{taken}{was} Ein Dienst, der hier lauscht, ist ein Geist, den man über seinen Prozess identifizieren sollte.",
            if reserved {
                "von der IANA zurückgehalten (reserviert) und niemandem gegeben"
            } else {
                "nicht vergeben"
            }
        ),
        (_, false) => format!(
            "פורט {p} {} בטווח המשתמשים ב-TCP וב-UDP: תוכניות בוחרות לעתים קרובות פורטים כאלה לשירותים שלהן.{taken}{was} מאזין כאן הוא רוח רפאים שכדאי לזהות לפי התהליך שמחזיק בו.",
            if reserved {
                "שמור על ידי IANA ואינו ניתן לאיש"
            } else {
                "אינו מוקצה"
            }
        ),
    }
}

/// What the live box found, as the FAQ needs it.
pub enum LiveAnswer<'a> {
    NotListenable,
    Nothing,
    /// Sockets found; `holders` are the process names known, `unknown` whether some owner
    /// is not.
    Sockets {
        count: usize,
        holders: &'a [String],
        unknown: bool,
    },
    Unknown,
}

/// The FAQ: questions and answers from the report's facts and the live listing.
pub fn faq(lang: Lang, r: &PortReport, live: LiveAnswer<'_>) -> Vec<(String, Said)> {
    let p = r.port;
    let en = lang == Lang::En;
    let mut out = Vec::new();
    let tcp = status_word(lang, r.entry(Protocol::Tcp).status);
    let udp = status_word(lang, r.entry(Protocol::Udp).status);
    let answer = match (r.primary_name(), lang) {
        (Some(n), Lang::En) => {
            format!("Yes. The IANA registry lists {n} on port {p} (TCP {tcp}, UDP {udp}).")
        }
        (Some(n), Lang::De) => {
            format!("Ja. Das IANA-Register führt {n} auf Port {p} (TCP {tcp}, UDP {udp}).")
        }
        (Some(n), Lang::He) => {
            format!("כן. במרשם של IANA רשום {n} בפורט {p} (TCP {tcp}, UDP {udp}).")
        }
        (None, _) if r.range == PortRange::Dynamic => match lang {
            Lang::En => {
                format!("No. Port {p} is in the dynamic range, where IANA assigns nothing.")
            }
            Lang::De => format!(
                "Nein. Port {p} liegt im dynamischen Bereich, in dem die IANA nichts vergibt."
            ),
            Lang::He => format!("לא. פורט {p} נמצא בטווח הדינמי, שבו IANA אינה מקצה דבר."),
        },
        (None, Lang::En) => {
            format!("No. The registry has no service on port {p} for TCP ({tcp}) or UDP ({udp}).")
        }
        (None, Lang::De) => format!(
            "Nein. Das Register führt auf Port {p} keinen Dienst für TCP ({tcp}) oder UDP ({udp})."
        ),
        (None, Lang::He) => {
            format!("לא. במרשם אין שירות בפורט {p} עבור TCP ({tcp}) או UDP ({udp}).")
        }
    };
    out.push((
        match lang {
            Lang::En => format!("Is port {p} assigned to a service?"),
            Lang::De => format!("Ist Port {p} einem Dienst zugewiesen?"),
            Lang::He => format!("האם פורט {p} מוקצה לשירות?"),
        },
        Said::Own(answer),
    ));
    let listenable = r.assessment.listenable;
    let privilege = privilege(lang, r);
    let yes_no = |b: bool| match (lang, b) {
        (Lang::En, true) => "Yes.",
        (Lang::En, false) => "No.",
        (Lang::De, true) => "Ja.",
        (Lang::De, false) => "Nein.",
        (Lang::He, true) => "כן.",
        (Lang::He, false) => "לא.",
    };
    out.push((
        match lang {
            Lang::En => format!("Does a program need root to listen on port {p}?"),
            Lang::De => format!("Braucht ein Programm root-Rechte, um auf Port {p} zu lauschen?"),
            Lang::He => format!("האם תוכנית צריכה הרשאות root כדי להאזין לפורט {p}?"),
        },
        Said::Own(if listenable {
            let yes = yes_no(r.privileged == Some(true));
            match lang {
                Lang::En => format!("{yes} Here: {privilege}."),
                Lang::De => format!("{yes} Hier: {privilege}."),
                Lang::He => format!("{yes} כאן: {privilege}."),
            }
        } else {
            match lang {
                Lang::En => format!(
                    "The question does not arise: nothing can listen on port {p}. A program that binds port {p} asks the operating system for any free port, and its socket gets that port."
                ),
                Lang::De => format!(
                    "Die Frage stellt sich nicht: Auf Port {p} kann nichts lauschen. Ein Programm, das Port {p} bindet, bittet das Betriebssystem um einen beliebigen freien Port, und sein Socket erhält diesen Port."
                ),
                Lang::He => format!(
                    "השאלה אינה רלוונטית: שום תהליך לא יכול להאזין לפורט {p}. תוכנית שקושרת את פורט {p} מבקשת ממערכת ההפעלה פורט פנוי כלשהו, והשקע שלה מקבל את הפורט הזה."
                ),
            }
        }),
    ));
    if let Some((lo, hi)) = r.ephemeral_range {
        let q = match lang {
            Lang::En => {
                format!("Can port {p} show up as the source port of an outgoing connection?")
            }
            Lang::De => {
                format!("Kann Port {p} als Quellport einer ausgehenden Verbindung auftauchen?")
            }
            Lang::He => format!("האם פורט {p} יכול להופיע כפורט המקור של חיבור יוצא?"),
        };
        let a = match (lang, listenable, r.ephemeral == Some(true)) {
            (Lang::En, false, _) => format!(
                "Not from this host: it never picks port {p}, but a port from its ephemeral range {lo}-{hi}. Packets from port {p} are anomalous, like those sent to it."
            ),
            (Lang::En, true, true) => {
                format!("Yes: it is inside this host's ephemeral range {lo}-{hi}.")
            }
            (Lang::En, true, false) => {
                format!("Not from this host's own choice: its ephemeral range is {lo}-{hi}.")
            }
            (Lang::De, false, _) => format!(
                "Nicht von diesem Rechner: Er wählt nie Port {p}, sondern einen Port aus seinem ephemeren Bereich {lo}-{hi}. Pakete von Port {p} sind ungewöhnlich, wie solche an ihn."
            ),
            (Lang::De, true, true) => {
                format!("Ja: Er liegt im ephemeren Bereich dieses Rechners ({lo}-{hi}).")
            }
            (Lang::De, true, false) => format!(
                "Nicht durch die eigene Wahl dieses Rechners: Sein ephemerer Bereich ist {lo}-{hi}."
            ),
            (Lang::He, false, _) => format!(
                "לא מהמחשב הזה: הוא אף פעם לא בוחר בפורט {p}, אלא בפורט מהטווח הזמני שלו {lo}-{hi}. חבילות מפורט {p} הן חריגות, כמו אלה שנשלחות אליו."
            ),
            (Lang::He, true, true) => {
                format!("כן: הוא נמצא בתוך הטווח הזמני של המחשב הזה ({lo}-{hi}).")
            }
            (Lang::He, true, false) => {
                format!("לא מבחירה של המחשב הזה: הטווח הזמני שלו הוא {lo}-{hi}.")
            }
        };
        out.push((q, Said::Own(a)));
    }
    if let Some(n) = r.notes.first() {
        let q = match lang {
            Lang::En => format!("What else is port {p} known for?"),
            Lang::De => format!("Wofür ist Port {p} sonst bekannt?"),
            Lang::He => format!("במה עוד ידוע פורט {p}?"),
        };
        // The summary is curated English text: the answer stays English as a whole.
        let a = format!(
            "{} (see \"{}\" above).",
            n.summary.trim_end_matches('.'),
            n.title
        );
        out.push((q, if en { Said::Own(a) } else { Said::English(a) }));
    }
    let a = match (live, lang) {
        (LiveAnswer::NotListenable, Lang::En) => {
            format!("No, and nothing can: a socket bound to port {p} gets a free port, never {p}.")
        }
        (LiveAnswer::NotListenable, Lang::De) => format!(
            "Nein, und nichts kann es: Ein Socket, der an Port {p} gebunden wird, erhält einen freien Port, nie {p}."
        ),
        (LiveAnswer::NotListenable, Lang::He) => {
            format!("לא, ושום דבר גם לא יכול: שקע שנקשר לפורט {p} מקבל פורט פנוי, אף פעם לא {p}.")
        }
        (LiveAnswer::Nothing, Lang::En) => {
            format!("Nothing was listening on port {p} when this page was made.")
        }
        (LiveAnswer::Nothing, Lang::De) => {
            format!("Als diese Seite erstellt wurde, lauschte nichts auf Port {p}.")
        }
        (LiveAnswer::Nothing, Lang::He) => {
            format!("שום תהליך לא האזין לפורט {p} כשהדף הזה נוצר.")
        }
        (
            LiveAnswer::Sockets {
                count,
                holders,
                unknown,
            },
            lang,
        ) => {
            let mut who: Vec<&str> = holders.iter().map(String::as_str).collect();
            if unknown || who.is_empty() {
                who.push(match lang {
                    Lang::En => "an unknown process",
                    Lang::De => "einem unbekannten Prozess",
                    Lang::He => "תהליך לא ידוע",
                });
            }
            let who = who.join(", ");
            match lang {
                Lang::En => {
                    format!("Yes: {count} socket(s), held by {who}; see the table above.")
                }
                Lang::De => {
                    format!("Ja: {count} Socket(s), gehalten von {who}; siehe die Tabelle oben.")
                }
                Lang::He => {
                    format!("כן, יש שקעים מאזינים ({count}), בידי {who}; ראו את הטבלה למעלה.")
                }
            }
        }
        (LiveAnswer::Unknown, Lang::En) => {
            "portent could not list this machine's sockets.".to_owned()
        }
        (LiveAnswer::Unknown, Lang::De) => {
            "portent konnte die Sockets dieses Rechners nicht auflisten.".to_owned()
        }
        (LiveAnswer::Unknown, Lang::He) => {
            "portent לא הצליח להציג את השקעים של המחשב הזה.".to_owned()
        }
    };
    out.push((
        match lang {
            Lang::En => format!("Is anything listening on port {p} on this machine?"),
            Lang::De => format!("Lauscht auf diesem Rechner etwas auf Port {p}?"),
            Lang::He => format!("האם משהו מאזין לפורט {p} במחשב הזה?"),
        },
        Said::Own(a),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hebrew_number_ranges_are_isolated() {
        assert_eq!(
            bidi(Lang::He, "טווח (32768-60999), פורט 22-x, 5-".to_owned()),
            "טווח (\u{2066}32768-\u{2060}60999\u{2069}), פורט 22-x, 5-"
        );
        assert_eq!(bidi(Lang::De, "1-2".to_owned()), "1-2");
    }
}
