//! Parsing and validation of the IANA "Service Name and Transport Protocol Port Number
//! Registry" in the CSV form IANA publishes.
//!
//! This crate exists because two places need exactly the same reading of that file: the
//! registry crate's build script, which compiles the embedded copy into static tables, and
//! `portent registry update`, which checks a newer copy a user supplies before storing it.
//! Sharing one parser means a record can never mean one thing when compiled in and another
//! when loaded later.
//!
//! The file's quirks, all handled here: single ports and ranges (`788-799`); an empty
//! protocol, meaning every protocol; service names with no port (registered for service
//! discovery only); aliases and historic names; quoted fields spanning lines; free-text
//! statuses in the description of unnamed rows ("Unassigned [was netstat]", "De-registered").
//!
//! What a file may not do, since a user may hand us any file: a field longer than
//! [`MAX_FIELD_BYTES`] (a service name longer than [`MAX_SERVICE_NAME_BYTES`]), a row that
//! repeats an earlier one, or a second row assigning the same service name to the same ports
//! and protocol. IANA's file has none of these (its longest field is a 1,532-byte note).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The column headings IANA uses, in order. A file whose header differs is rejected: a
/// silently shifted column would put assignees where descriptions belong.
pub const HEADER: [&str; 12] = [
    "Service Name",
    "Port Number",
    "Transport Protocol",
    "Description",
    "Assignee",
    "Contact",
    "Registration Date",
    "Modification Date",
    "Reference",
    "Service Code",
    "Unauthorized Use Reported",
    "Assignment Notes",
];

/// A transport protocol the registry assigns ports for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
    Dccp,
}

impl Protocol {
    /// Every protocol, in the order tables are indexed by.
    pub const ALL: [Protocol; 4] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp, Protocol::Dccp];

    /// The lowercase name IANA uses (`tcp`, `udp`, `sctp`, `dccp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
            Protocol::Dccp => "dccp",
        }
    }

    /// Position of this protocol in [`Protocol::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Parses a protocol name, ignoring ASCII case.
    pub fn parse(text: &str) -> Option<Protocol> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inclusive range of ports; a single port has `first == last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortSpan {
    pub first: u16,
    pub last: u16,
}

impl PortSpan {
    pub fn contains(self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }

    pub fn is_single(self) -> bool {
        self.first == self.last
    }
}

impl fmt::Display for PortSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// One row of the registry, with every column kept, borrowing its text from a [`Packed`]
/// table (or a static one compiled into the binary).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Record<'a> {
    /// Service name; empty on rows that only mark ports unassigned or reserved.
    pub service: &'a str,
    /// Ports covered; `None` for names registered without a port.
    pub ports: Option<PortSpan>,
    /// Protocol; `None` means the row applies to every protocol.
    pub protocol: Option<Protocol>,
    pub description: &'a str,
    pub assignee: &'a str,
    pub contact: &'a str,
    pub registered: &'a str,
    pub modified: &'a str,
    pub reference: &'a str,
    pub service_code: &'a str,
    pub unauthorized_use: &'a str,
    pub notes: &'a str,
}

/// A record as plain numbers: its ten text columns as (offset, length) into one shared string,
/// then ports and protocol. Tables of these hold no pointers, so the compiled-in registry
/// needs no relocations at start-up and untouched rows are never paged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PackedRecord {
    /// (offset, length) of service, description, assignee, contact, registered, modified,
    /// reference, service code, unauthorized use, notes.
    pub text: [(u32, u32); 10],
    pub first: u16,
    pub last: u16,
    /// False for names registered without a port.
    pub has_ports: bool,
    /// 0: every protocol; 1 + index in [`Protocol::ALL`] otherwise.
    pub protocol: u8,
}

/// The whole registry in packed form: one string holding every distinct text once, and the
/// records pointing into it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packed {
    pub strings: String,
    pub records: Vec<PackedRecord>,
}

/// Reads one packed record; `None` if it points outside `strings` or is malformed.
pub fn view<'a>(strings: &'a str, p: &PackedRecord) -> Option<Record<'a>> {
    let t = |i: usize| -> Option<&'a str> {
        let (off, len) = p.text[i];
        let start = usize::try_from(off).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        strings.get(start..end)
    };
    let protocol = match p.protocol {
        0 => None,
        n => Some(*Protocol::ALL.get(usize::from(n) - 1)?),
    };
    if p.first > p.last {
        return None;
    }
    Some(Record {
        service: t(0)?,
        ports: p.has_ports.then_some(PortSpan {
            first: p.first,
            last: p.last,
        }),
        protocol,
        description: t(1)?,
        assignee: t(2)?,
        contact: t(3)?,
        registered: t(4)?,
        modified: t(5)?,
        reference: t(6)?,
        service_code: t(7)?,
        unauthorized_use: t(8)?,
        notes: t(9)?,
    })
}

impl Packed {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record, or the index of the first malformed one.
    pub fn unpack(&self) -> Result<Vec<Record<'_>>, usize> {
        self.records
            .iter()
            .enumerate()
            .map(|(i, p)| view(&self.strings, p).ok_or(i))
            .collect()
    }
}

/// Builds a [`Packed`] table, storing each distinct string once.
#[derive(Debug, Default)]
struct Packer {
    packed: Packed,
    seen: std::collections::HashMap<String, (u32, u32)>,
}

impl Packer {
    fn text(&mut self, s: &str) -> (u32, u32) {
        if let Some(&span) = self.seen.get(s) {
            return span;
        }
        let off = u32::try_from(self.packed.strings.len()).unwrap_or(u32::MAX);
        let span = (off, u32::try_from(s.len()).unwrap_or(0));
        self.packed.strings.push_str(s);
        self.seen.insert(s.to_owned(), span);
        span
    }

    fn push(&mut self, fields: [&str; 10], ports: Option<PortSpan>, protocol: Option<Protocol>) {
        let text = fields.map(|f| self.text(f));
        let span = ports.unwrap_or(PortSpan { first: 0, last: 0 });
        self.packed.records.push(PackedRecord {
            text,
            first: span.first,
            last: span.last,
            has_ports: ports.is_some(),
            protocol: protocol.map_or(0, |p| u8::try_from(p.index() + 1).unwrap_or(0)),
        });
    }
}

/// What a row says about the ports it covers, in the words of RFC 6335 section 6 and the
/// registry itself. Ordered so that the strongest claim on a port wins when rows overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// No row claims the port, or rows say "Unassigned", "De-registered", "Removed" and the like.
    Unassigned,
    /// IANA holds the port back ("Reserved"): the range edges 0, 1023, 1024 and 49151, ports
    /// freed by a de-assignment, and TCP/UDP twins of ports assigned on another protocol.
    Reserved,
    /// One of the old standing allocations "any private mail system", "any private printer
    /// server"... (24, 35, 57, 59, 75, 77, 87): set aside, with an assignee, for whatever
    /// private service of that kind a site runs. Not reserved in RFC 6335's sense.
    PrivateUse,
    /// A named service is registered on the port.
    Assigned,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unassigned => "unassigned",
            Status::Reserved => "reserved",
            Status::PrivateUse => "private-use",
            Status::Assigned => "assigned",
        }
    }

    /// True for a port someone may legitimately listen on by the registry's own terms: an
    /// assignment, or a private-use allocation.
    pub fn provides_for_listener(self) -> bool {
        matches!(self, Status::Assigned | Status::PrivateUse)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Record<'_> {
    /// Classifies the row. A named row is an assignment whatever its description says. An
    /// unnamed row is a status line: "Reserved..." holds the port back, the old "any private
    /// ..." rows set it aside for private use, and everything else ("Unassigned",
    /// "De-registered", "Removed", "Possibly used by ...") leaves it free for assignment.
    pub fn status(&self) -> Status {
        if !self.service.is_empty() {
            return Status::Assigned;
        }
        let d = self.description.trim_start().to_ascii_lowercase();
        if d.starts_with("reserved") {
            Status::Reserved
        } else if d.starts_with("any private") {
            Status::PrivateUse
        } else {
            Status::Unassigned
        }
    }

    /// What an unnamed row says the port used to be, in a short phrase: "was compressnet,
    /// de-assigned 2025-02-13" (port 2), "was netstat" (15/tcp), "was NETCONF over BEEP,
    /// released by RFC9900" (831), "removed 2017-05-18" (47). `None` for named rows and rows
    /// without history. The registry writes this in several ways; each is read here.
    pub fn history(&self) -> Option<String> {
        if !self.service.is_empty() {
            return None;
        }
        let text = format!("{} {}", self.description, self.notes);
        let lower = text.to_ascii_lowercase();
        let mut was: Option<String> = None;
        // "Unassigned [was netstat]"
        if let Some(i) = lower.find("[was ") {
            let rest = &text[i + 5..];
            was = rest.split(']').next().map(|w| w.trim().to_owned());
        }
        // "previously compressnet by [Bernie_Volz]"; "Previously assigned to NETCONF over BEEP
        // but released by [RFC9900]"; "Historic usage was acms."
        for (key, ends) in [
            ("previously assigned to ", &[" but ", ".", ";"][..]),
            ("previously ", &[" by ", ".", ";", ","][..]),
            ("historic usage was ", &[".", ";", ","][..]),
        ] {
            if was.is_some() {
                break;
            }
            if let Some(i) = lower.find(key) {
                let rest = &text[i + key.len()..];
                let end = ends
                    .iter()
                    .filter_map(|e| rest.find(e))
                    .min()
                    .unwrap_or(rest.len());
                let name = rest[..end].trim().trim_matches('"');
                // "previously removed on ...", "previously noted ...", "previously updated"
                // are about the row, not a former service.
                let first = name.split_whitespace().next().unwrap_or("");
                if !name.is_empty()
                    && !["removed", "noted", "updated", "contact", "was"]
                        .contains(&first.to_ascii_lowercase().as_str())
                {
                    was = Some(name.to_owned());
                }
            }
        }
        let released = lower
            .find("released by [")
            .and_then(|i| text[i + 13..].split(']').next())
            .map(|r| format!("released by {r}"));
        let mut when: Option<String> = None;
        for key in ["de-assigned on ", "removed on ", "removed "] {
            if let Some(i) = lower.find(key) {
                let date: String = text[i + key.len()..]
                    .trim_start_matches(['(', ' '])
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '-')
                    .collect();
                if date.len() >= 8 {
                    let verb = if key.starts_with("de-") {
                        "de-assigned"
                    } else {
                        "removed"
                    };
                    when = Some(format!("{verb} {}", date.trim_end_matches('-')));
                    break;
                }
            }
        }
        let parts: Vec<String> = was
            .map(|w| format!("was {w}"))
            .into_iter()
            .chain(released)
            .chain(when)
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// True if this row applies to `protocol` (a row without protocol applies to all).
    pub fn applies_to(&self, protocol: Protocol) -> bool {
        self.protocol.is_none_or(|p| p == protocol)
    }

    /// True if this row covers `port` on `protocol`.
    pub fn covers(&self, port: u16, protocol: Protocol) -> bool {
        self.applies_to(protocol) && self.ports.is_some_and(|s| s.contains(port))
    }
}

/// Why a registry file was rejected. Line numbers are 1-based lines of the file, counting the
/// header, so they point where an editor would.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("the file is empty")]
    Empty,
    #[error("not UTF-8 CSV near line {line}: {message}")]
    Csv { line: u64, message: String },
    #[error(
        "the header does not match IANA's registry columns (expected \"{expected}\", found \"{found}\")"
    )]
    Header { expected: String, found: String },
    #[error("line {line}: expected {expected} columns, found {found}")]
    Columns {
        line: u64,
        expected: usize,
        found: usize,
    },
    #[error(
        "line {line}: bad port number \"{text}\" (expected 0-65535 or a range such as 788-799)"
    )]
    Port { line: u64, text: String },
    #[error("line {line}: unknown transport protocol \"{text}\" (expected tcp, udp, sctp or dccp)")]
    Protocol { line: u64, text: String },
    #[error("line {line}: a row with neither a service name nor a port number")]
    NoNameNoPort { line: u64 },
    #[error("line {line}: the {column} is {len} bytes long; at most {max} are accepted")]
    FieldTooLong {
        line: u64,
        column: &'static str,
        len: usize,
        max: usize,
    },
    #[error("line {line} repeats line {first} exactly")]
    DuplicateRow { line: u64, first: u64 },
    #[error("line {line} assigns {what} again (first on line {first})")]
    DuplicateAssignment { line: u64, first: u64, what: String },
    #[error(
        "the file holds only {found} port assignments; IANA's registry has thousands, so this is not it"
    )]
    TooSmall { found: usize },
    #[error("the file lacks the well-known assignment {service} {port}/{protocol}")]
    MissingAnchor {
        service: &'static str,
        port: u16,
        protocol: &'static str,
    },
}

/// The longest text field accepted, in bytes: IANA's longest is a 1,532-byte assignment note,
/// so this leaves room to grow while a 10 MB "description" is refused, not printed and served.
pub const MAX_FIELD_BYTES: usize = 4096;

/// The longest service name accepted: a DNS label (service names become `_name._tcp`; RFC
/// 6335 allows 15 characters, and IANA's longest is 15).
pub const MAX_SERVICE_NAME_BYTES: usize = 63;

/// A port column that is not empty, `N` or `N-M` with `N <= M <= 65535`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a port number or port range")]
pub struct BadPort;

/// Parses a port column: empty (no port), `N` or `N-M` with `N <= M`.
pub fn parse_ports(text: &str) -> Result<Option<PortSpan>, BadPort> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let num = |s: &str| -> Result<u16, BadPort> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadPort);
        }
        s.parse::<u16>().map_err(|_| BadPort)
    };
    let span = match text.split_once('-') {
        Some((a, b)) => PortSpan {
            first: num(a)?,
            last: num(b)?,
        },
        None => {
            let p = num(text)?;
            PortSpan { first: p, last: p }
        }
    };
    if span.first > span.last {
        return Err(BadPort);
    }
    Ok(Some(span))
}

/// Parses the whole registry CSV. Every row must parse; the first bad row rejects the file.
pub fn parse_csv(bytes: &[u8]) -> Result<Packed, ParseError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let csv_err = |e: csv::Error| ParseError::Csv {
        line: e.position().map_or(0, |p| p.line()),
        message: e.to_string(),
    };
    let header = reader.headers().map_err(csv_err)?.clone();
    let found: Vec<&str> = header.iter().map(str::trim).collect();
    if found != HEADER {
        return Err(ParseError::Header {
            expected: HEADER.join(","),
            found: found.join(","),
        });
    }
    let mut out = Packer::default();
    // Line of the first row with each content, and of each (name, ports, protocol).
    let mut rows: std::collections::HashMap<PackedRecord, u64> = std::collections::HashMap::new();
    let mut assignments: std::collections::HashMap<(String, u16, u16, u8), u64> =
        std::collections::HashMap::new();
    for row in reader.records() {
        let row = row.map_err(csv_err)?;
        let line = row.position().map_or(0, |p| p.line());
        if row.len() != HEADER.len() {
            return Err(ParseError::Columns {
                line,
                expected: HEADER.len(),
                found: row.len(),
            });
        }
        let field = |i: usize| row.get(i).unwrap_or_default().trim();
        let port_text = row.get(1).unwrap_or_default();
        let ports = parse_ports(port_text).map_err(|BadPort| ParseError::Port {
            line,
            text: port_text.to_owned(),
        })?;
        let proto_text = row.get(2).unwrap_or_default().trim();
        let protocol = if proto_text.is_empty() {
            None
        } else {
            Some(
                Protocol::parse(proto_text).ok_or_else(|| ParseError::Protocol {
                    line,
                    text: proto_text.to_owned(),
                })?,
            )
        };
        let service = field(0);
        if service.is_empty() && ports.is_none() {
            return Err(ParseError::NoNameNoPort { line });
        }
        for (i, column) in HEADER.iter().enumerate() {
            let max = if i == 0 {
                MAX_SERVICE_NAME_BYTES
            } else {
                MAX_FIELD_BYTES
            };
            let len = field(i).len();
            if len > max {
                return Err(ParseError::FieldTooLong {
                    line,
                    column,
                    len,
                    max,
                });
            }
        }
        out.push(
            [
                service,
                field(3),
                field(4),
                field(5),
                field(6),
                field(7),
                field(8),
                field(9),
                field(10),
                field(11),
            ],
            ports,
            protocol,
        );
        // The packer stores each distinct text once, so equal rows are equal packed records.
        if let Some(&rec) = out.packed.records.last() {
            if let Some(&first) = rows.get(&rec) {
                return Err(ParseError::DuplicateRow { line, first });
            }
            rows.insert(rec, line);
        }
        if let Some(span) = ports.filter(|_| !service.is_empty()) {
            let key = (
                service.to_ascii_lowercase(),
                span.first,
                span.last,
                protocol.map_or(0, |p| p as u8 + 1),
            );
            if let Some(&first) = assignments.get(&key) {
                let proto = protocol.map_or("every protocol", Protocol::as_str);
                return Err(ParseError::DuplicateAssignment {
                    line,
                    first,
                    what: format!("{service} {span}/{proto}"),
                });
            }
            assignments.insert(key, line);
        }
    }
    Ok(out.packed)
}

/// Checks that parsed records plausibly are IANA's registry and not some other CSV that
/// happens to have the same header: thousands of assignments, and the assignments every
/// version of the registry has had.
pub fn validate(records: &[Record<'_>]) -> Result<(), ParseError> {
    let assigned = records
        .iter()
        .filter(|r| r.ports.is_some() && r.status() == Status::Assigned)
        .count();
    if assigned < 1000 {
        return Err(ParseError::TooSmall { found: assigned });
    }
    const ANCHORS: [(&str, u16, Protocol); 3] = [
        ("ssh", 22, Protocol::Tcp),
        ("http", 80, Protocol::Tcp),
        ("domain", 53, Protocol::Udp),
    ];
    for (service, port, protocol) in ANCHORS {
        if !records
            .iter()
            .any(|r| r.service == service && r.covers(port, protocol))
        {
            return Err(ParseError::MissingAnchor {
                service,
                port,
                protocol: protocol.as_str(),
            });
        }
    }
    Ok(())
}

/// Parses and validates in one step: what `registry update` needs.
pub fn parse_and_validate(bytes: &[u8]) -> Result<Packed, ParseError> {
    let packed = parse_csv(bytes)?;
    // Freshly packed records always unpack.
    validate(&packed.unpack().unwrap_or_default())?;
    Ok(packed)
}

/// The newest registration or modification date in the records (ISO dates compare as text).
pub fn data_date<'a>(records: &[Record<'a>]) -> Option<&'a str> {
    records
        .iter()
        .flat_map(|r| [r.registered, r.modified])
        .filter(|d| !d.is_empty())
        .max()
}

/// A lookup index over records for one protocol: the port space cut into segments within
/// which the set of covering records is constant. Gaps between segments are ports no record
/// mentions. Flat arrays so the build script can emit them as plain static slices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtoIndex {
    /// First port of each segment, ascending.
    pub starts: Vec<u16>,
    /// Last port of each segment.
    pub ends: Vec<u16>,
    /// `members[offsets[i]..offsets[i + 1]]` are the records covering segment `i`.
    pub offsets: Vec<u32>,
    /// Record indices, in file order within each segment.
    pub members: Vec<u32>,
}

impl ProtoIndex {
    /// Builds the index for `protocol` over `records`.
    pub fn build(records: &[Record<'_>], protocol: Protocol) -> ProtoIndex {
        // Sweep over boundaries: a record enters at `first` and leaves after `last`.
        let mut events: Vec<(u32, bool, u32)> = Vec::new(); // (position, is_start, record)
        for (i, r) in records.iter().enumerate() {
            if let (Some(span), true) = (r.ports, r.applies_to(protocol)) {
                let i = u32::try_from(i).unwrap_or(u32::MAX);
                events.push((u32::from(span.first), true, i));
                events.push((u32::from(span.last) + 1, false, i));
            }
        }
        events.sort_unstable();
        let mut index = ProtoIndex::default();
        index.offsets.push(0);
        let mut active: BTreeSet<u32> = BTreeSet::new();
        let mut k = 0;
        while k < events.len() {
            let pos = events[k].0;
            while k < events.len() && events[k].0 == pos {
                let (_, start, rec) = events[k];
                if start {
                    active.insert(rec);
                } else {
                    active.remove(&rec);
                }
                k += 1;
            }
            if active.is_empty() || pos > u32::from(u16::MAX) {
                continue;
            }
            let next = events.get(k).map_or(u32::from(u16::MAX) + 1, |e| e.0);
            let (Ok(first), Ok(last)) = (u16::try_from(pos), u16::try_from(next - 1)) else {
                continue;
            };
            index.starts.push(first);
            index.ends.push(last);
            index.members.extend(active.iter().copied());
            index
                .offsets
                .push(u32::try_from(index.members.len()).unwrap_or(u32::MAX));
        }
        index
    }
}

/// Indices of named records, sorted by service name ignoring ASCII case (service names are
/// case-insensitive, RFC 6335 section 5.1), then by file order.
pub fn name_index(records: &[Record<'_>]) -> Vec<u32> {
    let mut names: Vec<u32> = (0..records.len())
        .filter(|&i| !records[i].service.is_empty())
        .filter_map(|i| u32::try_from(i).ok())
        .collect();
    names.sort_by(|&a, &b| {
        cmp_names(records[a as usize].service, records[b as usize].service).then(a.cmp(&b))
    });
    names
}

/// Compares service names ignoring ASCII case.
pub fn cmp_names(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes\n";

    fn parse(body: &str) -> Result<Vec<Record<'static>>, ParseError> {
        let packed = parse_csv(format!("{HEAD}{body}").as_bytes())?;
        let packed: &'static Packed = Box::leak(Box::new(packed));
        Ok(packed.unpack().unwrap())
    }

    #[test]
    fn ports_parse() {
        assert_eq!(parse_ports(""), Ok(None));
        assert_eq!(
            parse_ports("797"),
            Ok(Some(PortSpan {
                first: 797,
                last: 797
            }))
        );
        assert_eq!(
            parse_ports("788-799"),
            Ok(Some(PortSpan {
                first: 788,
                last: 799
            }))
        );
        for bad in ["70000", "-1", "799-788", "a", "1-", "+5", "1-2-3"] {
            assert_eq!(parse_ports(bad), Err(BadPort), "{bad}");
        }
    }

    #[test]
    fn multiline_and_doubled_quotes() {
        let recs = parse(
            "whoispp,63,tcp,\"whois++\nIANA assigned \"\"this\"\"\",[A],[A],,,,,,\n,788-799,,Unassigned,,,,,,,Unauthorized Use Known on port 796,\n",
        )
        .unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].description, "whois++\nIANA assigned \"this\"");
        assert_eq!(recs[1].protocol, None);
        assert_eq!(recs[1].status(), Status::Unassigned);
        assert!(recs[1].covers(796, Protocol::Dccp));
        assert_eq!(
            recs[1].unauthorized_use,
            "Unauthorized Use Known on port 796"
        );
    }

    #[test]
    fn statuses_of_unnamed_rows() {
        let recs = parse(",0,tcp,Reserved,,,,,,,,\n,24,tcp,any private mail system,,,,,,,,\n,1,udp,De-registered,,,,,,,,\n,2,udp,Unassigned [was netstat],,,,,,,,\n").unwrap();
        let s: Vec<Status> = recs.iter().map(Record::status).collect();
        assert_eq!(
            s,
            [
                Status::Reserved,
                Status::PrivateUse,
                Status::Unassigned,
                Status::Unassigned
            ]
        );
        assert!(Status::PrivateUse > Status::Reserved && Status::PrivateUse < Status::Assigned);
        assert_eq!(
            serde_json::to_string(&Status::PrivateUse).unwrap(),
            "\"private-use\""
        );
    }

    #[test]
    fn history_of_unnamed_rows() {
        let recs = parse(concat!(
            ",2,tcp,Reserved,,,,2025-02-13,,,,\"De-assigned on 2025-02-13, previously compressnet by [Bernie_Volz]\"\n",
            ",15,tcp,Unassigned [was netstat],,,,,,,,\n",
            ",47,tcp,Reserved,,,,,,,,This entry has been removed on 2017-05-18.\n",
            ",831,tcp,Reserved,,,,,,,,Previously assigned to NETCONF over BEEP but released by [RFC9900]\n",
            ",3980,tcp,Reserved,,,,,,,,Historic usage was acms. De-Assigned on 2020-12-29\n",
            ",3001,udp,Reserved,,,,,,,,\"port 3001 previously \"\"Removed on 2006-05-25\"\"\"\n",
            ",2693,tcp,Unassigned,,,,,,,,(Removed 2004-2-6)\n",
            ",788-799,,Unassigned,,,,,,,Unauthorized Use Known on port 796,\n",
            "ssh,22,tcp,The Secure Shell (SSH) Protocol,,,,,,,,\n",
        ))
        .unwrap();
        let h: Vec<Option<String>> = recs.iter().map(Record::history).collect();
        let h: Vec<Option<&str>> = h.iter().map(Option::as_deref).collect();
        assert_eq!(
            h,
            [
                Some("was compressnet, de-assigned 2025-02-13"),
                Some("was netstat"),
                Some("removed 2017-05-18"),
                Some("was NETCONF over BEEP, released by RFC9900"),
                Some("was acms, de-assigned 2020-12-29"),
                Some("removed 2006-05-25"),
                Some("removed 2004-2-6"),
                None,
                None,
            ]
        );
    }

    #[test]
    fn bad_files_are_rejected_with_line_numbers() {
        assert_eq!(parse_csv(b""), Err(ParseError::Empty));
        assert!(matches!(
            parse_csv(b"a,b,c\n1,2,3\n"),
            Err(ParseError::Header { .. })
        ));
        assert_eq!(
            parse("x,70000,tcp,,,,,,,,,\n"),
            Err(ParseError::Port {
                line: 2,
                text: "70000".into()
            })
        );
        assert_eq!(
            parse("x,1,tcp,,,,,,,,,\nx,2,icmp,,,,,,,,,\n"),
            Err(ParseError::Protocol {
                line: 3,
                text: "icmp".into()
            })
        );
        assert!(matches!(
            parse("x,1,tcp\n"),
            Err(ParseError::Columns { line: 2, .. })
        ));
        assert_eq!(
            parse(",,tcp,Reserved,,,,,,,,\n"),
            Err(ParseError::NoNameNoPort { line: 2 })
        );
        assert!(matches!(
            parse_csv(b"\xff\xfe,\n"),
            Err(ParseError::Csv { .. } | ParseError::Header { .. })
        ));
        assert_eq!(
            parse_and_validate(format!("{HEAD}ssh,22,tcp,,,,,,,,,\n").as_bytes()),
            Err(ParseError::TooSmall { found: 1 })
        );
    }

    /// Finding 7 of issue 13: a 10 MB description was accepted (and printed whole).
    #[test]
    fn finding_7_overlong_fields_are_refused() {
        let long = "d".repeat(MAX_FIELD_BYTES + 1);
        assert_eq!(
            parse(&format!("x,1,tcp,{long},,,,,,,,\n")),
            Err(ParseError::FieldTooLong {
                line: 2,
                column: "Description",
                len: MAX_FIELD_BYTES + 1,
                max: MAX_FIELD_BYTES
            })
        );
        let at_cap = "d".repeat(MAX_FIELD_BYTES);
        assert!(parse(&format!("x,1,tcp,{at_cap},,,,,,,,\n")).is_ok());
        let name = "n".repeat(MAX_SERVICE_NAME_BYTES + 1);
        let e = parse(&format!("{name},1,tcp,,,,,,,,,\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: the Service Name is 64 bytes long; at most 63 are accepted"
        );
        // Notes, the longest column in IANA's file, are capped too.
        let e = parse(&format!("x,1,tcp,,,,,,,,,\"{}\"\n", "n".repeat(10 << 20))).unwrap_err();
        assert!(
            matches!(
                e,
                ParseError::FieldTooLong {
                    column: "Assignment Notes",
                    ..
                }
            ),
            "{e}"
        );
    }

    /// Finding 7 of issue 13: duplicate rows were accepted silently.
    #[test]
    fn finding_7_duplicate_rows_are_reported() {
        assert_eq!(
            parse(",5,tcp,Unassigned,,,,,,,,\nssh,22,tcp,SSH,,,,,,,,\n,5,tcp,Unassigned,,,,,,,,\n"),
            Err(ParseError::DuplicateRow { line: 4, first: 2 })
        );
        let e = parse("ssh,22,tcp,SSH,,,,,,,,\nSSH,22,tcp,Another SSH,,,,,,,,\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3 assigns SSH 22/tcp again (first on line 2)"
        );
        // The same name on another protocol or port, and a name-only row registered twice
        // with different text (IANA's file has "rdp" so), are not duplicates.
        assert!(
            parse("ssh,22,tcp,SSH,,,,,,,,\nssh,22,udp,SSH,,,,,,,,\nssh,23,tcp,x,,,,,,,,\nrdp,,,A,,,,,,,,\nrdp,,,B,,,,,,,,\n")
                .is_ok()
        );
    }

    #[test]
    fn index_segments_overlaps() {
        let recs = parse(
            ",7000-7999,,Unassigned,,,,,,,,\ninetfs,7775,tcp,x,,,,,,,,\nfoo,7775,udp,y,,,,,,,,\n",
        )
        .unwrap();
        let idx = ProtoIndex::build(&recs, Protocol::Tcp);
        assert_eq!(idx.starts, [7000, 7775, 7776]);
        assert_eq!(idx.ends, [7774, 7775, 7999]);
        assert_eq!(idx.offsets, [0, 1, 3, 4]);
        assert_eq!(idx.members, [0, 0, 1, 0]);
        let sctp = ProtoIndex::build(&recs, Protocol::Sctp);
        assert_eq!(sctp.starts, [7000]);
        assert_eq!(sctp.ends, [7999]);
    }

    #[test]
    fn packing_shares_text_and_checks_bounds() {
        let packed = parse_csv(
            format!("{HEAD}a,1,tcp,Same,[X],[X],,,,,,\nb,2,udp,Same,[X],[X],,,,,,\n").as_bytes(),
        )
        .unwrap();
        assert_eq!(packed.strings.matches("Same").count(), 1);
        assert_eq!(packed.records[0].text[1], packed.records[1].text[1]);
        let recs = packed.unpack().unwrap();
        assert_eq!((recs[1].service, recs[1].description), ("b", "Same"));
        assert_eq!(recs[1].protocol, Some(Protocol::Udp));
        let mut bad = packed.records[0];
        bad.text[2] = (u32::MAX, 2);
        assert_eq!(view(&packed.strings, &bad), None);
        bad = packed.records[0];
        bad.protocol = 9;
        assert_eq!(view(&packed.strings, &bad), None);
        bad = packed.records[0];
        (bad.first, bad.last) = (5, 4);
        assert_eq!(view(&packed.strings, &bad), None);
    }

    #[test]
    fn index_reaches_port_65535() {
        let recs = parse(",65535,,Reserved,,,,,,,,\n").unwrap();
        let idx = ProtoIndex::build(&recs, Protocol::Udp);
        assert_eq!((idx.starts[0], idx.ends[0]), (65535, 65535));
    }
}
