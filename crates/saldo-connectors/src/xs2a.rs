//! The Berlin Group NextGenPSD2 account-data model (balances, transactions, account details), read
//! into saldo's types. Both the Berlin Group connector and GoCardless (which relays the banks' XS2A
//! answers almost unchanged) use it.
//!
//! Amounts are decimal strings with an ISO currency; the sign is the holder's view (a debit is
//! negative). A transaction that cannot be read fails its account, naming the field.

use crate::wire::{clean, decimal, joined, path_error, present};
use crate::FetchedTransaction;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use saldo_core::account::AccountKind;
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::TransactionStatus;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Amount {
    #[serde(deserialize_with = "decimal")]
    pub amount: Decimal,
    pub currency: String,
}

impl Amount {
    pub fn money(&self) -> Result<Money, String> {
        let currency = Currency::parse(&self.currency)
            .map_err(|_| format!("currency {:?} is not an ISO 4217 code", clean(&self.currency, "")))?;
        Money::from_decimal(self.amount, currency).map_err(|e| e.to_string())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Balance {
    pub balance_amount: Amount,
    pub balance_type: String,
    #[serde(default)]
    pub reference_date: Option<String>,
}

/// Which balance is "the" balance, best first: what is booked now, then what the bank expects,
/// then what is available (which may include an overdraft or a card's credit line).
const BALANCE_PREFERENCE: [&str; 9] = [
    "interimBooked",
    "closingBooked",
    "expected",
    "openingBooked",
    "interimAvailable",
    "closingAvailable",
    "forwardAvailable",
    "nonInvoiced",
    "information",
];

/// The account's current balance from a list of balances, or why none could be read.
pub(crate) fn current_balance(balances: &[Balance]) -> Result<Option<Money>, String> {
    let rank = |b: &Balance| BALANCE_PREFERENCE.iter().position(|t| *t == b.balance_type).unwrap_or(usize::MAX);
    let Some(best) = balances.iter().min_by_key(|b| (rank(b), std::cmp::Reverse(b.reference_date.clone()))) else {
        return Ok(None);
    };
    best.balance_amount.money().map(Some).map_err(|e| format!("balance {:?}: {e}", best.balance_type))
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Transaction {
    #[serde(default)]
    pub transaction_id: Option<String>,
    /// GoCardless's own id, stable where the bank's is not.
    #[serde(default)]
    pub internal_transaction_id: Option<String>,
    #[serde(default)]
    pub entry_reference: Option<String>,
    /// A card transaction's id (NextGenPSD2's card account reports).
    #[serde(default)]
    pub card_transaction_id: Option<String>,
    #[serde(default)]
    pub booking_date: Option<NaiveDate>,
    /// When a card was used; a card transaction's date before it books.
    #[serde(default)]
    pub transaction_date: Option<NaiveDate>,
    /// A card transaction's text (the merchant, as the card network gives it).
    #[serde(default)]
    pub transaction_details: Option<String>,
    #[serde(default)]
    pub value_date: Option<NaiveDate>,
    pub transaction_amount: Option<Amount>,
    #[serde(default)]
    pub creditor_name: Option<String>,
    #[serde(default)]
    pub debtor_name: Option<String>,
    #[serde(default)]
    pub remittance_information_unstructured: Option<String>,
    #[serde(default)]
    pub remittance_information_unstructured_array: Option<Vec<String>>,
    #[serde(default)]
    pub remittance_information_structured: Option<String>,
    #[serde(default)]
    pub additional_information: Option<String>,
}

impl Transaction {
    /// Into saldo's form. A pending transaction without a booking date is dated by its value date
    /// (or today): it is replaced as a whole on every sync, so the date only orders it.
    pub fn fetched(&self, status: TransactionStatus, today: NaiveDate) -> Result<FetchedTransaction, String> {
        let amount = self.transaction_amount.as_ref().ok_or("transactionAmount: missing")?;
        let amount = amount.money().map_err(|e| format!("transactionAmount: {e}"))?;
        let booking_date = match (self.booking_date, self.value_date.or(self.transaction_date), status) {
            (Some(day), _, _) => day,
            (None, Some(day), TransactionStatus::Pending) => day,
            (None, None, TransactionStatus::Pending) => today,
            (None, _, TransactionStatus::Booked) => return Err("bookingDate: missing on a booked transaction".into()),
        };
        let text = |t: &Option<String>| present(t).map(str::to_string);
        let counterparty = if amount.minor < 0 { text(&self.creditor_name) } else { text(&self.debtor_name) }
            .or_else(|| text(&self.creditor_name).or_else(|| text(&self.debtor_name)));
        let description = text(&self.remittance_information_unstructured)
            .or_else(|| self.remittance_information_unstructured_array.as_deref().and_then(joined))
            .or_else(|| text(&self.remittance_information_structured))
            .or_else(|| text(&self.additional_information))
            .or_else(|| text(&self.transaction_details))
            .or_else(|| counterparty.clone())
            .unwrap_or_default();
        // Which id is stable, per provider. GoCardless relays the bank's `transactionId`, which
        // "most (but not all) banks" give and some reuse for other bookings, and advises its own
        // `internalTransactionId` (only GoCardless sends it). A NextGenPSD2 bank's `transactionId`
        // is the booking's resource id, and `entryReference` its camt-style reference. Whatever an
        // id claims, the engine matches bookings by content where the id does not find them, and
        // keeps a reused id's second booking (core's `ingest`, the store's insert).
        let provider_id = text(&self.internal_transaction_id)
            .or_else(|| text(&self.transaction_id))
            .or_else(|| text(&self.card_transaction_id))
            .or_else(|| text(&self.entry_reference));
        Ok(FetchedTransaction {
            provider_id,
            status,
            booking_date,
            value_date: self.value_date,
            amount,
            description: clean(&description, ""),
            counterparty: counterparty.map(|c| clean(&c, "")),
        })
    }
}

/// `transactions.booked` and `transactions.pending` as raw values, so that one broken entry fails
/// with its index and field.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TransactionLists {
    #[serde(default)]
    pub booked: Option<Vec<Value>>,
    #[serde(default)]
    pub pending: Option<Vec<Value>>,
    #[serde(default, rename = "_links")]
    pub links: Option<Links>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Links {
    #[serde(default)]
    pub next: Option<Href>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Href {
    pub href: String,
}

impl TransactionLists {
    /// Every booked and pending transaction, or the first that could not be read.
    pub fn read(self, today: NaiveDate) -> Result<Vec<FetchedTransaction>, String> {
        let mut out = Vec::new();
        for (list, status, name) in
            [(self.booked, TransactionStatus::Booked, "booked"), (self.pending, TransactionStatus::Pending, "pending")]
        {
            for (index, value) in list.unwrap_or_default().into_iter().enumerate() {
                let raw: Transaction =
                    serde_path_to_error::deserialize(value).map_err(|e| path_error(&format!("{name}[{index}]"), e))?;
                out.push(raw.fetched(status, today).map_err(|e| format!("{name}[{index}].{e}"))?);
            }
        }
        Ok(out)
    }

    pub fn next_page(&self) -> Option<&str> {
        self.links.as_ref().and_then(|l| l.next.as_ref()).map(|n| n.href.as_str())
    }
}

/// An account's kind from the ISO 20022 cash account type (ExternalCashAccountType1Code, plus
/// NextGenPSD2's `CARD`) that XS2A, Enable Banking and GoCardless give. The typed code decides
/// whenever it says something: a current account (`CACC`) named "Giro Sparkasse" is a current
/// account. Only without a code (or with `OTHR` or one outside the list) do the product's and the
/// account's names hint at the kind, and then only by whole words, so that a bank's name inside a
/// product name ("Sparkasse") is not read as "savings".
pub(crate) fn account_kind(cash_account_type: Option<&str>, product: Option<&str>, name: Option<&str>) -> AccountKind {
    let words = hint_words(product, name);
    match cash_account_type.map(|t| t.trim().to_ascii_uppercase()).as_deref() {
        // Savings, limited-liquidity savings, money market, overnight deposit.
        Some("SVGS" | "LLSV" | "MOMA" | "ONDP") => AccountKind::Savings,
        Some("CARD") => AccountKind::CreditCard,
        // Loans and marginal lending; a mortgage when its names say so.
        Some("LOAN" | "MGLD") => {
            if MORTGAGE.iter().any(|phrase| has_phrase(&words, phrase)) {
                AccountKind::Mortgage
            } else {
                AccountKind::Loan
            }
        }
        // An account kept for overdrafts is money owed.
        Some("ODFT") => AccountKind::OtherLiability,
        // Current, transacting, cash payment, salary, settlement, non-resident, virtual, clearing,
        // cash trading, charges, commission, cash income and tax accounts: money at hand.
        Some(
            "CACC" | "TRAN" | "CASH" | "SLRY" | "SACC" | "NREX" | "NFCA" | "VACC" | "CPAC" | "TRAS" | "CHAR" | "COMM"
            | "CISH" | "TAXE",
        ) => AccountKind::Cash,
        _ => kind_from_words(&words),
    }
}

const CREDIT_CARD: [&str; 6] = ["credit card", "creditcard", "kreditkarte", "carte de crédit", "visa", "mastercard"];
const MORTGAGE: [&str; 9] = [
    "mortgage",
    "hypothek",
    "hypotheek",
    "hypotek",
    "hypothèque",
    "bolån",
    "home loan",
    "baufinanzierung",
    "immobilienkredit",
];
const LOAN: [&str; 6] = ["loan", "kredit", "darlehen", "prêt", "lening", "lån"];
const SAVINGS: [&str; 10] = [
    "saving",
    "savings",
    "sparkonto",
    "sparbuch",
    "tagesgeld",
    "festgeld",
    "épargne",
    "livret",
    "spaarrekening",
    "sparekonto",
];
const BROKERAGE: [&str; 5] = ["depot", "wertpapierdepot", "securities", "brokerage", "custody"];

/// The name an XS2A account (GoCardless's details, a NextGenPSD2 bank's account list) is shown
/// under: what is said of the account itself — the holder's own display name for it, the bank's
/// name for it, its product — and else the tail of its first identifier ("•••• 1234"). Never the
/// holder's name, which some banks put in `name`: a household's accounts would all be called after
/// one person.
pub(crate) fn account_name(own: &[Option<&str>], owner: Option<&str>, identifiers: &[Option<&str>]) -> Option<String> {
    let same_as_owner = |name: &str| owner.is_some_and(|o| o.trim().eq_ignore_ascii_case(name.trim()));
    own.iter()
        .flatten()
        .map(|name| name.trim())
        .find(|name| !name.is_empty() && !same_as_owner(name))
        .map(str::to_string)
        .or_else(|| identifiers.iter().flatten().find(|i| !i.trim().is_empty()).map(|i| crate::wire::masked_tail(i)))
}

/// The product's and the account's names as lower-case words.
fn hint_words(product: Option<&str>, name: Option<&str>) -> Vec<String> {
    format!("{} {}", product.unwrap_or_default(), name.unwrap_or_default())
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether the words hold `phrase` (one or more words) as whole, consecutive words.
fn has_phrase(words: &[String], phrase: &str) -> bool {
    let wanted: Vec<&str> = phrase.split(' ').collect();
    words.windows(wanted.len()).any(|window| window.iter().zip(&wanted).all(|(word, want)| word == want))
}

fn kind_from_words(words: &[String]) -> AccountKind {
    let any = |list: &[&str]| list.iter().any(|phrase| has_phrase(words, phrase));
    if any(&CREDIT_CARD) {
        AccountKind::CreditCard
    } else if any(&MORTGAGE) {
        AccountKind::Mortgage
    } else if any(&LOAN) {
        AccountKind::Loan
    } else if any(&SAVINGS) {
        AccountKind::Savings
    } else if any(&BROKERAGE) {
        AccountKind::Brokerage
    } else {
        AccountKind::Cash
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_booked_balance_wins_over_available_ones() {
        let balances: Vec<Balance> = serde_json::from_value(serde_json::json!([
            {"balanceAmount": {"amount": "1913.12", "currency": "EUR"}, "balanceType": "closingAvailable"},
            {"balanceAmount": {"amount": "-12.50", "currency": "EUR"}, "balanceType": "interimBooked"},
        ]))
        .unwrap();
        assert_eq!(current_balance(&balances).unwrap().unwrap().minor, -1250);
        assert_eq!(current_balance(&[]).unwrap(), None);
        let bad: Vec<Balance> = serde_json::from_value(serde_json::json!([
            {"balanceAmount": {"amount": "1", "currency": "string"}, "balanceType": "expected"}
        ]))
        .unwrap();
        assert!(current_balance(&bad).unwrap_err().contains("\"string\""));
    }

    #[test]
    fn an_account_is_named_by_what_the_bank_says_of_it_never_by_its_holder() {
        let owner = Some("Erika Mustermann");
        assert_eq!(account_name(&[None, owner, Some("Girokonto")], owner, &[]).as_deref(), Some("Girokonto"));
        assert_eq!(account_name(&[Some("Urlaub"), Some("Girokonto")], owner, &[]).as_deref(), Some("Urlaub"));
        let iban = Some("DE02 1203 0000 0000 2020 51");
        assert_eq!(account_name(&[Some(" erika mustermann ")], owner, &[iban]).as_deref(), Some("•••• 2051"));
        assert_eq!(account_name(&[None], None, &[None]), None);
    }

    #[test]
    fn gocardless_s_own_id_wins_over_the_bank_s() {
        let lists: TransactionLists = serde_json::from_value(serde_json::json!({
            "booked": [{"transactionId": "2024-01-07", "internalTransactionId": "9f2c0a", "entryReference": "ref-1",
                        "transactionAmount": {"currency": "EUR", "amount": "-1.00"}, "bookingDate": "2024-01-07"},
                       {"transactionId": "t2", "entryReference": "ref-2",
                        "transactionAmount": {"currency": "EUR", "amount": "-2.00"}, "bookingDate": "2024-01-07"}],
        }))
        .unwrap();
        let read = lists.read(day("2024-01-08")).unwrap();
        assert_eq!(read[0].provider_id.as_deref(), Some("9f2c0a"));
        assert_eq!(read[1].provider_id.as_deref(), Some("t2"));
    }

    #[test]
    fn transactions_read_with_their_ids_dates_and_counterparties() {
        let lists: TransactionLists = serde_json::from_value(serde_json::json!({
            "booked": [{"transactionId": "t1", "debtorName": "MON MOTHMA", "transactionAmount": {"currency": "EUR", "amount": "45.00"},
                        "bookingDate": "2021-11-19", "valueDate": "2021-11-19", "remittanceInformationUnstructured": "For the  support"}],
            "pending": [{"transactionAmount": {"currency": "EUR", "amount": "-99.20"}, "valueDate": "2021-11-18",
                         "remittanceInformationUnstructuredArray": ["Card", "payment"]}],
        }))
        .unwrap();
        let read = lists.read(day("2021-11-20")).unwrap();
        assert_eq!(read[0].provider_id.as_deref(), Some("t1"));
        assert_eq!(read[0].counterparty.as_deref(), Some("MON MOTHMA"));
        assert_eq!(read[0].description, "For the support");
        assert_eq!((read[1].status, read[1].booking_date), (TransactionStatus::Pending, day("2021-11-18")));
        assert_eq!((read[1].amount.minor, read[1].description.as_str()), (-9920, "Card payment"));
    }

    #[test]
    fn a_broken_transaction_names_its_list_index_and_field() {
        let lists: TransactionLists = serde_json::from_value(serde_json::json!({
            "booked": [{"transactionAmount": {"currency": "EUR", "amount": "1"}, "bookingDate": "2021-11-19"},
                       {"transactionAmount": {"currency": "EUR", "amount": "x"}, "bookingDate": "2021-11-19"}],
        }))
        .unwrap();
        let error = lists.read(day("2021-11-20")).unwrap_err();
        assert!(error.starts_with("booked[1].transactionAmount.amount"), "{error}");
        let undated: TransactionLists = serde_json::from_value(serde_json::json!({
            "booked": [{"transactionAmount": {"currency": "EUR", "amount": "1"}}]
        }))
        .unwrap();
        assert!(undated.read(day("2021-11-20")).unwrap_err().contains("bookingDate"));
    }

    #[test]
    fn kinds_come_from_the_cash_account_type_then_the_names() {
        assert_eq!(account_kind(Some("SVGS"), None, None), AccountKind::Savings);
        assert_eq!(account_kind(Some("CARD"), None, None), AccountKind::CreditCard);
        assert_eq!(account_kind(Some("LOAN"), Some("Home Mortgage"), None), AccountKind::Mortgage);
        assert_eq!(account_kind(Some("LOAN"), None, None), AccountKind::Loan);
        assert_eq!(account_kind(Some("CACC"), None, Some("Main Account")), AccountKind::Cash);
        assert_eq!(account_kind(None, None, Some("Tagesgeld Sparkonto")), AccountKind::Savings);
    }

    #[test]
    fn the_typed_code_wins_over_the_names_and_names_count_as_whole_words() {
        // A current account whose product carries the bank's name is a current account.
        assert_eq!(account_kind(Some("CACC"), Some("Giro Sparkasse"), None), AccountKind::Cash);
        assert_eq!(account_kind(Some("cacc"), Some("Credit Card"), None), AccountKind::Cash);
        assert_eq!(account_kind(None, Some("Giro Sparkasse"), None), AccountKind::Cash, "not \"spar\"");
        assert_eq!(account_kind(None, Some("Sparkonto"), None), AccountKind::Savings);
        assert_eq!(account_kind(None, None, Some("Visa Classic")), AccountKind::CreditCard);
        assert_eq!(account_kind(None, Some("Privatkredit"), None), AccountKind::Cash, "a compound is not \"kredit\"");
        assert_eq!(account_kind(None, Some("Home loan"), None), AccountKind::Mortgage);
        // The rest of the code list.
        for code in
            ["TRAN", "CASH", "SLRY", "SACC", "NREX", "NFCA", "VACC", "CPAC", "TRAS", "CHAR", "COMM", "CISH", "TAXE"]
        {
            assert_eq!(account_kind(Some(code), Some("Tagesgeld"), None), AccountKind::Cash, "{code}");
        }
        for code in ["LLSV", "MOMA", "ONDP"] {
            assert_eq!(account_kind(Some(code), None, None), AccountKind::Savings, "{code}");
        }
        assert_eq!(account_kind(Some("MGLD"), None, None), AccountKind::Loan);
        assert_eq!(account_kind(Some("ODFT"), None, None), AccountKind::OtherLiability);
        // A code that says nothing leaves it to the names.
        assert_eq!(account_kind(Some("OTHR"), Some("Tagesgeld"), None), AccountKind::Savings);
        assert_eq!(account_kind(Some("XYZW"), None, Some("Festgeld")), AccountKind::Savings);
    }
}
