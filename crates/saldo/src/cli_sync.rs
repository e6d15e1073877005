//! Command-line handlers for connections and syncing: institutions, connect, items, track,
//! reconnect, disconnect, transactions, notifications, sync and the worker loop.

use crate::cli::{outln, print_json};
use anyhow::Context as _;
use saldo_app::connections::{self, parse_connection_id, PendingAuthorization, Selection};
use saldo_app::ops::{Actor, App, OpsError};
use saldo_app::sync::{self, SyncOutcome, SyncReport};
use saldo_connectors::{AuthAnswer, AuthStart};
use saldo_core::item::Item;
use saldo_store::AuthorizationProgress;
use saldo_web::api::{ConnectionJson, InstitutionJson, ItemJson, NotificationJson, SyncReportJson, TransactionJson};
use std::future::Future;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

pub async fn institutions(ctx: &App, search: Option<String>, refresh: bool, json: bool) -> anyhow::Result<()> {
    if refresh {
        connections::refresh_catalog(ctx, true).await?;
    }
    let list = connections::institutions(ctx, search.as_deref()).await?;
    if json {
        return print_json(&list.iter().map(InstitutionJson::new).collect::<Vec<_>>());
    }
    if list.is_empty() {
        outln!("no institutions match; is a connector configured?");
    }
    for i in list {
        let limit = i.accesses_per_day.map_or("no daily limit".to_string(), |n| format!("{n}/day"));
        outln!("{:<28} {:<32} {:<10} {limit}  {}", i.provider_institution_id, i.name, i.connector, i.description);
    }
    Ok(())
}

/// How the command line answers an authorisation.
#[derive(Debug, Clone, Default)]
pub struct Authorize {
    /// Approve the sandbox bank's consent page without asking.
    pub yes: bool,
    /// A SimpleFIN setup token, or `-` to read it from standard input.
    pub setup_token: Option<String>,
    /// For a bank that authorises in the browser: print the address and return instead of
    /// waiting for `saldo serve` to receive the bank's answer.
    pub no_wait: bool,
}

/// Reads a setup token: given, piped in (`-`), or pasted at a prompt.
fn setup_token(pending: &PendingAuthorization, given: Option<&str>, instructions: &str) -> anyhow::Result<String> {
    let from_stdin = |prompt: bool| -> anyhow::Result<String> {
        if prompt {
            eprintln!("{instructions}");
            eprint!("Setup token: ");
            std::io::stderr().flush().ok();
        }
        let mut token = String::new();
        std::io::stdin().lock().read_line(&mut token)?;
        Ok(token.trim().to_string())
    };
    let token = match given {
        Some("-") => from_stdin(false)?,
        Some(token) => token.trim().to_string(),
        None if std::io::stdin().is_terminal() => from_stdin(true)?,
        None => anyhow::bail!(
            "{} needs a setup token: pass --setup-token TOKEN, or --setup-token - to read it from standard input",
            pending.institution.name
        ),
    };
    if token.is_empty() {
        anyhow::bail!("the setup token is empty");
    }
    Ok(token)
}

/// Completes the authorisation the provider asked for: a setup token, or the sandbox bank's consent
/// page answered in the terminal (the browser shows the same page in the web app), built into the
/// answer the bank's redirect would carry.
/// Asks a yes/no question on the terminal; without one, says how to answer with `--yes`.
pub(crate) fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{question} Run in a terminal to answer, or pass --yes");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

fn approve(pending: &PendingAuthorization, how: &Authorize) -> anyhow::Result<AuthAnswer> {
    let url = match &pending.start {
        Some(AuthStart::SetupToken { instructions }) => {
            let token = setup_token(pending, how.setup_token.as_deref(), instructions)?;
            return Ok(AuthAnswer::SetupToken { token });
        }
        Some(AuthStart::Redirect { url, .. }) => url,
        // The bank asks in its own app; completing polls until the user has answered there.
        Some(AuthStart::Decoupled { reference, instructions }) => {
            eprintln!("{instructions}");
            eprintln!("waiting for your approval in {}'s app…", pending.institution.name);
            return Ok(AuthAnswer::Decoupled { reference: reference.clone() });
        }
        None => anyhow::bail!("{} needs an authorisation this command line cannot complete", pending.institution.name),
    };
    let approved = if how.yes {
        true
    } else {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "{} asks for your consent: run in a terminal to answer, or pass --yes",
                pending.institution.name
            );
        }
        let days = pending.institution.max_consent_days.unwrap_or(90);
        eprintln!("{} ({url}) asks:", pending.institution.name);
        eprint!("  Allow saldo to READ your accounts, balances and transactions for {days} days? No payments are possible. [y/N] ");
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
    };
    let mut params = vec![("state".to_string(), pending.request.state.clone())];
    if approved {
        params.push(("code".into(), "approved".into()));
    } else {
        params.push(("error".into(), "access_denied".into()));
    }
    Ok(AuthAnswer::Callback { params })
}

/// A real bank's consent page sends the browser back to `saldo serve`'s callback, which finishes
/// the authorisation; the sandbox bank's page is answered right here in the terminal.
fn completes_in_browser(pending: &PendingAuthorization) -> bool {
    matches!(pending.start, Some(AuthStart::Redirect { .. }))
        && pending.institution.connector != saldo_connectors::sandbox::CONNECTOR_NAME
}

/// How often the command line looks whether the callback has finished the authorisation.
const CALLBACK_POLL: Duration = Duration::from_millis(500);

/// Prints the bank's address for the browser and, unless told not to, waits until `saldo serve`
/// has received the bank's answer (or the authorisation expired).
async fn through_browser(
    ctx: &App,
    actor: &Actor,
    pending: PendingAuthorization,
    purpose: saldo_store::Purpose,
    how: &Authorize,
    json: bool,
) -> anyhow::Result<()> {
    let callback = pending.request.redirect_url.clone();
    let auth = connections::keep_for_callback(ctx, actor, pending, purpose).await?;
    if json {
        let mut shown = serde_json::to_value(saldo_web::api::AuthorizationJson::new(&auth, &callback))?;
        shown["callback_url"] = serde_json::Value::from(callback.as_str());
        print_json(&shown)?;
    } else {
        outln!("Open this address in your browser to give saldo read-only access at {}:", auth.institution.name);
        outln!("  {}", auth.page().unwrap_or_default());
        outln!("The bank sends you back to {callback}; `saldo serve` must be running there to finish.");
    }
    if how.no_wait {
        return Ok(());
    }
    eprintln!("waiting for the bank's answer (until {})…", auth.expires_at.format("%H:%M UTC"));
    loop {
        match ctx.db.authorization_progress(&auth.state, ctx.clock.now()).await? {
            Some(AuthorizationProgress::Waiting | AuthorizationProgress::Completing) => {
                tokio::time::sleep(CALLBACK_POLL).await
            }
            Some(AuthorizationProgress::Done) => break,
            Some(AuthorizationProgress::Failed(error)) => anyhow::bail!("{error}"),
            None => anyhow::bail!(
                "the authorisation at {} expired before the bank answered; start again",
                auth.institution.name
            ),
        }
    }
    let items = connections::items(ctx, actor, auth.connection_id).await?;
    if !json {
        outln!("connected {} as {}", auth.institution.name, auth.connection_id);
        print_items(&items, &links(ctx, actor, &items).await?, &auth.connection_id.to_string());
    }
    Ok(())
}

pub async fn connect(ctx: &App, institution: &str, how: &Authorize, no_track: bool, json: bool) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    let pending = connections::begin_connect(ctx, &actor, institution).await?;
    if completes_in_browser(&pending) {
        return through_browser(ctx, &actor, pending, saldo_store::Purpose::Connect, how, json).await;
    }
    let answer = approve(&pending, how)?;
    let (connection, items) = connections::complete_connect(ctx, &actor, &pending, &answer).await?;
    let items = if no_track {
        items
    } else {
        connections::track(ctx, &actor, connection, &Selection::All).await?;
        sync::sync_now(ctx, &actor, connection, &saldo_app::worker::worker_id()).await?;
        connections::items(ctx, &actor, connection).await?
    };
    let links = links(ctx, &actor, &items).await?;
    if json {
        return print_json(&serde_json::json!({
            "connection_id": connection.to_string(),
            "institution": pending.institution.name,
            "items": items.iter().map(|i| item_json(i, &links)).collect::<Vec<_>>(),
        }));
    }
    outln!("connected {} as {connection}", pending.institution.name);
    print_items(&items, &links, &connection.to_string());
    if no_track {
        outln!("track items with `saldo track {connection} ITEM…` or `--all`");
    }
    Ok(())
}

/// The user's accounts each offered item of a connection already is.
async fn links(ctx: &App, actor: &Actor, items: &[Item]) -> anyhow::Result<Links> {
    Ok(saldo_app::linking::candidates(ctx, &actor.user, items).await?)
}

type Links = std::collections::HashMap<uuid::Uuid, Vec<saldo_core::account::Account>>;

fn item_json(item: &Item, links: &Links) -> ItemJson {
    ItemJson::linked(item, links.get(&item.id).map_or(&[][..], Vec::as_slice))
}

fn print_items(items: &[Item], links: &Links, connection: &str) {
    for item in items {
        let json = item_json(item, links);
        let identity = json.iban.or(json.masked_number).unwrap_or_default();
        let value = json.current_value.map(|v| format!("{v} {}", json.currency)).unwrap_or_default();
        let state = if json.vanished { "vanished" } else { json.decision };
        outln!("  {}  {:<8} {:<12} {:<22} {:>18}  {identity}", json.id, state, json.kind, json.name, value);
        match json.links_to.as_slice() {
            [] => {}
            [one] => outln!("      will be linked to {:?} ({}), keeping its history", one.name, one.account_id),
            several => {
                let named: Vec<String> = several.iter().map(|l| format!("{:?} ({})", l.name, l.account_id)).collect();
                outln!(
                    "      is one of {}: say which with `saldo track {connection} {} --as ACCOUNT`",
                    named.join(" or "),
                    json.id
                );
            }
        }
    }
}

pub async fn connections(ctx: &App, json: bool) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    let views = connections::connection_views(ctx, &actor).await?;
    if json {
        return print_json(&views.iter().map(ConnectionJson::new).collect::<Vec<_>>());
    }
    if views.is_empty() {
        outln!("no connections yet: `saldo institutions`, then `saldo connect INSTITUTION`");
    }
    for view in views {
        let json = ConnectionJson::new(&view);
        outln!("{}  {:<6} {:<16} {}", json.id, json.color, json.status, json.institution);
        outln!("    {}", json.message);
        let last = json.last_success_at.unwrap_or_else(|| "never".into());
        let next = json.next_sync_at.unwrap_or_else(|| "after you reconnect".into());
        let expires = json.consent_expires_at.unwrap_or_else(|| "-".into());
        outln!("    last update {last}; next {next}; consent until {expires}");
    }
    Ok(())
}

pub async fn items(ctx: &App, connection: &str, json: bool) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    let items = connections::items(ctx, &actor, parse_connection_id(connection)?).await?;
    let links = links(ctx, &actor, &items).await?;
    if json {
        return print_json(&items.iter().map(|i| item_json(i, &links)).collect::<Vec<_>>());
    }
    print_items(&items, &links, connection);
    print_look_alikes(connection, saldo_core::item::look_alikes(&items));
    Ok(())
}

/// Hints for items that may be vanished ones under a new provider id: how to keep their history.
fn print_look_alikes<'a>(
    connection: &str,
    pairs: impl IntoIterator<Item = (&'a saldo_core::item::Item, &'a saldo_core::item::Item)>,
) {
    for (new, old) in pairs {
        if let Some(account) = old.account_id {
            outln!(
                "{} ({}) looks like {}, which the bank no longer shows; if it is the same, keep its history: \
                 saldo track {connection} {} --as {account}",
                new.name,
                new.id,
                old.name,
                new.id
            );
        }
    }
}

pub async fn track(
    ctx: &App,
    connection: &str,
    items: Vec<String>,
    all: bool,
    as_account: Option<String>,
) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    let id = parse_connection_id(connection)?;
    if let Some(account) = as_account {
        let [item] = items.as_slice() else {
            return Err(OpsError::Invalid("--as takes over one account: name one item".into()).into());
        };
        let account = saldo_app::accounts::find_account(ctx, &actor, &account).await?;
        let tracked = connections::track_as(ctx, &actor, id, item, account.id).await?;
        outln!("tracking {} as {} ({}), with its history", tracked.name, account.name, account.id);
        report_line(&sync::sync_now(ctx, &actor, id, &saldo_app::worker::worker_id()).await?);
        return Ok(());
    }
    let selection = match (all, items.is_empty()) {
        (true, _) => Selection::All,
        (false, false) => Selection::Items(items),
        (false, true) => return Err(OpsError::Invalid("name the items to track, or pass --all".into()).into()),
    };
    let tracked = connections::track(ctx, &actor, id, &selection).await?;
    outln!("tracking {} item(s)", tracked.len());
    if !tracked.is_empty() {
        report_line(&sync::sync_now(ctx, &actor, id, &saldo_app::worker::worker_id()).await?);
    }
    Ok(())
}

pub async fn reconnect(ctx: &App, connection: &str, how: &Authorize) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    let id = parse_connection_id(connection)?;
    let pending = connections::begin_reconnect(ctx, &actor, id).await?;
    if completes_in_browser(&pending) {
        return through_browser(ctx, &actor, pending, saldo_store::Purpose::Reconnect, how, false).await;
    }
    let answer = approve(&pending, how)?;
    let summary = connections::complete_reconnect(ctx, &actor, &pending, &answer).await?;
    outln!(
        "reconnected {}: {} tracked account(s) re-linked, {} new item(s) offered, {} vanished",
        pending.institution.name,
        summary.relinked,
        summary.new_items.len(),
        summary.vanished.len()
    );
    let items = connections::items(ctx, &actor, id).await?;
    print_items(&summary.new_items, &links(ctx, &actor, &items).await?, connection);
    print_look_alikes(connection, summary.look_alikes.iter().map(|(new, old)| (new, old)));
    report_line(&sync::sync_now(ctx, &actor, id, &saldo_app::worker::worker_id()).await?);
    Ok(())
}

pub async fn disconnect(ctx: &App, connection: &str, keep: saldo_store::KeptAccounts) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    let id = parse_connection_id(connection)?;
    let revoke_failure = connections::disconnect(ctx, &actor, id, keep).await?;
    if let Some(failure) = revoke_failure {
        outln!("warning: the provider could not be told ({}); revoke access in its app too", failure.code);
    }
    match keep {
        saldo_store::KeptAccounts::None => outln!("disconnected {id} and deleted its accounts"),
        saldo_store::KeptAccounts::Closed => {
            outln!("disconnected {id}; its accounts keep their history, closed: they count in net worth up to today")
        }
        saldo_store::KeptAccounts::Manual => {
            outln!("disconnected {id}; its accounts are manual now, at their last balance: value them by hand")
        }
    }
    Ok(())
}

pub async fn transactions(ctx: &App, account: &str, json: bool) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    let account = saldo_app::accounts::find_account(ctx, &actor, account).await?;
    let list = ctx.db.transactions(account.id).await.context("reading transactions")?;
    if json {
        return print_json(&list.iter().map(TransactionJson::new).collect::<Vec<_>>());
    }
    for t in list {
        let json = TransactionJson::new(&t);
        outln!("{}  {:<7} {:>14} {}  {}", json.booking_date, json.status, json.amount, json.currency, json.description);
    }
    Ok(())
}

pub async fn notifications(ctx: &App, unread: bool, mark_read: bool, json: bool) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    let list = ctx.db.notifications(actor.user.id, unread).await.context("reading notifications")?;
    if json {
        print_json(&list.iter().map(NotificationJson::new).collect::<Vec<_>>())?;
    } else {
        if list.is_empty() {
            outln!("no notifications");
        }
        for n in &list {
            let json = NotificationJson::new(n);
            let read = if json.read { " " } else { "*" };
            outln!("{read} {}  {:<8} {}", json.created_at, json.level, json.message);
        }
    }
    if mark_read {
        ctx.db.mark_notifications_read(actor.user.id, &[], ctx.clock.now()).await?;
    }
    Ok(())
}

fn report_line(report: &SyncReport) {
    let json = SyncReportJson::new(report);
    let detail = match &report.outcome {
        SyncOutcome::Ok { new_transactions, .. } => format!("{new_transactions} new transaction(s)"),
        SyncOutcome::Failed(kind) => kind.user_message(&report.institution),
        SyncOutcome::Refused { reason, .. } => reason.clone(),
        SyncOutcome::LeaseLost => "another worker took over".into(),
    };
    outln!("{}  {:<10} {}: {detail}", json.connection_id, json.outcome, json.institution);
}

pub async fn sync(ctx: &App, connection: Option<String>, json: bool) -> anyhow::Result<()> {
    let reports = match connection {
        Some(connection) => {
            let actor = Actor::local(ctx.local_user().await?);
            vec![sync::sync_now(ctx, &actor, parse_connection_id(&connection)?, &saldo_app::worker::worker_id()).await?]
        }
        None => sync::run_due(ctx, &saldo_app::worker::worker_id(), ctx.clock.now(), 1000).await?,
    };
    if json {
        return print_json(&reports.iter().map(SyncReportJson::new).collect::<Vec<_>>());
    }
    if reports.is_empty() {
        outln!("nothing is due");
    }
    reports.iter().for_each(report_line);
    Ok(())
}

pub async fn worker(ctx: &App, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    saldo_app::worker::work(ctx, &saldo_app::worker::worker_id(), shutdown).await;
    Ok(())
}

pub async fn simulate(
    mut config: crate::config::Config,
    explicit_db: bool,
    options: saldo_app::simulate::SimulateOptions,
    json: bool,
) -> anyhow::Result<()> {
    let scratch = if explicit_db {
        None
    } else {
        let dir =
            std::env::temp_dir().join(format!("saldo-simulate-{}-{:08x}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        config.database_url = saldo_store::DbUrl::Sqlite(dir.join("simulate.db"));
        Some(dir)
    };
    config.sandbox = true;
    config.sandbox_seed = options.seed;
    let clock = saldo_app::clock::Clock::manual(saldo_app::simulate::simulation_start());
    let result = match crate::wiring::open_app(config, clock).await {
        Ok(app) => saldo_app::simulate::simulate(app, &options).await,
        Err(err) => Err(err),
    };
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    let report = result?;
    if json {
        return print_json(&report);
    }
    let t = &report.transactions;
    outln!(
        "{} connections of {} users, {} days on {}: {} syncs ({} ok, {} partial, {} refused), {} recoveries, {} reconnects",
        report.connections,
        report.users,
        report.days,
        report.backend,
        report.syncs.attempted,
        report.syncs.succeeded,
        report.syncs.partial,
        report.syncs.refused,
        report.recoveries,
        report.reconnects
    );
    outln!("errors: {:?}", report.syncs.errors);
    outln!(
        "transactions: {} generated, {} stored, {} lost, {} duplicated, {} awaiting a sync",
        t.generated,
        t.stored,
        t.lost,
        t.duplicated,
        t.awaiting_sync
    );
    outln!("notifications: {:?}", report.notifications);
    outln!(
        "{:.1} s wall ({:.1} s syncing): {:.0} syncs/s, {:.0} rows/s ({} rows), {:.0} transactions/s",
        report.wall_seconds,
        report.sync_seconds,
        report.syncs_per_second,
        report.rows_per_second,
        report.rows_written,
        report.transactions_per_second
    );
    Ok(())
}
