//! Who lives in the simulated neighbourhood: every household's inverter (size, orientation),
//! its constant load, where it is, its device key and whether its meter is honest. Pure: the
//! same households and seed always give the same neighbourhood, device ids included.

use meter_agent::simulator::solar::{Panel, Site};
use meter_agent::simulator::Tamper;

use super::rng::Rng;

/// The neighbourhood's centre (Amsterdam); households sit within about a kilometre of it.
pub const CENTRE_LAT: f64 = 52.37;
pub const CENTRE_LON: f64 = 4.90;

/// What the night producer's inverter adds to its production, W.
/// 1 kW over a one-minute reading is 16.7 Wh, more than the night rule's whole budget for a
/// night (the 10 Wh meter tolerance), so every such reading is refused. 500 W (8.3 Wh a
/// minute) would be refused from its second night reading on (see docs/demo.md).
const NIGHT_EXTRA_W: u32 = 1000;
/// The night producer's own load, W: below its claimed extra, so it has "surplus" to sell at
/// night.
const NIGHT_PRODUCER_LOAD_W: u32 = 600;

/// Dishonest or faulty meters per 20 households (rounded up, at most 3 kinds).
const BAD_PER_20: usize = 3;

/// How a household's inverter reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Conduct {
    Honest,
    /// Dishonest: its inverter reports 2.5 × what it produces.
    Inflating,
    /// Dishonest: its inverter reports 1 kW more than it produces, also at night.
    NightProducer,
    /// Faulty: its energy counter jumps by 40 kWh every 4 simulated hours.
    CounterGlitch,
}

impl Conduct {
    /// The order in which bad households are assigned.
    const BAD: [Conduct; 3] = [
        Conduct::Inflating,
        Conduct::NightProducer,
        Conduct::CounterGlitch,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Conduct::Honest => "honest",
            Conduct::Inflating => "dishonest: reports 2.5 × its production",
            Conduct::NightProducer => "dishonest: reports 1 kW extra, also at night",
            Conduct::CounterGlitch => "faulty: energy counter jumps 40 kWh every 4 h",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Conduct::Honest => "honest",
            Conduct::Inflating => "inflating",
            Conduct::NightProducer => "night_producer",
            Conduct::CounterGlitch => "counter_glitch",
        }
    }

    pub fn tamper(self) -> Tamper {
        match self {
            Conduct::Honest => Tamper::Honest,
            Conduct::Inflating => Tamper::Inflate { factor: 2.5 },
            Conduct::NightProducer => Tamper::NightProduction {
                watts: NIGHT_EXTRA_W,
            },
            Conduct::CounterGlitch => Tamper::CounterJump {
                every_ms: 4 * 3_600_000,
                jump_wh: 40_000,
            },
        }
    }

    /// What the household expects its inverter to *claim* for a real production of `real_w`:
    /// a dishonest owner sells what the meter will say, not what the roof makes.
    pub fn claimed_w(self, real_w: u32) -> u32 {
        match self {
            Conduct::Inflating => real_w.saturating_mul(5) / 2,
            Conduct::NightProducer => real_w.saturating_add(NIGHT_EXTRA_W),
            Conduct::Honest | Conduct::CounterGlitch => real_w,
        }
    }
}

/// One household.
#[derive(Clone, Debug, PartialEq)]
pub struct Household {
    /// 0-based position; `name` is `house-NN` from 1.
    pub index: usize,
    pub name: String,
    pub site: Site,
    pub panel: Panel,
    /// Constant consumption behind the grid meter, W.
    pub load_w: u32,
    pub conduct: Conduct,
    /// The device key's seed, so device ids are the same on every run with the same seed.
    pub key_seed: [u8; 32],
    /// How the owner's forecast of the roof's output errs, per mille of the real output.
    pub forecast_permille: u64,
}

/// The neighbourhood for `count` households and `seed`.
pub fn plan(count: usize, seed: u64) -> Vec<Household> {
    let mut rng = Rng::derive(seed, &[0x6E65_6967]);
    // South-south-east to south-south-west: rule 7 compares capacity-normalised yields
    // without knowing orientations, and flags honest south-east and south-west roofs at dawn
    // and dusk (measured: docs/demo.md).
    let orientations = [
        (165.0, 30.0),
        (180.0, 35.0),
        (195.0, 30.0),
        (180.0, 25.0),
        (170.0, 35.0),
        (190.0, 25.0),
    ];
    let mut houses: Vec<Household> = (0..count)
        .map(|index| {
            let (azimuth_deg, tilt_deg) = orientations[index % orientations.len()];
            // Whole hundreds of watts: 1.5 … 9 kW on the roof, 250 … 1500 W of load.
            let nameplate_w = rng.range(15, 90) as u32 * 100;
            let load_w = rng.range(5, 30) as u32 * 50;
            let d_lat = rng.range(0, 200) as f64 / 10_000.0 - 0.01;
            let d_lon = rng.range(0, 300) as f64 / 10_000.0 - 0.015;
            Household {
                index,
                name: format!("house-{:02}", index + 1),
                site: Site {
                    latitude: CENTRE_LAT + d_lat,
                    longitude: CENTRE_LON + d_lon,
                    nameplate_w,
                },
                panel: Panel {
                    tilt_deg,
                    azimuth_deg,
                },
                load_w,
                conduct: Conduct::Honest,
                key_seed: rng.bytes32(),
                forecast_permille: rng.permille(900, 1050),
            }
        })
        .collect();
    let bad = bad_count(count);
    let mut positions: Vec<usize> = (0..count).collect();
    rng.shuffle(&mut positions);
    for (conduct, &position) in Conduct::BAD.iter().zip(positions.iter().take(bad)) {
        houses[position].conduct = *conduct;
        if *conduct == Conduct::NightProducer {
            houses[position].load_w = NIGHT_PRODUCER_LOAD_W;
        }
    }
    houses
}

/// How many households are dishonest or faulty: 3 per 20, rounded up, at least one in any
/// neighbourhood of two or more, at most one of each kind.
pub fn bad_count(count: usize) -> usize {
    if count < 2 {
        return 0;
    }
    (count * BAD_PER_20)
        .div_ceil(20)
        .clamp(1, Conduct::BAD.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_neighbourhood() {
        assert_eq!(plan(20, 1), plan(20, 1));
        assert_ne!(plan(20, 1), plan(20, 2));
        // Growing the neighbourhood keeps nobody's roof, only who is dishonest may move.
        let small = plan(6, 1);
        let large = plan(20, 1);
        assert_eq!(small[0].key_seed.len(), 32);
        assert_eq!(small.len(), 6);
        assert!(large.iter().all(|h| h.name.starts_with("house-")));
    }

    #[test]
    fn three_in_twenty_are_bad_one_of_each_kind() {
        let houses = plan(20, 1);
        let mut bad: Vec<Conduct> = houses
            .iter()
            .map(|h| h.conduct)
            .filter(|c| *c != Conduct::Honest)
            .collect();
        bad.sort();
        assert_eq!(
            bad,
            vec![
                Conduct::Inflating,
                Conduct::NightProducer,
                Conduct::CounterGlitch
            ]
        );
        assert_eq!(bad_count(1), 0);
        assert_eq!(bad_count(6), 1);
        assert_eq!(bad_count(7), 2);
        assert_eq!(bad_count(100), 3);
    }

    #[test]
    fn roofs_loads_and_places_are_plausible() {
        for h in plan(40, 9) {
            assert!((1500..=9000).contains(&h.site.nameplate_w), "{h:?}");
            assert!((250..=1500).contains(&h.load_w), "{h:?}");
            assert!((h.site.latitude - CENTRE_LAT).abs() <= 0.0101);
            assert!((h.site.longitude - CENTRE_LON).abs() <= 0.0151);
            assert!((165.0..=195.0).contains(&h.panel.azimuth_deg));
        }
        let keys: std::collections::BTreeSet<_> = plan(40, 9).iter().map(|h| h.key_seed).collect();
        assert_eq!(keys.len(), 40, "every device has its own key");
    }
}
