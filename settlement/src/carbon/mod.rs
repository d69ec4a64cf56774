//! Carbon credits: grid emission factors as versioned data, and the grams CO2e minted for
//! verified export (`grams = floor(exported_Wh × factor_g_per_MWh / 1,000,000)`, the
//! AMS-I.D baseline `EG × EF` in integer units).
//!
//! The factor table is imported from CSV (see `data/emission_factors.csv`); every mint records
//! the factor it used, so a credit can be traced to its source and version.

use crate::SettlementError;

/// Which kind of grid factor a row is; the choice changes results materially.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FactorKind {
    /// Average emissions of all generation (Scope 2 reporting: EEA, DESNZ, eGRID, EIA).
    AnnualAverage,
    /// CDM TOOL07 combined margin (methodology-grade basis for credits).
    CombinedMargin,
    /// Marginal (e.g. 5-minute MOER), "emissionality"-based.
    Marginal,
}

impl FactorKind {
    pub fn name(self) -> &'static str {
        match self {
            FactorKind::AnnualAverage => "annual_average",
            FactorKind::CombinedMargin => "combined_margin",
            FactorKind::Marginal => "marginal",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "annual_average" => Some(FactorKind::AnnualAverage),
            "combined_margin" => Some(FactorKind::CombinedMargin),
            "marginal" => Some(FactorKind::Marginal),
            _ => None,
        }
    }
}

/// One row of the factor table: valid for `zone` in `[valid_from_ms, valid_to_ms)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmissionFactor {
    pub zone: String,
    pub valid_from_ms: i64,
    pub valid_to_ms: i64,
    pub kind: FactorKind,
    pub source: String,
    pub version: String,
    pub g_per_mwh: u64,
}

impl EmissionFactor {
    pub fn covers(&self, at_ms: i64) -> bool {
        self.valid_from_ms <= at_ms && at_ms < self.valid_to_ms
    }
}

pub const CSV_HEADER: &str = "zone,valid_from,valid_to,kind,source,version,g_co2e_per_mwh";

/// The emission factors a settlement can choose from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactorTable {
    rows: Vec<EmissionFactor>,
}

impl FactorTable {
    pub fn rows(&self) -> &[EmissionFactor] {
        &self.rows
    }

    /// Parses the CSV form: a header line equal to [`CSV_HEADER`], then one factor per line.
    /// Blank lines and lines starting with `#` are skipped; fields may be double-quoted
    /// (with `""` for a quote) so sources can contain commas.
    pub fn from_csv(text: &str) -> Result<Self, SettlementError> {
        let mut table = FactorTable::default();
        let mut header_seen = false;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if !header_seen {
                if trimmed != CSV_HEADER {
                    return Err(csv_err(line, format!("expected header `{CSV_HEADER}`")));
                }
                header_seen = true;
                continue;
            }
            let fields = split_csv(trimmed).map_err(|m| csv_err(line, m))?;
            let [zone, from, to, kind, source, version, value] = fields.as_slice() else {
                return Err(csv_err(
                    line,
                    format!("expected 7 fields, found {}", fields.len()),
                ));
            };
            let row = EmissionFactor {
                zone: non_empty(zone, "zone", line)?,
                valid_from_ms: parse_utc_ms(from).map_err(|m| csv_err(line, m))?,
                valid_to_ms: parse_utc_ms(to).map_err(|m| csv_err(line, m))?,
                kind: FactorKind::parse(kind).ok_or_else(|| {
                    csv_err(
                        line,
                        format!("kind `{kind}` is not annual_average, combined_margin or marginal"),
                    )
                })?,
                source: non_empty(source, "source", line)?,
                version: non_empty(version, "version", line)?,
                g_per_mwh: value.parse().map_err(|_| {
                    csv_err(
                        line,
                        format!("value `{value}` is not a whole number of g/MWh"),
                    )
                })?,
            };
            if row.valid_to_ms <= row.valid_from_ms {
                return Err(csv_err(line, "valid_to must be after valid_from".into()));
            }
            let overlaps = table.rows.iter().any(|r| {
                r.zone == row.zone
                    && r.kind == row.kind
                    && r.valid_from_ms < row.valid_to_ms
                    && row.valid_from_ms < r.valid_to_ms
            });
            if overlaps {
                return Err(SettlementError::FactorOverlap {
                    line,
                    zone: row.zone,
                    kind: row.kind.name(),
                });
            }
            table.rows.push(row);
        }
        if !header_seen {
            return Err(csv_err(1, format!("missing header `{CSV_HEADER}`")));
        }
        Ok(table)
    }

    /// The factor of `kind` valid for `zone` at `at_ms` (the start of the delivery slot).
    pub fn lookup(
        &self,
        zone: &str,
        kind: FactorKind,
        at_ms: i64,
    ) -> Result<&EmissionFactor, SettlementError> {
        self.rows
            .iter()
            .find(|r| r.zone == zone && r.kind == kind && r.covers(at_ms))
            .ok_or_else(|| SettlementError::NoFactor {
                zone: zone.to_string(),
                kind: kind.name(),
                at_ms,
            })
    }
}

/// Grams CO2e for `exported_wh` at `g_per_mwh`, rounded down (never credit more than earned).
pub fn carbon_grams(exported_wh: u64, g_per_mwh: u64) -> u128 {
    u128::from(exported_wh) * u128::from(g_per_mwh) / 1_000_000
}

fn csv_err(line: usize, message: String) -> SettlementError {
    SettlementError::FactorCsv { line, message }
}

fn non_empty(field: &str, what: &str, line: usize) -> Result<String, SettlementError> {
    if field.is_empty() {
        Err(csv_err(line, format!("{what} is empty")))
    } else {
        Ok(field.to_string())
    }
}

fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("unexpected `{c}` after a quoted field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field.trim().to_string());
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field.trim().to_string());
        }
    }
}

/// `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ` → UTC milliseconds.
pub fn parse_utc_ms(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    let (date, time) = match text.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z').ok_or_else(bad)?)),
        None => (text, None),
    };
    let num = |s: &str, len: usize| -> Result<i64, String> {
        if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    let mut parts = date.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (year, month, day) = (num(y, 4)?, num(m, 2)?, num(d, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad());
    }
    let mut seconds = days_from_civil(year, month, day) * 86_400;
    if let Some(time) = time {
        let mut hms = time.split(':');
        let (Some(h), Some(mi), Some(s), None) = (hms.next(), hms.next(), hms.next(), hms.next())
        else {
            return Err(bad());
        };
        let (h, mi, s) = (num(h, 2)?, num(mi, 2)?, num(s, 2)?);
        if h > 23 || mi > 59 || s > 59 {
            return Err(bad());
        }
        seconds += h * 3600 + mi * 60 + s;
    }
    Ok(seconds * 1000)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../data/emission_factors.csv");

    #[test]
    fn the_shipped_table_parses_with_its_published_values() {
        let table = FactorTable::from_csv(EXAMPLE).expect("example table");
        assert_eq!(table.rows().len(), 7);
        let at = parse_utc_ms("2023-06-01T12:00:00Z").expect("date");
        let gb = table
            .lookup("GB", FactorKind::AnnualAverage, at)
            .expect("GB 2023");
        assert_eq!((gb.g_per_mwh, gb.version.as_str()), (207_070, "DESNZ-2023"));
        let ph = table
            .lookup("PH-LV", FactorKind::CombinedMargin, at)
            .expect("PH");
        assert_eq!(ph.g_per_mwh, 683_600);
        assert!(ph.source.contains("Luzon-Visayas"));
        assert!(table.lookup("GB", FactorKind::Marginal, at).is_err());
    }

    #[test]
    fn worked_example_from_the_reference_gives_2187_grams() {
        // 3.2 kWh at 683.6 g/kWh = 2187.52 g, floored.
        assert_eq!(carbon_grams(3_200, 683_600), 2_187);
        assert_eq!(carbon_grams(0, 683_600), 0);
        assert!(carbon_grams(u64::MAX, u64::MAX) > 0);
    }

    #[test]
    fn dates_parse_to_utc_milliseconds() {
        assert_eq!(parse_utc_ms("1970-01-01"), Ok(0));
        assert_eq!(parse_utc_ms("2024-02-29"), Ok(1_709_164_800_000));
        assert_eq!(parse_utc_ms("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        for bad in [
            "2023-02-29",
            "2023-13-01",
            "23-01-01",
            "2023-01-01T25:00:00Z",
            "x",
        ] {
            assert!(parse_utc_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_tables_are_rejected_with_the_line() {
        let overlap = format!(
            "{CSV_HEADER}\nZ,2020-01-01,2021-01-01,marginal,s,v1,1\nZ,2020-06-01,2022-01-01,marginal,s,v2,2\n"
        );
        assert!(matches!(
            FactorTable::from_csv(&overlap),
            Err(SettlementError::FactorOverlap { line: 3, .. })
        ));
        let cases = [
            "zone,from\n".to_string(),
            format!("{CSV_HEADER}\nZ,2020-01-01,2021-01-01,weird,s,v,1\n"),
            format!("{CSV_HEADER}\nZ,2021-01-01,2020-01-01,marginal,s,v,1\n"),
            format!("{CSV_HEADER}\nZ,2020-01-01,2021-01-01,marginal,s,v,-1\n"),
            format!("{CSV_HEADER}\nZ,2020-01-01,2021-01-01,marginal,\"s,v,1\n"),
            format!("{CSV_HEADER}\nZ,2020-01-01,2021-01-01,marginal,s,v\n"),
            String::new(),
        ];
        for case in cases {
            assert!(
                matches!(
                    FactorTable::from_csv(&case),
                    Err(SettlementError::FactorCsv { .. })
                ),
                "{case}"
            );
        }
    }

    #[test]
    fn quoted_fields_keep_commas_and_quotes() {
        assert_eq!(
            split_csv(r#"a,"b, ""c""",d"#).expect("split"),
            vec!["a", "b, \"c\"", "d"]
        );
    }
}
