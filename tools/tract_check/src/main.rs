//! optbench's ONNX exports run in tract, a pure-Rust ONNX runtime: the
//! second runtime of the ONNX proof, beside onnxruntime
//! (`scripts/onnx_check.py`). It reads the same files and the same
//! sidecars, written by `cargo run --example onnx_cases`:
//!
//! ```text
//! tract_check check-export DIR    DIR/<case>.onnx (`onnx_cases export`): the model alone,
//!                                 input `features` float [N, d]; DIR/<case>.json holds the
//!                                 rows and optbench's labels and probabilities
//! tract_check check-serving DIR   DIR/serving_*.onnx (`onnx_cases export-serving`): the
//!                                 whole serving path, one input per column
//! ```
//!
//! Every file either runs in tract and agrees with optbench (probabilities
//! within 1e-5, classes 100 % equal except exact ties), or contains an
//! operator tract does not implement *and* is expected to (see
//! [`expected_gaps`]); anything else fails: a file that should run
//! and does not load, a file that disagrees, and a file listed as
//! unsupported that tract now loads (so the list cannot go stale).
//! Exit 1 on any failure.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::*;

/// The tract-onnx version this checker is built against (Cargo.toml pins it).
const TRACT: &str = "tract-onnx 0.23.9";

/// Probabilities must agree within this; classes must be equal unless the
/// two highest of optbench's probabilities are this close (an exact tie up
/// to rounding). The same rule as scripts/onnx_check.py.
const TOL: f32 = 1e-5;

/// What optbench writes that tract cannot run, and why optbench writes it.
/// Each gap is an operator tract's ONNX loader has no builder for, except
/// `IsNaN(double)`: tract has `IsNaN`, but for f16 and f32 only (its output
/// then stays double, and the `Where` after it fails type analysis).
const GAPS: &[(&str, &str)] = &[
    (
        "TreeEnsembleRegressor",
        "binary gradient boosting: one log-odds score per row, written as a regressor \
         + Sigmoid so that no runtime's two-class classifier special case applies \
         (src/onnx/write/model.rs)",
    ),
    (
        "SVMClassifier",
        "kernel SVM: support vectors, dual coefficients and intercepts in libsvm's layout \
         (src/onnx/write/model.rs)",
    ),
    (
        "LabelEncoder",
        "serving path, categorical column: category text -> one-hot slot (src/onnx/write/pipeline.rs)",
    ),
    (
        "OneHotEncoder",
        "serving path, categorical column: slot -> one-hot block (src/onnx/write/pipeline.rs)",
    ),
    (
        IS_NAN_DOUBLE,
        "serving path, numeric column: imputation tests the double input for NaN \
         (optbench standardises in f64; src/onnx/write/pipeline.rs); tract's IsNaN takes f16/f32 only",
    ),
];

const IS_NAN_DOUBLE: &str = "IsNaN(double)";

/// A `onnx_cases export` sidecar.
#[derive(Deserialize)]
struct ModelCase {
    name: String,
    n_features: usize,
    n_classes: usize,
    /// `null` is NaN.
    rows: Vec<Vec<Option<f32>>>,
    label: Vec<u32>,
    probabilities: Vec<Vec<f32>>,
}

/// A `onnx_cases export-serving` sidecar: raw rows, one value per column.
#[derive(Deserialize)]
struct ServingCase {
    name: String,
    /// (column name, "numeric" | "categorical").
    columns: Vec<(String, String)>,
    /// A number or `null` (missing) for a numeric column, text (`""` =
    /// missing) for a categorical one.
    rows: Vec<Vec<serde_json::Value>>,
    label: Vec<u32>,
    probabilities: Vec<Vec<f32>>,
}

/// What became of one file.
enum Outcome {
    /// Ran in tract and was compared.
    Ran {
        ok: bool,
        same: usize,
        ties: usize,
        n: usize,
        max_diff: f32,
        note: String,
    },
    /// Not runnable in tract, as expected: the missing operators and
    /// tract's own load error.
    Unsupported {
        ops: BTreeSet<String>,
        error: String,
    },
    /// Anything else: the checker fails.
    Failed(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["check-export", dir] => check(Path::new(dir), false),
        ["check-serving", dir] => check(Path::new(dir), true),
        _ => Err("usage: tract_check check-export|check-serving DIR".into()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What in a file tract cannot run: operators its ONNX loader has no
/// builder for (tract registers them by name alone, whatever the domain),
/// and `IsNaN` applied to a double graph input.
fn gaps(onnx: &tract_onnx::Onnx, proto: &ModelProto) -> BTreeSet<String> {
    use tract_onnx::pb::{tensor_proto::DataType, type_proto::Value};
    fn walk(
        onnx: &tract_onnx::Onnx,
        g: &tract_onnx::pb::GraphProto,
        doubles: &BTreeSet<&str>,
        out: &mut BTreeSet<String>,
    ) {
        for n in &g.node {
            if !onnx.op_register.0.contains_key(&n.op_type) {
                out.insert(n.op_type.clone());
            }
            if n.op_type == "IsNaN" && n.input.iter().any(|i| doubles.contains(i.as_str())) {
                out.insert(IS_NAN_DOUBLE.to_string());
            }
            for a in &n.attribute {
                for sub in a.g.iter().chain(&a.graphs) {
                    walk(onnx, sub, doubles, out);
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    if let Some(g) = &proto.graph {
        let doubles: BTreeSet<&str> = g
            .input
            .iter()
            .filter(|i| {
                matches!(
                    i.r#type.as_ref().and_then(|t| t.value.as_ref()),
                    Some(Value::TensorType(t)) if t.elem_type == DataType::Double as i32
                )
            })
            .map(|i| i.name.as_str())
            .collect();
        walk(onnx, g, &doubles, &mut out);
    }
    out
}

/// The gaps this file is expected to hit, by what the file is: binary
/// gradient boosting is a `TreeEnsembleRegressor`, an SVM (model only or
/// serving path) an `SVMClassifier`; a serving path encodes a categorical
/// column with `LabelEncoder` and `OneHotEncoder` and imputes a numeric one
/// with `IsNaN` on double. Every other model-only file
/// (logistic regression, decision tree, random forest, 3-class boosting;
/// float, binned and int8) must run.
fn expected_gaps(
    name: &str,
    n_classes: usize,
    numeric: bool,
    categorical: bool,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if name.contains("gradient_boosting") && n_classes == 2 {
        out.insert("TreeEnsembleRegressor".to_string());
    }
    if name.contains("svm") {
        out.insert("SVMClassifier".to_string());
    }
    if categorical {
        out.insert("LabelEncoder".to_string());
        out.insert("OneHotEncoder".to_string());
    }
    if numeric {
        out.insert(IS_NAN_DOUBLE.to_string());
    }
    out
}

fn why(gap: &str) -> &'static str {
    GAPS.iter()
        .find(|(g, _)| *g == gap)
        .map_or("not in the checker's list of expected gaps", |(_, w)| w)
}

/// Sidecars in `dir` (sorted), each with its `.onnx`.
fn sidecars(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, String> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(format!("no cases in {}", dir.display()));
    }
    Ok(out)
}

fn check(dir: &Path, serving: bool) -> Result<bool, String> {
    let onnx = tract_onnx::onnx();
    // kind -> (files, class counts, max |Δp|), for the summary.
    let mut ran: BTreeMap<String, (usize, BTreeSet<usize>, f32)> = BTreeMap::new();
    let mut unsupported: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut passed, mut failed) = (0usize, 0usize);
    for json in sidecars(dir, if serving { "serving_" } else { "" })? {
        let text = std::fs::read(&json).map_err(|e| format!("{}: {e}", json.display()))?;
        let path = json.with_extension("onnx");
        let proto = onnx.proto_model_for_path(&path);
        let (name, n_classes, outcome) = if serving {
            let case: ServingCase =
                serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", json.display()))?;
            let k = case.probabilities.first().map_or(0, Vec::len);
            if case.columns.is_empty() {
                return Err(format!("{}: no columns", json.display()));
            }
            let numeric = case.columns.iter().any(|(_, kind)| kind == "numeric");
            let categorical = case.columns.iter().any(|(_, kind)| kind != "numeric");
            let expected = expected_gaps(&case.name, k, numeric, categorical);
            let outcome = match &proto {
                Ok(proto) => run_serving(&onnx, proto, &case, &expected),
                Err(e) => Outcome::Failed(format!("{}: unreadable: {e:#}", path.display())),
            };
            (case.name, k, outcome)
        } else {
            let case: ModelCase =
                serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", json.display()))?;
            let expected = expected_gaps(&case.name, case.n_classes, false, false);
            let outcome = match &proto {
                Ok(proto) => run_model(&onnx, proto, &case, &expected),
                Err(e) => Outcome::Failed(format!("{}: unreadable: {e:#}", path.display())),
            };
            (case.name, case.n_classes, outcome)
        };
        match outcome {
            Outcome::Ran {
                ok,
                same,
                ties,
                n,
                max_diff,
                note,
            } => {
                println!(
                    "{} {name:<48} classes {same}/{n} equal ({ties} exact ties), max |Δp| {max_diff:.2e}{note}",
                    if ok { "ok  " } else { "FAIL" },
                );
                if ok {
                    passed += 1;
                    let e = ran.entry(kind_of(&name)).or_default();
                    e.0 += 1;
                    e.1.insert(n_classes);
                    e.2 = e.2.max(max_diff);
                } else {
                    failed += 1;
                }
            }
            Outcome::Unsupported { ops, error } => {
                let ops: Vec<String> = ops.into_iter().collect();
                println!(
                    "n/a  {name:<48} not runnable in {TRACT}, as expected: {}; tract says: {error}",
                    ops.join(", ")
                );
                unsupported.entry(ops.join(" + ")).or_default().push(name);
            }
            Outcome::Failed(why) => {
                println!("FAIL {name:<48} {why}");
                failed += 1;
            }
        }
    }
    println!("\nruns in {TRACT} and agrees with optbench:");
    for (kind, (files, classes, diff)) in &ran {
        let classes: Vec<String> = classes.iter().map(usize::to_string).collect();
        println!(
            "  {kind:<32} {files:>2} file{} ({} classes), max |Δp| {diff:.2e}",
            if *files == 1 { "" } else { "s" },
            classes.join(" and ")
        );
    }
    if !unsupported.is_empty() {
        println!("not runnable in {TRACT}, as expected:");
        for (ops, names) in &unsupported {
            let s = if names.len() == 1 { "" } else { "s" };
            println!("  {ops}: {} file{s} ({})", names.len(), names.join(", "));
            for op in ops.split(" + ") {
                println!("      {op}: {}", why(op));
            }
        }
    }
    let n_unsupported: usize = unsupported.values().map(Vec::len).sum();
    println!("{passed} passed, {failed} failed, {n_unsupported} skipped");
    Ok(failed == 0)
}

/// A case name without its data set: `breast_cancer_random_forest_int8` →
/// `random_forest_int8`, `serving_penguins_decision_tree` → `serving_decision_tree`.
fn kind_of(name: &str) -> String {
    for data in ["breast_cancer_", "wine_", "exercise2_", "penguins_"] {
        if let Some(i) = name.find(data) {
            return format!("{}{}", &name[..i], &name[i + data.len()..]);
        }
    }
    name.to_string()
}

/// Checks the file's operators against tract's and against what is
/// expected, and loads it into a runnable plan for `inputs` (one fact per
/// graph input, in order). `Err` is the file's outcome when it does not get
/// that far.
fn load(
    onnx: &tract_onnx::Onnx,
    proto: &ModelProto,
    expected: &BTreeSet<String>,
    inputs: &[InferenceFact],
) -> Result<Arc<TypedRunnableModel>, Outcome> {
    let missing = gaps(onnx, proto);
    let built = || -> TractResult<Arc<TypedRunnableModel>> {
        let mut model = onnx.model_for_proto_model(proto)?;
        for (i, fact) in inputs.iter().enumerate() {
            model = model.with_input_fact(i, fact.clone())?;
        }
        model.into_optimized()?.into_runnable()
    };
    let result = built();
    match (missing.is_empty(), expected.is_empty(), result) {
        (true, true, Ok(plan)) => Ok(plan),
        (true, true, Err(e)) => Err(Outcome::Failed(format!(
            "every operator is in {TRACT}, yet it does not load: {e:#}"
        ))),
        (_, _, Ok(_)) | (true, false, Err(_)) => Err(Outcome::Failed(format!(
            "expected to lack {:?} in {TRACT}, but tract {}: update expected_gaps()",
            expected,
            if missing.is_empty() {
                "has every operator"
            } else {
                "lacks something else"
            }
        ))),
        (false, _, Err(e)) if missing == *expected => Err(Outcome::Unsupported {
            ops: missing,
            error: root_cause(&e),
        }),
        (false, _, Err(e)) => Err(Outcome::Failed(format!(
            "lacks {missing:?} in {TRACT} (expected {expected:?}): {}",
            root_cause(&e)
        ))),
    }
}

/// tract's error in one line: the outermost context (which node) and the
/// innermost cause (what went wrong there).
fn root_cause(e: &TractError) -> String {
    let first = e.to_string();
    let last = e.root_cause().to_string();
    if first == last {
        first
    } else {
        format!("{first}: {last}")
    }
}

/// The file's `label` and `probabilities` outputs, by name.
fn outputs(
    plan: &TypedRunnableModel,
    out: TVec<TValue>,
) -> TractResult<(Vec<i64>, Vec<f32>, usize)> {
    let model = plan.model();
    let mut label = None;
    let mut proba = None;
    for (outlet, value) in model.output_outlets()?.iter().zip(out) {
        match model.outlet_label(*outlet) {
            Some("label") => label = Some(value),
            Some("probabilities") => proba = Some(value),
            _ => {}
        }
    }
    let (Some(label), Some(proba)) = (label, proba) else {
        return Err(TractError::msg("no `label` and `probabilities` outputs"));
    };
    let label = label.cast_to::<i64>()?;
    let width = *proba.shape().get(1).unwrap_or(&0);
    let proba = proba.cast_to::<f32>()?;
    Ok((
        label.try_as_plain_ram()?.as_slice::<i64>()?.to_vec(),
        proba.try_as_plain_ram()?.as_slice::<f32>()?.to_vec(),
        width,
    ))
}

fn run_model(
    onnx: &tract_onnx::Onnx,
    proto: &ModelProto,
    case: &ModelCase,
    expected: &BTreeSet<String>,
) -> Outcome {
    let (n, d) = (case.rows.len(), case.n_features);
    let plan = match load(onnx, proto, expected, &[f32::fact([n, d]).into()]) {
        Ok(p) => p,
        Err(o) => return o,
    };
    let x: Vec<f32> = case
        .rows
        .iter()
        .flat_map(|r| r.iter().map(|v| v.unwrap_or(f32::NAN)))
        .collect();
    if x.len() != n * d {
        return Outcome::Failed(format!("rows are not {d} wide"));
    }
    let result = Tensor::from_shape(&[n, d], &x)
        .and_then(|t| plan.run(tvec!(t.into_tvalue())))
        .and_then(|out| outputs(&plan, out));
    match result {
        Ok((label, proba, k)) => compare(&case.label, &case.probabilities, &label, &proba, k),
        Err(e) => Outcome::Failed(format!("loads, but does not run: {e:#}")),
    }
}

/// Compares tract's outputs with optbench's: probabilities within [`TOL`];
/// the file's `label` equal to optbench's class except at exact ties; and
/// the label equal to the argmax of tract's own probabilities (the two-class
/// trap: a runtime's label must follow the probabilities it reports).
fn compare(
    expected_label: &[u32],
    expected_proba: &[Vec<f32>],
    label: &[i64],
    proba: &[f32],
    k: usize,
) -> Outcome {
    let n = expected_label.len();
    let n_classes = expected_proba.first().map_or(0, Vec::len);
    if k != n_classes || proba.len() != n * k || label.len() != n || expected_proba.len() != n {
        return Outcome::Failed(format!(
            "outputs of shape label [{}], probabilities [{}, {k}]; expected [{n}], [{n}, {n_classes}]",
            label.len(),
            proba.len() / k.max(1),
        ));
    }
    let (mut same, mut ties, mut max_diff, mut unexplained, mut off_argmax) =
        (0usize, 0usize, 0f32, 0usize, 0usize);
    for (i, (ours, &class)) in expected_proba.iter().zip(expected_label).enumerate() {
        let theirs = &proba[i * k..(i + 1) * k];
        for (a, b) in theirs.iter().zip(ours) {
            // A NaN probability is as far off as can be.
            let d = (a - b).abs();
            max_diff = max_diff.max(if d.is_nan() { f32::INFINITY } else { d });
        }
        let tie = |p: &[f32]| {
            let mut s = p.to_vec();
            s.sort_by(|a, b| b.total_cmp(a));
            s.len() < 2 || s[0] - s[1] <= TOL
        };
        if label[i] == i64::from(class) {
            same += 1;
        } else if tie(ours) {
            ties += 1;
        } else {
            unexplained += 1;
        }
        if argmax(theirs) != label[i] as usize && !tie(theirs) {
            off_argmax += 1;
        }
    }
    let ok = max_diff <= TOL && unexplained == 0 && off_argmax == 0;
    let note = if off_argmax > 0 {
        format!(", {off_argmax} labels not the argmax of tract's probabilities")
    } else {
        String::new()
    };
    Outcome::Ran {
        ok,
        same,
        ties,
        n,
        max_diff,
        note,
    }
}

fn argmax(p: &[f32]) -> usize {
    let mut best = 0;
    for (j, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = j;
        }
    }
    best
}

/// A serving file: one input per column, in the sidecar's column order (the
/// file's input order): numeric as double `[N, 1]` (`NaN` = missing),
/// categorical as string `[N, 1]` (`""` = missing).
fn run_serving(
    onnx: &tract_onnx::Onnx,
    proto: &ModelProto,
    case: &ServingCase,
    expected: &BTreeSet<String>,
) -> Outcome {
    let n = case.rows.len();
    let numeric: Vec<bool> = case.columns.iter().map(|(_, k)| k == "numeric").collect();
    let facts: Vec<InferenceFact> = numeric
        .iter()
        .map(|&num| {
            if num {
                f64::fact([n, 1]).into()
            } else {
                String::fact([n, 1]).into()
            }
        })
        .collect();
    let plan = match load(onnx, proto, expected, &facts) {
        Ok(p) => p,
        Err(o) => return o,
    };
    let mut inputs = TVec::new();
    for (j, &num) in numeric.iter().enumerate() {
        let cells = case.rows.iter().map(|r| r.get(j));
        let tensor = if num {
            let col: Option<Vec<f64>> = cells
                .map(|v| match v {
                    Some(serde_json::Value::Null) => Some(f64::NAN),
                    Some(v) => v.as_f64(),
                    None => None,
                })
                .collect();
            col.map(|c| tensor1(&c).into_shape(&[n, 1]))
        } else {
            let col: Option<Vec<String>> = cells
                .map(|v| v.and_then(|v| v.as_str()).map(str::to_string))
                .collect();
            col.map(|c| tensor1(&c).into_shape(&[n, 1]))
        };
        match tensor {
            Some(Ok(t)) => inputs.push(t.into_tvalue()),
            Some(Err(e)) => return Outcome::Failed(format!("column {j}: {e:#}")),
            None => return Outcome::Failed(format!("column {j}: a cell of the wrong type")),
        }
    }
    match plan.run(inputs).and_then(|out| outputs(&plan, out)) {
        Ok((label, proba, k)) => compare(&case.label, &case.probabilities, &label, &proba, k),
        Err(e) => Outcome::Failed(format!("loads, but does not run: {e:#}")),
    }
}

#[cfg(test)]
mod tests {
    //! Small ONNX graphs built here, run through the checker's own paths:
    //! the gap detection against what tract really does, and the serving
    //! feed (double and string columns) that today's serving exports do
    //! not reach.
    use super::*;
    use tract_onnx::pb::attribute_proto::AttributeType;
    use tract_onnx::pb::tensor_proto::DataType;
    use tract_onnx::pb::tensor_shape_proto::{dimension, Dimension};
    use tract_onnx::pb::{
        type_proto, AttributeProto, GraphProto, NodeProto, OperatorSetIdProto, TensorProto,
        TensorShapeProto, TypeProto, ValueInfoProto,
    };

    fn value(name: &str, elem: DataType, shape: Option<&[Option<i64>]>) -> ValueInfoProto {
        let dim = |d: &Option<i64>| Dimension {
            value: Some(match d {
                Some(v) => dimension::Value::DimValue(*v),
                None => dimension::Value::DimParam("N".into()),
            }),
            ..Default::default()
        };
        ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: elem as i32,
                    shape: shape.map(|s| TensorShapeProto {
                        dim: s.iter().map(dim).collect(),
                    }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn node(op: &str, domain: &str, i: &[&str], o: &[&str], a: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            input: i.iter().map(|s| s.to_string()).collect(),
            output: o.iter().map(|s| s.to_string()).collect(),
            name: o[0].into(),
            op_type: op.into(),
            domain: domain.into(),
            attribute: a,
            ..Default::default()
        }
    }

    fn int(name: &str, i: i64) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            r#type: AttributeType::Int as i32,
            i,
            ..Default::default()
        }
    }

    fn model(
        inputs: Vec<ValueInfoProto>,
        outputs: Vec<ValueInfoProto>,
        nodes: Vec<NodeProto>,
        init: Vec<TensorProto>,
    ) -> ModelProto {
        let opset = |domain: &str, version| OperatorSetIdProto {
            domain: domain.into(),
            version,
        };
        ModelProto {
            ir_version: 8,
            opset_import: vec![opset("", 17), opset("ai.onnx.ml", 3)],
            graph: Some(GraphProto {
                name: "t".into(),
                node: nodes,
                input: inputs,
                output: outputs,
                initializer: init,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// `y = Where(IsNaN(x), fill, x)`, as the serving path imputes, with `x`
    /// of type `elem`.
    fn impute(elem: DataType) -> ModelProto {
        let fill = TensorProto {
            name: "fill".into(),
            dims: vec![1],
            data_type: elem as i32,
            float_data: if elem == DataType::Float {
                vec![7.0]
            } else {
                vec![]
            },
            double_data: if elem == DataType::Double {
                vec![7.0]
            } else {
                vec![]
            },
            ..Default::default()
        };
        model(
            vec![value("x", elem, Some(&[None, Some(1)]))],
            vec![value("y", elem, None)],
            vec![
                node("IsNaN", "", &["x"], &["m"], vec![]),
                node("Where", "", &["m", "fill", "x"], &["y"], vec![]),
            ],
            vec![fill],
        )
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn isnan_on_double_is_a_gap_that_tract_really_has() {
        let onnx = tract_onnx::onnx();
        let double = impute(DataType::Double);
        assert_eq!(gaps(&onnx, &double), set(&[IS_NAN_DOUBLE]));
        let fact: InferenceFact = f64::fact([2, 1]).into();
        match load(&onnx, &double, &set(&[IS_NAN_DOUBLE]), &[fact]) {
            Err(Outcome::Unsupported { ops, error }) => {
                assert_eq!(ops, set(&[IS_NAN_DOUBLE]));
                // tract calls Where `Iff`; IsNaN left the type double.
                assert!(
                    error.contains("Iff") && error.contains("F64 with Bool"),
                    "{error}"
                );
            }
            _ => panic!("tract now runs IsNaN on double: drop the gap"),
        }
        // The same graph on float runs, and imputes.
        let float = impute(DataType::Float);
        assert!(gaps(&onnx, &float).is_empty());
        let plan = match load(&onnx, &float, &BTreeSet::new(), &[f32::fact([2, 1]).into()]) {
            Ok(p) => p,
            Err(_) => panic!("IsNaN → Where on float does not load"),
        };
        let x = Tensor::from_shape(&[2, 1], &[f32::NAN, 2.0]).unwrap();
        let y = plan.run(tvec!(x.into_tvalue())).unwrap();
        let y = y[0]
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        assert_eq!(y, vec![7.0, 2.0]);
        // Expecting a gap the file does not have fails: the list cannot go stale.
        let stale = load(
            &onnx,
            &float,
            &set(&[IS_NAN_DOUBLE]),
            &[f32::fact([2, 1]).into()],
        );
        assert!(matches!(stale, Err(Outcome::Failed(_))));
    }

    #[test]
    fn unregistered_operators_are_gaps() {
        let onnx = tract_onnx::onnx();
        let m = model(
            vec![value("x", DataType::Float, Some(&[None, Some(3)]))],
            vec![value("y", DataType::Float, None)],
            vec![
                node(
                    "TreeEnsembleRegressor",
                    "ai.onnx.ml",
                    &["x"],
                    &["s"],
                    vec![],
                ),
                node("Sigmoid", "", &["s"], &["y"], vec![]),
            ],
            vec![],
        );
        assert_eq!(gaps(&onnx, &m), set(&["TreeEnsembleRegressor"]));
        // Not expected: a failure naming the operator, not a skip.
        match load(&onnx, &m, &BTreeSet::new(), &[f32::fact([1, 3]).into()]) {
            Err(Outcome::Failed(why)) => assert!(why.contains("TreeEnsembleRegressor"), "{why}"),
            _ => panic!("an unexpected gap must fail"),
        }
    }

    #[test]
    fn expected_gaps_by_kind_of_file() {
        assert!(expected_gaps("wine_gradient_boosting_int8", 3, false, false).is_empty());
        assert!(expected_gaps("breast_cancer_random_forest", 2, false, false).is_empty());
        assert_eq!(
            expected_gaps("breast_cancer_gradient_boosting_bins", 2, false, false),
            set(&["TreeEnsembleRegressor"])
        );
        assert_eq!(
            expected_gaps("serving_penguins_decision_tree", 3, true, true),
            set(&[IS_NAN_DOUBLE, "LabelEncoder", "OneHotEncoder"])
        );
        for gap in expected_gaps("serving_x_gradient_boosting", 2, true, true) {
            assert_ne!(why(&gap), why("no such gap"), "{gap} has no reason");
        }
    }

    /// Inputs `num` double [N, 1] and `cat` string [N, 1]; `probabilities`
    /// = [num, category index] (CategoryMapper: "a" → 0, "b" → 1, else 5),
    /// `label` = ArgMax. Runs in tract, so the per-column feed is exercised.
    fn two_columns() -> ModelProto {
        let mapper = vec![
            AttributeProto {
                name: "cats_strings".into(),
                r#type: AttributeType::Strings as i32,
                strings: vec![b"a".to_vec(), b"b".to_vec()],
                ..Default::default()
            },
            AttributeProto {
                name: "cats_int64s".into(),
                r#type: AttributeType::Ints as i32,
                ints: vec![0, 1],
                ..Default::default()
            },
            int("default_int64", 5),
        ];
        model(
            vec![
                value("num", DataType::Double, Some(&[None, Some(1)])),
                value("cat", DataType::String, Some(&[None, Some(1)])),
            ],
            vec![
                value("label", DataType::Int64, None),
                value("probabilities", DataType::Float, None),
            ],
            vec![
                node("Cast", "", &["num"], &["a"], vec![int("to", 1)]),
                node("CategoryMapper", "ai.onnx.ml", &["cat"], &["ci"], mapper),
                node("Cast", "", &["ci"], &["b"], vec![int("to", 1)]),
                node(
                    "Concat",
                    "",
                    &["a", "b"],
                    &["probabilities"],
                    vec![int("axis", 1)],
                ),
                node(
                    "ArgMax",
                    "",
                    &["probabilities"],
                    &["label"],
                    vec![int("axis", 1), int("keepdims", 0)],
                ),
            ],
            vec![],
        )
    }

    fn serving_case(probabilities: Vec<Vec<f32>>) -> ServingCase {
        ServingCase {
            name: "serving_two_columns".into(),
            columns: vec![
                ("num".into(), "numeric".into()),
                ("cat".into(), "categorical".into()),
            ],
            rows: vec![
                vec![serde_json::json!(0.25), serde_json::json!("b")],
                vec![serde_json::json!(2.5), serde_json::json!("a")],
                vec![serde_json::json!(-1.0), serde_json::json!("")],
            ],
            label: vec![1, 0, 1],
            probabilities,
        }
    }

    #[test]
    fn serving_feed_runs_double_and_string_columns() {
        let onnx = tract_onnx::onnx();
        let m = two_columns();
        assert!(gaps(&onnx, &m).is_empty());
        let right = vec![vec![0.25, 1.0], vec![2.5, 0.0], vec![-1.0, 5.0]];
        match run_serving(&onnx, &m, &serving_case(right), &BTreeSet::new()) {
            Outcome::Ran {
                ok,
                same,
                n,
                max_diff,
                ..
            } => {
                assert!(ok);
                assert_eq!((same, n), (3, 3));
                assert_eq!(max_diff, 0.0);
            }
            Outcome::Unsupported { error, .. } => panic!("unsupported: {error}"),
            Outcome::Failed(why) => panic!("{why}"),
        }
        // A probability off by more than the tolerance is a failure.
        let off = vec![vec![0.25, 1.0], vec![2.5, 0.0], vec![-1.0, 5.0 + 1e-3]];
        match run_serving(&onnx, &m, &serving_case(off), &BTreeSet::new()) {
            Outcome::Ran { ok, max_diff, .. } => assert!(!ok && max_diff > TOL),
            _ => panic!("should run"),
        }
    }

    #[test]
    fn labels_must_match_except_at_ties() {
        let proba = [vec![0.5, 0.5], vec![0.2, 0.8]];
        // Row 0 is a tie: either label passes; row 1 is not.
        let ok = compare(&[0, 1], &proba, &[1, 1], &[0.5, 0.5, 0.2, 0.8], 2);
        assert!(matches!(
            ok,
            Outcome::Ran {
                ok: true,
                ties: 1,
                ..
            }
        ));
        let bad = compare(&[0, 1], &proba, &[0, 0], &[0.5, 0.5, 0.2, 0.8], 2);
        assert!(matches!(bad, Outcome::Ran { ok: false, .. }));
    }
}
