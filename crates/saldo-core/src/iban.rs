//! IBANs from national account numbers, where a country's rules make one from the other: a
//! German MT940 names the account `BLZ/number`, its CAMT the IBAN, and both are one account.

/// The IBAN of `account` at the bank with national code `bank` in `country` (ISO 3166 alpha-2),
/// for the countries whose IBAN is the bank code and the account number zero-padded (Germany:
/// 8-digit BLZ and 10-digit account; Austria: 5 and 11; Switzerland and Liechtenstein: 5-digit
/// clearing number and 12; the Netherlands: 4-letter bank code and 10 digits). `None` elsewhere,
/// or when the parts do not fit the country's layout.
pub fn from_national(country: &str, bank: &str, account: &str) -> Option<String> {
    let country = country.to_ascii_uppercase();
    let account = account.trim().trim_start_matches('0');
    let digits = |text: &str, max: usize| text.len() <= max && text.chars().all(|c| c.is_ascii_digit());
    let (bank_ok, width) = match country.as_str() {
        "DE" => (bank.len() == 8 && digits(bank, 8), 10),
        "AT" => (bank.len() == 5 && digits(bank, 5), 11),
        "CH" | "LI" => (bank.len() == 5 && digits(bank, 5), 12),
        "NL" => (bank.len() == 4 && bank.chars().all(|c| c.is_ascii_uppercase()), 10),
        _ => return None,
    };
    if !bank_ok || account.is_empty() || !digits(account, width) {
        return None;
    }
    let bban = format!("{bank}{account:0>width$}");
    Some(format!("{country}{:02}{bban}", check_digits(&country, &bban)))
}

/// Whether `iban` carries the check digits its content gives (ISO 13616: mod 97 is 1).
pub fn is_valid(iban: &str) -> bool {
    let iban: String = iban.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    iban.len() >= 15
        && iban.is_char_boundary(4)
        && iban.chars().all(|c| c.is_ascii_alphanumeric())
        && remainder(&format!("{}{}", &iban[4..], &iban[..4])) == 1
}

fn check_digits(country: &str, bban: &str) -> u32 {
    98 - remainder(&format!("{bban}{country}00"))
}

/// The text as a number (letters are 10 to 35) modulo 97.
fn remainder(text: &str) -> u32 {
    text.chars().fold(0, |rest, c| {
        let value = c.to_digit(36).unwrap_or(0);
        if value >= 10 {
            (rest * 100 + value) % 97
        } else {
            (rest * 10 + value) % 97
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_numbers_give_the_iban_the_bank_prints() {
        // The example IBANs of the countries' own documentation and of the SWIFT registry.
        assert_eq!(from_national("DE", "37040044", "532013000").as_deref(), Some("DE89370400440532013000"));
        assert_eq!(from_national("DE", "37040044", "5942859575").as_deref(), Some("DE65370400445942859575"));
        assert_eq!(from_national("AT", "19043", "234573201").as_deref(), Some("AT611904300234573201"));
        assert_eq!(from_national("CH", "00762", "011623852957").as_deref(), Some("CH9300762011623852957"));
        assert_eq!(from_national("NL", "ABNA", "0417164300").as_deref(), Some("NL91ABNA0417164300"));
        assert!(is_valid("DE89 3704 0044 0532 0130 00"));
        assert!(!is_valid("DE88370400440532013000"));
    }

    #[test]
    fn parts_that_do_not_fit_give_none() {
        assert_eq!(from_national("DE", "3704004", "532013000"), None, "a BLZ has 8 digits");
        assert_eq!(from_national("DE", "37040044", "12345678901"), None, "an account has at most 10");
        assert_eq!(from_national("FR", "30006", "0001"), None, "France's BBAN has a key of its own");
        assert_eq!(from_national("AT", "19043", "23457X201"), None);
    }
}
