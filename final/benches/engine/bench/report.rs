//! The figures: a table for people, JSON for tools. A column that could
//! not be measured says so, with the reason, in both.

use super::stats::Summary;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Who is measured: skiff's daemon through its own CLI, skiff's daemon
/// through the docker CLI, dockerd through the docker CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Column {
    Skiff,
    DockerCliOnSkiff,
    Docker,
}

impl Column {
    pub const ALL: [Column; 3] = [Column::Skiff, Column::DockerCliOnSkiff, Column::Docker];

    /// The key in the JSON report.
    pub fn key(self) -> &'static str {
        match self {
            Column::Skiff => "skiff",
            Column::DockerCliOnSkiff => "docker_cli_on_skiff",
            Column::Docker => "docker",
        }
    }

    /// The heading in the table.
    pub fn heading(self) -> &'static str {
        match self {
            Column::Skiff => "skiff",
            Column::DockerCliOnSkiff => "docker->skiff",
            Column::Docker => "dockerd",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Millis,
    MiB,
}

impl Unit {
    fn label(self) -> &'static str {
        match self {
            Unit::Millis => "ms",
            Unit::MiB => "MiB",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Measured(Summary),
    /// Could not be measured; the reason.
    Unavailable(String),
    /// Means nothing for this row (the docker CLI has no memory of its own
    /// in a daemon's figures).
    NotApplicable,
}

impl Cell {
    fn median(&self) -> Option<f64> {
        match self {
            Cell::Measured(summary) => Some(summary.median),
            _ => None,
        }
    }

    fn json(&self) -> Value {
        match self {
            Cell::Measured(s) => {
                json!({"median": s.median, "p90": s.p90, "min": s.min, "max": s.max, "count": s.count})
            }
            Cell::Unavailable(reason) => json!({"unavailable": reason}),
            Cell::NotApplicable => Value::Null,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub unit: Unit,
    pub cells: BTreeMap<Column, Cell>,
    /// The target for skiff / dockerd, where it sets one.
    pub target: Option<f64>,
}

impl Row {
    /// `column`'s median over dockerd's.
    pub fn ratio(&self, column: Column) -> Option<f64> {
        let ours = self.cells.get(&column)?.median()?;
        let theirs = self.cells.get(&Column::Docker)?.median()?;
        (theirs > 0.0).then(|| ours / theirs)
    }

    /// Whether skiff met the target: `None` without a target or a ratio.
    pub fn met(&self) -> Option<bool> {
        Some(self.ratio(Column::Skiff)? <= self.target?)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Machine, versions, options: what the figures depend on.
    pub context: Vec<(String, String)>,
    pub rows: Vec<Row>,
    /// Why a column is missing, for the columns that are.
    pub unavailable: BTreeMap<Column, String>,
}

impl Report {
    pub fn table(&self) -> String {
        let mut out = String::new();
        for (key, value) in &self.context {
            let _ = writeln!(out, "{key:>14}: {value}");
        }
        let _ = writeln!(out);
        let _ = write!(out, "{:<42}", "median");
        for column in Column::ALL {
            let _ = write!(out, "{:>14}", column.heading());
        }
        let _ = writeln!(
            out,
            "{:>14}{:>18}{:>10}  verdict",
            "skiff/dockerd", "docker->skiff/d", "target"
        );
        for row in &self.rows {
            let name = format!("{} [{}]", row.name, row.unit.label());
            let _ = write!(out, "{name:<42}");
            for column in Column::ALL {
                let text = cell_text(row.cells.get(&column), |s| s.median);
                let _ = write!(out, "{text:>14}");
            }
            let ratio = |column| {
                row.ratio(column)
                    .map_or("-".to_string(), |r| format!("{r:.3}x"))
            };
            let target = row.target.map_or("-".to_string(), |t| format!("<={t}x"));
            let verdict = match row.met() {
                Some(true) => "met",
                Some(false) => "MISSED",
                None if row.target.is_some() => "not compared",
                None => "",
            };
            let _ = writeln!(
                out,
                "{:>14}{:>18}{target:>10}  {verdict}",
                ratio(Column::Skiff),
                ratio(Column::DockerCliOnSkiff)
            );
        }
        self.p90_table(&mut out);
        for (column, reason) in &self.unavailable {
            let _ = writeln!(
                out,
                "\n!!! {} UNAVAILABLE: {reason}",
                column.heading().to_uppercase()
            );
        }
        out
    }

    /// The 90th percentiles of the timed rows: the medians' companion,
    /// for the rounds the machine slowed down.
    fn p90_table(&self, out: &mut String) {
        let _ = write!(out, "\n{:<42}", "p90");
        for column in Column::ALL {
            let _ = write!(out, "{:>14}", column.heading());
        }
        let _ = writeln!(out);
        for row in self.rows.iter().filter(|row| row.unit == Unit::Millis) {
            let name = format!("{} [{}]", row.name, row.unit.label());
            let _ = write!(out, "{name:<42}");
            for column in Column::ALL {
                let text = cell_text(row.cells.get(&column), |s| s.p90);
                let _ = write!(out, "{text:>14}");
            }
            let _ = writeln!(out);
        }
    }

    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let mut object = serde_json::Map::new();
                object.insert("name".into(), json!(row.name));
                object.insert("unit".into(), json!(row.unit.label()));
                for column in Column::ALL {
                    let cell = row.cells.get(&column).map_or(Value::Null, Cell::json);
                    object.insert(column.key().into(), cell);
                }
                object.insert("ratio".into(), json!(row.ratio(Column::Skiff)));
                object.insert(
                    "ratio_docker_cli_on_skiff".into(),
                    json!(row.ratio(Column::DockerCliOnSkiff)),
                );
                object.insert("target".into(), json!(row.target));
                object.insert("met".into(), json!(row.met()));
                Value::Object(object)
            })
            .collect();
        let unavailable: serde_json::Map<String, Value> = self
            .unavailable
            .iter()
            .map(|(column, reason)| (column.key().to_string(), json!(reason)))
            .collect();
        let context: serde_json::Map<String, Value> = self
            .context
            .iter()
            .map(|(key, value)| (key.clone(), json!(value)))
            .collect();
        json!({"context": context, "unavailable": unavailable, "rows": rows})
    }
}

/// One figure of a cell (`figure` picks the median or the p90), or why
/// there is none.
fn cell_text(cell: Option<&Cell>, figure: impl Fn(&Summary) -> f64) -> String {
    match cell {
        Some(Cell::Measured(summary)) => format!("{:.2}", figure(summary)),
        Some(Cell::Unavailable(_)) => "unavailable".to_string(),
        Some(Cell::NotApplicable) | None => "-".to_string(),
    }
}
