//! HTTP/1.x response parsing (RFC 9112): status line, headers, `<title>`, redirects. Bounded:
//! at most 100 headers, each value escaped and capped.

use serde::{Deserialize, Serialize};

use crate::escape::{escape_bytes, escape_text};

/// What an HTTP response showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HttpInfo {
    /// "HTTP/1.1", "HTTP/1.0".
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// The `Server` header, escaped.
    pub server: Option<String>,
    /// The document's `<title>`, whitespace-collapsed and escaped.
    pub title: Option<String>,
    /// The `Location` header of a redirect, escaped.
    pub location: Option<String>,
    /// Raw `Server` header bytes, for signature matching (not serialized).
    #[serde(skip)]
    pub server_raw: Option<Vec<u8>>,
}

/// The request we send: HTTP/1.0 so the server closes when done.
pub fn request(host: &str) -> Vec<u8> {
    format!("GET / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: portent\r\nAccept: */*\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

/// Whether the response in `data` is complete enough to stop reading.
pub fn complete(data: &[u8]) -> bool {
    let Some(end) = find(data, b"\r\n\r\n") else {
        return false;
    };
    let body = &data[end + 4..];
    if find_ci(body, b"</title>").is_some() {
        return true;
    }
    let head = &data[..end];
    for line in head.split(|&b| b == b'\n').skip(1) {
        if let Some((name, value)) = header(line)
            && name.eq_ignore_ascii_case("content-length")
            && let Ok(n) = value.trim().parse::<usize>()
        {
            return body.len() >= n;
        }
    }
    false
}

/// Parses a response; `None` unless it starts with a valid HTTP/1.x status line.
pub fn parse(data: &[u8]) -> Option<HttpInfo> {
    let line_end = find(data, b"\n")?;
    let status_line = std::str::from_utf8(&data[..line_end]).ok()?.trim_end();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?;
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1" | "HTTP/0.9") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    let status: u16 = code.parse().ok()?;
    let mut info = HttpInfo {
        version: version.to_string(),
        status,
        reason: escape_text(parts.next().unwrap_or(""), 80),
        ..HttpInfo::default()
    };
    let head_end = find(data, b"\r\n\r\n")
        .or_else(|| find(data, b"\n\n"))
        .unwrap_or(data.len())
        .max(line_end + 1);
    let headers = data.get(line_end + 1..head_end).unwrap_or_default();
    for line in headers.split(|&b| b == b'\n').take(100) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        let value = trim(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"server") {
            info.server = Some(escape_bytes(value, 160));
            info.server_raw = Some(value.iter().take(512).copied().collect());
        } else if name.eq_ignore_ascii_case(b"location") {
            info.location = Some(escape_bytes(value, 200));
        }
    }
    let body = data.get(head_end..).unwrap_or_default();
    if let Some(start) = find_ci(body, b"<title") {
        let rest = &body[start..];
        if let Some(gt) = rest.iter().position(|&b| b == b'>') {
            let inner = &rest[gt + 1..];
            let end = find_ci(inner, b"</title").unwrap_or(inner.len().min(300));
            let text = String::from_utf8_lossy(&inner[..end]);
            let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if !collapsed.is_empty() {
                info.title = Some(escape_text(&collapsed, 160));
            }
        }
    }
    Some(info)
}

fn header(line: &[u8]) -> Option<(&str, &str)> {
    let s = std::str::from_utf8(line).ok()?;
    let (n, v) = s.split_once(':')?;
    Some((n.trim(), v.trim()))
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_server_title_location() {
        let r = b"HTTP/1.1 301 Moved Permanently\r\nServer: nginx/1.24.0\r\nLocation: https://x/\r\n\r\n<html><title>\n Moved \x1b[2J</title>";
        let h = parse(r).unwrap();
        assert_eq!(h.status, 301);
        assert_eq!(h.server.as_deref(), Some("nginx/1.24.0"));
        assert_eq!(h.location.as_deref(), Some("https://x/"));
        assert_eq!(h.title.as_deref(), Some("Moved \\x1b[2J"));
        assert!(complete(r));
    }

    #[test]
    fn rejects_non_http() {
        assert!(parse(b"SSH-2.0-x\r\n").is_none());
        assert!(parse(b"HTTP/1.1 2000 x\r\n").is_none());
        // Found by the fuzz test: an empty header block right after the status line.
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\n\r\n").unwrap().status, 200);
    }
}
