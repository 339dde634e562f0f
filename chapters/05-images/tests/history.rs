//! `history IMAGE`: the rows, and docker's table.

use ch05_images::history::{
    HistoryRow, ellipsis, human_duration, human_size, parse_rfc3339, render, rfc3339, rows,
};
use ch05_images::image::{History, ImageConfig};

const ID: &str = "3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741";
/// 2026-11-02T10:00:00Z
const NOW: i64 = 1_793_613_600;

fn step(created: &str, created_by: &str, empty_layer: bool) -> History {
    History {
        created: Some(created.into()),
        created_by: Some(created_by.into()),
        empty_layer,
        ..History::default()
    }
}

fn config() -> ImageConfig {
    ImageConfig {
        history: vec![
            step(
                "2026-10-01T08:00:00Z",
                "/bin/sh -c #(nop) ADD file:7e9002edaafd4e4579b65c8f0aaabde1aeb7fd3f8d95579f7fd3443cef785fd1 in / ",
                false,
            ),
            step(
                "2026-10-01T08:00:01Z",
                "/bin/sh -c #(nop)  CMD [\"sh\"]",
                true,
            ),
            step(
                "2026-11-02T09:59:58Z",
                "/bin/sh -c echo hi > /greeting",
                false,
            ),
            History {
                comment: Some("buildkit.dockerfile.v0".into()),
                ..step("2026-11-02T09:59:59Z", "/bin/sh -c #(nop)  ENV A=1", true)
            },
        ],
        ..ImageConfig::default()
    }
}

#[test]
fn rows_are_newest_first_with_each_layer_size_on_its_step() {
    let rows = rows(&config(), ID, &[4_261_856, 12]);
    let summary: Vec<(&str, u64, &str)> = rows
        .iter()
        .map(|r| (r.image.as_str(), r.size, r.comment.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("3f57d9401f8d", 0, "buildkit.dockerfile.v0"),
            ("<missing>", 12, ""),
            ("<missing>", 0, ""),
            ("<missing>", 4_261_856, ""),
        ]
    );
    assert_eq!(rows[0].created, Some(NOW - 1));
}

#[test]
fn a_config_without_history_shows_one_row_per_layer() {
    let config = ImageConfig {
        created: Some("2026-11-02T09:00:00Z".into()),
        ..ImageConfig::default()
    };
    let rows = rows(&config, ID, &[10, 20]);
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].size, rows[1].size), (20, 10));
    assert_eq!(rows[1].created, Some(NOW - 3600));
}

#[test]
fn the_table_is_docker_s() {
    let table = render(&rows(&config(), ID, &[4_261_856, 12]), NOW, true);
    let expected = "\
IMAGE          CREATED         CREATED BY                                      SIZE      COMMENT
3f57d9401f8d   1 second ago    /bin/sh -c #(nop)  ENV A=1                      0B        buildkit.dockerfile.v0
<missing>      2 seconds ago   /bin/sh -c echo hi > /greeting                  12B       
<missing>      4 weeks ago     /bin/sh -c #(nop)  CMD [\"sh\"]                   0B        
<missing>      4 weeks ago     /bin/sh -c #(nop) ADD file:7e9002edaafd4e457…   4.26MB    
";
    assert_eq!(table, expected);
    let untruncated = render(&rows(&config(), ID, &[4_261_856, 12]), NOW, false);
    assert!(untruncated.contains(
        "ADD file:7e9002edaafd4e4579b65c8f0aaabde1aeb7fd3f8d95579f7fd3443cef785fd1 in /"
    ));
}

#[test]
fn a_row_without_a_date_says_so() {
    let row = HistoryRow {
        image: "<missing>".into(),
        created: None,
        created_by: String::new(),
        size: 0,
        comment: String::new(),
    };
    assert!(render(&[row], NOW, true).contains("N/A"));
}

#[test]
fn durations_read_as_docker_prints_them() {
    let cases = [
        (0, "Less than a second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (3599, "59 minutes"),
        (3600, "About an hour"),
        (5400, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (13 * 86_400, "13 days"),
        (14 * 86_400, "2 weeks"),
        (59 * 86_400, "8 weeks"),
        (60 * 86_400, "2 months"),
        (729 * 86_400, "24 months"),
        (730 * 86_400, "2 years"),
        (-5, "Less than a second"),
    ];
    for (seconds, text) in cases {
        assert_eq!(human_duration(seconds), text, "{seconds}");
    }
}

#[test]
fn sizes_read_as_docker_prints_them() {
    let cases = [
        (0, "0B"),
        (12, "12B"),
        (999, "999B"),
        (1000, "1kB"),
        (1234, "1.23kB"),
        (4_261_856, "4.26MB"),
        (12_345_678, "12.3MB"),
        (123_456_789, "123MB"),
        (999_999, "1e+03kB"),
        (5_000_000_000, "5GB"),
    ];
    for (size, text) in cases {
        assert_eq!(human_size(size), text, "{size}");
    }
}

#[test]
fn long_commands_are_cut_with_an_ellipsis() {
    assert_eq!(ellipsis("short", 45), "short");
    assert_eq!(ellipsis(&"x".repeat(45), 45), "x".repeat(45));
    assert_eq!(
        ellipsis(&"x".repeat(46), 45),
        format!("{}…", "x".repeat(44))
    );
    assert_eq!(ellipsis("ééééé", 3), "éé…");
}

#[test]
fn rfc3339_both_ways() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(NOW as u64), "2026-11-02T10:00:00Z");
    assert_eq!(parse_rfc3339("2026-11-02T10:00:00Z"), Some(NOW));
    assert_eq!(parse_rfc3339("2026-11-02T10:00:00.123456789Z"), Some(NOW));
    assert_eq!(parse_rfc3339("2026-11-02T11:30:00+01:30"), Some(NOW));
    assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1));
    for bad in [
        "",
        "2026-11-02",
        "2026-13-01T00:00:00Z",
        "yesterday",
        "2026-11-02T10:00:00",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
    for seconds in [0, 86_399, 86_400, 1_000_000_000, 4_102_444_800] {
        assert_eq!(parse_rfc3339(&rfc3339(seconds)), Some(seconds as i64));
    }
}
