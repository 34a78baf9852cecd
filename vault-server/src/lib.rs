//! The kentei-vault HTTP service and CLI.
