//! Training runs: the data loaded and split as the plan says, the
//! pipeline fitted on the training rows, the plan's candidates trained;
//! the rest is the run's shared evaluation.
//!
//! Uses `config`, `data`, `pipeline` and `train`.

use super::evaluate::{optimize_and_evaluate, train_data};
use super::Outcome;
use crate::config::{DataPlan, Plan};
use crate::data::{read_csv, read_csv_with_schema, stratified_split, DataSource, Split};
use crate::error::{Error, Result};
use crate::optimize::Candidate;
use crate::pipeline::FittedPipeline;
use crate::progress::Progress;
use crate::train::train;
use rayon::prelude::*;

/// Loads (or generates) the data and splits it as the plan says.
pub fn load_split(plan: &Plan) -> Result<Split> {
    match &plan.data {
        DataPlan::Synthetic {
            spec,
            test_fraction,
        } => {
            let data = spec.generate()?;
            let (train, test) = stratified_split(&data, *test_fraction, plan.seed);
            Ok(Split {
                train,
                test,
                source: DataSource::Synthetic(spec.clone()),
                target: "y".into(),
                ignored: Vec::new(),
            })
        }
        DataPlan::Csv {
            path,
            target,
            test_fraction,
        } => {
            let table = read_csv(path, target, &plan.columns)?;
            let (train, test) = stratified_split(&table.data, *test_fraction, plan.seed);
            if train.n_rows() < 2 || test.n_rows() == 0 {
                return Err(Error::data(
                    path,
                    format!(
                        "{} rows are too few to split into train and test",
                        table.data.n_rows()
                    ),
                ));
            }
            Ok(Split {
                train,
                test,
                source: DataSource::Csv {
                    path: path.clone(),
                    test_fraction: *test_fraction,
                },
                target: target.clone(),
                ignored: table.ignored,
            })
        }
        DataPlan::TrainTest {
            train,
            test,
            target,
        } => {
            let tr = read_csv(train, target, &plan.columns)?;
            let te = read_csv_with_schema(test, target, &tr.data, &tr.ignored)?;
            Ok(Split {
                train: tr.data,
                test: te.data,
                source: DataSource::TrainTest {
                    train: train.clone(),
                    test: test.clone(),
                },
                target: target.clone(),
                ignored: tr.ignored,
            })
        }
    }
}

/// Runs the whole job and writes the report (and, if a model was chosen,
/// the package) under `plan.out`.
pub fn run(plan: &Plan, progress: &dyn Progress) -> Result<Outcome> {
    progress.stage("loading data", 0);
    let split = load_split(plan)?;
    progress.finish_stage();
    let Split {
        train: train_set,
        test: test_set,
        ..
    } = &split;
    progress.note(&format!(
        "data: {} training rows, {} test rows, {} features, {} classes",
        train_set.n_rows(),
        test_set.n_rows(),
        train_set.n_features(),
        train_set.n_classes()
    ));

    let pipeline = FittedPipeline::fit(train_set, &plan.pipeline)?;
    let x_train = pipeline.transform(train_set);
    let x_test = pipeline.transform(test_set);
    let data = train_data(train_set, &x_train, &pipeline);

    // Candidates train in parallel (each trainer is single-threaded); every
    // one has its own seed, so the result does not depend on scheduling.
    progress.stage("training", plan.candidates.len() as u64);
    let trained: Vec<Candidate> = plan
        .candidates
        .par_iter()
        .map(|spec| {
            let t = train(spec, &data, plan.seed)?;
            progress.note(&format!(
                "trained {} in {:.2} s ({})",
                t.id,
                t.fit_seconds,
                t.model.describe()
            ));
            progress.advance(1);
            Ok(t.into())
        })
        .collect::<Result<_>>()?;
    progress.finish_stage();

    optimize_and_evaluate(plan, &split, &pipeline, &data, &x_test, trained, progress)
}
