//! The engine bench (`cargo bench -p skiff --bench engine`) in a quick,
//! skiff-only mode, so that it does not rot: it must run every scenario
//! against skiff's daemon, with the skiff CLI and the docker CLI (compose:
//! skiff compose and docker-compose), and say loudly that dockerd was not
//! measured. No dockerd is needed here.

#[path = "../benches/engine/bench/mod.rs"]
#[allow(dead_code)]
mod bench;

#[test]
fn the_bench_runs_every_scenario_against_skiff_in_quick_mode() {
    skiff_testkit::require_root();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let args = [
        "bench-engine",
        "--iterations",
        "2",
        "--warmup",
        "1",
        "--containers",
        "3",
        "--compose-iterations",
        "1",
        "--skiff-only",
        "--json",
    ];
    let code = bench::main_with(
        args.iter()
            .map(Into::into)
            .chain([json.clone().into_os_string()]),
    );
    assert_eq!(code, 0, "the bench failed (its error is above)");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        report["unavailable"]["docker"],
        "not measured: --skiff-only"
    );
    let rows = report["rows"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "run --rm true",
            "run -d sleep",
            "exec true",
            "rm -f",
            "run -d + exec + rm -f",
            "compose up -d",
            "compose up -d -> all healthy",
            "compose down -v",
            "ps (3 running)",
            "daemon idle RSS",
            "daemon idle PSS",
            "shim per container (3 running) RSS",
            "shim per container (3 running) PSS",
            "daemons with 3 running RSS",
            "daemons with 3 running PSS",
        ]
    );
    for row in rows {
        let skiff = &row["skiff"];
        assert!(
            skiff["median"].as_f64().is_some_and(|m| m > 0.0),
            "skiff has no figure for {}: {row}",
            row["name"]
        );
        let docker = &row["docker"];
        assert_eq!(docker["unavailable"], "not measured: --skiff-only", "{row}");
        assert_eq!(row["ratio"], serde_json::Value::Null, "{row}");
        if row["unit"] == "ms" {
            // Two measured rounds each (one for compose), through both
            // clients.
            let rounds = if row["name"].as_str().unwrap().starts_with("compose") {
                1
            } else {
                2
            };
            assert_eq!(skiff["count"], rounds, "{row}");
            assert_eq!(row["docker_cli_on_skiff"]["count"], rounds, "{row}");
            assert!(skiff["p90"].as_f64() >= skiff["median"].as_f64(), "{row}");
        }
    }
    let shims = &rows[11]["skiff"];
    assert_eq!(shims["count"], 3, "one figure per shim: {shims}");
}

/// The bench's arithmetic and reading of /proc, without daemons.
mod parts {
    use super::bench::memory::{Memory, kib_field, parent};
    use super::bench::report::{Cell, Column, Report, Row, Unit};
    use super::bench::stats::Summary;
    use std::collections::BTreeMap;

    #[test]
    fn the_median_ignores_an_outlier() {
        let summary = Summary::of(&[12.0, 10.0, 500.0, 11.0, 13.0]).unwrap();
        assert_eq!(summary.median, 12.0);
        assert_eq!((summary.min, summary.max, summary.count), (10.0, 500.0, 5));
    }

    #[test]
    fn the_p90_is_the_nearest_rank() {
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(Summary::of(&ten).unwrap().p90, 9.0);
        assert_eq!(Summary::of(&[3.0, 1.0, 2.0]).unwrap().p90, 3.0);
        assert_eq!(Summary::of(&[7.0]).unwrap().p90, 7.0);
    }

    #[test]
    fn an_even_count_averages_the_middle_two() {
        assert_eq!(Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap().median, 2.5);
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn proc_fields_are_read_in_kib() {
        let status = "Name:\tsh\nVmRSS:\t    1234 kB\nRssAnon:\t 12 kB\n";
        assert_eq!(kib_field(status, "VmRSS:"), Some(1234));
        assert_eq!(kib_field(status, "Pss:"), None);
    }

    #[test]
    fn this_process_has_a_parent_and_takes_memory() {
        let me = std::process::id() as i32;
        assert_eq!(
            parent(me).unwrap(),
            std::os::unix::process::parent_id() as i32
        );
        let memory = Memory::of(me).unwrap();
        assert!(memory.rss > 0);
        assert!(
            memory.pss.is_some_and(|pss| pss > 0 && pss <= memory.rss),
            "{memory:?}"
        );
    }

    fn measured(median: f64) -> Cell {
        Cell::Measured(Summary::of(&[median]).unwrap())
    }

    #[test]
    fn ratios_and_verdicts_compare_with_dockerd() {
        let row = Row {
            name: "run --rm true".into(),
            unit: Unit::Millis,
            cells: BTreeMap::from([
                (Column::Skiff, measured(50.0)),
                (Column::DockerCliOnSkiff, measured(100.0)),
                (Column::Docker, measured(1000.0)),
            ]),
            target: Some(0.1),
        };
        assert_eq!(row.ratio(Column::Skiff), Some(0.05));
        assert_eq!(row.ratio(Column::DockerCliOnSkiff), Some(0.1));
        assert_eq!(row.met(), Some(true));
        let slower = Row {
            cells: BTreeMap::from([
                (Column::Skiff, measured(200.0)),
                (Column::Docker, measured(1000.0)),
            ]),
            ..row
        };
        assert_eq!(slower.met(), Some(false));
    }

    #[test]
    fn a_missing_column_is_said_not_hidden() {
        let reason = "dockerd is missing: install Debian's docker.io";
        let report = Report {
            context: vec![],
            rows: vec![Row {
                name: "ps".into(),
                unit: Unit::Millis,
                cells: BTreeMap::from([
                    (Column::Skiff, measured(5.0)),
                    (Column::Docker, Cell::Unavailable(reason.into())),
                ]),
                target: Some(0.1),
            }],
            unavailable: BTreeMap::from([(Column::Docker, reason.to_string())]),
        };
        let table = report.table();
        assert!(table.contains("unavailable"), "{table}");
        assert!(table.contains("not compared"), "{table}");
        assert!(
            table.contains(&format!("DOCKERD UNAVAILABLE: {reason}")),
            "{table}"
        );
        let json = report.json();
        assert_eq!(json["rows"][0]["docker"]["unavailable"], reason);
        assert_eq!(json["rows"][0]["ratio"], serde_json::Value::Null);
        assert_eq!(json["unavailable"]["docker"], reason);
    }
}
