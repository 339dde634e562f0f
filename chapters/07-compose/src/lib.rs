pub mod de;
pub mod interpolate;
pub mod model;
pub mod node;
pub mod words;
