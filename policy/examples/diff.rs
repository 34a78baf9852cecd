//! Prints `policy diff OLD NEW` (either may be `default` for the built-in policy).
fn load(arg: &str) -> vault_policy::Policy {
    if arg == "default" {
        return vault_policy::Policy::default_policy();
    }
    vault_policy::Policy::load(arg).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 {
        eprintln!("usage: diff OLD NEW");
        std::process::exit(2);
    }
    print!("{}", vault_policy::diff(&load(&args[0]), &load(&args[1])));
}
