//! Profiles for bank exports whose layout is known. Detection picks one when a file's header is
//! exactly its header, which gets the bank's own choices (which of two dates books, which text is
//! the memo) right where names alone would guess. Headerless presets are only offered for choice.

use super::value::DateFormat;
use super::{AmountColumns, Columns, CsvCharset, CsvProfile};
use std::sync::OnceLock;

fn columns(booking_date: usize, amount: AmountColumns, description: Vec<usize>) -> Columns {
    Columns {
        booking_date,
        value_date: None,
        amount,
        description,
        counterparty: None,
        counterparty_account: None,
        currency: None,
        reference: None,
        code: None,
        balance: None,
        status: None,
        account: None,
        direction: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn profile(
    name: &str,
    delimiter: char,
    charset: CsvCharset,
    decimal_comma: bool,
    date_format: DateFormat,
    header: &[&str],
    columns: Columns,
) -> CsvProfile {
    CsvProfile {
        name: name.into(),
        delimiter,
        quote: Some('"'),
        charset,
        decimal_comma,
        date_format,
        preamble_rows: 0,
        has_header: !header.is_empty(),
        header: header.iter().map(|h| (*h).to_owned()).collect(),
        columns,
        currency: None,
    }
}

fn signed(column: usize) -> AmountColumns {
    AmountColumns::Signed { column }
}

/// The presets, for the app to list and for detection to match.
pub fn presets() -> &'static [CsvProfile] {
    static PRESETS: OnceLock<Vec<CsvProfile>> = OnceLock::new();
    PRESETS.get_or_init(build)
}

fn build() -> Vec<CsvProfile> {
    use CsvCharset::{Utf8, Windows1252};
    vec![
        profile(
            "ING-DiBa Austria",
            ';',
            Windows1252,
            true,
            DateFormat::DmyDot,
            &["Kontonummer", "Text", "Datum", "Währung", "Soll", "Haben"],
            Columns {
                account: Some(0),
                currency: Some(3),
                ..columns(2, AmountColumns::DebitCredit { debit: 4, credit: 5 }, vec![1])
            },
        ),
        profile(
            "easybank",
            ';',
            Windows1252,
            true,
            DateFormat::DmyDot,
            &[],
            Columns { account: Some(0), value_date: Some(3), currency: Some(5), ..columns(2, signed(4), vec![1]) },
        ),
        profile(
            "livebank",
            ';',
            Windows1252,
            true,
            DateFormat::YmdDash,
            &[
                "Kontonummer",
                "Auszugsnummer",
                "Buchungsdatum",
                "Valutadatum",
                "Umsatzzeit",
                "Zahlungsreferenz",
                "Waehrung",
                "Betrag",
                "Buchungstext",
                "Umsatztext",
            ],
            Columns {
                account: Some(0),
                value_date: Some(3),
                reference: Some(5),
                currency: Some(6),
                ..columns(2, signed(7), vec![8])
            },
        ),
        profile(
            "Oberbank",
            ';',
            Windows1252,
            true,
            DateFormat::DmyDot,
            &[
                "Buchungsdatum",
                "Wertstellung",
                "Betrag",
                "Währung",
                "Auftraggebername",
                "Auftraggeber IBAN/Kto.Nr.",
                "Auftraggeber BIC/BLZ",
                "Empfängername",
                "Empfänger IBAN/Kto.Nr.",
                "Empfänger BIC/BLZ",
                "Text",
                "Verwendungszweck",
            ],
            Columns { value_date: Some(1), currency: Some(3), ..columns(0, signed(2), vec![10]) },
        ),
        profile(
            "Raiffeisen ELBA",
            ';',
            Windows1252,
            true,
            DateFormat::DmyDot,
            &[],
            Columns { value_date: Some(2), currency: Some(4), ..columns(0, signed(3), vec![1]) },
        ),
        profile(
            "Revolut",
            ',',
            Utf8,
            false,
            DateFormat::YmdDash,
            &[
                "Type",
                "Product",
                "Started Date",
                "Completed Date",
                "Description",
                "Amount",
                "Fee",
                "Currency",
                "State",
                "Balance",
            ],
            Columns {
                value_date: Some(2),
                counterparty: Some(4),
                currency: Some(7),
                status: Some(8),
                balance: Some(9),
                code: Some(0),
                ..columns(3, signed(5), vec![4])
            },
        ),
        profile(
            "Chase checking",
            ',',
            Utf8,
            false,
            DateFormat::MdySlash,
            &["Details", "Posting Date", "Description", "Amount", "Type", "Balance", "Check or Slip #"],
            Columns { code: Some(4), balance: Some(5), ..columns(1, signed(3), vec![2]) },
        ),
        profile(
            "UTrade (beangulp example)",
            ',',
            Utf8,
            false,
            DateFormat::YmdDash,
            &["DATE", "TYPE", "REF #", "DESCRIPTION", "FEES", "AMOUNT", "BALANCE"],
            Columns { code: Some(1), reference: Some(2), balance: Some(6), ..columns(0, signed(5), vec![3]) },
        ),
    ]
}
