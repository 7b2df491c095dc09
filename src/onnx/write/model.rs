//! Model (IR) → ONNX nodes.
//!
//! Every model becomes three steps: an `ai.onnx.ml` operator computing raw
//! scores, the link written with plain `ai.onnx` operators, and
//! `ArgMax` over the probabilities for the label:
//!
//! | IR | scores | probabilities |
//! |---|---|---|
//! | trees, `Average` | `TreeEnsembleClassifier` (every leaf names all K classes) | `Mul` by 1/T |
//! | trees, boosted softmax | `TreeEnsembleClassifier` (each tree names its class), `base_values` | `Softmax` |
//! | trees, boosted logistic | `TreeEnsembleRegressor`, one target, `base_values` | `Sigmoid`, `1 − p`, `Concat` |
//! | linear, softmax | `LinearClassifier`, K rows | `Softmax` |
//! | linear, logistic | `LinearClassifier`, rows `[0, w]` | `Softmax` (of `[0, z]`, = σ(z)) |
//!
//! Why not the operators' own `post_transform` and `label` output: for two
//! classes the ONNX classifiers have special cases (one score column becomes
//! two in runtime-specific ways, and runtimes pick different labels from the
//! same scores). Raw scores with `post_transform = NONE` and the link in
//! standard operators mean the same thing in every runtime, and a label
//! taken by `ArgMax` of the probabilities cannot disagree with them.
//! The order of arithmetic follows the IR's (sum, then scale), so results
//! agree to float rounding.
//!
//! Splits: the IR sends `x <= t` left and `NaN` right; the export writes
//! `BRANCH_LEQ` with the left child as the true branch and
//! `nodes_missing_value_tracks_true = 0`, so `NaN` takes the false (right)
//! branch there too.
//!
//! Quantized models export as float models that predict the same classes:
//! binned splits become float splits on the cut values (`x <= cuts[j]`
//! exactly when `bin(x) <= j`, `NaN` right in both), int8 leaves become
//! their integer values followed by a `Mul` by the ensemble's scale (the IR's
//! order: integer sums, then scale), int8 linear weights become their
//! integers with a `Mul` by each output's scale. What is not preserved is
//! the compact storage and the binned traversal: the file holds floats.
//!
//! Kernel SVMs ([`SvmModel`]) are the exception to "label = `ArgMax` of the
//! probabilities": their class is the one-vs-one vote, and Platt-coupled
//! probabilities can favour another class (as in libsvm and scikit-learn).
//! `SVMClassifier` gets the model's own layout (libsvm's): `coefficients`
//! are `dual_coef` as stored, `rho` the intercepts as stored (the operator
//! adds `rho` to the kernel sum, and a positive sum votes for the pair's
//! first class, the IR's convention too). Then:
//!
//! | SVM | `SVMClassifier` gives | label | probabilities |
//! |---|---|---|---|
//! | no Platt | decision values per pair | vote in standard operators (`Greater`, `MatMul`), `ArgMax` | votes ÷ pairs |
//! | Platt, 2 classes | the decision value | the same vote | Platt's sigmoid in standard operators, clipped to [1e-7, 1 − 1e-7] |
//! | Platt, ≥ 3 classes | with `prob_a`, `prob_b`: the coupled probabilities | the operator's `label` (its own vote) | the operator's |
//!
//! With 2 classes and no `prob_a`, onnxruntime writes the decision `f` as
//! two columns `[−f, f]`; the graph takes the last column, which is `f`
//! also for a runtime that writes only one. Two-class Platt probabilities
//! are not left to the operator because onnxruntime runs the iterative
//! coupling even for one pair and stops at libsvm's tolerance (up to 3.7e-3
//! off on the breast cancer cases of `examples/onnx_cases.rs`), while the IR
//! takes the pair's probability as it is.

use crate::error::{Error, Result};
use crate::model::{
    Kernel, Leaves, LinearModel, Link, Model, Output, QuantLinear, QuantTrees, SvmModel,
    TreeEnsemble,
};
use crate::onnx::graph::{attr_floats, attr_int, attr_ints, attr_string, attr_strings};
use crate::onnx::graph::{GraphBuilder, ML_DOMAIN, OPSET, OPSET_ML};
use crate::onnx::proto::{AttributeProto, ModelProto};

/// Names of the two tensors a model writes: `label` int64 `[N]` (a class
/// index) and `probabilities` float `[N, n_classes]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOutputs {
    pub label: String,
    pub probabilities: String,
}

impl Default for ModelOutputs {
    fn default() -> ModelOutputs {
        ModelOutputs {
            label: "label".into(),
            probabilities: "probabilities".into(),
        }
    }
}

/// Appends the nodes that compute `model` from the float tensor `features`
/// (`[N, model.n_features()]`, already preprocessed) to `g`, writing the
/// tensors named in `out`. Does not declare graph inputs or outputs, so a
/// caller can put preprocessing in front and declare them itself.
pub fn append_model(
    g: &mut GraphBuilder,
    model: &Model,
    features: &str,
    out: &ModelOutputs,
) -> Result<()> {
    model
        .check()
        .map_err(|m| Error::onnx("export", format!("inconsistent model: {m}")))?;
    match model {
        Model::Linear(m) => linear(g, m, None, features, out),
        Model::QuantLinear(q) => {
            let (m, scales) = dequantize_linear(q);
            linear(g, &m, Some(&scales), features, out)
        }
        Model::Trees(t) => trees(g, t, None, features, out),
        Model::QuantTrees(q) => {
            let (t, scale) = dequantize_trees(q);
            trees(g, &t, scale, features, out)
        }
        // The SVM's class is its one-vs-one vote, which Platt's
        // probabilities need not agree with: it writes its own label.
        Model::Svm(m) => return svm(g, m, features, out),
        // The float model its predictions come from (see `QuantSvm`).
        Model::QuantSvm(q) => return svm(g, &q.dequantized(), features, out),
    }
    g.node(
        "ArgMax",
        "",
        &[&out.probabilities],
        &[&out.label],
        vec![attr_int("axis", 1), attr_int("keepdims", 0)],
    );
    Ok(())
}

/// The model alone as an ONNX model: input `features` float
/// `[N, n_features]` (the preprocessed feature vector), outputs `label` and
/// `probabilities`.
pub fn model_to_onnx(model: &Model) -> Result<ModelProto> {
    let mut g = GraphBuilder::new("optbench_model");
    g.float_input("features", model.n_features());
    let out = ModelOutputs::default();
    append_model(&mut g, model, "features", &out)?;
    g.int64_output(&out.label);
    g.float_output(&out.probabilities, model.n_classes());
    Ok(g.finish(&format!(
        "optbench model ({}), {} features -> {} classes; opsets ai.onnx {OPSET}, {ML_DOMAIN} {OPSET_ML}. \
         Input `features` is the preprocessed feature vector; `label` is a class index.",
        model.describe(),
        model.n_features(),
        model.n_classes()
    )))
}

/// Integer weights as floats, and each output's scale.
fn dequantize_linear(q: &QuantLinear) -> (LinearModel, Vec<f32>) {
    let m = LinearModel {
        n_features: q.n_features,
        n_classes: q.n_classes,
        link: q.link,
        weights: q.weights.iter().map(|&w| f32::from(w)).collect(),
        bias: q.bias.clone(),
    };
    (m, q.scales.clone())
}

fn linear(
    g: &mut GraphBuilder,
    m: &LinearModel,
    scales: Option<&[f32]>,
    features: &str,
    out: &ModelOutputs,
) {
    let d = m.n_features;
    let k = m.n_classes;
    // A logistic model becomes two rows [0, w]: softmax(0, z) = (1 − σ(z), σ(z)).
    let (weights, bias, scales) = match m.link {
        Link::Softmax => (
            m.weights.clone(),
            m.bias.clone(),
            scales.map(<[f32]>::to_vec),
        ),
        Link::Logistic => {
            let mut w = vec![0.0; d];
            w.extend_from_slice(&m.weights);
            (w, vec![0.0, m.bias[0]], scales.map(|s| vec![1.0, s[0]]))
        }
    };
    let label = g.fresh("unused_label");
    let mut scores = g.fresh("scores");
    // Quantized: integer dot products, then scale, then bias (the IR's order).
    let intercepts = if scales.is_some() {
        vec![0.0; bias.len()]
    } else {
        bias.clone()
    };
    g.node(
        "LinearClassifier",
        ML_DOMAIN,
        &[features],
        &[&label, &scores],
        vec![
            attr_ints("classlabels_ints", (0..k as i64).collect()),
            attr_floats("coefficients", weights),
            attr_floats("intercepts", intercepts),
            attr_int("multi_class", 1),
            attr_string("post_transform", "NONE"),
        ],
    );
    if let Some(s) = scales {
        scores = mul(g, &scores, &s);
        scores = add(g, &scores, &bias);
    }
    g.node(
        "Softmax",
        "",
        &[&scores],
        &[&out.probabilities],
        vec![attr_int("axis", 1)],
    );
}

fn mul(g: &mut GraphBuilder, x: &str, c: &[f32]) -> String {
    binary(g, "Mul", x, c)
}

fn add(g: &mut GraphBuilder, x: &str, c: &[f32]) -> String {
    binary(g, "Add", x, c)
}

/// `x ∘ c` with `c` a constant broadcast over rows (`[1]` or `[len]`).
fn binary(g: &mut GraphBuilder, op: &str, x: &str, c: &[f32]) -> String {
    let c = g.constant(&op.to_lowercase(), &[c.len() as i64], c);
    let y = g.fresh("scores");
    g.node(op, "", &[x, &c], &[&y], vec![]);
    y
}

/// The float ensemble a quantized one stands for: thresholds are the cut
/// values; int8 leaves keep their integer values (shifted by their tree's
/// power of two where they have one, as optbench sums them) and the scale
/// is returned.
fn dequantize_trees(q: &QuantTrees) -> (TreeEnsemble, Option<f32>) {
    let values = q.summed_leaves();
    let scale = match &q.leaves {
        Leaves::F32(_) => None,
        Leaves::Int8 { scale, .. } | Leaves::Int8Shifted { scale, .. } => Some(*scale),
    };
    let width = match q.output {
        Output::Average => q.n_classes,
        Output::Boosted { .. } => 1,
    };
    let mut t = TreeEnsemble::new(q.n_features, q.n_classes);
    t.output = q.output.clone();
    if let Output::Boosted { tree_output, .. } = &mut t.output {
        tree_output.clear();
    }
    for (ti, tree) in q.trees.iter().enumerate() {
        let nodes = &q.nodes[tree.node_base as usize..];
        t.roots.push(t.nodes.len() as u32);
        // Pre-order: (child reference, parent to patch, is right child).
        let mut stack = vec![(tree.root, None::<(u32, bool)>)];
        while let Some((c, parent)) = stack.pop() {
            let id = if c >= 0 {
                let n = &nodes[c as usize];
                let f = usize::from(n.feature);
                let cut = q.cuts[q.cut_start[f] as usize + usize::from(n.bin)];
                let id = t.push_split(u32::from(n.feature), cut);
                stack.push((n.right, Some((id, true))));
                stack.push((n.left, Some((id, false))));
                id
            } else {
                let l = tree.leaf_base as usize + (!c) as usize;
                t.push_leaf(&values[l * width..(l + 1) * width])
            };
            if let Some((p, right)) = parent {
                let n = &mut t.nodes[p as usize];
                if right {
                    n.right = id;
                } else {
                    n.left = id;
                }
            }
        }
        if let (Output::Boosted { tree_output, .. }, Output::Boosted { tree_output: q, .. }) =
            (&mut t.output, &q.output)
        {
            tree_output.push(q[ti]);
        }
    }
    (t, scale)
}

/// The node attributes shared by both tree operators, and the leaves in
/// the order they were visited: (tree, node id, leaf number).
fn tree_nodes(t: &TreeEnsemble) -> (Vec<AttributeProto>, Vec<(usize, i64, usize)>) {
    let n = t.nodes.len();
    let (mut tree_ids, mut node_ids, mut features) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut modes, mut values, mut trues, mut falses) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut leaves = Vec::new();
    for tree in 0..t.n_trees() {
        let root = t.roots[tree] as usize;
        for i in root..t.tree_end(tree) {
            let node = &t.nodes[i];
            let id = (i - root) as i64;
            tree_ids.push(tree as i64);
            node_ids.push(id);
            if node.is_leaf() {
                features.push(0);
                modes.push("LEAF");
                values.push(0.0);
                trues.push(0);
                falses.push(0);
                leaves.push((tree, id, node.left as usize));
            } else {
                features.push(i64::from(node.feature));
                modes.push("BRANCH_LEQ");
                values.push(node.threshold);
                trues.push(i64::from(node.left) - root as i64);
                falses.push(i64::from(node.right) - root as i64);
            }
        }
    }
    let attrs = vec![
        attr_ints("nodes_treeids", tree_ids),
        attr_ints("nodes_nodeids", node_ids),
        attr_ints("nodes_featureids", features),
        attr_strings("nodes_modes", &modes),
        attr_floats("nodes_values", values),
        attr_ints("nodes_truenodeids", trues),
        attr_ints("nodes_falsenodeids", falses),
        attr_ints("nodes_missing_value_tracks_true", vec![0; n]),
    ];
    (attrs, leaves)
}

fn trees(
    g: &mut GraphBuilder,
    t: &TreeEnsemble,
    scale: Option<f32>,
    features: &str,
    out: &ModelOutputs,
) {
    let (mut attrs, leaves) = tree_nodes(t);
    let k = t.n_classes;
    let (mut ids, mut nodes, mut classes, mut weights) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    match &t.output {
        Output::Average => {
            // Every leaf names every class, so that no runtime takes the
            // two-class "one score column" path.
            for &(tree, node, leaf) in &leaves {
                for j in 0..k {
                    ids.push(tree as i64);
                    nodes.push(node);
                    classes.push(j as i64);
                    weights.push(t.leaf_values[leaf * k + j]);
                }
            }
            let (label, mut scores) = (g.fresh("unused_label"), g.fresh("scores"));
            attrs.extend([
                attr_ints("class_treeids", ids),
                attr_ints("class_nodeids", nodes),
                attr_ints("class_ids", classes),
                attr_floats("class_weights", weights),
                attr_ints("classlabels_int64s", (0..k as i64).collect()),
                attr_string("post_transform", "NONE"),
            ]);
            g.node(
                "TreeEnsembleClassifier",
                ML_DOMAIN,
                &[features],
                &[&label, &scores],
                attrs,
            );
            if let Some(s) = scale {
                scores = mul(g, &scores, &[s]);
            }
            // The IR's mean: sum, then × (1/T) in f32.
            let c = g.constant("mul", &[1], &[1.0 / t.n_trees() as f32]);
            g.node("Mul", "", &[&scores, &c], &[&out.probabilities], vec![]);
        }
        Output::Boosted {
            link,
            base,
            tree_output,
        } => {
            for &(tree, node, leaf) in &leaves {
                ids.push(tree as i64);
                nodes.push(node);
                classes.push(i64::from(tree_output[tree]));
                weights.push(t.leaf_values[leaf]);
            }
            // Float leaves: the base goes into base_values; int8 leaves:
            // integer sums, × scale, + base (the IR's order).
            if scale.is_none() {
                attrs.push(attr_floats("base_values", base.clone()));
            }
            let mut scores = g.fresh("scores");
            match link {
                Link::Softmax => {
                    let label = g.fresh("unused_label");
                    attrs.extend([
                        attr_ints("class_treeids", ids),
                        attr_ints("class_nodeids", nodes),
                        attr_ints("class_ids", classes),
                        attr_floats("class_weights", weights),
                        attr_ints("classlabels_int64s", (0..k as i64).collect()),
                        attr_string("post_transform", "NONE"),
                    ]);
                    g.node(
                        "TreeEnsembleClassifier",
                        ML_DOMAIN,
                        &[features],
                        &[&label, &scores],
                        attrs,
                    );
                }
                Link::Logistic => {
                    attrs.extend([
                        attr_ints("target_treeids", ids),
                        attr_ints("target_nodeids", nodes),
                        attr_ints("target_ids", classes),
                        attr_floats("target_weights", weights),
                        attr_int("n_targets", 1),
                        attr_string("aggregate_function", "SUM"),
                        attr_string("post_transform", "NONE"),
                    ]);
                    g.node(
                        "TreeEnsembleRegressor",
                        ML_DOMAIN,
                        &[features],
                        &[&scores],
                        attrs,
                    );
                }
            }
            if let Some(s) = scale {
                scores = mul(g, &scores, &[s]);
                scores = add(g, &scores, base);
            }
            match link {
                Link::Softmax => g.node(
                    "Softmax",
                    "",
                    &[&scores],
                    &[&out.probabilities],
                    vec![attr_int("axis", 1)],
                ),
                Link::Logistic => logistic_pair(g, &scores, &out.probabilities),
            }
        }
    }
}

/// `[N, 1]` log-odds → `[N, 2]` probabilities `(1 − σ(z), σ(z))`, as the
/// IR's logistic link computes them.
fn logistic_pair(g: &mut GraphBuilder, z: &str, probabilities: &str) {
    let p1 = g.fresh("p1");
    g.node("Sigmoid", "", &[z], &[&p1], vec![]);
    let one = g.constant("one", &[1], &[1.0]);
    let p0 = g.fresh("p0");
    g.node("Sub", "", &[&one, &p1], &[&p0], vec![]);
    g.node(
        "Concat",
        "",
        &[&p0, &p1],
        &[probabilities],
        vec![attr_int("axis", 1)],
    );
}

/// The `SVMClassifier` attributes of `m`, with Platt's parameters when
/// `platt` (see the module docs for the sign conventions).
fn svm_attributes(m: &SvmModel, platt: bool) -> Vec<AttributeProto> {
    let (name, params) = match m.kernel {
        Kernel::Linear => ("LINEAR", [0.0, 0.0, 0.0]),
        Kernel::Rbf { gamma } => ("RBF", [gamma, 0.0, 0.0]),
        Kernel::Poly {
            gamma,
            coef0,
            degree,
        } => ("POLY", [gamma, coef0, degree as f32]),
        Kernel::Sigmoid { gamma, coef0 } => ("SIGMOID", [gamma, coef0, 0.0]),
    };
    let mut attrs = vec![
        attr_string("kernel_type", name),
        attr_floats("kernel_params", params.to_vec()),
        attr_floats("support_vectors", m.vectors.clone()),
        attr_ints(
            "vectors_per_class",
            m.per_class.iter().map(|&n| i64::from(n)).collect(),
        ),
        attr_floats("coefficients", m.dual_coef.clone()),
        attr_floats("rho", m.intercepts.clone()),
        attr_ints("classlabels_ints", (0..m.n_classes as i64).collect()),
        attr_string("post_transform", "NONE"),
    ];
    if let (true, Some(p)) = (platt, &m.platt) {
        attrs.push(attr_floats("prob_a", p.a.clone()));
        attrs.push(attr_floats("prob_b", p.b.clone()));
    }
    attrs
}

fn svm(g: &mut GraphBuilder, m: &SvmModel, features: &str, out: &ModelOutputs) -> Result<()> {
    let k = m.n_classes;
    let pairs = m.n_pairs();
    if k > 2 && m.platt.is_some() {
        // The operator's coupling is libsvm's multiclass_probability, as
        // the IR's; its label is the pairs' vote.
        g.node(
            "SVMClassifier",
            ML_DOMAIN,
            &[features],
            &[&out.label, &out.probabilities],
            svm_attributes(m, true),
        );
        return Ok(());
    }
    let (unused, mut dec) = (g.fresh("unused_label"), g.fresh("decisions"));
    g.node(
        "SVMClassifier",
        ML_DOMAIN,
        &[features],
        &[&unused, &dec],
        svm_attributes(m, false),
    );
    if k == 2 {
        let (starts, ends, axes) = (
            g.constant_i64("starts", &[1], &[-1]),
            g.constant_i64("ends", &[1], &[i64::MAX]),
            g.constant_i64("axes", &[1], &[1]),
        );
        let last = g.fresh("decision");
        g.node(
            "Slice",
            "",
            &[&dec, &starts, &ends, &axes],
            &[&last],
            vec![],
        );
        dec = last;
    }
    // votes = w·M + c, with w_p = [dec_p > 0] (a win for the pair's first
    // class i), M_{p,i} = 1, M_{p,j} = −1 and c_j = the pairs where j is
    // second (j of them): small integers, exact in f32.
    let zero = g.constant("zero", &[1], &[0.0]);
    let (wins, winsf) = (g.fresh("wins"), g.fresh("wins_f"));
    g.node("Greater", "", &[&dec, &zero], &[&wins], vec![]);
    g.node("Cast", "", &[&wins], &[&winsf], vec![attr_int("to", 1)]);
    let mut mat = vec![0.0f32; pairs * k];
    let mut p = 0;
    for i in 0..k {
        for j in i + 1..k {
            mat[p * k + i] = 1.0;
            mat[p * k + j] = -1.0;
            p += 1;
        }
    }
    let mat = g.constant("vote_matrix", &[pairs as i64, k as i64], &mat);
    let (won, votes) = (g.fresh("won"), g.fresh("votes"));
    g.node("MatMul", "", &[&winsf, &mat], &[&won], vec![]);
    let seconds: Vec<f32> = (0..k).map(|j| j as f32).collect();
    let seconds = g.constant("seconds", &[k as i64], &seconds);
    g.node("Add", "", &[&won, &seconds], &[&votes], vec![]);
    // The first class with the most votes (ArgMax's default), as the IR's
    // tie rule.
    g.node(
        "ArgMax",
        "",
        &[&votes],
        &[&out.label],
        vec![attr_int("axis", 1), attr_int("keepdims", 0)],
    );
    match &m.platt {
        None => {
            let n = g.constant("pairs", &[1], &[pairs as f32]);
            g.node("Div", "", &[&votes, &n], &[&out.probabilities], vec![]);
        }
        Some(platt) => {
            // P(class 0) = 1 / (1 + exp(A f + B)) = σ(−(A f + B)).
            let f = mul(g, &dec, &platt.a);
            let f = add(g, &f, &platt.b);
            let (neg, r, rc) = (g.fresh("neg"), g.fresh("p0"), g.fresh("p0c"));
            g.node("Neg", "", &[&f], &[&neg], vec![]);
            g.node("Sigmoid", "", &[&neg], &[&r], vec![]);
            let (lo, hi) = (
                g.constant("min_prob", &[], &[1e-7]),
                g.constant("max_prob", &[], &[1.0 - 1e-7]),
            );
            g.node("Clip", "", &[&r, &lo, &hi], &[&rc], vec![]);
            let one = g.constant("one", &[1], &[1.0]);
            let p1 = g.fresh("p1");
            g.node("Sub", "", &[&one, &rc], &[&p1], vec![]);
            g.node(
                "Concat",
                "",
                &[&rc, &p1],
                &[&out.probabilities],
                vec![attr_int("axis", 1)],
            );
        }
    }
    Ok(())
}
