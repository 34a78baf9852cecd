//! `kentei-vault`: the CLI and HTTP service.
fn main() {}
