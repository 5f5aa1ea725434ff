//! The page chrome (headings, labels, the feedback question) in English, German and Hebrew;
//! the port page's own sentences are in [`crate::words`]. Registry data stays as IANA wrote
//! it; notes stay in English, as written.
//!
//! The language comes from `?lang=` when given, else the best match in `Accept-Language`,
//! else English. Hebrew pages are laid out right to left.

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
    He,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::De, Lang::He];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::He => "he",
        }
    }

    /// The language's own name, for the switcher.
    pub fn native(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "Deutsch",
            Lang::He => "עברית",
        }
    }

    pub fn dir(self) -> &'static str {
        match self {
            Lang::He => "rtl",
            _ => "ltr",
        }
    }

    /// `?lang=` value: `en`, `de`, `he` (also `iw`, the old code for Hebrew), any case.
    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.split(['-', '_']).next().unwrap_or("");
        match primary.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            "he" | "iw" => Some(Lang::He),
            _ => None,
        }
    }

    /// The best supported language in an `Accept-Language` header, by quality then order.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(u16, Lang)> = None;
        for part in header.split(',').take(32) {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // Quality in thousandths; 0 means "not acceptable".
            let q = (q.clamp(0.0, 1.0) * 1000.0) as u16;
            if q == 0 {
                continue;
            }
            if let Some(lang) = Lang::from_code(tag)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }

    pub fn t(self) -> &'static Text {
        match self {
            Lang::En => &EN,
            Lang::De => &DE,
            Lang::He => &HE,
        }
    }
}

/// Every translated string of the chrome.
#[derive(Debug)]
pub struct Text {
    pub ports: &'static str,
    pub port: &'static str,
    pub listening: &'static str,
    pub hosts: &'static str,
    pub fleet: &'static str,
    pub host: &'static str,
    pub last_run: &'static str,
    pub open_ports: &'static str,
    pub nothing_stored: &'static str,
    pub seen_open_on: &'static str,
    pub feedback: &'static str,
    pub search: &'static str,
    pub search_placeholder: &'static str,
    pub what_it_is: &'static str,
    pub range: &'static str,
    pub privilege: &'static str,
    pub ephemeral: &'static str,
    pub registry: &'static str,
    pub protocol: &'static str,
    pub status: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub assignee: &'static str,
    pub registered: &'static str,
    pub modified: &'static str,
    pub reference: &'static str,
    pub history: &'static str,
    pub sources: &'static str,
    pub why_matters: &'static str,
    pub concern: &'static str,
    pub can_be_open: &'static str,
    pub meaning: &'static str,
    pub how_to_check: &'static str,
    pub how_to_see_traffic: &'static str,
    pub from_elsewhere: &'static str,
    pub related: &'static str,
    pub faq: &'static str,
    pub live: &'static str,
    pub nothing_here: &'static str,
    pub nothing_can_listen: &'static str,
    pub helpful: &'static str,
    pub yes: &'static str,
    pub partly: &'static str,
    pub no: &'static str,
    pub comment: &'static str,
    pub send: &'static str,
    pub thanks: &'static str,
    pub grid: &'static str,
    pub grid_help: &'static str,
    pub assigned: &'static str,
    pub reserved: &'static str,
    pub private_use: &'static str,
    pub more: &'static str,
    pub unassigned: &'static str,
    pub dynamic: &'static str,
    pub listener_here: &'static str,
    pub results: &'static str,
    pub no_results: &'static str,
    pub address: &'static str,
    pub process: &'static str,
    pub user: &'static str,
    pub flags: &'static str,
    pub command: &'static str,
    pub filter: &'static str,
    pub only_ghosts: &'static str,
    pub only_exposed: &'static str,
    pub apply: &'static str,
    pub refreshes: &'static str,
    pub answers: &'static str,
    pub recent_comments: &'static str,
    pub no_feedback: &'static str,
    pub bad_request: &'static str,
    pub not_found: &'static str,
    pub too_many: &'static str,
    pub forbidden: &'static str,
    pub misdirected: &'static str,
    pub method_not_allowed: &'static str,
    pub too_large: &'static str,
    pub server_error: &'static str,
    pub back_to_index: &'static str,
    pub data_date: &'static str,
    pub language: &'static str,
    pub applies_here: &'static str,
    pub no_port: &'static str,
    pub grid_rows: &'static str,
}

pub static EN: Text = Text {
    ports: "Ports",
    port: "Port",
    listening: "Listening here",
    hosts: "Hosts",
    fleet: "Fleet",
    host: "Host",
    last_run: "Last run",
    open_ports: "Open ports",
    nothing_stored: "Nothing is stored yet: scans and listening snapshots are remembered as they run.",
    seen_open_on: "Seen open on stored hosts",
    feedback: "Feedback",
    search: "Search",
    search_placeholder: "number, service name or words",
    what_it_is: "What it is",
    range: "Range",
    privilege: "Privilege",
    ephemeral: "Ephemeral range",
    registry: "IANA registry",
    protocol: "Protocol",
    status: "Status",
    name: "Name",
    description: "Description",
    assignee: "Assignee",
    registered: "Registered",
    modified: "Modified",
    reference: "Reference",
    history: "History and unofficial uses",
    sources: "Sources",
    why_matters: "Why an open one matters",
    concern: "Concern",
    can_be_open: "Can it be open?",
    meaning: "What the status means",
    how_to_check: "How to check what listens",
    how_to_see_traffic: "How to see traffic sent to it",
    from_elsewhere: "From another machine",
    related: "Related ports",
    faq: "Questions",
    live: "Listening on this machine now",
    nothing_here: "Nothing listens on this port here (this network namespace).",
    nothing_can_listen: "Nothing can listen on port 0: a program that binds port 0 gets a free port from the ephemeral range instead.",
    helpful: "Was this page helpful?",
    yes: "Yes",
    partly: "Partly",
    no: "No",
    comment: "Comment (optional)",
    send: "Send",
    thanks: "Thank you, your answer was saved.",
    grid: "All 65,536 ports",
    grid_help: "One cell per port, 256 per row, port 0 at the top left; the numbers at the side are the first port of the row beside them, ringed cells are listening here. Click a cell to open its page.",
    assigned: "assigned",
    reserved: "reserved",
    private_use: "private use",
    more: "more",
    unassigned: "unassigned",
    dynamic: "dynamic",
    listener_here: "listening here",
    results: "Results",
    no_results: "Nothing matches.",
    address: "Address",
    process: "Process",
    user: "User",
    flags: "Flags",
    command: "Command",
    filter: "Filter",
    only_ghosts: "only ghosts",
    only_exposed: "only exposed",
    apply: "Apply",
    refreshes: "This table refreshes every few seconds.",
    answers: "Answers",
    recent_comments: "Recent comments",
    no_feedback: "No feedback yet.",
    bad_request: "Bad request",
    not_found: "Not found",
    too_many: "Too many requests",
    forbidden: "Forbidden",
    misdirected: "Misdirected request",
    method_not_allowed: "Method not allowed",
    too_large: "Request too large",
    server_error: "Server error",
    back_to_index: "Back to the port index",
    data_date: "Registry data as of",
    language: "Language",
    applies_here: "applies here",
    no_port: "no port number",
    grid_rows: "First port of the row",
};

pub static DE: Text = Text {
    ports: "Ports",
    port: "Port",
    listening: "Hier aktiv",
    hosts: "Hosts",
    fleet: "Flotte",
    host: "Host",
    last_run: "Letzter Lauf",
    open_ports: "Offene Ports",
    nothing_stored: "Noch nichts gespeichert: Scans und Listening-Momentaufnahmen werden beim Ausführen gespeichert.",
    seen_open_on: "Offen gesehen auf gespeicherten Hosts",
    feedback: "Rückmeldungen",
    search: "Suchen",
    search_placeholder: "Nummer, Dienstname oder Stichwörter",
    what_it_is: "Was er ist",
    range: "Bereich",
    privilege: "Rechte",
    ephemeral: "Ephemerer Bereich",
    registry: "IANA-Register",
    protocol: "Protokoll",
    status: "Status",
    name: "Name",
    description: "Beschreibung",
    assignee: "Inhaber",
    registered: "Registriert",
    modified: "Geändert",
    reference: "Referenz",
    history: "Geschichte und inoffizielle Nutzung",
    sources: "Quellen",
    why_matters: "Warum ein offener Port zählt",
    concern: "Bedenken",
    can_be_open: "Kann er offen sein?",
    meaning: "Was der Status bedeutet",
    how_to_check: "So prüfen Sie, wer lauscht",
    how_to_see_traffic: "So sehen Sie Verkehr an diesen Port",
    from_elsewhere: "Von einem anderen Rechner",
    related: "Verwandte Ports",
    faq: "Fragen",
    live: "Jetzt auf diesem Rechner",
    nothing_here: "Auf diesem Port lauscht hier nichts (dieser Netzwerk-Namespace).",
    nothing_can_listen: "Auf Port 0 kann nichts lauschen: Ein Programm, das Port 0 bindet, erhält stattdessen einen freien Port aus dem ephemeren Bereich.",
    helpful: "War diese Seite hilfreich?",
    yes: "Ja",
    partly: "Teilweise",
    no: "Nein",
    comment: "Kommentar (optional)",
    send: "Senden",
    thanks: "Danke, Ihre Antwort wurde gespeichert.",
    grid: "Alle 65.536 Ports",
    grid_help: "Eine Zelle pro Port, 256 pro Zeile, Port 0 oben links; die Zahlen am Rand sind der erste Port der Zeile daneben, umrandete Zellen sind hier aktiv. Ein Klick öffnet die Seite des Ports.",
    assigned: "vergeben",
    reserved: "reserviert",
    private_use: "private Nutzung",
    more: "mehr",
    unassigned: "nicht vergeben",
    dynamic: "dynamisch",
    listener_here: "hier aktiv",
    results: "Treffer",
    no_results: "Keine Treffer.",
    address: "Adresse",
    process: "Prozess",
    user: "Benutzer",
    flags: "Merkmale",
    command: "Befehl",
    filter: "Filtern",
    only_ghosts: "nur Geister",
    only_exposed: "nur erreichbare",
    apply: "Anwenden",
    refreshes: "Die Tabelle wird alle paar Sekunden erneuert.",
    answers: "Antworten",
    recent_comments: "Neueste Kommentare",
    no_feedback: "Noch keine Rückmeldungen.",
    bad_request: "Ungültige Anfrage",
    not_found: "Nicht gefunden",
    too_many: "Zu viele Anfragen",
    forbidden: "Verboten",
    misdirected: "Fehlgeleitete Anfrage",
    method_not_allowed: "Methode nicht erlaubt",
    too_large: "Anfrage zu groß",
    server_error: "Serverfehler",
    back_to_index: "Zurück zur Portübersicht",
    data_date: "Registerdaten vom",
    language: "Sprache",
    applies_here: "trifft hier zu",
    no_port: "ohne Portnummer",
    grid_rows: "Erster Port der Zeile",
};

pub static HE: Text = Text {
    ports: "פורטים",
    port: "פורט",
    listening: "מאזינים כאן",
    hosts: "מארחים",
    fleet: "צי",
    host: "מארח",
    last_run: "הרצה אחרונה",
    open_ports: "פורטים פתוחים",
    nothing_stored: "עדיין לא נשמר דבר: סריקות ותמונות מצב של מאזינים נשמרות בזמן ההרצה.",
    seen_open_on: "נראה פתוח במארחים שמורים",
    feedback: "משוב",
    search: "חיפוש",
    search_placeholder: "מספר, שם שירות או מילים",
    what_it_is: "מהו",
    range: "טווח",
    privilege: "הרשאות",
    ephemeral: "טווח זמני",
    registry: "מרשם IANA",
    protocol: "פרוטוקול",
    status: "מצב",
    name: "שם",
    description: "תיאור",
    assignee: "בעלים",
    registered: "נרשם",
    modified: "עודכן",
    reference: "מקור",
    history: "היסטוריה ושימושים לא רשמיים",
    sources: "מקורות",
    why_matters: "למה פורט פתוח חשוב",
    concern: "רמת חשש",
    can_be_open: "האם הוא יכול להיות פתוח?",
    meaning: "מה המצב אומר",
    how_to_check: "איך לבדוק מי מאזין",
    how_to_see_traffic: "איך לראות תעבורה שנשלחת אליו",
    from_elsewhere: "ממחשב אחר",
    related: "פורטים קשורים",
    faq: "שאלות",
    live: "מאזינים במחשב הזה עכשיו",
    nothing_here: "אף תהליך לא מאזין לפורט הזה כאן (במרחב הרשת הזה).",
    nothing_can_listen: "שום תהליך לא יכול להאזין לפורט 0: תוכנית שקושרת את פורט 0 מקבלת במקומו פורט פנוי מהטווח הזמני.",
    helpful: "האם הדף הזה עזר לך?",
    yes: "כן",
    partly: "חלקית",
    no: "לא",
    comment: "הערה (לא חובה)",
    send: "שליחה",
    thanks: "תודה, התשובה נשמרה.",
    grid: "כל 65,536 הפורטים",
    grid_help: "תא לכל פורט, 256 בכל שורה, פורט 0 בפינה השמאלית העליונה; המספרים בצד הם הפורט הראשון בשורה שלידם, ותאים מוקפים בעיגול מאזינים כאן. לחיצה על תא פותחת את הדף שלו.",
    assigned: "מוקצה",
    reserved: "שמור",
    private_use: "שימוש פרטי",
    more: "עוד",
    unassigned: "לא מוקצה",
    dynamic: "דינמי",
    listener_here: "מאזין כאן",
    results: "תוצאות",
    no_results: "לא נמצא דבר.",
    address: "כתובת",
    process: "תהליך",
    user: "משתמש",
    flags: "סימונים",
    command: "פקודה",
    filter: "סינון",
    only_ghosts: "רק רפאים",
    only_exposed: "רק חשופים",
    apply: "החלה",
    refreshes: "הטבלה מתעדכנת כל כמה שניות.",
    answers: "תשובות",
    recent_comments: "הערות אחרונות",
    no_feedback: "אין משוב עדיין.",
    bad_request: "בקשה שגויה",
    not_found: "לא נמצא",
    too_many: "יותר מדי בקשות",
    forbidden: "הגישה נדחתה",
    misdirected: "בקשה שהגיעה לשרת הלא נכון",
    method_not_allowed: "שיטת הבקשה אינה מותרת כאן",
    too_large: "הבקשה גדולה מדי",
    server_error: "שגיאת שרת",
    back_to_index: "חזרה לרשימת הפורטים",
    data_date: "נתוני המרשם מתאריך",
    language: "שפה",
    applies_here: "חל כאן",
    no_port: "ללא מספר פורט",
    grid_rows: "הפורט הראשון בשורה",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language() {
        assert_eq!(
            Lang::from_accept_language("he-IL,he;q=0.9,en;q=0.8"),
            Some(Lang::He)
        );
        assert_eq!(
            Lang::from_accept_language("fr, de;q=0.5, en;q=0.4"),
            Some(Lang::De)
        );
        assert_eq!(
            Lang::from_accept_language("en;q=0.2, de;q=0"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("fr"), None);
        assert_eq!(Lang::from_accept_language(""), None);
        assert_eq!(Lang::from_code("DE-at"), Some(Lang::De));
    }
}
