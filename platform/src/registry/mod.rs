//! The typed records of the device registry. Input from the CLI or the API is parsed into these
//! once, at the edge; the store accepts and returns only these.

mod account;
mod api_key;
mod device;
mod location;

pub use account::{Account, AccountId, AccountName, Role, DEFAULT_OWNER, MAX_ACCOUNT_NAME_CHARS};
pub use api_key::{random_256_bits, ApiKeySecret, KeyHash};
pub use device::{
    parse_device_id, parse_public_key, Device, DeviceState, NameplateW, NewDevice, Zone,
    DEFAULT_ZONE, MAX_NAMEPLATE_W, MAX_ZONE_LEN,
};
pub use location::{Latitude, Location, Longitude};
