//! What real banks do that a happy path does not, through the real engine on a manual clock against
//! each provider's emulator, on SQLite and PostgreSQL: card payments held for days that book under
//! the day they began, ids a bank gives to a second booking, ids that change with every session,
//! and cards known only by a masked number whose provider id changes on reconnect. Each story is
//! written once and told at GoCardless, Enable Banking and a NextGenPSD2 (Berlin Group) bank.

use crate::engine::{run_engine_with, start, Engine};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use saldo_app::connections::{self, PendingAuthorization, Selection};
use saldo_app::sync::{self, SyncOutcome};
use saldo_connectors::{AuthAnswer, AuthStart};
use saldo_core::account::{Account, AccountKind};
use saldo_core::ids::ConnectionId;
use saldo_core::transaction::{Transaction, TransactionStatus};
use saldo_emulators::berlin_group::{self as bg, Approach, Aspsp};
use saldo_emulators::enable_banking::{BankAccount, EnableBankingApi, TEST_PRIVATE_KEY};
use saldo_emulators::gocardless::{AccountSpec, GoCardlessApi, SANDBOX_INSTITUTION_ID};
use saldo_testing::Backend;
use serde_json::{json, Value};

/// A booking or pending transaction as a story tells it; each bank writes it in its own words.
#[derive(Debug, Clone)]
struct Booking {
    id: Option<String>,
    day: NaiveDate,
    minor: i64,
    text: &'static str,
}

fn booking(id: Option<&str>, day: NaiveDate, minor: i64, text: &'static str) -> Booking {
    Booking { id: id.map(str::to_string), day, minor, text }
}

fn decimal(minor: i64) -> String {
    format!("{}{}.{:02}", if minor < 0 { "-" } else { "" }, minor.abs() / 100, minor.abs() % 100)
}

/// A provider's emulator with one account of the user's, as the stories need it.
trait Bank {
    /// What configures saldo for it.
    fn settings(&self) -> Vec<(&'static str, String)>;
    /// How saldo names the bank.
    fn institution(&self) -> String;
    fn set_now(&self, now: DateTime<Utc>);
    fn set_bookings(&self, booked: &[Booking], pending: &[Booking]);
    /// The user approves at the bank: the answer the bank's redirect carries back.
    fn approve(&self, start: &AuthStart) -> AuthAnswer;
    /// The bank gives its accounts new ids from the next consent on.
    fn change_account_ids(&self);
    /// The bank describes the account as a current account (ISO 20022 `CACC`) of this product,
    /// and names its holder where its API does (Enable Banking, and some banks, in `name`).
    fn describe(&self, product: &str, holder: &str);
    /// The transaction reports asked for so far (a report's further pages not counted), with
    /// the first day each asked for.
    fn transaction_reports(&self) -> Vec<NaiveDate>;
}

fn day_param(query: &[(String, String)], name: &str) -> NaiveDate {
    query.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.parse().ok()).expect("a report names its first day")
}

fn redirect_answer(redirect: &str) -> AuthAnswer {
    let query = redirect.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let params = url_pairs(query);
    AuthAnswer::Callback { params }
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query.split('&').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (k.to_string(), percent_decode(v))).collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn redirect_url(start: &AuthStart) -> &str {
    match start {
        AuthStart::Redirect { url, .. } => url,
        other => panic!("not a redirect: {other:?}"),
    }
}

/// A transaction in the Berlin Group model, which GoCardless relays too.
fn xs2a_json(t: &Booking, booked: bool) -> Value {
    let mut value = json!({"transactionAmount": {"currency": "EUR", "amount": decimal(t.minor)},
                           "valueDate": t.day.to_string(), "remittanceInformationUnstructured": t.text});
    if booked {
        value["bookingDate"] = json!(t.day.to_string());
    }
    if let Some(id) = &t.id {
        value["transactionId"] = json!(id);
    }
    value
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

fn common_settings() -> Vec<(&'static str, String)> {
    vec![
        ("SALDO_ALLOW_INSECURE_LOOPBACK", "true".into()),
        ("SALDO_SANDBOX", "false".into()),
        ("SALDO_SIMPLEFIN", "false".into()),
        ("SALDO_PUBLIC_URL", "http://127.0.0.1:9".into()),
    ]
}

// GoCardless: one current account, or a card without an IBAN.
struct GoCardless {
    api: GoCardlessApi,
    /// The account's id at the bank now.
    account: std::sync::Mutex<String>,
}

impl GoCardless {
    fn account(&self) -> String {
        self.account.lock().unwrap().clone()
    }

    fn spec(card: bool) -> AccountSpec {
        if card {
            let mut spec = AccountSpec::example_main().without_iban();
            spec.id = "card-1".into();
            spec.details = json!({"resourceId": "card", "currency": "EUR", "maskedPan": "492942******1234",
                                  "cashAccountType": "CARD", "product": "Visa Classic", "ownerName": "Erika Mustermann"});
            spec
        } else {
            AccountSpec::example_main()
        }
    }
}

impl Bank for GoCardless {
    fn settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = common_settings();
        settings.push(("SALDO_GOCARDLESS_SECRET_ID", self.api.secret_id()));
        settings.push(("SALDO_GOCARDLESS_SECRET_KEY", self.api.secret_key()));
        settings.push(("SALDO_GOCARDLESS_URL", self.api.base_url()));
        settings
    }

    fn institution(&self) -> String {
        SANDBOX_INSTITUTION_ID.into()
    }

    fn set_now(&self, now: DateTime<Utc>) {
        self.api.set_now(now);
    }

    fn set_bookings(&self, booked: &[Booking], pending: &[Booking]) {
        self.api.set_transactions(
            &self.account(),
            booked.iter().map(|t| xs2a_json(t, true)).collect(),
            pending.iter().map(|t| xs2a_json(t, false)).collect(),
        );
    }

    fn approve(&self, start: &AuthStart) -> AuthAnswer {
        redirect_answer(&self.api.complete_link(redirect_url(start)).unwrap())
    }

    fn change_account_ids(&self) {
        let (_, new) = self.api.change_account_ids().remove(0);
        *self.account.lock().unwrap() = new;
    }

    fn transaction_reports(&self) -> Vec<NaiveDate> {
        let requests = self.api.requests();
        let reports = requests.iter().filter(|r| r.path.ends_with("/transactions/"));
        reports.map(|r| day_param(&r.query, "date_from")).collect()
    }

    fn describe(&self, product: &str, holder: &str) {
        let mut spec = GoCardless::spec(false);
        spec.details = json!({"resourceId": "main", "iban": spec.iban, "currency": "EUR", "ownerName": holder,
                              "name": holder, "product": product, "cashAccountType": "CACC"});
        self.api.set_accounts(vec![spec]);
    }
}

fn gocardless(card: bool) -> GoCardless {
    let api = runtime_block(GoCardlessApi::start());
    api.set_now(start());
    let spec = GoCardless::spec(card);
    let account = std::sync::Mutex::new(spec.id.clone());
    api.set_accounts(vec![spec]);
    GoCardless { api, account }
}

// Enable Banking: one account, known across sessions by its identification hash.
struct EnableBanking {
    api: EnableBankingApi,
    key_file: tempfile::NamedTempFile,
    account: std::sync::Mutex<BankAccount>,
    /// Whether the bank gives `entry_reference`s; without them its transaction ids are per session.
    references: bool,
}

const EB_APP: &str = "behaviour-application";

impl EnableBanking {
    fn json(t: &Booking, booked: bool, references: bool) -> Value {
        let mut value = json!({"transaction_amount": {"currency": "EUR", "amount": decimal(t.minor.abs())},
            "credit_debit_indicator": if t.minor < 0 { "DBIT" } else { "CRDT" },
            "status": if booked { "BOOK" } else { "PDNG" },
            "booking_date": if booked { json!(t.day.to_string()) } else { Value::Null },
            "value_date": t.day.to_string(), "remittance_information": [t.text]});
        if let (Some(id), true) = (&t.id, references) {
            value["entry_reference"] = json!(id);
        }
        value
    }
}

impl Bank for EnableBanking {
    fn settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = common_settings();
        settings.push(("SALDO_ENABLE_BANKING_APPLICATION_ID", EB_APP.into()));
        settings.push(("SALDO_ENABLE_BANKING_KEY_FILE", self.key_file.path().to_str().unwrap().into()));
        settings.push(("SALDO_ENABLE_BANKING_URL", self.api.base_url()));
        settings.push(("SALDO_ENABLE_BANKING_COUNTRIES", "FI".into()));
        settings
    }

    fn institution(&self) -> String {
        "FI:Nordea".into()
    }

    fn set_now(&self, now: DateTime<Utc>) {
        self.api.set_now(now);
    }

    fn set_bookings(&self, booked: &[Booking], pending: &[Booking]) {
        let mut account = self.account.lock().unwrap();
        account.transactions = booked
            .iter()
            .map(|t| EnableBanking::json(t, true, self.references))
            .chain(pending.iter().map(|t| EnableBanking::json(t, false, self.references)))
            .collect();
        self.api.set_accounts(vec![account.clone()]);
    }

    fn approve(&self, start: &AuthStart) -> AuthAnswer {
        redirect_answer(&self.api.approve(redirect_url(start)).unwrap())
    }

    fn change_account_ids(&self) {
        // Every session gives the accounts new uids already.
    }

    fn transaction_reports(&self) -> Vec<NaiveDate> {
        let requests = self.api.requests();
        let first_pages = requests
            .iter()
            .filter(|r| r.path.ends_with("/transactions") && !r.query.iter().any(|(k, _)| k == "continuation_key"));
        first_pages.map(|r| day_param(&r.query, "date_from")).collect()
    }

    fn describe(&self, product: &str, holder: &str) {
        let mut account = self.account.lock().unwrap();
        account.details["product"] = json!(product);
        account.details["name"] = json!(holder);
        account.details["cash_account_type"] = json!("CACC");
        self.api.set_accounts(vec![account.clone()]);
    }
}

fn enable_banking(card: bool, references: bool) -> EnableBanking {
    let api = runtime_block(EnableBankingApi::start(EB_APP, start()));
    let details = if card {
        json!({"account_id": {"other": {"identification": "************1234", "scheme_name": "CPAN"}},
               "name": "Erika Mustermann", "details": "Visa Classic", "cash_account_type": "CARD", "currency": "EUR",
               "identification_hash": "hash-card", "identification_hashes": ["hash-card"]})
    } else {
        json!({"account_id": {"iban": "FI2112345600000785"}, "name": "Erika Mustermann", "product": "Käyttötili",
               "cash_account_type": "CACC", "currency": "EUR", "identification_hash": "hash-current",
               "identification_hashes": ["hash-current"]})
    };
    let account = BankAccount {
        identification_hash: details["identification_hash"].as_str().unwrap().into(),
        details,
        balances: vec![json!({"name": "Booked", "balance_amount": {"currency": "EUR", "amount": "100.00"},
                              "balance_type": "CLBD"})],
        transactions: Vec::new(),
    };
    api.set_accounts(vec![account.clone()]);
    let key_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key_file.path(), TEST_PRIVATE_KEY).unwrap();
    EnableBanking { api, key_file, account: std::sync::Mutex::new(account), references }
}

// A NextGenPSD2 bank configured in the config file: one current account, or one credit card
// listed only at `v1/card-accounts`, which quotes debits positive.
struct BerlinGroup {
    aspsp: Aspsp,
    config: tempfile::NamedTempFile,
    card: bool,
}

/// A card transaction as a card account report has it (debits positive).
fn card_json(t: &Booking, booked: bool) -> Value {
    let mut value = json!({"transactionAmount": {"currency": "EUR", "amount": decimal(-t.minor)},
                           "transactionDate": t.day.to_string(), "transactionDetails": t.text});
    if booked {
        value["bookingDate"] = json!(t.day.to_string());
    }
    if let Some(id) = &t.id {
        value["cardTransactionId"] = json!(id);
    }
    value
}

impl Bank for BerlinGroup {
    fn settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = common_settings();
        settings.push(("SALDO_CONFIG", self.config.path().to_str().unwrap().into()));
        settings
    }

    fn institution(&self) -> String {
        "demo-bank".into()
    }

    fn set_now(&self, now: DateTime<Utc>) {
        self.aspsp.set_today(now.date_naive());
    }

    fn set_bookings(&self, booked: &[Booking], pending: &[Booking]) {
        let account = self.aspsp.accounts().into_iter().next().unwrap();
        let write = if self.card { card_json } else { xs2a_json };
        self.aspsp.set_transactions(
            account.resource_id().unwrap(),
            booked.iter().map(|t| write(t, true)).collect(),
            pending.iter().map(|t| write(t, false)).collect(),
        );
    }

    fn approve(&self, start: &AuthStart) -> AuthAnswer {
        let consent = redirect_url(start).rsplit('/').next().unwrap();
        redirect_answer(&self.aspsp.approve(consent))
    }

    fn change_account_ids(&self) {
        self.aspsp.reassign_resource_ids();
    }

    fn transaction_reports(&self) -> Vec<NaiveDate> {
        let requests = self.aspsp.requests();
        let first_pages = requests
            .iter()
            .filter(|r| r.path.ends_with("/transactions") && r.param("pageIndex").is_none_or(|p| p == "0"));
        first_pages.map(|r| r.param("dateFrom").and_then(|d| d.parse().ok()).expect("dateFrom")).collect()
    }

    fn describe(&self, product: &str, holder: &str) {
        let mut accounts = self.aspsp.accounts();
        let details = &mut accounts[0].details;
        details["product"] = json!(product);
        details["name"] = json!(holder);
        details["ownerName"] = json!(holder);
        details["cashAccountType"] = json!("CACC");
        self.aspsp.set_accounts(accounts);
    }
}

fn berlin_group(card: bool) -> BerlinGroup {
    let aspsp = runtime_block(Aspsp::start(Approach::Redirect));
    aspsp.set_today(start().date_naive());
    aspsp.set_explicit_start(false);
    aspsp.set_accounts(vec![if card {
        bg::Account::card("525412******3241", "EUR", "Main")
    } else {
        bg::Account::new("DE02120300000000202051", "EUR", "Girokonto")
    }]);
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!(
            "[[berlin_group]]\nid = \"demo-bank\"\nname = \"Demo Bank\"\ncountry = \"DE\"\nbic = \"DEMODEFF\"\n\
             base_url = \"{}\"\n",
            aspsp.base_url()
        ),
    )
    .unwrap();
    BerlinGroup { aspsp, config, card }
}

/// The emulators run on a runtime of their own, kept for the whole test.
fn runtime_block<T>(future: impl std::future::Future<Output = T>) -> T {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(runtime).block_on(future)
}

async fn connect(e: &Engine, bank: &dyn Bank) -> ConnectionId {
    let pending = connections::begin_connect(&e.ctx, &e.actor, &bank.institution()).await.unwrap();
    let answer = approve(bank, &pending);
    let (id, _) = connections::complete_connect(&e.ctx, &e.actor, &pending, &answer).await.unwrap();
    connections::track(&e.ctx, &e.actor, id, &Selection::All).await.unwrap();
    sync_once(e, id).await;
    id
}

fn approve(bank: &dyn Bank, pending: &PendingAuthorization) -> AuthAnswer {
    bank.approve(pending.start.as_ref().expect("a new authorisation says what to do"))
}

async fn reconnect(e: &Engine, bank: &dyn Bank, id: ConnectionId) {
    let pending = connections::begin_reconnect(&e.ctx, &e.actor, id).await.unwrap();
    let answer = approve(bank, &pending);
    connections::complete_reconnect(&e.ctx, &e.actor, &pending, &answer).await.unwrap();
    sync_once(e, id).await;
}

async fn sync_once(e: &Engine, id: ConnectionId) {
    let report = sync::sync_now(&e.ctx, &e.actor, id, "test").await.unwrap();
    assert!(matches!(report.outcome, SyncOutcome::Ok { partial: false, .. }), "{report:?}");
}

/// A day passes at the bank and at saldo.
fn next_day(e: &Engine, bank: &dyn Bank) {
    e.clock.advance(TimeDelta::days(1));
    bank.set_now(e.now());
}

async fn the_account(e: &Engine) -> Account {
    let accounts = e.ctx.db.accounts(e.actor.user.id).await.unwrap();
    let open: Vec<&Account> = accounts.iter().filter(|a| !a.closed).collect();
    assert_eq!(open.len(), 1, "one account, open: {accounts:?}");
    open[0].clone()
}

async fn stored(e: &Engine, status: TransactionStatus) -> Vec<Transaction> {
    let account = the_account(e).await;
    e.ctx.db.transactions(account.id).await.unwrap().into_iter().filter(|t| t.status == status).collect()
}

fn texts(transactions: &[Transaction]) -> Vec<(String, i64, NaiveDate)> {
    let mut all: Vec<_> =
        transactions.iter().map(|t| (t.description.clone(), t.amount.minor, t.booking_date)).collect();
    all.sort();
    all
}

/// Three card payments begin today and are held for 5, 9 and 40 days, then book under today's
/// date. saldo syncs once a day meanwhile; every payment is stored once, booked, and the pending
/// rows that went are counted as vanished.
async fn held_payments_book_under_the_day_they_began(e: Engine, bank: &dyn Bank) {
    let day0 = e.now().date_naive();
    let salary = booking(Some("salary-1"), day0 - TimeDelta::days(3), 250_000, "Salary");
    let held = [
        (5, booking(Some("hotel-1"), day0, -18_000, "Hotel Adlon")),
        (9, booking(Some("car-1"), day0, -42_050, "Car rental")),
        (40, booking(Some("fuel-1"), day0, -9_990, "Fuel station")),
    ];
    let at = |day: i64| {
        let booked: Vec<Booking> = std::iter::once(salary.clone())
            .chain(held.iter().filter(|(lag, _)| *lag <= day).map(|(_, t)| t.clone()))
            .collect();
        let pending: Vec<Booking> = held.iter().filter(|(lag, _)| *lag > day).map(|(_, t)| t.clone()).collect();
        (booked, pending)
    };
    let (booked, pending) = at(0);
    bank.set_bookings(&booked, &pending);
    let id = connect(&e, bank).await;
    assert_eq!(stored(&e, TransactionStatus::Pending).await.len(), 3);
    for day in 1..=40 {
        next_day(&e, bank);
        let (booked, pending) = at(day);
        bank.set_bookings(&booked, &pending);
        sync_once(&e, id).await;
    }
    let booked = stored(&e, TransactionStatus::Booked).await;
    assert_eq!(
        texts(&booked),
        vec![
            ("Car rental".to_string(), -42_050, day0),
            ("Fuel station".to_string(), -9_990, day0),
            ("Hotel Adlon".to_string(), -18_000, day0),
            ("Salary".to_string(), 250_000, day0 - TimeDelta::days(3)),
        ]
    );
    assert!(stored(&e, TransactionStatus::Pending).await.is_empty());
    let runs = e.ctx.db.sync_runs(id, 100).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.pending_vanished).sum::<u64>(), 3, "each held payment left the pending set once");
    // The longer windows cost no call: one report a sync, however far back it reaches (to the
    // oldest held payment's day while one is pending).
    let reports = bank.transaction_reports();
    assert_eq!(reports.len(), runs.len(), "{reports:?}");
    assert!(reports.iter().skip(1).take(39).all(|from| *from <= day0), "{reports:?}");
}

/// The bank gives a second booking the id of the first: both are stored, once, and the sync that
/// met it says so.
async fn a_reused_id_keeps_both_bookings(e: Engine, bank: &dyn Bank) {
    let day0 = e.now().date_naive();
    let groceries = booking(Some("T-1"), day0 - TimeDelta::days(3), -4_500, "Groceries");
    bank.set_bookings(std::slice::from_ref(&groceries), &[]);
    let id = connect(&e, bank).await;
    next_day(&e, bank);
    let books = booking(Some("T-1"), day0 + TimeDelta::days(1), -1_200, "Bookshop");
    bank.set_bookings(&[groceries.clone(), books.clone()], &[]);
    sync_once(&e, id).await;
    let last = e.ctx.db.sync_runs(id, 1).await.unwrap().remove(0);
    assert_eq!((last.transactions_new, last.reused_ids), (1, 1));
    for _ in 0..2 {
        next_day(&e, bank);
        sync_once(&e, id).await;
    }
    let booked = stored(&e, TransactionStatus::Booked).await;
    assert_eq!(
        texts(&booked),
        vec![
            ("Bookshop".to_string(), -1_200, day0 + TimeDelta::days(1)),
            ("Groceries".to_string(), -4_500, day0 - TimeDelta::days(3)),
        ]
    );
}

/// A reconnect at a bank that gives its accounts (and perhaps its bookings) new ids every time:
/// the same account keeps its history, nothing is stored twice, and what booked meanwhile is there.
async fn a_reconnect_with_new_ids_keeps_one_account_and_each_booking_once(e: Engine, bank: &dyn Bank) {
    let day0 = e.now().date_naive();
    let first = [
        booking(Some("c-1"), day0 - TimeDelta::days(6), -23_010, "Airline"),
        booking(Some("c-2"), day0 - TimeDelta::days(2), -350, "Coffee"),
        booking(Some("c-3"), day0 - TimeDelta::days(2), -350, "Coffee"),
    ];
    bank.set_bookings(&first, &[]);
    let id = connect(&e, bank).await;
    let account = the_account(&e).await;
    next_day(&e, bank);
    bank.change_account_ids();
    let mut later = first.to_vec();
    later.push(booking(Some("c-4"), day0 + TimeDelta::days(1), -1_999, "Cinema"));
    bank.set_bookings(&later, &[]);
    reconnect(&e, bank, id).await;
    assert_eq!(the_account(&e).await.id, account.id, "the same account, not a new one");
    let booked = stored(&e, TransactionStatus::Booked).await;
    assert_eq!(booked.len(), 4, "{:?}", texts(&booked));
}

/// A current account whose product carries the bank's name ("Giro Sparkasse") is a current
/// account, named by its product, not after its holder, whose name is kept apart.
async fn an_account_is_named_and_typed_by_what_the_bank_says_of_it(e: Engine, bank: &dyn Bank) {
    bank.describe("Giro Sparkasse", "Erika Mustermann");
    bank.set_bookings(&[booking(Some("b-1"), e.now().date_naive(), -100, "Bus")], &[]);
    let id = connect(&e, bank).await;
    let account = the_account(&e).await;
    assert_eq!((account.name.as_str(), account.kind), ("Giro Sparkasse", AccountKind::Cash));
    let items = e.ctx.db.items(id).await.unwrap();
    assert_eq!(items[0].owner_name.as_deref(), Some("Erika Mustermann"));
}

type Story<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;

/// Tells a story at a bank on a fresh database of `backend`.
fn tell<B: Bank>(backend: Backend, bank: B, story: for<'a> fn(Engine, &'a dyn Bank) -> Story<'a>) {
    let settings = bank.settings();
    run_engine_with(backend, &settings, |e: Engine| story(e, &bank));
    let _ = &bank; // The emulators serve until the story ends.
}

/// A story at each provider's bank, on each backend.
/// A card payment the bank holds pending is booked first by the household's CSV import, then by
/// the bank a day later, under a new id and for another amount (a tip): stored once, as the bank
/// booked it.
async fn a_pending_payment_an_import_booked_is_booked_once(e: Engine, bank: &dyn Bank) {
    let day0 = e.now().date_naive();
    let salary = booking(Some("salary-1"), day0 - TimeDelta::days(3), 250_000, "Salary");
    bank.set_bookings(std::slice::from_ref(&salary), &[booking(Some("card-77"), day0, -3_488, "Fuel station")]);
    let id = connect(&e, bank).await;
    let account = the_account(&e).await;
    let csv = format!("Date;Text;Amount\n{};KARTENZAHLUNG TANKSTELLE;-34,88\n", day0.format("%d.%m.%Y"));
    let request = saldo_app::import::ImportRequest { account: Some(account.id.to_string()), ..Default::default() };
    let report = saldo_app::import::import_bytes(&e.ctx, &e.actor, "export.csv", csv.into_bytes(), &request).await;
    assert_eq!(report.statements[0].pending_replaced, 1, "{report:?}");
    assert!(stored(&e, TransactionStatus::Pending).await.is_empty());

    next_day(&e, bank);
    bank.set_bookings(&[salary, booking(Some("card-77b"), e.now().date_naive(), -3_971, "Fuel station")], &[]);
    sync_once(&e, id).await;
    let booked = stored(&e, TransactionStatus::Booked).await;
    assert_eq!(
        texts(&booked),
        vec![
            ("Fuel station".to_string(), -3_971, e.now().date_naive()),
            ("Salary".to_string(), 250_000, day0 - TimeDelta::days(3)),
        ],
        "the bank's booking took the import's place"
    );
}

macro_rules! at_every_bank {
    ($story:ident, $gocardless:expr, $enable_banking:expr, $berlin_group:expr) => {
        mod $story {
            use super::*;
            fn story<'a>(e: Engine, bank: &'a dyn Bank) -> Story<'a> {
                Box::pin(super::$story(e, bank))
            }
            #[test]
            fn gocardless_sqlite() {
                tell(Backend::Sqlite, $gocardless, story);
            }
            #[test]
            fn gocardless_postgres() {
                tell(Backend::Postgres, $gocardless, story);
            }
            #[test]
            fn enable_banking_sqlite() {
                tell(Backend::Sqlite, $enable_banking, story);
            }
            #[test]
            fn enable_banking_postgres() {
                tell(Backend::Postgres, $enable_banking, story);
            }
            #[test]
            fn berlin_group_sqlite() {
                tell(Backend::Sqlite, $berlin_group, story);
            }
            #[test]
            fn berlin_group_postgres() {
                tell(Backend::Postgres, $berlin_group, story);
            }
        }
    };
}

at_every_bank!(
    held_payments_book_under_the_day_they_began,
    gocardless(false),
    enable_banking(false, true),
    berlin_group(false)
);
at_every_bank!(
    an_account_is_named_and_typed_by_what_the_bank_says_of_it,
    gocardless(false),
    enable_banking(false, true),
    berlin_group(false)
);
at_every_bank!(a_reused_id_keeps_both_bookings, gocardless(false), enable_banking(false, true), berlin_group(false));
at_every_bank!(
    a_pending_payment_an_import_booked_is_booked_once,
    gocardless(false),
    enable_banking(false, true),
    berlin_group(false)
);
at_every_bank!(
    a_reconnect_with_new_ids_keeps_one_account_and_each_booking_once,
    gocardless(true),
    enable_banking(true, false),
    berlin_group(true)
);

/// Syncs the user asks for, in one day, and how many the budget still lets the scheduler have.
async fn user_syncs_in_a_day(e: &Engine, bank: &dyn Bank, times: usize) -> (Vec<bool>, u32) {
    bank.set_bookings(&[booking(Some("b-1"), e.now().date_naive(), -100, "Bus")], &[]);
    let id = connect(e, bank).await;
    let mut done = Vec::new();
    for _ in 0..times {
        e.clock.advance(TimeDelta::minutes(5));
        bank.set_now(e.now());
        let report = sync::sync_now(&e.ctx, &e.actor, id, "test").await.unwrap();
        done.push(matches!(report.outcome, SyncOutcome::Ok { .. }));
    }
    let record = e.ctx.db.connection_record(id, e.now()).await.unwrap().unwrap();
    (done, record.state.budget.used)
}

/// PSD2 limits only access without the user, and a NextGenPSD2 bank counts only calls without the
/// PSU headers saldo sends when the user asks: the user's syncs cost the scheduler nothing.
#[test]
fn a_psd2_bank_leaves_the_user_s_syncs_out_of_the_daily_count() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let bank = berlin_group(false);
        tell(backend, bank, |e, bank| {
            Box::pin(async move {
                let (done, used) = user_syncs_in_a_day(&e, bank, 6).await;
                assert_eq!(done, vec![true; 6]);
                assert_eq!(used, 0, "no unattended access was spent");
            })
        });
    }
}

/// GoCardless counts every call against an account's daily limit, the user's too: saldo counts
/// them as well, and refuses the fifth access of the day itself rather than earn a 429.
#[test]
fn gocardless_counts_the_user_s_syncs_too() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let bank = gocardless(false);
        tell(backend, bank, |e, bank| {
            Box::pin(async move {
                // The discovery while connecting and the first sync were two accesses.
                let (done, used) = user_syncs_in_a_day(&e, bank, 3).await;
                assert_eq!(done, vec![true, true, false]);
                assert_eq!(used, 4);
            })
        });
    }
}

/// A card the bank knows only by an id it changes with every consent (no IBAN, number or masked
/// PAN): after a reconnect it is offered as new, and the old one is closed. saldo names the look-
/// alike and, once the user says it is the same card, continues its history in the same account
/// with nothing stored twice.
#[test]
fn a_card_known_only_by_a_changing_id_continues_its_account_once_the_user_says_so() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let bank = gocardless(true);
        let mut spec = GoCardless::spec(true);
        spec.details = json!({"resourceId": "card", "currency": "EUR", "cashAccountType": "CARD",
                              "product": "Visa Classic", "ownerName": "Erika Mustermann"});
        bank.api.set_accounts(vec![spec]);
        tell(backend, bank, |e, bank| {
            Box::pin(async move {
                let day0 = e.now().date_naive();
                let first = [booking(Some("c-1"), day0 - TimeDelta::days(2), -2_500, "Airline")];
                bank.set_bookings(&first, &[]);
                let id = connect(&e, bank).await;
                let account = the_account(&e).await;
                next_day(&e, bank);
                bank.change_account_ids();
                let later = [first[0].clone(), booking(Some("c-2"), day0 + TimeDelta::days(1), -990, "Cinema")];
                bank.set_bookings(&later, &[]);
                let pending = connections::begin_reconnect(&e.ctx, &e.actor, id).await.unwrap();
                let answer = approve(bank, &pending);
                let summary = connections::complete_reconnect(&e.ctx, &e.actor, &pending, &answer).await.unwrap();
                assert_eq!((summary.relinked, summary.new_items.len(), summary.vanished.len()), (0, 1, 1));
                let (new, old) = summary.look_alikes.first().cloned().expect("the card looks like the old one");
                assert_eq!((old.account_id, new.name.as_str()), (Some(account.id), "Visa Classic"));
                let tracked =
                    connections::track_as(&e.ctx, &e.actor, id, &new.id.to_string(), account.id).await.unwrap();
                assert_eq!(tracked.account_id, Some(account.id));
                sync_once(&e, id).await;
                assert_eq!(the_account(&e).await.id, account.id, "the same account, open again");
                let booked = stored(&e, TransactionStatus::Booked).await;
                assert_eq!(texts(&booked).iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), ["Airline", "Cinema"]);
                // A second take-over of the same account is refused: the old item gave it up.
                assert!(connections::track_as(&e.ctx, &e.actor, id, &new.id.to_string(), account.id).await.is_err());
            })
        });
    }
}
