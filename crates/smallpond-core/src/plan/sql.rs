use serde::{Deserialize, Serialize};

use crate::{Error, NodeId, Result};

/// Runs a DuckDB query on every partition; `{0}`, `{1}`, ... stand for the inputs' partitions.
/// Inputs must have equal partition counts; a query without inputs runs once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlNode {
    pub inputs: Vec<NodeId>,
    pub query: String,
    pub options: crate::plan::TaskOptions,
    /// Functions the query may call, set up in each task's connection before it runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub udfs: Vec<crate::plan::Udf>,
    /// Statements run first, in order, in the same connection (the original smallpond's
    /// list of queries: all run, the last one's result is the output).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<String>,
}

impl SqlNode {
    /// Checks that every placeholder names an input.
    pub fn try_new(
        inputs: Vec<NodeId>,
        query: impl Into<String>,
        options: crate::plan::TaskOptions,
    ) -> Result<Self> {
        let query = query.into();
        check_template(&query, inputs.len())?;
        Ok(Self {
            inputs,
            query,
            options,
            udfs: Vec::new(),
            setup: Vec::new(),
        })
    }

    /// With `setup` statements run before the query (each checked as the query is).
    pub fn with_setup(mut self, setup: Vec<String>) -> Result<Self> {
        for statement in &setup {
            check_template(statement, self.inputs.len())?;
        }
        self.setup = setup;
        Ok(self)
    }
}

/// Checks that a query template is not empty and that every placeholder names an input.
fn check_template(query: &str, inputs: usize) -> Result<()> {
    {
        let query = query.to_string();
        if query.trim().is_empty() {
            return Err(Error::invalid("query", "the SQL query is empty"));
        }
        if let Some(unknown) = named(&query).into_iter().find(|n| !NAMED.contains(n)) {
            return Err(Error::invalid(
                "query",
                format!(
                    "{{{unknown}}} is not a placeholder (they are {{0}}, {{1}}, ... and {}); \
                     write {{{{ and }}}} for literal braces: {query}",
                    NAMED.map(|n| format!("{{{n}}}")).join(", ")
                ),
            ));
        }
        for index in placeholders(&query) {
            if index >= inputs {
                return Err(Error::PlaceholderOutOfRange {
                    index,
                    given: inputs,
                    query,
                });
            }
        }
    }
    Ok(())
}

/// A piece of a query template: literal text, a `{N}` placeholder, or a named one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Input(usize),
    /// `{rand_seed}`, `{cpu_limit}`, ...: see [`NAMED`].
    Named(&'a str),
}

/// The named placeholders the original smallpond fills in per task (with Python's
/// `str.format`): `{batch_index}` and `{query_index}` (0 here: a task runs its query once
/// over its whole input), `{cpu_limit}` and `{memory_limit}` (the task's threads and memory
/// bytes), `{rand_seed}` (a 32-bit seed, the same for every attempt of the task),
/// `{output_filename}` (the task's output file name without extension) and
/// `{__data_partition__}` (the task's partition index).
pub const NAMED: [&str; 7] = [
    "batch_index",
    "query_index",
    "cpu_limit",
    "memory_limit",
    "rand_seed",
    "output_filename",
    "__data_partition__",
];

/// Splits a query template into text and `{N}` placeholders. `{{` and `}}` stand for
/// literal braces (as in Python's `str.format`, which the original smallpond uses); any
/// other brace is kept as it is, so struct literals like `{'a': 1}` still work.
pub fn pieces(query: &str) -> Vec<Piece<'_>> {
    let bytes = query.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut start) = (0, 0);
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"{{") || rest.starts_with(b"}}") {
            out.push(Piece::Text(&query[start..i + 1]));
            i += 2;
            start = i;
            continue;
        }
        if bytes[i] == b'{' {
            let name = rest[1..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            let first = rest.get(1).copied().unwrap_or(b'0');
            if name > 0
                && (first.is_ascii_alphabetic() || first == b'_')
                && rest.get(1 + name) == Some(&b'}')
            {
                out.push(Piece::Text(&query[start..i]));
                out.push(Piece::Named(&query[i + 1..i + 1 + name]));
                i += name + 2;
                start = i;
                continue;
            }
            let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 && rest.get(1 + digits) == Some(&b'}') {
                if let Ok(index) = query[i + 1..i + 1 + digits].parse() {
                    out.push(Piece::Text(&query[start..i]));
                    out.push(Piece::Input(index));
                    i += digits + 2;
                    start = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push(Piece::Text(&query[start..]));
    out.retain(|p| !matches!(p, Piece::Text("")));
    out
}

/// The input indexes a query template refers to.
pub fn placeholders(query: &str) -> Vec<usize> {
    pieces(query)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Input(i) => Some(i),
            Piece::Text(_) | Piece::Named(_) => None,
        })
        .collect()
}

/// The named placeholders a query template uses.
pub fn named(query: &str) -> Vec<&str> {
    pieces(query)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Named(n) => Some(n),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_escapes() {
        let q = "select {0}.a, '{{x}}', {'k': 1} from {0} join {1} using (a)";
        assert_eq!(placeholders(q), vec![0, 0, 1]);
        let text: String = pieces(q)
            .into_iter()
            .map(|p| match p {
                Piece::Text(t) => t.to_string(),
                Piece::Input(i) => format!("<{i}>"),
                Piece::Named(n) => format!("<{n}>"),
            })
            .collect();
        assert_eq!(
            text,
            "select <0>.a, '{x}', {'k': 1} from <0> join <1> using (a)"
        );
    }

    #[test]
    fn named_placeholders_are_pieces_and_unknown_names_are_refused() {
        let q = "select {rand_seed}, {__data_partition__}, {'k': {0}}, {{rand_seed}} from {0}";
        let named: Vec<&str> = named(q);
        assert_eq!(named, vec!["rand_seed", "__data_partition__"]);
        assert_eq!(placeholders(q), vec![0, 0]);
        let err = SqlNode::try_new(
            vec![NodeId(0)],
            "select {seed} from {0}",
            Default::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("{seed} is not a placeholder") && err.contains("{rand_seed}"),
            "{err}"
        );
    }

    #[test]
    fn placeholder_beyond_inputs_is_rejected() {
        let err = SqlNode::try_new(
            vec![NodeId(0), NodeId(1)],
            "select * from {2}",
            Default::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("{2}"), "{err}");
        assert!(err.to_string().contains("2 input(s)"), "{err}");
    }
}
