//! The sandbox bank's consent page: what a PSD2 bank shows before it lets a third party read
//! accounts. The user sees who asks, for what, for how long and how often, and answers; the page
//! sends the browser back to saldo's callback with `state` and either a code or an error, as a real
//! bank's OAuth redirect does.

use saldo_core::institution::Institution;

/// The page for one authorisation. `redirect_url` is where the answer goes (saldo's
/// `/callback/sandbox`); `state` ties the answer to the authorisation.
pub fn consent_page(institution: &Institution, state: &str, redirect_url: &str) -> String {
    let name = escape(&institution.name);
    let history =
        institution.max_history_days.map_or("the history the bank keeps".to_string(), |d| format!("the last {d} days"));
    let validity =
        institution.max_consent_days.map_or("until you withdraw it".to_string(), |d| format!("for {d} days"));
    let accesses = institution
        .accesses_per_day
        .map_or("as often as saldo needs".to_string(), |n| format!("at most {n} times a day while you are away"));
    let behaviour = if institution.description.is_empty() {
        String::new()
    } else {
        format!("<p class=\"note\">Sandbox behaviour: {}</p>", escape(&institution.description))
    };
    let answer = |label: &str, field: &str, value: &str, class: &str| {
        format!(
            "<form method=\"get\" action=\"{action}\"><input type=\"hidden\" name=\"state\" value=\"{state}\">\
             <input type=\"hidden\" name=\"{field}\" value=\"{value}\">\
             <button type=\"submit\" class=\"{class}\">{label}</button></form>",
            action = escape(redirect_url),
            state = escape(state),
        )
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{name}: allow saldo to read your accounts?</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}}\
         h1{{font-size:1.4rem}}li{{margin:.3rem 0}}.note{{color:#666;font-size:.9rem}}\
         form{{display:inline-block;margin-right:.5rem}}button{{font-size:1rem;padding:.6rem 1.2rem;border-radius:.4rem;\
         border:1px solid #888;cursor:pointer}}.allow{{background:#1f6f3f;color:#fff;border-color:#1f6f3f}}</style></head>\
         <body><p class=\"note\">{name} · sandbox bank built into saldo; no real bank is contacted</p>\
         <h1>Allow saldo to read your accounts at {name}?</h1>\
         <p>saldo asks for <strong>read-only</strong> access:</p><ul>\
         <li>the list of your accounts, cards, loans and investments, with their details</li>\
         <li>their balances and holdings</li>\
         <li>their transactions, over {history}</li></ul>\
         <p>The permission lasts {validity}; saldo may update {accesses}. You can withdraw it at any time in \
         saldo or here at the bank.</p><p><strong>No payment can be made with this permission.</strong></p>\
         {behaviour}<div>{allow}{decline}</div></body></html>\n",
        allow = answer("Allow read-only access", "code", "approved", "allow"),
        decline = answer("Decline", "error", "access_denied", "decline"),
    )
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use saldo_core::ids::InstitutionId;

    fn institution(name: &str) -> Institution {
        Institution {
            id: InstitutionId(uuid::Uuid::nil()),
            connector: "sandbox".into(),
            provider_institution_id: "sandbox-bank".into(),
            name: name.into(),
            country: None,
            bic: None,
            max_history_days: Some(90),
            max_consent_days: Some(180),
            accesses_per_day: Some(4),
            description: "healthy".into(),
            logo_url: None,
        }
    }

    #[test]
    fn the_page_says_what_is_asked_and_answers_to_the_callback() {
        let page = consent_page(&institution("Sandbox Bank"), "s1", "http://127.0.0.1:8080/callback/sandbox");
        for expected in ["read-only", "last 90 days", "for 180 days", "at most 4 times a day", "No payment"] {
            assert!(page.contains(expected), "{expected} missing");
        }
        assert!(page.contains("action=\"http://127.0.0.1:8080/callback/sandbox\""));
        assert!(page.contains("name=\"state\" value=\"s1\""));
        assert!(
            page.contains("name=\"code\" value=\"approved\"")
                && page.contains("name=\"error\" value=\"access_denied\"")
        );
    }

    #[test]
    fn names_and_states_cannot_inject_markup() {
        let page = consent_page(&institution("<script>x</script>"), "\"><b>", "http://h/cb");
        assert!(!page.contains("<script>") && !page.contains("\"><b>"));
        assert!(page.contains("&lt;script&gt;") && page.contains("&quot;&gt;&lt;b&gt;"));
    }
}
