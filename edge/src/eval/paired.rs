//! Paired differences over identities: the frozen protocol's statistic.
//!
//! For a method M, a reference R (e.g. `bicubic`) and a metric, each test item gives the
//! difference `M − R` on the same LQ. Items of one identity (its photos × seeded degradations)
//! are averaged first, so that a person with many photos counts once; the reported value is the
//! mean of the per-identity differences with a two-sided 95 % Student-t interval over
//! identities (`mean ± t₀.₉₇₅(n−1)·sd/√n`), plus how many identities M is better on.

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
    let mut out = Vec::new();
    for m in methods.iter().filter(|m| m.as_str() != reference) {
        let mut metrics: Vec<(&String, bool)> = rows
            .iter()
            .filter(|r| &r.method == m)
            .flat_map(|r| r.metrics.iter().map(|(k, v)| (k, v.higher_is_better)))
            .collect();
        metrics.sort();
        metrics.dedup();
        for (metric, hib) in metrics {
            let mut per_id: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
            for r in rows.iter().filter(|r| &r.method == m) {
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
            if per_id.is_empty() {
                continue;
            }
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
            out.push(Paired {
                method: m.clone(),
                reference: reference.to_string(),
                metric: metric.clone(),
                higher_is_better: hib,
                mean,
                lo,
                hi,
                identities: means.len(),
                items,
                better,
            });
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
