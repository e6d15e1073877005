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
}

impl Clock {
    pub fn manual(start: DateTime<Utc>) -> Clock {
        Clock::Manual(Arc::new(Mutex::new(start)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            #[allow(clippy::disallowed_methods)] // The one place that reads the system clock.
            Clock::System => Utc::now(),
            Clock::Manual(now) => *now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
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
}
