//! Typed ids. saldo ids are UUIDs made outside this crate (UUIDv7 by the caller), so the core stays
//! free of clocks and randomness.

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The UUID behind the id.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

id_type!(
    /// A saldo user.
    UserId
);
id_type!(
    /// An institution in saldo's catalog.
    InstitutionId
);
id_type!(
    /// A user's connection to one institution through one connector.
    ConnectionId
);
id_type!(
    /// saldo's stable account id; it survives reconnects, provider ids are only aliases.
    AccountId
);
id_type!(
    /// A stored transaction.
    TransactionId
);
