//! Errors of loading and checking a policy file.

use std::fmt;

/// One problem found in a policy file: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyProblem {
    pub(crate) line: Option<usize>,
    pub(crate) message: String,
}

impl PolicyProblem {
    /// The 1-based line of the file the problem is on; `None` when something is missing from
    /// the file as a whole.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// What is wrong and, where it helps, what to write instead.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Why a policy could not be loaded. The service refuses to start with it.
///
/// Display names the file, the line and the problem, one problem per line, e.g.
/// `policy.toml:42: unknown field class `idnetity` (known: my_number, identity, …)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("{origin}: cannot read the policy file: {source}")]
    Io {
        /// The path or name the policy was loaded from.
        origin: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a value has the wrong shape (a list where text is
    /// expected, an unknown key).
    #[error("{origin}:{line}: {message}")]
    Syntax {
        /// The path or name the policy was loaded from.
        origin: String,
        /// The 1-based line of the error.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// The file is valid TOML but breaks the policy's rules; every problem found is listed.
    #[error("{}", ProblemList { origin, problems })]
    Invalid {
        /// The path or name the policy was loaded from.
        origin: String,
        /// The problems, ordered by line.
        problems: Vec<PolicyProblem>,
    },
}

impl PolicyError {
    /// Every problem with its line: one for a syntax error, all found for an invalid policy,
    /// none when the file could not be read.
    pub fn problems(&self) -> Vec<PolicyProblem> {
        match self {
            PolicyError::Io { .. } => Vec::new(),
            PolicyError::Syntax { line, message, .. } => vec![PolicyProblem {
                line: Some(*line),
                message: message.clone(),
            }],
            PolicyError::Invalid { problems, .. } => problems.clone(),
        }
    }
}

struct ProblemList<'a> {
    origin: &'a str,
    problems: &'a [PolicyProblem],
}

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            match p.line {
                Some(line) => write!(f, "{}:{}: {}", self.origin, line, p.message)?,
                None => write!(f, "{}: {}", self.origin, p.message)?,
            }
        }
        Ok(())
    }
}
