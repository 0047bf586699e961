//! Verdicts written as JSON straight from the check path's outcomes.
