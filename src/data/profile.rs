//! What the training data looked like, column by column: ranges and
//! quantiles of numeric features, counts of categories. Saved in a package's
//! metadata, so serving can flag values far outside what the model learned
//! from, and monitoring has a reference without the training file.

use super::schema::FeatureKind;
use super::Dataset;
use serde::{Deserialize, Serialize};

/// The quantiles recorded for every numeric feature.
pub const PROFILE_QUANTILES: [f64; 9] = [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantile {
    pub q: f64,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCount {
    pub value: String,
    pub rows: u64,
}

/// One training column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureProfile {
    Numeric {
        name: String,
        missing: u64,
        /// `None` when every cell is missing.
        min: Option<f64>,
        max: Option<f64>,
        mean: Option<f64>,
        /// Population standard deviation.
        sd: Option<f64>,
        /// Linear interpolation between order statistics (NumPy's default).
        quantiles: Vec<Quantile>,
    },
    Categorical {
        name: String,
        missing: u64,
        /// Every category seen, most frequent first (ties by text).
        categories: Vec<CategoryCount>,
    },
}

impl FeatureProfile {
    pub fn name(&self) -> &str {
        match self {
            FeatureProfile::Numeric { name, .. } | FeatureProfile::Categorical { name, .. } => name,
        }
    }

    /// The training range `[min, max]` of a numeric feature.
    pub fn range(&self) -> Option<(f64, f64)> {
        match self {
            FeatureProfile::Numeric {
                min: Some(lo),
                max: Some(hi),
                ..
            } => Some((*lo, *hi)),
            _ => None,
        }
    }
}

/// Profiles every feature of `data`.
pub fn profile(data: &Dataset) -> Vec<FeatureProfile> {
    let n = data.n_rows();
    (0..data.n_features())
        .map(|j| {
            let name = data.feature_names[j].clone();
            let column = (0..n).map(|i| data.row(i)[j]);
            let missing = column.clone().filter(|v| v.is_nan()).count() as u64;
            match data.kinds[j] {
                FeatureKind::Numeric => {
                    let mut v: Vec<f64> = column.filter(|v| !v.is_nan()).collect();
                    v.sort_by(f64::total_cmp);
                    if v.is_empty() {
                        return FeatureProfile::Numeric {
                            name,
                            missing,
                            min: None,
                            max: None,
                            mean: None,
                            sd: None,
                            quantiles: Vec::new(),
                        };
                    }
                    let mean = v.iter().sum::<f64>() / v.len() as f64;
                    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
                    FeatureProfile::Numeric {
                        name,
                        missing,
                        min: v.first().copied(),
                        max: v.last().copied(),
                        mean: Some(mean),
                        sd: Some(var.sqrt()),
                        quantiles: PROFILE_QUANTILES
                            .iter()
                            .map(|&q| Quantile {
                                q,
                                value: quantile_sorted(&v, q),
                            })
                            .collect(),
                    }
                }
                FeatureKind::Categorical => {
                    let mut counts = vec![0u64; data.levels[j].len()];
                    for c in column.filter(|v| !v.is_nan()) {
                        counts[c as usize] += 1;
                    }
                    let mut categories: Vec<CategoryCount> = data.levels[j]
                        .iter()
                        .zip(counts)
                        .filter(|&(_, rows)| rows > 0)
                        .map(|(value, rows)| CategoryCount {
                            value: value.clone(),
                            rows,
                        })
                        .collect();
                    categories.sort_by(|a, b| b.rows.cmp(&a.rows).then(a.value.cmp(&b.value)));
                    FeatureProfile::Categorical {
                        name,
                        missing,
                        categories,
                    }
                }
            }
        })
        .collect()
}

/// The `q` quantile of sorted values, interpolating linearly between order
/// statistics (`numpy.quantile`'s default "linear" method).
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_categorical_profiles() {
        let mut d = Dataset::numeric(
            vec!["a".into(), "c".into()],
            vec![1.0, 0.0, 2.0, 1.0, f64::NAN, 1.0, 4.0, f64::NAN, 3.0, 2.0],
            vec![0; 5],
            vec!["x".into(), "y".into()],
        );
        d.kinds[1] = FeatureKind::Categorical;
        d.levels[1] = vec!["red".into(), "blue".into(), "green".into(), "unused".into()];
        let p = profile(&d);
        let FeatureProfile::Numeric {
            missing,
            min,
            max,
            mean,
            quantiles,
            ..
        } = &p[0]
        else {
            panic!("{p:?}")
        };
        assert_eq!(
            (*missing, *min, *max, *mean),
            (1, Some(1.0), Some(4.0), Some(2.5))
        );
        // numpy.quantile([1, 2, 3, 4], [0.01, 0.5, 0.99]) = 1.03, 2.5, 3.97
        let at = |q: f64| quantiles.iter().find(|x| x.q == q).unwrap().value;
        assert!((at(0.01) - 1.03).abs() < 1e-12);
        assert_eq!(at(0.5), 2.5);
        assert!((at(0.99) - 3.97).abs() < 1e-12);
        assert_eq!(p[0].range(), Some((1.0, 4.0)));
        let FeatureProfile::Categorical {
            missing,
            categories,
            ..
        } = &p[1]
        else {
            panic!("{p:?}")
        };
        assert_eq!(*missing, 1);
        let names: Vec<(&str, u64)> = categories
            .iter()
            .map(|c| (c.value.as_str(), c.rows))
            .collect();
        assert_eq!(names, [("blue", 2), ("green", 1), ("red", 1)]);
    }
}
