//! A day's chart as SVG: production (verified export), consumption (metered import), traded
//! (contracted) and delivered energy per slot, summed over zones (or one zone), from the
//! latest run of each slot. Drawn with plotters' SVG backend and its built-in text layout:
//! no font files or system libraries are needed (text becomes SVG `<text>` elements).

use std::collections::BTreeMap;

use plotters::prelude::*;

use crate::error::{PlatformError, Result};
use crate::store::Store;

const DAY_MS: i64 = 24 * 3600 * 1000;
const WIDTH: u32 = 960;
const HEIGHT: u32 = 480;

/// Per-slot totals of one day, in Wh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotEnergy {
    pub production_wh: u64,
    pub consumption_wh: u64,
    pub traded_wh: u64,
    pub delivered_wh: u64,
}

/// The day's per-slot totals (slot start → totals), latest run version of each (zone, slot).
pub fn day_series(
    store: &Store,
    day_start_ms: i64,
    zone: Option<&str>,
) -> Result<BTreeMap<i64, SlotEnergy>> {
    let rows = store.report_rows(day_start_ms, day_start_ms + DAY_MS, zone)?;
    let mut latest = BTreeMap::new();
    for r in rows {
        latest.insert((r.row.slot_start_ms, r.row.zone.clone()), r.row);
    }
    let mut series: BTreeMap<i64, SlotEnergy> = BTreeMap::new();
    for ((slot, _), row) in latest {
        let e = series.entry(slot).or_default();
        e.production_wh += row.metered_export_wh;
        e.consumption_wh += row.metered_import_wh;
        e.traded_wh += row.contracted_wh;
        e.delivered_wh += row.delivered_wh;
    }
    Ok(series)
}

/// Renders the day starting at `day_start_ms` (UTC midnight) as an SVG document.
pub fn render_day(
    day_start_ms: i64,
    title: &str,
    series: &BTreeMap<i64, SlotEnergy>,
) -> Result<String> {
    let mut svg = String::new();
    draw(&mut svg, day_start_ms, title, series).map_err(|e| PlatformError::InvalidArgument {
        what: "chart",
        input: title.to_owned(),
        reason: format!("drawing failed: {e}"),
    })?;
    Ok(svg)
}

type Picks = [(&'static str, RGBColor, fn(&SlotEnergy) -> u64); 4];

const SERIES: Picks = [
    ("production", RGBColor(230, 159, 0), |e| e.production_wh),
    ("consumption", RGBColor(86, 180, 233), |e| e.consumption_wh),
    ("traded", RGBColor(0, 158, 115), |e| e.traded_wh),
    ("delivered", RGBColor(204, 121, 167), |e| e.delivered_wh),
];

fn draw(
    svg: &mut String,
    day_start_ms: i64,
    title: &str,
    series: &BTreeMap<i64, SlotEnergy>,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let hour = |ms: i64| (ms - day_start_ms) as f64 / 3_600_000.0;
    let max_kwh = series
        .values()
        .flat_map(|e| SERIES.iter().map(move |(_, _, pick)| pick(e)))
        .max()
        .unwrap_or(0) as f64
        / 1000.0;
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..24f64, 0f64..(max_kwh * 1.1).max(0.001))?;
    chart
        .configure_mesh()
        .x_desc("hour (UTC)")
        .y_desc("kWh per slot")
        .x_labels(13)
        .draw()?;
    for (name, color, pick) in SERIES {
        let points: Vec<(f64, f64)> = series
            .iter()
            .map(|(slot, e)| (hour(*slot), pick(e) as f64 / 1000.0))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// UTC midnight of the day holding `ms`.
pub fn day_start(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_renders_as_svg_with_text_and_four_lines() {
        let day = day_start(1_780_000_000_000);
        let mut series = BTreeMap::new();
        for i in 0..96 {
            series.insert(
                day + i * 900_000,
                SlotEnergy {
                    production_wh: (i as u64 % 48) * 100,
                    consumption_wh: 1_500,
                    traded_wh: 800,
                    delivered_wh: 700,
                },
            );
        }
        let svg = render_day(day, "sunmesh 2026-05-28", &series).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.contains("sunmesh 2026-05-28"));
        for name in [
            "production",
            "consumption",
            "traded",
            "delivered",
            "kWh per slot",
        ] {
            assert!(svg.contains(name), "missing {name}");
        }
        assert!(svg.matches("<polyline").count() >= 4);
        // An empty day still draws axes.
        assert!(render_day(day, "empty", &BTreeMap::new()).is_ok());
    }
}
