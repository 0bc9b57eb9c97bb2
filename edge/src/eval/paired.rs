//! Paired differences over identities: the frozen protocol's statistic.
//!
//! For a method M, a reference R (e.g. `bicubic`) and a metric, each test item gives the
//! difference `M − R` on the same LQ. Items of one identity (its photos × seeded degradations)
//! are averaged first, so that a person with many photos counts once; the reported value is the
//! mean of the per-identity differences with a two-sided 95 % Student-t interval over
//! identities (`mean ± t₀.₉₇₅(n−1)·sd/√n`), plus how many identities M is better on.
//!
//! Several training seeds of one recipe are labelled `NAME#SEED` (e.g. `lrpo#0`, `lrpo#1`):
//! besides each seed's own row, the group `NAME` gets a row whose per-identity difference is
//! averaged over the seeds too (the interval is still over identities), with the spread of the
//! seeds' means (`seed_sd`) beside it.

use super::report::Row;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One paired comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// The method compared.
    pub method: String,
    /// The reference it is compared with.
    pub reference: String,
    /// Metric name.
    pub metric: String,
    /// Whether larger is better for this metric.
    pub higher_is_better: bool,
    /// Mean over identities of the per-identity mean difference `method − reference`.
    pub mean: f64,
    /// Lower end of the 95 % interval (equal to `mean` when there is one identity).
    pub lo: f64,
    /// Upper end of the 95 % interval.
    pub hi: f64,
    /// Identities.
    pub identities: usize,
    /// Items (identity × degradation pairs).
    pub items: usize,
    /// Identities on which the method is better than the reference.
    pub better: usize,
    /// Seeds pooled in this row (1 for a single model).
    #[serde(default = "one")]
    pub seeds: usize,
    /// Standard deviation of the seeds' mean differences (pooled rows only).
    #[serde(default)]
    pub seed_sd: Option<f64>,
}

fn one() -> usize {
    1
}

/// The seed group of a method label: `NAME` for `NAME#SEED`, else None.
pub fn seed_group(label: &str) -> Option<&str> {
    label.rsplit_once('#').map(|(g, _)| g)
}

/// Two-sided 95 % Student-t quantile `t₀.₉₇₅(df)` (table to df 30, then the normal's 1.960
/// with a 2.4/df correction, exact to 3 decimals).
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        _ => 1.960 + 2.4 / df as f64,
    }
}

/// Mean and 95 % interval of values (the interval collapses to the mean for one value).
pub fn mean_ci(v: &[f64]) -> (f64, f64, f64) {
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, mean, mean);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t975(n - 1) * (var / n as f64).sqrt();
    (mean, mean - half, mean + half)
}

/// Paired differences of every method other than `reference`, for every metric both have.
/// `identity` maps an item name to its identity (items missing from it are their own identity).
pub fn paired(
    rows: &[Row],
    methods: &[String],
    reference: &str,
    identity: &BTreeMap<String, String>,
) -> Vec<Paired> {
    let by_item: BTreeMap<(&str, &str), &Row> = rows
        .iter()
        .map(|r| ((r.image.as_str(), r.method.as_str()), r))
        .collect();
    // Per method, metric and identity: the differences of its items.
    type PerId<'a> = BTreeMap<&'a str, Vec<f64>>;
    let diffs = |m: &str, metric: &str| -> PerId<'_> {
        let mut per_id: PerId = BTreeMap::new();
        for r in rows.iter().filter(|r| r.method == m) {
            let Some(base) = by_item.get(&(r.image.as_str(), reference)) else {
                continue;
            };
            let (Some(a), Some(b)) = (r.metrics.get(metric), base.metrics.get(metric)) else {
                continue;
            };
            let id = identity
                .get(&r.image)
                .map(String::as_str)
                .unwrap_or(r.image.as_str());
            per_id.entry(id).or_default().push(a.value - b.value);
        }
        per_id
    };
    let summarise = |method: String, metric: &str, hib: bool, per_id: &PerId| -> Paired {
        let items = per_id.values().map(Vec::len).sum();
        let means: Vec<f64> = per_id
            .values()
            .map(|v| v.iter().sum::<f64>() / v.len() as f64)
            .collect();
        let better = means
            .iter()
            .filter(|&&d| if hib { d > 0.0 } else { d < 0.0 })
            .count();
        let (mean, lo, hi) = mean_ci(&means);
        Paired {
            method,
            reference: reference.to_string(),
            metric: metric.to_string(),
            higher_is_better: hib,
            mean,
            lo,
            hi,
            identities: means.len(),
            items,
            better,
            seeds: 1,
            seed_sd: None,
        }
    };
    let metrics_of = |m: &str| -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = rows
            .iter()
            .filter(|r| r.method == m)
            .flat_map(|r| {
                r.metrics
                    .iter()
                    .map(|(k, v)| (k.clone(), v.higher_is_better))
            })
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let mut out = Vec::new();
    let compared: Vec<&String> = methods.iter().filter(|m| m.as_str() != reference).collect();
    for m in &compared {
        for (metric, hib) in metrics_of(m) {
            let per_id = diffs(m, &metric);
            if !per_id.is_empty() {
                out.push(summarise((*m).clone(), &metric, hib, &per_id));
            }
        }
    }
    // Seed groups: per identity, the mean over every item of every seed.
    let mut groups: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for m in &compared {
        if let Some(g) = seed_group(m) {
            groups.entry(g).or_default().push(m);
        }
    }
    for (g, members) in groups.into_iter().filter(|(_, v)| v.len() > 1) {
        for (metric, hib) in metrics_of(members[0]) {
            let mut pooled: PerId = BTreeMap::new();
            let mut seed_means = Vec::new();
            for m in &members {
                let per_id = diffs(m, &metric);
                let s = summarise((*m).clone(), &metric, hib, &per_id);
                if s.identities > 0 {
                    seed_means.push(s.mean);
                }
                for (id, v) in per_id {
                    pooled.entry(id).or_default().extend(v);
                }
            }
            if pooled.is_empty() {
                continue;
            }
            let mut p = summarise(g.to_string(), &metric, hib, &pooled);
            p.seeds = members.len();
            let n = seed_means.len() as f64;
            let mu = seed_means.iter().sum::<f64>() / n;
            p.seed_sd = Some(
                (seed_means.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (n - 1.0).max(1.0))
                    .sqrt(),
            );
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::scoring::Metric;

    fn row(image: &str, method: &str, v: f64) -> Row {
        Row {
            image: image.into(),
            method: method.into(),
            metrics: [(
                "PSNR (dB)".to_string(),
                Metric {
                    value: v,
                    higher_is_better: true,
                },
            )]
            .into_iter()
            .collect(),
            time_ms: None,
        }
    }

    #[test]
    fn seeds_of_one_recipe_are_pooled_per_identity() {
        // Two seeds: identity a differences +1 (seed 0) and +3 (seed 1); identity b +2 and +2.
        let rows = vec![
            row("a1", "ref", 0.0),
            row("a1", "m#0", 1.0),
            row("a1", "m#1", 3.0),
            row("b1", "ref", 0.0),
            row("b1", "m#0", 2.0),
            row("b1", "m#1", 2.0),
        ];
        let methods: Vec<String> = ["ref", "m#0", "m#1"].map(String::from).to_vec();
        let p = paired(&rows, &methods, "ref", &BTreeMap::new());
        let g = p.iter().find(|p| p.method == "m").unwrap();
        // Per identity over seeds: a 2, b 2; seeds' means 1.5 and 2.5 (sd √0.5).
        assert_eq!((g.seeds, g.identities, g.items), (2, 2, 4));
        assert!((g.mean - 2.0).abs() < 1e-12 && (g.hi - g.lo).abs() < 1e-12);
        assert!((g.seed_sd.unwrap() - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(p.iter().filter(|p| p.method.starts_with("m#")).count(), 2);
        assert_eq!(seed_group("lrpo#3"), Some("lrpo"));
        assert_eq!(seed_group("lrpo"), None);
    }

    #[test]
    fn t_quantiles_match_the_table_values() {
        // scipy.stats.t.ppf(0.975, df) for df = 1, 5, 29, 60, 120.
        assert_eq!(t975(1), 12.706);
        assert_eq!(t975(5), 2.571);
        assert_eq!(t975(29), 2.045);
        assert!((t975(60) - 2.000).abs() < 1e-3);
        assert!((t975(120) - 1.980).abs() < 1e-3);
    }

    #[test]
    fn identities_are_averaged_before_the_interval() {
        // Identity a: two items, differences +1 and +3 (mean 2); identity b: one item, +4.
        let rows = vec![
            row("a1", "ref", 10.0),
            row("a1", "m", 11.0),
            row("a2", "ref", 10.0),
            row("a2", "m", 13.0),
            row("b1", "ref", 20.0),
            row("b1", "m", 24.0),
        ];
        let ids: BTreeMap<String, String> = [("a1", "a"), ("a2", "a"), ("b1", "b")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let p = paired(&rows, &["ref".into(), "m".into()], "ref", &ids);
        assert_eq!(p.len(), 1);
        let p = &p[0];
        assert_eq!((p.identities, p.items, p.better), (2, 3, 2));
        // Per-identity means 2 and 4: mean 3, sd √2, half-width 12.706·√2/√2 = 12.706.
        assert!((p.mean - 3.0).abs() < 1e-12);
        assert!((p.hi - p.mean - 12.706).abs() < 1e-9);
        assert!((p.mean - p.lo - 12.706).abs() < 1e-9);
    }
}
