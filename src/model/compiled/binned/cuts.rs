//! The cut walk ([`Cuts`]): a binned model walked over the raw row, cut
//! values as thresholds, in the float form's own layout and summed by its
//! own loop. No row binning: for few trees it is the fastest walk. Uses the
//! saved form and the float layouts (`compiled/trees/`).

use crate::model::binned::decode;
use crate::model::compiled::trees::CompiledTrees;
#[cfg(test)]
use crate::model::compiled::walk::Walk;
use crate::model::{Node, Output, QuantTrees, TreeEnsemble};

/// The trees walked over the raw row, with no binning: a split on
/// `(feature, bin)` tests `x <= cuts[cut_start[feature] + bin]`, which holds
/// exactly when `bin(x) <= bin` (a `NaN` goes right in both), so it reaches
/// the leaves the binned walks reach. The trees are a [`TreeEnsemble`] with
/// those thresholds whose leaf nodes hold the global leaf numbers of
/// [`QuantTrees::leaves`], and a copy of those leaves as f32 (int8 ones as
/// their integers, the base left to [`super::CompiledBinned::rescale`] when
/// scaled). It takes the float model's own run-time layout
/// ([`CompiledTrees`]) and is summed by the float model's own loop (the
/// binned walks' generic loop over a leafless copy is slower for int8
/// leaves), so its sums are the binned walks' bit for bit, at about the
/// float parent's cost (`cargo bench --bench quant_ratio -- small`).
///
/// For a few trees this is the fastest walk: binning the row costs more than
/// the trees' walks save ([`super::cut_walk_pays`]).
#[derive(Debug, Clone)]
pub struct Cuts {
    /// Boxed: a [`CompiledTrees`] inline would make every [`super::Walker`]
    /// (and [`crate::model::CompiledModel`]) twice as large.
    trees: Box<CompiledTrees>,
}

impl Cuts {
    /// `None` when some feature's cuts are not strictly increasing and
    /// `NaN`-free (the binned form's own conversion always makes them so; a
    /// damaged file might not, and then only the binned walks agree with the
    /// binning), or for scaled int8 leaves whose sums may reach 2^24
    /// ([`QuantTrees::int_sums_exact_in_f32`]). Checked models only: it
    /// trusts the node references.
    pub(super) fn build(q: &QuantTrees) -> Option<Cuts> {
        let sorted = q.cut_start.windows(2).all(|w| {
            let c = &q.cuts[w[0] as usize..w[1] as usize];
            // `!(a < b)` also refuses a NaN.
            c.windows(2).all(|p| p[0] < p[1]) && c.first().is_none_or(|c| !c.is_nan())
        });
        // Its f32 sums of int8 leaves are the binned walks' integer sums
        // only while they are exact.
        if !sorted || (q.leaf_scale().is_some() && !q.int_sums_exact_in_f32()) {
            return None;
        }
        let mut trees = TreeEnsemble::new(q.n_features, q.n_classes);
        trees.nodes.reserve(2 * q.nodes.len() + q.trees.len());
        for tree in &q.trees {
            let local = &q.nodes[tree.node_base as usize..];
            trees.roots.push(u32::try_from(trees.nodes.len()).ok()?);
            // Pre-order, left first: (child reference, parent waiting for
            // it, as its right child?).
            let mut stack = vec![(tree.root, None::<(usize, bool)>)];
            while let Some((c, parent)) = stack.pop() {
                let here = u32::try_from(trees.nodes.len()).ok()?;
                if let Some((p, right)) = parent {
                    let p = &mut trees.nodes[p];
                    *(if right { &mut p.right } else { &mut p.left }) = here;
                }
                match decode(c) {
                    Err(l) => trees.nodes.push(Node::leaf(tree.leaf_base + l as u32)),
                    Ok(i) => {
                        let n = &local[i];
                        let f = usize::from(n.feature);
                        trees.nodes.push(Node {
                            feature: u32::from(n.feature),
                            // `check`: the bin is below the feature's cut count.
                            threshold: q.cuts[q.cut_start[f] as usize + usize::from(n.bin)],
                            left: 0,
                            right: 0,
                        });
                        stack.push((n.right, Some((here as usize, true))));
                        stack.push((n.left, Some((here as usize, false))));
                    }
                }
            }
        }
        // The leaves as the binned walks add them: f32 leaves as stored,
        // int8 ones as their (shifted) integers, summed from 0 and scaled
        // after (`CompiledBinned::rescale`), so the float model's accumulation
        // gives the binned walks' sums bit for bit.
        let scaled = q.leaf_scale().is_some();
        trees.leaf_values = q.summed_leaves();
        trees.output = match &q.output {
            Output::Average => Output::Average,
            Output::Boosted {
                link,
                base,
                tree_output,
            } => Output::Boosted {
                link: *link,
                base: if scaled {
                    vec![0.0; base.len()]
                } else {
                    base.clone()
                },
                tree_output: tree_output.clone(),
            },
        };
        Some(Cuts {
            trees: Box::new(CompiledTrees::chosen(trees)),
        })
    }

    pub(super) fn heap_bytes(&self) -> usize {
        size_of::<CompiledTrees>() + self.trees.heap_bytes()
    }

    /// The trees' raw scores into `acc` (int8 leaves: before their scale).
    #[inline(always)]
    pub(super) fn accumulate(&self, row: &[f32], acc: &mut [f32]) {
        self.trees.accumulate(row, acc);
    }
}

/// The leaves the cut walk reaches (tests compare them with the binned
/// walks'; predictions sum them through [`TreeEnsemble::accumulate`]).
#[cfg(test)]
impl Walk<[f32]> for Cuts {
    #[inline(always)]
    fn walk(&self, row: &[f32], visit: impl FnMut(usize, usize)) {
        self.trees.walk_leaves(row, visit);
    }
}
