//! Prints `policy explain` for the default policy, or for a policy file given as argument.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let policy = match args.first() {
        Some(path) => match vault_policy::Policy::load(path) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        },
        None => vault_policy::Policy::default_policy(),
    };
    print!(
        "{}",
        policy.explain(
            args.get(1).map(String::as_str),
            args.get(2).map(String::as_str)
        )
    );
}
