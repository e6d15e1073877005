//! The European Central Bank's euro foreign exchange reference rates, in the files the ECB publishes:
//! `eurofxref-hist.csv` (ISO dates, a trailing comma, `N/A` for no rate), the daily `eurofxref.csv`
//! ("20 November 2026", spaces after commas) and the `eurofxref-daily.xml`, `-hist-90d.xml` and
//! `-hist.xml` envelopes (`<Cube time><Cube currency rate/></Cube>`).

use crate::Problem;
use chrono::NaiveDate;
use quick_xml::events::Event;
use rust_decimal::Decimal;
use saldo_core::fx::FxRate;
use saldo_core::money::Currency;

/// The rates read from one file and what was skipped.
#[derive(Debug, Default)]
pub struct EcbRates {
    pub rates: Vec<FxRate>,
    pub problems: Vec<Problem>,
}

/// Why a file is not an ECB reference-rate file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcbError {
    #[error(
        "not an ECB reference-rate file: expected a CSV starting with a \"Date\" header or an XML gesmes envelope"
    )]
    UnknownFormat,
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
    #[error("byte {offset}: {message}")]
    Xml { offset: u64, message: String },
}

/// Parses an ECB rate file in any of its published forms.
pub fn parse_ecb_rates(bytes: &[u8]) -> Result<EcbRates, EcbError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => parse_xml(bytes),
        Some(b'D') | Some(b'd') => parse_csv(bytes),
        _ => Err(EcbError::UnknownFormat),
    }
}

fn parse_csv(bytes: &[u8]) -> Result<EcbRates, EcbError> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(bytes);
    let mut out = EcbRates::default();
    let mut columns: Vec<Option<Currency>> = Vec::new();
    for (index, record) in reader.byte_records().enumerate() {
        let line = index as u64 + 1;
        let record = record.map_err(|err| EcbError::Csv { line, message: err.to_string() })?;
        let fields: Vec<&str> = record.iter().map(|f| std::str::from_utf8(f).unwrap_or("\u{FFFD}")).collect();
        if index == 0 {
            if !fields.first().is_some_and(|f| f.eq_ignore_ascii_case("date")) {
                return Err(EcbError::UnknownFormat);
            }
            for code in &fields[1..] {
                if code.is_empty() {
                    columns.push(None);
                    continue;
                }
                match Currency::parse(code) {
                    Ok(currency) => columns.push(Some(currency)),
                    Err(err) => {
                        out.problems.push(Problem {
                            at: crate::Position { line: Some(line), offset: None },
                            message: format!("{err}; its column is skipped"),
                        });
                        columns.push(None);
                    }
                }
            }
            continue;
        }
        if fields.iter().all(|f| f.is_empty()) {
            continue;
        }
        let date = parse_csv_date(fields[0]).ok_or_else(|| EcbError::Csv {
            line,
            message: format!("invalid date {:?}: expected YYYY-MM-DD or \"20 November 2026\"", fields[0]),
        })?;
        for (position, field) in fields.iter().enumerate().skip(1) {
            let Some(Some(currency)) = columns.get(position - 1) else {
                if !field.is_empty() && columns.get(position - 1).is_none() {
                    out.problems.push(Problem {
                        at: crate::Position { line: Some(line), offset: None },
                        message: format!("value {field:?} in column {} has no currency header; skipped", position + 1),
                    });
                }
                continue;
            };
            if field.is_empty() || field.eq_ignore_ascii_case("N/A") {
                continue;
            }
            match parse_rate(field) {
                Some(per_eur) => out.rates.push(FxRate { date, currency: *currency, per_eur }),
                None => out.problems.push(Problem {
                    at: crate::Position { line: Some(line), offset: None },
                    message: format!(
                        "invalid {currency} rate {field:?} on {date}: expected a positive decimal; skipped"
                    ),
                }),
            }
        }
    }
    if columns.is_empty() {
        return Err(EcbError::UnknownFormat);
    }
    Ok(out)
}

fn parse_csv_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(text, "%d %B %Y")).ok()
}

fn parse_rate(text: &str) -> Option<Decimal> {
    Decimal::from_str_exact(text.trim()).ok().filter(|r| *r > Decimal::ZERO)
}

fn parse_xml(bytes: &[u8]) -> Result<EcbRates, EcbError> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut out = EcbRates::default();
    let mut day: Option<NaiveDate> = None;
    let mut saw_envelope = false;
    let mut buf = Vec::new();
    loop {
        let offset = reader.buffer_position();
        let xml_err = |message: String| EcbError::Xml { offset, message };
        let event = reader.read_event_into(&mut buf).map_err(|err| xml_err(err.to_string()))?;
        match event {
            Event::Start(ref element) | Event::Empty(ref element) => {
                let name = element.local_name();
                if name.as_ref() == b"Envelope" {
                    saw_envelope = true;
                }
                if name.as_ref() != b"Cube" {
                    buf.clear();
                    continue;
                }
                let mut time = None;
                let mut currency = None;
                let mut rate = None;
                for attribute in element.attributes() {
                    let attribute = attribute.map_err(|err| xml_err(err.to_string()))?;
                    let value = attribute.unescape_value().map_err(|err| xml_err(err.to_string()))?.into_owned();
                    match attribute.key.local_name().as_ref() {
                        b"time" => time = Some(value),
                        b"currency" => currency = Some(value),
                        b"rate" => rate = Some(value),
                        _ => {}
                    }
                }
                if let Some(time) = time {
                    day = Some(
                        NaiveDate::parse_from_str(&time, "%Y-%m-%d")
                            .map_err(|_| xml_err(format!("invalid Cube time {time:?}: expected YYYY-MM-DD")))?,
                    );
                }
                if let (Some(code), Some(rate_text)) = (currency, rate) {
                    let date = day.ok_or_else(|| xml_err(format!("rate for {code} outside a <Cube time=…>")))?;
                    let problem =
                        |message: String| Problem { at: crate::Position { line: None, offset: Some(offset) }, message };
                    match (Currency::parse(&code), parse_rate(&rate_text)) {
                        (Ok(currency), Some(per_eur)) => out.rates.push(FxRate { date, currency, per_eur }),
                        (Err(err), _) => out.problems.push(problem(format!("{err}; skipped"))),
                        (Ok(_), None) => out.problems.push(problem(format!(
                            "invalid {code} rate {rate_text:?} on {date}: expected a positive decimal; skipped"
                        ))),
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_envelope {
        return Err(EcbError::UnknownFormat);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const HIST_CSV: &str =
        "Date,USD,JPY,CYP,SEK,\n2026-11-20,1.0512,162.31,N/A,11.0435,\n2026-11-19,1.0498,161.90,N/A,11.0920,\n";
    const DAILY_CSV: &str = "Date, USD, JPY, SEK, \n20 November 2026, 1.0512, 162.31, 11.0435, \n";
    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <Cube>
    <Cube time='2026-11-20'>
      <Cube currency='USD' rate='1.0512'/>
      <Cube currency='SEK' rate='11.0435'/>
    </Cube>
    <Cube time="2026-11-19"><Cube currency="USD" rate="1.0498"/></Cube>
  </Cube>
</gesmes:Envelope>"#;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::from_str(text).unwrap()
    }

    fn rate(rates: &EcbRates, code: &str, date: &str) -> Option<String> {
        rates.rates.iter().find(|r| r.currency.code() == code && r.date == d(date)).map(|r| r.per_eur.to_string())
    }

    #[test]
    fn history_csv_skips_na_and_retired_currencies() {
        let rates = parse_ecb_rates(HIST_CSV.as_bytes()).unwrap();
        assert_eq!(rates.rates.len(), 6);
        assert_eq!(rate(&rates, "SEK", "2026-11-19").as_deref(), Some("11.0920"));
        assert_eq!(rates.problems.len(), 1, "{:?}", rates.problems);
        assert!(rates.problems[0].message.contains("CYP"));
    }

    #[test]
    fn daily_csv_with_long_dates() {
        let rates = parse_ecb_rates(DAILY_CSV.as_bytes()).unwrap();
        assert_eq!(rates.rates.len(), 3);
        assert_eq!(rate(&rates, "JPY", "2026-11-20").as_deref(), Some("162.31"));
        assert!(rates.problems.is_empty());
    }

    #[test]
    fn xml_envelope() {
        let rates = parse_ecb_rates(XML.as_bytes()).unwrap();
        assert_eq!(rates.rates.len(), 3);
        assert_eq!(rate(&rates, "USD", "2026-11-19").as_deref(), Some("1.0498"));
    }

    #[test]
    fn bad_input_names_the_place() {
        let err = parse_ecb_rates(b"Date,USD,\n2026-13-01,1.05,\n").unwrap_err();
        assert_eq!(
            err,
            EcbError::Csv {
                line: 2,
                message: "invalid date \"2026-13-01\": expected YYYY-MM-DD or \"20 November 2026\"".into()
            }
        );
        let bad_rate = parse_ecb_rates(b"Date,USD,\n2026-01-02,1.0x5,\n").unwrap();
        assert!(bad_rate.rates.is_empty());
        assert_eq!(bad_rate.problems[0].at.line, Some(2));
        assert!(matches!(parse_ecb_rates(b"hello"), Err(EcbError::UnknownFormat)));
        assert!(matches!(parse_ecb_rates(b"<html></html>"), Err(EcbError::UnknownFormat)));
        assert!(matches!(
            parse_ecb_rates(b"<gesmes:Envelope><Cube time='x'/></gesmes:Envelope>"),
            Err(EcbError::Xml { .. })
        ));
        assert!(matches!(parse_ecb_rates(b"<gesmes:Envelope><Cube></Cub>"), Err(EcbError::Xml { .. })));
        assert!(matches!(parse_ecb_rates(b""), Err(EcbError::UnknownFormat)));
    }
}
