//! A SunSpec inverter + meter served over Modbus TCP, for demos and tests.
//!
//! Power follows [`solar::power_w`] for a configured site on a simulated clock that can run
//! `speed` times faster than real time (or on a clock the caller passes, so several simulators
//! and agents share one simulated day); the energy counters integrate it. The register map is
//! plain SunSpec (see [`image`]), so any SunSpec client can read it.
//!
//! A simulator can also play a dishonest or faulty device ([`Tamper`]): an inverter that
//! over-reports, one that claims production at night, one whose energy counter jumps. Those
//! exist so the platform's verification can be shown and tested against real agents.

pub mod image;
pub mod solar;

use std::future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio_modbus::prelude::{ExceptionCode, Request, Response, SlaveRequest};
use tokio_modbus::server::tcp::{accept_tcp_connection, Server};
use tokio_modbus::server::Service;

use crate::agent::Clock;
use crate::sunspec::{RegisterImage, RegisterKind};
use image::SimValues;
use solar::{Panel, Site};

/// Simulator settings.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub site: Site,
    /// Simulated time runs this many times faster than real time.
    pub speed: f64,
    /// Simulated UTC ms at start.
    pub start_ms: i64,
    /// Lifetime PV energy at start, Wh.
    pub initial_energy_wh: u64,
    /// Constant household load behind the grid meter, W.
    pub load_w: u32,
    /// Modbus unit id answered (other ids get no answer, like a real RS-485 bus).
    pub unit: u8,
    pub serial: String,
    /// The plane of the modules; `None` is the simple flat-array bell of [`solar::power_w`].
    pub panel: Option<Panel>,
    /// How the inverter lies about its production, if it does.
    pub tamper: Tamper,
}

/// A dishonest or faulty inverter. Only the inverter's values (model 103) are affected; the
/// grid meter (model 203) keeps measuring the real flows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Tamper {
    #[default]
    Honest,
    /// Reports `factor` × the real power, and integrates that into its energy counter.
    Inflate { factor: f64 },
    /// Reports `watts` more than it produces, day and night.
    NightProduction { watts: u32 },
    /// The energy counter jumps forward by `jump_wh` every time the simulated clock passes a
    /// multiple of `every_ms` (a register glitch).
    CounterJump { every_ms: i64, jump_wh: u64 },
}

/// The simulator's own clock: `start_ms` now, `speed` times faster than real time.
pub fn fast_clock(start_ms: i64, speed: f64) -> Clock {
    let started = Instant::now();
    Arc::new(move || {
        let real_ms = started.elapsed().as_secs_f64() * 1000.0;
        start_ms + (real_ms * speed) as i64
    })
}

struct SimState {
    cfg: SimConfig,
    clock: Clock,
    last_sim_ms: i64,
    pv_energy_mwh: f64,
    import_mwh: f64,
    export_mwh: f64,
    values: SimValues,
}

impl SimState {
    #[cfg(test)]
    fn new(cfg: SimConfig) -> Self {
        let clock = fast_clock(cfg.start_ms, cfg.speed);
        Self::with_clock(cfg, clock)
    }

    fn with_clock(cfg: SimConfig, clock: Clock) -> Self {
        let values = SimValues {
            nameplate_w: cfg.site.nameplate_w,
            pv_power_w: 0,
            pv_energy_wh: cfg.initial_energy_wh,
            grid_power_w: 0,
            grid_import_wh: 1,
            grid_export_wh: 1,
        };
        let last_sim_ms = clock();
        let mut s = SimState {
            last_sim_ms,
            pv_energy_mwh: cfg.initial_energy_wh as f64 * 1000.0,
            import_mwh: 1000.0,
            export_mwh: 1000.0,
            clock,
            cfg,
            values,
        };
        s.advance();
        s
    }

    fn sim_now_ms(&self) -> i64 {
        (self.clock)()
    }

    /// What the modules really produce at `t_ms`, W.
    fn real_power_w(&self, t_ms: i64) -> u32 {
        match &self.cfg.panel {
            None => solar::power_w(&self.cfg.site, t_ms),
            Some(panel) => solar::power_on_plane_w(&self.cfg.site, panel, t_ms),
        }
    }

    /// What the inverter reports for a real production of `real_w`.
    fn reported_w(&self, real_w: u32) -> u32 {
        match self.cfg.tamper {
            Tamper::Inflate { factor } => (f64::from(real_w) * factor.max(0.0)).round() as u32,
            Tamper::NightProduction { watts } => real_w.saturating_add(watts),
            Tamper::Honest | Tamper::CounterJump { .. } => real_w,
        }
    }

    /// Integrates power from the last update to now (trapezoid on the simulated clock).
    fn advance(&mut self) {
        let now = self.sim_now_ms().max(self.last_sim_ms);
        let p0 = self.real_power_w(self.last_sim_ms);
        let p1 = self.real_power_w(now);
        let (r0, r1) = (self.reported_w(p0), self.reported_w(p1));
        let hours = (now - self.last_sim_ms) as f64 / 3_600_000.0;
        let pv_mwh = (f64::from(p0) + f64::from(p1)) / 2.0 * hours * 1000.0;
        self.pv_energy_mwh += (f64::from(r0) + f64::from(r1)) / 2.0 * hours * 1000.0;
        if let Tamper::CounterJump { every_ms, jump_wh } = self.cfg.tamper {
            if every_ms > 0 {
                let crossed = now.div_euclid(every_ms) - self.last_sim_ms.div_euclid(every_ms);
                self.pv_energy_mwh += crossed as f64 * jump_wh as f64 * 1000.0;
            }
        }
        let load_mwh = f64::from(self.cfg.load_w) * hours * 1000.0;
        if load_mwh >= pv_mwh {
            self.import_mwh += load_mwh - pv_mwh;
        } else {
            self.export_mwh += pv_mwh - load_mwh;
        }
        self.last_sim_ms = now;
        self.values.pv_power_w = r1;
        self.values.pv_energy_wh = (self.pv_energy_mwh / 1000.0) as u64;
        self.values.grid_power_w = self.cfg.load_w as i32 - p1 as i32;
        self.values.grid_import_wh = (self.import_mwh / 1000.0) as u64;
        self.values.grid_export_wh = (self.export_mwh / 1000.0) as u64;
    }

    fn registers(&mut self) -> Vec<u16> {
        self.advance();
        image::build(&self.values, &self.cfg.serial)
    }
}

/// Produces the register image to answer one request from.
pub type ImageFn = Arc<dyn Fn() -> RegisterImage + Send + Sync>;

/// A Modbus TCP service answering reads from a [`RegisterImage`]; also used by tests to play
/// broken devices (exceptions, garbage, wrong chains).
#[derive(Clone)]
pub struct ImageService {
    image: ImageFn,
    unit: u8,
}

impl ImageService {
    fn answer(&self, req: &SlaveRequest<'static>) -> Result<Option<Response>, ExceptionCode> {
        // like a device on a shared bus: another unit id gets no answer at all
        if req.slave != self.unit && req.slave != 0xFF {
            return Ok(None);
        }
        let (kind, addr, cnt) = match req.request {
            Request::ReadHoldingRegisters(a, c) => (RegisterKind::Holding, a, c),
            Request::ReadInputRegisters(a, c) => (RegisterKind::Input, a, c),
            _ => return Err(ExceptionCode::IllegalFunction),
        };
        if cnt == 0 || cnt > 125 {
            return Err(ExceptionCode::IllegalDataValue);
        }
        let regs = (self.image)()
            .get(kind, addr, cnt)
            .map_err(|_| ExceptionCode::IllegalDataAddress)?;
        Ok(Some(match kind {
            RegisterKind::Holding => Response::ReadHoldingRegisters(regs),
            RegisterKind::Input => Response::ReadInputRegisters(regs),
        }))
    }
}

impl Service for ImageService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = future::Ready<Result<Self::Response, Self::Exception>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        future::ready(self.answer(&req))
    }
}

/// Serves `image` over Modbus TCP on `listener` until the task is dropped.
pub async fn serve_image(listener: TcpListener, unit: u8, image: ImageFn) -> std::io::Result<()> {
    let service = ImageService { image, unit };
    let server = Server::new(listener);
    let new_service = |_addr: SocketAddr| Ok(Some(service.clone()));
    let on_connected =
        |stream, addr| async move { accept_tcp_connection(stream, addr, new_service) };
    server
        .serve(&on_connected, |err| {
            tracing::debug!("simulator connection ended: {err}")
        })
        .await
}

/// Runs the simulator on `listener` until the task is dropped, on its own clock
/// (`cfg.start_ms`, `cfg.speed`).
pub async fn run(listener: TcpListener, cfg: SimConfig) -> std::io::Result<()> {
    let clock = fast_clock(cfg.start_ms, cfg.speed);
    run_with_clock(listener, cfg, clock).await
}

/// Runs the simulator on `listener` until the task is dropped, reading simulated time from
/// `clock` (`cfg.start_ms` and `cfg.speed` are then ignored).
pub async fn run_with_clock(
    listener: TcpListener,
    cfg: SimConfig,
    clock: Clock,
) -> std::io::Result<()> {
    let unit = cfg.unit;
    let state = Arc::new(Mutex::new(SimState::with_clock(cfg, clock)));
    let image: ImageFn = Arc::new(move || {
        let regs = match state.lock() {
            Ok(mut st) => st.registers(),
            Err(_) => Vec::new(),
        };
        let mut img = RegisterImage::default();
        img.put(RegisterKind::Holding, image::BASE, &regs);
        img
    });
    serve_image(listener, unit, image).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sunspec::{discover, read_sample};

    fn cfg(speed: f64) -> SimConfig {
        SimConfig {
            site: Site {
                latitude: 52.5,
                longitude: 13.4,
                nameplate_w: 5000,
            },
            speed,
            start_ms: 1_781_953_200_000, // 2026-06-21 11:00 UTC, near solar noon in Berlin
            initial_energy_wh: 1_000_000,
            load_w: 400,
            unit: 1,
            serial: "SIM-1".into(),
            panel: None,
            tamper: Tamper::Honest,
        }
    }

    #[tokio::test]
    async fn simulator_image_reads_as_sunspec() {
        let mut st = SimState::new(cfg(1.0));
        let mut img = RegisterImage::default();
        img.put(RegisterKind::Holding, image::BASE, &st.registers());
        let map = discover(&mut img).await.unwrap();
        let ids: Vec<u16> = map.models.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![1, 103, 203]);
        assert_eq!(map.models[0].len, 66);
        let s = read_sample(&mut img, &map).await.unwrap();
        let inv = s.inverter.unwrap();
        assert!(inv.power_w.unwrap() > 3000, "{inv:?}");
        assert!(inv.energy_wh.unwrap() >= 1_000_000);
        let met = s.meter.unwrap();
        assert!(met.power_w.unwrap() < 0, "exporting at noon: {met:?}");
    }

    /// A clock the test moves by hand, and its hand.
    fn manual_clock(start: i64) -> (Clock, Arc<std::sync::atomic::AtomicI64>) {
        let at = Arc::new(std::sync::atomic::AtomicI64::new(start));
        let read = at.clone();
        (
            Arc::new(move || read.load(std::sync::atomic::Ordering::SeqCst)),
            at,
        )
    }

    /// The inverter counter and grid meter values after one simulated hour from `start`.
    fn hour_of(tamper: Tamper, start: i64) -> SimValues {
        let (clock, hand) = manual_clock(start);
        let mut st = SimState::with_clock(SimConfig { tamper, ..cfg(1.0) }, clock);
        for minute in 1..=60 {
            hand.store(start + minute * 60_000, std::sync::atomic::Ordering::SeqCst);
            st.advance();
        }
        st.values
    }

    #[test]
    fn tampered_inverters_lie_and_their_grid_meters_do_not() {
        let noon = cfg(1.0).start_ms; // 11:00 UTC
        let honest = hour_of(Tamper::Honest, noon);
        let inflated = hour_of(Tamper::Inflate { factor: 3.0 }, noon);
        let honest_gain = honest.pv_energy_wh - 1_000_000;
        let inflated_gain = inflated.pv_energy_wh - 1_000_000;
        assert!(honest_gain > 3000, "{honest_gain}");
        assert!(
            inflated_gain.abs_diff(3 * honest_gain) <= 3,
            "{inflated_gain} vs 3 × {honest_gain}"
        );
        assert!(inflated.pv_power_w > 5000, "reports above the nameplate");
        assert_eq!(inflated.grid_export_wh, honest.grid_export_wh);
        assert_eq!(inflated.grid_import_wh, honest.grid_import_wh);

        let midnight = noon - 11 * 3_600_000 + 24 * 3_600_000 - 3_600_000; // 23:00 UTC
        assert_eq!(hour_of(Tamper::Honest, midnight).pv_energy_wh, 1_000_000);
        let night = hour_of(Tamper::NightProduction { watts: 300 }, midnight);
        assert_eq!(night.pv_energy_wh, 1_000_300);
        assert_eq!(night.pv_power_w, 300);

        let jumpy = hour_of(
            Tamper::CounterJump {
                every_ms: 30 * 60_000,
                jump_wh: 50_000,
            },
            midnight,
        );
        // 23:00 → 24:00 passes 23:30 and 24:00.
        assert_eq!(jumpy.pv_energy_wh, 1_100_000);
    }

    #[test]
    fn energy_integrates_power_on_the_fast_clock() {
        let mut st = SimState::new(cfg(3600.0)); // one simulated hour per real second
        let e0 = st.values.pv_energy_wh;
        std::thread::sleep(std::time::Duration::from_millis(200));
        st.advance();
        let gained = st.values.pv_energy_wh - e0;
        // ~0.2 simulated hours at a few kW: hundreds of Wh, bounded by nameplate × elapsed
        let elapsed_h = (st.last_sim_ms - st.cfg.start_ms) as f64 / 3_600_000.0;
        assert!(gained > 0);
        assert!(
            gained as f64 <= 5000.0 * elapsed_h + 1.0,
            "{gained} Wh in {elapsed_h} h"
        );
    }
}
