//! API keys: only the SHA-256 of a key is stored; the secret is shown once at issue.

use diesel::prelude::*;

use super::accounts;
use super::connection::write_transaction;
use super::schema::{accounts as accounts_table, api_keys};
use super::Store;
use crate::error::{PlatformError, Result};
use crate::registry::{Account, AccountId, AccountName, KeyHash, Role};

/// Longest label a key may carry.
pub const MAX_KEY_LABEL_CHARS: usize = 64;
/// Most live keys one account may hold: rotation issues a new key before the old one is
/// revoked, and a bound keeps a leaked sign-up key from minting keys forever.
pub const MAX_LIVE_KEYS_PER_ACCOUNT: i64 = 16;

/// What the platform knows about a key, without its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub id: i64,
    pub account_id: AccountId,
    pub label: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys)]
struct KeyRow {
    id: i64,
    account_id: i64,
    label: String,
    created_at_ms: i64,
    revoked_at_ms: Option<i64>,
}

impl From<KeyRow> for ApiKeyInfo {
    fn from(row: KeyRow) -> Self {
        ApiKeyInfo {
            id: row.id,
            account_id: AccountId(row.account_id),
            label: row.label,
            created_at_ms: row.created_at_ms,
            revoked_at_ms: row.revoked_at_ms,
        }
    }
}

fn insert_key(
    conn: &mut super::AnyConnection,
    account: AccountId,
    hash: &KeyHash,
    label: &str,
    now_ms: i64,
) -> Result<ApiKeyInfo> {
    if label.chars().count() > MAX_KEY_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(PlatformError::InvalidKeyLabel {
            input: label.to_owned(),
        });
    }
    let live: i64 = api_keys::table
        .filter(api_keys::account_id.eq(account.0))
        .filter(api_keys::revoked_at_ms.is_null())
        .count()
        .get_result(conn)?;
    if live >= MAX_LIVE_KEYS_PER_ACCOUNT {
        return Err(PlatformError::TooManyKeys {
            limit: MAX_LIVE_KEYS_PER_ACCOUNT,
        });
    }
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::account_id.eq(account.0),
            api_keys::key_hash.eq(hash.to_hex()),
            api_keys::label.eq(label),
            api_keys::created_at_ms.eq(now_ms),
        ))
        .execute(conn)?;
    api_keys::table
        .filter(api_keys::key_hash.eq(hash.to_hex()))
        .select(KeyRow::as_select())
        .first(conn)
        .map(ApiKeyInfo::from)
        .map_err(Into::into)
}

impl Store {
    /// Creates an account and its first key in one transaction: a sign-up either yields a
    /// usable key or leaves nothing behind.
    pub fn create_account_with_key(
        &self,
        name: &AccountName,
        role: Role,
        hash: &KeyHash,
        now_ms: i64,
    ) -> Result<(Account, ApiKeyInfo)> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            let account = accounts::insert(conn, name, role, now_ms)?;
            let key = insert_key(conn, account.id, hash, "sign-up", now_ms)?;
            Ok((account, key))
        })
    }

    /// Issues another key for an existing account (rotation: issue, switch, revoke the old).
    pub fn issue_api_key(
        &self,
        account: AccountId,
        hash: &KeyHash,
        label: &str,
        now_ms: i64,
    ) -> Result<ApiKeyInfo> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            insert_key(conn, account, hash, label, now_ms)
        })
    }

    /// The account a live (not revoked) key belongs to, with the key's id.
    pub fn account_by_key(&self, hash: &KeyHash) -> Result<Option<(Account, i64)>> {
        let mut conn = self.connection()?;
        let found: Option<(i64, i64)> = api_keys::table
            .filter(api_keys::key_hash.eq(hash.to_hex()))
            .filter(api_keys::revoked_at_ms.is_null())
            .select((api_keys::id, api_keys::account_id))
            .first(&mut conn)
            .optional()?;
        let Some((key_id, account_id)) = found else {
            return Ok(None);
        };
        let account = accounts::find_by_id(&mut conn, AccountId(account_id))?;
        Ok(account.map(|account| (account, key_id)))
    }

    /// An account's keys, newest first, without secrets.
    pub fn api_keys(&self, account: AccountId) -> Result<Vec<ApiKeyInfo>> {
        let mut conn = self.connection()?;
        Ok(api_keys::table
            .filter(api_keys::account_id.eq(account.0))
            .order(api_keys::id.desc())
            .select(KeyRow::as_select())
            .load(&mut conn)?
            .into_iter()
            .map(ApiKeyInfo::from)
            .collect())
    }

    /// Revokes one of `account`'s keys. Another account's key id is reported as not found, so
    /// key ids reveal nothing about other accounts.
    pub fn revoke_api_key(&self, account: AccountId, key_id: i64, now_ms: i64) -> Result<()> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            let row: Option<KeyRow> = api_keys::table
                .filter(api_keys::id.eq(key_id))
                .filter(api_keys::account_id.eq(account.0))
                .select(KeyRow::as_select())
                .first(conn)
                .optional()?;
            match row {
                None => Err(PlatformError::KeyNotFound { id: key_id }),
                Some(row) if row.revoked_at_ms.is_some() => {
                    Err(PlatformError::KeyAlreadyRevoked { id: key_id })
                }
                Some(_) => {
                    diesel::update(api_keys::table.filter(api_keys::id.eq(key_id)))
                        .set(api_keys::revoked_at_ms.eq(now_ms))
                        .execute(conn)?;
                    Ok(())
                }
            }
        })
    }

    /// Number of accounts; the first sign-up of an empty installation may bootstrap an admin.
    pub fn account_count(&self) -> Result<i64> {
        let mut conn = self.connection()?;
        Ok(accounts_table::table.count().get_result(&mut conn)?)
    }
}
