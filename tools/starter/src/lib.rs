//! The workshop's starter trees.
//!
//! A learner who takes chapter N of the course gets a workspace in which
//! chapters 1 to N-1 are complete, chapter N is there with the bodies the
//! learner writes replaced by `todo!()`, and nothing above N exists. It
//! builds offline from the same `Cargo.lock`, its binary runs, and it stops
//! at the first missing piece with the book section to read.
//!
//! - [`markers`]: the `// SOLUTION START` / `// SOLUTION END` markers in the
//!   chapter sources, and the `todo!()` that replaces what they wrap.
//! - [`tree`]: which crates a starter holds, its `Cargo.toml`, the copy.

pub mod markers;
pub mod tree;

pub use markers::{MarkerError, Solution};
pub use tree::{Chapter, Starter, StarterError, chapters, solutions_of, write_starter};
