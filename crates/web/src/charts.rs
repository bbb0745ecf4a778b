//! Charts drawn on the server as SVG: readable without JavaScript, in
//! the light and the dark theme (colours come from the stylesheet through
//! classes), each with a title for screen readers; the page puts the
//! figures in a table beside each. Every label is escaped.

use std::fmt::Write;

use ferrodesk_app::markdown::escape_html;

/// A series of a line or column chart: its name, its values (one per
/// bucket) and its CSS class (`series-1`, `series-2`).
pub struct Series<'a> {
    pub name: &'a str,
    pub values: &'a [i64],
    pub class: &'a str,
}

const WIDTH: i64 = 480;
const HEIGHT: i64 = 200;
const LEFT: i64 = 40;
const RIGHT: i64 = 8;
const TOP: i64 = 12;
const BOTTOM: i64 = 28;

/// A rounded-up maximum for the value axis.
fn axis_maximum(values: impl Iterator<Item = i64>) -> i64 {
    let highest = values.max().unwrap_or(0).max(1);
    let magnitude = 10_i64.pow(highest.ilog10());
    let steps = [1, 2, 5, 10];
    steps
        .iter()
        .map(|step| step * magnitude)
        .find(|candidate| *candidate >= highest)
        .unwrap_or(highest)
}

/// The opening of a chart: the SVG element with its title and a
/// description of what is drawn.
fn open(id: &str, title: &str, description: &str) -> String {
    format!(
        "<svg class=\"chart-svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape_html(title),
        escape_html(description)
    )
}

/// The value axis (0 and the maximum, with a faint line between) and
/// every few bucket labels along the bottom.
fn axes(out: &mut String, labels: &[String], maximum: i64) {
    let bottom = HEIGHT - BOTTOM;
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\"/>\
         <line class=\"grid\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{}\" y2=\"{TOP}\"/>\
         <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>\
         <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{maximum}</text>",
        WIDTH - RIGHT,
        WIDTH - RIGHT,
        LEFT - 6,
        bottom + 4,
        LEFT - 6,
        TOP + 4,
    );
    let count = labels.len().max(1);
    let every = count.div_ceil(6);
    let plot = WIDTH - LEFT - RIGHT;
    for (index, label) in labels.iter().enumerate().step_by(every) {
        let x = LEFT
            + plot * (2 * i64::try_from(index).unwrap_or(0) + 1)
                / (2 * i64::try_from(count).unwrap_or(1));
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            HEIGHT - 8,
            escape_html(label)
        );
    }
}

/// The opening of a chart over buckets, with its axes: the SVG so far
/// and the value axis's maximum.
fn framed(
    id: &str,
    title: &str,
    kind: &str,
    labels: &[String],
    series: &[Series<'_>],
) -> (String, i64) {
    let maximum = axis_maximum(series.iter().flat_map(|one| one.values.iter().copied()));
    let names: Vec<&str> = series.iter().map(|one| one.name).collect();
    let mut out = open(
        id,
        title,
        &format!(
            "{kind} of {} over {} periods.",
            names.join(" and "),
            labels.len()
        ),
    );
    axes(&mut out, labels, maximum);
    (out, maximum)
}

/// Lines over the buckets, one per series.
pub fn line_chart(id: &str, title: &str, labels: &[String], series: &[Series<'_>]) -> String {
    let (mut out, maximum) = framed(id, title, "A line chart", labels, series);
    let count = i64::try_from(labels.len().max(1)).unwrap_or(1);
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    for one in series {
        let points: Vec<String> = one
            .values
            .iter()
            .enumerate()
            .map(|(index, value)| {
                let x =
                    LEFT + plot_width * (2 * i64::try_from(index).unwrap_or(0) + 1) / (2 * count);
                let y = HEIGHT - BOTTOM - plot_height * value / maximum;
                format!("{x},{y}")
            })
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"line {}\" points=\"{}\"/>",
            one.class,
            points.join(" ")
        );
    }
    out.push_str("</svg>");
    out
}

/// Columns side by side per bucket, one per series.
pub fn column_chart(id: &str, title: &str, labels: &[String], series: &[Series<'_>]) -> String {
    let (mut out, maximum) = framed(id, title, "Columns", labels, series);
    let count = i64::try_from(labels.len().max(1)).unwrap_or(1);
    let slot = (WIDTH - LEFT - RIGHT) * 1_000 / count;
    let per_series = i64::try_from(series.len().max(1)).unwrap_or(1);
    let bar = (slot * 8 / 10 / per_series).max(1);
    let plot_height = HEIGHT - TOP - BOTTOM;
    for (index, _) in labels.iter().enumerate() {
        let index = i64::try_from(index).unwrap_or(0);
        for (number, one) in series.iter().enumerate() {
            let value = one
                .values
                .get(usize::try_from(index).unwrap_or(0))
                .copied()
                .unwrap_or(0);
            let height = plot_height * value / maximum;
            let number = i64::try_from(number).unwrap_or(0);
            let x = LEFT * 1_000 + slot * index + slot / 10 + bar * number;
            let _ = write!(
                out,
                "<rect class=\"column {}\" x=\"{}.{:03}\" y=\"{}\" width=\"{}.{:03}\" height=\"{height}\"/>",
                one.class,
                x / 1_000,
                x % 1_000,
                HEIGHT - BOTTOM - height,
                bar / 1_000,
                bar % 1_000,
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Columns per bucket with the series stacked on one another.
pub fn stacked_column_chart(
    id: &str,
    title: &str,
    labels: &[String],
    series: &[Series<'_>],
) -> String {
    let totals: Vec<i64> = (0..labels.len())
        .map(|index| {
            series
                .iter()
                .map(|one| one.values.get(index).copied().unwrap_or(0).max(0))
                .sum()
        })
        .collect();
    let maximum = axis_maximum(totals.iter().copied());
    let names: Vec<&str> = series.iter().map(|one| one.name).collect();
    let mut out = open(
        id,
        title,
        &format!(
            "Stacked columns of {} over {} groups.",
            names.join(", "),
            labels.len()
        ),
    );
    axes(&mut out, labels, maximum);
    let count = i64::try_from(labels.len().max(1)).unwrap_or(1);
    let slot = (WIDTH - LEFT - RIGHT) * 1_000 / count;
    let bar = (slot * 8 / 10).max(1);
    let plot_height = HEIGHT - TOP - BOTTOM;
    for index in 0..labels.len() {
        let mut base = 0;
        let x = LEFT * 1_000 + slot * i64::try_from(index).unwrap_or(0) + slot / 10;
        for one in series {
            let value = one.values.get(index).copied().unwrap_or(0).max(0);
            let bottom = HEIGHT - BOTTOM - plot_height * base / maximum;
            base += value;
            let top = HEIGHT - BOTTOM - plot_height * base / maximum;
            if bottom > top {
                let _ = write!(
                    out,
                    "<rect class=\"column {}\" x=\"{}.{:03}\" y=\"{top}\" width=\"{}.{:03}\" height=\"{}\"/>",
                    one.class,
                    x / 1_000,
                    x % 1_000,
                    bar / 1_000,
                    bar % 1_000,
                    bottom - top,
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// A pie of shares, one slice per label (with the class of its place,
/// `series-1` …); negative values count as none.
pub fn pie_chart(id: &str, title: &str, labels: &[String], values: &[i64]) -> String {
    let total: i64 = values.iter().map(|value| (*value).max(0)).sum();
    let mut out = format!(
        "<svg class=\"chart-svg pie\" viewBox=\"0 0 200 200\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape_html(title),
        escape_html(&format!(
            "A pie of {} shares totalling {total}.",
            labels.len()
        ))
    );
    if total == 0 {
        out.push_str("<circle class=\"pie-empty\" cx=\"100\" cy=\"100\" r=\"90\"/></svg>");
        return out;
    }
    let mut turned = 0.0_f64;
    for (index, (label, value)) in labels.iter().zip(values).enumerate() {
        let value = (*value).max(0);
        if value == 0 {
            continue;
        }
        let class = series_class(index);
        let share = value as f64 / total as f64;
        let name = escape_html(label);
        if share >= 0.9999 {
            let _ = write!(
                out,
                "<circle class=\"slice {class}\" cx=\"100\" cy=\"100\" r=\"90\"><title>{name}: {value}</title></circle>"
            );
            break;
        }
        let point = |turn: f64| {
            let angle = turn * std::f64::consts::TAU - std::f64::consts::FRAC_PI_2;
            (100.0 + 90.0 * angle.cos(), 100.0 + 90.0 * angle.sin())
        };
        let (x1, y1) = point(turned);
        turned += share;
        let (x2, y2) = point(turned);
        let large = u8::from(share > 0.5);
        let _ = write!(
            out,
            "<path class=\"slice {class}\" d=\"M100,100 L{x1:.2},{y1:.2} A90,90 0 {large} 1 {x2:.2},{y2:.2} Z\"><title>{name}: {value}</title></path>"
        );
    }
    out.push_str("</svg>");
    out
}

/// The colour class of the `index`th series or slice (six, then again).
pub fn series_class(index: usize) -> &'static str {
    const CLASSES: [&str; 6] = [
        "series-1", "series-2", "series-3", "series-4", "series-5", "series-6",
    ];
    CLASSES[index % CLASSES.len()]
}

/// A bar for a table row: its length is the value's share of the
/// largest; decorative, as the row says the number.
pub fn bar(value: i64, largest: i64) -> String {
    let percent = if largest > 0 {
        (value.max(0) * 100 / largest).clamp(0, 100)
    } else {
        0
    };
    format!(
        "<svg class=\"bar-svg\" viewBox=\"0 0 100 8\" preserveAspectRatio=\"none\" aria-hidden=\"true\" focusable=\"false\" \
         xmlns=\"http://www.w3.org/2000/svg\"><rect class=\"bar-track\" x=\"0\" y=\"0\" width=\"100\" height=\"8\"/>\
         <rect class=\"bar-fill\" x=\"0\" y=\"0\" width=\"{percent}\" height=\"8\"/></svg>"
    )
}

/// Weekdays (Monday first) by hours, each cell shaded by its share of
/// the busiest.
pub fn heat_map(id: &str, title: &str, weekdays: &[&str], grid: &[Vec<i64>]) -> String {
    let busiest = grid.iter().flatten().copied().max().unwrap_or(0);
    let total: i64 = grid.iter().flatten().sum();
    let mut out = format!(
        "<svg class=\"chart-svg heat\" viewBox=\"0 0 520 176\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title id=\"{id}-title\">{}</title>\
         <desc id=\"{id}-desc\">{total} tickets by weekday and hour; the darker, the busier.</desc>",
        escape_html(title)
    );
    for (row, name) in weekdays.iter().enumerate().take(grid.len()) {
        let y = 4 + i64::try_from(row).unwrap_or(0) * 22;
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"34\" y=\"{}\" text-anchor=\"end\">{}</text>",
            y + 14,
            escape_html(name)
        );
        for (hour, count) in grid[row].iter().enumerate() {
            let level = if *count == 0 || busiest == 0 {
                0
            } else {
                1 + (count * 4 / busiest).min(3)
            };
            let x = 40 + i64::try_from(hour).unwrap_or(0) * 20;
            let _ = write!(
                out,
                "<rect class=\"cell heat-{level}\" x=\"{x}\" y=\"{y}\" width=\"18\" height=\"20\" rx=\"2\"><title>{} {hour}:00, {count}</title></rect>",
                escape_html(name)
            );
        }
    }
    for hour in (0..24).step_by(3) {
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{}\" y=\"172\" text-anchor=\"middle\">{hour}:00</text>",
            49 + hour * 20
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_the_axis_rounds_up() {
        let labels = vec!["<script>alert(1)</script>".to_owned(), "Dec 2".to_owned()];
        let drawn = line_chart(
            "backlog",
            "Open <tickets>",
            &labels,
            &[Series {
                name: "Open & waiting",
                values: &[3, 7],
                class: "series-1",
            }],
        );
        assert!(
            !drawn.contains("<script>") && drawn.contains("&lt;script&gt;"),
            "{drawn}"
        );
        assert!(drawn.contains("Open &lt;tickets&gt;") && drawn.contains("Open &amp; waiting"));
        assert!(drawn.contains(">10</text>"), "7 rounds up to 10: {drawn}");
        assert_eq!(axis_maximum([0].into_iter()), 1);
        assert_eq!(axis_maximum([130].into_iter()), 200);
        let map = heat_map("heat", "Busiest", &["<b>Mon</b>"], &[vec![0, 2, 4]]);
        assert!(
            map.contains("&lt;b&gt;Mon&lt;/b&gt;")
                && map.contains("heat-4")
                && map.contains("heat-0")
        );
        assert!(bar(5, 10).contains("width=\"50\""));
        let labels = vec!["<script>".to_owned(), "b".to_owned()];
        let pie = pie_chart("pie", "Share <of>", &labels, &[3, 1]);
        assert!(pie.contains("&lt;script&gt;: 3") && !pie.contains("<script>"));
        assert!(
            pie.contains("A90,90 0 1 1"),
            "three quarters is the large arc: {pie}"
        );
        let stacked = stacked_column_chart(
            "stack",
            "Stacked",
            &labels,
            &[
                Series {
                    name: "x",
                    values: &[3, 1],
                    class: "series-1",
                },
                Series {
                    name: "y",
                    values: &[5, 0],
                    class: "series-2",
                },
            ],
        );
        assert!(
            stacked.contains(">10</text>"),
            "3 + 5 rounds up to 10: {stacked}"
        );
        assert_eq!(
            stacked.matches("<rect").count(),
            3,
            "an empty part draws nothing"
        );
    }
}
