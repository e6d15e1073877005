//! Working out a [`CsvProfile`] from a file's first bytes: separator, charset, preamble, header,
//! column roles, decimal mark and date order. Header names decide roles where they are known (in
//! the languages of the banks saldo's users have); the values decide the rest and check the names.

use super::keywords::{Role, KEYWORDS, STEMS};
use super::value::{decimal_hint, parse_amount, DateFormat};
use super::{as_iban, is_currency_code, reader, AmountColumns, Columns, CsvCharset, CsvProfile};
use crate::statement::{Format, ParseError, Position, Problem};
use crate::text::trim;
use ::csv::ByteRecord;

const DELIMITERS: [u8; 4] = [b';', b',', b'\t', b'|'];
/// Records looked at per candidate separator.
const MAX_RECORDS: usize = 300;

/// A header label as compared: lower case, punctuation as spaces, a trailing currency dropped.
pub(super) fn normalize(label: &str) -> String {
    let lower: String =
        label.chars().map(|c| if c.is_alphanumeric() { c.to_lowercase().next().unwrap_or(c) } else { ' ' }).collect();
    let mut words: Vec<&str> = lower.split_whitespace().collect();
    if words.len() > 1 && words.last().is_some_and(|w| ["eur", "usd", "gbp", "chf", "sek", "nok", "dkk"].contains(w)) {
        words.pop();
    }
    words.join(" ")
}

/// Whether a file's header is the one a profile was made for (trailing empty labels aside).
pub(super) fn same_header(labels: &[String], header: &[String]) -> bool {
    let clean = |list: &[String]| {
        let mut out: Vec<String> = list.iter().map(|l| normalize(l)).collect();
        while out.last().is_some_and(String::is_empty) {
            out.pop();
        }
        out
    };
    clean(labels) == clean(header)
}

fn is_value(field: &[u8]) -> bool {
    DateFormat::ALL.iter().any(|f| f.parse(field).is_some())
        || ((parse_amount(field, false).is_some() || parse_amount(field, true).is_some())
            && as_iban(&String::from_utf8_lossy(field)).is_none())
}

/// How many of a record's fields are known header names: tells a header from a title line.
fn known_names(record: &ByteRecord) -> usize {
    record.iter().filter(|f| label_role(&normalize(&String::from_utf8_lossy(f))).is_some()).count()
}

/// A row of labels: no dates or numbers, some words.
fn is_label_row(record: &ByteRecord) -> bool {
    let mut words = 0;
    for field in record {
        let field = trim(field);
        if field.is_empty() {
            continue;
        }
        if is_value(field) {
            return false;
        }
        if field.iter().any(|b| b.is_ascii_alphabetic() || *b >= 0x80) {
            words += 1;
        }
    }
    words > 0
}

/// Where the table starts among records with `counts` fields: the first record with at least two
/// fields, not far fewer than the data rows typically have, that few later records undercut (a bad
/// row or a footer line may). Rows may have more fields than the header (livebank).
fn table_start(counts: &[usize]) -> Option<usize> {
    let n = counts.len();
    let mut tail = counts.get(n / 2..)?.to_vec();
    tail.sort_unstable();
    let typical = *tail.get(tail.len() / 2)?;
    (0..n).find(|&r| {
        let c = counts[r];
        let later = &counts[r + 1..];
        let short = later.iter().filter(|&&x| x < c).count();
        c >= 2 && c * 3 >= typical * 2 && short * 5 <= later.len()
    })
}

fn records(sample: &[u8], delimiter: u8) -> Vec<ByteRecord> {
    let mut csv = reader(sample, delimiter, Some(b'"'));
    let mut out = Vec::new();
    let mut record = ByteRecord::new();
    while out.len() < MAX_RECORDS {
        match csv.read_byte_record(&mut record) {
            Ok(true) if record.iter().all(|f| trim(f).is_empty()) => {}
            Ok(true) => out.push(record.clone()),
            _ => break,
        }
    }
    out
}

/// What the sample's values in one column look like.
#[derive(Debug, Default, Clone)]
struct Stats {
    non_empty: usize,
    dates: [usize; 9],
    amounts: usize,
    money: usize,
    comma: usize,
    point: usize,
    currency: usize,
    account_like: usize,
    varies: bool,
    first: Option<Vec<u8>>,
    length: usize,
    wordy: usize,
    /// Debit/credit marks (`D`, `Af`, `Haben`…), and of them the debits.
    directions: usize,
    debits: usize,
    /// Values written negative (`-12.35`, `(12.35)`).
    negatives: usize,
}

impl Stats {
    fn see(&mut self, field: &[u8]) {
        let field = trim(field);
        if field.is_empty() {
            return;
        }
        self.non_empty += 1;
        for (count, format) in self.dates.iter_mut().zip(DateFormat::ALL) {
            *count += usize::from(format.parse(field).is_some());
        }
        if parse_amount(field, false).is_some() || parse_amount(field, true).is_some() {
            self.amounts += 1;
            let decorated = parse_amount(field, false).is_some() && crate::text::parse_decimal(field, false).is_none();
            if decimal_hint(field).is_some() || matches!(field[0], b'+' | b'-' | b'(') || decorated {
                self.money += 1;
            }
            match decimal_hint(field) {
                Some(true) => self.comma += 1,
                Some(false) => self.point += 1,
                None => {}
            }
        }
        let text = String::from_utf8_lossy(field);
        self.currency += usize::from(is_currency_code(&text));
        let digits = field.iter().filter(|b| b.is_ascii_digit()).count();
        let numberish = field.iter().all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'/'));
        self.account_like += usize::from(as_iban(&text).is_some() || (numberish && digits >= 6));
        match &self.first {
            None => self.first = Some(field.to_vec()),
            Some(first) => self.varies |= first.as_slice() != field,
        }
        self.length += field.len();
        self.wordy += usize::from(field.iter().filter(|b| b.is_ascii_alphabetic()).count() >= 2);
        self.negatives += usize::from(matches!(field[0], b'-' | b'('));
        if let Some(direction) = super::direction(field) {
            self.directions += 1;
            self.debits += usize::from(direction == super::Direction::Debit);
        }
    }

    fn all(&self, count: usize) -> bool {
        self.non_empty > 0 && count == self.non_empty
    }

    /// Most values: a sample may hold a bad row or two, which become problems later.
    fn most(&self, count: usize) -> bool {
        self.non_empty > 0 && count * 4 >= self.non_empty * 3
    }

    fn is_date(&self) -> bool {
        self.dates.iter().any(|&c| self.most(c))
    }

    fn is_amount(&self) -> bool {
        self.most(self.amounts)
    }

    fn is_money(&self) -> bool {
        self.is_amount() && self.money * 2 >= self.non_empty
    }

    fn is_text(&self) -> bool {
        self.non_empty > 0 && !self.is_date() && !self.is_amount() && self.wordy > 0
    }
}

fn fits(role: Role, stats: &Stats, rows: usize) -> bool {
    if rows == 0 || stats.non_empty == 0 {
        return true;
    }
    match role {
        Role::BookingDate | Role::ValueDate => stats.is_date(),
        Role::Amount | Role::Debit | Role::Credit | Role::Balance => stats.is_amount(),
        Role::Currency => stats.all(stats.currency),
        // A sample may hold a bad mark or two, which become problems later.
        Role::Direction => stats.most(stats.directions),
        _ => true,
    }
}

fn label_role(label: &str) -> Option<(Role, usize)> {
    KEYWORDS.iter().find_map(|(role, names)| names.iter().position(|n| *n == label).map(|p| (*role, p)))
}

fn stem_role(label: &str) -> Option<Role> {
    STEMS.iter().find_map(|(role, stems)| stems.iter().any(|s| label.contains(s)).then_some(*role))
}

fn error(records: &[ByteRecord], index: usize, expected: &str, delimiter: u8) -> ParseError {
    let record = records.get(index).or(records.last());
    let line = record.and_then(|r| r.position()).map_or(1, ::csv::Position::line);
    let found = record.map(|r| r.iter().collect::<Vec<_>>().join(&delimiter)).unwrap_or_default();
    ParseError::new(Format::Csv, Position { line: Some(line), offset: None }, expected, found)
}

/// Whether `balance` runs with `amount` over the sample rows, oldest or newest first.
fn runs_with(rows: &[ByteRecord], amount: usize, balance: usize, decimal_comma: bool) -> bool {
    let values: Option<Vec<_>> = rows
        .iter()
        .map(|r| Some((parse_amount(r.get(amount)?, decimal_comma)?, parse_amount(r.get(balance)?, decimal_comma)?)))
        .collect();
    let Some(values) = values else { return false };
    values.len() >= 2
        && (values.windows(2).all(|w| w[1].1 == w[0].1 + w[1].0)
            || values.windows(2).all(|w| w[0].1 == w[1].1 + w[0].0))
}

/// Detects the layout of `sample`. `amount_column` (counted from 0) is the user's word on which
/// money column is the amount, for files whose columns leave it open.
pub(super) fn detect(
    sample: &[u8],
    truncated: bool,
    amount_column: Option<usize>,
    notes: &mut Vec<Problem>,
) -> Result<CsvProfile, ParseError> {
    let sample = match sample.iter().rposition(|&b| b == b'\n') {
        Some(end) if truncated => &sample[..=end],
        _ => sample,
    };
    if trim(sample).is_empty() {
        return Err(ParseError::new(Format::Csv, Position { line: Some(1), offset: Some(0) }, "a CSV table", ""));
    }
    let charset = match std::str::from_utf8(sample) {
        Ok(_) => CsvCharset::Utf8,
        Err(e) if e.error_len().is_none() => CsvCharset::Utf8,
        Err(_) => CsvCharset::Windows1252,
    };
    let mut best: Option<(usize, usize, u8, Vec<ByteRecord>, usize)> = None;
    for delimiter in DELIMITERS {
        let records = records(sample, delimiter);
        let counts: Vec<usize> = records.iter().map(ByteRecord::len).collect();
        let Some(start) = table_start(&counts) else { continue };
        let score = (records.len() - start, counts[start]);
        if best.as_ref().is_none_or(|b| score > (b.0, b.1)) {
            best = Some((score.0, score.1, delimiter, records, start));
        }
    }
    let Some((_, _, delimiter, records, mut start)) = best else {
        let first = sample.split(|&b| b == b'\n').next().unwrap_or_default();
        return Err(ParseError::new(
            Format::Csv,
            Position { line: Some(1), offset: Some(0) },
            "rows of fields separated by ; , tab or |",
            first,
        ));
    };
    while start + 1 < records.len() && is_label_row(&records[start]) && is_label_row(&records[start + 1]) {
        start += 1;
    }
    // A title line long enough to pass for the table's start gives way to the header below it.
    let names = known_names(&records[start]);
    if let Some(header) = (start + 1..records.len().min(start + 16))
        .find(|&r| is_label_row(&records[r]) && known_names(&records[r]) >= 2 && known_names(&records[r]) > names)
    {
        start = header;
    }
    let has_header = is_label_row(&records[start]);
    let decode = |bytes: &[u8]| charset_decode(charset, bytes);
    let labels: Vec<String> = if has_header { records[start].iter().map(decode).collect() } else { Vec::new() };
    let data_start = start + usize::from(has_header);
    let rows = &records[data_start..];
    let width = rows.iter().map(ByteRecord::len).max().unwrap_or(labels.len()).max(labels.len());
    let mut stats = vec![Stats::default(); width];
    for row in rows {
        for (i, field) in row.iter().enumerate() {
            stats[i].see(field);
        }
    }

    if let (true, None) = (has_header, amount_column) {
        if let Some(preset) = super::presets().iter().find(|p| !p.header.is_empty() && same_header(&labels, &p.header))
        {
            let mut profile = preset.clone();
            profile.preamble_rows = start;
            profile.charset = charset;
            return Ok(profile);
        }
    }

    // Roles from the header's names, checked against the values.
    let mut candidates: Vec<(usize, Role, usize)> = Vec::new();
    let normalized: Vec<String> = labels.iter().map(|l| normalize(l)).collect();
    for (col, label) in normalized.iter().enumerate() {
        let found = label_role(label).or_else(|| stem_role(label).map(|r| (r, 100)));
        let Some((mut role, mut rank)) = found else { continue };
        let s = &stats[col];
        // Dutch "Valuta" is the currency; German "Valuta" the value date: the values tell.
        if matches!(role, Role::BookingDate | Role::ValueDate) && !fits(role, s, rows.len()) && s.all(s.currency) {
            (role, rank) = (Role::Currency, 50);
        }
        // DKB's "Kontonummer" is the other party's: an own account does not change from row to row.
        if label == "kontonummer" && rows.len() >= 2 && s.varies && s.all(s.account_like) {
            role = Role::CounterpartyAccount;
        } else if role == Role::CounterpartyAccount && rows.len() >= 2 && !s.varies {
            role = Role::Account;
        }
        if fits(role, s, rows.len()) {
            candidates.push((col, role, rank));
        }
    }
    candidates.sort_by_key(|&(col, _, rank)| (rank, col));
    let mut assigned: Vec<Option<Role>> = vec![None; width];
    let mut description = Vec::new();
    for &(col, role, _) in &candidates {
        if assigned[col].is_some() || (role != Role::Description && assigned.contains(&Some(role))) {
            continue;
        }
        assigned[col] = Some(role);
        if role == Role::Description {
            description.push(col);
        }
    }
    description.sort_unstable();
    let find = |assigned: &[Option<Role>], role: Role| assigned.iter().position(|r| *r == Some(role));

    if let Some(chosen) = amount_column {
        if chosen >= width || !stats[chosen].is_amount() {
            let found = format!("column {} holds no amounts", chosen + 1);
            return Err(
                error(&records, data_start, "the amount column chosen to hold amounts", delimiter).with_found(found)
            );
        }
        for role in &mut assigned {
            if matches!(role, Some(Role::Amount | Role::Debit | Role::Credit)) {
                *role = None;
            }
        }
        if assigned[chosen] == Some(Role::Description) {
            description.retain(|&c| c != chosen);
        }
        assigned[chosen] = Some(Role::Amount);
    }

    // What the names left open, from the values.
    let free = |assigned: &[Option<Role>], col: usize| assigned[col].is_none();
    if find(&assigned, Role::BookingDate).is_none() {
        let dates: Vec<usize> = (0..width).filter(|&c| free(&assigned, c) && stats[c].is_date()).collect();
        let Some(&booking) = dates.first() else {
            return Err(error(&records, data_start, "a column of dates", delimiter));
        };
        assigned[booking] = Some(Role::BookingDate);
        if !has_header {
            if let Some(&value) = dates.get(1) {
                assigned[value] = Some(Role::ValueDate);
            }
        }
    }
    let few = rows.len() < 3;
    if !has_header {
        if let Some(col) = (0..width).find(|&c| {
            free(&assigned, c)
                && !stats[c].is_date()
                && stats[c].all(stats[c].account_like)
                && (rows.len() >= 2 && !stats[c].varies
                    || as_iban(&decode(stats[c].first.as_deref().unwrap_or_default())).is_some())
        }) {
            assigned[col] = Some(Role::Account);
        }
        if let Some(col) = (0..width).find(|&c| free(&assigned, c) && stats[c].all(stats[c].currency)) {
            assigned[col] = Some(Role::Currency);
        }
    }
    // Whether the amount column was taken by its values, no name or choice saying so.
    let mut guessed = false;
    let amount = match (find(&assigned, Role::Amount), find(&assigned, Role::Debit), find(&assigned, Role::Credit)) {
        (Some(column), _, _) => AmountColumns::Signed { column },
        (None, Some(debit), Some(credit)) => AmountColumns::DebitCredit { debit, credit },
        _ => {
            match (0..width).find(|&c| free(&assigned, c) && stats[c].is_money() && (few || stats[c].varies)) {
                Some(column) => {
                    assigned[column] = Some(Role::Amount);
                    guessed = true;
                    AmountColumns::Signed { column }
                }
                // The only money column is a balance: a balance export, of balance points.
                None if find(&assigned, Role::Balance).is_some() => AmountColumns::BalanceOnly,
                None => return Err(error(&records, data_start, "a column of amounts", delimiter)),
            }
        }
    };
    // An unsigned amount next to a column of debit/credit marks: the marks sign it. Without a
    // header that names it, a column of nothing but such marks, debits and credits both, is one.
    let unsigned = |c: usize| stats[c].non_empty > 0 && stats[c].negatives == 0;
    if find(&assigned, Role::Direction).is_none() {
        if let AmountColumns::Signed { column } = amount {
            if unsigned(column) {
                // A "Type" column taken for the transaction's code may be just these marks.
                let marks = (0..width).find(|&c| {
                    let s = &stats[c];
                    let open = free(&assigned, c) || assigned[c] == Some(Role::Code);
                    open && s.all(s.directions) && s.debits > 0 && s.debits < s.directions
                });
                if let Some(col) = marks {
                    assigned[col] = Some(Role::Direction);
                }
            }
        }
    }
    if description.is_empty() {
        let longest = (0..width)
            .filter(|&c| free(&assigned, c) && stats[c].is_text())
            .max_by_key(|&c| (stats[c].length / stats[c].non_empty.max(1), std::cmp::Reverse(c)));
        if let Some(col) = longest {
            assigned[col] = Some(Role::Description);
            description.push(col);
        }
    }

    // Decimal mark: what the amounts show, else what the separator and dates suggest.
    let money_columns: Vec<usize> = (0..width)
        .filter(|&c| matches!(assigned[c], Some(Role::Amount | Role::Debit | Role::Credit | Role::Balance)))
        .collect();
    let (comma, point) = money_columns.iter().fold((0, 0), |(a, b), &c| (a + stats[c].comma, b + stats[c].point));
    let date_columns: Vec<usize> =
        (0..width).filter(|&c| matches!(assigned[c], Some(Role::BookingDate | Role::ValueDate))).collect();
    let mut viable: Vec<(usize, DateFormat)> = DateFormat::ALL
        .iter()
        .enumerate()
        .filter(|(f, _)| date_columns.iter().all(|&c| stats[c].non_empty == 0 || stats[c].most(stats[c].dates[*f])))
        .map(|(f, format)| (date_columns.iter().map(|&c| stats[c].dates[f]).sum(), *format))
        .collect();
    viable.sort_by_key(|&(count, _)| std::cmp::Reverse(count));
    // Formats reading fewer of the values than the best one are out; ties are ambiguous.
    let best_count = viable.first().map_or(0, |v| v.0);
    let viable: Vec<DateFormat> = viable.into_iter().filter(|v| v.0 == best_count).map(|v| v.1).collect();
    let decimal_comma = match comma.cmp(&point) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => delimiter == b';' || viable.first() == Some(&DateFormat::DmyDot),
    };
    let at =
        records.get(data_start).and_then(|r| r.position()).map(|p| Position { line: Some(p.line()), offset: None });
    let date_format = match viable.as_slice() {
        [] => {
            if rows.iter().any(|r| date_columns.iter().any(|&c| r.get(c).is_some_and(|f| !trim(f).is_empty()))) {
                return Err(error(&records, data_start, "dates in one format in the date columns", delimiter));
            }
            if decimal_comma {
                DateFormat::DmyDot
            } else {
                DateFormat::YmdDash
            }
        }
        [only] => *only,
        [first, ..] => match viable.iter().find(|f| f.swapped().is_none()) {
            Some(unambiguous) => *unambiguous,
            None => {
                let chosen = viable.iter().copied().find(|f| f.day_first() == decimal_comma).unwrap_or(*first);
                let why = if decimal_comma { "a decimal comma" } else { "a decimal point" };
                notes.push(Problem {
                    at: at.unwrap_or_default(),
                    message: format!(
                        "no day above 12 in the dates: read them as {} because amounts use {why}",
                        chosen.example()
                    ),
                });
                chosen
            }
        },
    };
    let mut amount = amount;
    // Named columns are checked against each other: a running balance must follow the amounts.
    if let (true, AmountColumns::Signed { column }, Some(balance)) =
        (has_header, amount.clone(), find(&assigned, Role::Balance))
    {
        let values = |c: usize| rows.iter().filter(|r| r.get(c).is_some_and(|f| !trim(f).is_empty())).count();
        if rows.len() >= 2 && values(column) == rows.len() && values(balance) == rows.len() {
            let name = |c: usize| labels.get(c).cloned().unwrap_or_default();
            if !runs_with(rows, column, balance, decimal_comma) {
                if amount_column.is_none() && runs_with(rows, balance, column, decimal_comma) {
                    assigned.swap(column, balance);
                    amount = AmountColumns::Signed { column: balance };
                    notes.push(Problem {
                        at: at.unwrap_or_default(),
                        message: format!(
                            "column {:?} runs as the balance of column {:?}: read {:?} as the amount",
                            name(column),
                            name(balance),
                            name(balance)
                        ),
                    });
                } else {
                    notes.push(Problem {
                        at: at.unwrap_or_default(),
                        message: format!(
                            "the balances in column {:?} do not follow from the amounts in column {:?}: \
                             rows may be missing, or the columns are not what their names say",
                            name(balance),
                            name(column)
                        ),
                    });
                }
            }
        }
    }
    if !has_header || guessed {
        if let AmountColumns::Signed { column } = amount {
            // Without names, two money columns are an amount and its running balance only when the
            // values say which is which (each balance = the one before + the amount).
            let money: Vec<usize> =
                (0..width).filter(|&c| (c == column || free(&assigned, c)) && stats[c].is_amount()).collect();
            let pairs: Vec<(usize, usize)> = money
                .iter()
                .flat_map(|&a| money.iter().map(move |&b| (a, b)))
                .filter(|&(a, b)| {
                    a != b && amount_column.is_none_or(|c| c == a) && runs_with(rows, a, b, decimal_comma)
                })
                .collect();
            if let Some(&(amount_column, balance_column)) = pairs.first() {
                assigned[column] = None;
                assigned[amount_column] = Some(Role::Amount);
                assigned[balance_column] = Some(Role::Balance);
                amount = AmountColumns::Signed { column: amount_column };
            } else if amount_column.is_none() && money.len() > 1 && stats[column].is_money() {
                // Guessing would store a fee, a foreign amount or a balance as the transactions.
                let named: Vec<String> = money.iter().map(|c| (c + 1).to_string()).collect();
                return Err(error(
                    &records,
                    data_start,
                    "one column of amounts, or a header or the import's amount column saying which is the amount",
                    delimiter,
                )
                .with_found(format!("amounts in columns {}, none running as another's balance", named.join(", "))));
            }
        }
    }
    let booking_date = find(&assigned, Role::BookingDate).unwrap_or(0);
    Ok(CsvProfile {
        name: "detected".into(),
        delimiter: char::from(delimiter),
        quote: Some('"'),
        charset,
        decimal_comma,
        date_format,
        preamble_rows: start,
        has_header,
        header: labels,
        columns: Columns {
            booking_date,
            value_date: find(&assigned, Role::ValueDate),
            amount,
            description,
            counterparty: find(&assigned, Role::Counterparty),
            counterparty_account: find(&assigned, Role::CounterpartyAccount),
            currency: find(&assigned, Role::Currency),
            reference: find(&assigned, Role::Reference),
            code: find(&assigned, Role::Code),
            balance: find(&assigned, Role::Balance),
            status: find(&assigned, Role::Status),
            direction: find(&assigned, Role::Direction),
            account: find(&assigned, Role::Account),
        },
        currency: None,
    })
}

fn charset_decode(charset: CsvCharset, bytes: &[u8]) -> String {
    charset.charset().decode(trim(bytes)).text
}
