//! XDR (RFC 4506) encoding and bounds-checked decoding: every read checks the remaining length
//! first and returns `None` instead of reading past the end, so hostile replies cannot panic us.

/// Appends XDR values to a buffer.
#[derive(Debug, Default, Clone)]
pub struct XdrWriter {
    buf: Vec<u8>,
}

impl XdrWriter {
    pub fn new() -> XdrWriter {
        XdrWriter::default()
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Variable-length opaque data or a string: length, bytes, zero padding to 4.
    pub fn opaque(&mut self, data: &[u8]) -> &mut Self {
        self.u32(u32::try_from(data.len()).unwrap_or(u32::MAX));
        self.buf.extend_from_slice(data);
        let pad = (4 - data.len() % 4) % 4;
        self.buf.extend(std::iter::repeat_n(0u8, pad));
        self
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads XDR values from a slice, checking bounds on every read.
#[derive(Debug, Clone)]
pub struct XdrReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> XdrReader<'a> {
    pub fn new(data: &'a [u8]) -> XdrReader<'a> {
        XdrReader { data, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
    pub fn u32(&mut self) -> Option<u32> {
        let b = self.data.get(self.pos..self.pos.checked_add(4)?)?;
        self.pos += 4;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// Variable-length opaque data of at most `max` bytes.
    pub fn opaque(&mut self, max: usize) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        if len > max {
            return None;
        }
        let padded = len.checked_add((4 - len % 4) % 4)?;
        let end = self.pos.checked_add(padded)?;
        let body = self.data.get(self.pos..self.pos + len)?;
        if end > self.data.len() {
            return None;
        }
        self.pos = end;
        Some(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut w = XdrWriter::new();
        w.u32(7).opaque(b"local").u32(9);
        let bytes = w.into_bytes();
        assert_eq!(bytes.len(), 4 + 4 + 8 + 4);
        let mut r = XdrReader::new(&bytes);
        assert_eq!(r.u32(), Some(7));
        assert_eq!(r.opaque(255), Some(&b"local"[..]));
        assert_eq!(r.u32(), Some(9));
        assert_eq!(r.u32(), None);
    }

    #[test]
    fn rejects_lengths_past_the_end() {
        let mut r = XdrReader::new(&[0xff, 0xff, 0xff, 0xff, 1, 2]);
        assert_eq!(r.opaque(usize::MAX), None);
        let mut r = XdrReader::new(&[0, 0, 0, 3, 1, 2, 3]);
        assert_eq!(r.opaque(16), None, "missing padding is an error");
    }
}
