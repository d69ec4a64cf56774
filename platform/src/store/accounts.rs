//! The accounts table.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::connection::{write_transaction, AnyConnection};
use super::schema::accounts;
use super::Store;
use crate::error::{PlatformError, Result};
use crate::registry::{Account, AccountId, AccountName, Role};

#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts)]
struct AccountRow {
    id: i64,
    name: String,
    role: String,
    created_at_ms: i64,
}

#[derive(Insertable)]
#[diesel(table_name = accounts)]
struct NewAccountRow<'a> {
    name: &'a str,
    role: &'a str,
    created_at_ms: i64,
}

impl AccountRow {
    fn into_account(self) -> Result<Account> {
        let corrupt = |reason: String| PlatformError::CorruptRow {
            table: "accounts",
            key: self.id.to_string(),
            reason,
        };
        let name = self
            .name
            .parse()
            .map_err(|e: PlatformError| corrupt(e.to_string()))?;
        let role = self
            .role
            .parse()
            .map_err(|e: PlatformError| corrupt(e.to_string()))?;
        Ok(Account {
            id: AccountId(self.id),
            name,
            role,
            created_at_ms: self.created_at_ms,
        })
    }
}

pub(crate) fn find_by_name(
    conn: &mut AnyConnection,
    name: &AccountName,
) -> Result<Option<Account>> {
    accounts::table
        .filter(accounts::name.eq(name.as_str()))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
        .map(AccountRow::into_account)
        .transpose()
}

pub(crate) fn find_by_id(conn: &mut AnyConnection, id: AccountId) -> Result<Option<Account>> {
    accounts::table
        .filter(accounts::id.eq(id.0))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?
        .map(AccountRow::into_account)
        .transpose()
}

/// Inserts inside a savepoint, so that a lost race (unique violation) leaves the surrounding
/// transaction usable on PostgreSQL.
pub(crate) fn insert(
    conn: &mut AnyConnection,
    name: &AccountName,
    role: Role,
    created_at_ms: i64,
) -> Result<Account> {
    let row = NewAccountRow {
        name: name.as_str(),
        role: role.as_str(),
        created_at_ms,
    };
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(accounts::table)
            .values(&row)
            .execute(conn)
    });
    match inserted {
        Ok(_) => find_by_name(conn, name)?.ok_or_else(|| PlatformError::AccountNotFound {
            name: name.to_string(),
        }),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Err(PlatformError::AccountExists {
                name: name.to_string(),
            })
        }
        Err(other) => Err(other.into()),
    }
}

/// The account named `name`, created with `role` if there is none (an existing account keeps
/// its role).
pub(crate) fn ensure(
    conn: &mut AnyConnection,
    name: &AccountName,
    role: Role,
    now_ms: i64,
) -> Result<Account> {
    if let Some(account) = find_by_name(conn, name)? {
        return Ok(account);
    }
    match insert(conn, name, role, now_ms) {
        // Another connection created it between our read and our insert.
        Err(PlatformError::AccountExists { .. }) => {
            find_by_name(conn, name)?.ok_or_else(|| PlatformError::AccountNotFound {
                name: name.to_string(),
            })
        }
        other => other,
    }
}

impl Store {
    /// Creates an account; fails with [`PlatformError::AccountExists`] if the name is taken.
    pub fn create_account(
        &self,
        name: &AccountName,
        role: Role,
        created_at_ms: i64,
    ) -> Result<Account> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| insert(conn, name, role, created_at_ms))
    }

    /// The account named `name`, created with `role` if missing; an existing account is returned
    /// unchanged, whatever its role.
    pub fn ensure_account(&self, name: &AccountName, role: Role, now_ms: i64) -> Result<Account> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| ensure(conn, name, role, now_ms))
    }

    pub fn account_by_id(&self, id: AccountId) -> Result<Option<Account>> {
        find_by_id(&mut *self.connection()?, id)
    }

    pub fn account(&self, name: &AccountName) -> Result<Option<Account>> {
        find_by_name(&mut *self.connection()?, name)
    }

    /// All accounts, oldest first.
    pub fn accounts(&self) -> Result<Vec<Account>> {
        accounts::table
            .order(accounts::id)
            .select(AccountRow::as_select())
            .load(&mut self.connection()?)?
            .into_iter()
            .map(AccountRow::into_account)
            .collect()
    }
}
