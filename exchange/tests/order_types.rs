//! The market rules, one behaviour per test: priority, order types, self-trade prevention,
//! modifications, gate closure, pre-trade checks and escrow.

mod common;

use common::*;
use exchange::*;

#[test]
fn limit_orders_rest_and_trade_at_the_resting_price_in_price_time_priority() {
    let mut e = engine();
    let s1 = accepted_id(&submit(&mut e, sell(1, 1, 120, 10)));
    let s2 = accepted_id(&submit(&mut e, sell(2, 1, 110, 10)));
    let s3 = accepted_id(&submit(&mut e, sell(3, 1, 110, 10)));
    let ev = submit(&mut e, buy(9, 1, 150, 25));
    let t = trades(&ev);
    let got: Vec<_> = t
        .iter()
        .map(|t| (t.maker_order, t.price.0, t.qty.0))
        .collect();
    // Best price first (110), oldest first within it (s2 before s3), then 120; all at maker price.
    assert_eq!(got, vec![(s2, 110, 10), (s3, 110, 10), (s1, 120, 5)]);
    assert!(t
        .iter()
        .all(|t| t.taker_side == Side::Buy && t.taker_account == AccountId(9)));
    assert_eq!(t[0].value, Micros(1)); // 110 × 10 / 1000 = 1.1 → 1
    assert_eq!(t[2].maker_remaining, Wh(5));
    let book = e.book(ZONE, SLOT).unwrap();
    assert_eq!(book.asks.len(), 1);
    assert_eq!(book.asks[0].remaining, Wh(5));
    assert!(book.bids.is_empty(), "the buy was filled completely");
}

#[test]
fn ids_are_sequential_and_trades_numbered() {
    let mut e = engine();
    let a = submit(&mut e, sell(1, 1, 100, 10));
    let b = submit(&mut e, buy(2, 1, 100, 4));
    let c = submit(&mut e, buy(2, 2, 100, 4));
    assert_eq!(accepted_id(&a), OrderId(1));
    assert_eq!(accepted_id(&b), OrderId(2));
    assert_eq!(accepted_id(&c), OrderId(3));
    assert_eq!(trades(&b)[0].id, TradeId(1));
    assert_eq!(trades(&c)[0].id, TradeId(2));
}

#[test]
fn ioc_fills_what_it_can_and_cancels_the_rest() {
    let mut e = engine();
    submit(&mut e, sell(1, 1, 100, 6));
    let ev = submit(&mut e, order(2, 1, Side::Buy, OrderType::Ioc, 100, 10));
    assert_eq!(trades(&ev).len(), 1);
    assert!(matches!(
        ev.last(),
        Some(Event::Cancelled {
            remaining: Wh(4),
            reason: CancelReason::Unfilled,
            ..
        })
    ));
    assert!(
        e.book(ZONE, SLOT).unwrap().bids.is_empty(),
        "IOC never rests"
    );
    assert_eq!(e.escrow_reserved(AccountId(2)), Micros(0));
}

#[test]
fn fok_fills_completely_or_is_rejected_without_touching_the_book() {
    let mut e = engine();
    submit(&mut e, sell(1, 1, 100, 6));
    submit(&mut e, sell(2, 1, 110, 6));
    let before = e.state_hash();
    let ev = submit(&mut e, order(3, 1, Side::Buy, OrderType::Fok, 100, 10));
    assert_eq!(
        rejection(&ev),
        Some(ExchangeError::FokNotFillable {
            qty: 10,
            available: 6
        })
    );
    assert_eq!(e.state_hash(), before);
    let ev = submit(&mut e, order(3, 2, Side::Buy, OrderType::Fok, 110, 10));
    assert_eq!(trades(&ev).iter().map(|t| t.qty.0).sum::<u64>(), 10);
    assert!(!ev.iter().any(|e| matches!(e, Event::Cancelled { .. })));
}

#[test]
fn fok_does_not_count_the_accounts_own_orders() {
    let mut e = engine();
    submit(&mut e, sell(3, 1, 100, 10));
    submit(&mut e, sell(1, 1, 100, 5));
    let ev = submit(&mut e, order(3, 2, Side::Buy, OrderType::Fok, 100, 10));
    assert_eq!(
        rejection(&ev),
        Some(ExchangeError::FokNotFillable {
            qty: 10,
            available: 5
        })
    );
}

#[test]
fn market_order_sweeps_up_to_its_protection_price_and_never_rests() {
    let mut e = engine();
    submit(&mut e, sell(1, 1, 100, 5));
    submit(&mut e, sell(2, 1, 200, 5));
    submit(&mut e, sell(3, 1, 300, 5));
    // Protection price need not be on tick; it only bounds the sweep.
    let ev = submit(&mut e, order(9, 1, Side::Buy, OrderType::Market, 255, 20));
    let t = trades(&ev);
    assert_eq!(
        t.iter().map(|t| t.price.0).collect::<Vec<_>>(),
        vec![100, 200]
    );
    assert!(matches!(
        ev.last(),
        Some(Event::Cancelled {
            remaining: Wh(10),
            reason: CancelReason::Unfilled,
            ..
        })
    ));
    let book = e.book(ZONE, SLOT).unwrap();
    assert!(book.bids.is_empty());
    assert_eq!(book.asks.len(), 1);
}

#[test]
fn market_sell_respects_a_negative_protection_price() {
    let mut e = engine();
    submit(&mut e, buy(1, 1, -50, 5));
    submit(&mut e, buy(2, 1, -500, 5));
    let ev = submit(&mut e, order(9, 1, Side::Sell, OrderType::Market, -100, 10));
    assert_eq!(
        trades(&ev).iter().map(|t| t.price.0).collect::<Vec<_>>(),
        vec![-50]
    );
}

#[test]
fn post_only_rests_or_is_rejected_if_it_would_cross() {
    let mut e = engine();
    submit(&mut e, sell(1, 1, 100, 5));
    let before = e.state_hash();
    let ev = submit(&mut e, order(2, 1, Side::Buy, OrderType::PostOnly, 100, 5));
    assert_eq!(rejection(&ev), Some(ExchangeError::WouldCross));
    assert_eq!(e.state_hash(), before);
    let ev = submit(&mut e, order(2, 2, Side::Buy, OrderType::PostOnly, 90, 5));
    assert!(trades(&ev).is_empty());
    assert_eq!(
        e.best_prices(ZONE, SLOT),
        (Some(Price(90)), Some(Price(100)))
    );
}

#[test]
fn self_trade_prevention_cancels_the_resting_order_and_keeps_matching() {
    let mut e = engine();
    let own = accepted_id(&submit(&mut e, sell(7, 1, 100, 5)));
    let other = accepted_id(&submit(&mut e, sell(8, 1, 100, 5)));
    let ev = submit(&mut e, buy(7, 2, 100, 8));
    assert!(matches!(
        ev[1],
        Event::Cancelled { order_id, remaining: Wh(5), reason: CancelReason::SelfTrade, .. } if order_id == own
    ));
    let t = trades(&ev);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].maker_order, t[0].qty), (other, Wh(5)));
    assert!(t.iter().all(|t| t.maker_account != t.taker_account));
    // The buyer's remaining 3 Wh rest.
    assert_eq!(e.book(ZONE, SLOT).unwrap().bids[0].remaining, Wh(3));
    assert_eq!(
        e.sell_committed(AccountId(7), ZONE, SLOT),
        Wh(0),
        "the cancelled sell released its commitment"
    );
}

#[test]
fn reduce_keeps_time_priority() {
    let mut e = engine();
    let first = accepted_id(&submit(&mut e, sell(1, 1, 100, 10)));
    let second = accepted_id(&submit(&mut e, sell(2, 1, 100, 10)));
    let ev = e.execute(
        &Command::modify(T0, AccountId(1), first, Price(100), Wh(4)),
        &NoLimits,
    );
    assert_eq!(
        ev,
        vec![Event::Reduced {
            order_id: first,
            account: AccountId(1),
            remaining: Wh(4)
        }]
    );
    let t = trades(&submit(&mut e, buy(3, 1, 100, 6)));
    assert_eq!(
        t.iter()
            .map(|t| (t.maker_order, t.qty.0))
            .collect::<Vec<_>>(),
        vec![(first, 4), (second, 2)]
    );
}

#[test]
fn raising_quantity_or_changing_price_loses_time_priority() {
    for (price, qty) in [(100, 12), (90, 10)] {
        let mut e = engine();
        let first = accepted_id(&submit(&mut e, sell(1, 1, 100, 10)));
        let second = accepted_id(&submit(&mut e, sell(2, 1, 100, 10)));
        let ev = e.execute(
            &Command::modify(T0, AccountId(1), first, Price(price), Wh(qty)),
            &NoLimits,
        );
        assert_eq!(
            ev,
            vec![Event::Replaced {
                order_id: first,
                account: AccountId(1),
                price: Price(price),
                qty: Wh(qty)
            }]
        );
        let t = trades(&submit(&mut e, buy(3, 1, 100, 5)));
        let expected = if price < 100 { first } else { second };
        assert_eq!(t[0].maker_order, expected, "price {price} qty {qty}");
    }
}

#[test]
fn a_replace_that_crosses_trades_on_arrival_at_the_resting_price() {
    let mut e = engine();
    let bid = accepted_id(&submit(&mut e, buy(1, 1, 90, 10)));
    let ask = accepted_id(&submit(&mut e, sell(2, 1, 100, 4)));
    let ev = e.execute(
        &Command::modify(T0, AccountId(1), bid, Price(110), Wh(10)),
        &NoLimits,
    );
    let t = trades(&ev);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].maker_order, t[0].taker_order, t[0].price, t[0].qty),
        (ask, bid, Price(100), Wh(4))
    );
    assert_eq!(e.order(bid).unwrap().remaining, Wh(6));
}

#[test]
fn modify_to_the_same_terms_is_rejected_as_no_change() {
    let mut e = engine();
    let id = accepted_id(&submit(&mut e, sell(1, 1, 100, 10)));
    let ev = e.execute(
        &Command::modify(T0, AccountId(1), id, Price(100), Wh(10)),
        &NoLimits,
    );
    assert_eq!(rejection(&ev), Some(ExchangeError::NoChange));
}

#[test]
fn post_only_replace_that_would_cross_is_rejected() {
    let mut e = engine();
    let id = accepted_id(&submit(
        &mut e,
        order(1, 1, Side::Buy, OrderType::PostOnly, 90, 10),
    ));
    submit(&mut e, sell(2, 1, 100, 4));
    let before = e.state_hash();
    let ev = e.execute(
        &Command::modify(T0, AccountId(1), id, Price(100), Wh(10)),
        &NoLimits,
    );
    assert_eq!(rejection(&ev), Some(ExchangeError::WouldCross));
    assert_eq!(e.state_hash(), before);
}

#[test]
fn cancel_removes_the_order_and_reports_what_was_left() {
    let mut e = engine();
    let id = accepted_id(&submit(&mut e, sell(1, 1, 100, 10)));
    submit(&mut e, buy(2, 1, 100, 3));
    let ev = e.execute(&Command::cancel(T0, AccountId(1), id), &NoLimits);
    assert_eq!(
        ev,
        vec![Event::Cancelled {
            order_id: id,
            account: AccountId(1),
            remaining: Wh(7),
            reason: CancelReason::Requested
        }]
    );
    assert!(e.order(id).is_none());
    let ev = e.execute(&Command::cancel(T0, AccountId(1), id), &NoLimits);
    assert_eq!(rejection(&ev), Some(ExchangeError::UnknownOrder(id)));
}

#[test]
fn gate_closure_closes_the_book_and_expires_resting_orders_in_id_order() {
    let mut e = engine();
    let a = accepted_id(&submit(&mut e, sell(1, 1, 100, 10)));
    let b = accepted_id(&submit(&mut e, buy(2, 1, 90, 5)));
    let gate = config().calendar.gate_closure(SLOT);
    assert!(e.advance_time(gate - 1).is_empty());
    let ev = e.advance_time(gate);
    assert_eq!(
        ev,
        vec![
            Event::BookClosed {
                zone: ZONE,
                slot: SLOT,
                at_ms: gate
            },
            Event::Expired {
                order_id: a,
                account: AccountId(1),
                remaining: Wh(10)
            },
            Event::Expired {
                order_id: b,
                account: AccountId(2),
                remaining: Wh(5)
            },
        ]
    );
    assert!(e.book(ZONE, SLOT).is_none());
    assert_eq!(e.resting_orders(), 0);
    assert_eq!(e.escrow_reserved(AccountId(2)), Micros(0));
}

#[test]
fn an_order_arriving_after_gate_closure_closes_the_book_first_and_cannot_trade() {
    let mut e = engine();
    submit(&mut e, sell(1, 1, 100, 10));
    let gate = config().calendar.gate_closure(SLOT);
    let ev = e.execute(&Command::submit(gate + 1, buy(2, 1, 100, 10)), &NoLimits);
    assert!(matches!(ev[0], Event::BookClosed { .. }));
    assert!(matches!(ev[1], Event::Expired { .. }));
    assert!(matches!(
        ev[2],
        Event::Rejected {
            reason: ExchangeError::SlotClosed { .. },
            ..
        }
    ));
    assert!(trades(&ev).is_empty());
}

#[test]
fn time_never_goes_backwards() {
    let mut e = engine();
    let gate = config().calendar.gate_closure(SLOT);
    e.advance_time(gate);
    // A command stamped earlier is applied at the latest time seen: the slot stays closed.
    let ev = e.execute(&Command::submit(T0, buy(2, 1, 100, 10)), &NoLimits);
    assert!(matches!(
        rejection(&ev),
        Some(ExchangeError::SlotClosed { .. })
    ));
    assert_eq!(e.now_ms(), gate);
}

#[test]
fn books_close_in_slot_order_across_zones() {
    let mut e = engine();
    let later = SlotId(SLOT.0 + QUARTER_HOUR_MS);
    let mut o = sell(1, 1, 100, 1);
    o.slot = later;
    submit(&mut e, o);
    let mut o = sell(1, 2, 100, 1);
    o.zone = ZoneId(2);
    submit(&mut e, o);
    assert_eq!(
        e.open_books(),
        vec![
            BookKey {
                slot: SLOT,
                zone: ZoneId(2)
            },
            BookKey {
                slot: later,
                zone: ZONE
            }
        ]
    );
    let ev = e.advance_time(config().calendar.gate_closure(later));
    let closed: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::BookClosed { zone, slot, .. } => Some((*zone, *slot)),
            _ => None,
        })
        .collect();
    assert_eq!(closed, vec![(ZoneId(2), SLOT), (ZONE, later)]);
}

#[test]
fn client_ids_can_be_reused_once_the_book_that_used_them_closed() {
    let mut e = engine();
    submit(&mut e, sell(1, 42, 100, 1));
    let next = SlotId(SLOT.0 + QUARTER_HOUR_MS);
    let mut o = sell(1, 42, 100, 1);
    o.slot = next;
    assert_eq!(
        rejection(&submit(&mut e, o)),
        Some(ExchangeError::DuplicateClientOrderId)
    );
    e.advance_time(config().calendar.gate_closure(SLOT));
    let ev = e.execute(
        &Command::submit(config().calendar.gate_closure(SLOT), o),
        &NoLimits,
    );
    assert!(matches!(ev[0], Event::Accepted { .. }));
}

#[test]
fn seller_capacity_counts_resting_and_sold_energy() {
    let limits = Limits::default()
        .with_capacity(1, 100)
        .with_funds(2, 1_000_000);
    let mut e = engine();
    let run = |e: &mut Engine, o: NewOrder| e.execute(&Command::submit(T0, o), &limits);
    assert!(matches!(
        run(&mut e, sell(1, 1, 100, 60))[0],
        Event::Accepted { .. }
    ));
    assert_eq!(
        rejection(&run(&mut e, sell(1, 2, 100, 41))),
        Some(ExchangeError::CapacityExceeded {
            requested: 41,
            committed: 60,
            capacity: 100
        })
    );
    // Selling 60 does not free capacity: sold energy still has to be delivered.
    run(&mut e, buy(2, 1, 100, 60));
    assert_eq!(e.sell_committed(AccountId(1), ZONE, SLOT), Wh(60));
    assert!(matches!(
        run(&mut e, sell(1, 3, 100, 40))[0],
        Event::Accepted { .. }
    ));
    assert!(rejection(&run(&mut e, sell(1, 4, 100, 1))).is_some());
    // An account without an installation cannot sell at all.
    assert_eq!(
        rejection(&run(&mut e, sell(3, 1, 100, 1))),
        Some(ExchangeError::NoCapacity)
    );
}

#[test]
fn buyer_escrow_is_reserved_rounded_up_and_released_as_orders_fill_or_leave() {
    // 1 010 micro/kWh × 1 Wh = 1.01 micro → 2 reserved.
    let limits = Limits::default().with_funds(2, 20).with_capacity(1, 1_000);
    let mut e = engine();
    let id = accepted_id(&e.execute(&Command::submit(T0, buy(2, 1, 1_010, 1)), &limits));
    assert_eq!(e.escrow_reserved(AccountId(2)), Micros(2));
    // 20 available, 2 held: an order needing 19 is refused with what is free.
    assert_eq!(
        rejection(&e.execute(&Command::submit(T0, buy(2, 2, 19_000, 1)), &limits)),
        Some(ExchangeError::InsufficientFunds {
            needed: 19,
            available: 18
        })
    );
    // A fill at a lower maker price releases the whole reservation for the filled part.
    e.execute(&Command::cancel(T0, AccountId(2), id), &limits);
    assert_eq!(e.escrow_reserved(AccountId(2)), Micros(0));
    e.execute(&Command::submit(T0, sell(1, 1, 500, 3)), &limits);
    let ev = e.execute(&Command::submit(T0, buy(2, 3, 3_000, 4)), &limits);
    let t = trades(&ev);
    assert_eq!(
        (t[0].price, t[0].qty, t[0].value),
        (Price(500), Wh(3), Micros(1))
    );
    // 1 Wh still resting at 3 000 → 3 micro held.
    assert_eq!(e.escrow_reserved(AccountId(2)), Micros(3));
}

#[test]
fn negative_price_buys_reserve_no_escrow() {
    let limits = Limits::default();
    let mut e = engine();
    let ev = e.execute(&Command::submit(T0, buy(2, 1, -5_000, 100)), &limits);
    assert!(
        matches!(ev[0], Event::Accepted { .. }),
        "no funds needed: {ev:?}"
    );
    assert_eq!(e.escrow_reserved(AccountId(2)), Micros(0));
    // At a negative price the buyer is paid: value is negative.
    let limits = limits.with_capacity(1, 100).with_funds(1, 500);
    let t = trades(&e.execute(&Command::submit(T0, sell(1, 1, -5_000, 100)), &limits));
    assert_eq!(t[0].value, Micros(-500));
    assert_eq!(t[0].buyer(), (AccountId(2), OrderId(1)));
    assert_eq!(t[0].seller(), (AccountId(1), OrderId(2)));
}

#[test]
fn a_sell_at_a_negative_price_reserves_what_it_may_pay_the_buyer() {
    // −5 000 micro/kWh × 101 Wh = 505 micro the seller may pay.
    let limits = Limits::default().with_capacity(1, 1_000).with_funds(1, 600);
    let mut e = engine();
    let id = accepted_id(&e.execute(&Command::submit(T0, sell(1, 1, -5_000, 101)), &limits));
    assert_eq!(e.escrow_reserved(AccountId(1)), Micros(505));
    // 600 available, 505 held: a second sell needing 100 is refused with what is free.
    assert_eq!(
        rejection(&e.execute(&Command::submit(T0, sell(1, 2, -5_000, 20)), &limits)),
        Some(ExchangeError::InsufficientFunds {
            needed: 100,
            available: 95
        })
    );
    // Raising the price towards zero frees part of it; a positive price frees it all.
    e.execute(
        &Command::modify(T0, AccountId(1), id, Price(-1_000), Wh(101)),
        &limits,
    );
    assert_eq!(e.escrow_reserved(AccountId(1)), Micros(101));
    // A buyer at a better (higher) price fills it at the resting −1 000: 50 Wh pays 50.
    let t = trades(&e.execute(&Command::submit(T0, buy(2, 1, 0, 50)), &limits));
    assert_eq!((t[0].price, t[0].value), (Price(-1_000), Micros(-50)));
    assert_eq!(e.escrow_reserved(AccountId(1)), Micros(51));
    e.execute(&Command::cancel(T0, AccountId(1), id), &limits);
    assert_eq!(e.escrow_reserved(AccountId(1)), Micros(0));
}

#[test]
fn raising_a_buy_needs_funds_for_the_difference_only() {
    let limits = Limits::default().with_funds(2, 10);
    let mut e = engine();
    let id = accepted_id(&e.execute(&Command::submit(T0, buy(2, 1, 1_000, 8)), &limits));
    assert_eq!(e.escrow_reserved(AccountId(2)), Micros(8));
    let ev = e.execute(
        &Command::modify(T0, AccountId(2), id, Price(1_000), Wh(10)),
        &limits,
    );
    assert!(matches!(ev[0], Event::Replaced { .. }));
    let ev = e.execute(
        &Command::modify(T0, AccountId(2), id, Price(1_000), Wh(11)),
        &limits,
    );
    assert_eq!(
        rejection(&ev),
        Some(ExchangeError::InsufficientFunds {
            needed: 1,
            available: 0
        })
    );
    assert_eq!(e.escrow_reserved(AccountId(2)), Micros(10));
}

#[test]
fn calendar_lists_open_slots_and_engine_accepts_exactly_those() {
    let cal = config().calendar;
    let open = cal.open_slots(T0);
    assert_eq!(open.len(), 192);
    let mut e = engine();
    for (i, slot) in [open[0], open[open.len() - 1]].into_iter().enumerate() {
        let mut o = sell(1, i as u64, 100, 1);
        o.slot = slot;
        assert!(matches!(submit(&mut e, o)[0], Event::Accepted { .. }));
    }
    let mut o = sell(1, 9, 100, 1);
    o.slot = SlotId(open[open.len() - 1].0 + QUARTER_HOUR_MS);
    assert!(matches!(
        rejection(&submit(&mut e, o)),
        Some(ExchangeError::SlotNotYetOpen { .. })
    ));
}

#[test]
fn commands_and_events_round_trip_through_json() {
    let mut e = engine();
    submit(&mut e, sell(1, 1, 100, 10));
    let cmd = Command::submit(T0, buy(2, 1, 100, 4));
    let json = serde_json::to_string(&cmd).unwrap();
    let back: Command = serde_json::from_str(&json).unwrap();
    assert_eq!(back, cmd);
    let ev = e.execute(&back, &NoLimits);
    let json = serde_json::to_string(&ev).unwrap();
    let back: Vec<Event> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ev);
}
