//! The device registry in the store, on both backends: registration, revocation, accounts,
//! refusals that change nothing, concurrent writers, and arbitrary valid input round-tripping.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use common::{new_device, on_each_backend, public_key, race, TestDb, T0};
use platform::registry::{
    AccountName, Device, DeviceState, Location, NameplateW, NewDevice, Role, Zone, MAX_NAMEPLATE_W,
};
use platform::store::Store;
use platform::PlatformError;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reading::SigningKey;

fn name(text: &str) -> AccountName {
    text.parse().unwrap()
}

/// Everything a refused operation could have touched, for before/after comparisons.
fn snapshot(store: &Store) -> (Vec<Device>, Vec<(String, String, i64)>) {
    let accounts = store
        .accounts()
        .unwrap()
        .into_iter()
        .map(|a| (a.name.to_string(), a.role.to_string(), a.created_at_ms))
        .collect();
    (store.devices().unwrap(), accounts)
}

fn registration_round_trips_every_field(db: &TestDb) {
    let store = db.store();
    let new = NewDevice {
        public_key: public_key(1),
        owner: name("Alice Müller"),
        nameplate: NameplateW::new(MAX_NAMEPLATE_W).unwrap(),
        location: Location {
            latitude: "-33.868820".parse().unwrap(),
            longitude: "-180".parse().unwrap(),
        },
        zone: "AU-NSW:syd_1.a".parse().unwrap(),
    };
    let registered = store.register_device_creating_owner(&new, T0).unwrap();
    assert_eq!(registered.id, public_key(1).device_id());
    assert_eq!(registered.state, DeviceState::Active);

    let read = store
        .device(&registered.id)
        .unwrap()
        .expect("the device was just registered");
    assert_eq!(read, registered);
    assert_eq!(read.public_key, new.public_key);
    assert_eq!(read.owner, new.owner);
    assert_eq!(read.nameplate, new.nameplate);
    assert_eq!(read.location, new.location);
    assert_eq!(read.zone, new.zone);
    assert_eq!(read.registered_at_ms, T0);
    assert!(read.is_active());

    let owner = store
        .account(&new.owner)
        .unwrap()
        .expect("owner created on first use");
    assert_eq!(owner.id, read.owner_id);
    assert_eq!(owner.role, Role::Prosumer);
    assert_eq!(owner.created_at_ms, T0);
    assert_eq!(store.device(&public_key(2).device_id()).unwrap(), None);
}

fn duplicate_registration_is_refused_and_changes_nothing(db: &TestDb) {
    let store = db.store();
    let first = store
        .register_device_creating_owner(&new_device(1, "alice"), T0)
        .unwrap();
    let before = snapshot(&store);

    // Same key, another (new) owner, other data: refused, and "bob" is not created either.
    let mut again = new_device(1, "bob");
    again.nameplate = NameplateW::new(1).unwrap();
    let err = store
        .register_device_creating_owner(&again, T0 + 1)
        .unwrap_err();
    assert!(
        matches!(err, PlatformError::DeviceExists { id } if id == first.id),
        "{err}"
    );
    assert!(err.to_string().contains(&first.id.to_hex()), "{err}");
    let err = store
        .register_device(&new_device(1, "alice"), T0 + 2)
        .unwrap_err();
    assert!(matches!(err, PlatformError::DeviceExists { .. }), "{err}");

    // A revoked key cannot come back either.
    store.revoke_device(&first.id, T0 + 3).unwrap();
    let before_revoked = snapshot(&store);
    let err = store
        .register_device_creating_owner(&new_device(1, "alice"), T0 + 4)
        .unwrap_err();
    assert!(matches!(err, PlatformError::DeviceExists { .. }), "{err}");
    assert_eq!(snapshot(&store), before_revoked);
    assert_eq!(before.1, before_revoked.1);
    assert_eq!(store.account(&name("bob")).unwrap(), None);
}

fn registration_for_unknown_owner_is_refused_and_changes_nothing(db: &TestDb) {
    let store = db.store();
    let err = store
        .register_device(&new_device(1, "nobody"), T0)
        .unwrap_err();
    assert!(
        matches!(err, PlatformError::AccountNotFound { ref name } if name == "nobody"),
        "{err}"
    );
    assert_eq!(snapshot(&store), (vec![], vec![]));

    store
        .create_account(&name("carol"), Role::Consumer, T0)
        .unwrap();
    let device = store
        .register_device(&new_device(1, "carol"), T0 + 1)
        .unwrap();
    assert_eq!(device.owner, name("carol"));
    // Registering does not change an existing owner's role.
    assert_eq!(
        store.account(&name("carol")).unwrap().unwrap().role,
        Role::Consumer
    );
}

fn revocation_happens_once(db: &TestDb) {
    let store = db.store();
    let device = store
        .register_device_creating_owner(&new_device(1, "local"), T0)
        .unwrap();
    let other = store
        .register_device_creating_owner(&new_device(2, "local"), T0)
        .unwrap();

    let revoked = store.revoke_device(&device.id, T0 + 60_000).unwrap();
    assert_eq!(revoked.state, DeviceState::Revoked { at_ms: T0 + 60_000 });
    assert!(!revoked.is_active());
    assert_eq!(store.device(&device.id).unwrap().unwrap(), revoked);

    let before = snapshot(&store);
    let err = store.revoke_device(&device.id, T0 + 120_000).unwrap_err();
    assert!(
        matches!(err, PlatformError::DeviceAlreadyRevoked { id, revoked_at_ms }
            if id == device.id && revoked_at_ms == T0 + 60_000),
        "{err}"
    );
    assert!(err.to_string().contains("nothing changed"), "{err}");
    assert_eq!(
        snapshot(&store),
        before,
        "a second revocation must not move revoked_at"
    );
    assert!(store.device(&other.id).unwrap().unwrap().is_active());
}

fn revoking_an_unknown_device_is_refused(db: &TestDb) {
    let store = db.store();
    store
        .register_device_creating_owner(&new_device(1, "local"), T0)
        .unwrap();
    let before = snapshot(&store);
    let unknown = public_key(9).device_id();
    let err = store.revoke_device(&unknown, T0).unwrap_err();
    assert!(
        matches!(err, PlatformError::DeviceNotFound { id } if id == unknown),
        "{err}"
    );
    assert_eq!(snapshot(&store), before);
}

fn devices_are_listed_in_registration_order(db: &TestDb) {
    let store = db.store();
    assert_eq!(store.devices().unwrap(), vec![]);
    let times = [T0 + 30, T0 + 10, T0 + 20];
    for (seed, at) in (1..).zip(times) {
        let owner = if seed == 2 { "bob" } else { "alice" };
        store
            .register_device_creating_owner(&new_device(seed, owner), at)
            .unwrap();
    }
    let listed = store.devices().unwrap();
    let order: Vec<_> = listed.iter().map(|d| (d.id, d.owner.to_string())).collect();
    assert_eq!(
        order,
        vec![
            (public_key(2).device_id(), "bob".to_owned()),
            (public_key(3).device_id(), "alice".to_owned()),
            (public_key(1).device_id(), "alice".to_owned()),
        ]
    );
    let accounts: Vec<_> = store
        .accounts()
        .unwrap()
        .into_iter()
        .map(|a| a.name.to_string())
        .collect();
    assert_eq!(
        accounts,
        ["alice", "bob"],
        "accounts are listed oldest first"
    );
}

fn accounts_are_unique_by_name(db: &TestDb) {
    let store = db.store();
    let admin = store.create_account(&name("ops"), Role::Admin, T0).unwrap();
    assert_eq!(
        (admin.name.as_str(), admin.role, admin.created_at_ms),
        ("ops", Role::Admin, T0)
    );
    let err = store
        .create_account(&name("ops"), Role::Consumer, T0 + 1)
        .unwrap_err();
    assert!(
        matches!(err, PlatformError::AccountExists { ref name } if name == "ops"),
        "{err}"
    );

    // ensure_account returns the existing account unchanged.
    let same = store
        .ensure_account(&name("ops"), Role::Prosumer, T0 + 2)
        .unwrap();
    assert_eq!(same, admin);
    let created = store
        .ensure_account(&name("grid-op"), Role::Operator, T0 + 3)
        .unwrap();
    assert_eq!(created.role, Role::Operator);
    assert_ne!(created.id, admin.id);
    let all: Vec<_> = store
        .accounts()
        .unwrap()
        .into_iter()
        .map(|a| (a.name.to_string(), a.role))
        .collect();
    assert_eq!(
        all,
        [
            ("ops".to_owned(), Role::Admin),
            ("grid-op".to_owned(), Role::Operator)
        ]
    );
}

fn concurrent_writers_each_land_exactly_once(db: &TestDb) {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 4;
    let store = db.store();

    // Distinct devices, with owners shared between threads and created on first use.
    let writer = store.clone();
    let outcomes = race(THREADS, move |t| {
        (0..PER_THREAD)
            .map(|k| {
                let seed = u8::try_from(10 + t * PER_THREAD + k).unwrap();
                let owner = if k % 2 == 0 {
                    "shared".to_owned()
                } else {
                    format!("own-{t}")
                };
                writer
                    .register_device_creating_owner(&new_device(seed, &owner), T0)
                    .map(|d| d.id)
            })
            .collect::<Vec<_>>()
    });
    for outcome in outcomes.iter().flatten() {
        assert!(outcome.is_ok(), "{outcome:?}");
    }
    assert_eq!(store.devices().unwrap().len(), THREADS * PER_THREAD);
    let accounts: BTreeSet<_> = store
        .accounts()
        .unwrap()
        .into_iter()
        .map(|a| a.name.to_string())
        .collect();
    assert_eq!(
        accounts.len(),
        1 + THREADS,
        "one 'shared' and one 'own-t' per thread: {accounts:?}"
    );

    // The same key from every thread: exactly one registration wins.
    let writer = store.clone();
    let outcomes = race(THREADS, move |t| {
        writer.register_device_creating_owner(&new_device(1, &format!("racer-{t}")), T0)
    });
    let winners = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(winners, 1, "{outcomes:?}");
    for outcome in &outcomes {
        if let Err(e) = outcome {
            assert!(matches!(e, PlatformError::DeviceExists { .. }), "{e}");
        }
    }
    let racers = store
        .accounts()
        .unwrap()
        .iter()
        .filter(|a| a.name.as_str().starts_with("racer-"))
        .count();
    assert_eq!(
        racers, 1,
        "losing registrations must not leave their owner behind"
    );

    // Revoking from every thread: one revocation, the rest see it.
    let id = public_key(1).device_id();
    let writer = store.clone();
    let outcomes = race(THREADS, move |t| {
        writer.revoke_device(&id, T0 + 1 + t as i64)
    });
    let winner = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok())
        .collect::<Vec<_>>();
    assert_eq!(winner.len(), 1, "{outcomes:?}");
    let DeviceState::Revoked { at_ms } = winner[0].state else {
        panic!("winner is revoked")
    };
    for outcome in &outcomes {
        if let Err(e) = outcome {
            assert!(
                matches!(e, PlatformError::DeviceAlreadyRevoked { revoked_at_ms, .. } if *revoked_at_ms == at_ms),
                "{e}"
            );
        }
    }
    assert_eq!(
        store.device(&id).unwrap().unwrap().state,
        DeviceState::Revoked { at_ms }
    );
}

/// Any valid registration is stored and read back exactly: unicode owners, every zone
/// character, the full latitude/longitude/nameplate ranges.
fn arbitrary_valid_registrations_round_trip(db: &TestDb) {
    let store = db.store();
    // Keys are not the input under test (any 32 bytes are accepted); a counter keeps them
    // distinct across cases and shrinking runs, which all share this database.
    let next_key = AtomicU32::new(1_000);
    let owner = "[^\\p{Cc}]{1,64}".prop_filter_map("a valid account name", |s: String| {
        s.parse::<AccountName>().ok()
    });
    let zone = "[A-Za-z0-9._:-]{1,64}"
        .prop_map(|s| s.parse::<Zone>().expect("the regex only makes valid zones"));
    let strategy = (
        owner,
        zone,
        -90_000_000i32..=90_000_000,
        -180_000_000i32..=180_000_000,
        1..=MAX_NAMEPLATE_W,
    );
    let config = Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&strategy, |(owner, zone, lat, lon, watts)| {
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&next_key.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let new = NewDevice {
            public_key: SigningKey::from_seed(&seed).unwrap().public_key(),
            owner,
            nameplate: NameplateW::new(watts).unwrap(),
            location: Location {
                latitude: platform::registry::Latitude::from_micro(lat).unwrap(),
                longitude: platform::registry::Longitude::from_micro(lon).unwrap(),
            },
            zone,
        };
        let registered = store
            .register_device_creating_owner(&new, T0)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let read = store
            .device(&new.id())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(read.as_ref(), Some(&registered));
        prop_assert_eq!(&registered.owner, &new.owner);
        prop_assert_eq!(&registered.zone, &new.zone);
        prop_assert_eq!(registered.location, new.location);
        prop_assert_eq!(registered.nameplate, new.nameplate);
        prop_assert_eq!(registered.public_key, new.public_key);
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("on {:?}: {failure}", db.backend());
    }
}

on_each_backend!(
    arbitrary_valid_registrations_round_trip,
    registration_round_trips_every_field,
    duplicate_registration_is_refused_and_changes_nothing,
    registration_for_unknown_owner_is_refused_and_changes_nothing,
    revocation_happens_once,
    revoking_an_unknown_device_is_refused,
    devices_are_listed_in_registration_order,
    accounts_are_unique_by_name,
    concurrent_writers_each_land_exactly_once,
);

#[test]
fn registry_types_refuse_bad_input_before_storage() {
    // The edge: what the CLI and the API parse. Nothing invalid reaches a Store method.
    assert!(matches!(
        platform::registry::parse_public_key("not-hex"),
        Err(PlatformError::InvalidPublicKey { .. })
    ));
    assert!(matches!(
        "-1".parse::<NameplateW>(),
        Err(PlatformError::InvalidNameplate { .. })
    ));
    assert!("91".parse::<platform::registry::Latitude>().is_err());
    assert!("-180.5".parse::<platform::registry::Longitude>().is_err());
    assert!("".parse::<Zone>().is_err());
}
