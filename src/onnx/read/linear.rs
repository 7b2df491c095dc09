//! `LinearClassifier` → the IR's linear model: a softmax over K score rows,
//! or scikit-learn's binary logistic regression (rows −w and w, each
//! through a sigmoid) as one logistic row.

use super::graph::Attrs;
use super::link::{Head, Tail};
use crate::error::Result;
use crate::model::{LinearModel, Link, Model};

pub(super) fn linear(
    a: &Attrs<'_>,
    width: Option<usize>,
    tail: &Tail,
) -> Result<(Model, Vec<String>)> {
    let classes = a.classes("classlabels_ints")?;
    let k = classes.len();
    let coef = a.floats("coefficients")?;
    let intercepts = a.floats("intercepts")?;
    let post = a.string("post_transform", "NONE")?;
    let rows = if intercepts.is_empty() {
        match width {
            Some(d) if d > 0 && coef.len() % d == 0 => coef.len() / d,
            _ => {
                return Err(
                    a.err("cannot tell the number of score rows: no intercepts and no input width")
                )
            }
        }
    } else {
        intercepts.len()
    };
    if rows == 0 || coef.is_empty() || coef.len() % rows != 0 {
        return Err(a.err(format!(
            "{} coefficients do not make {rows} rows",
            coef.len()
        )));
    }
    let d = coef.len() / rows;
    if width.is_some_and(|w| w != d) {
        return Err(a.err(format!(
            "{d} coefficients per row for {} input features",
            width.unwrap_or(0)
        )));
    }
    let b = |j: usize| intercepts.get(j).copied().unwrap_or(0.0);
    tail.check_width(rows, a.what)?;
    let m = match (post.as_str(), tail.head) {
        ("NONE", Head::Softmax) | ("SOFTMAX", Head::None) if rows == k => {
            if post == "SOFTMAX" && !tail.is_identity() {
                return Err(a.err("Mul or Add after a SOFTMAX post_transform is not supported"));
            }
            LinearModel {
                n_features: d,
                n_classes: k,
                link: Link::Softmax,
                weights: coef
                    .chunks_exact(d)
                    .enumerate()
                    .flat_map(|(j, r)| r.iter().map(move |&w| w * tail.a(j)))
                    .collect(),
                bias: (0..k).map(|j| b(j) * tail.a(j) + tail.b(j)).collect(),
            }
        }
        // scikit-learn's binary logistic regression: rows −w and w, each
        // through a sigmoid.
        ("LOGISTIC", Head::None)
            if k == 2
                && rows == 2
                && tail.is_identity()
                && coef[..d].iter().zip(&coef[d..]).all(|(x, y)| *x == -*y)
                && b(0) == -b(1) =>
        {
            LinearModel {
                n_features: d,
                n_classes: 2,
                link: Link::Logistic,
                weights: coef[d..].to_vec(),
                bias: vec![b(1)],
            }
        }
        _ => {
            return Err(a.err(format!(
                "post_transform {post} with {:?} after it, {rows} score rows and {k} classes is not supported",
                tail.head
            )))
        }
    };
    Ok((Model::Linear(m), classes))
}
