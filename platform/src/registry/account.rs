//! Accounts: the people and organisations that own devices, trade and operate the platform.

use std::fmt;
use std::str::FromStr;

use crate::error::PlatformError;

/// Longest account name accepted, in characters.
pub const MAX_ACCOUNT_NAME_CHARS: usize = 64;

/// The owner the CLI uses when `--owner` is not given: a single-household installation.
pub const DEFAULT_OWNER: &str = "local";

/// The database's id of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A unique account name: 1 to 64 characters, no control characters, no surrounding spaces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountName(String);

impl AccountName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local() -> Self {
        Self(DEFAULT_OWNER.to_owned())
    }
}

impl FromStr for AccountName {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let reason = if s.is_empty() {
            Some("an account name must not be empty")
        } else if s.chars().count() > MAX_ACCOUNT_NAME_CHARS {
            Some("an account name is at most 64 characters")
        } else if s.chars().any(char::is_control) {
            Some("an account name must not contain control characters")
        } else if s.trim() != s {
            Some("an account name must not start or end with whitespace")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(PlatformError::InvalidAccountName {
                input: s.to_owned(),
                reason,
            }),
            None => Ok(Self(s.to_owned())),
        }
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// What an account may do on the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Owns producing devices; sells (and may buy).
    Prosumer,
    /// Buys energy only.
    Consumer,
    /// A grid operator: reads settlement reports.
    Operator,
    /// Runs the platform.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Prosumer, Role::Consumer, Role::Operator, Role::Admin];

    /// The stored and displayed form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Prosumer => "prosumer",
            Role::Consumer => "consumer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| PlatformError::InvalidRole {
                input: s.to_owned(),
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A stored account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: AccountName,
    pub role: Role,
    pub created_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for good in ["local", "Alice Müller", "a", "co-op #7", &"x".repeat(64)] {
            assert_eq!(good.parse::<AccountName>().unwrap().as_str(), good);
        }
        assert_eq!(AccountName::local().as_str(), DEFAULT_OWNER);
    }

    #[test]
    fn rejects_empty_long_padded_and_control_names() {
        for bad in ["", " alice", "alice ", "al\nice", "\t", &"x".repeat(65)] {
            let err = bad.parse::<AccountName>().unwrap_err();
            assert!(
                matches!(err, PlatformError::InvalidAccountName { .. }),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn roles_round_trip_through_text() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!(matches!(
            "Admin".parse::<Role>(),
            Err(PlatformError::InvalidRole { .. })
        ));
        assert!("root".parse::<Role>().is_err());
    }
}
