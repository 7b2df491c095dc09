//! Front ends: fit each candidate and write it into the `model` IR. Every
//! family is trained in house: logistic regression with argmin's L-BFGS
//! (`logistic.rs`), trees, forests and boosting on shared binned features,
//! kernel SVMs with libsvm's SMO (`svm.rs`, which says why not a crate),
//! linear SVMs with liblinear's dual coordinate descent (`linear_svm.rs`).
//! Only this module names argmin types, and (in tests) linfa's.
//!
//! Uses `model`. Key types: [`CandidateSpec`] (what to train, as written in
//! the config), [`TrainData`] (the pipeline's output) and [`Trained`].
//!
//! Library trainers replaced by in-house ones stay as test references:
//! linfa-logistic (`linfa_logistic.rs`, a dev-dependency) must reach the
//! optimum the in-house logistic regression reaches, and its converter is
//! checked by agreement (the IR predicts exactly what linfa predicts on every
//! test row). Training data reach linfa as `f64` copies of the `f32` features
//! the IR will see at serving time, so comparisons can be reproduced exactly.

mod binned;
mod boost;
#[cfg(test)]
mod class_weight_tests;
mod forest;
mod linear_svm;
#[cfg(test)]
mod linfa_logistic;
mod logistic;
mod svm;

pub use boost::{one_hot, BoostParams};
pub use linear_svm::SvmLoss;
pub use svm::{Gamma, GammaRule, SvmKernel, SvmParams};

use crate::error::{Error, Result};
use crate::model::Model;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Model families optbench trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    LogisticRegression,
    DecisionTree,
    RandomForest,
    GradientBoosting,
    Svm,
    /// A model from outside optbench (`optbench import`).
    Imported,
    LinearSvm,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::LogisticRegression => "logistic regression",
            Family::DecisionTree => "decision tree",
            Family::RandomForest => "random forest",
            Family::Imported => "imported",
            Family::GradientBoosting => "gradient boosting",
            Family::Svm => "SVM",
            Family::LinearSvm => "linear SVM",
        })
    }
}

fn default_alpha() -> f64 {
    1.0
}
fn default_iterations() -> u64 {
    200
}
fn default_leaf() -> usize {
    1
}
fn default_learning_rate() -> f64 {
    0.1
}
fn default_boost_depth() -> u16 {
    3
}
fn default_subsample() -> f64 {
    1.0
}
fn default_max_bins() -> u16 {
    255
}
fn default_c() -> f64 {
    1.0
}
fn default_degree() -> u32 {
    3
}
fn default_tol() -> f64 {
    1e-3
}
fn default_linear_svm_tol() -> f64 {
    1e-4
}
fn default_linear_svm_iterations() -> u64 {
    1000
}

/// scikit-learn's `SVC(cache_size=200)`: MB of kernel rows kept per binary
/// problem while fitting.
const SVM_CACHE_MB: f64 = 200.0;

/// How classes are weighed in the training loss (scikit-learn's
/// `class_weight`): `none` weighs every row 1; `balanced` weighs each row
/// of class `c` by `n_rows / (n_classes × n_c)`, so every class carries the
/// same total weight, as `compute_class_weight("balanced")` does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    #[default]
    None,
    Balanced,
}

impl ClassWeight {
    pub fn is_none(&self) -> bool {
        *self == ClassWeight::None
    }

    /// The weight of each of `n_classes` classes given the training labels
    /// `y`; `None` when every class weighs 1. A class with no row weighs 0
    /// (it has no row to weigh).
    pub fn per_class(&self, y: &[u32], n_classes: usize) -> Option<Vec<f64>> {
        match self {
            ClassWeight::None => None,
            ClassWeight::Balanced => {
                let mut counts = vec![0usize; n_classes];
                for &c in y {
                    counts[c as usize] += 1;
                }
                Some(
                    counts
                        .iter()
                        .map(|&n_c| {
                            if n_c == 0 {
                                0.0
                            } else {
                                y.len() as f64 / (n_classes as f64 * n_c as f64)
                            }
                        })
                        .collect(),
                )
            }
        }
    }
}

/// One candidate to train, as written in a config's `[[candidates]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case", deny_unknown_fields)]
pub enum CandidateSpec {
    /// L2-regularised logistic regression (in house, L-BFGS: see
    /// `logistic.rs`); binary with a logistic link, multiclass with softmax.
    /// `alpha` = 1 matches scikit-learn's default `C = 1`.
    LogisticRegression {
        #[serde(default = "default_alpha")]
        alpha: f64,
        #[serde(default = "default_iterations")]
        max_iterations: u64,
        #[serde(default, skip_serializing_if = "ClassWeight::is_none")]
        class_weight: ClassWeight,
    },
    /// CART with Gini impurity, every feature tried at each split (in
    /// house, the forest's grower: see `forest.rs`).
    DecisionTree {
        #[serde(default)]
        max_depth: Option<u16>,
        #[serde(default = "default_leaf")]
        min_samples_leaf: usize,
        #[serde(default, skip_serializing_if = "ClassWeight::is_none")]
        class_weight: ClassWeight,
    },
    /// Bootstrap forest of CART trees (Gini) with √d features tried per
    /// split, leaves holding class fractions (in house, see `forest.rs`).
    RandomForest {
        n_trees: u16,
        #[serde(default)]
        max_depth: Option<u16>,
        #[serde(default = "default_leaf")]
        min_samples_leaf: usize,
        /// Features tried per split; default ⌊√d⌋.
        #[serde(default)]
        max_features: Option<usize>,
        #[serde(default, skip_serializing_if = "ClassWeight::is_none")]
        class_weight: ClassWeight,
    },
    /// Histogram gradient boosting (in house, see `boost.rs`): log-loss for
    /// two classes, softmax for more. Defaults are scikit-learn's
    /// `GradientBoostingClassifier`'s (learning rate 0.1, depth 3, no
    /// subsampling) and `HistGradientBoostingClassifier`'s 255 bins.
    GradientBoosting {
        n_trees: u16,
        #[serde(default = "default_learning_rate")]
        learning_rate: f64,
        #[serde(default = "default_boost_depth")]
        max_depth: u16,
        #[serde(default = "default_leaf")]
        min_samples_leaf: usize,
        #[serde(default = "default_subsample")]
        subsample: f64,
        #[serde(default)]
        l2_regularization: f64,
        #[serde(default = "default_max_bins")]
        max_bins: u16,
        #[serde(default, skip_serializing_if = "ClassWeight::is_none")]
        class_weight: ClassWeight,
    },
    /// Kernel SVM with scikit-learn `SVC`'s semantics and defaults (in
    /// house, libsvm's SMO: see `svm.rs`): `kernel` rbf (default), linear,
    /// poly or sigmoid; `C` (also spelled `c`); `gamma` "scale" (default),
    /// "auto" or a number; one-vs-one for more than two classes, the class
    /// from the vote; `probability = true` adds Platt's sigmoids.
    Svm {
        #[serde(default)]
        kernel: SvmKernel,
        #[serde(default = "default_c", rename = "C", alias = "c")]
        c: f64,
        #[serde(default)]
        gamma: Gamma,
        #[serde(default = "default_degree")]
        degree: u32,
        #[serde(default)]
        coef0: f64,
        #[serde(default)]
        probability: bool,
        #[serde(default = "default_tol")]
        tol: f64,
        #[serde(default, skip_serializing_if = "ClassWeight::is_none")]
        class_weight: ClassWeight,
    },
    /// Linear SVM with scikit-learn `LinearSVC`'s semantics and defaults
    /// (in house, liblinear's dual coordinate descent: see
    /// `linear_svm.rs`): `loss` squared_hinge (default) or hinge, `C` (also
    /// `c`), one-vs-rest for more than two classes, the intercept
    /// regularised as liblinear's; the model is the linear form.
    LinearSvm {
        #[serde(default)]
        loss: SvmLoss,
        #[serde(default = "default_c", rename = "C", alias = "c")]
        c: f64,
        #[serde(default = "default_linear_svm_tol")]
        tol: f64,
        #[serde(default = "default_linear_svm_iterations")]
        max_iterations: u64,
        #[serde(default, skip_serializing_if = "ClassWeight::is_none")]
        class_weight: ClassWeight,
    },
}

impl CandidateSpec {
    /// Gradient boosting of this shape, every other setting at the config
    /// file's default (what a `[[candidates]]` table naming only these
    /// gives).
    pub fn gradient_boosting(n_trees: u16, max_depth: u16) -> CandidateSpec {
        CandidateSpec::GradientBoosting {
            n_trees,
            learning_rate: default_learning_rate(),
            max_depth,
            min_samples_leaf: default_leaf(),
            subsample: default_subsample(),
            l2_regularization: 0.0,
            max_bins: default_max_bins(),
            class_weight: ClassWeight::None,
        }
    }

    /// A random forest of `n_trees` trees, every other setting at the
    /// config file's default (unlimited depth, ⌊√d⌋ features a split).
    pub fn random_forest(n_trees: u16) -> CandidateSpec {
        CandidateSpec::RandomForest {
            n_trees,
            max_depth: None,
            min_samples_leaf: default_leaf(),
            max_features: None,
            class_weight: ClassWeight::None,
        }
    }

    /// An SVM with this kernel, every other setting at scikit-learn's
    /// default (`C = 1`, `gamma = "scale"`, degree 3, no probabilities).
    pub fn svm(kernel: SvmKernel) -> CandidateSpec {
        CandidateSpec::Svm {
            kernel,
            c: default_c(),
            gamma: Gamma::default(),
            degree: default_degree(),
            coef0: 0.0,
            probability: false,
            tol: default_tol(),
            class_weight: ClassWeight::None,
        }
    }

    /// How the candidate weighs classes.
    pub fn class_weight(&self) -> ClassWeight {
        match self {
            CandidateSpec::LogisticRegression { class_weight, .. }
            | CandidateSpec::DecisionTree { class_weight, .. }
            | CandidateSpec::RandomForest { class_weight, .. }
            | CandidateSpec::GradientBoosting { class_weight, .. }
            | CandidateSpec::Svm { class_weight, .. }
            | CandidateSpec::LinearSvm { class_weight, .. } => *class_weight,
        }
    }

    /// A short, stable identifier built from the parameters that differ from
    /// the defaults, e.g. `logreg`, `tree-d3`, `tree-full`, `forest-100`,
    /// `forest-100-bal` (balanced class weights).
    pub fn id(&self) -> String {
        let mut id = self.shape_id();
        if self.class_weight() == ClassWeight::Balanced {
            id += "-bal";
        }
        id
    }

    pub fn family(&self) -> Family {
        match self {
            CandidateSpec::Svm { .. } => Family::Svm,
            CandidateSpec::LinearSvm { .. } => Family::LinearSvm,
            CandidateSpec::LogisticRegression { .. } => Family::LogisticRegression,
            CandidateSpec::DecisionTree { .. } => Family::DecisionTree,
            CandidateSpec::RandomForest { .. } => Family::RandomForest,
            CandidateSpec::GradientBoosting { .. } => Family::GradientBoosting,
        }
    }

    /// [`CandidateSpec::id`] without the class-weight suffix.
    fn shape_id(&self) -> String {
        let depth = |d: &Option<u16>| d.map_or("full".to_string(), |d| format!("d{d}"));
        let leaf = |l: usize| {
            if l == 1 {
                String::new()
            } else {
                format!("-leaf{l}")
            }
        };
        match self {
            CandidateSpec::LogisticRegression {
                alpha,
                max_iterations,
                ..
            } => {
                let mut id = "logreg".to_string();
                if *alpha != default_alpha() {
                    id += &format!("-a{alpha}");
                }
                if *max_iterations != default_iterations() {
                    id += &format!("-it{max_iterations}");
                }
                id
            }
            CandidateSpec::DecisionTree {
                max_depth,
                min_samples_leaf,
                ..
            } => {
                format!("tree-{}{}", depth(max_depth), leaf(*min_samples_leaf))
            }
            CandidateSpec::RandomForest {
                n_trees,
                max_depth,
                min_samples_leaf,
                max_features,
                ..
            } => {
                let mut id = format!("forest-{n_trees}");
                if max_depth.is_some() {
                    id += &format!("-{}", depth(max_depth));
                }
                id += &leaf(*min_samples_leaf);
                if let Some(m) = max_features {
                    id += &format!("-m{m}");
                }
                id
            }
            CandidateSpec::GradientBoosting { .. } => {
                let p = self.boost_params().expect("a boosting spec");
                let mut id = format!("boost-{}", p.n_trees);
                if p.max_depth != default_boost_depth() {
                    id += &format!("-d{}", p.max_depth);
                }
                if p.learning_rate != default_learning_rate() {
                    id += &format!("-lr{}", p.learning_rate);
                }
                id += &leaf(p.min_samples_leaf);
                if p.subsample != default_subsample() {
                    id += &format!("-ss{}", p.subsample);
                }
                if p.l2_regularization != 0.0 {
                    id += &format!("-l2{}", p.l2_regularization);
                }
                if p.max_bins != default_max_bins() {
                    id += &format!("-b{}", p.max_bins);
                }
                id
            }
            CandidateSpec::Svm { .. } => {
                let p = self.svm_params().expect("an SVM spec");
                let mut id = format!("svm-{}", p.kernel.name());
                if p.c != default_c() {
                    id += &format!("-c{}", p.c);
                }
                match p.gamma {
                    Gamma::Named(GammaRule::Scale) => {}
                    Gamma::Named(GammaRule::Auto) => id += "-gauto",
                    Gamma::Value(g) => id += &format!("-g{g}"),
                }
                if p.kernel == SvmKernel::Poly && p.degree != default_degree() {
                    id += &format!("-deg{}", p.degree);
                }
                if p.coef0 != 0.0 {
                    id += &format!("-r{}", p.coef0);
                }
                if p.tol != default_tol() {
                    id += &format!("-tol{}", p.tol);
                }
                if p.probability {
                    id += "-proba";
                }
                id
            }
            CandidateSpec::LinearSvm {
                loss,
                c,
                tol,
                max_iterations,
                ..
            } => {
                let mut id = "linsvm".to_string();
                if *loss == SvmLoss::Hinge {
                    id += "-hinge";
                }
                if *c != default_c() {
                    id += &format!("-c{c}");
                }
                if *tol != default_linear_svm_tol() {
                    id += &format!("-tol{tol}");
                }
                if *max_iterations != default_linear_svm_iterations() {
                    id += &format!("-it{max_iterations}");
                }
                id
            }
        }
    }

    /// The SVM parameters, for an `Svm` spec.
    pub fn svm_params(&self) -> Option<SvmParams> {
        match *self {
            CandidateSpec::Svm {
                kernel,
                c,
                gamma,
                degree,
                coef0,
                probability,
                tol,
                ..
            } => Some(SvmParams {
                kernel,
                c,
                gamma,
                degree,
                coef0,
                tol,
                probability,
                cache_mb: SVM_CACHE_MB,
            }),
            _ => None,
        }
    }

    /// The boosting parameters, for a `GradientBoosting` spec.
    pub fn boost_params(&self) -> Option<BoostParams> {
        match *self {
            CandidateSpec::GradientBoosting {
                n_trees,
                learning_rate,
                max_depth,
                min_samples_leaf,
                subsample,
                l2_regularization,
                max_bins,
                ..
            } => Some(BoostParams {
                n_trees,
                learning_rate,
                max_depth,
                min_samples_leaf,
                subsample,
                l2_regularization,
                max_bins,
            }),
            _ => None,
        }
    }

    /// The parameters as a JSON object, for results and metadata.
    pub fn params(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("family");
        }
        v
    }

    /// Checks values a trainer would reject or mis-handle, naming them.
    pub fn validate(&self) -> std::result::Result<(), String> {
        match self {
            CandidateSpec::LogisticRegression {
                alpha,
                max_iterations,
                ..
            } => {
                if !alpha.is_finite() || *alpha < 0.0 {
                    return Err(format!("alpha = {alpha}: expected a finite number ≥ 0"));
                }
                if *max_iterations == 0 {
                    return Err("max_iterations must be at least 1".into());
                }
            }
            CandidateSpec::DecisionTree {
                max_depth,
                min_samples_leaf,
                ..
            }
            | CandidateSpec::RandomForest {
                max_depth,
                min_samples_leaf,
                ..
            } => {
                if *max_depth == Some(0) {
                    return Err("max_depth must be at least 1 (omit it for no limit)".into());
                }
                if *min_samples_leaf == 0 {
                    return Err("min_samples_leaf must be at least 1".into());
                }
            }
            CandidateSpec::GradientBoosting { .. } => {
                let p = self.boost_params().expect("a boosting spec");
                if p.n_trees == 0 {
                    return Err("n_trees must be at least 1".into());
                }
                if !(p.learning_rate.is_finite() && p.learning_rate > 0.0) {
                    return Err(format!(
                        "learning_rate = {}: expected a number > 0",
                        p.learning_rate
                    ));
                }
                if p.max_depth == 0 || p.max_depth > 30 {
                    return Err(format!("max_depth = {}: expected 1 to 30", p.max_depth));
                }
                if p.min_samples_leaf == 0 {
                    return Err("min_samples_leaf must be at least 1".into());
                }
                if !(p.subsample > 0.0 && p.subsample <= 1.0) {
                    return Err(format!(
                        "subsample = {}: expected 0 < subsample ≤ 1",
                        p.subsample
                    ));
                }
                if !(p.l2_regularization.is_finite() && p.l2_regularization >= 0.0) {
                    return Err(format!(
                        "l2_regularization = {}: expected a number ≥ 0",
                        p.l2_regularization
                    ));
                }
                if !(2..=256).contains(&p.max_bins) {
                    return Err(format!("max_bins = {}: expected 2 to 256", p.max_bins));
                }
            }
            CandidateSpec::Svm { .. } => {
                let p = self.svm_params().expect("an SVM spec");
                if !(p.c.is_finite() && p.c > 0.0) {
                    return Err(format!("C = {}: expected a number > 0", p.c));
                }
                if let Gamma::Value(g) = p.gamma {
                    if !(g.is_finite() && g > 0.0) {
                        return Err(format!(
                            "gamma = {g}: expected \"scale\", \"auto\" or a number > 0"
                        ));
                    }
                }
                if p.kernel == SvmKernel::Poly && !(1..=100).contains(&p.degree) {
                    return Err(format!("degree = {}: expected 1 to 100", p.degree));
                }
                if !p.coef0.is_finite() {
                    return Err(format!("coef0 = {}: expected a finite number", p.coef0));
                }
                if !(p.tol.is_finite() && p.tol > 0.0) {
                    return Err(format!("tol = {}: expected a number > 0", p.tol));
                }
            }
            CandidateSpec::LinearSvm {
                c,
                tol,
                max_iterations,
                ..
            } => {
                if !(c.is_finite() && *c > 0.0) {
                    return Err(format!("C = {c}: expected a number > 0"));
                }
                if !(tol.is_finite() && *tol > 0.0) {
                    return Err(format!("tol = {tol}: expected a number > 0"));
                }
                if *max_iterations == 0 {
                    return Err("max_iterations must be at least 1".into());
                }
            }
        }
        if let CandidateSpec::RandomForest {
            n_trees,
            max_features,
            ..
        } = self
        {
            if *n_trees == 0 {
                return Err("n_trees must be at least 1".into());
            }
            if *max_features == Some(0) {
                return Err("max_features must be at least 1".into());
            }
        }
        Ok(())
    }
}

/// The training table as the model sees it: the pipeline's `f32` output.
#[derive(Debug, Clone, Copy)]
pub struct TrainData<'a> {
    /// Row-major `n_rows × n_features`.
    pub x: &'a [f32],
    pub n_features: usize,
    pub y: &'a [u32],
    pub n_classes: usize,
}

impl TrainData<'_> {
    pub fn n_rows(&self) -> usize {
        self.y.len()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.n_features..(i + 1) * self.n_features]
    }

    #[cfg(test)]
    fn x_f64(&self) -> Vec<f64> {
        self.x.iter().map(|&v| f64::from(v)).collect()
    }
}

/// A trained candidate in IR form.
#[derive(Debug, Clone)]
pub struct Trained {
    pub id: String,
    pub spec: CandidateSpec,
    pub model: Model,
    pub fit_seconds: f64,
}

/// Trains one candidate. `seed` drives every random choice of the trainer.
pub fn train(spec: &CandidateSpec, data: &TrainData<'_>, seed: u64) -> Result<Trained> {
    let id = spec.id();
    spec.validate().map_err(|m| Error::train(&id, m))?;
    if data.n_rows() == 0 {
        return Err(Error::train(&id, "no training rows"));
    }
    let start = std::time::Instant::now();
    let cw = spec.class_weight().per_class(data.y, data.n_classes);
    let cw = cw.as_deref();
    let model = match spec {
        CandidateSpec::LogisticRegression {
            alpha,
            max_iterations,
            ..
        } => logistic::fit(data, *alpha, *max_iterations, cw),
        CandidateSpec::DecisionTree {
            max_depth,
            min_samples_leaf,
            ..
        } => Ok(forest::fit_tree(
            data,
            *max_depth,
            *min_samples_leaf,
            cw,
            seed,
        )),
        CandidateSpec::RandomForest {
            n_trees,
            max_depth,
            min_samples_leaf,
            max_features,
            ..
        } => forest::fit_forest(
            data,
            *n_trees,
            *max_depth,
            *min_samples_leaf,
            *max_features,
            cw,
            seed,
        ),
        CandidateSpec::GradientBoosting { .. } => {
            let params = spec.boost_params().expect("a boosting spec");
            let targets = boost::one_hot(data.y, data.n_classes);
            boost::fit(data, &targets, &params, cw, seed)
        }
        CandidateSpec::Svm { .. } => {
            svm::fit(data, &spec.svm_params().expect("an SVM spec"), cw, seed)
        }
        CandidateSpec::LinearSvm {
            loss,
            c,
            tol,
            max_iterations,
            ..
        } => linear_svm::fit(data, *c, *loss, *tol, *max_iterations, cw, seed),
    }
    .map_err(|m| Error::train(&id, m))?;
    Ok(Trained {
        id,
        spec: spec.clone(),
        model,
        fit_seconds: start.elapsed().as_secs_f64(),
    })
}

/// Fits a student to class probabilities `targets` (`n_rows × n_classes`),
/// for distillation. Logistic regression and gradient boosting learn soft
/// targets; the others (trees, forests) take labels only. A student's
/// `class_weight` weighs each row by its label `data.y`.
pub fn fit_soft(
    spec: &CandidateSpec,
    data: &TrainData<'_>,
    targets: &[f32],
    seed: u64,
) -> Result<Model> {
    let id = spec.id();
    spec.validate().map_err(|m| Error::train(&id, m))?;
    let cw = spec.class_weight().per_class(data.y, data.n_classes);
    let cw = cw.as_deref();
    match spec {
        CandidateSpec::LogisticRegression {
            alpha,
            max_iterations,
            ..
        } => logistic::fit_soft(data, targets, *alpha, *max_iterations, cw),
        CandidateSpec::GradientBoosting { .. } => {
            let params = spec.boost_params().expect("a boosting spec");
            boost::fit(data, targets, &params, cw, seed)
        }
        _ => Err(format!("{} cannot learn soft targets", spec.family())),
    }
    .map_err(|m| Error::train(&id, m))
}

#[cfg(test)]
pub(crate) mod testdata {
    use super::TrainData;
    use crate::data::SyntheticSpec;
    use crate::pipeline::{FittedPipeline, PipelineConfig};

    /// A small standardised synthetic problem, split 75/25: (x_train, y_train,
    /// x_test, y_test, n_features).
    pub struct Problem {
        pub x_train: Vec<f32>,
        pub y_train: Vec<u32>,
        pub x_test: Vec<f32>,
        pub y_test: Vec<u32>,
        pub n_features: usize,
        pub n_classes: usize,
    }

    impl Problem {
        pub fn new(n_samples: usize, n_classes: usize, seed: u64) -> Problem {
            let spec = SyntheticSpec {
                n_samples,
                n_features: 8,
                n_informative: 4,
                n_classes,
                seed,
                ..SyntheticSpec::default()
            };
            let data = spec.generate().unwrap();
            let (train, test) = crate::data::stratified_split(&data, 0.25, seed);
            let p = FittedPipeline::fit(&train, &PipelineConfig::default()).unwrap();
            Problem {
                x_train: p.transform(&train),
                y_train: train.y.clone(),
                x_test: p.transform(&test),
                y_test: test.y.clone(),
                n_features: 8,
                n_classes,
            }
        }

        pub fn train(&self) -> TrainData<'_> {
            TrainData {
                x: &self.x_train,
                n_features: self.n_features,
                y: &self.y_train,
                n_classes: self.n_classes,
            }
        }

        pub fn test_rows(&self) -> impl Iterator<Item = &[f32]> {
            self.x_test.chunks_exact(self.n_features)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_and_distinct() {
        let specs = [
            CandidateSpec::LogisticRegression {
                alpha: 1.0,
                max_iterations: 200,
                class_weight: Default::default(),
            },
            CandidateSpec::DecisionTree {
                max_depth: Some(3),
                min_samples_leaf: 1,
                class_weight: Default::default(),
            },
            CandidateSpec::DecisionTree {
                max_depth: None,
                min_samples_leaf: 5,
                class_weight: Default::default(),
            },
            CandidateSpec::RandomForest {
                n_trees: 100,
                max_depth: None,
                min_samples_leaf: 1,
                max_features: None,
                class_weight: Default::default(),
            },
        ];
        let ids: Vec<String> = specs.iter().map(CandidateSpec::id).collect();
        assert_eq!(ids, ["logreg", "tree-d3", "tree-full-leaf5", "forest-100"]);
    }

    #[test]
    fn specs_parse_from_toml_with_defaults_and_reject_unknown_keys() {
        #[derive(Deserialize)]
        struct F {
            candidates: Vec<CandidateSpec>,
        }
        let f: F = toml::from_str(
            "[[candidates]]\nfamily = \"random_forest\"\nn_trees = 10\n[[candidates]]\nfamily = \"decision_tree\"\nmax_depth = 3\n",
        )
        .unwrap();
        assert_eq!(
            f.candidates[0],
            CandidateSpec::RandomForest {
                n_trees: 10,
                max_depth: None,
                min_samples_leaf: 1,
                max_features: None,
                class_weight: Default::default(),
            }
        );
        assert_eq!(f.candidates[1].params()["max_depth"], 3);
        // The constructors give what a table naming only the shape gives.
        assert_eq!(f.candidates[0], CandidateSpec::random_forest(10));
        let g: F = toml::from_str(
            "[[candidates]]\nfamily = \"gradient_boosting\"\nn_trees = 20\nmax_depth = 4\n",
        )
        .unwrap();
        assert_eq!(g.candidates[0], CandidateSpec::gradient_boosting(20, 4));
        let bad = toml::from_str::<F>("[[candidates]]\nfamily = \"decision_tree\"\nmax_dept = 3\n");
        assert!(bad.is_err());
        // SVMs: scikit-learn's spelling `C` (or `c`), gamma a rule or a number.
        let s: F = toml::from_str(
            "[[candidates]]\nfamily = \"svm\"\n[[candidates]]\nfamily = \"svm\"\nkernel = \"poly\"\nC = 10\ngamma = \"auto\"\n[[candidates]]\nfamily = \"svm\"\nc = 0.5\ngamma = 0.1\nprobability = true\n",
        )
        .unwrap();
        assert_eq!(s.candidates[0], CandidateSpec::svm(SvmKernel::Rbf));
        let ids: Vec<String> = s.candidates.iter().map(CandidateSpec::id).collect();
        assert_eq!(
            ids,
            ["svm-rbf", "svm-poly-c10-gauto", "svm-rbf-c0.5-g0.1-proba"]
        );
        assert_eq!(s.candidates[1].params()["C"], 10.0);
        let w: F = toml::from_str(
            "[[candidates]]\nfamily = \"svm\"\nclass_weight = \"balanced\"\n[[candidates]]\nfamily = \"linear_svm\"\nclass_weight = \"balanced\"\n",
        )
        .unwrap();
        let ids: Vec<String> = w.candidates.iter().map(CandidateSpec::id).collect();
        assert_eq!(ids, ["svm-rbf-bal", "linsvm-bal"]);
        for bad in [
            "kernel = \"cubic\"",
            "gamma = \"large\"",
            "C = 1\nc = 2",
            "cost = 1",
        ] {
            let t = format!("[[candidates]]\nfamily = \"svm\"\n{bad}\n");
            assert!(toml::from_str::<F>(&t).is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_parameters_are_refused_with_the_candidate_named() {
        let p = testdata::Problem::new(100, 2, 1);
        let spec = CandidateSpec::DecisionTree {
            max_depth: Some(0),
            min_samples_leaf: 1,
            class_weight: Default::default(),
        };
        let e = train(&spec, &p.train(), 0).unwrap_err().to_string();
        assert_eq!(
            e,
            "training candidate `tree-d0`: max_depth must be at least 1 (omit it for no limit)"
        );
        let svm = |c: f64, gamma: Gamma| CandidateSpec::Svm {
            kernel: SvmKernel::Rbf,
            c,
            gamma,
            degree: 3,
            coef0: 0.0,
            probability: false,
            tol: 1e-3,
            class_weight: Default::default(),
        };
        let e = train(&svm(0.0, Gamma::default()), &p.train(), 0).unwrap_err();
        assert!(
            e.to_string().contains("C = 0: expected a number > 0"),
            "{e}"
        );
        let e = train(&svm(1.0, Gamma::Value(-1.0)), &p.train(), 0).unwrap_err();
        assert!(e.to_string().contains("gamma = -1"), "{e}");
    }
}
