//! Ready-made data blocks for document bodies, as Markdown so that every writer (site HTML,
//! Confluence storage, community HTML) gets them from the same event stream: a metrics table
//! (GFM pipe table), an incident list (Markdown list), and a trend chart (inline SVG in an HTML
//! block `<figure class="kb-chart">`, self-contained: no script, no external references). Every
//! value from data is escaped with [`escape_markup`], pipes and newlines included, and links point
//! at content paths (`/playbooks/x.md`) that Markdown preparation resolves like written links.
//!
//! Tables are made for the site's 50rem text column: short column names, the full name in an
//! `<abbr title>` (Confluence and the community keep the short name as text). Chart elements
//! carry classes that the site's stylesheet colours from its theme variables (dark mode
//! included); their light `fill`/`stroke` attributes are what a rasterised chart (Confluence,
//! the community) and a page without the stylesheet show.

use std::fmt::Write;

use super::data_functions::{
    self, Args, DAY, DataContext, IncidentQuery, MetricQuery, date_of, error_code_summaries,
    format_number, format_percent, partner_arg,
};
use crate::data::contract::Direction;
use crate::text::escape_markup as esc;

pub type Render = fn(&DataContext, &Args) -> tera::Result<String>;

/// Every partial, by function name.
pub const ALL: [(&str, Render); 5] = [
    ("metrics_table", metrics_table),
    ("open_cases", open_cases),
    ("incident_list", incident_list),
    ("trend_chart", trend_chart),
    ("error_code_table", error_code_table),
];

/// A Markdown link to a content path; the text is escaped, the path percent-encoded.
fn link(text: &str, path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_') {
            encoded.push(b as char);
        } else {
            let _ = write!(encoded, "%{b:02X}");
        }
    }
    format!("[{}](<{encoded}>)", esc(text))
}

/// Blocks start and end with a blank line, so they stand alone wherever a template puts them.
fn block(body: String) -> String {
    format!("\n\n{}\n\n", body.trim_end())
}

/// What a partner-facing page shows instead of data while a source is stale.
pub fn withheld_notice(context: &DataContext) -> String {
    let as_of = context
        .data
        .as_of()
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    block(format!(
        "> [!NOTE]\n> Live figures are not shown: the latest data could not be refreshed (last good data as of {}), \
         and partner pages are never built from stale data. They return with the next successful data pull.",
        esc(&as_of)
    ))
}

/// The whole days a query covers, in words: `2026-10-21 to 2026-11-19 (30 days)`.
fn period(query: &MetricQuery) -> String {
    match query.covered_days() {
        (Some(first), Some(last)) if last < first => format!(
            "No whole day between {} and {}",
            date_of(query.from),
            date_of(query.to)
        ),
        (Some(first), Some(last)) => {
            let days = (last - first) / DAY + 1;
            let unit = if days == 1 { "day" } else { "days" };
            format!("{} to {} ({days} {unit})", date_of(first), date_of(last))
        }
        (Some(first), None) => format!("From {}", date_of(first)),
        (None, Some(last)) => format!("Up to {}", date_of(last)),
        (None, None) => "All days in the snapshot".to_string(),
    }
}

/// A short column name with its full name as a tooltip.
fn abbr(short: &str, full: &str) -> String {
    format!("<abbr title=\"{full}\">{short}</abbr>")
}

/// The rate columns of a metrics table: short name, full name.
const RATE_COLUMNS: [(&str, &str); 5] = [
    ("Rejected", "Rejection rate"),
    ("Acked", "Ack rate"),
    ("Delivered", "Delivery reliability"),
    ("On time", "On-time rate"),
    ("SLA", "SLA attainment"),
];

/// `metrics_table(partner=, doc_type=, direction=, days=30, by="doc_type,direction")`.
fn metrics_table(context: &DataContext, args: &Args) -> tera::Result<String> {
    let data = &context.data;
    let query = MetricQuery::from_args(args, data, Some(30), "doc_type,direction")?;
    let groups = query.run(data)?;
    let mut head: Vec<String> = Vec::new();
    if query.by_partner {
        head.push("Partner".into());
    }
    if query.by_doc_type {
        head.push("Document".into());
    }
    if query.by_direction {
        head.push("Direction".into());
    }
    if query.by_day {
        head.push("Day".into());
    }
    head.push(abbr("Docs", "Documents"));
    head.extend(RATE_COLUMNS.iter().map(|(short, full)| abbr(short, full)));
    let caption = format!("_{}._", esc(&period(&query)));
    let mut md = format!(
        "{caption}\n\n| {} |\n|{}\n",
        head.join(" | "),
        head.iter()
            .enumerate()
            .map(|(i, _)| if i < head.len() - 6 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for g in &groups {
        let mut cells: Vec<String> = Vec::new();
        if let Some(partner) = g.partner {
            let name = data.partner(partner).map_or(partner, |p| p.name.as_str());
            cells.push(match context.partner_page(partner) {
                Some(page) => link(name, &page),
                None => esc(name),
            });
        }
        if let Some(d) = g.doc_type {
            let (code, name) = &data.doc_types[d as usize];
            cells.push(format!("{} {}", esc(code), esc(name)));
        }
        if let Some(direction) = g.direction {
            cells.push(direction.name().to_string());
        }
        if let Some(day) = g.day {
            cells.push(esc(&date_of(day)));
        }
        let r = g.counts.rates();
        cells.push(format_number(g.counts.documents as f64, 0));
        for rate in [
            r.rejection_rate,
            r.ack_rate,
            r.delivery_reliability,
            r.on_time_rate,
            r.sla_attainment,
        ] {
            cells.push(format_percent(rate, 1));
        }
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    if groups.is_empty() {
        return Ok(block(format!("{caption}\n\n_No metrics match._")));
    }
    Ok(block(md))
}

/// `incident_list(partner=, status=, doc_type=, related=, error_code=, severity=, limit=, detail=false)`.
fn incident_list(context: &DataContext, args: &Args) -> tera::Result<String> {
    let query = IncidentQuery::from_args(args)?;
    let detail = args.flag("detail")?;
    let incidents = query.run(&context.data);
    if incidents.is_empty() {
        return Ok(block("_No incidents match._".into()));
    }
    let mut md = String::new();
    for i in incidents {
        let code = match context.error_code_page(&i.error.code) {
            Some(page) => link(&i.error.code, &page),
            None => esc(&i.error.code),
        };
        let partner = match context.partner_page(&i.partner_id) {
            Some(page) => link(&i.partner_id, &page),
            None => esc(&i.partner_id),
        };
        let severity = serde_json::to_value(i.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = write!(
            md,
            "- **{}** · {} · {} {} · {} · {} — {}: {} (opened {})",
            esc(&i.id),
            esc(i.status.label()),
            esc(&i.doc_type),
            i.direction.name(),
            partner,
            esc(&severity),
            code,
            esc(&i.error.message),
            esc(&i.opened_at.format("%Y-%m-%d %H:%M UTC").to_string()),
        );
        if detail {
            if let Some(cause) = &i.root_cause {
                let _ = write!(md, "\n  - Root cause: {}", esc(&cause.summary));
            }
            if let Some(resolution) = &i.resolution {
                let _ = write!(md, "\n  - Resolution: {}", esc(&resolution.summary));
            }
        }
        let related: Vec<String> = i
            .related_kb
            .iter()
            .map(|id| match context.doc(id) {
                Some((page, title)) => link(title, &page),
                None => esc(id),
            })
            .collect();
        if !related.is_empty() {
            let _ = write!(md, "\n  - See: {}", related.join(", "));
        }
        md.push('\n');
    }
    Ok(block(md))
}

/// `open_cases(partner=)`: the partner's open exception cases from the CRM, one line each.
fn open_cases(context: &DataContext, args: &Args) -> tera::Result<String> {
    let partner = partner_arg(args)?;
    let cases = data_functions::open_cases(context, &partner, None);
    if cases.is_empty() {
        return Ok(block("_No open cases._".into()));
    }
    let mut md = String::new();
    for case in cases {
        let opened = case
            .opened
            .as_deref()
            .map(|t| t.chars().take(10).collect::<String>());
        let _ = writeln!(
            md,
            "- **{}** · {} · {} — {}{}",
            esc(&case.number),
            esc(&case.status),
            esc(case.priority.as_deref().unwrap_or("no priority")),
            esc(&case.subject),
            opened
                .map(|d| format!(" (opened {})", esc(&d)))
                .unwrap_or_default(),
        );
    }
    Ok(block(md))
}

/// `error_code_table()`: every error code with its incident counts, linked to its page.
fn error_code_table(context: &DataContext, _: &Args) -> tera::Result<String> {
    let summaries = error_code_summaries(context);
    if summaries.is_empty() {
        return Ok(block("_No incidents in the snapshot._".into()));
    }
    let mut md = format!(
        "| Error code | Category | Incidents | {} | Latest |\n|---|---|---:|---:|---|\n",
        abbr(
            "Unresolved",
            "Not yet resolved: open, investigating or awaiting the partner"
        )
    );
    for s in summaries {
        let text = |key: &str| s[key].as_str().unwrap_or("").to_string();
        let code = match s["page"].as_str() {
            Some(page) => link(&text("code"), page),
            None => esc(&text("code")),
        };
        let _ = writeln!(
            md,
            "| {code} | {} | {} | {} | {} |",
            esc(&text("category")),
            s["incidents"],
            s["live"],
            esc(&text("latest"))
        );
    }
    Ok(block(md))
}

const CHART_W: f64 = 640.0;
const CHART_H: f64 = 220.0;
const PLOT_LEFT: f64 = 56.0;
const PLOT_RIGHT: f64 = 624.0;
const PLOT_TOP: f64 = 36.0;
const PLOT_BOTTOM: f64 = 188.0;

/// `trend_chart(partner=, doc_type=, direction=, days=30, metric="rejection_rate", title=)`: the
/// daily rate as an inline SVG line chart; days whose rate is n/a leave a gap.
fn trend_chart(context: &DataContext, args: &Args) -> tera::Result<String> {
    let data = &context.data;
    let metric = args
        .string("metric")?
        .unwrap_or_else(|| "rejection_rate".into());
    if !crate::data::metrics::RATE_NAMES.contains(&metric.as_str()) {
        return Err(tera::Error::msg(format!(
            "`trend_chart`: `metric` is one of {}, not `{metric}`",
            crate::data::metrics::RATE_NAMES.join(", ")
        )));
    }
    let mut query = MetricQuery::from_args(args, data, Some(30), "day")?;
    query.by_partner = false;
    query.by_doc_type = false;
    query.by_direction = false;
    query.by_day = true;
    let groups = query.run(data)?;
    let rates: std::collections::BTreeMap<i64, Option<f64>> = groups
        .iter()
        .map(|g| {
            (
                g.day.unwrap_or(g.start),
                g.counts.rates().get(&metric).flatten(),
            )
        })
        .collect();
    // One point per day of the stated period (open ends: the data's first or last day); a day
    // without rows is a gap like an n/a day.
    let (first, last) = query.covered_days();
    let first = first.or(rates.keys().next().copied());
    let last = last.or(rates.keys().next_back().copied());
    let days: Vec<(i64, Option<f64>)> = match (first, last) {
        (Some(first), Some(last)) => (0..=(last - first) / DAY)
            .map(|i| first + i * DAY)
            .map(|day| (day, rates.get(&day).copied().flatten()))
            .collect(),
        _ => Vec::new(),
    };
    let label = metric.replace('_', " ");
    let subject = [
        args.list("partner")?.map(|ids| {
            ids.iter()
                .map(|p| {
                    data.partner(p)
                        .map_or(p.clone(), |found| found.name.clone())
                })
                .collect::<Vec<_>>()
                .join(", ")
        }),
        args.string("doc_type")?,
        args.string("direction")?
            .filter(|d| d == Direction::Inbound.name() || d == Direction::Outbound.name()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let title = args.string("title")?.unwrap_or_else(|| {
        let what = format!("Daily {label}");
        if subject.is_empty() {
            what
        } else {
            format!("{what}: {subject}")
        }
    });
    let caption = format!(
        "{}. Gaps are days with nothing to measure (n/a).",
        period(&query)
    );
    Ok(block(svg_chart(&title, &days, &caption)))
}

/// `days`: one `(day start, rate)` per day, in order. `caption` is plain text.
fn svg_chart(title: &str, days: &[(i64, Option<f64>)], caption: &str) -> String {
    let max = days.iter().filter_map(|p| p.1).fold(0.0_f64, f64::max);
    let top = nice_ceiling(max);
    let n = days.len().max(2) as f64 - 1.0;
    let x = |i: usize| PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * i as f64 / n;
    let y = |v: f64| PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * (v / top);
    let title = esc(title);
    let mut svg = format!(
        "<figure class=\"kb-chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {CHART_W} {CHART_H}\" width=\"{CHART_W}\" height=\"{CHART_H}\" role=\"img\" aria-label=\"{title}\" font-family=\"sans-serif\" font-size=\"11\"><title>{title}</title>\
         <rect class=\"kc-bg\" x=\"0\" y=\"0\" width=\"{CHART_W}\" height=\"{CHART_H}\" fill=\"#ffffff\"/>\
         <text class=\"kc-title\" x=\"{PLOT_LEFT}\" y=\"20\" font-size=\"13\" font-weight=\"bold\" fill=\"#1f2937\">{title}</text>"
    );
    for step in 0..=4 {
        let value = top * f64::from(step) / 4.0;
        let gy = y(value);
        let _ = write!(
            svg,
            "<line class=\"kc-grid\" x1=\"{PLOT_LEFT}\" y1=\"{gy:.1}\" x2=\"{PLOT_RIGHT}\" y2=\"{gy:.1}\" stroke=\"#e5e7eb\"/><text class=\"kc-axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#4b5563\">{}</text>",
            PLOT_LEFT - 6.0,
            gy + 4.0,
            esc(&format_percent(Some(value), if top < 0.05 { 1 } else { 0 }))
        );
    }
    // One polyline per run of days with a rate; n/a days break the line.
    let mut run: Vec<String> = Vec::new();
    let mut lines = String::new();
    let mut dots = String::new();
    for (i, (_, rate)) in days.iter().enumerate() {
        match rate {
            Some(v) => {
                run.push(format!("{:.1},{:.1}", x(i), y(*v)));
                let _ = write!(
                    dots,
                    "<circle class=\"kc-dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#2563eb\"/>",
                    x(i),
                    y(*v)
                );
            }
            None => flush_run(&mut run, &mut lines),
        }
    }
    flush_run(&mut run, &mut lines);
    svg.push_str(&lines);
    svg.push_str(&dots);
    if days.iter().all(|p| p.1.is_none()) {
        let _ = write!(
            svg,
            "<text class=\"kc-axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#6b7280\">n/a: nothing to measure in this period</text>",
            (PLOT_LEFT + PLOT_RIGHT) / 2.0,
            (PLOT_TOP + PLOT_BOTTOM) / 2.0
        );
    }
    for (i, anchor) in axis_labels(days.len()) {
        let _ = write!(
            svg,
            "<line class=\"kc-grid\" x1=\"{x:.1}\" y1=\"{PLOT_BOTTOM}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#e5e7eb\"/><text class=\"kc-axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#4b5563\">{}</text>",
            PLOT_BOTTOM + 4.0,
            PLOT_BOTTOM + 18.0,
            esc(&date_of(days[i].0)),
            x = x(i),
        );
    }
    let _ = write!(
        svg,
        "</svg><figcaption>{}</figcaption></figure>",
        esc(caption)
    );
    svg
}

/// Which days of `count` get a date under the x axis, and how each is anchored: the first and
/// the last always, and three evenly spaced between them (fewer on short periods).
fn axis_labels(count: usize) -> Vec<(usize, &'static str)> {
    let Some(last) = count.checked_sub(1) else {
        return Vec::new();
    };
    let mut labels: Vec<(usize, &'static str)> = Vec::new();
    for quarter in 0..=4 {
        let i = (last * quarter + 2) / 4;
        if labels.last().is_some_and(|&(previous, _)| previous == i) {
            continue;
        }
        let anchor = match i {
            0 => "start",
            i if i == last => "end",
            _ => "middle",
        };
        labels.push((i, anchor));
    }
    labels
}

fn flush_run(run: &mut Vec<String>, out: &mut String) {
    match run.len() {
        0 => {}
        1 => run.clear(),
        _ => {
            let _ = write!(
                out,
                "<polyline class=\"kc-line\" points=\"{}\" fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2\"/>",
                run.join(" ")
            );
            run.clear();
        }
    }
}

/// A round upper bound for the y axis: 1%, 2%, 5%, 10%, 20%, 50%, 100%.
fn nice_ceiling(max: f64) -> f64 {
    [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
        .into_iter()
        .find(|&c| max <= c)
        .unwrap_or(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_escape_text_and_encode_paths() {
        assert_eq!(link("a|b", "/x y.md"), "[a&#124;b](</x%20y.md>)");
    }

    #[test]
    fn chart_is_one_html_block_without_scripts() {
        let svg = svg_chart(
            "<script>x</script>\n\nT",
            &[
                (0, Some(0.01)),
                (86_400, None),
                (172_800, Some(0.03)),
                (259_200, Some(0.02)),
            ],
            "c.",
        );
        assert!(svg.starts_with("<figure class=\"kb-chart\"><svg"), "{svg}");
        assert!(
            !svg.contains('\n') && !svg.contains("<script") && !svg.contains("href"),
            "{svg}"
        );
        assert_eq!(
            svg.matches("<polyline").count(),
            1,
            "the n/a day breaks the line; a lone point has only its dot"
        );
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(nice_ceiling(0.031), 0.05);
    }

    #[test]
    fn the_axis_names_the_first_and_last_day_and_a_few_between() {
        assert_eq!(
            axis_labels(30),
            [
                (0, "start"),
                (7, "middle"),
                (15, "middle"),
                (22, "middle"),
                (29, "end")
            ]
        );
        assert_eq!(axis_labels(3), [(0, "start"), (1, "middle"), (2, "end")]);
        assert_eq!(axis_labels(2), [(0, "start"), (1, "end")]);
        assert_eq!(axis_labels(1), [(0, "start")]);
        assert!(axis_labels(0).is_empty());
    }
}
