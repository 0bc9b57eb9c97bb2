//! The evaluation report: `report.json` and `report.csv` (every image, every method),
//! `README.md` (mean ± std per metric per method, the best in bold) and `index.html` (per image:
//! LQ | each method | GT side by side with its metrics; plain files, viewable offline).

use super::paired::Paired;
use super::scoring::Metric;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One method's scores on one image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// Image name.
    pub image: String,
    /// Method label.
    pub method: String,
    /// Metric name → value.
    pub metrics: BTreeMap<String, Metric>,
    /// Restoration time in milliseconds (None for precomputed outputs).
    pub time_ms: Option<f64>,
}

/// Mean, std and count of a metric for a method.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Aggregate {
    /// Mean.
    pub mean: f64,
    /// Population std.
    pub std: f64,
    /// Images.
    pub n: usize,
    /// Direction.
    pub higher_is_better: bool,
}

/// Everything the report holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// How the set was made and evaluated (command line, preset, seed, size, kind).
    pub settings: serde_json::Value,
    /// Method labels in column order.
    pub methods: Vec<String>,
    /// Per image and method.
    pub rows: Vec<Row>,
    /// Method → metric → aggregate.
    pub aggregate: BTreeMap<String, BTreeMap<String, Aggregate>>,
    /// Files that could not be evaluated, with why.
    pub skipped: Vec<(String, String)>,
    /// Item name → identity (the unit the paired intervals are computed over).
    #[serde(default)]
    pub identities: BTreeMap<String, String>,
    /// Paired differences against the reference method, over identities.
    #[serde(default)]
    pub paired: Vec<Paired>,
}

/// Aggregates rows per method and metric (time as `time per face (ms)`).
pub fn aggregate(
    rows: &[Row],
    methods: &[String],
) -> BTreeMap<String, BTreeMap<String, Aggregate>> {
    let mut out = BTreeMap::new();
    for m in methods {
        let mut vals: BTreeMap<String, (Vec<f64>, bool)> = BTreeMap::new();
        for r in rows.iter().filter(|r| &r.method == m) {
            for (k, v) in &r.metrics {
                let e = vals
                    .entry(k.clone())
                    .or_insert((Vec::new(), v.higher_is_better));
                e.0.push(v.value);
            }
            if let Some(t) = r.time_ms {
                vals.entry("time per face (ms)".into())
                    .or_insert((Vec::new(), false))
                    .0
                    .push(t);
            }
        }
        let agg = vals
            .into_iter()
            .map(|(k, (v, hib))| {
                let n = v.len();
                let mean = v.iter().sum::<f64>() / n.max(1) as f64;
                let std = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>()
                    / n.max(1) as f64)
                    .sqrt();
                (
                    k,
                    Aggregate {
                        mean,
                        std,
                        n,
                        higher_is_better: hib,
                    },
                )
            })
            .collect();
        out.insert(m.clone(), agg);
    }
    out
}

fn metric_names(report: &Report) -> Vec<String> {
    let mut names: Vec<String> = report
        .aggregate
        .values()
        .flat_map(|m| m.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    // A stable, readable order: fidelity, perception, identity, reward, time.
    let rank = |n: &str| match n {
        n if n.starts_with("PSNR") => 0,
        "SSIM" => 1,
        n if n.starts_with("DTCWT") => 2,
        "NIQE" => 3,
        "BRISQUE" => 4,
        n if n.starts_with("identity") => 5,
        "reward" => 6,
        n if n.starts_with("reward:") => 7,
        _ => 8,
    };
    names.sort_by_key(|n| (rank(n), n.clone()));
    names
}

/// The Markdown table (mean ± std, best per row in bold).
pub fn markdown(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| metric | {} |", report.methods.join(" | "));
    let _ = writeln!(s, "|---|{}", "---:|".repeat(report.methods.len()));
    for name in metric_names(report) {
        let cells: Vec<Option<&Aggregate>> = report
            .methods
            .iter()
            .map(|m| report.aggregate.get(m).and_then(|a| a.get(&name)))
            .collect();
        let best = cells
            .iter()
            .flatten()
            .map(|a| if a.higher_is_better { a.mean } else { -a.mean })
            .fold(f64::NEG_INFINITY, f64::max);
        let arrow = cells
            .iter()
            .flatten()
            .next()
            .map_or("", |a| if a.higher_is_better { " ↑" } else { " ↓" });
        let row: Vec<String> = cells
            .iter()
            .map(|c| match c {
                Some(a) => {
                    let v = format!("{:.4} ± {:.4}", a.mean, a.std);
                    let key = if a.higher_is_better { a.mean } else { -a.mean };
                    if report.methods.len() > 1 && (key - best).abs() < 1e-12 {
                        format!("**{v}**")
                    } else {
                        v
                    }
                }
                None => "–".into(),
            })
            .collect();
        let _ = writeln!(s, "| {name}{arrow} | {} |", row.join(" | "));
    }
    s
}

/// The paired-difference table: one row per metric, one column per compared method, each cell
/// `mean [lo, hi] (better/identities)`; empty when there is no comparison.
pub fn paired_markdown(report: &Report) -> String {
    let mut s = String::new();
    let Some(reference) = report.paired.first().map(|p| p.reference.clone()) else {
        return s;
    };
    let methods: Vec<&String> = report.methods.iter().filter(|m| **m != reference).collect();
    let ids = report.paired.first().map_or(0, |p| p.identities);
    let items = report.paired.first().map_or(0, |p| p.items);
    let _ = writeln!(
        s,
        "Paired difference against `{reference}` (method − {reference}; mean over {ids} identities of each identity's mean over its {items} items in all, 95 % t-interval over identities, identities better):\n"
    );
    let _ = writeln!(
        s,
        "| metric | {} |",
        methods
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(s, "|---|{}", "---:|".repeat(methods.len()));
    for name in metric_names(report) {
        let cells: Vec<String> = methods
            .iter()
            .map(|m| {
                report
                    .paired
                    .iter()
                    .find(|p| &&p.method == m && p.metric == name)
                    .map_or("–".into(), |p| {
                        let mut cell = format!(
                            "{:+.4} [{:+.4}, {:+.4}] ({}/{})",
                            p.mean, p.lo, p.hi, p.better, p.identities
                        );
                        if let Some(sd) = p.seed_sd {
                            cell.push_str(&format!(", {} seeds sd {sd:.4}", p.seeds));
                        }
                        let sure = if p.higher_is_better {
                            p.lo > 0.0
                        } else {
                            p.hi < 0.0
                        };
                        if sure { format!("**{cell}**") } else { cell }
                    })
            })
            .collect();
        if cells.iter().all(|c| c == "–") {
            continue;
        }
        let arrow = report
            .paired
            .iter()
            .find(|p| p.metric == name)
            .map_or("", |p| if p.higher_is_better { " ↑" } else { " ↓" });
        let _ = writeln!(s, "| {name}{arrow} | {} |", cells.join(" | "));
    }
    s.push_str("\nBold: the whole interval is on the better side.\n");
    s
}

/// The last line of an evaluation (`report in DIR (N WHAT, K skipped)`) and its exit code:
/// 1 when inputs were skipped, so that a script notices.
pub fn finish(
    out: &mut dyn std::io::Write,
    dir: &Path,
    count: usize,
    what: &str,
    skipped: usize,
) -> std::io::Result<std::process::ExitCode> {
    writeln!(
        out,
        "report in {} ({count} {what}, {skipped} skipped)",
        dir.display()
    )?;
    Ok(if skipped == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

/// Prints the summary table and the paired table.
pub fn print_tables(report: &Report, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    write!(out, "{}", markdown(report))?;
    write!(out, "\n{}", paired_markdown(report))
}

/// CSV: one line per (image, method), one column per metric.
pub fn csv(report: &Report) -> String {
    let names = metric_names(report);
    let mut s = format!(
        "image,method,{}\n",
        names
            .iter()
            .map(|n| format!("\"{}\"", n.replace('"', "'")))
            .collect::<Vec<_>>()
            .join(",")
    );
    for r in &report.rows {
        let cells: Vec<String> = names
            .iter()
            .map(|n| {
                if n == "time per face (ms)" {
                    r.time_ms.map_or(String::new(), |t| format!("{t:.3}"))
                } else {
                    r.metrics
                        .get(n)
                        .map_or(String::new(), |m| format!("{:.6}", m.value))
                }
            })
            .collect();
        let _ = writeln!(s, "\"{}\",\"{}\",{}", r.image, r.method, cells.join(","));
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The offline HTML page; images are `images/IMAGE__METHOD.png` beside it.
pub fn html(report: &Report, has_gt: bool) -> String {
    let mut s = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>LRPO evaluation report</title>\n<style>\nbody{font-family:sans-serif;margin:20px;color:#222}\ntable{border-collapse:collapse;margin:10px 0}\ntd,th{border:1px solid #ccc;padding:3px 6px;font-size:13px;text-align:right}\nth{background:#f3f3f3}\n.grid{display:flex;gap:6px;flex-wrap:wrap;margin:6px 0 18px}\n.cell{text-align:center;font-size:12px}\n.cell img{width:192px;height:192px;image-rendering:pixelated;display:block;border:1px solid #ddd}\nb{color:#063}\n</style></head><body>\n<h1>LRPO evaluation report</h1>\n",
    );
    if let Some(obj) = report.settings.as_object() {
        s.push_str("<table>");
        for (k, v) in obj {
            let v = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            let _ = write!(
                s,
                "<tr><th>{}</th><td style=\"text-align:left\">{}</td></tr>",
                esc(k),
                esc(&v)
            );
        }
        s.push_str("</table>\n");
    }
    let _ = writeln!(
        s,
        "<h2>Summary (mean ± std)</h2>\n<table><tr><th>metric</th>{}</tr>",
        report
            .methods
            .iter()
            .map(|m| format!("<th>{}</th>", esc(m)))
            .collect::<String>()
    );
    for name in metric_names(report) {
        let cells: Vec<Option<&Aggregate>> = report
            .methods
            .iter()
            .map(|m| report.aggregate.get(m).and_then(|a| a.get(&name)))
            .collect();
        let best = cells
            .iter()
            .flatten()
            .map(|a| if a.higher_is_better { a.mean } else { -a.mean })
            .fold(f64::NEG_INFINITY, f64::max);
        let _ = write!(s, "<tr><th>{}</th>", esc(&name));
        for c in cells {
            match c {
                Some(a) => {
                    let key = if a.higher_is_better { a.mean } else { -a.mean };
                    let v = format!("{:.4} ± {:.4}", a.mean, a.std);
                    let _ = write!(
                        s,
                        "<td>{}</td>",
                        if (key - best).abs() < 1e-12 && report.methods.len() > 1 {
                            format!("<b>{v}</b>")
                        } else {
                            v
                        }
                    );
                }
                None => s.push_str("<td>–</td>"),
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    if !report.paired.is_empty() {
        let _ = writeln!(
            s,
            "<h2>Paired differences over identities</h2>\n<pre>{}</pre>",
            esc(&paired_markdown(report))
        );
    }
    s.push_str("<h2>Images</h2>\n");
    let mut images: Vec<&String> = report.rows.iter().map(|r| &r.image).collect();
    images.dedup();
    for img in images {
        let _ = writeln!(s, "<h3>{}</h3>\n<div class=\"grid\">", esc(img));
        let mut cols = vec![(
            "LQ".to_string(),
            format!("images/{img}__LQ.png"),
            String::new(),
        )];
        for m in &report.methods {
            let row = report
                .rows
                .iter()
                .find(|r| &r.image == img && &r.method == m);
            let info = row
                .map(|r| {
                    r.metrics
                        .iter()
                        .filter(|(k, _)| {
                            matches!(
                                k.as_str(),
                                "PSNR (dB)" | "SSIM" | "NIQE" | "identity distance" | "reward"
                            )
                        })
                        .map(|(k, v)| format!("{k} {:.3}", v.value))
                        .collect::<Vec<_>>()
                        .join("<br>")
                })
                .unwrap_or_default();
            cols.push((
                m.clone(),
                format!("images/{img}__{}.png", file_safe(m)),
                info,
            ));
        }
        if has_gt {
            cols.push((
                "GT".to_string(),
                format!("images/{img}__GT.png"),
                String::new(),
            ));
        }
        for (label, src, info) in cols {
            let _ = writeln!(
                s,
                "<div class=\"cell\"><img src=\"{}\" alt=\"{}\">{}<br>{}</div>",
                esc(&src),
                esc(&label),
                esc(&label),
                info
            );
        }
        s.push_str("</div>\n");
    }
    s.push_str("</body></html>\n");
    s
}

/// A method label made safe for file names.
pub fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes every report file into `dir`.
pub fn write(report: &Report, dir: &Path, has_gt: bool) -> Result<()> {
    lrpo_shared::fsio::write_atomic(
        &dir.join("report.json"),
        serde_json::to_string_pretty(report)?.as_bytes(),
    )?;
    lrpo_shared::fsio::write_atomic(&dir.join("report.csv"), csv(report).as_bytes())?;
    let md = format!(
        "# Evaluation report\n\n{}\n\n{}\n{}",
        report.settings["command"]
            .as_str()
            .map(|c| format!("Command: `{c}`"))
            .unwrap_or_default(),
        markdown(report),
        paired_markdown(report)
    );
    lrpo_shared::fsio::write_atomic(&dir.join("README.md"), md.as_bytes())?;
    lrpo_shared::fsio::write_atomic(&dir.join("index.html"), html(report, has_gt).as_bytes())?;
    Ok(())
}
