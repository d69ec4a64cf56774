//! Bad input: every refusal is a typed rejection, and the engine is exactly as it was before.

mod common;

use common::*;
use exchange::*;

/// An engine with a few resting orders in one book, and the hash of that state.
fn seeded() -> (Engine, OrderId) {
    let mut e = engine();
    let id = accepted_id(&submit(&mut e, sell(1, 1, 100, 10)));
    submit(&mut e, buy(2, 1, 90, 10));
    (e, id)
}

/// Runs `cmd` and checks it was rejected with `expected` and changed nothing.
fn assert_rejected(cmd: Command, expected: ExchangeError) {
    let (mut e, _) = seeded();
    let hash = e.state_hash();
    let view = e.book(ZONE, SLOT);
    let ev = e.execute(&cmd, &NoLimits);
    assert_eq!(rejection(&ev), Some(expected), "events: {ev:?}");
    assert_eq!(e.state_hash(), hash, "state changed");
    assert_eq!(e.book(ZONE, SLOT), view);
    // The next accepted order still gets the next id: a rejection consumes none.
    let next = submit(&mut e, buy(5, 77, 10, 1));
    assert_eq!(accepted_id(&next), OrderId(3));
}

fn new(o: NewOrder) -> Command {
    Command::submit(T0, o)
}

#[test]
fn zero_quantity() {
    assert_rejected(new(buy(3, 1, 90, 0)), ExchangeError::ZeroQuantity);
}

#[test]
fn negative_quantity_cannot_even_be_decoded() {
    let good = serde_json::to_value(new(buy(3, 1, 90, 5))).unwrap();
    let mut bad = good.clone();
    bad["action"]["Submit"]["qty"] = serde_json::json!(-5);
    assert!(serde_json::from_value::<Command>(good).is_ok());
    assert!(serde_json::from_value::<Command>(bad).is_err());
}

#[test]
fn quantity_above_the_maximum() {
    assert_rejected(
        new(buy(3, 1, 90, 1_000_001)),
        ExchangeError::QuantityTooLarge {
            qty: 1_000_001,
            max: 1_000_000,
        },
    );
}

#[test]
fn price_off_tick() {
    assert_rejected(
        new(buy(3, 1, 95, 1)),
        ExchangeError::OffTick {
            price: Price(95),
            tick: 10,
        },
    );
    assert_rejected(
        new(sell(3, 1, -95, 1)),
        ExchangeError::OffTick {
            price: Price(-95),
            tick: 10,
        },
    );
}

#[test]
fn price_outside_the_band() {
    let band = |p| ExchangeError::PriceOutOfBand {
        price: Price(p),
        min: Price(-100_000),
        max: Price(100_000),
    };
    assert_rejected(new(buy(3, 1, 100_010, 1)), band(100_010));
    assert_rejected(new(sell(3, 1, -100_010, 1)), band(-100_010));
    // A market order's protection price must be inside the band too.
    assert_rejected(
        new(order(3, 1, Side::Buy, OrderType::Market, 100_001, 1)),
        band(100_001),
    );
}

#[test]
fn unknown_order() {
    let ghost = OrderId(99);
    assert_rejected(
        Command::cancel(T0, AccountId(1), ghost),
        ExchangeError::UnknownOrder(ghost),
    );
    assert_rejected(
        Command::modify(T0, AccountId(1), ghost, Price(100), Wh(1)),
        ExchangeError::UnknownOrder(ghost),
    );
}

#[test]
fn cancel_or_modify_of_another_accounts_order() {
    let (_, id) = seeded();
    assert_rejected(
        Command::cancel(T0, AccountId(2), id),
        ExchangeError::NotOwner(id),
    );
    assert_rejected(
        Command::modify(T0, AccountId(2), id, Price(100), Wh(1)),
        ExchangeError::NotOwner(id),
    );
}

#[test]
fn modify_with_bad_terms() {
    let (_, id) = seeded();
    assert_rejected(
        Command::modify(T0, AccountId(1), id, Price(100), Wh(0)),
        ExchangeError::ZeroQuantity,
    );
    assert_rejected(
        Command::modify(T0, AccountId(1), id, Price(101), Wh(5)),
        ExchangeError::OffTick {
            price: Price(101),
            tick: 10,
        },
    );
}

#[test]
fn order_for_a_closed_slot() {
    let past = SlotId(SLOT.0 - 2 * H);
    let mut o = buy(3, 1, 90, 1);
    o.slot = past;
    let closed_at_ms = config().calendar.gate_closure(past);
    assert_rejected(
        new(o),
        ExchangeError::SlotClosed {
            slot: past,
            closed_at_ms,
        },
    );
}

#[test]
fn order_for_a_slot_not_yet_open() {
    let far = SlotId(SLOT.0 + 48 * H);
    let mut o = buy(3, 1, 90, 1);
    o.slot = far;
    let opens_at_ms = config().calendar.opens_at(far);
    assert_rejected(
        new(o),
        ExchangeError::SlotNotYetOpen {
            slot: far,
            opens_at_ms,
        },
    );
}

#[test]
fn order_for_an_unknown_slot_or_zone() {
    let mut o = buy(3, 1, 90, 1);
    o.slot = SlotId(SLOT.0 + 1);
    assert_rejected(new(o), ExchangeError::UnknownSlot(SlotId(SLOT.0 + 1)));
    let mut o = buy(3, 1, 90, 1);
    o.zone = ZoneId(9);
    assert_rejected(new(o), ExchangeError::UnknownZone(ZoneId(9)));
}

#[test]
fn duplicate_client_order_id() {
    // Account 1 used client id 1 for its resting sell; reusing it is refused even on the other
    // side, in another zone, or after the first order is gone.
    assert_rejected(new(buy(1, 1, 50, 1)), ExchangeError::DuplicateClientOrderId);
    let mut o = sell(1, 1, 100, 1);
    o.zone = ZoneId(2);
    assert_rejected(new(o), ExchangeError::DuplicateClientOrderId);
    let (mut e, id) = seeded();
    e.execute(&Command::cancel(T0, AccountId(1), id), &NoLimits);
    let ev = submit(&mut e, sell(1, 1, 100, 1));
    assert_eq!(rejection(&ev), Some(ExchangeError::DuplicateClientOrderId));
    // Another account may use the same number.
    assert!(matches!(
        submit(&mut e, sell(3, 1, 100, 1))[0],
        Event::Accepted { .. }
    ));
}

#[test]
fn pre_trade_failures_change_nothing() {
    let limits = Limits::default().with_capacity(1, 5).with_funds(2, 0);
    let (mut e, _) = seeded();
    let hash = e.state_hash();
    let ev = e.execute(&new(sell(1, 2, 100, 10)), &limits);
    assert_eq!(
        rejection(&ev),
        Some(ExchangeError::CapacityExceeded {
            requested: 10,
            committed: 10,
            capacity: 5
        })
    );
    let ev = e.execute(&new(buy(2, 2, 1_000, 10)), &limits);
    assert_eq!(
        rejection(&ev),
        Some(ExchangeError::InsufficientFunds {
            needed: 10,
            available: 0
        })
    );
    assert_eq!(e.state_hash(), hash);
}

#[test]
fn invalid_configurations_are_refused() {
    let mut c = config();
    c.tick = -1;
    assert!(matches!(
        Engine::new(c),
        Err(ExchangeError::InvalidConfig(_))
    ));
    let mut c = config();
    c.max_order_qty = Wh(0);
    assert!(matches!(
        Engine::new(c),
        Err(ExchangeError::InvalidConfig(_))
    ));
}

#[test]
fn rejections_explain_themselves() {
    let msg = ExchangeError::InsufficientFunds {
        needed: 10,
        available: 3,
    }
    .to_string();
    assert!(
        msg.contains("10") && msg.contains('3') && msg.contains("add funds"),
        "{msg}"
    );
}

fn any_command() -> impl proptest::strategy::Strategy<Value = Command> {
    use proptest::prelude::*;
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let kind = prop_oneof![
        Just(OrderType::Limit),
        Just(OrderType::PostOnly),
        Just(OrderType::Ioc),
        Just(OrderType::Fok),
        Just(OrderType::Market)
    ];
    let time = prop_oneof![any::<i64>(), (T0 - H..T0 + 50 * H)];
    let slot = prop_oneof![
        any::<i64>(),
        (0i64..200).prop_map(|k| SLOT.0 + (k - 4) * QUARTER_HOUR_MS)
    ];
    let price = prop_oneof![any::<i64>(), (-20i64..20).prop_map(|t| t * 10)];
    let qty = prop_oneof![any::<u64>(), 0u64..50];
    let order = (
        1u64..4,
        any::<u64>(),
        0u32..4,
        slot,
        side,
        kind,
        price.clone(),
        qty.clone(),
    )
        .prop_map(|(a, c, z, s, side, kind, p, q)| NewOrder {
            account: AccountId(a),
            client_id: ClientOrderId(c % 8),
            zone: ZoneId(z),
            slot: SlotId(s),
            side,
            kind,
            price: Price(p),
            qty: Wh(q),
        });
    let action = prop_oneof![
        4 => order.prop_map(Action::Submit),
        2 => (1u64..4, 0u64..40).prop_map(|(a, id)| Action::Cancel { account: AccountId(a), order_id: OrderId(id) }),
        2 => (1u64..4, 0u64..40, price, qty).prop_map(|(a, id, p, q)| Action::Modify {
            account: AccountId(a),
            order_id: OrderId(id),
            price: Price(p),
            qty: Wh(q),
        }),
        1 => Just(Action::AdvanceTime),
    ];
    (time, action).prop_map(|(now_ms, action)| Command { now_ms, action })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// Whatever arrives, the engine answers with events and never panics, and a rejection
    /// never changes the state.
    #[test]
    fn arbitrary_commands_never_panic(cmds in proptest::collection::vec(any_command(), 1..120)) {
        let limits = Limits { any_slot_capacity: Some(40), ..Limits::default() }.with_funds(1, 5).with_funds(2, i128::MAX);
        let mut e = engine();
        for c in &cmds {
            let before = e.state_hash();
            let now_before = e.now_ms();
            let ev = e.execute(c, &limits);
            proptest::prop_assert!(!ev.is_empty() || matches!(c.action, Action::AdvanceTime));
            let only_rejected = matches!(ev.as_slice(), [Event::Rejected { .. }]);
            if only_rejected && (c.now_ms <= now_before) {
                proptest::prop_assert_eq!(e.state_hash(), before);
            }
        }
        let restored = Engine::restore(&e.snapshot());
        proptest::prop_assert!(restored.is_ok());
        proptest::prop_assert_eq!(restored.unwrap().state_hash(), e.state_hash());
    }
}
