//! Dates and amounts as bank CSV exports write them. Both parse straight from the field's bytes, so
//! a row costs no allocation before it is known to be good.

use crate::text::{number, parse_decimal, parse_yyyymmdd, trim};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How a file writes its dates, named by the chrono pattern people know. Day and month may have one
/// digit (`3/8/2016`), years with the day or month first may have two (`01.02.24`), and anything
/// after a space or `T` (a time) is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DateFormat {
    #[serde(rename = "%Y-%m-%d")]
    YmdDash,
    #[serde(rename = "%Y/%m/%d")]
    YmdSlash,
    #[serde(rename = "%Y.%m.%d")]
    YmdDot,
    #[serde(rename = "%Y%m%d")]
    YmdCompact,
    #[serde(rename = "%d.%m.%Y")]
    DmyDot,
    #[serde(rename = "%d/%m/%Y")]
    DmySlash,
    #[serde(rename = "%d-%m-%Y")]
    DmyDash,
    #[serde(rename = "%m/%d/%Y")]
    MdySlash,
    #[serde(rename = "%m-%d-%Y")]
    MdyDash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Ymd,
    Dmy,
    Mdy,
}

impl DateFormat {
    pub const ALL: [DateFormat; 9] = [
        DateFormat::YmdDash,
        DateFormat::YmdSlash,
        DateFormat::YmdDot,
        DateFormat::YmdCompact,
        DateFormat::DmyDot,
        DateFormat::DmySlash,
        DateFormat::DmyDash,
        DateFormat::MdySlash,
        DateFormat::MdyDash,
    ];

    pub fn pattern(self) -> &'static str {
        match self {
            DateFormat::YmdDash => "%Y-%m-%d",
            DateFormat::YmdSlash => "%Y/%m/%d",
            DateFormat::YmdDot => "%Y.%m.%d",
            DateFormat::YmdCompact => "%Y%m%d",
            DateFormat::DmyDot => "%d.%m.%Y",
            DateFormat::DmySlash => "%d/%m/%Y",
            DateFormat::DmyDash => "%d-%m-%Y",
            DateFormat::MdySlash => "%m/%d/%Y",
            DateFormat::MdyDash => "%m-%d-%Y",
        }
    }

    /// A human form of the pattern, for messages.
    pub fn example(self) -> &'static str {
        match self {
            DateFormat::YmdDash => "YYYY-MM-DD",
            DateFormat::YmdSlash => "YYYY/MM/DD",
            DateFormat::YmdDot => "YYYY.MM.DD",
            DateFormat::YmdCompact => "YYYYMMDD",
            DateFormat::DmyDot => "DD.MM.YYYY",
            DateFormat::DmySlash => "DD/MM/YYYY",
            DateFormat::DmyDash => "DD-MM-YYYY",
            DateFormat::MdySlash => "MM/DD/YYYY",
            DateFormat::MdyDash => "MM-DD-YYYY",
        }
    }

    fn layout(self) -> (Order, u8) {
        match self {
            DateFormat::YmdDash => (Order::Ymd, b'-'),
            DateFormat::YmdSlash => (Order::Ymd, b'/'),
            DateFormat::YmdDot => (Order::Ymd, b'.'),
            DateFormat::YmdCompact => (Order::Ymd, 0),
            DateFormat::DmyDot => (Order::Dmy, b'.'),
            DateFormat::DmySlash => (Order::Dmy, b'/'),
            DateFormat::DmyDash => (Order::Dmy, b'-'),
            DateFormat::MdySlash => (Order::Mdy, b'/'),
            DateFormat::MdyDash => (Order::Mdy, b'-'),
        }
    }

    /// The format that reads the same digits with day and month swapped, if there is one: what a
    /// sample whose days are all ≤ 12 cannot tell apart.
    pub fn swapped(self) -> Option<DateFormat> {
        match self {
            DateFormat::DmySlash => Some(DateFormat::MdySlash),
            DateFormat::MdySlash => Some(DateFormat::DmySlash),
            DateFormat::DmyDash => Some(DateFormat::MdyDash),
            DateFormat::MdyDash => Some(DateFormat::DmyDash),
            _ => None,
        }
    }

    pub fn day_first(self) -> bool {
        self.layout().0 == Order::Dmy
    }

    pub fn parse(self, bytes: &[u8]) -> Option<NaiveDate> {
        let bytes = trim(bytes);
        let end = bytes.iter().position(|&b| b == b' ' || b == b'T').unwrap_or(bytes.len());
        let token = &bytes[..end];
        let (order, separator) = self.layout();
        if separator == 0 {
            return if token.len() == 8 { parse_yyyymmdd(token) } else { None };
        }
        if let Some(date) = fixed_width(token, order, separator) {
            return Some(date);
        }
        let mut parts = token.split(|&b| b == separator);
        let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let (year, month, day) = match order {
            Order::Ymd => (a, b, c),
            Order::Dmy => (c, b, a),
            Order::Mdy => (c, a, b),
        };
        if month.is_empty() || month.len() > 2 || day.is_empty() || day.len() > 2 {
            return None;
        }
        let year = match year.len() {
            4 => i32::try_from(number(year)?).ok()?,
            2 if order != Order::Ymd => {
                let yy = i32::try_from(number(year)?).ok()?;
                if yy < 80 {
                    2000 + yy
                } else {
                    1900 + yy
                }
            }
            _ => return None,
        };
        NaiveDate::from_ymd_opt(year, number(month)?, number(day)?)
    }
}

/// The common fixed-width form (`2024-03-18`, `18.03.2024`) read straight from its positions;
/// `None` sends anything else (and invalid dates) through the general path, which agrees on these.
fn fixed_width(token: &[u8], order: Order, separator: u8) -> Option<NaiveDate> {
    if token.len() != 10 {
        return None;
    }
    let (year, first, second) = match order {
        Order::Ymd if token[4] == separator && token[7] == separator => (&token[..4], &token[5..7], &token[8..]),
        Order::Dmy | Order::Mdy if token[2] == separator && token[5] == separator => {
            (&token[6..], &token[..2], &token[3..5])
        }
        _ => return None,
    };
    let year = i32::try_from(number(year)?).ok()?;
    let (first, second) = (number(first)?, number(second)?);
    let (month, day) = match order {
        Order::Ymd | Order::Mdy => (first, second),
        Order::Dmy => (second, first),
    };
    NaiveDate::from_ymd_opt(year, month, day)
}

/// A plain amount (`-123.45`, `1.234,56`, `+7`): a sign, at most 18 digits, thousands separators
/// and one decimal separator, nothing else. What [`parse_decimal`] makes of these, without its
/// wider integer; `None` for anything else, which then takes the general path.
fn parse_plain(s: &[u8], decimal_comma: bool) -> Option<Decimal> {
    let (negative, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let separator = if decimal_comma { b',' } else { b'.' };
    let mut mantissa: i64 = 0;
    let mut count = 0usize;
    let mut scale: u32 = 0;
    let mut in_fraction = false;
    for &b in digits {
        if b.is_ascii_digit() {
            mantissa = mantissa * 10 + i64::from(b - b'0');
            count += 1;
            if count > 18 {
                return None;
            }
            scale += u32::from(in_fraction);
        } else if b == separator && !in_fraction {
            in_fraction = true;
        } else if in_fraction || !matches!(b, b'.' | b',' | b'\'') {
            return None;
        }
    }
    if count == 0 {
        return None;
    }
    Some(Decimal::new(if negative { -mantissa } else { mantissa }, scale))
}

const UNICODE_MINUS: &[u8] = "\u{2212}".as_bytes();

/// An exact amount as banks write it: `-1.234,56`, `€ 1.234,56`, `-12.00 USD`, `(12.00)`,
/// `12,00-`, `12,00 S` (Soll), `5.00 DR`, with the currency symbol or code before or after. Plain
/// numbers take the fast path through [`parse_decimal`]; the rest strip what surrounds the number,
/// but never more than a currency's worth of letters, so that text with a number in it is not an
/// amount.
pub fn parse_amount(raw: &[u8], decimal_comma: bool) -> Option<Decimal> {
    let s = trim(raw);
    if let Some(value) = parse_plain(s, decimal_comma) {
        return Some(value);
    }
    if let Some(value) = parse_decimal(s, decimal_comma) {
        return Some(value);
    }
    parse_decorated(s, decimal_comma)
}

fn is_symbol(b: u8) -> bool {
    b.is_ascii_alphabetic() || b >= 0x80 || matches!(b, b'$' | b'*')
}

fn parse_decorated(mut s: &[u8], decimal_comma: bool) -> Option<Decimal> {
    let mut negative = false;
    if s.len() >= 2 && s[0] == b'(' && s[s.len() - 1] == b')' {
        negative = true;
        s = trim(&s[1..s.len() - 1]);
    }
    let mut letters = 0usize;
    let mut other = 0usize;
    let mut start = 0;
    let mut after_symbol = false;
    while start < s.len() {
        if s[start..].starts_with(UNICODE_MINUS) {
            negative = true;
            start += UNICODE_MINUS.len();
            continue;
        }
        let b = s[start];
        match b {
            b'0'..=b'9' => break,
            b'-' => negative = true,
            b'+' | b' ' | b'\t' => {}
            b'.' | b',' if !after_symbol => break,
            b'.' | b',' => {}
            _ if is_symbol(b) => {
                after_symbol = true;
                if b.is_ascii_alphabetic() {
                    letters += 1;
                } else {
                    other += 1;
                }
            }
            _ => return None,
        }
        start += 1;
    }
    let mut end = s.len();
    let mut suffix = [0u8; 2];
    let mut suffix_len = 0usize;
    while end > start {
        if s[start..end].ends_with(UNICODE_MINUS) {
            negative = true;
            end -= UNICODE_MINUS.len();
            continue;
        }
        let b = s[end - 1];
        match b {
            b'0'..=b'9' => break,
            b'-' => negative = true,
            b'+' | b' ' | b'\t' => {}
            b'.' | b',' => {
                // "Fr." or "د.إ." end in a dot that belongs to the symbol; "12." does not.
                if !(end >= 2 && is_symbol(s[end - 2])) {
                    break;
                }
            }
            _ if is_symbol(b) => {
                if b.is_ascii_alphabetic() {
                    letters += 1;
                    if suffix_len < 2 {
                        suffix[1 - suffix_len] = b.to_ascii_uppercase();
                    }
                    suffix_len += 1;
                } else {
                    other += 1;
                }
            }
            _ => return None,
        }
        end -= 1;
    }
    if letters > 3 || other > 12 || start >= end {
        return None;
    }
    match &suffix[2 - suffix_len.min(2)..] {
        _ if suffix_len > 2 => {}
        b"DR" | b"DB" | b"S" => negative = true,
        _ => {}
    }
    let core = &s[start..end];
    let value = match parse_decimal(core, decimal_comma) {
        Some(value) => value,
        None => {
            // Thousands written with a no-break space (U+00A0, U+202F, U+2009), as French banks do.
            let mut cleaned = Vec::with_capacity(core.len());
            let mut i = 0;
            while i < core.len() {
                if core[i..].starts_with(&[0xc2, 0xa0]) {
                    i += 2;
                } else if core[i..].starts_with(&[0xe2, 0x80, 0xaf]) || core[i..].starts_with(&[0xe2, 0x80, 0x89]) {
                    i += 3;
                } else if core[i] == 0xa0 {
                    i += 1;
                } else {
                    cleaned.push(core[i]);
                    i += 1;
                }
            }
            parse_decimal(&cleaned, decimal_comma)?
        }
    };
    Some(if negative { -value.abs() } else { value })
}

/// Which decimal separator an amount shows, when it shows one: `Some(true)` for a comma. `1,234`
/// tells nothing (a thousands comma, or three decimals).
pub fn decimal_hint(raw: &[u8]) -> Option<bool> {
    let s = trim(raw);
    // Only the number counts: symbols before it ("د.إ.", "Fr.") have dots of their own.
    let s = &s[s.iter().position(u8::is_ascii_digit)?..];
    let i = s.iter().rposition(|&b| b == b'.' || b == b',')?;
    let separator = s[i];
    let other = if separator == b',' { b'.' } else { b',' };
    let digits_after = s[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits_after == 0 || !s[..i].last().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    if s[..i].contains(&other) {
        return Some(separator == b',');
    }
    if s[..i].contains(&separator) {
        // 1.234.567: only thousands separators.
        return (digits_after == 3).then_some(separator == b'.');
    }
    match digits_after {
        3 => None,
        _ => Some(separator == b','),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Option<Decimal> {
        Decimal::from_str(s).ok()
    }

    fn day(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn every_date_format_reads_its_own_layout() {
        let cases: [(DateFormat, &str); 9] = [
            (DateFormat::YmdDash, "2024-03-18"),
            (DateFormat::YmdSlash, "2024/3/18"),
            (DateFormat::YmdDot, "2024.03.18"),
            (DateFormat::YmdCompact, "20240318"),
            (DateFormat::DmyDot, "18.03.2024"),
            (DateFormat::DmySlash, "18/03/2024"),
            (DateFormat::DmyDash, "18-03-2024"),
            (DateFormat::MdySlash, "3/18/2024"),
            (DateFormat::MdyDash, "03-18-2024"),
        ];
        for (format, text) in cases {
            assert_eq!(format.parse(text.as_bytes()), day(2024, 3, 18), "{format:?}");
            for other in DateFormat::ALL.iter().filter(|f| **f != format) {
                assert_eq!(other.parse(text.as_bytes()), None, "{other:?} read {text}");
            }
        }
        assert_eq!(DateFormat::YmdDash.parse(b"2021-09-05 11:32:41"), day(2021, 9, 5));
        assert_eq!(DateFormat::YmdDash.parse(b"2014-12-31T23:59:59"), day(2014, 12, 31));
        assert_eq!(DateFormat::DmyDot.parse(b"01.02.24"), day(2024, 2, 1));
        assert_eq!(DateFormat::YmdDash.parse(b"2013-07-03-08.21.36.47192"), None);
        assert_eq!(DateFormat::DmyDot.parse(b"31.02.2024"), None);
    }

    #[test]
    fn amounts_with_symbols_codes_and_odd_signs() {
        assert_eq!(parse_amount(b"-1.234,56", true), dec("-1234.56"));
        assert_eq!(parse_amount("€ 1.234,56".as_bytes(), true), dec("1234.56"));
        assert_eq!(parse_amount(b"\x80 1.234,56", true), dec("1234.56"));
        assert_eq!(parse_amount(b"-12.00 USD", false), dec("-12.00"));
        assert_eq!(parse_amount(b"USD -12.00", false), dec("-12.00"));
        assert_eq!(parse_amount(b"$1,234.56", false), dec("1234.56"));
        assert_eq!(parse_amount(b"($12.00)", false), dec("-12.00"));
        assert_eq!(parse_amount(b"(12.00)", false), dec("-12.00"));
        assert_eq!(parse_amount(b"12,00-", true), dec("-12.00"));
        assert_eq!(parse_amount(b"12,00 S", true), dec("-12.00"));
        assert_eq!(parse_amount(b"5.00 DR", false), dec("-5.00"));
        assert_eq!(parse_amount(b"5.00 CR", false), dec("5.00"));
        assert_eq!(parse_amount("\u{2212}7,5".as_bytes(), true), dec("-7.5"));
        assert_eq!(parse_amount("1\u{a0}234,56 €".as_bytes(), true), dec("1234.56"));
        assert_eq!(parse_amount("Fr. 12.50".as_bytes(), false), dec("12.50"));
        assert_eq!(parse_amount("د.إ.\u{200f}4.750".as_bytes(), false), dec("4.750"));
        assert_eq!(parse_amount(b"Store 1234", false), None);
        assert_eq!(parse_amount(b"BG/000000001", false), None);
        assert_eq!(parse_amount(b"EUR", false), None);
        assert_eq!(parse_amount(b"", false), None);
        let plain =
            [("-123.45", false), ("-1.234,45", true), ("+7", false), ("12.", false), (".5", false), ("1,2", false)];
        for (text, comma) in plain {
            assert_eq!(parse_plain(text.as_bytes(), comma), parse_decimal(text.as_bytes(), comma), "{text}");
        }
        assert_eq!(parse_plain(b"-", false), None);
        assert_eq!(parse_plain(b"1.2.3", false), None);
        assert_eq!(parse_plain(b"1234567890123456789", false), None);
    }

    #[test]
    fn decimal_hints() {
        assert_eq!(decimal_hint(b"-2,51"), Some(true));
        assert_eq!(decimal_hint(b"15.830,16"), Some(true));
        assert_eq!(decimal_hint(b"1,280.8"), Some(false));
        assert_eq!(decimal_hint(b"4,884"), None);
        assert_eq!(decimal_hint(b"1.234.567"), Some(true));
        assert_eq!(decimal_hint("د.إ.\u{200f}4.750".as_bytes()), None);
        assert_eq!(decimal_hint(b"-55"), None);
    }
}
