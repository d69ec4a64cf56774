//! The engine host: ONE engine per process behind a single writer thread.
//!
//! Handlers send requests over a bounded channel. The writer (`writer.rs`) takes every request
//! that is waiting (up to `max_batch`), reads the clock once, executes them in order, writes the
//! journal entries and the derived rows (orders, trades, balances) in ONE transaction, commits,
//! and only then answers each handler. One fsync per group is what makes durable orders cheap. If the
//! commit fails, nothing is acknowledged and the engine is rebuilt from the database (last
//! snapshot + journal) before the next group; if even that fails the process exits, so memory
//! never holds what the database does not.
//!
//! Readers (book depth, balances) share the state through a lock the writer holds from execute
//! to commit, so they never see an uncommitted change.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;

use exchange::{AccountId, ClientOrderId, Event, NewOrder, Price, Side, SlotId, Wh};
use tokio::sync::{broadcast, oneshot};

use super::group_metrics::GroupMetrics;
use super::journal::Ledger;
use super::market::MarketSettings;
use super::recovery::recover;
use super::views::{BookDepth, Level, OrderView, StreamMessage};
use crate::error::{PlatformError, Result};
use crate::store::{OrderRow, Store};

/// Requests waiting for the writer; past this a handler gets 503 instead of queueing forever.
pub const QUEUE_BOUND: usize = 65_536;
/// Levels per side in WebSocket book updates.
pub const STREAM_DEPTH: usize = 10;

/// What a handler asks the engine to do. Accounts are platform account ids.
#[derive(Clone, Debug)]
pub enum Request {
    Submit(NewOrder),
    Cancel {
        account: i64,
        order_id: i64,
    },
    Modify {
        account: i64,
        order_id: i64,
        price: i64,
        qty: u64,
    },
    /// The settlement ledger's effects on available currency of its transfer rows
    /// `(after, through]` (see `super::funds::sync_funds`); ignored unless `after` is where
    /// the last sync ended.
    LedgerSync {
        after: i64,
        through: i64,
        deltas: Vec<(u64, i128)>,
    },
}

/// The committed outcome of one request.
#[derive(Clone, Debug)]
pub struct Reply {
    pub seq: i64,
    pub events: Vec<Event>,
    /// For an accepted submit: the answer (an `OrderResult`) as JSON, exactly as stored for
    /// retries: the handler sends these bytes as they are.
    pub result_json: Option<String>,
    /// For cancel/modify: the order after the change.
    pub order: Option<OrderView>,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("the exchange is overloaded; retry in a moment")]
    Busy,
    #[error("the exchange is not running; retry later")]
    Stopped,
    #[error("the command could not be made durable and was not executed; retry")]
    NotCommitted,
}

/// One request and where its answer goes; `request: None` is the writer's own clock tick.
pub(super) struct Job {
    pub(super) request: Option<Request>,
    pub(super) reply: Option<oneshot::Sender<std::result::Result<Reply, HostError>>>,
}

/// What readers see.
pub struct Shared {
    pub ledger: Ledger,
    pub snapshot_seq: i64,
}

/// One stream item: public (account None) or for one account only.
#[derive(Clone, Debug)]
pub struct StreamItem {
    pub account: Option<i64>,
    pub zone: String,
    pub slot_start_ms: i64,
    pub message: StreamMessage,
}

pub struct EngineHost {
    /// Fixed once the journal is opened, so handlers read them without the state lock (which
    /// the writer holds through each commit).
    pub zones: super::market::Zones,
    pub config: exchange::MarketConfig,
    tx: SyncSender<Job>,
    shared: Arc<RwLock<Shared>>,
    stream: broadcast::Sender<Arc<Vec<StreamItem>>>,
    pub settings: MarketSettings,
    /// Group-commit figures, exported at `/metrics`.
    pub metrics: GroupMetrics,
    writer: Option<JoinHandle<()>>,
}

impl Drop for EngineHost {
    /// Closes the queue and waits for the writer to finish the group it is in and stop, so
    /// that once the host is gone nothing of it touches the database (which its owner may
    /// then remove: a writer ticking on would fail its commit and exit the process).
    fn drop(&mut self) {
        let (closed, _) = mpsc::sync_channel(0);
        drop(std::mem::replace(&mut self.tx, closed));
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl EngineHost {
    /// Rebuilds the engine from the database and starts the writer thread.
    pub fn start(store: Store, settings: MarketSettings) -> Result<Arc<EngineHost>> {
        settings.engine_config()?;
        let (ledger, snapshot_seq) = recover(&store, &settings)?;
        let mirror = open_orders(&store)?;
        let zones = ledger.zones.clone();
        let config = ledger.engine.config().clone();
        let shared = Arc::new(RwLock::new(Shared {
            ledger,
            snapshot_seq,
        }));
        let (tx, rx) = mpsc::sync_channel(QUEUE_BOUND);
        let (stream, _) = broadcast::channel(4096);
        let metrics = GroupMetrics::new()
            .map_err(|e| PlatformError::Config(format!("cannot create trading metrics: {e}")))?;
        let writer = super::writer::Writer {
            metrics: metrics.clone(),
            journal: store.journal_writer()?,
            store,
            settings: settings.clone(),
            shared: shared.clone(),
            stream: stream.clone(),
            mirror,
            capacity: HashMap::new(),
        };
        let writer = std::thread::Builder::new()
            .name("engine-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(PlatformError::Output)?;
        Ok(Arc::new(EngineHost {
            zones,
            config,
            tx,
            shared,
            stream,
            settings,
            metrics,
            writer: Some(writer),
        }))
    }

    /// Executes `request` durably; resolves after the commit.
    pub async fn execute(&self, request: Request) -> std::result::Result<Reply, HostError> {
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(Job {
            request: Some(request),
            reply: Some(reply),
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(HostError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(HostError::Stopped),
        }
        rx.await.map_err(|_| HostError::Stopped)?
    }

    /// A consistent view of the committed state.
    pub fn read(&self) -> std::result::Result<RwLockReadGuard<'_, Shared>, HostError> {
        self.shared.read().map_err(|_| HostError::Stopped)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Vec<StreamItem>>> {
        self.stream.subscribe()
    }
}

/// Aggregated levels of one book, best first, at most `depth` per side.
pub fn book_depth(ledger: &Ledger, zone: &str, slot_start_ms: i64, depth: usize) -> BookDepth {
    let mut out = BookDepth {
        zone: zone.to_owned(),
        slot_start_ms,
        bids: Vec::new(),
        asks: Vec::new(),
        seq: ledger.seq as i64,
    };
    let Some(zone_id) = ledger.zones.id(zone) else {
        return out;
    };
    if let Some(view) = ledger.engine.book(zone_id, SlotId(slot_start_ms)) {
        out.bids = levels(&view.bids, depth);
        out.asks = levels(&view.asks, depth);
    }
    out
}

fn levels(orders: &[exchange::RestingOrder], depth: usize) -> Vec<Level> {
    let mut levels: Vec<Level> = Vec::new();
    for o in orders {
        match levels.last_mut() {
            Some(l) if l.price_micro_per_kwh == o.price.0 => {
                l.qty_wh += o.remaining.0 as i64;
                l.orders += 1;
            }
            _ => {
                if levels.len() == depth {
                    break;
                }
                levels.push(Level {
                    price_micro_per_kwh: o.price.0,
                    qty_wh: o.remaining.0 as i64,
                    orders: 1,
                });
            }
        }
    }
    levels
}

pub(super) fn open_orders(store: &Store) -> Result<BTreeMap<i64, OrderRow>> {
    Ok(store
        .open_trading_orders()?
        .into_iter()
        .map(|r| (r.order_id, r))
        .collect())
}

/// Builds the engine's order from API input (ids already validated).
#[allow(clippy::too_many_arguments)] // one argument per order field, all plain values
pub fn new_order(
    account: i64,
    client_id: u64,
    zone: exchange::ZoneId,
    slot: i64,
    side: Side,
    kind: exchange::OrderType,
    price: i64,
    qty: u64,
) -> NewOrder {
    NewOrder {
        account: AccountId(account as u64),
        client_id: ClientOrderId(client_id),
        zone,
        slot: SlotId(slot),
        side,
        kind,
        price: Price(price),
        qty: Wh(qty),
    }
}
