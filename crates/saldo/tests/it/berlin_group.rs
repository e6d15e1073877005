//! A Berlin Group bank end to end, configured in the config file and reached over its emulator:
//! `saldo connect` (one process) creates the consent and prints the bank's SCA page; the bank,
//! which started the authorisation itself, sends the browser to `saldo serve` (another process)
//! without the consent id, which saldo kept with the pending authorisation.

use crate::serve::Server;
use crate::support::both_backends;
use chrono::Utc;
use saldo_emulators::berlin_group::{Approach, Aspsp};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

both_backends!(a_berlin_group_bank_connects_across_processes, |mut saldo| {
    let runtime = runtime();
    let aspsp = runtime.block_on(Aspsp::start(Approach::Redirect));
    #[allow(clippy::disallowed_methods)] // The bank's "today" is the CLI's real one.
    aspsp.set_today(Utc::now().date_naive());
    aspsp.set_explicit_start(false);
    let config = saldo.dir().join("saldo.toml");
    std::fs::write(
        &config,
        format!(
            "sandbox = false\nsimplefin = false\nallow_insecure_loopback = true\n\n[[berlin_group]]\n\
             id = \"demo-bank\"\nname = \"Demo Bank\"\ncountry = \"DE\"\nbic = \"DEMODEFF\"\nbase_url = \"{}\"\n",
            aspsp.base_url()
        ),
    )
    .unwrap();
    saldo.set_env("SALDO_CONFIG", config.to_str().unwrap());
    let server = Server::start(&saldo, &[]);
    saldo.set_env("SALDO_PUBLIC_URL", &format!("http://{}", server.address));

    let listed = saldo.json(&["institutions", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!((listed[0]["connector"].as_str(), listed[0]["bic"].as_str()), (Some("berlin_group"), Some("DEMODEFF")));

    let started = saldo.json(&["connect", "demo-bank", "--no-wait", "--json"]);
    let page = started["authorization_url"].as_str().unwrap();
    let consent = page.rsplit('/').next().unwrap();
    let redirect = aspsp.approve(consent);
    assert!(!redirect.contains(consent), "the bank's redirect does not name the consent: {redirect}");
    let path = redirect.strip_prefix(&format!("http://{}", server.address)).unwrap();
    let (status, body) = server.get(path);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Connected Demo Bank"), "{body}");

    let accounts = saldo.json(&["accounts", "--json"]);
    assert!(!accounts.as_array().unwrap().is_empty(), "{accounts}");
    server.terminate();
    assert!(aspsp.violations().is_empty(), "{:?}", aspsp.violations());
});
