//! The clock. Everything that needs the time asks a [`Clock`], so tests and `simulate` can run days of
//! scheduling on a manual clock in milliseconds.

use chrono::{DateTime, NaiveDate, Utc};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub enum Clock {
    /// The operating system's clock.
    System,
    /// A clock that only moves when told to.
    Manual(Arc<Mutex<DateTime<Utc>>>),
    /// The time written in a file (RFC 3339), read at every call, else the system's: lets a
    /// demo or a browser test move a running server's time (`SALDO_CLOCK_FILE`).
    File(Arc<std::path::PathBuf>),
}

impl Clock {
    pub fn manual(start: DateTime<Utc>) -> Clock {
        Clock::Manual(Arc::new(Mutex::new(start)))
    }

    pub fn from_file(path: impl Into<std::path::PathBuf>) -> Clock {
        Clock::File(Arc::new(path.into()))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => system_now(),
            Clock::Manual(now) => *now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
            Clock::File(path) => std::fs::read_to_string(path.as_path())
                .ok()
                .and_then(|text| DateTime::parse_from_rfc3339(text.trim()).ok())
                .map_or_else(system_now, |at| at.with_timezone(&Utc)),
        }
    }

    /// Today's date in UTC.
    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// Moves a manual clock forward; a system clock ignores it.
    pub fn advance(&self, by: chrono::Duration) {
        if let Clock::Manual(now) = self {
            *now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) += by;
        }
    }
}

#[allow(clippy::disallowed_methods)] // The one place that reads the system clock.
fn system_now() -> DateTime<Utc> {
    Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual(Utc.with_ymd_and_hms(2026, 1, 1, 23, 0, 0).unwrap());
        assert_eq!(clock.today(), NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        clock.advance(chrono::Duration::hours(2));
        assert_eq!(clock.today(), NaiveDate::from_ymd_opt(2026, 1, 2).unwrap());
    }

    #[test]
    fn a_file_clock_reads_its_file_at_every_call_and_falls_back_to_the_system() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("now");
        let clock = Clock::from_file(&path);
        assert!(clock.today() > NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), "no file: the system's time");
        std::fs::write(&path, "2030-05-04T01:30:00Z\n").unwrap();
        assert_eq!(clock.now(), Utc.with_ymd_and_hms(2030, 5, 4, 1, 30, 0).unwrap());
        std::fs::write(&path, "2030-05-09T12:00:00+02:00").unwrap();
        assert_eq!(clock.now(), Utc.with_ymd_and_hms(2030, 5, 9, 10, 0, 0).unwrap());
    }
}
