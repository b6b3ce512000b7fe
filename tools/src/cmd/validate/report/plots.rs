//! The report's plots: `plotters` drawing into SVG strings that the HTML inlines.
//!
//! Text is SVG `<text>` (plotters without its `ttf` feature only estimates text sizes, so no
//! font file is needed and the viewer's sans-serif draws it). The x axis of every plot is in
//! UTC days since the epoch (`f64`; nanosecond timestamps are divided down).

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::types::iso_date;

/// The static run's colour.
pub const STATIC_COLOR: RGBColor = RGBColor(31, 119, 180);
/// The adaptive run's colour.
pub const ADAPTIVE_COLOR: RGBColor = RGBColor(230, 85, 13);
/// Colours for other runs and for symbols.
const PALETTE: [RGBColor; 6] = [
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(23, 190, 207),
];
/// Background of each regime label: calm, normal, stressed.
pub const REGIME_COLORS: [RGBColor; 3] = [
    RGBColor(204, 235, 204),
    RGBColor(236, 236, 236),
    RGBColor(250, 200, 195),
];
/// Names of the regime labels.
pub const REGIME_NAMES: [&str; 3] = ["calm", "normal", "stressed"];

const FONT: &str = "sans-serif";
const NS_PER_DAY: f64 = 86_400e9;

/// Points of a line, `(x, y)`.
pub type Points = Vec<(f64, f64)>;
/// A line over time: its legend label, its points, its colour.
pub type Line = (String, Points, RGBColor);
/// A line over days: its legend label, a value per day (`None` skipped), its colour.
pub type DailyLine = (String, Vec<Option<f64>>, RGBColor);
/// One run's bars: its legend label, a value per category, its colour.
pub type Bars = (String, Vec<f64>, RGBColor);

/// The colour of a run, by name (static, adaptive) or else by position.
pub fn run_color(name: &str, index: usize) -> RGBColor {
    match name {
        "static" => STATIC_COLOR,
        "adaptive" => ADAPTIVE_COLOR,
        _ => PALETTE[index % PALETTE.len()],
    }
}

/// The colour of the `i`-th line of a multi-line plot.
pub fn palette(i: usize) -> RGBColor {
    [STATIC_COLOR, ADAPTIVE_COLOR]
        .into_iter()
        .chain(PALETTE)
        .nth(i % (PALETTE.len() + 2))
        .unwrap_or(STATIC_COLOR)
}

/// Days since the epoch of a nanosecond timestamp.
pub fn ns_to_days(ts_ns: u64) -> f64 {
    ts_ns as f64 / NS_PER_DAY
}

/// Gives a drawn SVG its `id`, an accessible name, and a `<title>` (what a browser shows on
/// hover and what tests look for).
pub fn tag(svg: &str, id: &str, title: &str) -> String {
    let title = escape(title);
    let Some(open_end) = svg
        .find("<svg")
        .and_then(|s| svg[s..].find('>').map(|e| s + e))
    else {
        return svg.to_string();
    };
    let (head, tail) = svg.split_at(open_end);
    let head = head.replacen(
        "<svg",
        &format!(
            "<svg id=\"{}\" class=\"plot\" role=\"img\" aria-label=\"{title}\"",
            escape(id)
        ),
        1,
    );
    // `tail` starts with the opening tag's `>`.
    format!("{head}><title>{title}</title>{}", &tail[1..])
}

/// Escapes text for HTML and SVG.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// An axis range around `lo..hi` with a little room, never empty.
fn padded(lo: f64, hi: f64, room: f64) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let d = if lo.abs() > 1e-12 {
            lo.abs() * 0.05
        } else {
            0.01
        };
        return (lo - d, hi + d);
    }
    let d = (hi - lo) * room;
    (lo - d, hi + d)
}

/// The range of the finite values.
pub fn extent(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// Dates on the x axis: `YYYY-MM-DD`, with the time of day when the plot spans under 3 days.
fn date_label(span_days: f64) -> impl Fn(&f64) -> String {
    move |x: &f64| {
        let day = x.floor();
        if span_days < 3.0 {
            let mins = ((x - day) * 1440.0).round() as i64;
            format!("{} {:02}:{:02}", iso_date(day as i64), mins / 60, mins % 60)
        } else {
            iso_date(day as i64)
        }
    }
}

fn pct_label(y: &f64) -> String {
    let a = y.abs() * 100.0;
    if a != 0.0 && a < 0.1 {
        format!("{:.3}%", y * 100.0)
    } else {
        format!("{:.1}%", y * 100.0)
    }
}

fn draw<F>(w: u32, h: u32, f: F) -> Result<String>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
{
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        f(&root)?;
        root.present()?;
    }
    Ok(s)
}

/// A fan chart: percentile bands of cumulative return across accounts per day (5–95 light,
/// 25–75 darker, the median a line). `fan` is `[p5, p25, p50, p75, p95]`, each per day; `y` is
/// shared by the runs drawn side by side so that their fans compare by eye.
pub fn fan_chart(
    title: &str,
    days: &[u32],
    fan: &[Vec<f64>],
    y: (f64, f64),
    color: RGBColor,
    size: (u32, u32),
) -> Result<String> {
    let xs: Vec<f64> = days.iter().map(|&d| f64::from(d)).collect();
    let (x0, x1) = padded(xs[0], xs[xs.len() - 1], 0.0);
    draw(size.0, size.1, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y.0..y.1)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(5)
            .y_labels(8)
            .x_label_formatter(&date_label(x1 - x0))
            .y_label_formatter(&pct_label)
            .y_desc("cumulative return")
            .draw()?;
        let band = |lo: &[f64], hi: &[f64]| -> Vec<(f64, f64)> {
            let up = xs.iter().copied().zip(hi.iter().copied());
            let down = xs.iter().copied().zip(lo.iter().copied()).rev();
            up.chain(down).collect()
        };
        chart
            .draw_series(std::iter::once(Polygon::new(
                band(&fan[0], &fan[4]),
                color.mix(0.18).filled(),
            )))?
            .label("5–95th percentile")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], color.mix(0.18).filled())
            });
        chart
            .draw_series(std::iter::once(Polygon::new(
                band(&fan[1], &fan[3]),
                color.mix(0.40).filled(),
            )))?
            .label("25–75th percentile")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], color.mix(0.40).filled())
            });
        chart
            .draw_series(LineSeries::new(
                xs.iter().copied().zip(fan[2].iter().copied()),
                color.stroke_width(2),
            ))?
            .label("median")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        chart.draw_series(LineSeries::new(
            [(x0, 0.0), (x1, 0.0)],
            BLACK.mix(0.5).stroke_width(1),
        ))?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// One line per series over days: `(name, values per day, colour)`; `None` values break
/// nothing, they are skipped.
pub fn daily_lines(
    title: &str,
    y_desc: &str,
    days: &[u32],
    series: &[DailyLine],
    size: (u32, u32),
) -> Result<String> {
    let xs: Vec<f64> = days.iter().map(|&d| f64::from(d)).collect();
    let (x0, x1) = padded(xs[0], xs[xs.len() - 1], 0.0);
    let (lo, hi) = extent(series.iter().flat_map(|s| s.1.iter().flatten().copied()));
    let (_, y1) = padded(lo.min(0.0), hi, 0.05);
    draw(size.0, size.1, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, lo.min(0.0)..y1)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&date_label(x1 - x0))
            .y_label_formatter(&pct_label)
            .y_desc(y_desc)
            .draw()?;
        for (name, values, color) in series {
            let color = *color;
            let pts: Vec<(f64, f64)> = xs
                .iter()
                .zip(values)
                .filter_map(|(&x, v)| v.map(|v| (x, v)))
                .collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// Grouped bars: for each category, one bar per run, its value written above it.
pub fn grouped_bars(
    title: &str,
    categories: &[&str],
    runs: &[Bars],
    size: (u32, u32),
) -> Result<String> {
    let top = runs
        .iter()
        .flat_map(|r| r.1.iter().copied())
        .fold(0.0, f64::max);
    let y1 = if top > 0.0 { top * 1.18 } else { 1.0 };
    let k = runs.len().max(1) as f64;
    draw(size.0, size.1, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5..(categories.len() as f64 - 0.5), 0.0..y1)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .disable_x_mesh()
            .x_labels(categories.len())
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    categories
                        .get(i as usize)
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_labels(6)
            .y_label_formatter(&|y| {
                if (y - y.round()).abs() < 1e-9 {
                    format!("{y:.0}")
                } else {
                    format!("{y:.1}")
                }
            })
            .draw()?;
        let value_style = TextStyle::from((FONT, 13)).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (i, (name, values, color)) in runs.iter().enumerate() {
            let color = *color;
            let w = 0.8 / k;
            let bars = values.iter().enumerate().map(|(c, &v)| {
                let left = c as f64 - 0.4 + i as f64 * w;
                Rectangle::new([(left + 0.02, 0.0), (left + w - 0.02, v)], color.filled())
            });
            chart
                .draw_series(bars)?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 16, y + 5)], color.filled())
                });
            chart.draw_series(values.iter().enumerate().map(|(c, &v)| {
                let mid = c as f64 - 0.4 + (i as f64 + 0.5) * w;
                Text::new(format!("{v:.0}"), (mid, v), value_style.clone())
            }))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// Lines over time with `x` in days: `(label, points, colour)`; the y axis in plain numbers.
pub fn time_lines(title: &str, series: &[Line], size: (u32, u32)) -> Result<String> {
    let (x0, x1) = padded_x(series.iter().flat_map(|s| s.1.iter().map(|p| p.0)));
    let (lo, hi) = extent(series.iter().flat_map(|s| s.1.iter().map(|p| p.1)));
    let (y0, y1) = padded(lo, hi, 0.08);
    draw(size.0, size.1, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 15))
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(3)
            .y_labels(5)
            .x_label_formatter(&date_label(x1 - x0))
            .y_label_formatter(&|y| format!("{y:.3}"))
            .label_style((FONT, 11))
            .draw()?;
        for (name, pts, color) in series {
            let color = *color;
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(1)))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 11))
            .draw()?;
        Ok(())
    })
}

fn padded_x(xs: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = extent(xs);
    padded(lo, hi, 0.0)
}

/// The price line over background bands, one colour per regime label:
/// `price` is `(day, price)`; `bands` are `(from day, to day, label)`.
pub fn regime_chart(
    title: &str,
    price: &[(f64, f64)],
    bands: &[(f64, f64, u8)],
    size: (u32, u32),
) -> Result<String> {
    let (x0, x1) = padded_x(price.iter().map(|p| p.0));
    let (lo, hi) = extent(price.iter().map(|p| p.1));
    let (y0, y1) = padded(lo, hi, 0.04);
    let dec = match y1 - y0 {
        r if r < 0.1 => 5,
        r if r < 10.0 => 3,
        _ => 2,
    };
    draw(size.0, size.1, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(72)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .disable_mesh()
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&date_label(x1 - x0))
            .y_label_formatter(&|y| format!("{y:.dec$}"))
            .y_desc("price")
            .draw()?;
        chart.draw_series(bands.iter().map(|&(a, b, l)| {
            let c = REGIME_COLORS[usize::from(l.min(2))];
            Rectangle::new([(a.max(x0), y0), (b.min(x1), y1)], c.filled())
        }))?;
        for (l, name) in REGIME_NAMES.iter().enumerate() {
            let c = REGIME_COLORS[l];
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], c.filled()));
        }
        chart
            .draw_series(LineSeries::new(
                price.iter().copied(),
                BLACK.stroke_width(1),
            ))?
            .label("price")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(1)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// At most `max` points of `(x, y)` sorted by `x`: the mean of each of `max` equal-count
/// buckets (the plot is a picture; the data is in `report.json` and the driver's output).
pub fn downsample_mean(pts: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if pts.len() <= max || max == 0 {
        return pts.to_vec();
    }
    let per = pts.len().div_ceil(max);
    pts.chunks(per)
        .map(|c| {
            let n = c.len() as f64;
            (c[0].0, c.iter().map(|p| p.1).sum::<f64>() / n)
        })
        .collect()
}

/// Regime samples `(day, price, label)` sorted by time, reduced to at most `max` buckets:
/// each bucket's last price and its most frequent label (ties to the more stressed), then
/// joined into bands of equal label. Returns `(price line, bands)`.
#[allow(clippy::type_complexity)]
pub fn regime_buckets(
    samples: &[(f64, f64, u8)],
    max: usize,
) -> (Vec<(f64, f64)>, Vec<(f64, f64, u8)>) {
    if samples.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let per = samples.len().div_ceil(max.max(1));
    let buckets: Vec<(f64, f64, f64, u8)> = samples
        .chunks(per)
        .map(|c| {
            let mut n = [0usize; 3];
            c.iter().for_each(|s| n[usize::from(s.2.min(2))] += 1);
            let label = (0..3u8).max_by_key(|&l| n[usize::from(l)]).unwrap_or(1);
            (c[0].0, c[c.len() - 1].0, c[c.len() - 1].1, label)
        })
        .collect();
    let line = buckets.iter().map(|b| (b.1, b.2)).collect();
    let mut bands: Vec<(f64, f64, u8)> = Vec::new();
    for (i, b) in buckets.iter().enumerate() {
        let end = buckets.get(i + 1).map_or(b.1, |n| n.0);
        match bands.last_mut() {
            Some(last) if last.2 == b.3 => last.1 = end,
            _ => bands.push((b.0, end, b.3)),
        }
    }
    (line, bands)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_adds_id_and_title() {
        let s = "<svg width=\"1\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect/></svg>";
        let t = tag(s, "fan-static", "Fan <static>");
        assert_eq!(
            t,
            "<svg id=\"fan-static\" class=\"plot\" role=\"img\" aria-label=\"Fan &lt;static&gt;\" \
             width=\"1\" xmlns=\"http://www.w3.org/2000/svg\"><title>Fan &lt;static&gt;</title>\n\
             <rect/></svg>"
        );
    }

    #[test]
    fn regime_bands_join_equal_labels() {
        // Six samples, buckets of two: labels (0,0) (0,2) (2,2) → 0, 2 (tie → stressed), 2.
        let s = [
            (0.0, 1.0, 0),
            (1.0, 1.1, 0),
            (2.0, 1.2, 0),
            (3.0, 1.3, 2),
            (4.0, 1.4, 2),
            (5.0, 1.5, 2),
        ];
        let (line, bands) = regime_buckets(&s, 3);
        assert_eq!(line, vec![(1.0, 1.1), (3.0, 1.3), (5.0, 1.5)]);
        assert_eq!(bands, vec![(0.0, 2.0, 0), (2.0, 5.0, 2)]);
        assert_eq!(
            downsample_mean(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)], 2),
            vec![(0.0, 2.0), (2.0, 5.0)]
        );
    }

    #[test]
    fn charts_draw_headless() {
        let days = [19_000u32, 19_001, 19_002];
        let fan = vec![vec![-0.01, 0.0, 0.01]; 5];
        let svg = fan_chart("t", &days, &fan, (-0.1, 0.1), STATIC_COLOR, (300, 200)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<polygon"), "{svg}");
        let svg = grouped_bars(
            "b",
            &["a", "b"],
            &[("static".into(), vec![1.0, 2.0], STATIC_COLOR)],
            (300, 200),
        )
        .unwrap();
        assert!(
            svg.contains("<text") && svg.contains(">\na\n</text>"),
            "{svg}"
        );
    }
}
