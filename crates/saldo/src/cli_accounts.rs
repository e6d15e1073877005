//! The command line's accounts, valuations, holdings and net worth: arguments in, use cases of
//! `saldo_app::accounts` and `saldo_app::networth` run, their answers printed.

use crate::cli::{outln, print_json, AccountCommand, NetworthArgs, ValuationCommand};
use saldo_app::accounts::{AccountEdit, NewManualAccount};
use saldo_app::networth::NetWorthQuery;
use saldo_app::ops::{self, Actor, App};
use saldo_core::money::Currency;
use saldo_core::networth::NetWorth;
use saldo_web::api::{AccountJson, HoldingJson, NetWorthDayJson, NetWorthJson, ValuationJson};

pub(crate) async fn holdings(ctx: &App, account: &str, json: bool) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    let (account, holdings) = saldo_app::accounts::holdings(ctx, &actor, account).await?;
    let rows: Vec<HoldingJson> = holdings.iter().map(HoldingJson::new).collect();
    if json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        outln!("{:?} holds no positions", account.name);
    }
    for row in rows {
        outln!(
            "{}  {:>14} × {:<12} {:>16} {}  {}",
            row.as_of,
            row.quantity,
            row.unit_price.unwrap_or_default(),
            row.market_value,
            row.currency,
            row.name
        );
    }
    Ok(())
}

pub(crate) async fn networth(ctx: &App, args: NetworthArgs) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    let query =
        NetWorthQuery { date: args.date, currency: args.currency, history: args.history, from: args.from, to: args.to };
    let report = saldo_app::networth::net_worth(ctx, &actor, &query).await?;
    if args.json {
        return print_json(&NetWorthJson::new(&report));
    }
    let currency = report.currency;
    print_net_worth_day(&report.current, currency);
    let json = NetWorthJson::new(&report);
    for left in &json.left_out {
        outln!("  left out: {} ({}): {}", left.name, left.account_id, left.message);
    }
    for rate in &json.stale_rates {
        outln!("  the {} rate used is of {}, over a week old: import newer rates", rate.currency, rate.published);
    }
    if let Some(history) = &report.history {
        outln!();
        outln!("{:<10}  {:>18}  {:>18}  {:>18}", "date", "total", "assets", "liabilities");
        for day in history {
            outln!("{:<10}  {:>18}  {:>18}  {:>18}", day.date, day.total, day.assets, day.liabilities);
        }
    }
    Ok(())
}

fn print_net_worth_day(day: &NetWorth, currency: Currency) {
    let json = NetWorthDayJson::new(day);
    outln!("Net worth on {}: {} {currency}", json.date, json.total);
    outln!("  assets        {:>18} {currency}", json.assets);
    outln!("  liabilities   {:>18} {currency}", json.liabilities);
    for (kind, value) in &json.by_kind {
        outln!("    {kind:<16}{value:>16} {currency}");
    }
}

pub(crate) async fn account(ctx: &App, command: AccountCommand) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    match command {
        AccountCommand::Add { name, kind, currency, value, date, json } => {
            let new = NewManualAccount { name, kind, currency, value: value.map(|v| (v, date)) };
            let account = saldo_app::accounts::create_manual_account(ctx, &actor, new).await?;
            if json {
                let balances = saldo_app::accounts::accounts_with_balances(ctx, &actor, ops::LAST_DAY).await?;
                let balance = balances.iter().find(|b| b.account.id == account.id);
                return print_json(&AccountJson::new(&account, balance));
            }
            outln!("created {} {} {:?} ({})", account.kind, account.id, account.name, account.currency);
        }
        AccountCommand::List { json } => {
            let accounts = saldo_app::accounts::accounts_with_balances(ctx, &actor, ctx.clock.today()).await?;
            let rows: Vec<AccountJson> = accounts.iter().map(|a| AccountJson::new(&a.account, Some(a))).collect();
            if json {
                return print_json(&rows);
            }
            if rows.is_empty() {
                outln!("no accounts yet: add one with `saldo account add`");
            }
            for row in rows {
                let balance = row.balance.map_or("-".to_string(), |b| format!("{b} {}", row.currency));
                let flags = match (row.tracked, row.closed) {
                    (false, _) => " (untracked)",
                    (true, true) => " (closed)",
                    _ => "",
                };
                outln!("{}  {:<15} {:>22}  {}{flags}", row.id, row.kind, balance, row.name);
            }
        }
        AccountCommand::Edit { account, name, kind, track, untrack } => {
            let tracked = if track {
                Some(true)
            } else if untrack {
                Some(false)
            } else {
                None
            };
            let edited =
                saldo_app::accounts::edit_account(ctx, &actor, &account, AccountEdit { name, kind, tracked }).await?;
            outln!("updated {} {:?}", edited.id, edited.name);
        }
        AccountCommand::Delete { account, yes } => {
            if !yes {
                let found = saldo_app::accounts::find_account(ctx, &actor, &account).await?;
                let held = ctx.db.transactions(found.id).await?.len();
                let question = format!("delete {:?} and its history ({held} transactions)?", found.name);
                if !crate::cli_sync::confirm(&question)? {
                    outln!("nothing deleted");
                    return Ok(());
                }
            }
            let deleted = saldo_app::accounts::delete_account(ctx, &actor, &account).await?;
            outln!("deleted {} {:?} and its history", deleted.id, deleted.name);
        }
    }
    Ok(())
}

pub(crate) async fn valuation(ctx: &App, command: ValuationCommand) -> anyhow::Result<()> {
    let actor = Actor::local(ctx.local_user().await?);
    match command {
        ValuationCommand::Set { account, amount, date } => {
            let (account, date, written) =
                saldo_app::accounts::set_valuation(ctx, &actor, &account, &amount, date).await?;
            let verb = match written {
                saldo_store::ValuationWrite::Created => "recorded",
                saldo_store::ValuationWrite::Replaced => "replaced",
            };
            outln!("{verb} {:?} on {date}: {amount} {}", account.name, account.currency);
        }
        ValuationCommand::List { account, json } => {
            let (account, points) = saldo_app::accounts::valuations(ctx, &actor, &account).await?;
            let rows: Vec<ValuationJson> = points.iter().map(|p| ValuationJson::new(&account, p)).collect();
            if json {
                return print_json(&rows);
            }
            for row in rows {
                outln!("{}  {:>18} {}  {}", row.date, row.value, account.currency, row.source);
            }
        }
        ValuationCommand::Delete { account, date } => {
            let account = saldo_app::accounts::delete_valuation(ctx, &actor, &account, date).await?;
            outln!("deleted the valuation of {:?} on {date}", account.name);
        }
    }
    Ok(())
}
