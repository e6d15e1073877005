//! Byte-level helpers every statement parser needs: character sets, exact decimals, compact dates.
//! Parsers work on bytes and decode only the fields they keep, so a file's size costs scanning, not
//! allocation.

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// The character set of a file's text fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Charset {
    #[default]
    Utf8,
    /// Windows-1252, which is also what files that say ISO-8859-1 or "ANSI" almost always hold.
    Windows1252,
}

impl Charset {
    /// The charset a label names (`UTF-8`, `1252`, `ISO-8859-1`, `latin1`, `USASCII`…); UTF-8 when
    /// the label is unknown.
    pub fn from_label(label: &str) -> Charset {
        let label = label.trim().to_ascii_lowercase();
        match label.as_str() {
            "1252" | "cp1252" | "windows-1252" | "iso-8859-1" | "iso8859-1" | "8859-1" | "latin1" | "latin-1"
            | "iso-8859-15" | "ansi" => Charset::Windows1252,
            _ => Charset::Utf8,
        }
    }

    /// Text of a field. A field that is not valid in the declared charset (files often declare one
    /// and hold another) is read as Windows-1252, which maps every byte; `mislabelled` says so.
    pub fn decode(self, bytes: &[u8]) -> Decoded {
        if bytes.is_ascii() {
            // ASCII is valid UTF-8 and the same in Windows-1252.
            return Decoded { text: String::from_utf8_lossy(bytes).into_owned(), mislabelled: false };
        }
        match self {
            Charset::Utf8 => match std::str::from_utf8(bytes) {
                Ok(text) => Decoded { text: text.to_owned(), mislabelled: false },
                Err(_) => Decoded { text: windows_1252(bytes), mislabelled: true },
            },
            Charset::Windows1252 => {
                // A file declared 1252 that holds valid multi-byte UTF-8 was written by a UTF-8 tool.
                match std::str::from_utf8(bytes) {
                    Ok(text) => Decoded { text: text.to_owned(), mislabelled: true },
                    Err(_) => Decoded { text: windows_1252(bytes), mislabelled: false },
                }
            }
        }
    }
}

/// A decoded field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// The bytes were not in the declared charset (and were read in the other one).
    pub mislabelled: bool,
}

fn windows_1252(bytes: &[u8]) -> String {
    let mut out = String::new();
    windows_1252_into(bytes, &mut out);
    out
}

/// Appends `bytes` read as Windows-1252 to `out` (which parsers reuse field after field).
pub fn windows_1252_into(bytes: &[u8], out: &mut String) {
    let mut decoder = encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling();
    // Every byte maps to one character of at most three UTF-8 bytes, so one call decodes it all.
    out.reserve(decoder.max_utf8_buffer_length(bytes.len()).unwrap_or(bytes.len() * 3));
    let _ = decoder.decode_to_string(bytes, out, true);
}

/// An exact decimal from text such as `-1234.56`, `+12,5`, `1 234,56`, `1,234.56`, `.5`, `12.`:
/// an optional sign, digits, and one decimal separator, `.` or `,` (`decimal_comma` says which is
/// the decimal one when both could be; thousands separators — the other one, spaces, `'` — are
/// skipped). `None` when it is not a number.
pub fn parse_decimal(bytes: &[u8], decimal_comma: bool) -> Option<Decimal> {
    let bytes = trim(bytes);
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let digits = trim(digits);
    let decimal_separator = if decimal_comma { b',' } else { b'.' };
    let mut mantissa: i128 = 0;
    let mut scale: u32 = 0;
    let mut seen_digit = false;
    let mut in_fraction = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
                if in_fraction {
                    scale += 1;
                }
                seen_digit = true;
            }
            _ if b == decimal_separator && !in_fraction => in_fraction = true,
            b'.' | b',' | b' ' | b'\'' if !in_fraction => {}
            _ => return None,
        }
    }
    if !seen_digit || scale > 28 {
        return None;
    }
    let mantissa = if negative { -mantissa } else { mantissa };
    Decimal::try_from_i128_with_scale(mantissa, scale).ok()
}

/// A date written `YYYYMMDD` (the first eight bytes; OFX times carry more after them).
pub fn parse_yyyymmdd(bytes: &[u8]) -> Option<NaiveDate> {
    let d = bytes.get(..8)?;
    NaiveDate::from_ymd_opt(number(&d[..4])? as i32, number(&d[4..6])?, number(&d[6..8])?)
}

/// A date written `YYMMDD` (SWIFT): years 00–79 are 20xx, 80–99 are 19xx.
pub fn parse_yymmdd(bytes: &[u8]) -> Option<NaiveDate> {
    let d = bytes.get(..6)?;
    let yy = number(&d[..2])? as i32;
    let year = if yy < 80 { 2000 + yy } else { 1900 + yy };
    NaiveDate::from_ymd_opt(year, number(&d[2..4])?, number(&d[4..6])?)
}

/// A date written `YYYY-MM-DD` (the first ten bytes; ISO times carry more after them).
pub fn parse_iso_date(bytes: &[u8]) -> Option<NaiveDate> {
    let d = bytes.get(..10)?;
    if d[4] != b'-' || d[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(number(&d[..4])? as i32, number(&d[5..7])?, number(&d[8..10])?)
}

/// A small unsigned number of ASCII digits.
pub fn number(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 {
        return None;
    }
    bytes.iter().try_fold(0u32, |n, &b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
}

/// `bytes` without leading and trailing ASCII whitespace.
pub fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    #[test]
    fn decimals_keep_every_digit_and_the_sign() {
        assert_eq!(parse_decimal(b"-6.60", false), Some(dec("-6.60")));
        assert_eq!(parse_decimal(b"+12,5", true), Some(dec("12.5")));
        assert_eq!(parse_decimal(b"1 234,56", true), Some(dec("1234.56")));
        assert_eq!(parse_decimal(b"1,234.56", false), Some(dec("1234.56")));
        assert_eq!(parse_decimal(b".5", false), Some(dec("0.5")));
        assert_eq!(parse_decimal(b"12.", false), Some(dec("12")));
        assert_eq!(parse_decimal(b"  -0.00001 ", false), Some(dec("-0.00001")));
        assert_eq!(parse_decimal(b"", false), None);
        assert_eq!(parse_decimal(b"-", false), None);
        assert_eq!(parse_decimal(b"12a", false), None);
        assert_eq!(parse_decimal(b"1.2.3", false), None);
        assert_eq!(parse_decimal(b"99999999999999999999999999999999999999999", false), None);
    }

    #[test]
    fn dates_in_the_compact_forms() {
        assert_eq!(parse_yyyymmdd(b"20090523122017.000[-5:EST]"), NaiveDate::from_ymd_opt(2009, 5, 23));
        assert_eq!(parse_yyyymmdd(b"20090230"), None);
        assert_eq!(parse_yymmdd(b"110524"), NaiveDate::from_ymd_opt(2011, 5, 24));
        assert_eq!(parse_yymmdd(b"991231"), NaiveDate::from_ymd_opt(1999, 12, 31));
        assert_eq!(parse_iso_date(b"2014-12-31T23:59:59+01:00"), NaiveDate::from_ymd_opt(2014, 12, 31));
        assert_eq!(parse_iso_date(b"2014/12/31"), None);
    }

    #[test]
    fn charsets_fall_back_when_the_label_is_wrong() {
        assert_eq!(Charset::from_label("1252"), Charset::Windows1252);
        assert_eq!(Charset::from_label("UTF-8"), Charset::Utf8);
        let cp1252 = b"Caf\xe9 \x80";
        assert_eq!(Charset::Utf8.decode(cp1252), Decoded { text: "Café €".into(), mislabelled: true });
        assert_eq!(Charset::Windows1252.decode(cp1252), Decoded { text: "Café €".into(), mislabelled: false });
        assert_eq!(Charset::Windows1252.decode("Café".as_bytes()).text, "Café");
    }
}
