//! A SunSpec inverter + meter served over Modbus TCP, for demos and tests.
//!
//! Power follows [`solar::power_w`] for a configured site on a simulated clock that can run
//! `speed` times faster than real time; the energy counters integrate it. The register map is
//! plain SunSpec (see [`image`]), so any SunSpec client can read it.

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

use crate::sunspec::{RegisterImage, RegisterKind};
use image::SimValues;
use solar::Site;

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
}

struct SimState {
    cfg: SimConfig,
    started: Instant,
    last_sim_ms: i64,
    pv_energy_mwh: f64,
    import_mwh: f64,
    export_mwh: f64,
    values: SimValues,
}

impl SimState {
    fn new(cfg: SimConfig) -> Self {
        let values = SimValues {
            nameplate_w: cfg.site.nameplate_w,
            pv_power_w: 0,
            pv_energy_wh: cfg.initial_energy_wh,
            grid_power_w: 0,
            grid_import_wh: 1,
            grid_export_wh: 1,
        };
        let mut s = SimState {
            last_sim_ms: cfg.start_ms,
            pv_energy_mwh: cfg.initial_energy_wh as f64 * 1000.0,
            import_mwh: 1000.0,
            export_mwh: 1000.0,
            started: Instant::now(),
            cfg,
            values,
        };
        s.advance();
        s
    }

    fn sim_now_ms(&self) -> i64 {
        let real_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        self.cfg.start_ms + (real_ms * self.cfg.speed) as i64
    }

    /// Integrates power from the last update to now (trapezoid on the simulated clock).
    fn advance(&mut self) {
        let now = self.sim_now_ms();
        let p0 = solar::power_w(&self.cfg.site, self.last_sim_ms);
        let p1 = solar::power_w(&self.cfg.site, now);
        let hours = (now - self.last_sim_ms).max(0) as f64 / 3_600_000.0;
        let pv_mwh = (f64::from(p0) + f64::from(p1)) / 2.0 * hours * 1000.0;
        self.pv_energy_mwh += pv_mwh;
        let load_mwh = f64::from(self.cfg.load_w) * hours * 1000.0;
        if load_mwh >= pv_mwh {
            self.import_mwh += load_mwh - pv_mwh;
        } else {
            self.export_mwh += pv_mwh - load_mwh;
        }
        self.last_sim_ms = now;
        self.values.pv_power_w = p1;
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

/// Runs the simulator on `listener` until the task is dropped.
pub async fn run(listener: TcpListener, cfg: SimConfig) -> std::io::Result<()> {
    let unit = cfg.unit;
    let state = Arc::new(Mutex::new(SimState::new(cfg)));
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
