//! The market's rules: calendar, traded zones, tick, price band and order size limit.

use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::error::ExchangeError;
use crate::order::{Price, Wh, ZoneId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketConfig {
    pub calendar: Calendar,
    /// Zones traded here. Orders for any other zone are rejected.
    pub zones: Vec<ZoneId>,
    /// Every limit price must be a multiple of this (micro-units per kWh).
    pub tick: i64,
    /// Inclusive price band; negative prices are allowed.
    pub min_price: Price,
    pub max_price: Price,
    /// Largest single order, in Wh.
    pub max_order_qty: Wh,
}

impl MarketConfig {
    /// A community default: 15-minute slots open 48 h ahead, gate closure 5 min before delivery,
    /// tick 100 micro/kWh (0.01 ct/kWh), band −1 to +1 currency unit per kWh, orders up to 1 MWh.
    pub fn community(zones: Vec<ZoneId>) -> Self {
        MarketConfig {
            calendar: Calendar::quarter_hours_48h(),
            zones,
            tick: 100,
            min_price: Price(-1_000_000),
            max_price: Price(1_000_000),
            max_order_qty: Wh(1_000_000),
        }
    }

    /// Checks the rules make sense and puts the zone list in canonical (sorted) order.
    pub fn validated(mut self) -> Result<Self, ExchangeError> {
        let c = self.calendar;
        Calendar::new(c.slot_len_ms(), c.horizon_ms(), c.gate_lead_ms())?;
        if self.tick <= 0 {
            return Err(ExchangeError::InvalidConfig(format!(
                "tick must be positive, got {}",
                self.tick
            )));
        }
        if self.min_price > self.max_price {
            return Err(ExchangeError::InvalidConfig(format!(
                "price band is empty: min {:?} > max {:?}",
                self.min_price, self.max_price
            )));
        }
        if self.max_order_qty.0 == 0 {
            return Err(ExchangeError::InvalidConfig(
                "max_order_qty must be at least 1 Wh".into(),
            ));
        }
        self.zones.sort_unstable();
        self.zones.dedup();
        if self.zones.is_empty() {
            return Err(ExchangeError::InvalidConfig(
                "at least one zone must be configured".into(),
            ));
        }
        Ok(self)
    }

    pub fn has_zone(&self, zone: ZoneId) -> bool {
        self.zones.binary_search(&zone).is_ok()
    }

    /// Price band and tick check shared by new orders and modifications.
    pub fn check_price(&self, price: Price, on_tick: bool) -> Result<(), ExchangeError> {
        if price < self.min_price || price > self.max_price {
            return Err(ExchangeError::PriceOutOfBand {
                price,
                min: self.min_price,
                max: self.max_price,
            });
        }
        if on_tick && price.0 % self.tick != 0 {
            return Err(ExchangeError::OffTick {
                price,
                tick: self.tick,
            });
        }
        Ok(())
    }

    pub fn check_qty(&self, qty: Wh) -> Result<(), ExchangeError> {
        if qty.0 == 0 {
            return Err(ExchangeError::ZeroQuantity);
        }
        if qty > self.max_order_qty {
            return Err(ExchangeError::QuantityTooLarge {
                qty: qty.0,
                max: self.max_order_qty.0,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_sorts_zones_and_refuses_nonsense() {
        let c = MarketConfig::community(vec![ZoneId(3), ZoneId(1), ZoneId(3)])
            .validated()
            .unwrap();
        assert_eq!(c.zones, vec![ZoneId(1), ZoneId(3)]);
        let mut bad = c.clone();
        bad.tick = 0;
        assert!(bad.validated().is_err());
        let mut bad = c.clone();
        bad.min_price = Price(5);
        bad.max_price = Price(4);
        assert!(bad.validated().is_err());
        assert!(MarketConfig::community(vec![]).validated().is_err());
    }

    #[test]
    fn price_checks_handle_negative_ticks() {
        let c = MarketConfig::community(vec![ZoneId(1)]);
        assert!(c.check_price(Price(-300), true).is_ok());
        assert_eq!(
            c.check_price(Price(-301), true),
            Err(ExchangeError::OffTick {
                price: Price(-301),
                tick: 100
            })
        );
        assert!(c.check_price(Price(-301), false).is_ok());
        assert!(matches!(
            c.check_price(Price(1_000_100), true),
            Err(ExchangeError::PriceOutOfBand { .. })
        ));
    }
}
