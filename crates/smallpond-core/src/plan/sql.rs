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
}

impl SqlNode {
    /// Checks that every placeholder names an input.
    pub fn try_new(
        inputs: Vec<NodeId>,
        query: impl Into<String>,
        options: crate::plan::TaskOptions,
    ) -> Result<Self> {
        let query = query.into();
        if query.trim().is_empty() {
            return Err(Error::invalid("query", "the SQL query is empty"));
        }
        for index in placeholders(&query) {
            if index >= inputs.len() {
                return Err(Error::PlaceholderOutOfRange {
                    index,
                    given: inputs.len(),
                    query,
                });
            }
        }
        Ok(Self {
            inputs,
            query,
            options,
            udfs: Vec::new(),
        })
    }
}

/// A piece of a query template: literal text or a `{N}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Input(usize),
}

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
            Piece::Text(_) => None,
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
            })
            .collect();
        assert_eq!(
            text,
            "select <0>.a, '{x}', {'k': 1} from <0> join <1> using (a)"
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
