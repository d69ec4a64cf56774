//! The engine against a deliberately simple reference matcher, on random command streams.
//!
//! The reference (`common/reference.rs`) keeps every resting order in one flat `Vec`, finds the
//! best counter-order by a linear scan, and recomputes escrow and seller commitments from their
//! definitions instead of keeping running totals. For every command both must emit exactly the same events and leave
//! exactly the same books; after every command the engine's state must also satisfy the market
//! invariants on its own (not crossed, quantities conserved, trades at the resting price and
//! inside the taker's limit, nothing after gate closure, no self-trade, escrow and commitments
//! consistent with the resting orders).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::reference::Reference;
use common::*;
use exchange::*;
use proptest::prelude::*;

fn engine_views(e: &Engine) -> Views {
    e.open_books()
        .into_iter()
        .map(|k| {
            let v = e.book(k.zone, k.slot).unwrap();
            (k, v.bids, v.asks)
        })
        .collect()
}

// ---- random command streams --------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Submit {
        account: u64,
        client: Option<u64>,
        zone: u32,
        slot_ahead: i64,
        side: Side,
        kind: OrderType,
        price: i64,
        qty: u64,
    },
    Cancel {
        pick: usize,
        foreign: bool,
    },
    Modify {
        pick: usize,
        foreign: bool,
        keep_price: bool,
        keep_qty: bool,
        price: i64,
        qty: u64,
    },
    Advance {
        ms: i64,
    },
}

fn price_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        12 => (-8i64..=8).prop_map(|t| 100 + 10 * t),
        2 => (-8i64..=8).prop_map(|t| -40 + 10 * t),
        1 => Just(105i64),     // off tick
        1 => Just(200_000i64), // outside the band
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![
        6 => Just(OrderType::Limit),
        2 => Just(OrderType::PostOnly),
        1 => Just(OrderType::Ioc),
        1 => Just(OrderType::Fok),
        1 => Just(OrderType::Market),
    ];
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let client = prop_oneof![6 => Just(None), 1 => (0u64..4).prop_map(Some)];
    // Mostly one busy book, so orders meet; sometimes another zone, slot, or an unknown zone.
    let zone = prop_oneof![8 => Just(1u32), 2 => Just(2u32), 1 => Just(3u32)];
    let slot_ahead = prop_oneof![8 => Just(1i64), 2 => 0i64..4, 1 => Just(-1i64)];
    prop_oneof![
        10 => (1u64..=4, client, zone, slot_ahead, side, kind, price_strategy(), prop_oneof![12 => 1u64..=25, 1 => Just(0u64)])
            .prop_map(|(account, client, zone, slot_ahead, side, kind, price, qty)| Op::Submit {
                account, client, zone, slot_ahead, side, kind, price, qty
            }),
        4 => (any::<usize>(), prop::bool::weighted(0.1)).prop_map(|(pick, foreign)| Op::Cancel { pick, foreign }),
        4 => (any::<usize>(), prop::bool::weighted(0.1), any::<bool>(), prop::bool::weighted(0.15), price_strategy(), 0u64..=25)
            .prop_map(|(pick, foreign, keep_price, keep_qty, price, qty)| Op::Modify { pick, foreign, keep_price, keep_qty, price, qty }),
        1 => (0i64..900_000).prop_map(|ms| Op::Advance { ms }),
    ]
}

/// Turns abstract ops into commands, aiming cancels and modifications at resting orders.
struct Driver {
    now: i64,
    clients: BTreeMap<u64, u64>,
}

impl Driver {
    fn command(&mut self, op: &Op, e: &Engine) -> Command {
        self.now += 2_000;
        let resting: Vec<RestingOrder> = engine_views(e)
            .into_iter()
            .flat_map(|(_, b, a)| b.into_iter().chain(a))
            .collect();
        let target = |pick: usize, foreign: bool| match resting.get(pick % resting.len().max(1)) {
            Some(o) if !foreign => (o.account, o.id, Some(*o)),
            Some(o) => (AccountId(o.account.0 % 4 + 1), o.id, Some(*o)),
            None => (AccountId(1), OrderId(pick as u64 % 50), None),
        };
        let action = match *op {
            Op::Submit {
                account,
                client,
                zone,
                slot_ahead,
                side,
                kind,
                price,
                qty,
            } => {
                let c = self.clients.entry(account).or_insert(100);
                let client_id = client.unwrap_or_else(|| {
                    *c += 1;
                    *c
                });
                let slot =
                    SlotId(config().calendar.slot_of(self.now).0 + slot_ahead * QUARTER_HOUR_MS);
                Action::Submit(NewOrder {
                    account: AccountId(account),
                    client_id: ClientOrderId(client_id),
                    zone: ZoneId(zone),
                    slot,
                    side,
                    kind,
                    price: Price(price),
                    qty: Wh(qty),
                })
            }
            Op::Cancel { pick, foreign } => {
                let (account, order_id, _) = target(pick, foreign);
                Action::Cancel { account, order_id }
            }
            Op::Modify {
                pick,
                foreign,
                keep_price,
                keep_qty,
                price,
                qty,
            } => {
                let (account, order_id, o) = target(pick, foreign);
                let price = match o {
                    Some(o) if keep_price => o.price,
                    _ => Price(price),
                };
                let qty = match o {
                    Some(o) if keep_qty => o.remaining,
                    _ => Wh(qty),
                };
                Action::Modify {
                    account,
                    order_id,
                    price,
                    qty,
                }
            }
            Op::Advance { ms } => {
                self.now += ms;
                Action::AdvanceTime
            }
        };
        Command {
            now_ms: self.now,
            action,
        }
    }
}

fn limits() -> Limits {
    Limits {
        any_slot_capacity: Some(30),
        ..Limits::default()
    }
    .with_funds(1, 0)
    .with_funds(2, 3)
    .with_funds(3, 1_000)
    .with_funds(4, 1_000_000)
}

// ---- invariants --------------------------------------------------------------------------------

/// Per order: what is left of it according to the events so far.
#[derive(Default)]
struct Ledger {
    left: BTreeMap<OrderId, u64>,
    /// Σ accepted + Σ increases by replace − Σ reductions, and where it all went.
    submitted: u128,
    filled: u128,
    removed: u128,
}

impl Ledger {
    fn apply(&mut self, events: &[Event]) {
        for ev in events {
            match ev {
                Event::Accepted { order_id, order } => {
                    self.left.insert(*order_id, order.qty.0);
                    self.submitted += order.qty.0 as u128;
                }
                Event::Trade(t) => {
                    for id in [t.maker_order, t.taker_order] {
                        let l = self.left.get_mut(&id).expect("trade for a known order");
                        *l = l
                            .checked_sub(t.qty.0)
                            .expect("never fills more than is left");
                    }
                    self.filled += 2 * t.qty.0 as u128;
                    assert_eq!(self.left[&t.maker_order], t.maker_remaining.0);
                }
                Event::Cancelled {
                    order_id,
                    remaining,
                    ..
                }
                | Event::Expired {
                    order_id,
                    remaining,
                    ..
                } => {
                    let l = self.left.insert(*order_id, 0).expect("known order");
                    assert_eq!(
                        l, remaining.0,
                        "cancel/expire reports exactly what was left"
                    );
                    self.removed += l as u128;
                }
                Event::Reduced {
                    order_id,
                    remaining,
                    ..
                }
                | Event::Replaced {
                    order_id,
                    qty: remaining,
                    ..
                } => {
                    let l = self
                        .left
                        .insert(*order_id, remaining.0)
                        .expect("known order");
                    if remaining.0 >= l {
                        self.submitted += (remaining.0 - l) as u128;
                    } else {
                        self.removed += (l - remaining.0) as u128;
                    }
                }
                Event::Rejected { .. } | Event::BookClosed { .. } => {}
            }
        }
    }
}

type Views = Vec<(BookKey, Vec<RestingOrder>, Vec<RestingOrder>)>;

fn check_invariants(
    e: &Engine,
    before: &Views,
    cmd: &Command,
    events: &[Event],
    ledger: &Ledger,
    l: &Limits,
) -> Result<(), TestCaseError> {
    let cal = config().calendar;
    let views = engine_views(e);
    let mut resting_total = 0u128;
    for (k, bids, asks) in &views {
        prop_assert!(
            e.now_ms() < cal.gate_closure(k.slot),
            "book {:?} open after its gate",
            k
        );
        if let (Some(b), Some(a)) = (bids.first(), asks.first()) {
            prop_assert!(
                b.price < a.price,
                "crossed book {:?}: {:?} >= {:?}",
                k,
                b.price,
                a.price
            );
        }
        prop_assert!(bids.windows(2).all(|w| w[0].price >= w[1].price));
        prop_assert!(asks.windows(2).all(|w| w[0].price <= w[1].price));
        for o in bids.iter().chain(asks) {
            prop_assert_eq!(
                ledger.left.get(&o.id).copied(),
                Some(o.remaining.0),
                "order {:?}",
                o.id
            );
            resting_total += o.remaining.0 as u128;
        }
        for a in 1..=4 {
            let cap = l
                .sell_capacity_wh(AccountId(a), k.zone, k.slot)
                .map_or(0, |w| w.0);
            let committed = e.sell_committed(AccountId(a), k.zone, k.slot).0;
            prop_assert!(committed <= cap);
            let open: u64 = asks
                .iter()
                .filter(|o| o.account == AccountId(a))
                .map(|o| o.remaining.0)
                .sum();
            prop_assert!(committed >= open);
        }
    }
    // Conservation: everything submitted is filled, resting or removed (cancelled, expired,
    // reduced). `filled` counts both sides of every trade.
    prop_assert_eq!(
        ledger.submitted,
        ledger.filled + resting_total + ledger.removed
    );
    prop_assert_eq!(
        ledger.left.values().map(|v| *v as u128).sum::<u128>(),
        resting_total
    );
    for a in 1..=4 {
        let expected: i128 = views
            .iter()
            .flat_map(|(_, b, s)| b.iter().chain(s.iter()))
            .filter(|o| o.account == AccountId(a))
            .map(|o| order_escrow(o.side, o.price, o.remaining.0))
            .sum();
        prop_assert_eq!(e.escrow_reserved(AccountId(a)), Micros(expected));
    }
    let taker_limit = match cmd.action {
        Action::Submit(o) => Some(o.price),
        Action::Modify { price, .. } => Some(price),
        _ => None,
    };
    for t in events.iter().filter_map(|e| {
        if let Event::Trade(t) = e {
            Some(t)
        } else {
            None
        }
    }) {
        prop_assert!(t.maker_account != t.taker_account, "self-trade");
        prop_assert!(
            t.at_ms < cal.gate_closure(t.slot),
            "trade after gate closure"
        );
        if let Some(limit) = taker_limit {
            prop_assert!(
                t.taker_side.crosses(limit, t.price),
                "trade outside the taker's limit"
            );
        }
        let book = BookKey {
            slot: t.slot,
            zone: t.zone,
        };
        let queue: Vec<RestingOrder> = before
            .iter()
            .filter(|(k, _, _)| *k == book)
            .flat_map(|(_, b, a)| {
                if t.taker_side == Side::Buy {
                    a.clone()
                } else {
                    b.clone()
                }
            })
            .collect();
        let pos = queue.iter().position(|o| o.id == t.maker_order);
        prop_assert!(
            pos.is_some(),
            "maker {:?} was not resting before the command",
            t.maker_order
        );
        let pos = pos.unwrap();
        prop_assert_eq!(t.price, queue[pos].price, "trade not at the resting price");
        // Price-time priority: everything ahead of the maker (not the taker's own) is used up.
        for ahead in &queue[..pos] {
            prop_assert!(
                ahead.account == t.taker_account || e.order(ahead.id).is_none(),
                "order {:?} was ahead of maker {:?} but is still resting",
                ahead.id,
                t.maker_order
            );
        }
    }
    Ok(())
}

fn run_against_reference(ops: &[Op]) -> Result<(), TestCaseError> {
    let l = limits();
    let mut e = engine();
    let mut r = Reference::new(config());
    let mut d = Driver {
        now: T0,
        clients: BTreeMap::new(),
    };
    let mut ledger = Ledger::default();
    for op in ops {
        let cmd = d.command(op, &e);
        let before = engine_views(&e);
        let got = e.execute(&cmd, &l);
        let want = r.execute(&cmd, &l);
        prop_assert_eq!(&got, &want, "command {:?}", cmd);
        prop_assert_eq!(engine_views(&e), r.views(), "books differ after {:?}", cmd);
        ledger.apply(&got);
        check_invariants(&e, &before, &cmd, &got, &ledger, &l)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_reference_and_keeps_the_invariants(ops in proptest::collection::vec(op_strategy(), 1..200)) {
        run_against_reference(&ops)?;
    }
}

#[test]
fn a_long_fixed_stream_matches_the_reference_and_covers_every_event() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let ops = proptest::collection::vec(op_strategy(), 1_500)
        .new_tree(&mut runner)
        .unwrap()
        .current();
    run_against_reference(&ops).unwrap();
    // The stream is only a good test if it reaches every kind of outcome.
    let l = limits();
    let mut e = engine();
    let mut d = Driver {
        now: T0,
        clients: BTreeMap::new(),
    };
    let mut seen = BTreeSet::new();
    for op in &ops {
        let cmd = d.command(op, &e);
        for ev in e.execute(&cmd, &l) {
            let name = match ev {
                Event::Rejected { reason, .. } => format!("{reason:?}")
                    .split([' ', '(', '{'])
                    .next()
                    .unwrap()
                    .to_string(),
                Event::Cancelled { reason, .. } => format!("Cancelled/{reason:?}"),
                other => format!("{other:?}")
                    .split([' ', '(', '{'])
                    .next()
                    .unwrap()
                    .to_string(),
            };
            seen.insert(name);
        }
    }
    for must in [
        "Accepted",
        "Trade",
        "Reduced",
        "Replaced",
        "Expired",
        "BookClosed",
        "Cancelled/Requested",
        "Cancelled/SelfTrade",
        "Cancelled/Unfilled",
        "ZeroQuantity",
        "OffTick",
        "PriceOutOfBand",
        "SlotClosed",
        "DuplicateClientOrderId",
        "UnknownOrder",
        "NotOwner",
        "WouldCross",
        "FokNotFillable",
        "CapacityExceeded",
        "InsufficientFunds",
        "UnknownZone",
        "NoChange",
    ] {
        assert!(
            seen.contains(must),
            "the fixed stream never produced {must}; saw {seen:?}"
        );
    }
}
