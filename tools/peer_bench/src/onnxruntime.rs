//! onnxruntime called natively through the `ort` crate (load-dynamic): one
//! session per model, one thread, every test row's input tensor made before
//! timing. Two ways to call it: `Session::run` (how the crate's users call
//! it: a timed call is the run plus reading `probabilities`), and IoBinding
//! (the input bound per call, outputs bound once to preallocated tensors),
//! onnxruntime's own fastest path, so that its fixed cost per call is not
//! blamed on the wrapper.

use ort::session::builder::GraphOptimizationLevel;
use ort::session::{IoBinding, Session};
use ort::value::Tensor;
use std::path::Path;

/// Loads the onnxruntime library at `dylib` (the `libonnxruntime.so*` inside
/// the Python wheel). Must run before any session is made.
pub fn load_library(dylib: &Path) -> Result<(), String> {
    if !dylib.is_file() {
        return Err(format!(
            "onnxruntime library {} not found; scripts/onnx_native_bench.sh installs the Python \
             onnxruntime wheel and passes its capi/libonnxruntime.so* as ORT_DYLIB_PATH",
            dylib.display()
        ));
    }
    ort::init_from(dylib)
        .map_err(|e| format!("cannot load onnxruntime from {}: {e}", dylib.display()))?
        .commit();
    Ok(())
}

/// One model in onnxruntime with its test rows ready as input tensors.
pub struct OnnxModel {
    session: Session,
    inputs: Vec<Tensor<f32>>,
    n_classes: usize,
    binding: IoBinding,
    input_name: String,
}

impl OnnxModel {
    /// A single-threaded session on `path` (intra-op and inter-op threads 1,
    /// sequential execution, every graph optimization), and one `[1, d]`
    /// tensor per row of `rows` (row-major, `d` features).
    pub fn new(path: &Path, rows: &[f32], d: usize, n_classes: usize) -> Result<Self, String> {
        let what =
            |e: &dyn std::fmt::Display| format!("onnxruntime session for {}: {e}", path.display());
        let session = Session::builder()
            .map_err(|e| what(&e))?
            .with_intra_threads(1)
            .map_err(|e| what(&e))?
            .with_inter_threads(1)
            .map_err(|e| what(&e))?
            .with_parallel_execution(false)
            .map_err(|e| what(&e))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| what(&e))?
            .commit_from_file(path)
            .map_err(|e| what(&e))?;
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        for needed in ["label", "probabilities"] {
            if !outputs.contains(&needed) {
                return Err(format!(
                    "{}: no output `{needed}` (outputs: {}); convert with skl2onnx options={{'zipmap': False}}",
                    path.display(),
                    outputs.join(", ")
                ));
            }
        }
        if session.inputs().len() != 1 {
            return Err(format!(
                "{}: {} inputs, expected one float tensor",
                path.display(),
                session.inputs().len()
            ));
        }
        let inputs = rows
            .chunks_exact(d)
            .map(|r| Tensor::from_array(([1usize, d], r.to_vec())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| what(&e))?;
        let input_name = session.inputs()[0].name().to_string();
        let mut binding = session.create_binding().map_err(|e| what(&e))?;
        let label = Tensor::from_array(([1usize], vec![0i64])).map_err(|e| what(&e))?;
        let proba = Tensor::from_array(([1usize, n_classes], vec![0f32; n_classes]))
            .map_err(|e| what(&e))?;
        binding.bind_output("label", label).map_err(|e| what(&e))?;
        binding
            .bind_output("probabilities", proba)
            .map_err(|e| what(&e))?;
        Ok(OnnxModel {
            session,
            inputs,
            n_classes,
            binding,
            input_name,
        })
    }

    /// Runs test row `i`; its probabilities go into `out` (length
    /// `n_classes`). This is the timed call.
    #[inline]
    pub fn predict_proba(&mut self, i: usize, out: &mut [f32]) -> Result<(), String> {
        let outputs = self
            .session
            .run(ort::inputs![&self.inputs[i]])
            .map_err(|e| format!("onnxruntime run on test row {i}: {e}"))?;
        let (_, p) = outputs["probabilities"]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("onnxruntime `probabilities` on test row {i}: {e}"))?;
        if p.len() != out.len() {
            return Err(format!(
                "onnxruntime gave {} probabilities for test row {i}, expected {}",
                p.len(),
                self.n_classes
            ));
        }
        out.copy_from_slice(p);
        Ok(())
    }

    /// The same through IoBinding: row `i`'s tensor bound as the input, the
    /// outputs written into the tensors bound in [`OnnxModel::new`].
    #[inline]
    pub fn predict_proba_bound(&mut self, i: usize, out: &mut [f32]) -> Result<(), String> {
        self.binding
            .bind_input(self.input_name.as_str(), &self.inputs[i])
            .map_err(|e| format!("onnxruntime binding test row {i}: {e}"))?;
        let outputs = self
            .session
            .run_binding(&self.binding)
            .map_err(|e| format!("onnxruntime run (IoBinding) on test row {i}: {e}"))?;
        let (_, p) = outputs["probabilities"]
            .try_extract_tensor::<f32>()
            .map_err(|e| format!("onnxruntime `probabilities` (IoBinding) on test row {i}: {e}"))?;
        if p.len() != out.len() {
            return Err(format!(
                "onnxruntime (IoBinding) gave {} probabilities for test row {i}, expected {}",
                p.len(),
                self.n_classes
            ));
        }
        out.copy_from_slice(p);
        Ok(())
    }

    /// Row `i`'s `label` output (the class value, as skl2onnx writes it).
    pub fn label(&mut self, i: usize) -> Result<i64, String> {
        let outputs = self
            .session
            .run(ort::inputs![&self.inputs[i]])
            .map_err(|e| format!("onnxruntime run on test row {i}: {e}"))?;
        let (_, l) = outputs["label"]
            .try_extract_tensor::<i64>()
            .map_err(|e| format!("onnxruntime `label` on test row {i} (expected int64): {e}"))?;
        l.first()
            .copied()
            .ok_or_else(|| format!("onnxruntime gave no label for test row {i}"))
    }
}
