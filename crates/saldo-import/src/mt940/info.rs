//! The :86: information to the account owner. Banks fill it in one of three ways: German
//! `?`-subfields behind a three-digit business transaction code (GVC), `/KEYWORD/` fields
//! (Dutch banks after SEPA), or free text. Each yields one readable description plus the
//! counterparty when the form names it.

use super::fields::{decode, find};
use crate::text::trim;

/// Buffers reused from one :86: to the next, so interpreting one costs only the strings kept.
#[derive(Default)]
pub(super) struct Scratch {
    glued: Vec<u8>,
    purpose: Vec<u8>,
    name: Vec<u8>,
    out: Vec<u8>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Info {
    pub description: String,
    pub counterparty: Option<String>,
    pub counterparty_account: Option<String>,
}

/// SWIFT lines hold 65 characters; a full line was wrapped mid-word, a shorter one ended a word.
const SWIFT_LINE: usize = 65;
/// German purpose and name subfields hold 27 characters, with the same wrapping habit.
const SUBFIELD: usize = 27;

/// `raw` is the tag's content, lines separated by `\n` and stripped of trailing blanks.
pub(super) fn interpret(raw: &[u8], s: &mut Scratch) -> Info {
    let raw = trim(raw);
    if raw.len() >= 4 && raw[..3].iter().all(u8::is_ascii_digit) && matches!(raw[3], b'?' | b'>') {
        subfields(raw, raw[3], s)
    } else if keyword_at(raw, 0).is_some() {
        keywords(raw, s)
    } else {
        // GVC 999 announces unstructured text after it.
        let raw = raw.strip_prefix(b"999").unwrap_or(raw);
        s.glued.clear();
        let mut previous_full = false;
        for (i, line) in raw.split(|&b| b == b'\n').enumerate() {
            if i > 0 && !previous_full {
                s.glued.push(b' ');
            }
            s.glued.extend_from_slice(line);
            previous_full = line.len() >= SWIFT_LINE;
        }
        Info { description: readable(&s.glued, &mut s.out), ..Info::default() }
    }
}

/// German structured form: `GVC?00posting text?10primanota?20purpose…?30bank?31account?32name…`.
/// Triodos writes `>` for `?`.
fn subfields(raw: &[u8], separator: u8, s: &mut Scratch) -> Info {
    let Scratch { glued, purpose, name, out } = s;
    glued.clear();
    glue(raw, glued);
    purpose.clear();
    name.clear();
    let mut posting: &[u8] = &[];
    let mut account: &[u8] = &[];
    let mut iban: &[u8] = &[];
    let (mut last_purpose, mut last_name) = (0, 0);
    let g: &[u8] = glued;
    let mut at = 3;
    while at < g.len() {
        // g[at] is the separator of a field; its value runs to the next separator + 2 digits.
        let key = g.get(at + 1..at + 3).filter(|k| k.iter().all(u8::is_ascii_digit));
        let start = at + 3;
        let mut end = start;
        loop {
            match g.get(end..).and_then(|rest| rest.iter().position(|&b| b == separator)) {
                Some(k) if is_marker(g, end + k, separator) => {
                    end += k;
                    break;
                }
                Some(k) => end += k + 1,
                None => {
                    end = g.len();
                    break;
                }
            }
        }
        let value = g.get(start.min(end)..end).unwrap_or_default();
        match key {
            Some(b"00") => posting = value,
            Some([b'2', _]) | Some([b'6', b'0'..=b'3']) => {
                if !purpose.is_empty() && last_purpose < SUBFIELD {
                    purpose.push(b' ');
                }
                purpose.extend_from_slice(value);
                last_purpose = value.len();
            }
            Some(b"31") => account = value,
            Some(b"38") => iban = value,
            Some(b"32") | Some(b"33") => {
                if !name.is_empty() && last_name < SUBFIELD {
                    name.push(b' ');
                }
                name.extend_from_slice(value);
                last_name = value.len();
            }
            _ => {}
        }
        at = end;
    }
    let text = sepa_purpose(purpose);
    let mut description = readable(text, out);
    if description.is_empty() {
        description = readable(posting, out);
    }
    let counterparty_account = if trim(iban).is_empty() { trim(account) } else { trim(iban) };
    Info {
        description,
        counterparty: some(readable(name, out)),
        counterparty_account: some(decode(counterparty_account)),
    }
}

fn is_marker(g: &[u8], at: usize, separator: u8) -> bool {
    g[at] == separator && g.get(at + 1..at + 3).is_some_and(|k| k.iter().all(u8::is_ascii_digit))
}

/// SEPA purposes carry `EREF+`, `MREF+`, `CRED+`… before the remittance text `SVWZ+`: that text
/// is the description when it is there.
fn sepa_purpose(purpose: &[u8]) -> &[u8] {
    let Some(at) = find(purpose, b"SVWZ+") else { return purpose };
    let text = &purpose[at + 5..];
    let end = [&b"ABWA+"[..], b"ABWE+"].iter().filter_map(|k| find(text, k)).min().unwrap_or(text.len());
    &text[..end]
}

const KEYWORDS: &[&[u8]] = &[
    b"EREF", b"MREF", b"CRED", b"REMI", b"NAME", b"IBAN", b"BIC", b"TRTP", b"CSID", b"MARF", b"ORDP", b"BENM", b"CNTP",
    b"ISDT", b"RTRN", b"PREF", b"ULTC", b"ULTD", b"ULTB", b"PURP", b"SVCL", b"ADDR", b"ID", b"CHGS", b"EXCH", b"OCMT",
    b"IREF", b"BUSP", b"KREF", b"INFO", b"FX", b"ACCW", b"TRCD", b"CODE",
];

/// The keyword of a `/KEY/` field starting at `at`, and where its value starts.
fn keyword_at(g: &[u8], at: usize) -> Option<(&[u8], usize)> {
    if g.get(at) != Some(&b'/') {
        return None;
    }
    let rest = g.get(at + 1..)?;
    let end = rest.iter().take(6).position(|&b| b == b'/')?;
    let key = &rest[..end];
    KEYWORDS.contains(&key).then_some((key, at + 1 + end + 1))
}

/// `/EREF/…/IBAN/…/NAME/…/REMI/…` (ABN AMRO, Rabobank) and `/CNTP/iban/bic/name/city/` (ING).
fn keywords(raw: &[u8], s: &mut Scratch) -> Info {
    let Scratch { glued, out, .. } = s;
    glued.clear();
    glue(raw, glued);
    let g: &[u8] = glued;
    let mut remi: Option<&[u8]> = None;
    let mut name: Option<&[u8]> = None;
    let mut iban: Option<&[u8]> = None;
    let mut field = keyword_at(g, 0);
    while let Some((key, start)) = field {
        let mut end = start;
        field = None;
        while end < g.len() {
            if let Some(next) = keyword_at(g, end) {
                field = Some(next);
                break;
            }
            end += 1;
        }
        let value = g.get(start.min(end)..end).unwrap_or_default();
        let value = value.strip_suffix(b"/").unwrap_or(value);
        match key {
            b"REMI" => {
                let text = value.strip_prefix(b"USTD/").or_else(|| value.strip_prefix(b"STRD/CUR/")).unwrap_or(value);
                remi = remi.or(Some(text.strip_prefix(b"/").unwrap_or(text)));
            }
            b"NAME" => name = name.or(Some(value).filter(|v| !trim(v).is_empty())),
            b"IBAN" => iban = iban.or(Some(value).filter(|v| !trim(v).is_empty())),
            b"CNTP" => {
                let mut parts = value.split(|&b| b == b'/');
                let account = parts.next().filter(|v| !trim(v).is_empty());
                let cntp_name = parts.nth(1).filter(|v| !trim(v).is_empty());
                iban = iban.or(account);
                name = name.or(cntp_name);
            }
            _ => {}
        }
    }
    let description = readable(remi.unwrap_or(g), out);
    Info {
        description,
        counterparty: name.map(|n| readable(n, out)).and_then(some),
        counterparty_account: iban.map(|i| decode(trim(i))).and_then(some),
    }
}

/// Free text as one readable line (the :61: supplementary details when there is no :86:).
pub(super) fn plain(bytes: &[u8], s: &mut Scratch) -> String {
    readable(bytes, &mut s.out)
}

/// The lines of a field without their breaks (copied a line at a time, not byte by byte).
fn glue(raw: &[u8], into: &mut Vec<u8>) {
    for part in raw.split(|&b| b == b'\n') {
        into.extend_from_slice(part);
    }
}

fn some(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// One line of text: control characters and runs of blanks become one space; ends trimmed.
fn readable(bytes: &[u8], out: &mut Vec<u8>) -> String {
    out.clear();
    let control = bytes.iter().fold(false, |found, &b| found | (b < b' ') | (b == 0x7f));
    let double = bytes
        .iter()
        .zip(bytes.get(1..).unwrap_or_default())
        .fold(false, |found, (&a, &b)| found | ((a == b' ') & (b == b' ')));
    if !control && !double && bytes.first() != Some(&b' ') && bytes.last() != Some(&b' ') {
        // Already one readable line: the common case, taken whole.
        return decode(bytes);
    }
    for word in bytes.split(|&b| b <= b' ' || b == 0x7f).filter(|word| !word.is_empty()) {
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
    decode(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(raw: &[u8]) -> Info {
        interpret(raw, &mut Scratch::default())
    }

    #[test]
    fn german_subfields_give_purpose_name_and_account() {
        let i = info(b"166?00GUTSCHRIFT?100399?20EREF+EndToEndIdTFNR20004000?2101?22SVWZ\n+TO 13 TFNr 20004 Einga?23ngskanal?30PBNKDEFF100?31DE42100100100043921105?32Ri\nchter Renate 70 Zeichen B?33eginn");
        assert_eq!(i.description, "TO 13 TFNr 20004 Eingangskanal");
        assert_eq!(i.counterparty.as_deref(), Some("Richter Renate 70 Zeichen Beginn"));
        assert_eq!(i.counterparty_account.as_deref(), Some("DE42100100100043921105"));
        let i = info(b"008?00DAUERAUFTRAG?100599?20Miete November?3010020030?31234567?32MUELLER?34339");
        assert_eq!(i.description, "Miete November");
        assert_eq!(i.counterparty.as_deref(), Some("MUELLER"));
        // A separator wrapped onto the next line, and an empty purpose falling back to ?00.
        let i = info(b"020?00Wyplata?2115617?\n22INFO");
        assert_eq!(i.description, "15617 INFO");
        assert_eq!(info(b"805?00ENTGELTABSCHLUSS?106666").description, "ENTGELTABSCHLUSS");
    }

    #[test]
    fn triodos_writes_angle_brackets_for_question_marks() {
        let i = info(b"000>100987654321\n>20ALGEMENE TUSSENREKENING KOS>21TEN VAN 01-10-2010 TOT EN M\n>22ET 31-12-2010>310390123456");
        assert_eq!(i.description, "ALGEMENE TUSSENREKENING KOSTEN VAN 01-10-2010 TOT EN MET 31-12-2010");
        assert_eq!(i.counterparty_account.as_deref(), Some("0390123456"));
    }

    #[test]
    fn keyword_fields_of_dutch_banks() {
        let i = info(b"/TRTP/SEPA OVERBOEKING/IBAN/NL46ABNA0499998748/BIC/ABNANL2A/NAME/\nJ. JANSEN/REMI/Factuur 2014/001 dank/EREF/NOTPROVIDED");
        assert_eq!(i.description, "Factuur 2014/001 dank");
        assert_eq!(i.counterparty.as_deref(), Some("J. JANSEN"));
        assert_eq!(i.counterparty_account.as_deref(), Some("NL46ABNA0499998748"));
        let i = info(b"/EREF/123//CNTP/NL12INGB0001234567/INGBNL2A/Shop B.V./AMSTERDAM//REMI/USTD//Order 42/");
        assert_eq!(i.description, "Order 42");
        assert_eq!(i.counterparty.as_deref(), Some("Shop B.V."));
        assert_eq!(i.counterparty_account.as_deref(), Some("NL12INGB0001234567"));
    }

    #[test]
    fn free_text_joins_wrapped_lines() {
        // A full 65-character line was cut mid-word; a shorter one ended a word.
        let full = b"GIRO AUS ONLINE-SIC 80701 AUFTRAGGEBER: XXXXXXXXX XXX XXXXXXXXSTR";
        let mut raw = b"X".to_vec();
        raw.extend_from_slice(&full[1..]);
        raw.extend_from_slice(b"\nASSE 1\nNEXT\tWORD");
        assert_eq!(
            info(&raw).description,
            "XIRO AUS ONLINE-SIC 80701 AUFTRAGGEBER: XXXXXXXXX XXX XXXXXXXXSTRASSE 1 NEXT WORD"
        );
        assert_eq!(info(b"999PN5477SCHECK-NR. 0000016703074").description, "PN5477SCHECK-NR. 0000016703074");
        assert_eq!(info(b"BEA   NR:XXX1234   21.05.11").description, "BEA NR:XXX1234 21.05.11");
    }
}
