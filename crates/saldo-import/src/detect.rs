//! Which format a file is, from its first bytes (and its name when the bytes can't tell).

use crate::statement::Format;

/// How many leading bytes [`detect`] looks at.
pub const HEAD: usize = 4096;

/// The format of a file whose first bytes are `head` (up to [`HEAD`] of them). The content
/// decides; the extension only breaks ties for text that could be CSV. `None` when it is none of
/// the formats saldo reads.
pub fn detect(name: Option<&str>, head: &[u8]) -> Option<Format> {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let lower: Vec<u8> = head.iter().take(HEAD).map(u8::to_ascii_lowercase).collect();
    let has = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    let start = lower.iter().position(|b| !b.is_ascii_whitespace()).map_or(&lower[..0], |i| &lower[i..]);
    if start.starts_with(b"ofxheader") || has(b"<ofx>") || has(b"<?ofx") {
        return Some(Format::Ofx);
    }
    if start.starts_with(b"<") && (has(b"camt.05") || has(b"<bktocstmr")) {
        return Some(Format::Camt);
    }
    let swift_tags = [&b":20:"[..], b":25:", b":28c:", b":60f:", b":61:", b":62f:", b":34f:"];
    if start.starts_with(b"{1:") || swift_tags.iter().filter(|tag| has(tag)).count() >= 2 {
        return Some(Format::Mt940);
    }
    if start.starts_with(b"<") {
        return None;
    }
    let extension = name.and_then(|n| n.rsplit_once('.')).map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("ofx" | "qfx" | "qbo") => Some(Format::Ofx),
        Some("sta" | "mt940" | "940" | "942") => Some(Format::Mt940),
        _ if looks_like_delimited_text(head) => Some(Format::Csv),
        _ => None,
    }
}

/// Text (no NUL bytes) whose first lines hold a separator.
fn looks_like_delimited_text(head: &[u8]) -> bool {
    !head.is_empty()
        && !head.contains(&0)
        && head.split(|b| *b == b'\n').take(3).any(|line| line.iter().any(|b| matches!(b, b',' | b';' | b'\t' | b'|')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_by_content() {
        assert_eq!(detect(None, b"OFXHEADER:100\r\nDATA:OFXSGML"), Some(Format::Ofx));
        assert_eq!(
            detect(None, b"\xef\xbb\xbf<?xml version=\"1.0\"?><?OFX OFXHEADER=\"200\"?><OFX>"),
            Some(Format::Ofx)
        );
        assert_eq!(detect(None, b"  <OFX><SIGNONMSGSRSV1>"), Some(Format::Ofx));
        assert_eq!(
            detect(None, b"<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">"),
            Some(Format::Camt)
        );
        assert_eq!(detect(None, b":20:STARTUMSE\r\n:25:12345678/0123\r\n:28C:1"), Some(Format::Mt940));
        assert_eq!(detect(None, b"{1:F01ABNANL2AXXXX0000000000}{2:I940}{4:\r\n:20:X"), Some(Format::Mt940));
        assert_eq!(detect(Some("export.csv"), b"Date;Amount;Text\n2024-01-01;-1,00;Coffee\n"), Some(Format::Csv));
        assert_eq!(detect(Some("a.xml"), b"<?xml version=\"1.0\"?><html>"), None);
        assert_eq!(detect(Some("a.bin"), b"\x00\x01\x02"), None);
    }
}
