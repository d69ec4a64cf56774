//! Snapshot → restore → continue gives the same events and state as never stopping.

mod common;

use common::*;
use exchange::*;
use proptest::prelude::*;

/// A deterministic mixed command stream over several slots and both zones, crossing gate
/// closures. `seed` picks prices, sides and targets; cancels and modifications mostly target
/// orders really resting (found by running the stream through a scratch engine as it is built).
fn stream(seed: u64, n: usize) -> Vec<Command> {
    let mut x = seed | 1;
    let mut rnd = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let l = limits();
    let mut scratch = engine();
    let mut cmds = Vec::new();
    let mut now = T0;
    let mut client = 0;
    for _ in 0..n {
        now += rnd(20_000) as i64; // ~10 s per command: a gate passes every ~90 commands
        let account = 1 + rnd(6);
        let price = Price(1_000 + 10 * (rnd(11) as i64 - 5));
        let resting: Vec<RestingOrder> = scratch
            .open_books()
            .into_iter()
            .filter_map(|k| scratch.book(k.zone, k.slot))
            .flat_map(|b| b.bids.into_iter().chain(b.asks))
            .collect();
        let target = (!resting.is_empty()).then(|| resting[rnd(resting.len() as u64) as usize]);
        // Mostly the owner, sometimes someone else (NotOwner), sometimes a made-up id.
        let (owner, order_id) = match target {
            Some(t) if rnd(10) < 8 => (t.account, t.id),
            Some(t) => (AccountId(account), t.id),
            None => (AccountId(account), OrderId(1 + rnd(client.max(1)))),
        };
        let r = rnd(100);
        let action = if r < 55 {
            client += 1;
            let kinds = [
                OrderType::Limit,
                OrderType::Limit,
                OrderType::PostOnly,
                OrderType::Ioc,
                OrderType::Fok,
                OrderType::Market,
            ];
            Action::Submit(NewOrder {
                account: AccountId(account),
                client_id: ClientOrderId(client),
                zone: ZoneId(1 + rnd(2) as u32),
                // Mostly the next few open slots; sometimes one already closed.
                slot: SlotId(config().calendar.slot_of(now).0 + (rnd(5) as i64) * QUARTER_HOUR_MS),
                side: if rnd(2) == 0 { Side::Buy } else { Side::Sell },
                kind: kinds[rnd(6) as usize],
                price,
                qty: Wh(1 + rnd(20)),
            })
        } else if r < 80 {
            Action::Cancel {
                account: owner,
                order_id,
            }
        } else if r < 97 {
            let (price, qty) = match target {
                Some(t) if rnd(2) == 0 => (t.price, Wh(1 + rnd(t.remaining.0))),
                _ => (price, Wh(1 + rnd(20))),
            };
            Action::Modify {
                account: owner,
                order_id,
                price,
                qty,
            }
        } else {
            Action::AdvanceTime
        };
        let cmd = Command {
            now_ms: now,
            action,
        };
        scratch.execute(&cmd, &l);
        cmds.push(cmd);
    }
    cmds
}

fn limits() -> Limits {
    let mut l = Limits {
        any_slot_capacity: Some(60),
        ..Limits::default()
    };
    for a in 1..=6 {
        l = l.with_funds(a, 200);
    }
    l
}

fn run(e: &mut Engine, cmds: &[Command], l: &Limits) -> Vec<Event> {
    cmds.iter().flat_map(|c| e.execute(c, l)).collect()
}

#[test]
fn the_stream_exercises_every_kind_of_event() {
    let mut e = engine();
    let ev = run(&mut e, &stream(7, 2_000), &limits());
    let has = |f: fn(&Event) -> bool| ev.iter().any(f);
    assert!(has(|e| matches!(e, Event::Trade(_))));
    assert!(has(|e| matches!(e, Event::Expired { .. })));
    assert!(has(|e| matches!(e, Event::BookClosed { .. })));
    assert!(has(|e| matches!(e, Event::Reduced { .. })));
    assert!(has(|e| matches!(e, Event::Replaced { .. })));
    assert!(has(|e| matches!(
        e,
        Event::Cancelled {
            reason: CancelReason::SelfTrade,
            ..
        }
    )));
    assert!(has(|e| matches!(e, Event::Rejected { .. })));
}

#[test]
fn restore_then_continue_equals_never_stopping() {
    let l = limits();
    let cmds = stream(11, 3_000);
    let mut live = engine();
    let all = run(&mut live, &cmds, &l);
    for cut in [0, 1, 500, 1_234, 2_999, 3_000] {
        let mut first = engine();
        let mut events = run(&mut first, &cmds[..cut], &l);
        let snap = first.snapshot();
        // Through JSON, as the platform would store it.
        let json = serde_json::to_string(&snap).unwrap();
        let snap: Snapshot = serde_json::from_str(&json).unwrap();
        let mut restored = Engine::restore(&snap).unwrap();
        assert_eq!(restored.state_hash(), first.state_hash(), "cut {cut}");
        assert_eq!(restored.snapshot(), first.snapshot(), "cut {cut}");
        events.extend(run(&mut restored, &cmds[cut..], &l));
        assert_eq!(events, all, "cut {cut}");
        assert_eq!(restored.state_hash(), live.state_hash(), "cut {cut}");
        // Escrow is rebuilt from the orders, not stored.
        for a in 1..=6 {
            assert_eq!(
                restored.escrow_reserved(AccountId(a)),
                live.escrow_reserved(AccountId(a))
            );
        }
    }
}

#[test]
fn replay_from_the_journal_gives_the_same_hash() {
    let l = limits();
    let cmds = stream(3, 1_500);
    let mut a = engine();
    let mut b = engine();
    run(&mut a, &cmds, &l);
    run(&mut b, &cmds, &l);
    assert_eq!(a.state_hash(), b.state_hash());
    assert_eq!(a.snapshot(), b.snapshot());
}

#[test]
fn the_hash_sees_every_change() {
    let mut e = engine();
    let h0 = e.state_hash();
    let id = accepted_id(&submit(&mut e, sell(1, 1, 100, 10)));
    let h1 = e.state_hash();
    e.execute(
        &Command::modify(T0, AccountId(1), id, Price(100), Wh(9)),
        &NoLimits,
    );
    let h2 = e.state_hash();
    e.execute(&Command::cancel(T0, AccountId(1), id), &NoLimits);
    let h3 = e.state_hash();
    e.advance_time(T0 + 1);
    let h4 = e.state_hash();
    let all = [h0, h1, h2, h3, h4];
    for i in 0..all.len() {
        for j in i + 1..all.len() {
            assert_ne!(all[i], all[j], "states {i} and {j} hash alike");
        }
    }
}

#[test]
fn ids_at_both_ends_of_the_range_restore_and_keep_trading() {
    // The order-id index is a window over recent ids; a snapshot may put resting ids at
    // opposite ends of the range, and new ids continue above the highest.
    let mut e = engine();
    let low = accepted_id(&submit(&mut e, buy(2, 1, 90, 10)));
    submit(&mut e, sell(1, 1, 100, 10));
    let mut s = e.snapshot();
    let high = OrderId(u64::MAX - 3);
    s.books[0].asks[0].id = high;
    s.next_order_id = u64::MAX - 2;
    let mut r = Engine::restore(&s).unwrap();
    assert_eq!(r.resting_orders(), 2);
    assert_eq!(r.order(low).map(|o| o.price), Some(Price(90)));
    assert_eq!(r.order(high).map(|o| o.price), Some(Price(100)));
    assert_eq!(r.snapshot(), s);

    let newest = accepted_id(&submit(&mut r, sell(1, 2, 110, 5)));
    assert_eq!(newest, OrderId(u64::MAX - 2));
    let t = trades(&submit(&mut r, buy(3, 1, 100, 4)));
    assert_eq!(t.iter().map(|t| t.maker_order).collect::<Vec<_>>(), [high]);
    let ev = r.execute(&Command::cancel(T0, AccountId(2), low), &NoLimits);
    assert!(matches!(ev[..], [Event::Cancelled { order_id, .. }] if order_id == low));
    let ev = r.execute(
        &Command::modify(T0, AccountId(1), high, Price(120), Wh(6)),
        &NoLimits,
    );
    assert!(matches!(ev[..], [Event::Replaced { .. }]), "{ev:?}");
    assert_eq!(r.order(high).map(|o| o.price), Some(Price(120)));
    assert_eq!(r.resting_orders(), 2);
    assert_eq!(r.order(low), None);
}

#[test]
fn inconsistent_snapshots_are_refused() {
    let mut e = engine();
    submit(&mut e, sell(1, 1, 100, 10));
    submit(&mut e, buy(2, 1, 90, 10));
    let good = e.snapshot();
    assert!(Engine::restore(&good).is_ok());

    let mut s = good.clone();
    s.version = 99;
    assert!(matches!(
        Engine::restore(&s),
        Err(ExchangeError::InvalidSnapshot(_))
    ));

    let mut s = good.clone();
    s.books[0].bids[0].price = Price(200); // crosses the ask
    assert!(matches!(
        Engine::restore(&s),
        Err(ExchangeError::InvalidSnapshot(_))
    ));

    let mut s = good.clone();
    s.books[0].asks[0].id = s.books[0].bids[0].id;
    assert!(matches!(
        Engine::restore(&s),
        Err(ExchangeError::InvalidSnapshot(_))
    ));

    let mut s = good.clone();
    s.next_order_id = 2; // an order id beyond the counter would be handed out twice
    assert!(matches!(
        Engine::restore(&s),
        Err(ExchangeError::InvalidSnapshot(_))
    ));

    let mut s = good.clone();
    s.books[0].sell_committed.clear(); // resting sells must be committed
    assert!(matches!(
        Engine::restore(&s),
        Err(ExchangeError::InvalidSnapshot(_))
    ));

    let mut s = good.clone();
    s.books[0].asks[0].remaining = Wh(0);
    assert!(matches!(
        Engine::restore(&s),
        Err(ExchangeError::InvalidSnapshot(_))
    ));

    let mut s = good.clone();
    let mut other = s.books[0].clone();
    other.key.slot = SlotId(other.key.slot.0 + QUARTER_HOUR_MS);
    other.bids.clear();
    other.asks.clear();
    other.sell_committed.clear();
    s.books.push(other); // the same client ids in use in two books
    assert!(matches!(
        Engine::restore(&s),
        Err(ExchangeError::InvalidSnapshot(_))
    ));

    let mut s = good;
    let dup = s.books[0].clone();
    s.books.push(dup);
    assert!(matches!(
        Engine::restore(&s),
        Err(ExchangeError::InvalidSnapshot(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn snapshot_at_any_point_continues_identically(seed in 1u64..u64::MAX, cut in 0usize..400) {
        let l = limits();
        let cmds = stream(seed, 400);
        let mut live = engine();
        let all = run(&mut live, &cmds, &l);
        let mut first = engine();
        let mut events = run(&mut first, &cmds[..cut], &l);
        let mut restored = Engine::restore(&first.snapshot()).unwrap();
        events.extend(run(&mut restored, &cmds[cut..], &l));
        prop_assert_eq!(events, all);
        prop_assert_eq!(restored.state_hash(), live.state_hash());
    }
}
