//! `saldo import` (its arguments, the run, and the report a person reads) and `saldo fx`, the
//! exchange-rate files.

use crate::cli::{outln, print_json};
use anyhow::Context as _;
use clap::Args;
use saldo_app::ops::{Actor, App};
use saldo_core::account::AccountKind;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The statement files
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The files' format: auto (detect from the content), ofx, camt, mt940 or csv
    #[arg(long, default_value = "auto", value_parser = parse_format)]
    pub format: FormatChoice,
    /// Put every statement into this account (id or name) instead of the one each identifies
    #[arg(long, value_name = "ACCOUNT")]
    pub account: Option<String>,
    /// The kind of account to create for statements that don't say (cash, savings, credit_card…)
    #[arg(long)]
    pub kind: Option<AccountKind>,
    /// The currency (ISO 4217) of the account to create for statements that don't say theirs;
    /// without it such a file is refused, never filed in your base currency
    #[arg(long, value_parser = crate::cli::parse_currency_arg)]
    pub currency: Option<saldo_core::money::Currency>,
    /// Which column (counted from 1) of a CSV file holds the amounts, for a file without a header
    /// whose money columns do not show it; such a file is refused without it
    #[arg(long, value_name = "N")]
    pub amount_column: Option<usize>,
    /// Parse and check the files, write nothing (needs no database; with --account, shows what
    /// that account already holds and what would be new)
    #[arg(long)]
    pub dry_run: bool,
    /// Import what a cut-off file holds (one that ends before its closing tags or closing
    /// balance) instead of refusing it; the report says where it ends
    #[arg(long)]
    pub accept_truncated: bool,
    /// Import a file some of whose entries cannot be read or stored, leaving those out (the
    /// report names each) instead of refusing the file
    #[arg(long)]
    pub skip_unreadable: bool,
    /// Print JSON: {"files": [{"path", "format", "statements": [...], "problems": [...]}]}
    #[arg(long)]
    pub json: bool,
}

/// `--format`: a format, or auto-detection.
#[derive(Debug, Clone, Copy)]
pub struct FormatChoice(pub Option<saldo_import::Format>);

fn parse_format(text: &str) -> Result<FormatChoice, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(FormatChoice(None));
    }
    saldo_import::Format::parse(text)
        .map(|f| FormatChoice(Some(f)))
        .ok_or_else(|| format!("unknown format {text:?}: expected auto, ofx, camt, mt940 or csv"))
}

pub(crate) async fn import(ctx: Option<(&App, &Actor)>, args: &ImportArgs) -> anyhow::Result<()> {
    let request = saldo_app::import::ImportRequest {
        format: args.format.0,
        account: args.account.clone(),
        kind: args.kind,
        dry_run: args.dry_run,
        accept_truncated: args.accept_truncated,
        skip_unreadable: args.skip_unreadable,
        currency: args.currency,
        amount_column: args.amount_column,
    };
    let bar = crate::progress::ProgressBars::new(!args.json);
    let reports =
        saldo_app::import::import_files(ctx, &args.files, &request, &|path, read, size| bar.show(path, read, size))
            .await;
    bar.finish();
    if args.json {
        print_json(&serde_json::json!({ "files": reports }))?;
    } else {
        for report in &reports {
            print_import_report(report);
        }
    }
    let failed: Vec<String> =
        reports.iter().filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.path))).collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "{} of {} files could not be imported, nothing of them was written: {}",
            failed.len(),
            reports.len(),
            failed.join("; ")
        );
    }
    Ok(())
}

fn print_import_report(report: &saldo_app::import::FileReport) {
    let format = report.format.unwrap_or("unknown format");
    let verb = if report.dry_run { "checked" } else { "imported" };
    match &report.error {
        Some(error) if report.truncated.is_some() => {
            outln!("{}: {format}: not imported: {error} (import what it holds with --accept-truncated)", report.path)
        }
        Some(error) if !report.account_candidates.is_empty() => {
            outln!("{}: {format}: not imported: {error} with --account:", report.path);
            for candidate in &report.account_candidates {
                outln!("  --account {}   ({:?}, {})", candidate.id, candidate.name, candidate.currency);
            }
            outln!("  or an account you add for it first (saldo account add)");
        }
        Some(error) if report.format_unknown => {
            outln!("{}: not imported: {error} with --format", report.path)
        }
        Some(error) => outln!("{}: {format}: not imported: {error}", report.path),
        None => outln!("{}: {format}, {} statements {verb}", report.path, report.statements.len()),
    }
    for statement in &report.statements {
        let account = &statement.account;
        let identity = account.iban.as_deref().or(account.number.as_deref()).unwrap_or("no account id in the file");
        let currency = account.currency.as_deref().unwrap_or("");
        let created = if account.created { ", new account" } else { "" };
        let id = account.id.as_deref().map(|id| format!(" → account {id}{created}")).unwrap_or_default();
        outln!("  {identity} {currency}{id}");
        let mut line = format!("    {} transactions, sum {}", statement.transactions, statement.sum);
        if report.error.is_none() && (!report.dry_run || account.id.is_some()) {
            let would = if report.dry_run { "would be " } else { "" };
            line.push_str(&format!(
                "; {would}new {}, duplicate {}, pending replaced {}, balance points {}",
                statement.new, statement.duplicate, statement.pending_replaced, statement.balance_points
            ));
        }
        if statement.reused_ids > 0 {
            line.push_str(&format!(
                "; {} under an id already given to another transaction (kept apart by content)",
                statement.reused_ids
            ));
        }
        if statement.holdings > 0 {
            line.push_str(&format!("; holdings {}", statement.holdings));
        }
        outln!("{line}");
        for (label, balance) in [("opening", &statement.opening_balance), ("closing", &statement.closing_balance)] {
            if let Some(balance) = balance {
                let currency = balance.currency.as_deref().unwrap_or("");
                outln!("    {label} balance {} {currency} on {}", balance.amount, balance.date);
            }
        }
    }
    for problem in &report.problems {
        let at = match (problem.line, problem.offset) {
            (Some(line), _) => format!("line {line}: "),
            (None, Some(offset)) => format!("byte {offset}: "),
            _ => String::new(),
        };
        outln!("  warning: {at}{}", problem.message);
    }
    if report.error.is_none() {
        // The bench kit reads this line to check the count and total.
        outln!("{} transactions, sum {}", report.transactions(), report.sum_shown());
    }
}

/// `saldo fx`: exchange-rate files in, and which rates are there.
pub(crate) async fn fx(ctx: &App, command: crate::cli::FxCommand) -> anyhow::Result<()> {
    match command {
        crate::cli::FxCommand::Import { files, json } => {
            let mut reports = Vec::new();
            for path in &files {
                let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
                let import =
                    saldo_app::fx::import_fx(ctx, &bytes).await.with_context(|| format!("{}", path.display()))?;
                if !json {
                    outln!(
                        "{}: {} rates for {} currencies, {} to {}",
                        path.display(),
                        import.rates,
                        import.currencies.len(),
                        import.first.map_or("-".into(), |d| d.to_string()),
                        import.last.map_or("-".into(), |d| d.to_string()),
                    );
                    for problem in &import.problems {
                        let line = problem.at.line.map(|l| format!("line {l}: ")).unwrap_or_default();
                        outln!("  warning: {line}{}", problem.message);
                    }
                }
                reports.push(saldo_web::api::FxImportJson::new(&import));
            }
            if json {
                return print_json(&reports);
            }
        }
        crate::cli::FxCommand::List { json } => {
            let coverage = ctx.db.rate_coverage().await?;
            if json {
                let rows: Vec<serde_json::Value> = coverage
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "currency": c.currency.code(), "first": c.first.to_string(),
                            "last": c.last.to_string(), "days": c.days,
                        })
                    })
                    .collect();
                return print_json(&rows);
            }
            if coverage.is_empty() {
                outln!("no exchange rates yet: load ECB rates with `saldo fx import FILE`");
            }
            for c in coverage {
                outln!("{}  {} to {}  ({} days)", c.currency, c.first, c.last, c.days);
            }
        }
    }
    Ok(())
}
