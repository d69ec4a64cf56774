//! The devices table: registration, lookup, listing and revocation.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use reading::{DeviceId, PublicKey};

use super::accounts;
use super::connection::{write_transaction, AnyConnection};
use super::schema::{accounts as accounts_table, devices};
use super::Store;
use crate::error::{PlatformError, Result};
use crate::registry::{
    Account, AccountId, Device, DeviceState, Latitude, Location, Longitude, NameplateW, NewDevice,
    Role,
};

/// The role an owner gets when registering a device creates the account.
const CREATED_OWNER_ROLE: Role = Role::Prosumer;

#[derive(Queryable, Selectable)]
#[diesel(table_name = devices)]
struct DeviceRow {
    id: String,
    public_key: String,
    owner_id: i64,
    nameplate_w: i64,
    latitude_micro: i32,
    longitude_micro: i32,
    zone: String,
    status: String,
    registered_at_ms: i64,
    revoked_at_ms: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = devices)]
struct NewDeviceRow<'a> {
    id: &'a str,
    public_key: &'a str,
    owner_id: i64,
    nameplate_w: i64,
    latitude_micro: i32,
    longitude_micro: i32,
    zone: &'a str,
    status: &'a str,
    registered_at_ms: i64,
    revoked_at_ms: Option<i64>,
}

impl DeviceRow {
    /// Re-parses what was stored, so a row edited by hand surfaces as an error, not as a
    /// device whose id does not match its key.
    fn into_device(self, owner_name: String) -> Result<Device> {
        let corrupt = |reason: String| PlatformError::CorruptRow {
            table: "devices",
            key: self.id.clone(),
            reason,
        };
        let id = DeviceId::from_hex(&self.id).map_err(|e| corrupt(e.to_string()))?;
        let public_key =
            PublicKey::from_hex(&self.public_key).map_err(|e| corrupt(e.to_string()))?;
        if public_key.device_id() != id {
            return Err(corrupt(
                "the id is not derived from the public key".to_owned(),
            ));
        }
        let state = match (self.status.as_str(), self.revoked_at_ms) {
            (DeviceState::ACTIVE, None) => DeviceState::Active,
            (DeviceState::REVOKED, Some(at_ms)) => DeviceState::Revoked { at_ms },
            (status, revoked_at) => {
                return Err(corrupt(format!(
                    "status {status:?} with revoked_at_ms {revoked_at:?}"
                )))
            }
        };
        let as_text = |e: PlatformError| corrupt(e.to_string());
        Ok(Device {
            id,
            public_key,
            owner_id: AccountId(self.owner_id),
            owner: owner_name.parse().map_err(as_text)?,
            nameplate: NameplateW::from_i64(self.nameplate_w).map_err(as_text)?,
            location: Location {
                latitude: Latitude::from_micro(self.latitude_micro).map_err(as_text)?,
                longitude: Longitude::from_micro(self.longitude_micro).map_err(as_text)?,
            },
            zone: self.zone.parse().map_err(as_text)?,
            state,
            registered_at_ms: self.registered_at_ms,
        })
    }
}

pub(super) fn find(conn: &mut AnyConnection, id: &DeviceId) -> Result<Option<Device>> {
    devices::table
        .inner_join(accounts_table::table)
        .filter(devices::id.eq(id.to_hex()))
        .select((DeviceRow::as_select(), accounts_table::name))
        .first::<(DeviceRow, String)>(conn)
        .optional()?
        .map(|(row, owner)| row.into_device(owner))
        .transpose()
}

/// The registered devices among `ids`, in one query.
pub(super) fn find_many(conn: &mut AnyConnection, ids: &[DeviceId]) -> Result<Vec<Device>> {
    let hexes: Vec<String> = ids.iter().map(DeviceId::to_hex).collect();
    devices::table
        .inner_join(accounts_table::table)
        .filter(devices::id.eq_any(hexes))
        .select((DeviceRow::as_select(), accounts_table::name))
        .load::<(DeviceRow, String)>(conn)?
        .into_iter()
        .map(|(row, owner)| row.into_device(owner))
        .collect()
}

fn insert(
    conn: &mut AnyConnection,
    new: &NewDevice,
    owner: &Account,
    registered_at_ms: i64,
) -> Result<Device> {
    let id = new.id();
    // Checked first for a clean answer; the unique constraints below catch a concurrent
    // registration of the same key.
    if find(conn, &id)?.is_some() {
        return Err(PlatformError::DeviceExists { id });
    }
    let id_hex = id.to_hex();
    let key_hex = new.public_key.to_hex();
    let row = NewDeviceRow {
        id: &id_hex,
        public_key: &key_hex,
        owner_id: owner.id.0,
        nameplate_w: i64::from(new.nameplate.watts()),
        latitude_micro: new.location.latitude.micro_degrees(),
        longitude_micro: new.location.longitude.micro_degrees(),
        zone: new.zone.as_str(),
        status: DeviceState::ACTIVE,
        registered_at_ms,
        revoked_at_ms: None,
    };
    match diesel::insert_into(devices::table)
        .values(&row)
        .execute(conn)
    {
        Ok(_) => Ok(Device {
            id,
            public_key: new.public_key,
            owner_id: owner.id,
            owner: owner.name.clone(),
            nameplate: new.nameplate,
            location: new.location,
            zone: new.zone.clone(),
            state: DeviceState::Active,
            registered_at_ms,
        }),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Err(PlatformError::DeviceExists { id })
        }
        Err(other) => Err(other.into()),
    }
}

impl Store {
    /// Registers a device for an existing owner. Fails, changing nothing, with
    /// [`PlatformError::AccountNotFound`] or [`PlatformError::DeviceExists`].
    pub fn register_device(&self, new: &NewDevice, registered_at_ms: i64) -> Result<Device> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            let owner = accounts::find_by_name(conn, &new.owner)?.ok_or_else(|| {
                PlatformError::AccountNotFound {
                    name: new.owner.to_string(),
                }
            })?;
            insert(conn, new, &owner, registered_at_ms)
        })
    }

    /// Registers a device, creating its owner as a prosumer if no account has that name (the
    /// CLI's create-on-first-use). One transaction: a rejected registration creates no account.
    pub fn register_device_creating_owner(
        &self,
        new: &NewDevice,
        registered_at_ms: i64,
    ) -> Result<Device> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            let owner = accounts::ensure(conn, &new.owner, CREATED_OWNER_ROLE, registered_at_ms)?;
            insert(conn, new, &owner, registered_at_ms)
        })
    }

    pub fn device(&self, id: &DeviceId) -> Result<Option<Device>> {
        find(&mut *self.connection()?, id)
    }

    /// All devices, in registration order.
    pub fn devices(&self) -> Result<Vec<Device>> {
        devices::table
            .inner_join(accounts_table::table)
            .order((devices::registered_at_ms, devices::id))
            .select((DeviceRow::as_select(), accounts_table::name))
            .load::<(DeviceRow, String)>(&mut self.connection()?)?
            .into_iter()
            .map(|(row, owner)| row.into_device(owner))
            .collect()
    }

    /// Revokes a device for good: its readings are no longer accepted. Fails, changing nothing,
    /// with [`PlatformError::DeviceNotFound`] or [`PlatformError::DeviceAlreadyRevoked`].
    pub fn revoke_device(&self, id: &DeviceId, revoked_at_ms: i64) -> Result<Device> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            let device = find(conn, id)?.ok_or(PlatformError::DeviceNotFound { id: *id })?;
            if let DeviceState::Revoked { at_ms } = device.state {
                return Err(PlatformError::DeviceAlreadyRevoked {
                    id: *id,
                    revoked_at_ms: at_ms,
                });
            }
            // The status condition makes a concurrent revocation (PostgreSQL re-checks it after
            // waiting for the other writer) update nothing instead of moving revoked_at.
            let updated = diesel::update(
                devices::table
                    .filter(devices::id.eq(id.to_hex()))
                    .filter(devices::status.eq(DeviceState::ACTIVE)),
            )
            .set((
                devices::status.eq(DeviceState::REVOKED),
                devices::revoked_at_ms.eq(Some(revoked_at_ms)),
            ))
            .execute(conn)?;
            if updated == 0 {
                let revoked_at_ms = match find(conn, id)?.map(|d| d.state) {
                    Some(DeviceState::Revoked { at_ms }) => at_ms,
                    _ => return Err(PlatformError::DeviceNotFound { id: *id }),
                };
                return Err(PlatformError::DeviceAlreadyRevoked {
                    id: *id,
                    revoked_at_ms,
                });
            }
            Ok(Device {
                state: DeviceState::Revoked {
                    at_ms: revoked_at_ms,
                },
                ..device
            })
        })
    }
}
