//! Token tables: every mint of carbon credits and reward tokens (with the emission factor a
//! carbon mint used), the emission factor table they are minted by, and the reward epochs
//! already distributed. The ledger holds the balances; these rows say why each mint happened.

use diesel::prelude::*;
use settlement::carbon::{EmissionFactor, FactorKind, FactorTable};
use settlement::ledger::{AccountId, TransferId};

use super::connection::{write_transaction, AnyConnection};
use super::ledger::{id_to_i64, signed_to_i64, sql_opt, to_i64, MAX_BINDS};
use super::schema::{emission_factors, mints, reward_epochs};
use super::settlement::unsigned;
use super::Store;
use crate::error::{PlatformError, Result};

// ---- mints ----------------------------------------------------------------------------------

#[derive(Insertable)]
#[diesel(table_name = mints)]
// NULL, not DEFAULT, for None: keeps multi-row INSERTs on SQLite (diesel falls back to
// one statement per row when a value may be DEFAULT).
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NewMint {
    pub transfer_id: String,
    pub kind: &'static str,
    pub account_id: i64,
    pub zone: String,
    pub slot_start_ms: i64,
    pub run_version: i32,
    pub amount: i64,
    pub total: i64,
    pub exported_wh: Option<i64>,
    pub ef_zone: Option<String>,
    pub ef_kind: Option<&'static str>,
    pub ef_source: Option<String>,
    pub ef_version: Option<String>,
    pub ef_g_per_mwh: Option<i64>,
    pub epoch: Option<i64>,
    pub leaf_index: i64,
}

impl NewMint {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn carbon(
        transfer_id: TransferId,
        account: AccountId,
        zone: &str,
        slot_start_ms: i64,
        run_version: u32,
        minted_g: i128,
        grams: u128,
        exported_wh: u64,
        factor: &EmissionFactor,
        leaf_index: u64,
    ) -> Result<NewMint> {
        Ok(NewMint {
            transfer_id: transfer_id.to_hex(),
            kind: "carbon",
            account_id: id_to_i64("account id", account.0)?,
            zone: zone.to_owned(),
            slot_start_ms,
            run_version: run_version as i32,
            amount: signed_to_i64("minted grams", minted_g)?,
            total: to_i64("grams", grams)?,
            exported_wh: Some(id_to_i64("export", exported_wh)?),
            ef_zone: Some(factor.zone.clone()),
            ef_kind: Some(factor.kind.name()),
            ef_source: Some(factor.source.clone()),
            ef_version: Some(factor.version.clone()),
            ef_g_per_mwh: Some(id_to_i64("emission factor", factor.g_per_mwh)?),
            epoch: None,
            leaf_index: id_to_i64("leaf index", leaf_index)?,
        })
    }
}

/// Rows per INSERT statement of mints.
const MINT_CHUNK: usize = 1_000;

const MINT_COLUMNS: &str = "INSERT INTO mints (transfer_id, kind, account_id, zone, \
     slot_start_ms, run_version, amount, total, exported_wh, ef_zone, ef_kind, ef_source, \
     ef_version, ef_g_per_mwh, epoch, leaf_index) VALUES ";

/// Inserts mints. SQLite: bound multi-row statements (`super::bulk`). PostgreSQL: the rows of
/// one run share their zone and factor: those texts are bound (`$1`…`$5`), everything else is an
/// integer, a hex id or a fixed kind written into the statement, one round trip per chunk; rows
/// that do not share them go through diesel's batch insert.
pub(crate) fn insert_mints(conn: &mut AnyConnection, rows: &[NewMint]) -> Result<()> {
    use diesel::sql_types::{Nullable, Text};
    use std::fmt::Write as _;
    let Some(first) = rows.first() else {
        return Ok(());
    };
    if let AnyConnection::Sqlite(c) = conn {
        use super::bulk::Value;
        let mut values = Vec::with_capacity(rows.len() * 16);
        for r in rows {
            values.extend([
                Value::Text(&r.transfer_id),
                Value::Text(r.kind),
                Value::Int(r.account_id),
                Value::Text(&r.zone),
                Value::Int(r.slot_start_ms),
                Value::Int(i64::from(r.run_version)),
                Value::Int(r.amount),
                Value::Int(r.total),
                Value::OptInt(r.exported_wh),
                Value::OptText(r.ef_zone.as_deref()),
                Value::OptText(r.ef_kind),
                Value::OptText(r.ef_source.as_deref()),
                Value::OptText(r.ef_version.as_deref()),
                Value::OptInt(r.ef_g_per_mwh),
                Value::OptInt(r.epoch),
                Value::Int(r.leaf_index),
            ]);
        }
        super::bulk::insert(c, MINT_COLUMNS, "", 16, &values)?;
        return Ok(());
    }
    let shared = |r: &NewMint| {
        (
            r.zone.clone(),
            r.ef_zone.clone(),
            r.ef_kind,
            r.ef_source.clone(),
            r.ef_version.clone(),
        )
    };
    let common = shared(first);
    if rows.iter().any(|r| shared(r) != common) {
        for chunk in rows.chunks(MAX_BINDS / 16) {
            per_backend!(&mut *conn, c => diesel::insert_into(mints::table)
                .values(chunk)
                .execute(c))?;
        }
        return Ok(());
    }
    let mut sql = String::with_capacity(MINT_CHUNK * 160);
    for chunk in rows.chunks(MINT_CHUNK) {
        sql.clear();
        sql.push_str(MINT_COLUMNS);
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            let _ = write!(
                sql,
                "('{}','{}',{},$1,{},{},{},{},{},$2,$3,$4,$5,{},{},{})",
                r.transfer_id,
                r.kind,
                r.account_id,
                r.slot_start_ms,
                r.run_version,
                r.amount,
                r.total,
                sql_opt(r.exported_wh),
                sql_opt(r.ef_g_per_mwh),
                sql_opt(r.epoch),
                r.leaf_index,
            );
        }
        let (zone, ef_zone, ef_kind, ef_source, ef_version) = common.clone();
        per_backend!(&mut *conn, c => diesel::sql_query(sql.as_str())
            .bind::<Text, _>(&zone)
            .bind::<Nullable<Text>, _>(&ef_zone)
            .bind::<Nullable<Text>, _>(ef_kind)
            .bind::<Nullable<Text>, _>(&ef_source)
            .bind::<Nullable<Text>, _>(&ef_version)
            .execute(c))?;
    }
    Ok(())
}

/// Net carbon grams minted per participant in slots `[from_ms, to_ms)` (all runs), by account.
pub(crate) fn carbon_by_account(
    conn: &mut AnyConnection,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(AccountId, u128)>> {
    let rows: Vec<(i64, i64)> = mints::table
        .filter(mints::kind.eq("carbon"))
        .filter(mints::slot_start_ms.ge(from_ms))
        .filter(mints::slot_start_ms.lt(to_ms))
        .select((mints::account_id, mints::amount))
        .load(conn)?;
    let mut sums: std::collections::BTreeMap<i64, i128> = std::collections::BTreeMap::new();
    for (account, amount) in rows {
        *sums.entry(account).or_default() += i128::from(amount);
    }
    Ok(sums
        .into_iter()
        .filter_map(|(a, g)| Some((AccountId(u64::try_from(a).ok()?), u128::try_from(g).ok()?)))
        .collect())
}

impl Store {
    pub fn mint_count(&self) -> Result<i64> {
        Ok(mints::table.count().get_result(&mut self.connection()?)?)
    }
}

// ---- emission factors -----------------------------------------------------------------------

#[derive(Insertable, Queryable, Selectable)]
#[diesel(table_name = emission_factors)]
struct FactorRow {
    zone: String,
    kind: String,
    valid_from_ms: i64,
    valid_to_ms: i64,
    source: String,
    version: String,
    g_per_mwh: i64,
    imported_at_ms: i64,
}

impl Store {
    /// Replaces the emission factor table with `table` (one transaction). Earlier mints keep
    /// the factor they used in their own rows.
    pub fn replace_emission_factors(&self, table: &FactorTable, now_ms: i64) -> Result<usize> {
        let rows = table
            .rows()
            .iter()
            .map(|f| {
                Ok(FactorRow {
                    zone: f.zone.clone(),
                    kind: f.kind.name().to_owned(),
                    valid_from_ms: f.valid_from_ms,
                    valid_to_ms: f.valid_to_ms,
                    source: f.source.clone(),
                    version: f.version.clone(),
                    g_per_mwh: id_to_i64("emission factor", f.g_per_mwh)?,
                    imported_at_ms: now_ms,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            diesel::delete(emission_factors::table).execute(conn)?;
            for chunk in rows.chunks(MAX_BINDS / 8) {
                per_backend!(&mut *conn, c => diesel::insert_into(emission_factors::table)
                    .values(chunk)
                    .execute(c))?;
            }
            Ok(rows.len())
        })
    }

    /// The stored emission factor table.
    pub fn emission_factors(&self) -> Result<Vec<EmissionFactor>> {
        let rows: Vec<FactorRow> = emission_factors::table
            .order((
                emission_factors::zone,
                emission_factors::kind,
                emission_factors::valid_from_ms,
            ))
            .select(FactorRow::as_select())
            .load(&mut self.connection()?)?;
        rows.into_iter()
            .map(|r| {
                let key = format!("{}/{}/{}", r.zone, r.kind, r.valid_from_ms);
                Ok(EmissionFactor {
                    kind: FactorKind::parse(&r.kind).ok_or_else(|| PlatformError::CorruptRow {
                        table: "emission_factors",
                        key: key.clone(),
                        reason: "unknown kind".into(),
                    })?,
                    g_per_mwh: unsigned("emission_factors", &key, "g_per_mwh", r.g_per_mwh)?,
                    zone: r.zone,
                    valid_from_ms: r.valid_from_ms,
                    valid_to_ms: r.valid_to_ms,
                    source: r.source,
                    version: r.version,
                })
            })
            .collect()
    }
}

// ---- reward epochs --------------------------------------------------------------------------

#[derive(Insertable, Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = reward_epochs)]
pub struct RewardEpochRow {
    pub epoch: i64,
    pub epoch_start_ms: i64,
    pub epoch_len_ms: i64,
    pub pool: i64,
    pub minted: i64,
    pub participants: i64,
    pub created_at_ms: i64,
}

pub(crate) fn insert_reward_epoch(conn: &mut AnyConnection, row: &RewardEpochRow) -> Result<()> {
    diesel::insert_into(reward_epochs::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub(crate) fn reward_epoch(conn: &mut AnyConnection, epoch: i64) -> Result<Option<RewardEpochRow>> {
    Ok(reward_epochs::table
        .filter(reward_epochs::epoch.eq(epoch))
        .select(RewardEpochRow::as_select())
        .first(conn)
        .optional()?)
}

impl Store {
    /// Distributed reward epochs, by epoch.
    pub fn reward_epochs(&self) -> Result<Vec<RewardEpochRow>> {
        Ok(reward_epochs::table
            .order(reward_epochs::epoch)
            .select(RewardEpochRow::as_select())
            .load(&mut self.connection()?)?)
    }
}
