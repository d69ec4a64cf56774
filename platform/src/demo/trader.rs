//! The households' trading, through the real HTTP API on loopback: the admin funds every
//! household (`POST /v1/admin/deposits`), then, slot by slot, each household places the order
//! its [`strategy`](super::strategy) decides with its own API key (`POST /v1/orders`).
//!
//! A slot's orders go out one after the other, in a seeded order, each answer awaited before
//! the next: every book then sees the same commands in the same sequence on every run with
//! the same seed, and the exchange makes the same trades. Orders for a slot go out `lead_ms`
//! (simulated) before it starts, well before gate closure; those of the first slots of the day
//! go out before the simulated clock starts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::households::Registered;
use super::rng::Rng;
use super::strategy::{decide, Rules};
use crate::clock::SimClock;
use crate::error::{PlatformError, Result};

/// What the trader did, for the progress bar and the summary.
#[derive(Debug, Default)]
pub struct TraderStats {
    pub placed: AtomicU64,
    pub accepted: AtomicU64,
    /// Trades made when an order arrived (every trade is made by some arriving order).
    pub trades: AtomicU64,
    pub traded_wh: AtomicU64,
    pub traded_value_micro: AtomicI64,
    /// Refusals and transport failures by error code.
    pub refused: Mutex<BTreeMap<String, u64>>,
    /// Slots whose orders have all been placed.
    pub slots_done: AtomicU64,
}

impl TraderStats {
    fn refuse(&self, code: String) {
        if let Ok(mut map) = self.refused.lock() {
            *map.entry(code).or_default() += 1;
        }
    }

    pub fn refusals(&self) -> BTreeMap<String, u64> {
        self.refused.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// An HTTP client of the platform.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

/// An answer: status and JSON body (`Value::Null` if the body was not JSON).
type Answer = (u16, Value);

impl Api {
    pub fn new(base: String) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| PlatformError::Demo(format!("HTTP client: {e}")))?;
        Ok(Self { http, base })
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Result<Answer> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .map_err(|e| PlatformError::Demo(format!("POST {path}: {e}")))?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }
}

/// Funds every household so that no buy order is refused for lack of money.
pub async fn fund(api: &Api, admin_key: &str, houses: &[Registered], amount: i64) -> Result<()> {
    for h in houses {
        let body = json!({"account_id": h.account_id, "amount_micro": amount});
        let (status, answer) = api.post("/v1/admin/deposits", admin_key, &body).await?;
        if status != 201 {
            return Err(PlatformError::Demo(format!(
                "depositing for {}: HTTP {status}: {answer}",
                h.house.name
            )));
        }
    }
    Ok(())
}

/// What the trader needs to know about the market.
#[derive(Clone, Debug)]
pub struct Plan {
    pub zone: String,
    pub rules: Rules,
    pub seed: u64,
    /// Slot starts to trade, in order.
    pub slots: Vec<i64>,
    /// Orders for a slot go out this long before it starts, simulated ms.
    pub lead_ms: i64,
}

/// Places the orders of the slots whose time has come by `now_ms`, one slot after the other,
/// and returns the slots still to trade. The demo calls it while its clock is held, so the
/// first slots of the day get their orders before any gate can close.
pub async fn place_due(
    api: &Api,
    houses: &[Registered],
    plan: &Plan,
    now_ms: i64,
    stats: &TraderStats,
) -> Vec<i64> {
    let mut later = Vec::new();
    for &slot in &plan.slots {
        if slot - plan.lead_ms <= now_ms {
            place_slot(api, houses, plan, slot, stats).await;
        } else {
            later.push(slot);
        }
    }
    later
}

/// Places every household's orders for each slot of `plan`, each slot at its time. The orders
/// of one slot go one after the other (their sequence decides the trades); different slots'
/// books are independent, so slots are placed concurrently and a slow answer for one slot
/// does not delay the next slot's orders towards its gate.
pub async fn run(
    api: Api,
    houses: Vec<Registered>,
    plan: Plan,
    clock: SimClock,
    stats: Arc<TraderStats>,
) {
    let houses = Arc::new(houses);
    let plan = Arc::new(plan);
    let mut chains = tokio::task::JoinSet::new();
    for &slot in plan.slots.iter() {
        let wait = clock.real_until(slot - plan.lead_ms);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let (api, houses, plan, stats) = (api.clone(), houses.clone(), plan.clone(), stats.clone());
        chains.spawn(async move { place_slot(&api, &houses, &plan, slot, &stats).await });
        while chains.try_join_next().is_some() {}
    }
    while chains.join_next().await.is_some() {}
}

/// Every household's order for one slot, in the slot's seeded order, each answer awaited.
async fn place_slot(api: &Api, houses: &[Registered], plan: &Plan, slot: i64, stats: &TraderStats) {
    let mut order: Vec<usize> = (0..houses.len()).collect();
    let slot_number = slot.div_euclid(plan.rules.slot_len_ms.max(1)) as u64;
    Rng::derive(plan.seed, &[0x7472_6164, slot_number]).shuffle(&mut order);
    for i in order {
        let h = &houses[i];
        let Some(intent) = decide(&h.house, slot, &plan.rules, plan.seed) else {
            continue;
        };
        let body = json!({
            "client_order_id": slot_number,
            "zone": plan.zone,
            "slot_start_ms": slot,
            "side": intent.side.as_str(),
            "type": "limit",
            "price_micro_per_kwh": intent.price_micro_per_kwh,
            "qty_wh": intent.qty_wh,
        });
        stats.placed.fetch_add(1, Ordering::Relaxed);
        match api.post("/v1/orders", &h.api_key, &body).await {
            Ok((201, answer)) => {
                stats.accepted.fetch_add(1, Ordering::Relaxed);
                record_trades(stats, &answer);
            }
            Ok((status, answer)) => {
                let code = answer
                    .pointer("/error/code")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("http_{status}"), str::to_owned);
                tracing::info!(household = %h.house.name, slot, %code, "order refused");
                stats.refuse(code);
            }
            Err(e) => {
                tracing::warn!(household = %h.house.name, slot, error = %e, "order not sent");
                stats.refuse("transport".to_owned());
            }
        }
    }
    stats.slots_done.fetch_add(1, Ordering::Relaxed);
}

fn record_trades(stats: &TraderStats, answer: &Value) {
    let Some(trades) = answer.get("trades").and_then(Value::as_array) else {
        return;
    };
    for t in trades {
        let qty = t.get("qty_wh").and_then(Value::as_u64).unwrap_or(0);
        let value = t.get("value_micro").and_then(Value::as_i64).unwrap_or(0);
        stats.trades.fetch_add(1, Ordering::Relaxed);
        stats.traded_wh.fetch_add(qty, Ordering::Relaxed);
        stats.traded_value_micro.fetch_add(value, Ordering::Relaxed);
    }
}
