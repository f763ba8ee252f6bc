//! Bar charts as inline SVG, drawn on the server: no chart library, nothing to load. Each chart
//! has a text title and its figures are also given in a table on the page.
use maud::{Markup, PreEscaped, html};

/// One series of a chart: a name (shown in the legend), a fill colour, one value per label.
pub struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub values: Vec<f64>,
}

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 22.0;

fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if v >= 10.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.6}")
    }
}

/// Bars for each label; later series are drawn narrower in front of earlier ones (e.g. errors
/// in front of requests).
pub fn bars(title: &str, labels: &[String], series: &[Series<'_>]) -> Markup {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0_f64, f64::max);
    // An empty chart still has a scale; small figures (cents) keep theirs.
    let max = if max > 0.0 { max } else { 1.0 };
    let n = labels.len().max(1) as f64;
    let slot = (WIDTH - LEFT - 8.0) / n;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let every = ((labels.len() as f64 / 12.0).ceil() as usize).max(1);
    let mut svg = String::new();
    for (si, s) in series.iter().enumerate() {
        let shrink = 1.0 - 0.35 * si as f64;
        for (i, v) in s.values.iter().enumerate() {
            let h = (v / max) * plot_h;
            let w = (slot * 0.8 * shrink).max(1.0);
            let x = LEFT + i as f64 * slot + (slot - w) / 2.0;
            let y = TOP + plot_h - h;
            let label = labels.get(i).map(String::as_str).unwrap_or("");
            svg.push_str(&format!(
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{}"><title>{}: {} {}</title></rect>"#,
                s.colour,
                escape(label),
                short(*v),
                escape(s.name),
            ));
        }
    }
    for (i, l) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let x = LEFT + i as f64 * slot + slot / 2.0;
        svg.push_str(&format!(
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            HEIGHT - 8.0,
            escape(l)
        ));
    }
    for frac in [0.0, 0.5, 1.0] {
        let y = TOP + plot_h * (1.0 - frac);
        svg.push_str(&format!(
            r##"<line x1="{LEFT}" x2="{WIDTH}" y1="{y:.1}" y2="{y:.1}" stroke="#d8dde4"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 4.0,
            y + 4.0,
            short(max * frac)
        ));
    }
    let legend: Vec<String> = series.iter().map(|s| s.name.to_owned()).collect();
    html! {
        figure.chart-figure {
            svg.chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(format!("{title} ({})", legend.join(", "))) {
                title { (title) }
                (PreEscaped(svg))
            }
            figcaption.hint {
                (title) ": "
                @for (i, s) in series.iter().enumerate() {
                    @if i > 0 { ", " }
                    span style=(format!("color:{}", s.colour)) { "■ " } (s.name)
                }
            }
        }
    }
}

/// Text for inside SVG markup.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}
