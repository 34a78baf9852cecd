//! Black-box tests for kentei-vault live in `tests/tests/`; this crate has no library code.
