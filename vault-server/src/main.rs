//! `kentei-vault`: the CLI and HTTP service.

fn main() -> std::process::ExitCode {
    vault_server::cli::run()
}
