//! The 65,536-port picture: one pixel per port, 256 per row, coloured by status, with this
//! machine's listeners marked, as a small palette PNG made on the server (no JavaScript
//! needed to see it; the page links it as a server-side image map).
//!
//! The PNG is written by hand (stored deflate blocks, CRC-32, Adler-32): 66 KB, made in well
//! under a millisecond, and no image crate to depend on.

use portent_registry::{Protocol, Registry, Status};

/// A port's colour class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Cell {
    Unassigned = 0,
    Reserved = 1,
    Assigned = 2,
    Dynamic = 3,
    Listening = 4,
}

/// RGB per [`Cell`], in order; the page's legend uses the same colours (style.css).
pub const PALETTE: [[u8; 3]; 5] = [
    [0xe4, 0xe7, 0xeb], // unassigned: light grey
    [0xf2, 0xb7, 0x05], // reserved: amber
    [0x2f, 0x6f, 0xb5], // assigned: blue
    [0xb9, 0xd9, 0xc4], // dynamic: pale green
    [0xd6, 0x1f, 0x69], // listening here: magenta
];

/// The status of every port, strongest over all four protocols.
pub fn classify(reg: &Registry) -> Vec<u8> {
    (0..=u16::MAX)
        .map(|port| {
            let s = Protocol::ALL
                .iter()
                .map(|&p| reg.status(port, p))
                .max()
                .unwrap_or(Status::Unassigned);
            let c = match s {
                // A private-use allocation ("any private mail system") has an assignee and a
                // purpose: drawn as assigned.
                Status::Assigned | Status::PrivateUse => Cell::Assigned,
                Status::Reserved => Cell::Reserved,
                Status::Unassigned if port >= 49152 => Cell::Dynamic,
                Status::Unassigned => Cell::Unassigned,
            };
            c as u8
        })
        .collect()
}

/// The registry's service names of every port that has one (all protocols, in file order,
/// without repeats), for the grid's hover titles.
pub fn names(reg: &Registry) -> std::collections::BTreeMap<u16, Vec<&'static str>> {
    let mut out: std::collections::BTreeMap<u16, Vec<&'static str>> = Default::default();
    for r in reg.records() {
        let Some(span) = r.ports else { continue };
        if r.service.is_empty() {
            continue;
        }
        for p in span.first..=span.last {
            let v = out.entry(p).or_default();
            if !v.contains(&r.service) {
                v.push(r.service);
            }
        }
    }
    out
}

/// What the page's script needs for a hover title on every cell, as JSON:
/// `{"cells": "0120…" (one digit per port, a [`Cell`] without listeners), "names": {"22":
/// "ssh", …}, "listening": [22, …]}`. `names_json` is the names object, made once.
pub fn data_json(cells: &[u8], names_json: &str, listening: &[u16]) -> String {
    let mut out = String::with_capacity(cells.len() + names_json.len() + 64);
    out.push_str("{\"cells\":\"");
    out.extend(cells.iter().map(|&c| char::from(b'0' + c.min(9))));
    out.push_str("\",\"names\":");
    out.push_str(names_json);
    out.push_str(",\"listening\":[");
    for (i, p) in listening.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&p.to_string());
    }
    out.push_str("]}");
    out
}

/// The names map as a JSON object keyed by port.
pub fn names_json(names: &std::collections::BTreeMap<u16, Vec<&'static str>>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|(p, v)| (p.to_string(), serde_json::Value::from(v.join(", "))))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// The cell class of `port` in a classification.
pub fn cell_of(cells: &[u8], port: u16) -> Cell {
    match cells.get(usize::from(port)).copied().unwrap_or(0) {
        1 => Cell::Reserved,
        2 => Cell::Assigned,
        3 => Cell::Dynamic,
        4 => Cell::Listening,
        _ => Cell::Unassigned,
    }
}

/// A 256x256 palette PNG of `cells` with `listening` ports marked.
pub fn png(cells: &[u8], listening: &[u16]) -> Vec<u8> {
    let mut px = cells.to_vec();
    px.resize(65536, 0);
    for &p in listening {
        px[usize::from(p)] = Cell::Listening as u8;
    }
    // Raw image data: each row is a filter byte (0, none) and 256 palette indices.
    let mut raw = Vec::with_capacity(256 * 257);
    for row in px.chunks(256) {
        raw.push(0);
        raw.extend_from_slice(row);
    }
    let mut out = Vec::with_capacity(raw.len() + 200);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&256u32.to_be_bytes());
    ihdr.extend_from_slice(&256u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 3, 0, 0, 0]); // 8-bit, palette, deflate, no filter, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    let plte: Vec<u8> = PALETTE.iter().flatten().copied().collect();
    chunk(&mut out, b"PLTE", &plte);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of uncompressed ("stored") deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65535 * 5 + 16);
    out.extend_from_slice(&[0x78, 0x01]);
    let mut blocks = data.chunks(65535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(b) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = b.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(b);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut c = 0xffff_ffffu32;
    for &x in data {
        c = table[((c ^ u32::from(x)) & 0xff) as usize] ^ (c >> 8);
    }
    c ^ 0xffff_ffff
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn crc_matches_the_png_spec_example() {
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn classification_and_png() {
        let cells = classify(&Registry::embedded());
        assert_eq!(cell_of(&cells, 22), Cell::Assigned);
        assert_eq!(cell_of(&cells, 797), Cell::Unassigned);
        assert_eq!(cell_of(&cells, 50000), Cell::Dynamic);
        assert_eq!(cell_of(&cells, 0), Cell::Reserved);
        let names = names(&Registry::embedded());
        assert_eq!(names[&22], ["ssh"]);
        assert_eq!(names[&6000], ["x11"]);
        assert!(!names.contains_key(&797));
        let v: serde_json::Value =
            serde_json::from_str(&data_json(&cells, &names_json(&names), &[797, 22])).unwrap();
        let digits = v["cells"].as_str().unwrap();
        assert_eq!(digits.len(), 65536);
        assert_eq!(&digits[22..23], "2");
        assert_eq!(&digits[797..798], "0");
        assert_eq!(v["names"]["22"], "ssh");
        assert_eq!(v["listening"], serde_json::json!([797, 22]));
        let png = png(&cells, &[797]);
        assert!(png.starts_with(b"\x89PNG"));
        assert!(png.ends_with(&[0xae, 0x42, 0x60, 0x82]));
        assert!(png.len() > 65536 && png.len() < 70000);
    }
}
