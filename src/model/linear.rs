//! Linear models: a weight matrix and a bias per output, then a link
//! ([`LinearModel`]), and its int8 form ([`QuantLinear`]). Saved forms that
//! run as they are stored. Uses [`argmax`] only.

use super::argmax;
use serde::{Deserialize, Serialize};

/// How scores become probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Link {
    /// Two classes, one score `z`: P(class 1) = σ(z); class 1 when `z ≥ 0`.
    Logistic,
    /// One score per class: softmax; the first highest score wins.
    Softmax,
}

impl Link {
    /// Scores per row: 1 for `Logistic`, `n_classes` for `Softmax`.
    pub fn n_outputs(self, n_classes: usize) -> usize {
        match self {
            Link::Logistic => 1,
            Link::Softmax => n_classes,
        }
    }

    /// Scores in `out[..n_outputs]` become class probabilities in `out`.
    #[inline]
    pub fn apply(self, out: &mut [f32]) {
        match self {
            Link::Logistic => {
                let p = 1.0 / (1.0 + (-out[0]).exp());
                out[0] = 1.0 - p;
                out[1] = p;
            }
            Link::Softmax => {
                let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0;
                for o in out.iter_mut() {
                    *o = (*o - max).exp();
                    sum += *o;
                }
                for o in out.iter_mut() {
                    *o /= sum;
                }
            }
        }
    }

    /// The class the scores pick: class 1 when the log-odds are ≥ 0; the
    /// first highest score under softmax.
    #[inline]
    pub fn class(self, scores: &[f32]) -> u32 {
        match self {
            Link::Logistic => (scores[0] >= 0.0) as u32,
            Link::Softmax => argmax(scores),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    pub n_features: usize,
    pub n_classes: usize,
    pub link: Link,
    /// Row-major `n_outputs × n_features` (`n_outputs` is 1 for `Logistic`).
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

impl LinearModel {
    pub fn n_outputs(&self) -> usize {
        self.link.n_outputs(self.n_classes)
    }

    #[inline]
    fn score(&self, k: usize, row: &[f32]) -> f32 {
        let w = &self.weights[k * self.n_features..(k + 1) * self.n_features];
        w.iter().zip(row).map(|(a, b)| a * b).sum::<f32>() + self.bias[k]
    }

    #[inline]
    fn scores(&self, row: &[f32], out: &mut [f32]) {
        for (k, o) in out[..self.n_outputs()].iter_mut().enumerate() {
            *o = self.score(k, row);
        }
    }

    #[inline]
    pub fn predict_proba(&self, row: &[f32], out: &mut [f32]) {
        self.scores(row, out);
        self.link.apply(out);
    }

    #[inline]
    pub fn predict(&self, row: &[f32], scratch: &mut [f32]) -> u32 {
        self.scores(row, scratch);
        self.link.class(scratch)
    }

    /// [`Self::predict`]'s class and [`Self::predict_proba`]'s probabilities
    /// from one pass: both finish the same scores.
    #[inline]
    pub fn predict_with_proba(&self, row: &[f32], scores: &mut [f32], out: &mut [f32]) -> u32 {
        self.scores(row, scores);
        out.copy_from_slice(&scores[..out.len()]);
        self.link.apply(out);
        self.link.class(scores)
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let outputs = self.n_outputs();
        if self.link == Link::Logistic && self.n_classes != 2 {
            return Err(format!(
                "a logistic link needs 2 classes, not {}",
                self.n_classes
            ));
        }
        if self.weights.len() != outputs * self.n_features || self.bias.len() != outputs {
            return Err(format!(
                "linear model with {outputs} outputs × {} features has {} weights and {} biases",
                self.n_features,
                self.weights.len(),
                self.bias.len()
            ));
        }
        Ok(())
    }
}

/// A linear model with per-output symmetric int8 weights:
/// `score_k = scale_k × Σ q_kj x_j + bias_k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantLinear {
    pub n_features: usize,
    pub n_classes: usize,
    pub link: Link,
    pub weights: Vec<i8>,
    pub scales: Vec<f32>,
    pub bias: Vec<f32>,
}

impl QuantLinear {
    pub fn from_linear(m: &LinearModel) -> QuantLinear {
        let d = m.n_features;
        let mut weights = Vec::with_capacity(m.weights.len());
        let mut scales = Vec::with_capacity(m.bias.len());
        for w in m.weights.chunks_exact(d.max(1)) {
            let max = w.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
            weights.extend(
                w.iter()
                    .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8),
            );
            scales.push(scale);
        }
        QuantLinear {
            n_features: d,
            n_classes: m.n_classes,
            link: m.link,
            weights,
            scales,
            bias: m.bias.clone(),
        }
    }

    #[inline]
    fn scores(&self, row: &[f32], out: &mut [f32]) {
        let d = self.n_features;
        for (k, o) in out[..self.bias.len()].iter_mut().enumerate() {
            let w = &self.weights[k * d..(k + 1) * d];
            let dot: f32 = w.iter().zip(row).map(|(&q, &x)| f32::from(q) * x).sum();
            *o = dot * self.scales[k] + self.bias[k];
        }
    }

    #[inline]
    pub fn predict_proba(&self, row: &[f32], out: &mut [f32]) {
        self.scores(row, out);
        self.link.apply(out);
    }

    #[inline]
    pub fn predict(&self, row: &[f32], scratch: &mut [f32]) -> u32 {
        self.scores(row, scratch);
        self.link.class(scratch)
    }

    /// [`Self::predict`]'s class and [`Self::predict_proba`]'s probabilities
    /// from one pass: both finish the same scores.
    #[inline]
    pub fn predict_with_proba(&self, row: &[f32], scores: &mut [f32], out: &mut [f32]) -> u32 {
        self.scores(row, scores);
        out.copy_from_slice(&scores[..out.len()]);
        self.link.apply(out);
        self.link.class(scores)
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let outputs = self.link.n_outputs(self.n_classes);
        if (self.link == Link::Logistic && self.n_classes != 2)
            || self.weights.len() != outputs * self.n_features
            || self.scales.len() != outputs
            || self.bias.len() != outputs
        {
            return Err("int8 linear model: weight, scale and bias counts do not match".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_and_softmax_agree_on_two_classes() {
        let lg = LinearModel {
            n_features: 2,
            n_classes: 2,
            link: Link::Logistic,
            weights: vec![1.0, -2.0],
            bias: vec![0.5],
        };
        // Softmax with scores (0, z) is the logistic of z.
        let sm = LinearModel {
            link: Link::Softmax,
            weights: vec![0.0, 0.0, 1.0, -2.0],
            bias: vec![0.0, 0.5],
            ..lg.clone()
        };
        let mut a = [0.0; 2];
        let mut b = [0.0; 2];
        for row in [[0.0, 0.0], [3.0, 1.0], [-1.0, 2.0]] {
            lg.predict_proba(&row, &mut a);
            sm.predict_proba(&row, &mut b);
            assert!((a[1] - b[1]).abs() < 1e-6 && (a[0] + a[1] - 1.0).abs() < 1e-6);
            assert_eq!(lg.predict(&row, &mut a), sm.predict(&row, &mut b));
        }
    }
}
