//! Users and sign-in over real HTTP on both backends: claiming an install with its setup code,
//! sessions in cookies, API tokens of both scopes, household members who see only their own
//! data, the limits on guessing, and no credential in the log or the database in clear.

use crate::serve::{http_client, Server};
use crate::support::{both_backends, database_dump, Saldo};
use reqwest::blocking::RequestBuilder;
use serde_json::{json, Value};
use std::io::Write as _;
use std::process::Stdio;

const OWNER_PASSWORD: &str = "correct horse battery";
const MEMBER_PASSWORD: &str = "staple of the household";

/// What a request got: status, the session cookie it set (if any), JSON body.
struct Answer {
    status: u16,
    cookie: Option<String>,
    set_cookie: Option<String>,
    body: Value,
    retry_after: Option<String>,
}

fn send(request: RequestBuilder) -> Answer {
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let set_cookie = header("set-cookie");
    let retry_after = header("retry-after");
    let cookie = set_cookie.as_deref().and_then(|c| c.split(';').next()).map(str::to_string);
    let text = response.text().unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Answer { status, cookie, set_cookie, body, retry_after }
}

struct Api<'a> {
    server: &'a Server,
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.server.address)
    }
    fn anonymous(&self, method: &str, path: &str, body: Option<Value>) -> RequestBuilder {
        let request = http_client().request(method.parse().unwrap(), self.url(path));
        match body {
            Some(body) => request.json(&body),
            None => request,
        }
    }
    fn with_cookie(&self, cookie: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        let host = &self.server.address;
        send(
            self.anonymous(method, path, body)
                .header("cookie", cookie)
                .header("origin", format!("http://{host}"))
                .header("sec-fetch-site", "same-origin"),
        )
    }
    fn with_token(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        send(self.anonymous(method, path, body).bearer_auth(token))
    }
}

both_backends!(an_install_is_claimed_with_its_setup_code_and_each_user_sees_only_their_own, |saldo| {
    // Data from before sign-in existed: the command line's implicit user.
    saldo.ok(&["account", "add", "--name", "Flat", "--kind", "real_estate", "--currency", "EUR", "--value", "1000"]);
    let server = Server::start(&saldo, &[]);
    let api = Api { server: &server };
    let code = server.setup_code.clone().expect("a setup code is logged while nobody can sign in");

    // Nothing without credentials.
    let answer = send(api.anonymous("GET", "/accounts", None));
    assert_eq!((answer.status, answer.body["error"]["code"].as_str()), (401, Some("unauthenticated")));

    // The claim needs the setup code.
    let claim = json!({"email": "Ana@Example.org", "password": OWNER_PASSWORD, "display_name": "Ana"});
    let answer = send(api.anonymous("POST", "/auth/signup", Some(claim.clone())));
    assert_eq!(answer.status, 403, "{:?}", answer.body);
    let mut wrong = claim.clone();
    wrong["setup_code"] = json!("AAAA-BBBB-CCCC-DDDD");
    assert_eq!(send(api.anonymous("POST", "/auth/signup", Some(wrong))).status, 403);
    let mut right = claim.clone();
    right["setup_code"] = json!(code);
    let answer = send(api.anonymous("POST", "/auth/signup", Some(right.clone())));
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    assert_eq!((answer.body["email"].as_str(), answer.body["role"].as_str()), (Some("ana@example.org"), Some("owner")));
    let set_cookie = answer.set_cookie.unwrap();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(part), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "no https here: {set_cookie}");
    let ana = answer.cookie.unwrap();
    // The install's data is the owner's.
    let accounts = api.with_cookie(&ana, "GET", "/accounts", None);
    assert_eq!(accounts.body[0]["name"], "Flat");
    // A code works once; sign-up is closed afterwards.
    assert_eq!(send(api.anonymous("POST", "/auth/signup", Some(right))).status, 403);

    // Sign out, sign in, a wrong password.
    assert_eq!(api.with_cookie(&ana, "POST", "/auth/logout", None).status, 204);
    assert_eq!(api.with_cookie(&ana, "GET", "/me", None).status, 401);
    let wrong = json!({"email": "ana@example.org", "password": "not the password"});
    let answer = send(api.anonymous("POST", "/auth/login", Some(wrong)));
    assert_eq!((answer.status, answer.body["error"]["message"].as_str()), (401, Some("wrong e-mail or password")));
    let unknown = json!({"email": "nobody@example.org", "password": "not the password"});
    let answer = send(api.anonymous("POST", "/auth/login", Some(unknown)));
    assert_eq!((answer.status, answer.body["error"]["message"].as_str()), (401, Some("wrong e-mail or password")));
    let login = json!({"email": "ana@example.org", "password": OWNER_PASSWORD});
    let answer = send(api.anonymous("POST", "/auth/login", Some(login.clone())));
    assert_eq!(answer.status, 200);
    let ana = answer.cookie.unwrap();
    assert_eq!(api.with_cookie(&ana, "GET", "/me", None).body["display_name"], "Ana");

    // A cookie request from another site changes nothing; one from saldo's own pages does.
    let token_request = json!({"name": "reader", "scope": "read"});
    for (header, value) in [("origin", "http://evil.example"), ("sec-fetch-site", "cross-site")] {
        let request = api.anonymous("POST", "/tokens", Some(token_request.clone())).header("cookie", &ana);
        let answer = send(request.header(header, value));
        assert_eq!(answer.status, 403, "{header}: {value}");
    }
    let read = api.with_cookie(&ana, "POST", "/tokens", Some(token_request));
    assert_eq!((read.status, read.body["scope"].as_str()), (201, Some("read")));
    let read_token = read.body["token"].as_str().unwrap().to_string();
    let write = api.with_cookie(&ana, "POST", "/tokens", Some(json!({"name": "script", "scope": "read_write"})));
    let write_token = write.body["token"].as_str().unwrap().to_string();

    // Tokens: a read token reads and is refused every write; a read-write one writes.
    assert_eq!(api.with_token(&read_token, "GET", "/accounts", None).status, 200);
    let member = json!({"email": "ben@example.org", "password": MEMBER_PASSWORD, "display_name": "Ben"});
    let answer = api.with_token(&read_token, "POST", "/users", Some(member.clone()));
    assert_eq!((answer.status, answer.body["error"]["code"].as_str()), (403, Some("forbidden")));
    let answer = api.with_token(&write_token, "POST", "/users", Some(member));
    assert_eq!((answer.status, answer.body["role"].as_str()), (201, Some("member")));
    let ben_id = answer.body["id"].as_str().unwrap().to_string();
    let listed = api.with_cookie(&ana, "GET", "/tokens", None);
    let names: Vec<&str> = listed.body.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(listed.body.as_array().unwrap().iter().all(|t| t.get("token").is_none()), "a token is shown once");
    assert!(listed.body.as_array().unwrap().iter().any(|t| t["last_used_at"].is_string()), "last use is kept");

    // A member sees only their own; the owner's ids are not there for them.
    let ben = send(api.anonymous(
        "POST",
        "/auth/login",
        Some(json!({"email": "ben@example.org", "password": MEMBER_PASSWORD})),
    ));
    let ben = ben.cookie.unwrap();
    assert_eq!(api.with_cookie(&ben, "GET", "/accounts", None).body, json!([]));
    assert_eq!(api.with_cookie(&ben, "GET", "/users", None).status, 403);
    let read_id = read.body["id"].as_str().unwrap();
    assert_eq!(api.with_cookie(&ben, "DELETE", &format!("/tokens/{read_id}"), None).status, 404);
    assert_eq!(api.with_token(&read_token, "GET", "/accounts", None).status, 200, "still there");
    // The command line acts for whom --user names.
    saldo.ok(&[
        "--user",
        "ben@example.org",
        "account",
        "add",
        "--name",
        "Bike",
        "--kind",
        "vehicle",
        "--currency",
        "EUR",
    ]);
    let bens = api.with_cookie(&ben, "GET", "/accounts", None);
    assert_eq!(bens.body.as_array().unwrap().len(), 1);
    assert_eq!(api.with_cookie(&ana, "GET", "/accounts", None).body.as_array().unwrap().len(), 1);

    // A new password ends the user's other sessions, not the one that changed it.
    let other = send(api.anonymous("POST", "/auth/login", Some(login))).cookie.unwrap();
    let sessions = api.with_cookie(&ana, "GET", "/sessions", None);
    assert_eq!(sessions.body.as_array().unwrap().len(), 2);
    assert_eq!(sessions.body.as_array().unwrap().iter().filter(|s| s["current"] == true).count(), 1);
    let change = json!({"password": {"current": OWNER_PASSWORD, "new": "a brand new passphrase"}});
    assert_eq!(api.with_cookie(&ana, "PATCH", "/me", Some(change)).status, 200);
    assert_eq!(api.with_cookie(&other, "GET", "/me", None).status, 401);
    assert_eq!(api.with_cookie(&ana, "GET", "/me", None).status, 200);
    // Unknown fields are refused, naming them.
    let answer = api.with_cookie(&ana, "PATCH", "/me", Some(json!({"colour": "red"})));
    assert_eq!(answer.status, 400);
    assert!(answer.body["error"]["message"].as_str().unwrap().contains("colour"), "{:?}", answer.body);
    assert_eq!(answer.body["error"]["field"], "colour");

    // Removing a member removes their data and credentials.
    assert_eq!(api.with_cookie(&ana, "DELETE", &format!("/users/{ben_id}"), None).status, 204);
    assert_eq!(api.with_cookie(&ben, "GET", "/me", None).status, 401);
    assert_eq!(api.with_cookie(&ana, "DELETE", &format!("/users/{ben_id}"), None).status, 404);

    // Guessing is limited per account: 429 with when to try again.
    let guess = json!({"email": "ana@example.org", "password": "guess guess guess"});
    let statuses: Vec<u16> =
        (0..6).map(|_| send(api.anonymous("POST", "/auth/login", Some(guess.clone()))).status).collect();
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    let answer = send(api.anonymous("POST", "/auth/login", Some(guess)));
    assert_eq!(answer.status, 429);
    assert!(answer.retry_after.unwrap().parse::<u64>().unwrap() > 0);

    // Revoked tokens stop working.
    let write_id = write.body["id"].as_str().unwrap();
    assert_eq!(api.with_cookie(&ana, "DELETE", &format!("/tokens/{write_id}"), None).status, 204);
    assert_eq!(api.with_token(&write_token, "GET", "/accounts", None).status, 401);

    let (log, server_token) = (server.log.clone(), server.token.clone());
    assert!(server.terminate().success());
    // No password, token or session in the log, nor in clear in the database.
    let log = log.lock().unwrap().clone();
    let dump = String::from_utf8_lossy(&database_dump(&saldo)).into_owned();
    let session_value = |cookie: &str| cookie.split_once('=').unwrap().1.to_string();
    for secret in [OWNER_PASSWORD, MEMBER_PASSWORD, &read_token, &write_token, &session_value(&ana), &server_token] {
        assert!(!log.contains(secret), "the log holds {secret}");
        assert!(!dump.contains(secret), "the database holds {secret} in clear");
    }
});

#[test]
fn the_command_line_adds_the_owner_and_members_with_passwords_from_stdin() {
    let saldo = Saldo::new(crate::support::Backend::Sqlite);
    let add = |args: &[&str], password: &str| {
        let mut child =
            saldo.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let output = add(&["user", "add", "ana@example.org", "--password-stdin", "--json"], OWNER_PASSWORD);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let ana: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(ana["role"], "owner", "the first user is the owner");
    let output = add(&["user", "add", "ben@example.org", "--password-stdin", "--json"], "short");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("at least 10 characters"));
    let output = add(&["user", "add", "ben@example.org", "--password-stdin", "--json"], MEMBER_PASSWORD);
    assert!(output.status.success());
    let output = add(&["user", "add", "Ben@example.org", "--password-stdin"], MEMBER_PASSWORD);
    assert!(String::from_utf8_lossy(&output.stderr).contains("exists already"));
    let output = add(&["user", "add", "carla@example.org", "--owner", "--password-stdin"], MEMBER_PASSWORD);
    assert!(String::from_utf8_lossy(&output.stderr).contains("has an owner already"));
    let users = saldo.json(&["user", "list", "--json"]);
    let roles: Vec<(&str, &str)> =
        users.as_array().unwrap().iter().map(|u| (u["email"].as_str().unwrap(), u["role"].as_str().unwrap())).collect();
    assert_eq!(roles, [("ana@example.org", "owner"), ("ben@example.org", "member")]);
    let err = saldo.fail(&["--user", "nobody@example.org", "accounts"]);
    assert!(err.contains("no user") && err.contains("saldo user list"), "{err}");
    // A server over an install with a password logs no setup code.
    let server = Server::start(&saldo, &[]);
    assert_eq!(server.setup_code, None);
    assert!(server.terminate().success());
}
