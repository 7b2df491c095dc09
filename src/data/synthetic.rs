//! The synthetic data set: the `make_classification` recipe of Guyon (2003), as
//! scikit-learn implements it, re-implemented on a seeded ChaCha8 generator
//! (so the same seed gives the same table on every machine, though not the
//! same numbers as NumPy's generator).
//!
//! Recipe: each class owns `n_clusters_per_class` Gaussian clusters centred on
//! distinct vertices of a hypercube of side `2 * class_sep` in the informative
//! subspace, each cluster given a random covariance; redundant features are
//! random linear combinations of the informative ones, repeated features copy
//! some of them, the rest is noise; `flip_y` of the labels are re-drawn at
//! random; finally rows and columns are shuffled.

use super::Dataset;
use crate::error::{Error, Result};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Parameters of the generator, named as in scikit-learn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyntheticSpec {
    pub n_samples: usize,
    pub n_features: usize,
    pub n_informative: usize,
    pub n_redundant: usize,
    pub n_repeated: usize,
    pub n_classes: usize,
    pub n_clusters_per_class: usize,
    pub class_sep: f64,
    pub flip_y: f64,
    pub seed: u64,
}

impl Default for SyntheticSpec {
    /// The built-in default: 5,000 × 20, two classes, seed 42, and otherwise
    /// scikit-learn's defaults (2 informative, 2 redundant, 2 clusters per
    /// class, class_sep 1, flip_y 0.01).
    fn default() -> Self {
        SyntheticSpec {
            n_samples: 5000,
            n_features: 20,
            n_informative: 2,
            n_redundant: 2,
            n_repeated: 0,
            n_classes: 2,
            n_clusters_per_class: 2,
            class_sep: 1.0,
            flip_y: 0.01,
            seed: 42,
        }
    }
}

impl SyntheticSpec {
    /// Checks the parameters the way scikit-learn does, with messages naming
    /// the parameter.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let used = self.n_informative + self.n_redundant + self.n_repeated;
        if self.n_samples < 2 {
            return Err(format!("n_samples = {} (need at least 2)", self.n_samples));
        }
        if self.n_classes < 2 {
            return Err(format!("n_classes = {} (need at least 2)", self.n_classes));
        }
        if self.n_informative == 0 || self.n_clusters_per_class == 0 {
            return Err("n_informative and n_clusters_per_class must be at least 1".into());
        }
        if used > self.n_features {
            return Err(format!(
                "n_informative + n_redundant + n_repeated = {used} exceeds n_features = {}",
                self.n_features
            ));
        }
        let clusters = (self.n_classes * self.n_clusters_per_class) as f64;
        if clusters > 2f64.powi(self.n_informative.min(1000) as i32) {
            return Err(format!(
                "n_classes × n_clusters_per_class = {clusters} exceeds 2^n_informative = {} hypercube vertices",
                2f64.powi(self.n_informative as i32)
            ));
        }
        if !(0.0..=1.0).contains(&self.flip_y) {
            return Err(format!("flip_y = {} (must be in [0, 1])", self.flip_y));
        }
        if !self.class_sep.is_finite() || self.class_sep < 0.0 {
            return Err(format!("class_sep = {} (must be ≥ 0)", self.class_sep));
        }
        Ok(())
    }

    /// Generates the table. Features are named `f0…`, classes `0…`.
    pub fn generate(&self) -> Result<Dataset> {
        self.validate()
            .map_err(|m| Error::flag("synthetic data", m))?;
        let n = self.n_samples;
        let d = self.n_features;
        let ni = self.n_informative;
        let nr = self.n_redundant;
        let nrep = self.n_repeated;
        let n_useless = d - ni - nr - nrep;
        let n_clusters = self.n_classes * self.n_clusters_per_class;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);

        // Balanced classes; the remainder goes round-robin to the first clusters.
        let mut per_cluster = vec![n / self.n_classes / self.n_clusters_per_class; n_clusters];
        let assigned: usize = per_cluster.iter().sum();
        for i in 0..n - assigned {
            per_cluster[i % n_clusters] += 1;
        }

        let vertices = hypercube_vertices(n_clusters, ni, &mut rng);
        let mut x = vec![0.0f64; n * d];
        let mut y = vec![0u32; n];
        for i in 0..n {
            for j in 0..ni {
                x[i * d + j] = rng.sample(StandardNormal);
            }
        }
        let mut start = 0;
        let mut tmp = vec![0.0; ni];
        for (k, &count) in per_cluster.iter().enumerate() {
            let a: Vec<f64> = (0..ni * ni)
                .map(|_| 2.0 * rng.random::<f64>() - 1.0)
                .collect();
            for i in start..start + count {
                y[i] = (k % self.n_classes) as u32;
                let row = &mut x[i * d..i * d + ni];
                // row ← row · A + centroid
                for (c, t) in tmp.iter_mut().enumerate() {
                    *t = (0..ni).map(|r| row[r] * a[r * ni + c]).sum::<f64>();
                }
                for (c, v) in row.iter_mut().enumerate() {
                    let bit = vertices[k][c] as f64;
                    *v = tmp[c] + bit * 2.0 * self.class_sep - self.class_sep;
                }
            }
            start += count;
        }
        if nr > 0 {
            let b: Vec<f64> = (0..ni * nr)
                .map(|_| 2.0 * rng.random::<f64>() - 1.0)
                .collect();
            for i in 0..n {
                for c in 0..nr {
                    x[i * d + ni + c] = (0..ni).map(|r| x[i * d + r] * b[r * nr + c]).sum();
                }
            }
        }
        if nrep > 0 {
            let src: Vec<usize> = (0..nrep)
                .map(|_| ((ni + nr - 1) as f64 * rng.random::<f64>() + 0.5) as usize)
                .collect();
            for i in 0..n {
                for (c, &s) in src.iter().enumerate() {
                    x[i * d + ni + nr + c] = x[i * d + s];
                }
            }
        }
        for i in 0..n {
            for j in d - n_useless..d {
                x[i * d + j] = rng.sample(StandardNormal);
            }
        }
        if self.flip_y > 0.0 {
            let flips: Vec<bool> = (0..n).map(|_| rng.random::<f64>() < self.flip_y).collect();
            for (i, &f) in flips.iter().enumerate() {
                if f {
                    y[i] = rng.random_range(0..self.n_classes as u32);
                }
            }
        }
        // Shuffle rows, then columns.
        let mut rows: Vec<usize> = (0..n).collect();
        rows.shuffle(&mut rng);
        let mut cols: Vec<usize> = (0..d).collect();
        cols.shuffle(&mut rng);
        let mut xs = Vec::with_capacity(n * d);
        for &r in &rows {
            for &c in &cols {
                xs.push(x[r * d + c]);
            }
        }
        Ok(Dataset::numeric(
            (0..d).map(|j| format!("f{j}")).collect(),
            xs,
            rows.iter().map(|&r| y[r]).collect(),
            (0..self.n_classes).map(|c| c.to_string()).collect(),
        ))
    }
}

/// `count` distinct vertices of the `dim`-dimensional unit hypercube, drawn
/// without replacement (scikit-learn's `_generate_hypercube`).
fn hypercube_vertices(count: usize, dim: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<u8>> {
    // Vertices are numbered by a u64 bit pattern; beyond 63 dimensions the
    // extra coordinates are drawn independently (distinctness is already
    // guaranteed by the first 63).
    let bits = dim.min(63);
    let space = 1u64 << bits;
    let mut chosen = std::collections::BTreeSet::new();
    let mut order = Vec::with_capacity(count);
    while order.len() < count {
        let v = rng.random_range(0..space);
        if chosen.insert(v) {
            order.push(v);
        }
    }
    order
        .into_iter()
        .map(|v| {
            (0..dim)
                .map(|b| {
                    if b < bits {
                        ((v >> b) & 1) as u8
                    } else {
                        rng.random_range(0..2u8)
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_shape_balance_and_determinism() {
        let spec = SyntheticSpec::default();
        let d = spec.generate().unwrap();
        assert_eq!((d.n_rows(), d.n_features(), d.n_classes()), (5000, 20, 2));
        let counts = d.class_counts();
        // Balanced before the 1 % label flips, which move at most ~50 rows.
        assert!(counts[0].abs_diff(2500) < 80, "{counts:?}");
        assert_eq!(d, spec.generate().unwrap());
        let other = SyntheticSpec { seed: 43, ..spec }.generate().unwrap();
        assert_ne!(d.x, other.x);
    }

    #[test]
    fn informative_structure_is_there_and_noise_is_standard_normal() {
        // With no shuffling of meaning: 4 of 20 columns carry signal, so
        // exactly 16 columns are N(0, 1) noise with mean≈0, var≈1 and
        // (almost) no correlation with the label.
        let spec = SyntheticSpec {
            flip_y: 0.0,
            ..SyntheticSpec::default()
        };
        let d = spec.generate().unwrap();
        let n = d.n_rows() as f64;
        let mut noise_like = 0;
        for j in 0..d.n_features() {
            let col: Vec<f64> = (0..d.n_rows()).map(|i| d.row(i)[j]).collect();
            let mean = col.iter().sum::<f64>() / n;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            let m1 = (0..d.n_rows())
                .filter(|&i| d.y[i] == 1)
                .map(|i| col[i])
                .sum::<f64>()
                / d.class_counts()[1] as f64;
            if mean.abs() < 0.1 && (var - 1.0).abs() < 0.1 && (m1 - mean).abs() < 0.1 {
                noise_like += 1;
            }
        }
        assert_eq!(noise_like, 16);
    }

    #[test]
    fn invalid_parameters_are_named() {
        let spec = SyntheticSpec {
            n_informative: 19,
            n_redundant: 2,
            ..SyntheticSpec::default()
        };
        let e = spec.generate().unwrap_err().to_string();
        assert!(e.contains("exceeds n_features = 20"), "{e}");
        let spec = SyntheticSpec {
            n_informative: 1,
            n_classes: 3,
            ..SyntheticSpec::default()
        };
        assert!(spec.validate().unwrap_err().contains("hypercube"));
    }
}
