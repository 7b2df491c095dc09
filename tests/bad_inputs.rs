//! A corpus of bad inputs: malformed CSV files, wrong schemas, bad configs
//! and flags, damaged packages. Every one must end with a clear message (the
//! file, line, column, key or flag, and what was expected) and a non-zero
//! exit — never a panic — and leave no output behind.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn optbench() -> Command {
    Command::cargo_bin("optbench").unwrap()
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.display().to_string()
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    code: i32,
    message: String,
}

fn case(name: &'static str, args: &[&str], code: i32, message: &str) -> Case {
    Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        code,
        message: message.to_string(),
    }
}

fn check(cases: &[Case], out: &Path) {
    for c in cases {
        let output = optbench().args(&c.args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(c.code),
            "{}: exit code; stderr: {stderr}",
            c.name
        );
        assert!(
            stderr.contains(&c.message),
            "{}: expected `{}` in stderr:\n{stderr}",
            c.name,
            c.message
        );
        assert!(
            !stderr.contains("panicked"),
            "{}: panicked:\n{stderr}",
            c.name
        );
        assert!(
            !out.exists(),
            "{}: output left behind at {}",
            c.name,
            out.display()
        );
    }
}

/// Training-side inputs to `optbench run`.
#[test]
fn bad_training_data_and_configs_are_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = d.join("out");
    let o = out.display().to_string();
    let good = "a,b,city,label\n1,2,x,p\n3,4,y,q\n5,6,x,p\n7,8,y,q\n9,1,x,p\n2,3,y,q\n";
    let run = |file: &str, target: &str| -> Vec<String> {
        [
            "run",
            "--data",
            file,
            "--target",
            target,
            "--budget-ms",
            "50",
            "--out",
            &o,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut cases = Vec::new();
    let mut add = |name: &'static str, file: &str, target: &str, code: i32, message: &str| {
        cases.push(Case {
            name,
            args: run(file, target),
            code,
            message: message.into(),
        });
    };
    let f = write(d, "empty.csv", b"");
    add(
        "empty file",
        &f,
        "label",
        1,
        "empty.csv: the file is empty: expected a header line",
    );
    let f = write(d, "header.csv", b"a,b,label\n");
    add(
        "header only",
        &f,
        "label",
        1,
        "header.csv: no data rows after the header",
    );
    let f = write(d, "ragged.csv", b"a,b,label\n1,2,p\n3,4\n");
    add(
        "ragged line",
        &f,
        "label",
        1,
        "ragged.csv, line 3: the line has 2 field(s) where the header has 3",
    );
    let f = write(d, "dup.csv", b"a,a,label\n1,2,p\n");
    add(
        "duplicate header",
        &f,
        "label",
        1,
        "column `a` appears twice in the header",
    );
    let f = write(d, "noname.csv", b"a,,label\n1,2,p\n");
    add(
        "unnamed header column",
        &f,
        "label",
        1,
        "header column 2 has no name",
    );
    let f = write(d, "utf8.csv", b"a,b,label\n1,2,p\n3,\xff\xfe,q\n");
    add(
        "invalid UTF-8",
        &f,
        "label",
        1,
        "utf8.csv, line 3: the line is not valid UTF-8",
    );
    let f = write(d, "good.csv", good.as_bytes());
    add(
        "no such target",
        &f,
        "y",
        1,
        "no target column `y`; columns are: a, b, city, label",
    );
    let f = write(d, "oneclass.csv", b"a,label\n1,p\n2,p\n3,p\n");
    add(
        "a single class",
        &f,
        "label",
        1,
        "target column `label` has 1 distinct value(s)",
    );
    let f = write(d, "nolabel.csv", b"a,label\n1,p\n2,\n3,q\n");
    add(
        "missing label",
        &f,
        "label",
        1,
        "nolabel.csv, line 3, column `label`: the target is missing",
    );
    let f = write(d, "typo.csv", b"a,b,label\n1,2,p\n3,4o,q\n5,6,p\n7,8,q\n");
    add(
        "word in a numeric column",
        &f,
        "label",
        1,
        "typo.csv, line 3, column `b`: expected a finite number",
    );
    let f = write(d, "inf.csv", b"a,b,label\n1,2,p\n3,-inf,q\n5,6,p\n7,8,q\n");
    add(
        "infinity",
        &f,
        "label",
        1,
        "inf.csv, line 3, column `b`: expected a finite number",
    );
    let f = write(
        d,
        "allmissing.csv",
        b"a,b,label\n1,NA,p\n3,,q\n5,null,p\n7,NaN,q\n",
    );
    add(
        "a column with no values",
        &f,
        "label",
        1,
        "column `b` has no values at all; nothing to impute from",
    );
    let f = write(d, "missing.csv", b"");
    std::fs::remove_file(&f).unwrap();
    add("no such file", &f, "label", 1, "missing.csv: No such file");

    // Train/test files that disagree.
    let train = write(d, "train.csv", good.as_bytes());
    let tt = |test: &str| -> Vec<String> {
        [
            "run",
            "--train",
            &train,
            "--test",
            test,
            "--target",
            "label",
            "--budget-ms",
            "50",
            "--out",
            &o,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let t = write(d, "t_label.csv", b"a,b,city,label\n1,2,x,r\n");
    cases.push(Case {
        name: "test label unseen in training",
        args: tt(&t),
        code: 1,
        message: "t_label.csv, line 2, column `label`: label `r` was not seen in the training data"
            .into(),
    });
    let t = write(d, "t_col.csv", b"a,city,label\n1,x,p\n");
    cases.push(Case {
        name: "test file without a feature column",
        args: tt(&t),
        code: 1,
        message: "t_col.csv: missing column `b`, which the training data has".into(),
    });
    let t = write(d, "t_extra.csv", b"a,b,city,z,label\n1,2,x,0,p\n");
    cases.push(Case {
        name: "test file with an extra column",
        args: tt(&t),
        code: 1,
        message: "t_extra.csv: column `z` is not in the training data".into(),
    });
    let t = write(d, "t_num.csv", b"a,b,city,label\n1,two,x,p\n");
    cases.push(Case {
        name: "text in a numeric test column",
        args: tt(&t),
        code: 1,
        message: "t_num.csv, line 2, column `b`: expected a number".into(),
    });

    // Configs.
    let cfg = |name: &str, body: &str| -> Vec<String> {
        let p = write(d, name, body.as_bytes());
        ["run", "--config", &p, "--budget-ms", "50", "--out", &o]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let base = format!(
        "[data]\ncsv = \"{}\"\ntarget = \"label\"\n[[candidates]]\nfamily = \"logistic_regression\"\n",
        d.join("good.csv").display()
    );
    cases.push(Case {
        name: "[columns] names a column the file lacks",
        args: cfg(
            "c1.toml",
            &format!("{base}[columns]\nzip = \"categorical\"\n"),
        ),
        code: 1,
        message: "the config types a column `zip` ([columns]) that the file does not have".into(),
    });
    cases.push(Case {
        name: "[columns] with an unknown type",
        args: cfg("c2.toml", &format!("{base}[columns]\ncity = \"text\"\n")),
        code: 1,
        message: "unknown variant `text`, expected one of `numeric`, `categorical`, `ignore`"
            .into(),
    });
    cases.push(Case {
        name: "[columns] on synthetic data",
        args: cfg(
            "c3.toml",
            "[columns]\nf0 = \"categorical\"\n[[candidates]]\nfamily = \"logistic_regression\"\n",
        ),
        code: 1,
        message: "[columns] types CSV columns, but the data are synthetic".into(),
    });
    cases.push(Case {
        name: "pipeline.min_frequency = 0",
        args: cfg("c4.toml", &format!("{base}[pipeline]\nmin_frequency = 0\n")),
        code: 1,
        message: "pipeline.min_frequency must be at least 1".into(),
    });
    cases.push(Case {
        name: "unknown pipeline key",
        args: cfg(
            "c5.toml",
            &format!("{base}[pipeline]\nimputer = \"median\"\n"),
        ),
        code: 1,
        message: "unknown field `imputer`".into(),
    });
    cases.push(Case {
        name: "declared numeric, holds text",
        args: cfg("c6.toml", &format!("{base}[columns]\ncity = \"numeric\"\n")),
        code: 1,
        message: "line 2, column `city`: expected a number".into(),
    });
    cases.push(Case {
        name: "categorical fill that reads as missing",
        args: cfg(
            "c7.toml",
            &format!(
                "{base}[pipeline]\ncategorical_impute = \"constant\"\ncategorical_fill = \"NA\"\n"
            ),
        ),
        code: 1,
        message: "pipeline.categorical_fill `NA` reads as a missing value".into(),
    });
    assert!(cases.len() >= 23, "{}", cases.len());
    check(&cases, &out);
}

/// Serving-side inputs: rows that do not fit the package, and packages that
/// are not what they claim.
#[test]
fn bad_rows_flags_and_damaged_packages_are_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let pkg = d.join("run");
    let data = repo("tests/fixtures/penguins");
    optbench()
        .args(["run", "-q", "--config"])
        .arg(repo("configs/tiny.toml"))
        .arg("--train")
        .arg(data.join("train.csv"))
        .arg("--test")
        .arg(data.join("test.csv"))
        .args(["--target", "species", "--out"])
        .arg(&pkg)
        .assert()
        .success();
    let model = pkg.join("model").display().to_string();
    let out = d.join("preds.csv");
    let o = out.display().to_string();
    let header = "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year";
    let rows = |body: &str| format!("{header}\n{body}");
    let predict = |input: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "predict", "--model", &model, "--input", input, "--output", &o,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let mut cases = Vec::new();
    let f = write(
        d,
        "nocol.csv",
        b"island,bill_length_mm,bill_depth_mm,flipper_length_mm,sex,year\nDream,1,2,3,male,2008\n",
    );
    cases.push(Case {
        name: "a column the model needs is missing",
        args: predict(&f, &[]),
        code: 1,
        message: "nocol.csv: missing column `body_mass_g` (numeric), which the model needs".into(),
    });
    // To standard output (not atomic): a file refused outright prints
    // nothing there, not even the header.
    let stdout = optbench()
        .args(["predict", "--model", &model, "--input"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(stdout.status.code(), Some(1));
    assert!(
        stdout.stdout.is_empty(),
        "printed before refusing: {}",
        String::from_utf8_lossy(&stdout.stdout)
    );
    let f = write(
        d,
        "text.csv",
        rows("Dream,39.5,17.4,186,heavy,female,2007\n").as_bytes(),
    );
    cases.push(Case {
        name: "text in a numeric column",
        args: predict(&f, &[]),
        code: 1,
        message: "text.csv, line 2, column `body_mass_g`: data row 1: expected a number (or an empty cell / NA for a missing value), found `heavy`".into(),
    });
    let f = write(
        d,
        "inf.csv",
        rows("Dream,39.5,17.4,186,3800,female,2007\nDream,inf,17.4,186,3800,female,2007\n")
            .as_bytes(),
    );
    cases.push(Case {
        name: "infinity",
        args: predict(&f, &[]),
        code: 1,
        message: "inf.csv, line 3, column `bill_length_mm`: data row 2: expected a finite number, found inf".into(),
    });
    let f = write(
        d,
        "range.csv",
        rows("Dream,39.5,17.4,186,38000,female,2007\n").as_bytes(),
    );
    cases.push(Case {
        name: "far outside the training range, --strict",
        args: predict(&f, &["--strict"]),
        code: 1,
        message: "column `body_mass_g`: data row 1: 38000 is far outside the training range".into(),
    });
    let f = write(
        d,
        "unseen.csv",
        rows("Atlantis,39.5,17.4,186,3800,female,2007\n").as_bytes(),
    );
    cases.push(Case {
        name: "unseen category, --strict",
        args: predict(&f, &["--strict"]),
        code: 1,
        message:
            "column `island`: data row 1: category `Atlantis` was never seen in training (--strict)"
                .into(),
    });
    let f = write(
        d,
        "extra.csv",
        format!("{header},id\nDream,39.5,17.4,186,3800,female,2007,9\n").as_bytes(),
    );
    cases.push(Case {
        name: "unknown column, --strict",
        args: predict(&f, &["--strict"]),
        code: 1,
        message: "extra.csv: column(s) `id` are not in the model's schema".into(),
    });
    let f = write(d, "empty.csv", b"");
    cases.push(Case {
        name: "empty input",
        args: predict(&f, &[]),
        code: 1,
        message: "empty.csv: the file is empty".into(),
    });
    let f = write(d, "headeronly.csv", format!("{header}\n").as_bytes());
    cases.push(Case {
        name: "no rows",
        args: predict(&f, &[]),
        code: 1,
        message: "headeronly.csv: no data rows after the header".into(),
    });
    let f = write(d, "ragged.csv", rows("Dream,39.5,17.4\n").as_bytes());
    cases.push(Case {
        name: "ragged row",
        args: predict(&f, &[]),
        code: 1,
        message: "ragged.csv, line 2: the line has 3 field(s) where the header has 7".into(),
    });
    let good = write(
        d,
        "good.csv",
        rows("Dream,39.5,17.4,186,3800,female,2007\n").as_bytes(),
    );
    cases.push(case(
        "--skip-invalid to standard output without --rejected",
        &["predict", "--model", &model, "--input", &good, "--skip-invalid"],
        1,
        "--skip-invalid: writing to standard output: name the rejected-rows file with --rejected FILE",
    ));
    cases.push(Case {
        name: "negative --range-margin",
        args: predict(&good, &["--range-margin", "-1"]),
        code: 1,
        message: "--range-margin: -1: expected a share ≥ 0".into(),
    });
    cases.push(Case {
        name: "--rejected without --skip-invalid",
        args: predict(&good, &["--rejected", "r.csv"]),
        code: 2,
        message: "--skip-invalid".into(),
    });

    // Damaged packages: each a copy of the good one, damaged one way.
    let damaged = |name: &str, damage: &dyn Fn(&Path)| -> String {
        let dir = d.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["model.bin", "metadata.json"] {
            std::fs::copy(pkg.join("model").join(f), dir.join(f)).unwrap();
        }
        damage(&dir);
        dir.display().to_string()
    };
    let meta_edit = |from: &'static str, to: &'static str| {
        move |dir: &Path| {
            let p = dir.join("metadata.json");
            let t = std::fs::read_to_string(&p).unwrap();
            assert!(t.contains(from), "{from}");
            std::fs::write(&p, t.replacen(from, to, 1)).unwrap();
        }
    };
    let serve = |dir: &str| -> Vec<String> {
        ["predict", "--model", dir, "--input", &good, "--output", &o]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let p = damaged("truncated", &|dir| {
        let b = std::fs::read(dir.join("model.bin")).unwrap();
        std::fs::write(dir.join("model.bin"), &b[..b.len() / 2]).unwrap();
    });
    cases.push(Case {
        name: "truncated model file",
        args: serve(&p),
        code: 1,
        message: "model.bin is damaged or was altered".into(),
    });
    let p = damaged("flipped", &|dir| {
        let mut b = std::fs::read(dir.join("model.bin")).unwrap();
        let k = b.len() / 3;
        b[k] ^= 0x40;
        std::fs::write(dir.join("model.bin"), &b).unwrap();
    });
    cases.push(Case {
        name: "one flipped bit",
        args: serve(&p),
        code: 1,
        message: "model.bin is damaged or was altered".into(),
    });
    let p = damaged("nometa", &|dir| {
        std::fs::remove_file(dir.join("metadata.json")).unwrap()
    });
    cases.push(Case {
        name: "no metadata.json",
        args: serve(&p),
        code: 1,
        message: "no metadata.json: not an optbench model folder".into(),
    });
    let p = damaged("nobin", &|dir| {
        std::fs::remove_file(dir.join("model.bin")).unwrap()
    });
    cases.push(Case {
        name: "no model.bin",
        args: serve(&p),
        code: 1,
        message: "model.bin: No such file".into(),
    });
    let p = damaged("notjson", &|dir| {
        std::fs::write(dir.join("metadata.json"), "{ not json").unwrap()
    });
    cases.push(Case {
        name: "metadata.json is not JSON",
        args: serve(&p),
        code: 1,
        message: "metadata.json is not valid JSON".into(),
    });
    let p = damaged(
        "newer",
        &meta_edit("\"format_version\": 3", "\"format_version\": 4"),
    );
    cases.push(Case {
        name: "newer package format",
        args: serve(&p),
        code: 1,
        message:
            "written in package format 4, newer than this optbench reads (3); upgrade optbench"
                .into(),
    });
    let p = damaged(
        "older",
        &meta_edit("\"format_version\": 3", "\"format_version\": 2"),
    );
    cases.push(Case {
        name: "older package format",
        args: serve(&p),
        code: 1,
        message: "older than this optbench reads (3); re-run `optbench run`".into(),
    });
    let p = damaged("badfield", &meta_edit("\"classes\"", "\"klasses\""));
    cases.push(Case {
        name: "metadata with a renamed field",
        args: serve(&p),
        code: 1,
        message: "metadata.json is malformed".into(),
    });
    let p = damaged(
        "schema",
        &meta_edit("\"kind\": \"categorical\"", "\"kind\": \"numeric\""),
    );
    cases.push(Case {
        name: "metadata schema disagreeing with the model file",
        args: serve(&p),
        code: 1,
        message: "schema, pipeline, model and metadata do not fit together".into(),
    });
    let p = damaged("garbage", &|dir| {
        // A well-formed zstd frame of garbage, with its hash updated: the
        // hash check passes, decoding must refuse.
        let bytes = zstd::bulk::compress(&[7u8; 300], 3).unwrap();
        std::fs::write(dir.join("model.bin"), &bytes).unwrap();
        let digest = {
            use sha2::Digest;
            sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let p = dir.join("metadata.json");
        let mut m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        m["model_file"]["sha256"] = digest.into();
        std::fs::write(&p, serde_json::to_string(&m).unwrap()).unwrap();
    });
    cases.push(Case {
        name: "valid hash over an undecodable model",
        args: serve(&p),
        code: 1,
        message: "cannot decode the model".into(),
    });
    let nodir = d.join("nowhere").display().to_string();
    cases.push(Case {
        name: "no package folder",
        args: serve(&nodir),
        code: 1,
        message: "not an optbench model folder".into(),
    });
    cases.push(case(
        "inspect a damaged package",
        &["inspect", &d.join("flipped").display().to_string()],
        1,
        "damaged or was altered",
    ));
    cases.push(case(
        "bench a damaged package",
        &[
            "bench",
            "--model",
            &d.join("truncated").display().to_string(),
            "--data",
            &good,
        ],
        1,
        "damaged or was altered",
    ));
    cases.push(case(
        "bench with too few calls for a p99",
        &[
            "bench", "--model", &model, "--data", &good, "--calls", "100",
        ],
        1,
        "--calls: 100: at least 662 timed calls are needed for a p99",
    ));
    assert!(cases.len() >= 25, "{}", cases.len());
    check(&cases, &out);
}
