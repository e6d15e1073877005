//! Turning OFX field bytes into values: text with its charset, entities and CDATA; amounts that may
//! use a decimal comma; OFX date-times; the header's charset.

use std::borrow::Cow;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rust_decimal::Decimal;

use crate::text::{number, parse_decimal, parse_yyyymmdd, trim, windows_1252_into, Charset};

/// A text field as a readable string, and whether its bytes were not in `charset`. Line breaks
/// and tabs become spaces: every field ends up on one line of a description.
pub(super) fn decode_text(charset: Charset, raw: &[u8]) -> (String, bool) {
    let mut text = String::new();
    let mislabelled = decode_text_into(charset, raw, &mut text);
    (text, mislabelled)
}

/// [`decode_text`] into `out`, replacing what it held; whether the bytes were not in `charset`.
pub(super) fn decode_text_into(charset: Charset, raw: &[u8], out: &mut String) -> bool {
    out.clear();
    let raw = trim(raw);
    if raw.iter().fold(true, |plain, &b| plain & (0x20..0x7f).contains(&b) & (b != b'&') & (b != b'<')) {
        // Plain ASCII: the same in every charset OFX files use, copied as is.
        if let Ok(text) = std::str::from_utf8(raw) {
            out.push_str(text);
            return false;
        }
    }
    // As `Charset::decode`: a field not valid in the declared charset is read in the other one.
    let mislabelled = match std::str::from_utf8(raw) {
        Ok(text) => {
            out.push_str(text);
            charset == Charset::Windows1252 && !raw.is_ascii()
        }
        Err(_) => {
            windows_1252_into(raw, out);
            charset == Charset::Utf8
        }
    };
    // Only text with markup or control characters (C1 ones start with 0xC2 in UTF-8) needs
    // unescaping.
    if out.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'&' || b == b'<' || b == 0xc2) {
        if let Cow::Owned(text) = unescape(out) {
            *out = text;
        }
    }
    let end = out.trim_end().len();
    out.truncate(end);
    let start = out.len() - out.trim_start().len();
    out.drain(..start);
    mislabelled
}

/// Bytes of a field meant to be a number or a date: normally plain; CDATA and entities resolved
/// in the rare file that uses them there.
pub(super) fn plain(raw: &[u8]) -> Cow<'_, [u8]> {
    let raw = trim(raw);
    if !raw.iter().any(|&b| b == b'&' || b == b'<') {
        return Cow::Borrowed(raw);
    }
    let text = String::from_utf8_lossy(raw);
    Cow::Owned(trim(unescape(&text).as_bytes()).to_vec())
}

/// `text` with CDATA sections unwrapped, the XML entities and numeric character references
/// resolved, and control characters turned into spaces. An `&` that starts no known entity stays
/// as written: OFX 1 files often hold a raw `&`.
pub(super) fn unescape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '&' || c == '<' || c.is_control()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let (content, tail) = after.split_once("]]>").unwrap_or((after, ""));
            out.extend(content.chars().map(|c| if c.is_control() { ' ' } else { c }));
            rest = tail;
            continue;
        }
        if c == '&' {
            if let Some((resolved, len)) = entity(rest) {
                out.push(resolved);
                rest = rest.get(len..).unwrap_or_default();
                continue;
            }
        }
        out.push(if c.is_control() { ' ' } else { c });
        rest = rest.get(c.len_utf8()..).unwrap_or_default();
    }
    Cow::Owned(out)
}

/// The character an entity at the start of `text` (`&amp;`, `&#233;`, `&#xE9;`) stands for, and
/// the entity's length.
fn entity(text: &str) -> Option<(char, usize)> {
    let head: String = text.chars().skip(1).take(10).collect();
    let (name, _) = head.split_once(';')?;
    let resolved = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()?
            } else {
                name.strip_prefix('#')?.parse().ok()?
            };
            char::from_u32(code).filter(|c| !c.is_control())?
        }
    };
    Some((resolved, name.len() + 2))
}

/// An OFX amount. The spec allows `,` as the decimal separator; a value with a comma and no
/// period is read that way (`-200,00`), anything else with a decimal point.
pub(super) fn amount(raw: &[u8]) -> Option<Decimal> {
    let raw = plain(raw);
    let decimal_comma = raw.contains(&b',') && !raw.contains(&b'.');
    parse_decimal(&raw, decimal_comma)
}

/// The date of an OFX date-time (`YYYYMMDD[HHMMSS[.XXX]][[offset:TZ]]`), as written: the offset
/// is not applied, a statement's dates are the bank's dates.
pub(super) fn date(raw: &[u8]) -> Option<NaiveDate> {
    parse_yyyymmdd(&plain(raw))
}

/// An OFX date-time as written (time zone not applied); midnight when only the date is given,
/// and for a time that is not one.
pub(super) fn date_time(raw: &[u8]) -> Option<NaiveDateTime> {
    let raw = plain(raw);
    let day = date(&raw)?;
    let digits = |range: std::ops::Range<usize>| raw.get(range).and_then(number);
    let time = match (digits(8..10), digits(10..12)) {
        (Some(h), Some(m)) => NaiveTime::from_hms_opt(h, m, digits(12..14).unwrap_or(0)),
        _ => None,
    };
    Some(day.and_time(time.unwrap_or(NaiveTime::MIN)))
}

/// An ISO 4217 code, upper case; `None` when the text is not three letters.
pub(super) fn currency(raw: &[u8]) -> Option<String> {
    let raw = plain(raw);
    (raw.len() == 3 && raw.iter().all(u8::is_ascii_alphabetic))
        .then(|| raw.iter().map(|b| char::from(b.to_ascii_uppercase())).collect())
}

/// What the OFX 1 header block (`KEY:VALUE` lines before `<OFX>`, or all on one line) says about
/// the charset, and how it said it, for messages.
pub(super) fn sgml_header_charset(header: &[u8]) -> Option<(Charset, String)> {
    const KEYS: [&[u8]; 9] = [
        b"OFXHEADER:",
        b"DATA:",
        b"VERSION:",
        b"SECURITY:",
        b"ENCODING:",
        b"CHARSET:",
        b"COMPRESSION:",
        b"OLDFILEUID:",
        b"NEWFILEUID:",
    ];
    let upper = header.to_ascii_uppercase();
    let starts: Vec<(usize, usize)> =
        KEYS.iter().filter_map(|key| find(&upper, key).map(|at| (at, at + key.len()))).collect();
    // A value ends at the line end or, in headers written on one line, where the next key starts.
    let value = |key: &[u8]| -> Option<String> {
        let start = find(&upper, key)? + key.len();
        let next_key = starts.iter().map(|&(at, _)| at).filter(|&at| at >= start).min().unwrap_or(header.len());
        let line_end =
            header.get(start..)?.iter().position(|&b| b == b'\r' || b == b'\n').map_or(header.len(), |k| start + k);
        let raw = header.get(start..next_key.min(line_end))?;
        Some(String::from_utf8_lossy(trim(raw)).into_owned())
    };
    let encoding = value(b"ENCODING:");
    let charset = value(b"CHARSET:");
    if let Some(encoding) =
        encoding.as_deref().filter(|e| e.eq_ignore_ascii_case("UTF-8") || e.eq_ignore_ascii_case("UTF8"))
    {
        return Some((Charset::Utf8, format!("ENCODING:{encoding}")));
    }
    match charset.as_deref() {
        Some(label) if !label.is_empty() && !label.eq_ignore_ascii_case("NONE") => {
            Some((Charset::from_label(label), format!("CHARSET:{label}")))
        }
        _ => None,
    }
}

/// The `encoding` attribute of an `<?xml …?>` declaration.
pub(super) fn xml_declared_charset(declaration: &[u8]) -> Option<(Charset, String)> {
    let lower = declaration.to_ascii_lowercase();
    let at = find(&lower, b"encoding")? + b"encoding".len();
    let rest = declaration.get(at..)?;
    let quote_at = rest.iter().position(|&b| b == b'"' || b == b'\'')?;
    let quote = *rest.get(quote_at)?;
    let value = rest.get(quote_at + 1..)?;
    let value = value.get(..value.iter().position(|&b| b == quote)?)?;
    let label = String::from_utf8_lossy(value).into_owned();
    Some((Charset::from_label(&label), format!("encoding=\"{label}\"")))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_is_decoded_as_encoding_rs_does() {
        let all: Vec<u8> = (0..=255).collect();
        let mut ours = String::new();
        windows_1252_into(&all, &mut ours);
        assert_eq!(ours, encoding_rs::WINDOWS_1252.decode_without_bom_handling(&all).0);
    }

    #[test]
    fn text_decodes_as_the_charset_says() {
        for charset in [Charset::Utf8, Charset::Windows1252] {
            for raw in [&b" Caf\xe9 &amp; \x85 "[..], "Ærø \u{85}x &lt;".as_bytes(), b"a\tb", b"\xa0x\xa0", b"plain"]
            {
                let decoded = charset.decode(trim(raw));
                let text = match unescape(&decoded.text) {
                    Cow::Borrowed(text) => text.trim().to_owned(),
                    Cow::Owned(text) => text.trim().to_owned(),
                };
                assert_eq!(decode_text(charset, raw), (text, decoded.mislabelled), "{raw:?}");
            }
        }
    }
}
