//! `optbench predict`: `--id-column` (an identifier copied from the input
//! into the output, beside predictions that do not change because of it)
//! and the exit code for rejected rows.

use assert_cmd::Command;
use predicates::str::contains;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn predict() -> Command {
    let mut c = Command::cargo_bin("optbench").unwrap();
    c.current_dir(root()).args([
        "predict",
        "--model",
        "tests/fixtures/packages/penguins-forest-10",
        "--proba",
    ]);
    c
}

#[test]
fn the_id_column_is_copied_and_the_predictions_are_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    // The penguins test rows with an `id` column in front.
    let text = std::fs::read_to_string(root().join("tests/fixtures/penguins/test.csv")).unwrap();
    let mut with_id = String::new();
    for (i, line) in text.lines().enumerate() {
        let id = if i == 0 {
            "id".to_string()
        } else {
            format!("p-{i:03}")
        };
        with_id.push_str(&format!("{id},{line}\n"));
    }
    let input = tmp.path().join("with_id.csv");
    std::fs::write(&input, with_id).unwrap();
    let (plain, ided) = (tmp.path().join("plain.csv"), tmp.path().join("ided.csv"));
    predict()
        .args(["--input", "tests/fixtures/penguins/test.csv", "--output"])
        .arg(&plain)
        .assert()
        .success();
    // --strict refuses unknown columns, but not the one named as the id.
    predict()
        .args(["--strict", "--id-column", "id", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&ided)
        .assert()
        .success();
    let plain = std::fs::read_to_string(&plain).unwrap();
    let ided = std::fs::read_to_string(&ided).unwrap();
    assert_eq!(plain.lines().count(), 70);
    for (i, (p, q)) in plain.lines().zip(ided.lines()).enumerate() {
        let (p, q): (Vec<&str>, Vec<&str>) = (p.split(',').collect(), q.split(',').collect());
        let id = if i == 0 {
            "id".to_string()
        } else {
            format!("p-{i:03}")
        };
        assert_eq!(q[1], id);
        assert_eq!(q[0], p[0]);
        assert_eq!(q[2..], p[1..], "line {i}");
    }

    // A column the file does not have: the flag, the name and the columns.
    predict()
        .args([
            "--id-column",
            "key",
            "--input",
            "tests/fixtures/penguins/test.csv",
        ])
        .assert()
        .code(1)
        .stderr(contains("--id-column"))
        .stderr(contains("no column `key`"));
}

#[test]
fn too_many_rejected_rows_exit_7() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("tests/fixtures/penguins/test.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The header, one good row and two with text in `bill_length_mm`.
    let bad = |l: &str| {
        let mut f: Vec<String> = l.split(',').map(str::to_owned).collect();
        f[2] = "long".into();
        f.join(",")
    };
    let input = tmp.path().join("rows.csv");
    std::fs::write(
        &input,
        format!(
            "{}\n{}\n{}\n{}\n",
            lines[0],
            lines[1],
            bad(lines[2]),
            bad(lines[3])
        ),
    )
    .unwrap();
    let all_bad = tmp.path().join("bad.csv");
    std::fs::write(&all_bad, format!("{}\n{}\n", lines[0], bad(lines[2]))).unwrap();
    let out = tmp.path().join("p.csv");
    let run = |input: &PathBuf, extra: &[&str]| {
        let mut c = predict();
        c.arg("--input")
            .arg(input)
            .arg("--output")
            .arg(&out)
            .arg("--skip-invalid")
            .args(extra);
        c.assert()
    };
    run(&input, &[]).code(0);
    run(&input, &["--max-rejected", "2"]).code(0);
    run(&input, &["--max-rejected", "1"])
        .code(7)
        .stderr(contains(
            "2 of 3 rows rejected (more than --max-rejected 1)",
        ));
    // Every row rejected is a failure, not "scored 0 of 1 rows".
    run(&all_bad, &[]).code(7).stderr(contains("every row"));
    // The files are still written: the rejected rows are in theirs.
    assert!(tmp.path().join("p.rejected.csv").exists());
}

#[test]
fn a_near_miss_header_or_another_delimiter_gets_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("tests/fixtures/penguins/test.csv")).unwrap();
    let case = tmp.path().join("case.csv");
    std::fs::write(&case, text.replacen("bill_length_mm", "Bill Length mm", 1)).unwrap();
    predict()
        .arg("--input")
        .arg(&case)
        .assert()
        .code(1)
        .stderr(contains("missing column `bill_length_mm`"))
        .stderr(contains("did you mean `Bill Length mm`?"));
    let typo = tmp.path().join("typo.csv");
    std::fs::write(
        &typo,
        text.replacen("flipper_length_mm", "fliper_length_mm", 1),
    )
    .unwrap();
    predict()
        .arg("--input")
        .arg(&typo)
        .assert()
        .code(1)
        .stderr(contains("did you mean `fliper_length_mm`?"));
    let semi = tmp.path().join("semi.csv");
    std::fs::write(&semi, text.replace(',', ";")).unwrap();
    predict()
        .arg("--input")
        .arg(&semi)
        .assert()
        .code(1)
        .stderr(contains("the file looks semicolon-separated"));
}

/// One broken line in a batch (the wrong number of fields, not UTF-8) is
/// one rejected row under --skip-invalid, not the end of the job.
#[test]
fn broken_lines_are_rejected_rows_and_scoring_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("tests/fixtures/penguins/test.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut bytes = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        match i {
            3 => bytes.extend_from_slice(b"Adelie,Dream,39.5"),
            5 => {
                bytes.extend_from_slice(l.replacen("Dream", "Dr", 1).as_bytes());
                bytes.extend_from_slice(b"\xff");
            }
            _ => bytes.extend_from_slice(l.as_bytes()),
        }
        bytes.push(b'\n');
    }
    let input = tmp.path().join("broken.csv");
    std::fs::write(&input, &bytes).unwrap();
    let out = tmp.path().join("p.csv");
    // Without --skip-invalid: the line is named, as a whole.
    predict()
        .arg("--input")
        .arg(&input)
        .assert()
        .code(1)
        .stderr(contains(
            "broken.csv, line 4: the line has 3 field(s) where the header has 8",
        ));
    predict()
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .arg("--skip-invalid")
        .assert()
        .success()
        .stderr(contains("scored 67 of 69 rows"));
    let rejected = std::fs::read_to_string(tmp.path().join("p.rejected.csv")).unwrap();
    let rows: Vec<&str> = rejected.lines().collect();
    assert_eq!(rows.len(), 3, "{rejected}");
    assert!(
        rows[1].starts_with("3,4,,\"the line has 3 field(s)"),
        "{}",
        rows[1]
    );
    assert!(rows[1].ends_with(",Adelie,Dream,39.5"), "{}", rows[1]);
    assert!(rows[2].contains("not valid UTF-8"), "{}", rows[2]);
    let scored = std::fs::read_to_string(&out).unwrap();
    assert_eq!(scored.lines().count(), 68);
}
