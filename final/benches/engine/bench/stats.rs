//! Medians: on a shared machine a few rounds are slowed down by whatever
//! else runs, and the median ignores them where a mean would not. The
//! 90th percentile says how slow the slow rounds were.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: f64,
    /// The nearest-rank 90th percentile: the smallest value that at least
    /// 90% of the values do not exceed.
    pub p90: f64,
    pub min: f64,
    pub max: f64,
    pub count: usize,
}

impl Summary {
    /// The median, 90th percentile, minimum and maximum of `values`;
    /// `None` when empty.
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[middle]
        } else {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        };
        let rank = (sorted.len() * 9).div_ceil(10);
        Some(Summary {
            median,
            p90: sorted[rank - 1],
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            count: sorted.len(),
        })
    }
}
