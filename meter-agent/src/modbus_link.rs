//! A Modbus connection (TCP or RTU over RS-485) behind [`RegisterReader`].
//!
//! On any transport error or timeout the connection is dropped and the next read reconnects:
//! half-broken TCP sessions and RS-485 framing errors are common, and a fresh connection is
//! the one recovery that works with every device.

use std::time::Duration;

use tokio_modbus::client::{Context, Reader};
use tokio_modbus::Slave;

use crate::error::{AgentError, Result};
use crate::sunspec::{RegisterKind, RegisterReader};

/// Where a Modbus device is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceUrl {
    /// `tcp://HOST:PORT` (port defaults to 502).
    Tcp { host: String, port: u16 },
    /// `rtu:///dev/ttyUSB0?baud=9600&parity=N&data=8&stop=1`.
    Rtu {
        path: String,
        baud: u32,
        parity: char,
        data_bits: u8,
        stop_bits: u8,
    },
}

impl std::fmt::Display for DeviceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceUrl::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            DeviceUrl::Rtu {
                path,
                baud,
                parity,
                data_bits,
                stop_bits,
            } => {
                write!(
                    f,
                    "rtu://{path}?baud={baud}&parity={parity}&data={data_bits}&stop={stop_bits}"
                )
            }
        }
    }
}

impl std::str::FromStr for DeviceUrl {
    type Err = AgentError;

    fn from_str(url: &str) -> Result<Self> {
        let bad = |reason: &str| AgentError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = url.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                    h,
                    p.parse::<u16>()
                        .map_err(|_| bad("port is not a number 1..65535"))?,
                ),
                _ => (rest, 502),
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() || port == 0 {
                return Err(bad("missing host or port"));
            }
            return Ok(DeviceUrl::Tcp {
                host: host.to_string(),
                port,
            });
        }
        if let Some(rest) = url.strip_prefix("rtu://") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if !path.starts_with('/') {
                return Err(bad(
                    "serial device must be an absolute path such as /dev/ttyUSB0",
                ));
            }
            let (mut baud, mut parity, mut data_bits, mut stop_bits) = (9600u32, 'N', 8u8, 1u8);
            for kv in query.split('&').filter(|s| !s.is_empty()) {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| bad("query must be key=value"))?;
                match k {
                    "baud" => baud = v.parse().map_err(|_| bad("baud is not a number"))?,
                    "parity" => {
                        parity = match v.to_ascii_uppercase().as_str() {
                            "N" | "NONE" => 'N',
                            "E" | "EVEN" => 'E',
                            "O" | "ODD" => 'O',
                            _ => return Err(bad("parity must be N, E or O")),
                        }
                    }
                    "data" => {
                        data_bits = v.parse().map_err(|_| bad("data bits is not a number"))?
                    }
                    "stop" => {
                        stop_bits = v.parse().map_err(|_| bad("stop bits is not a number"))?
                    }
                    _ => return Err(bad(&format!("unknown parameter {k:?}"))),
                }
            }
            if !(300..=1_000_000).contains(&baud) {
                return Err(bad("baud must be between 300 and 1000000"));
            }
            if !(5..=8).contains(&data_bits) || !(1..=2).contains(&stop_bits) {
                return Err(bad("data bits must be 5..8 and stop bits 1 or 2"));
            }
            return Ok(DeviceUrl::Rtu {
                path: path.to_string(),
                baud,
                parity,
                data_bits,
                stop_bits,
            });
        }
        Err(bad("unknown scheme"))
    }
}

/// A lazily (re)connecting Modbus client for one unit id.
pub struct ModbusLink {
    url: DeviceUrl,
    unit: u8,
    timeout: Duration,
    ctx: Option<Context>,
}

impl ModbusLink {
    pub fn new(url: DeviceUrl, unit: u8, timeout: Duration) -> Self {
        ModbusLink {
            url,
            unit,
            timeout,
            ctx: None,
        }
    }
}

async fn connect(url: &DeviceUrl, unit: u8, timeout: Duration) -> Result<Context> {
    let slave = Slave(unit);
    match url {
        DeviceUrl::Tcp { host, port } => {
            let unreachable = |e: String| AgentError::DeviceUnreachable(format!("{}: {e}", url));
            let mut addrs =
                tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), *port)))
                    .await
                    .map_err(|_| unreachable("name lookup timed out".into()))?
                    .map_err(|e| unreachable(e.to_string()))?;
            let addr = addrs
                .next()
                .ok_or_else(|| unreachable("no address for host".into()))?;
            tokio::time::timeout(
                timeout,
                tokio_modbus::client::tcp::connect_slave(addr, slave),
            )
            .await
            .map_err(|_| unreachable(format!("connect timed out after {:?}", timeout)))?
            .map_err(|e| unreachable(e.to_string()))
        }
        DeviceUrl::Rtu {
            path,
            baud,
            parity,
            data_bits,
            stop_bits,
        } => {
            let builder = tokio_serial::new(path, *baud)
                .parity(match parity {
                    'E' => tokio_serial::Parity::Even,
                    'O' => tokio_serial::Parity::Odd,
                    _ => tokio_serial::Parity::None,
                })
                .data_bits(match data_bits {
                    5 => tokio_serial::DataBits::Five,
                    6 => tokio_serial::DataBits::Six,
                    7 => tokio_serial::DataBits::Seven,
                    _ => tokio_serial::DataBits::Eight,
                })
                .stop_bits(if *stop_bits == 2 {
                    tokio_serial::StopBits::Two
                } else {
                    tokio_serial::StopBits::One
                });
            let port = tokio_serial::SerialStream::open(&builder)
                .map_err(|e| AgentError::DeviceUnreachable(format!("{}: {e}", url)))?;
            Ok(tokio_modbus::client::rtu::attach_slave(port, slave))
        }
    }
}

#[async_trait::async_trait]
impl RegisterReader for ModbusLink {
    async fn read(&mut self, kind: RegisterKind, addr: u16, count: u16) -> Result<Vec<u16>> {
        let mut ctx = match self.ctx.take() {
            Some(c) => c,
            None => connect(&self.url, self.unit, self.timeout).await?,
        };
        let call = async {
            match kind {
                RegisterKind::Holding => ctx.read_holding_registers(addr, count).await,
                RegisterKind::Input => ctx.read_input_registers(addr, count).await,
            }
        };
        let res = tokio::time::timeout(self.timeout, call).await;
        match res {
            Err(_) => Err(AgentError::DeviceUnreachable(format!(
                "{} unit {}: no answer within {:?} reading {count} registers at {addr}",
                self.url, self.unit, self.timeout
            ))),
            Ok(Err(e)) => Err(AgentError::DeviceUnreachable(format!(
                "{} unit {}: {e}",
                self.url, self.unit
            ))),
            Ok(Ok(Err(code))) => {
                self.ctx = Some(ctx);
                Err(AgentError::ModbusException {
                    address: addr,
                    code: format!("{code:?}"),
                })
            }
            Ok(Ok(Ok(regs))) => {
                self.ctx = Some(ctx);
                if regs.len() != usize::from(count) {
                    return Err(AgentError::NoValue(format!(
                        "asked for {count} registers at {addr}, got {}",
                        regs.len()
                    )));
                }
                Ok(regs)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_urls() {
        assert_eq!(
            "tcp://192.168.1.5:1502".parse::<DeviceUrl>().unwrap(),
            DeviceUrl::Tcp {
                host: "192.168.1.5".into(),
                port: 1502
            }
        );
        assert_eq!(
            "tcp://inverter.local".parse::<DeviceUrl>().unwrap(),
            DeviceUrl::Tcp {
                host: "inverter.local".into(),
                port: 502
            }
        );
        assert_eq!(
            "tcp://[::1]:5020".parse::<DeviceUrl>().unwrap(),
            DeviceUrl::Tcp {
                host: "::1".into(),
                port: 5020
            }
        );
        assert!("tcp://host:99999".parse::<DeviceUrl>().is_err());
        assert!("tcp://:502".parse::<DeviceUrl>().is_err());
        assert!("http://x".parse::<DeviceUrl>().is_err());
    }

    #[test]
    fn parses_rtu_urls() {
        let u: DeviceUrl = "rtu:///dev/ttyUSB0?baud=19200&parity=E&stop=1"
            .parse()
            .unwrap();
        assert_eq!(
            u,
            DeviceUrl::Rtu {
                path: "/dev/ttyUSB0".into(),
                baud: 19200,
                parity: 'E',
                data_bits: 8,
                stop_bits: 1
            }
        );
        let d: DeviceUrl = "rtu:///dev/ttyAMA0".parse().unwrap();
        assert_eq!(
            d.to_string(),
            "rtu:///dev/ttyAMA0?baud=9600&parity=N&data=8&stop=1"
        );
        assert!("rtu://ttyUSB0".parse::<DeviceUrl>().is_err());
        assert!("rtu:///dev/ttyUSB0?baud=fast".parse::<DeviceUrl>().is_err());
        assert!("rtu:///dev/ttyUSB0?parity=X".parse::<DeviceUrl>().is_err());
        assert!("rtu:///dev/ttyUSB0?speed=9600"
            .parse::<DeviceUrl>()
            .is_err());
    }

    #[tokio::test]
    async fn missing_serial_port_is_a_clear_error() {
        let mut l = ModbusLink::new(
            "rtu:///dev/does-not-exist-sunmesh".parse().unwrap(),
            1,
            Duration::from_millis(200),
        );
        let e = l.read(RegisterKind::Holding, 0, 1).await.unwrap_err();
        assert!(matches!(e, AgentError::DeviceUnreachable(_)), "{e}");
    }
}
