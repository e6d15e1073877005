//! The charts of amounts over days: a server-drawn SVG that every browser shows, and the same
//! figures as a data block that `app.js` turns into an interactive uPlot chart with a value per day.

use chrono::{Months, NaiveDate};
use saldo_core::money::{Currency, Money};
use std::fmt::Write as _;

/// The periods a chart offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Month,
    Quarter,
    Year,
    All,
}

impl Range {
    pub const ALL: [Range; 4] = [Range::Month, Range::Quarter, Range::Year, Range::All];

    pub fn parse(text: Option<&str>) -> Range {
        match text {
            Some("1m") => Range::Month,
            Some("3m") => Range::Quarter,
            Some("all") => Range::All,
            _ => Range::Year,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Range::Month => "1m",
            Range::Quarter => "3m",
            Range::Year => "1y",
            Range::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Range::Month => "1 month",
            Range::Quarter => "3 months",
            Range::Year => "1 year",
            Range::All => "All",
        }
    }

    /// The first day of the period ending `today`; `None` for all of it.
    pub fn start(self, today: NaiveDate) -> Option<NaiveDate> {
        let months = match self {
            Range::Month => 1,
            Range::Quarter => 3,
            Range::Year => 12,
            Range::All => return None,
        };
        today.checked_sub_months(Months::new(months))
    }
}

/// One line of a chart.
pub struct Series {
    pub label: &'static str,
    /// The CSS variable of its colour.
    pub colour: &'static str,
    pub values: Vec<Money>,
}

pub struct RangeLink {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

/// What a chart template shows.
pub struct Chart {
    pub id: &'static str,
    pub ranges: Vec<RangeLink>,
    pub svg: String,
    pub json: String,
}

impl Chart {
    /// A chart of `series` over `days`, with links to `base?range=…` for each period.
    pub fn new(
        id: &'static str,
        base: &str,
        range: Range,
        days: &[NaiveDate],
        currency: Currency,
        series: &[Series],
    ) -> Chart {
        let ranges = Range::ALL
            .iter()
            .map(|r| RangeLink { href: format!("{base}?range={}", r.key()), label: r.label(), current: *r == range })
            .collect();
        Chart { id, ranges, svg: svg(days, series), json: data_block(days, currency, series) }
    }
}

/// The figures as JSON for the script, numbers written exactly as their decimals.
fn data_block(days: &[NaiveDate], currency: Currency, series: &[Series]) -> String {
    let mut json = String::from("{\"days\":[");
    for (i, day) in days.iter().enumerate() {
        let _ = write!(json, "{}\"{day}\"", if i > 0 { "," } else { "" });
    }
    let _ = write!(json, "],\"currency\":\"{}\",\"decimals\":{},\"series\":[", currency.code(), currency.exponent());
    for (i, s) in series.iter().enumerate() {
        let _ = write!(
            json,
            "{}{{\"label\":\"{}\",\"colour\":\"{}\",\"values\":[",
            if i > 0 { "," } else { "" },
            s.label,
            s.colour
        );
        for (j, value) in s.values.iter().enumerate() {
            let _ = write!(json, "{}{}", if j > 0 { "," } else { "" }, value.to_decimal());
        }
        json.push_str("]}");
    }
    json.push_str("]}");
    json.replace('<', "\\u003c")
}

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 200.0;

/// Lines over the days, drawn on the server: what a browser without script shows.
fn svg(days: &[NaiveDate], series: &[Series]) -> String {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return "<p class=\"muted\">No history yet: it begins with the first balance.</p>".into();
    };
    if days.len() < 2 {
        return format!(
            "<p class=\"muted\">The history begins on {}; the chart fills in as saldo updates.</p>",
            super::format::day(*first)
        );
    }
    let all = series.iter().flat_map(|s| s.values.iter().map(|m| m.minor));
    let (low, high) = all.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let span = (high - low).max(1) as f64;
    let step = if days.len() > 1 { WIDTH / (days.len() - 1) as f64 } else { 0.0 };
    let mut out = String::new();
    let summary = series
        .first()
        .and_then(|s| Some((s.values.first()?, s.values.last()?)))
        .map(|(a, b)| {
            format!(", {} from {} to {}", series[0].label, super::format::money(*a), super::format::money(*b))
        })
        .unwrap_or_default();
    let _ = write!(
        out,
        "<svg class=\"fallback\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" preserveAspectRatio=\"none\" role=\"img\" \
         aria-label=\"Chart from {} to {}{}\">",
        super::format::day(*first),
        super::format::day(*last),
        html_escape::encode_double_quoted_attribute(&summary)
    );
    let colours = ["#1f5fbf", "#2e9e5b", "#b3401a"];
    for (s, colour) in series.iter().zip(colours) {
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, m)| {
                format!("{:.1},{:.1}", i as f64 * step, HEIGHT - 4.0 - (m.minor - low) as f64 / span * (HEIGHT - 8.0))
            })
            .collect();
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" vector-effect=\"non-scaling-stroke\" points=\"{}\"/>",
            points.join(" ")
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_block_writes_amounts_exactly_and_cannot_close_its_script() {
        let eur = Currency::parse("EUR").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let next = day.succ_opt().unwrap();
        let values = vec![Money::new(123_450, eur), Money::new(-5, eur)];
        let series = [Series { label: "Net worth", colour: "--accent", values }];
        let chart = Chart::new("networth", "/", Range::Year, &[day, next], eur, &series);
        assert_eq!(
            chart.json,
            "{\"days\":[\"2026-01-01\",\"2026-01-02\"],\"currency\":\"EUR\",\"decimals\":2,\"series\":[{\"label\":\"Net worth\",\"colour\":\"--accent\",\"values\":[1234.50,-0.05]}]}"
        );
        assert!(chart.svg.contains("<polyline") && chart.svg.contains("€1,234.50 to −€0.05"), "{}", chart.svg);
        let one_day = Chart::new("networth", "/", Range::Year, &[day], eur, &series[..]);
        assert!(one_day.svg.contains("begins on 1 Jan 2026"), "{}", one_day.svg);
        assert_eq!(
            Range::parse(Some("3m")).start(NaiveDate::from_ymd_opt(2026, 5, 31).unwrap()),
            NaiveDate::from_ymd_opt(2026, 2, 28)
        );
    }
}
