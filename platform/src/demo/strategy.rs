//! The households' trading strategy, one limit order per household and slot. Pure: the order
//! depends only on the household, the slot and the seed (not on what the market did), so the
//! same seed places the same orders in the same sequence and the exchange, which is
//! deterministic, makes the same trades.
//!
//! A household forecasts its roof's output for the slot (the simulator's own sun model, off by
//! the household's forecast error), subtracts its load, and
//! - sells 70–95 % of a surplus at 80–100 % of the reference price, or
//! - buys 80–100 % of a deficit at 90–115 % of the reference price,
//!
//! so most surplus meets a bid. A dishonest household forecasts what its meter will *claim*.

use meter_agent::simulator::solar::power_on_plane_w;

use super::neighbourhood::Household;
use super::rng::Rng;

/// The market rules a strategy must respect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    pub slot_len_ms: i64,
    /// Prices are multiples of this, micro-units per kWh.
    pub tick: i64,
    /// Micro-units per kWh around which households price.
    pub reference_price: i64,
    pub max_order_qty_wh: u64,
}

/// Orders smaller than this are not worth placing, Wh.
pub const MIN_ORDER_WH: u64 = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// A limit order to place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intent {
    pub side: Side,
    pub qty_wh: u64,
    pub price_micro_per_kwh: i64,
}

/// The household's forecast of what its inverter will report over the slot, Wh.
pub fn forecast_claimed_wh(house: &Household, slot_start_ms: i64, slot_len_ms: i64) -> u64 {
    // Simpson's rule over the slot on the simulator's curve.
    let at = |t: i64| {
        u64::from(
            house
                .conduct
                .claimed_w(power_on_plane_w(&house.site, &house.panel, t)),
        )
    };
    let mid = slot_start_ms + slot_len_ms / 2;
    let sum_w6 = at(slot_start_ms) + 4 * at(mid) + at(slot_start_ms + slot_len_ms);
    let wh = sum_w6 as u128 * slot_len_ms as u128 / 6 / 3_600_000;
    let wh = wh * u128::from(house.forecast_permille) / 1000;
    u64::try_from(wh).unwrap_or(u64::MAX)
}

/// What `house` orders for the slot starting at `slot_start_ms`, if anything.
pub fn decide(house: &Household, slot_start_ms: i64, rules: &Rules, seed: u64) -> Option<Intent> {
    let slot_len = rules.slot_len_ms.max(1);
    let mut rng = Rng::derive(
        seed,
        &[
            house.index as u64,
            slot_start_ms.div_euclid(slot_len) as u64,
        ],
    );
    let produced = forecast_claimed_wh(house, slot_start_ms, slot_len);
    let used = u64::from(house.load_w) * slot_len as u64 / 3_600_000;
    // What the seller's pre-trade check allows: nameplate × slot length.
    let capacity = u64::from(house.site.nameplate_w) * slot_len as u64 / 3_600_000;
    let (side, qty, price_permille) = if produced > used {
        let qty = (produced - used) * rng.permille(700, 950) / 1000;
        (Side::Sell, qty.min(capacity), rng.permille(800, 1000))
    } else {
        let qty = (used - produced) * rng.permille(800, 1000) / 1000;
        (Side::Buy, qty, rng.permille(900, 1150))
    };
    let qty = qty.min(rules.max_order_qty_wh);
    if qty < MIN_ORDER_WH {
        return None;
    }
    let raw = i128::from(rules.reference_price) * i128::from(price_permille) / 1000;
    let tick = i128::from(rules.tick.max(1));
    let price = i64::try_from(raw / tick * tick).ok()?;
    Some(Intent {
        side,
        qty_wh: qty,
        price_micro_per_kwh: price,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::neighbourhood::{plan, Conduct};

    const RULES: Rules = Rules {
        slot_len_ms: 15 * 60_000,
        tick: 100,
        reference_price: 250_000,
        max_order_qty_wh: 1_000_000,
    };
    /// 2026-06-21T00:00Z.
    const DAY: i64 = 1_782_000_000_000;
    const HOUR: i64 = 3_600_000;

    fn house(nameplate_w: u32, load_w: u32, conduct: Conduct) -> Household {
        let mut h = plan(1, 5).remove(0);
        h.site.nameplate_w = nameplate_w;
        h.load_w = load_w;
        h.conduct = conduct;
        h.forecast_permille = 1000;
        h.panel.azimuth_deg = 180.0;
        h
    }

    #[test]
    fn a_big_roof_sells_at_noon_and_buys_at_night() {
        let h = house(6000, 400, Conduct::Honest);
        let noon = decide(&h, DAY + 11 * HOUR, &RULES, 1).unwrap();
        assert_eq!(noon.side, Side::Sell);
        let surplus = forecast_claimed_wh(&h, DAY + 11 * HOUR, RULES.slot_len_ms) - 100;
        assert!(
            noon.qty_wh >= surplus * 7 / 10 && noon.qty_wh <= surplus,
            "{noon:?}"
        );
        assert!((200_000..=250_000).contains(&noon.price_micro_per_kwh));
        let night = decide(&h, DAY + 23 * HOUR, &RULES, 1).unwrap();
        assert_eq!(night.side, Side::Buy);
        // 400 W for a quarter hour is 100 Wh; 80–100 % of it is bought.
        assert!((80..=100).contains(&night.qty_wh), "{night:?}");
        assert!((225_000..=287_500).contains(&night.price_micro_per_kwh));
        for i in [noon, night] {
            assert_eq!(i.price_micro_per_kwh % RULES.tick, 0);
        }
    }

    #[test]
    fn a_small_roof_with_a_heat_pump_buys_all_day() {
        let h = house(1500, 1500, Conduct::Honest);
        for hour in 0..24 {
            if let Some(i) = decide(&h, DAY + hour * HOUR, &RULES, 3) {
                assert_eq!(i.side, Side::Buy, "{hour}: {i:?}");
            }
        }
    }

    #[test]
    fn tiny_needs_place_no_order_and_sales_stay_within_capacity() {
        let h = house(1500, 50, Conduct::Honest);
        // 50 W for 15 min is 12.5 Wh: below the minimum order.
        assert_eq!(decide(&h, DAY + 23 * HOUR, &RULES, 1), None);
        let inflating = house(9000, 250, Conduct::Inflating);
        let capacity = 9000 / 4;
        let sale = decide(&inflating, DAY + 11 * HOUR, &RULES, 1).unwrap();
        assert_eq!(sale.side, Side::Sell);
        assert!(sale.qty_wh <= capacity, "{sale:?}");
    }

    #[test]
    fn dishonest_households_sell_what_their_meter_will_claim() {
        let honest = house(4000, 250, Conduct::Honest);
        let night_producer = house(4000, 250, Conduct::NightProducer);
        // At night the honest house buys, the night producer claims 1 kW > 250 W load.
        assert_eq!(
            decide(&honest, DAY + HOUR, &RULES, 1).unwrap().side,
            Side::Buy
        );
        assert_eq!(
            forecast_claimed_wh(&night_producer, DAY + HOUR, RULES.slot_len_ms),
            250
        );
        assert_eq!(
            decide(&night_producer, DAY + HOUR, &RULES, 1).unwrap().side,
            Side::Sell
        );
        let inflating = house(4000, 250, Conduct::Inflating);
        let real = forecast_claimed_wh(&honest, DAY + 9 * HOUR, RULES.slot_len_ms);
        let claimed = forecast_claimed_wh(&inflating, DAY + 9 * HOUR, RULES.slot_len_ms);
        assert!(claimed.abs_diff(real * 5 / 2) <= 3, "{claimed} vs {real}");
    }

    #[test]
    fn the_same_seed_decides_the_same() {
        let h = house(5000, 600, Conduct::Honest);
        for hour in 0..24 {
            let t = DAY + hour * HOUR;
            assert_eq!(decide(&h, t, &RULES, 11), decide(&h, t, &RULES, 11));
        }
        let differs = (0..24).any(|hour| {
            let t = DAY + hour * HOUR;
            decide(&h, t, &RULES, 11) != decide(&h, t, &RULES, 12)
        });
        assert!(differs, "another seed changes some order");
    }
}
