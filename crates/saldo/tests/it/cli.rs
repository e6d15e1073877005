//! The command line, end to end: manual accounts, valuations, exchange rates and net worth, and
//! clean one-line errors for bad input.

use crate::support::{both_backends, check_clean_failure, Saldo};
use serde_json::{json, Value};

fn import_sample_rates(saldo: &Saldo) {
    for file in ["ecb/eurofxref-hist.csv", "ecb/eurofxref.csv", "ecb/eurofxref-hist-90d.xml"] {
        saldo.ok(&["fx", "import", saldo.data_file(file).to_str().unwrap()]);
    }
}

/// A flat in EUR and a mortgage in SEK that is paid down once.
fn add_flat_and_mortgage(saldo: &Saldo) {
    saldo.ok(&[
        "account",
        "add",
        "--name",
        "Flat",
        "--kind",
        "real_estate",
        "--currency",
        "EUR",
        "--value",
        "300000",
        "--date",
        "2026-01-02",
    ]);
    saldo.ok(&["account", "add", "--name", "Mortgage", "--kind", "mortgage", "--currency", "sek"]);
    saldo.ok(&["valuation", "set", "Mortgage", "2000000", "--date", "2025-12-31"]);
    saldo.ok(&["valuation", "set", "mortgage", "1990000", "--date", "2026-01-07"]);
}

both_backends!(empty_database_has_zero_net_worth, |saldo| {
    let networth = saldo.json(&["networth", "--json"]);
    assert_eq!(networth["total"], "0.00");
    assert_eq!(networth["assets"], "0.00");
    assert_eq!(networth["liabilities"], "0.00");
    assert_eq!(networth["currency"], "EUR");
    assert_eq!(networth["by_kind"], json!({}));
    assert_eq!(saldo.json(&["account", "list", "--json"]), json!([]));
});

both_backends!(asset_and_mortgage_in_two_currencies, |saldo| {
    import_sample_rates(&saldo);
    add_flat_and_mortgage(&saldo);

    let now = saldo.json(&["networth", "--date", "2026-01-08", "--json"]);
    // 1,990,000 SEK at 12.2 SEK/EUR = 163,114.754… EUR, rounded to the cent.
    assert_eq!(now["liabilities"], "163114.75");
    assert_eq!(now["assets"], "300000.00");
    assert_eq!(now["total"], "136885.25");
    assert_eq!(now["by_kind"], json!({"mortgage": "163114.75", "real_estate": "300000.00"}));

    let in_sek = saldo.json(&["networth", "--date", "2026-01-08", "--currency", "SEK", "--json"]);
    assert_eq!(in_sek["total"], "1670000.00");

    let history = saldo.json(&["networth", "--date", "2026-01-08", "--history", "--json"]);
    let days: Vec<(String, String)> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["date"].as_str().unwrap().to_string(), d["total"].as_str().unwrap().to_string()))
        .collect();
    let expected = [
        ("2025-12-31", "-200000.00"), // 2,000,000 SEK at 10.0
        ("2026-01-01", "-200000.00"), // a holiday: the rate of the day before
        ("2026-01-02", "126086.96"),  // the flat appears; SEK at 11.5
        ("2026-01-03", "126086.96"),
        ("2026-01-04", "126086.96"),
        ("2026-01-05", "140000.00"), // SEK at 12.5
        ("2026-01-06", "138709.68"), // from the daily CSV: 12.4
        ("2026-01-07", "138211.38"), // paid down to 1,990,000; 12.3 from the XML
        ("2026-01-08", "136885.25"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(d, t)| (d.to_string(), t.to_string())).collect();
    assert_eq!(days, expected);

    let window = saldo.json(&["networth", "--history", "--from", "2026-01-05", "--to", "2026-01-06", "--json"]);
    assert_eq!(window["history"].as_array().unwrap().len(), 2);
    assert_eq!(window["history"][1]["by_kind"]["mortgage"], "161290.32");

    let human = saldo.ok(&["networth", "--date", "2026-01-08"]);
    assert!(human.contains("Net worth on 2026-01-08: 136885.25 EUR"), "{human}");
});

both_backends!(untracked_accounts_do_not_count, |saldo| {
    saldo.ok(&[
        "account",
        "add",
        "--name",
        "Car",
        "--kind",
        "vehicle",
        "--currency",
        "EUR",
        "--value",
        "15000.50",
        "--date",
        "2026-01-01",
    ]);
    saldo.ok(&[
        "account",
        "add",
        "--name",
        "Cash",
        "--kind",
        "cash",
        "--currency",
        "EUR",
        "--value",
        "100",
        "--date",
        "2026-01-01",
    ]);
    assert_eq!(saldo.json(&["networth", "--date", "2026-01-01", "--json"])["total"], "15100.50");
    saldo.ok(&["account", "edit", "Car", "--untrack"]);
    assert_eq!(saldo.json(&["networth", "--date", "2026-01-01", "--json"])["total"], "100.00");
    let accounts = saldo.json(&["account", "list", "--json"]);
    let car = accounts.as_array().unwrap().iter().find(|a| a["name"] == "Car").unwrap();
    assert_eq!(car["tracked"], false);
    assert_eq!(car["balance"], "15000.50");
    saldo.ok(&["account", "edit", "Car", "--track"]);
    assert_eq!(saldo.json(&["networth", "--date", "2026-01-01", "--json"])["total"], "15100.50");
});

both_backends!(manual_accounts_are_edited_and_deleted, |saldo| {
    let created = saldo.json(&[
        "account",
        "add",
        "--name",
        "Loan from Ann",
        "--kind",
        "loan",
        "--currency",
        "EUR",
        "--value",
        "5000",
        "--date",
        "2026-03-01",
        "--json",
    ]);
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["class"], "liability");
    assert_eq!(created["balance"], "-5000.00", "an owed liability has a negative balance");
    assert_eq!(created["origin"], "manual");

    saldo.ok(&["account", "edit", &id, "--name", "Loan from Anna", "--kind", "other_liability"]);
    let err = saldo.fail(&["account", "edit", &id, "--kind", "savings"]);
    assert!(err.contains("cannot change liability") && err.contains("savings"), "{err}");

    // A valuation on the same day replaces the first; another day adds to the history.
    saldo.ok(&["valuation", "set", "Loan from Anna", "4500", "--date", "2026-03-01"]);
    saldo.ok(&["valuation", "add", &id, "4000", "--date", "2026-04-01"]);
    let valuations = saldo.json(&["valuation", "list", &id, "--json"]);
    let values: Vec<(&str, &str)> = valuations
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["date"].as_str().unwrap(), v["value"].as_str().unwrap()))
        .collect();
    assert_eq!(values, vec![("2026-03-01", "4500.00"), ("2026-04-01", "4000.00")]);
    assert_eq!(saldo.json(&["networth", "--date", "2026-03-15", "--json"])["total"], "-4500.00");

    saldo.ok(&["valuation", "delete", &id, "--date", "2026-04-01"]);
    let err = saldo.fail(&["valuation", "delete", &id, "--date", "2026-04-01"]);
    assert!(err.contains("no valuation on 2026-04-01"), "{err}");
    assert_eq!(saldo.json(&["networth", "--date", "2026-05-01", "--json"])["total"], "-4500.00");

    // Deleting asks first: without a terminal to answer, nothing goes.
    let err = saldo.fail(&["account", "delete", &id]);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(saldo.json(&["account", "list", "--json"]).as_array().unwrap().len(), 1);
    saldo.ok(&["account", "delete", &id, "--yes"]);
    assert_eq!(saldo.json(&["account", "list", "--json"]), json!([]));
    assert_eq!(saldo.json(&["networth", "--date", "2026-05-01", "--json"])["total"], "0.00");
    let err = saldo.fail(&["account", "delete", &id, "--yes"]);
    assert!(err.contains(&format!("no account with id {id}")), "{err}");
});

both_backends!(bad_input_is_one_clear_line, |saldo| {
    let err = saldo.fail(&["account", "add", "--name", "X", "--kind", "cash", "--currency", "EURO"]);
    assert!(err.contains("unknown currency \"EURO\""), "{err}");
    let err = saldo.fail(&["networth", "--date", "2026-02-30"]);
    assert!(err.contains("2026-02-30") && err.contains("YYYY-MM-DD"), "{err}");
    let err = saldo.fail(&["account", "add", "--name", "X", "--kind", "house", "--currency", "EUR"]);
    assert!(err.contains("unknown account kind \"house\"") && err.contains("real_estate"), "{err}");
    let err = saldo.fail(&["account", "add", "--name", "X", "--kind", "cash"]);
    assert!(err.contains("--currency"), "{err}");
    let err = saldo.fail(&["account", "add", "--name", " ", "--kind", "cash", "--currency", "EUR"]);
    assert!(err.contains("account name is empty"), "{err}");

    saldo.ok(&[
        "account",
        "add",
        "--name",
        "Savings",
        "--kind",
        "savings",
        "--currency",
        "SEK",
        "--value",
        "1000",
        "--date",
        "2026-01-01",
    ]);
    let err = saldo.fail(&["valuation", "set", "Savings", "12,50"]);
    assert!(err.contains("invalid amount \"12,50\""), "{err}");
    let err = saldo.fail(&["valuation", "set", "Savings", "1.005"]);
    assert!(err.contains("more decimals than SEK allows"), "{err}");
    let err = saldo.fail(&["valuation", "set", "Nope", "1"]);
    assert!(err.contains("no account named \"Nope\""), "{err}");

    // A SEK account and no rates: it is left out and named, never taken at 1.
    let worth = saldo.json(&["networth", "--date", "2026-01-03", "--json"]);
    assert_eq!((worth["total"].as_str(), worth["left_out"][0]["reason"].as_str()), (Some("0.00"), Some("no_rate")));
    // Asked in a currency without any rate, nothing converts: that is an error.
    let err = saldo.fail(&["networth", "--date", "2026-01-03", "--currency", "USD"]);
    assert_eq!(
        err,
        "error: no exchange rate for USD on or before 2026-01-03: import ECB reference rates with `saldo fx import FILE`"
    );
    // The same account in its own currency needs no rate.
    assert_eq!(saldo.json(&["networth", "--date", "2026-01-03", "--currency", "SEK", "--json"])["total"], "1000.00");
    let err = saldo.fail(&["networth", "--history", "--from", "2026-02-01", "--to", "2026-01-01"]);
    assert!(err.contains("--from 2026-02-01 is after --to 2026-01-01"), "{err}");
});

both_backends!(a_broken_rate_file_writes_nothing, |saldo| {
    let broken = saldo.data_file("ecb/broken-hist-90d.xml");
    let err = saldo.fail(&["fx", "import", broken.to_str().unwrap()]);
    assert!(err.contains("broken-hist-90d.xml") && err.contains("2026-02-31") && err.contains("byte"), "{err}");
    assert_eq!(saldo.json(&["fx", "list", "--json"]), json!([]));

    let not_rates = saldo.dir().join("statement.txt");
    std::fs::write(&not_rates, "hello").unwrap();
    let err = saldo.fail(&["fx", "import", not_rates.to_str().unwrap()]);
    assert!(err.contains("not an ECB reference-rate file"), "{err}");
    let err = saldo.fail(&["fx", "import", "/nonexistent/rates.csv"]);
    assert!(err.contains("cannot read /nonexistent/rates.csv"), "{err}");

    import_sample_rates(&saldo);
    import_sample_rates(&saldo);
    let coverage = saldo.json(&["fx", "list", "--json"]);
    let sek = coverage.as_array().unwrap().iter().find(|c| c["currency"] == "SEK").unwrap().clone();
    assert_eq!(sek, json!({"currency": "SEK", "first": "2025-12-31", "last": "2026-01-08", "days": 6}));
});

both_backends!(base_currency_is_a_user_setting, |saldo| {
    saldo.ok(&[
        "account",
        "add",
        "--name",
        "Cash",
        "--kind",
        "cash",
        "--currency",
        "SEK",
        "--value",
        "250",
        "--date",
        "2026-01-01",
    ]);
    saldo.ok(&["user", "set-base-currency", "SEK"]);
    let networth = saldo.json(&["networth", "--date", "2026-01-02", "--json"]);
    assert_eq!((networth["currency"].clone(), networth["total"].clone()), (json!("SEK"), json!("250.00")));
});

#[test]
fn runs_with_no_configuration_in_the_platform_data_directory() {
    let saldo = Saldo::new(crate::support::Backend::Sqlite);
    let output = saldo.bare_command().args(["networth", "--json"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let networth: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(networth["total"], "0.00");
    assert!(saldo.dir().join(".local/share/saldo/saldo.db").exists());
}

#[test]
fn unreachable_or_unsupported_databases_are_reported() {
    let saldo = Saldo::new(crate::support::Backend::Sqlite);
    let output =
        saldo.bare_command().args(["--db", "postgres://saldo:pw@127.0.0.1:1/saldo", "networth"]).output().unwrap();
    let err = check_clean_failure(&output, &["networth"]);
    assert!(err.contains("cannot open database postgres://saldo:***@127.0.0.1:1/saldo"), "{err}");
    assert!(!err.contains(":pw@"), "the password leaked: {err}");
    let output = saldo.bare_command().env("SALDO_DATABASE_URL", "mysql://db/saldo").arg("networth").output().unwrap();
    let err = check_clean_failure(&output, &["networth"]);
    assert!(err.contains("invalid database_url (from environment SALDO_DATABASE_URL)"), "{err}");
}

#[test]
fn config_check_shows_sources_and_hides_secrets() {
    let saldo = Saldo::new(crate::support::Backend::Sqlite);
    let file = saldo.dir().join("saldo.toml");
    std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nbase_currency = \"CHF\"\n").unwrap();
    let output = saldo
        .bare_command()
        .env("SALDO_DATABASE_URL", "postgres://saldo:hunter2@db.example/saldo")
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success());
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(
        stdout.contains("database_url = \"postgres://saldo:***@db.example/saldo\"  # environment SALDO_DATABASE_URL"),
        "{stdout}"
    );
    assert!(stdout.contains("listen = \"0.0.0.0:9000\"  # file"), "{stdout}");
    assert!(stdout.contains("base_currency = \"CHF\""), "{stdout}");

    std::fs::write(&file, "base_currency = \"CHF\"\nport = 1\n").unwrap();
    let output = saldo.bare_command().args(["--config", file.to_str().unwrap(), "config", "check"]).output().unwrap();
    let err = check_clean_failure(&output, &["config", "check"]);
    assert!(err.contains("unknown field `port`") && err.contains("line 2"), "{err}");
}

#[test]
fn every_subcommand_has_help() {
    let saldo = Saldo::new(crate::support::Backend::Sqlite);
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["networth", "--help"],
        vec!["account", "add", "--help"],
        vec!["account", "list", "--help"],
        vec!["account", "edit", "--help"],
        vec!["account", "delete", "--help"],
        vec!["valuation", "set", "--help"],
        vec!["valuation", "list", "--help"],
        vec!["valuation", "delete", "--help"],
        vec!["fx", "import", "--help"],
        vec!["fx", "list", "--help"],
        vec!["user", "show", "--help"],
        vec!["user", "set-base-currency", "--help"],
        vec!["config", "check", "--help"],
        vec!["institutions", "--help"],
        vec!["connect", "--help"],
        vec!["connections", "--help"],
        vec!["items", "--help"],
        vec!["track", "--help"],
        vec!["reconnect", "--help"],
        vec!["disconnect", "--help"],
        vec!["accounts", "--help"],
        vec!["transactions", "--help"],
        vec!["notifications", "--help"],
        vec!["sync", "--help"],
        vec!["worker", "--help"],
        vec!["simulate", "--help"],
    ] {
        let output = saldo.bare_command().args(&args).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success() && stdout.contains("Usage: saldo"), "{args:?}: {stdout}");
    }
}

both_backends!(connecting_the_sandbox_bank_from_the_command_line, |saldo| {
    let institutions = saldo.json(&["institutions", "--json"]);
    assert!(institutions.as_array().unwrap().len() >= 12);
    let found = saldo.json(&["institutions", "broker", "--json"]);
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["provider_id"], "sandbox-broker");

    // Without --yes and without a terminal to ask in, nothing is connected.
    let err = saldo.fail(&["connect", "sandbox-bank"]);
    assert!(err.contains("asks for your consent") && err.contains("--yes"), "{err}");
    assert_eq!(saldo.json(&["connections", "--json"]), json!([]));

    let connected = saldo.json(&["connect", "sandbox-bank", "--yes", "--json"]);
    let connection = connected["connection_id"].as_str().unwrap().to_string();
    let items = connected["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|i| i["tracked"] == true), "all items are tracked by default");

    let connections = saldo.json(&["connections", "--json"]);
    let c = &connections[0];
    for field in [
        "id",
        "institution",
        "status",
        "color",
        "message",
        "error",
        "last_success_at",
        "next_sync_at",
        "consent_expires_at",
    ] {
        assert!(c.get(field).is_some(), "connections lacks {field}: {c}");
    }
    assert_eq!((c["status"].as_str(), c["color"].as_str()), (Some("ok"), Some("green")));
    assert_eq!(c["error"], Value::Null);

    let accounts = saldo.json(&["accounts", "--json"]);
    let accounts = accounts.as_array().unwrap();
    assert_eq!(accounts.len(), 3);
    assert!(accounts.iter().all(|a| a["connection_id"] == connection.as_str() && a["balance"].is_string()));
    let card = accounts.iter().find(|a| a["kind"] == "credit_card").unwrap();
    assert_eq!(card["class"], "liability");

    let cash = accounts.iter().find(|a| a["kind"] == "cash").unwrap()["id"].as_str().unwrap().to_string();
    let transactions = saldo.json(&["transactions", "--account", &cash, "--json"]);
    let first = &transactions[0];
    for field in ["id", "provider_id", "booking_date", "value_date", "amount", "currency", "description", "status"] {
        assert!(first.get(field).is_some(), "transactions lacks {field}: {first}");
    }
    let count = transactions.as_array().unwrap().len();
    assert!(count > 30, "90 days of history: {count}");

    // A forced sync right away adds nothing twice.
    let report = saldo.json(&["sync", "--connection", &connection, "--json"]);
    assert_eq!((report[0]["outcome"].as_str(), report[0]["new_transactions"].as_u64()), (Some("ok"), Some(0)));
    assert_eq!(saldo.json(&["transactions", "--account", &cash, "--json"]).as_array().unwrap().len(), count);
    assert_eq!(saldo.json(&["notifications", "--json"]), json!([]));
    assert!(saldo.json(&["networth", "--json"])["total"].is_string());

    // Disconnecting keeps the history, closed; --delete-history removes it.
    saldo.ok(&["disconnect", &connection]);
    let kept = saldo.json(&["accounts", "--json"]);
    assert!(kept.as_array().unwrap().iter().all(|a| a["closed"] == true && a["connection_id"].is_null()));
    assert_eq!(saldo.json(&["transactions", "--account", &cash, "--json"]).as_array().unwrap().len(), count);
    let again = saldo.json(&["connect", "sandbox-lender", "--yes", "--json"]);
    saldo.ok(&["disconnect", again["connection_id"].as_str().unwrap(), "--delete-history"]);
    assert_eq!(saldo.json(&["accounts", "--json"]).as_array().unwrap().len(), 3);
    let err = saldo.fail(&["disconnect", &connection]);
    assert!(err.contains("no connection with id"), "{err}");
});

#[test]
fn the_sandbox_can_be_turned_off() {
    let saldo = Saldo::new(crate::support::Backend::Sqlite);
    let output = saldo.command(&["institutions", "--json"]).env("SALDO_SANDBOX", "false").output().unwrap();
    assert!(output.status.success());
    let listed = serde_json::from_slice::<Value>(&output.stdout).unwrap();
    let connectors: Vec<&str> = listed.as_array().unwrap().iter().map(|i| i["connector"].as_str().unwrap()).collect();
    assert_eq!(connectors, ["simplefin"], "{listed}");
    // SimpleFIN needs no keys of saldo's own, so it is on unless turned off too.
    let output = saldo
        .command(&["institutions", "--json"])
        .env("SALDO_SANDBOX", "false")
        .env("SALDO_SIMPLEFIN", "false")
        .output()
        .unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&output.stdout).unwrap(), json!([]));
    let output = saldo.command(&["connect", "sandbox-bank", "--yes"]).env("SALDO_SANDBOX", "false").output().unwrap();
    let err = check_clean_failure(&output, &["connect"]);
    assert!(err.contains("no institution \"sandbox-bank\""), "{err}");
}

both_backends!(simulate_reports_no_loss_no_duplicates_no_repeats, |saldo| {
    let args = ["simulate", "--connections", "24", "--days", "4", "--seed", "5", "--importers", "50", "--json"];
    let report = saldo.json(&args);
    for field in [
        "connections",
        "days",
        "syncs",
        "recoveries",
        "transactions",
        "notifications",
        "wall_seconds",
        "sync_seconds",
        "syncs_per_second",
        "rows_per_second",
        "transactions_per_second",
    ] {
        assert!(report.get(field).is_some(), "simulate lacks {field}: {report}");
    }
    for field in ["attempted", "succeeded", "partial", "errors"] {
        assert!(report["syncs"].get(field).is_some(), "syncs lacks {field}");
    }
    assert_eq!(report["connections"], 24);
    let connected: u64 = report["connected"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(connected + report["never_connected"].as_u64().unwrap(), 24, "{report}");
    assert!(report["syncs"]["attempted"].as_u64().unwrap() > 24 * 4);
    let t = &report["transactions"];
    assert!(t["generated"].as_u64().unwrap() > 1000, "{t}");
    assert_eq!((t["lost"].as_u64(), t["duplicated"].as_u64()), (Some(0), Some(0)), "{t}");
    // Households that imported statements before tracking their accounts: each account once.
    assert!(report["imported_first"].as_u64().unwrap() > 0 && t["imported"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["doubled_accounts"], 0, "{report}");
    assert_eq!(report["notifications"]["repeated"], 0);
    assert!(report["notifications"].get("reconnect_needed").is_some());
    // Every sync writes at least its run record and its state; the new transactions come on top.
    let rows = report["rows_written"].as_u64().unwrap();
    let synced = t["stored"].as_u64().unwrap() - t["imported"].as_u64().unwrap();
    assert!(rows >= 2 * report["syncs"]["attempted"].as_u64().unwrap() + synced, "{report}");
});

#[test]
fn simulate_repeats_exactly_for_a_seed() {
    let saldo = Saldo::new(crate::support::Backend::Sqlite);
    let run = || {
        let output = saldo
            .bare_command()
            .args(["simulate", "--connections", "48", "--days", "6", "--seed", "9", "--json"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let mut report: Value = serde_json::from_slice(&output.stdout).unwrap();
        for timing in ["wall_seconds", "sync_seconds", "syncs_per_second", "rows_per_second", "transactions_per_second"]
        {
            report.as_object_mut().unwrap().remove(timing);
        }
        report
    };
    assert_eq!(run(), run());
}

#[test]
fn a_database_from_a_newer_saldo_is_refused_before_anything_is_written() {
    let saldo = Saldo::new(crate::support::Backend::Sqlite);
    saldo.ok(&["account", "add", "--name", "Flat", "--kind", "real_estate", "--currency", "EUR"]);
    let path = saldo.db_url().strip_prefix("sqlite://").unwrap().to_string();
    let future = rusqlite::Connection::open(&path).unwrap();
    future
        .execute_batch(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from_the_future', TRUE, x'00', 0)",
        )
        .unwrap();
    for command in [
        &["migrate"][..],
        &["accounts"],
        &["account", "add", "--name", "Car", "--kind", "vehicle", "--currency", "EUR"],
    ] {
        let err = saldo.fail(command);
        assert!(err.contains("newer saldo") && err.contains("9999_from_the_future"), "{command:?}: {err}");
    }
    // Back to a schema this build knows: what the refused commands would have written is not there.
    future.execute_batch("DELETE FROM _sqlx_migrations WHERE version = 9999").unwrap();
    let accounts = saldo.json(&["accounts", "--json"]);
    assert_eq!(accounts.as_array().unwrap().len(), 1, "{accounts}");
}

#[test]
fn the_data_directory_and_its_files_are_the_owner_s_only_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let saldo = Saldo::new(crate::support::Backend::Sqlite);
    let data = saldo.dir().join("data").join("saldo");
    let db = data.join("saldo.db");
    let key = data.join("keys").join("secret.key");
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let output = std::process::Command::new("sh")
        .env_clear()
        .env("HOME", saldo.dir())
        .env("PATH", "/usr/bin:/bin")
        .args(["-c", "umask 000; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_saldo"))
        .env("SALDO_SECRET_KEY_FILE", &key)
        .args(["--db", &format!("sqlite://{}", db.display())])
        .args(["account", "add", "--name", "Cash", "--kind", "cash", "--currency", "EUR", "--value", "5"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    for dir in [saldo.dir().join("data"), data.clone(), data.join("keys")] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    for file in ["saldo.db", "saldo.db-wal", "saldo.db-shm", "keys/secret.key"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }

    // A database an earlier build left readable by everyone is named, with what to do.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_saldo"))
        .env_clear()
        .env("HOME", saldo.dir())
        .env("SALDO_SECRET_KEY_FILE", &key)
        .args(["--db", &format!("sqlite://{}", db.display()), "accounts"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success());
    assert!(said.contains("saldo.db") && said.contains("644") && said.contains("chmod 600"), "{said}");
}
