//! Trade escrow: the pending transfer the platform creates when the exchange reports a trade,
//! and which settlement later posts (partly) or voids, exactly once.

use super::{trade_value, TradeInput};
use crate::ledger::{
    derive_transfer_id, Account, AccountId, Code, LedgerId, Owner, Purpose, References, Transfer,
    TransferId, TransferKind,
};

/// The most a trade can cost its payer: `|floor(q × p / 1000)|` micro-units.
pub fn escrow_amount(qty_wh: u64, price_micro_per_kwh: i64) -> u128 {
    trade_value(qty_wh, price_micro_per_kwh).unsigned_abs()
}

/// The escrow's id depends only on the trade, not on any run, so settlement finds it again.
pub fn escrow_transfer_id(zone: &str, slot_start_ms: i64, trade_id: u64) -> TransferId {
    derive_transfer_id(Purpose::Escrow, zone, slot_start_ms, 0, trade_id)
}

/// Who pays whom: the buyer pays at a positive price, the seller at a negative one.
pub(crate) fn payer_and_payee(trade: &TradeInput) -> (AccountId, AccountId) {
    if trade.price_micro_per_kwh >= 0 {
        (trade.buyer, trade.seller)
    } else {
        (trade.seller, trade.buyer)
    }
}

/// The pending transfer payer → escrow for a trade, or `None` when the trade cannot move
/// money (zero price, or a value below one micro-unit).
pub fn escrow_for_trade(zone: &str, slot_start_ms: i64, trade: &TradeInput) -> Option<Transfer> {
    let amount = escrow_amount(trade.qty_wh, trade.price_micro_per_kwh);
    if amount == 0 {
        return None;
    }
    let (payer, _) = payer_and_payee(trade);
    Some(Transfer {
        id: escrow_transfer_id(zone, slot_start_ms, trade.trade_id),
        debit: Account::participant(payer, LedgerId::Currency),
        credit: Account::new(Owner::Escrow, LedgerId::Currency),
        amount,
        kind: TransferKind::Pending,
        code: Code::Escrow,
        refs: References {
            slot_start_ms,
            trade_id: Some(trade.trade_id),
            reading_range: None,
            run_version: 0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(price: i64) -> TradeInput {
        TradeInput {
            trade_id: 9,
            seller: AccountId(1),
            buyer: AccountId(2),
            qty_wh: 1_000,
            price_micro_per_kwh: price,
        }
    }

    #[test]
    fn the_buyer_escrows_at_positive_prices_and_the_seller_at_negative_ones() {
        let positive = escrow_for_trade("Z", 0, &trade(200_000)).expect("escrow");
        assert_eq!(positive.amount, 200_000);
        assert_eq!(
            positive.debit,
            Account::participant(AccountId(2), LedgerId::Currency)
        );
        assert_eq!(positive.kind, TransferKind::Pending);
        let negative = escrow_for_trade("Z", 0, &trade(-30_001)).expect("escrow");
        assert_eq!(negative.amount, 30_001);
        assert_eq!(
            negative.debit,
            Account::participant(AccountId(1), LedgerId::Currency)
        );
        assert_eq!(escrow_for_trade("Z", 0, &trade(0)), None);
        assert_eq!(positive.id, escrow_transfer_id("Z", 0, 9));
    }
}
