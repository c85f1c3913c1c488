//! A query as typed, understood: words (each must match, in any order), `"a phrase"` (its
//! words side by side, in order) and `prefix*`; and the FTS5 expression that asks the index
//! for exactly that. Every word reaches the index quoted, so nothing typed is an operator.

use super::terms::{words, Word};
use crate::error::ChatError;

/// The most words and phrases one query may have.
pub const MAX_CLAUSES: usize = 16;
/// The fewest characters a prefix may have: a shorter one would match most of the index.
pub const MIN_PREFIX_CHARS: usize = 2;

/// What a query looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    clauses: Vec<Clause>,
}

/// Words that must appear side by side, in order (a single word is a clause of one); the last
/// one only as a prefix when `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    words: Vec<Word>,
    prefix: bool,
}

impl Query {
    pub fn parse(text: &str) -> Result<Self, ChatError> {
        let mut clauses = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            let (typed, prefix, after) = if let Some(quoted) = rest.strip_prefix('"') {
                let end = quoted.find('"').ok_or_else(|| {
                    ChatError::invalid("a phrase needs its closing quote: \"like this\"")
                })?;
                let after = &quoted[end + 1..];
                let prefix = after.starts_with('*');
                (&quoted[..end], prefix, after.trim_start_matches('*'))
            } else {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '"')
                    .unwrap_or(rest.len());
                let word = &rest[..end];
                let prefix = word.ends_with('*');
                (word.trim_end_matches('*'), prefix, &rest[end..])
            };
            rest = after.trim_start();
            let words: Vec<Word> = words(typed).collect();
            let Some(last) = words.last() else {
                if prefix {
                    return Err(short_prefix());
                }
                continue;
            };
            if prefix && last.plain.chars().count() < MIN_PREFIX_CHARS {
                return Err(short_prefix());
            }
            clauses.push(Clause { words, prefix });
        }
        if clauses.is_empty() {
            return Err(ChatError::invalid(
                "nothing to search for: q has no words (letters, digits or emoji)",
            ));
        }
        if clauses.len() > MAX_CLAUSES {
            return Err(ChatError::invalid(format!(
                "q may have at most {MAX_CLAUSES} words and phrases"
            )));
        }
        Ok(Self { clauses })
    }

    /// The FTS5 expression: every clause (`AND`), each a quoted phrase of stems, or of plain
    /// words when it ends in a prefix (stems would not start like the word typed).
    pub fn fts_expression(&self) -> String {
        let phrases: Vec<String> = self
            .clauses
            .iter()
            .map(|clause| {
                let (column, terms): (_, Vec<&str>) = if clause.prefix {
                    (
                        "plains",
                        clause.words.iter().map(|w| w.plain.as_str()).collect(),
                    )
                } else {
                    (
                        "stems",
                        clause.words.iter().map(|w| w.stem.as_str()).collect(),
                    )
                };
                // Terms never hold a double quote (punctuation is not part of a word).
                let star = if clause.prefix { " *" } else { "" };
                format!("{column} : \"{}\"{star}", terms.join(" "))
            })
            .collect();
        phrases.join(" AND ")
    }

    /// Whether a word of a message is one the query looks for, to mark it in a snippet.
    pub fn marks(&self, word: &Word) -> bool {
        self.clauses.iter().any(|clause| {
            let (last, others) = clause.words.split_last().expect("a clause has words");
            others.iter().any(|w| w.stem == word.stem)
                || if clause.prefix {
                    word.plain.starts_with(&last.plain)
                } else {
                    last.stem == word.stem
                }
        })
    }
}

fn short_prefix() -> ChatError {
    ChatError::invalid(format!(
        "a prefix needs at least {MIN_PREFIX_CHARS} letters before the *"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expression(q: &str) -> String {
        Query::parse(q).unwrap().fts_expression()
    }

    fn refusal(q: &str) -> String {
        Query::parse(q).unwrap_err().to_string()
    }

    #[test]
    fn words_are_all_required_and_stemmed() {
        assert_eq!(
            expression("Deploys tonight"),
            r#"stems : "deploy" AND stems : "tonight""#
        );
    }

    #[test]
    fn a_phrase_keeps_its_words_together() {
        assert_eq!(
            expression(r#"ship "the release" now"#),
            r#"stems : "ship" AND stems : "the releas" AND stems : "now""#
        );
    }

    #[test]
    fn a_prefix_is_matched_against_words_as_typed() {
        assert_eq!(expression("deplo*"), r#"plains : "deplo" *"#);
        assert_eq!(expression(r#""big rel"*"#), r#"plains : "big rel" *"#);
    }

    #[test]
    fn operators_and_quotes_typed_are_only_words() {
        assert_eq!(
            expression("NOT a OR b NEAR(c)"),
            r#"stems : "not" AND stems : "a" AND stems : "or" AND stems : "b" AND stems : "near c""#
        );
    }

    #[test]
    fn ideographs_typed_together_must_stand_together() {
        assert_eq!(expression("東京"), r#"stems : "東 京""#);
    }

    #[test]
    fn what_the_index_cannot_answer_is_refused_with_a_reason() {
        assert!(refusal(r#"an "open phrase"#).contains("closing quote"));
        assert!(refusal("a*").contains("at least 2"));
        assert!(refusal("*").contains("at least 2"));
        assert!(refusal("... ?!").contains("nothing to search for"));
        assert!(refusal(&"w ".repeat(MAX_CLAUSES + 1)).contains("at most"));
    }

    #[test]
    fn marks_what_matches_stems_and_prefixes() {
        let query = Query::parse("deploy rel*").unwrap();
        let marked: Vec<String> = words("Deployed the release, relaxed; redeploy")
            .filter(|word| query.marks(word))
            .map(|word| word.plain)
            .collect();
        assert_eq!(marked, ["deployed", "release", "relaxed"]);
    }
}
