//! Model → model transforms that a production team would try, each
//! recording where its result came from: depth pruning, ensemble truncation,
//! quantization (binned thresholds, int8 leaves and weights), support-vector
//! reduction and teacher → student distillation.
//!
//! Uses `model` and `train` (distillation fits a student). Key types:
//! [`OptimizePlan`] (the config's `[optimize]` table), [`Candidate`] (a
//! trained model or a variant, with its [`Lineage`]) and [`Transform`].
//!
//! Pruning and distillation need the training rows (a pruned node's value is
//! the class distribution of the rows that reach it; a teacher labels rows);
//! truncation and quantization need only the model; support-vector
//! reduction uses the training rows to re-fit its coefficients.

mod prune;
mod reduce;

pub use prune::{prune_cost_complexity, prune_depth, truncate};
pub use reduce::{kept_vectors, reduce_svm, Refit};

use crate::error::{Error, Result};
use crate::measure::{Metric, Quality};
use crate::model::{LeafPrecision, Model, Output, QuantLinear, QuantSvm, QuantTrees};
use crate::train::{fit_soft, one_hot, train, CandidateSpec, Family, TrainData, Trained};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A candidate for measurement: a trained model, or a variant derived from
/// one.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    pub family: Family,
    /// The trainer's parameters (a variant keeps its parent's; a distilled
    /// student has the student's).
    pub params: serde_json::Value,
    pub model: Model,
    /// Training time, or the time the transform took.
    pub fit_seconds: f64,
    pub lineage: Option<Lineage>,
    /// What trained it (trained candidates only): cost-complexity pruning
    /// retrains the same spec on part of the rows to choose its alpha.
    pub spec: Option<CandidateSpec>,
}

impl From<Trained> for Candidate {
    fn from(t: Trained) -> Candidate {
        Candidate {
            id: t.id,
            family: t.spec.family(),
            params: t.spec.params(),
            model: t.model,
            fit_seconds: t.fit_seconds,
            lineage: None,
            spec: Some(t.spec),
        }
    }
}

/// Which candidate a variant came from, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    pub parent: String,
    pub transform: Transform,
}

/// Targets a distilled student learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Targets {
    /// The teacher's class probabilities (cross-entropy against them).
    Soft,
    /// Labels: the true ones on training rows, the teacher's predicted class
    /// on extra rows — the control a soft student is judged against.
    Hard,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Transform {
    /// Every tree cut at `max_depth`; a cut node becomes a leaf holding the
    /// value of the training rows that reach it.
    PruneDepth { max_depth: u16 },
    /// Minimal cost-complexity pruning at `alpha`, chosen as the alpha of the
    /// same tree's pruning path that is most accurate on a validation split
    /// (`validation_fraction` of the training rows, the tree retrained on
    /// the rest); ties go to the larger alpha (the smaller tree).
    CostComplexity {
        alpha: f64,
        validation_fraction: f64,
    },
    /// The first `rounds` trees (boosting: rounds of one tree per output).
    Truncate { rounds: usize },
    /// Thresholds → per-feature bin numbers, leaves at `leaves` precision.
    BinTrees { leaves: LeafPrecision },
    /// Per-output symmetric int8 weights.
    Int8Linear,
    /// SVM support vectors as int8 with one symmetric scale per feature.
    Int8Svm,
    /// A student fitted on the parent's (teacher's) outputs over the training
    /// rows plus `extra_rows` rows sampled near them.
    Distill {
        targets: Targets,
        extra_rows: usize,
        noise: f64,
    },
    /// An SVM keeping `kept` of its `of` support vectors (the `fraction`
    /// of each class with the largest dual coefficients), coefficients and
    /// intercepts as `refit` says (see `reduce.rs`).
    ReduceSvm {
        fraction: f64,
        kept: usize,
        of: usize,
        refit: Refit,
    },
}

impl std::fmt::Display for Transform {
    /// A short phrase for tables: "int8 leaves, binned thresholds", …
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transform::PruneDepth { max_depth } => write!(f, "pruned to depth {max_depth}"),
            Transform::CostComplexity { alpha, .. } => {
                write!(f, "cost-complexity pruned (α = {alpha:.2e})")
            }
            Transform::Truncate { rounds } => write!(f, "first {rounds} rounds"),
            Transform::BinTrees {
                leaves: LeafPrecision::F32,
            } => f.write_str("binned thresholds (lossless)"),
            Transform::BinTrees {
                leaves: LeafPrecision::Int8,
            } => f.write_str("binned thresholds, int8 leaves"),
            Transform::Int8Linear => f.write_str("int8 weights"),
            Transform::Int8Svm => f.write_str("int8 support vectors (per-feature scales)"),
            Transform::ReduceSvm {
                kept, of, refit, ..
            } => {
                write!(f, "{kept} of {of} support vectors")?;
                match refit {
                    Refit::LeastSquares => f.write_str(", coefficients re-fitted"),
                    Refit::None => f.write_str(", coefficients kept"),
                }
            }
            Transform::Distill {
                targets,
                extra_rows,
                ..
            } => {
                let t = match targets {
                    Targets::Soft => "teacher probabilities",
                    Targets::Hard => "labels (control)",
                };
                if *extra_rows > 0 {
                    write!(f, "distilled from {t} + {extra_rows} teacher-labelled rows")
                } else {
                    write!(f, "distilled from {t}")
                }
            }
        }
    }
}

/// Quantized forms to derive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantizeKind {
    /// Trees: binned thresholds, f32 leaves (lossless). Linear models: none.
    Bins,
    /// Trees: binned thresholds and int8 leaves. Linear: int8 weights. SVMs:
    /// int8 support vectors.
    Int8,
}

fn default_noise() -> f64 {
    0.1
}

/// One teacher → student distillation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillSpec {
    /// Id of a trained candidate, e.g. `boost-300-d6`.
    pub teacher: String,
    /// A logistic regression or gradient boosting spec.
    pub student: CandidateSpec,
    /// Rows sampled near the training rows (a training row plus Gaussian
    /// noise of `noise` × each feature's standard deviation) that only the
    /// teacher labels.
    #[serde(default)]
    pub extra_rows: usize,
    #[serde(default = "default_noise")]
    pub noise: f64,
}

/// The `[optimize]` table: which variants to derive from the trained
/// candidates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizePlan {
    pub quantize: Vec<QuantizeKind>,
    /// Depth caps applied to every tree model deeper than the cap.
    pub prune_depths: Vec<u16>,
    /// Round counts applied to every ensemble with more rounds.
    pub truncate: Vec<usize>,
    /// Minimal cost-complexity pruning of every decision tree, alpha chosen
    /// on a validation split of this share of the training rows (`null`:
    /// off).
    pub cost_complexity: Option<f64>,
    pub distill: Vec<DistillSpec>,
    /// Shares of each class's support vectors kept by every SVM, where
    /// that drops one (`reduce.rs`).
    pub reduce_svm: Vec<f64>,
    /// What the reduced SVMs' coefficients are.
    pub reduce_svm_refit: Refit,
}

impl OptimizePlan {
    pub fn validate(&self, trained_ids: &[String]) -> std::result::Result<(), String> {
        if let Some(d) = self.prune_depths.iter().find(|&&d| d == 0) {
            return Err(format!(
                "prune_depths: {d} — a depth cap must be at least 1"
            ));
        }
        if let Some(v) = self.cost_complexity {
            if !(v > 0.0 && v < 1.0) {
                return Err(format!(
                    "cost_complexity = {v}: expected the validation share, between 0 and 1 (e.g. 0.2)"
                ));
            }
        }
        if self.truncate.contains(&0) {
            return Err("truncate: 0 — keep at least 1 round".into());
        }
        if let Some(f) = self.reduce_svm.iter().find(|&&f| !(f > 0.0 && f <= 1.0)) {
            return Err(format!(
                "reduce_svm: {f} — expected the share of support vectors to keep, above 0 and at most 1 (e.g. 0.5)"
            ));
        }
        for d in &self.distill {
            if !trained_ids.contains(&d.teacher) {
                return Err(format!(
                    "distill: teacher `{}` is not one of the candidates ({})",
                    d.teacher,
                    trained_ids.join(", ")
                ));
            }
            if !matches!(
                d.student,
                CandidateSpec::LogisticRegression { .. } | CandidateSpec::GradientBoosting { .. }
            ) {
                return Err(format!(
                    "distill: student `{}` — only logistic_regression and gradient_boosting learn soft targets",
                    d.student.id()
                ));
            }
            d.student.validate()?;
            if !(d.noise.is_finite() && d.noise >= 0.0) {
                return Err(format!("distill: noise = {} — expected ≥ 0", d.noise));
            }
        }
        Ok(())
    }
}

/// Derives every variant the plan asks for from `trained` (in a fixed
/// order: per parent quantized, pruned, truncated; then distilled students).
/// `metric` is the one the run chooses by: cost-complexity pruning picks
/// its alpha by it too.
pub fn derive(
    plan: &OptimizePlan,
    trained: &[Candidate],
    data: &TrainData<'_>,
    seed: u64,
    metric: Metric,
) -> Result<Vec<Candidate>> {
    let ids: Vec<String> = trained.iter().map(|c| c.id.clone()).collect();
    plan.validate(&ids)
        .map_err(|m| Error::train("optimize", m))?;
    let mut out = Vec::new();
    for parent in trained {
        for &kind in &plan.quantize {
            if let Some(v) = quantize(parent, kind)? {
                out.push(v);
            }
        }
        if let Model::Svm(m) = &parent.model {
            let refit = plan.reduce_svm_refit;
            for &fraction in &plan.reduce_svm {
                let kept = kept_vectors(m, fraction);
                if kept < m.n_sv() {
                    out.push(variant(
                        parent,
                        reduced_suffix(fraction, refit),
                        Transform::ReduceSvm {
                            fraction,
                            kept,
                            of: m.n_sv(),
                            refit,
                        },
                        || Ok(Model::Svm(reduce_svm(m, fraction, refit, Some(data)))),
                    )?);
                }
            }
        }
        if let Model::Trees(t) = &parent.model {
            // Cut nodes weigh the training rows as the tree's trainer did.
            let cw = parent
                .spec
                .as_ref()
                .and_then(|s| s.class_weight().per_class(data.y, data.n_classes));
            let cw = cw.as_deref();
            for &d in &plan.prune_depths {
                if usize::from(d) < t.max_depth() {
                    out.push(variant(
                        parent,
                        format!("depth{d}"),
                        Transform::PruneDepth { max_depth: d },
                        || Ok(Model::Trees(prune_depth(t, d, data, cw))),
                    )?);
                }
            }
            if let (Some(share), Some(spec), Output::Average, 1) =
                (plan.cost_complexity, &parent.spec, &t.output, t.n_trees())
            {
                let start = Instant::now();
                let alpha = choose_alpha(spec, data, share, seed, metric)?;
                out.push(Candidate {
                    fit_seconds: start.elapsed().as_secs_f64(),
                    ..variant(
                        parent,
                        "ccp".into(),
                        Transform::CostComplexity {
                            alpha,
                            validation_fraction: share,
                        },
                        || Ok(Model::Trees(prune_cost_complexity(t, alpha, data, cw))),
                    )?
                });
            }
            let rounds = t.n_trees() / t.output.n_trees_per_round(t.n_classes);
            for &k in &plan.truncate {
                if k < rounds {
                    out.push(variant(
                        parent,
                        format!("first{k}"),
                        Transform::Truncate { rounds: k },
                        || Ok(Model::Trees(truncate(t, k))),
                    )?);
                }
            }
        }
    }
    for spec in &plan.distill {
        let teacher = trained
            .iter()
            .find(|c| c.id == spec.teacher)
            .expect("validated above");
        for targets in [Targets::Soft, Targets::Hard] {
            out.push(distill(teacher, spec, targets, data, seed)?);
        }
    }
    Ok(out)
}

/// The cost-complexity alpha for a tree trained by `spec`: retrain it on
/// `1 − share` of the rows (stratified, seeded), walk its pruning path, and
/// keep the alpha best by `metric` (the run's) on the held-out `share`
/// (ties: the larger alpha, i.e. the smaller tree). By accuracy, a tree on
/// rare positives is often best pruned to its root; by balanced accuracy it
/// keeps the splits that find them.
fn choose_alpha(
    spec: &CandidateSpec,
    data: &TrainData<'_>,
    share: f64,
    seed: u64,
    metric: Metric,
) -> Result<f64> {
    let (fit_rows, val_rows) = stratified_indices(data.y, data.n_classes, share, seed);
    let take = |rows: &[usize]| -> (Vec<f32>, Vec<u32>) {
        let mut x = Vec::with_capacity(rows.len() * data.n_features);
        for &r in rows {
            x.extend_from_slice(data.row(r));
        }
        (x, rows.iter().map(|&r| data.y[r]).collect())
    };
    let (xf, yf) = take(&fit_rows);
    let (xv, yv) = take(&val_rows);
    let fit = TrainData {
        x: &xf,
        n_features: data.n_features,
        y: &yf,
        n_classes: data.n_classes,
    };
    let sub = train(spec, &fit, seed)?;
    let Model::Trees(tree) = &sub.model else {
        return Err(Error::train(
            &sub.id,
            "cost-complexity pruning needs a tree",
        ));
    };
    let mut best = (f64::NEG_INFINITY, 0.0);
    let cw = spec.class_weight().per_class(fit.y, fit.n_classes);
    let path = prune::PrunePath::new(tree, &fit, cw.as_deref());
    for alpha in path.alphas() {
        let pruned = Model::Trees(path.at(alpha))
            .compile()
            .map_err(|m| Error::train(&sub.id, m))?;
        let (mut pred, mut proba) = (Vec::new(), Vec::new());
        pruned.predict_with_proba_batch(&xv, &mut pred, &mut proba);
        let proba: Vec<f64> = proba.iter().map(|&p| f64::from(p)).collect();
        let quality = Quality::compute(&yv, &pred, &proba, data.n_classes);
        let score = metric.score(quality.get(metric));
        if score >= best.0 {
            best = (score, alpha);
        }
    }
    Ok(best.1)
}

/// Row indices split per class: `share` of each class (at least one row
/// when the class has two or more) held out, seeded.
fn stratified_indices(
    y: &[u32],
    n_classes: usize,
    share: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xcc9_a1fa);
    let (mut fit, mut val) = (Vec::new(), Vec::new());
    for c in 0..n_classes as u32 {
        let mut rows: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c).collect();
        rand::seq::SliceRandom::shuffle(rows.as_mut_slice(), &mut rng);
        let n_val = if rows.len() >= 2 {
            ((rows.len() as f64 * share).round() as usize).clamp(1, rows.len() - 1)
        } else {
            0
        };
        val.extend_from_slice(&rows[..n_val]);
        fit.extend_from_slice(&rows[n_val..]);
    }
    fit.sort_unstable();
    val.sort_unstable();
    (fit, val)
}

/// `sv{percent}` (`sv50`, `sv12.5`), `-raw` when the coefficients are the
/// parent's.
fn reduced_suffix(fraction: f64, refit: Refit) -> String {
    // Rounded to a thousandth of a percent, so 0.1 gives `sv10`.
    let percent = (fraction * 100_000.0).round() / 1000.0;
    let raw = match refit {
        Refit::LeastSquares => "",
        Refit::None => "-raw",
    };
    format!("sv{percent}{raw}")
}

fn variant(
    parent: &Candidate,
    suffix: String,
    transform: Transform,
    make: impl FnOnce() -> Result<Model>,
) -> Result<Candidate> {
    let start = Instant::now();
    let model = make()?;
    Ok(Candidate {
        id: format!("{}/{suffix}", parent.id),
        family: parent.family,
        params: parent.params.clone(),
        model,
        fit_seconds: start.elapsed().as_secs_f64(),
        lineage: Some(Lineage {
            parent: parent.id.clone(),
            transform,
        }),
        spec: None,
    })
}

/// The quantized form of `parent`, or `None` when `kind` does not apply to
/// its model (e.g. bins for a linear model).
pub fn quantize(parent: &Candidate, kind: QuantizeKind) -> Result<Option<Candidate>> {
    let fail = |m: String| Error::train(&parent.id, format!("quantizing: {m}"));
    let v = match (&parent.model, kind) {
        (Model::Linear(m), QuantizeKind::Int8) => Some(variant(
            parent,
            "int8".into(),
            Transform::Int8Linear,
            || Ok(Model::QuantLinear(QuantLinear::from_linear(m))),
        )?),
        (Model::Svm(m), QuantizeKind::Int8) => {
            Some(variant(parent, "int8".into(), Transform::Int8Svm, || {
                Ok(Model::QuantSvm(QuantSvm::from_svm(m)))
            })?)
        }
        (Model::Trees(t), _) => {
            let (suffix, leaves) = match kind {
                QuantizeKind::Bins => ("bins", LeafPrecision::F32),
                QuantizeKind::Int8 => ("int8", LeafPrecision::Int8),
            };
            Some(variant(
                parent,
                suffix.into(),
                Transform::BinTrees { leaves },
                || {
                    QuantTrees::from_ensemble(t, leaves)
                        .map(Model::QuantTrees)
                        .map_err(fail)
                },
            )?)
        }
        _ => None,
    };
    Ok(v)
}

/// Rows sampled near the training rows: a uniformly chosen training row
/// plus Gaussian noise of `noise` × each feature's standard deviation.
pub fn sample_near(data: &TrainData<'_>, n: usize, noise: f64, seed: u64) -> Vec<f32> {
    let d = data.n_features;
    let rows = data.n_rows();
    let sd: Vec<f64> = (0..d)
        .map(|f| {
            let mean = (0..rows).map(|r| f64::from(data.x[r * d + f])).sum::<f64>() / rows as f64;
            let var = (0..rows)
                .map(|r| (f64::from(data.x[r * d + f]) - mean).powi(2))
                .sum::<f64>()
                / rows as f64;
            var.sqrt()
        })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, 1.0).expect("a unit normal");
    let mut out = Vec::with_capacity(n * d);
    for _ in 0..n {
        let r = rand::Rng::random_range(&mut rng, 0..rows);
        for (&x, &s) in data.row(r).iter().zip(&sd) {
            let z: f64 = normal.sample(&mut rng);
            out.push((f64::from(x) + z * noise * s) as f32);
        }
    }
    out
}

/// Fits `spec.student` on the teacher's outputs (soft) or on labels (hard,
/// the control), over the training rows plus `spec.extra_rows` sampled rows.
fn distill(
    teacher: &Candidate,
    spec: &DistillSpec,
    targets: Targets,
    data: &TrainData<'_>,
    seed: u64,
) -> Result<Candidate> {
    let start = Instant::now();
    let k = data.n_classes;
    let extra = sample_near(data, spec.extra_rows, spec.noise, seed ^ 0x5eed_d157);
    let mut x = data.x.to_vec();
    x.extend_from_slice(&extra);
    let teacher_model = teacher
        .model
        .compile()
        .map_err(|m| Error::train(&teacher.id, m))?;
    // Every row's label: the training rows' own, the teacher's class for
    // the extra rows. The hard control learns them; a soft student reads
    // them only to weigh rows by its `class_weight`. Only soft targets need
    // the teacher's probabilities on every row.
    let needs_labels = matches!(targets, Targets::Hard) || !spec.student.class_weight().is_none();
    let y: Vec<u32> = if needs_labels {
        let mut labels = data.y.to_vec();
        let mut pred = Vec::new();
        teacher_model.predict_batch(&extra, &mut pred);
        labels.extend(pred);
        labels
    } else {
        vec![0; x.len() / data.n_features]
    };
    let t: Vec<f32> = match targets {
        Targets::Soft => teacher_model.predict_proba_batch(&x),
        Targets::Hard => one_hot(&y, k),
    };
    let all = TrainData {
        x: &x,
        n_features: data.n_features,
        y: &y,
        n_classes: k,
    };
    let student_id = spec.student.id();
    let model = fit_soft(&spec.student, &all, &t, seed)?;
    let tag = match targets {
        Targets::Soft => "distilled",
        Targets::Hard => "labels",
    };
    Ok(Candidate {
        id: format!("{student_id}<{}/{tag}", teacher.id),
        family: spec.student.family(),
        params: spec.student.params(),
        model,
        fit_seconds: start.elapsed().as_secs_f64(),
        lineage: Some(Lineage {
            parent: teacher.id.clone(),
            transform: Transform::Distill {
                targets,
                extra_rows: spec.extra_rows,
                noise: spec.noise,
            },
        }),
        spec: None,
    })
}

/// Share of rows on which two prediction vectors agree.
pub fn agreement(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() {
        return 1.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

#[cfg(test)]
mod tests;
