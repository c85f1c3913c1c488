//! A result's snippet: the message's text around the first word the query marks, cut at word
//! boundaries, with every marked word in it as a part of its own.

use super::{query::Query, terms::words};
use crate::model::SnippetPart;

/// About how many characters of context a snippet keeps before the first marked word, and
/// how long it is at most (longer texts are cut, an ellipsis saying so).
const BEFORE_CHARS: usize = 60;
const MAX_CHARS: usize = 240;
const ELLIPSIS: &str = "…";

pub fn snippet(text: &str, query: &Query) -> Vec<SnippetPart> {
    let found: Vec<_> = words(text).collect();
    let marked: Vec<_> = found.iter().filter(|word| query.marks(word)).collect();
    let first = marked.first().map_or(0, |word| word.at.start);
    // Start at a word boundary about BEFORE_CHARS before the first mark.
    let start = found
        .iter()
        .map(|word| word.at.start)
        .filter(|&at| at <= first && text[at..first].chars().count() <= BEFORE_CHARS)
        .min()
        .unwrap_or(first);
    let start = if text[..start].chars().count() <= BEFORE_CHARS / 4 {
        0
    } else {
        start
    };
    let end = text[start..]
        .char_indices()
        .nth(MAX_CHARS)
        .map_or(text.len(), |(at, _)| {
            // Back to the end of the last whole word.
            found
                .iter()
                .map(|word| word.at.end)
                .filter(|&end| end <= start + at && end > start)
                .max()
                .unwrap_or(start + at)
        });

    let mut parts = Vec::new();
    let mut push = |text: &str, mark: bool| {
        if !text.is_empty() {
            parts.push(SnippetPart {
                text: text.to_owned(),
                mark,
            });
        }
    };
    if start > 0 {
        push(ELLIPSIS, false);
    }
    let mut at = start;
    for word in marked
        .iter()
        .filter(|word| word.at.start >= start && word.at.end <= end)
    {
        push(&text[at..word.at.start], false);
        push(&text[word.at.clone()], true);
        at = word.at.end;
    }
    push(&text[at..end], false);
    if end < text.len() {
        push(ELLIPSIS, false);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str, q: &str) -> String {
        snippet(text, &Query::parse(q).unwrap())
            .into_iter()
            .map(|part| {
                if part.mark {
                    format!("[{}]", part.text)
                } else {
                    part.text
                }
            })
            .collect()
    }

    #[test]
    fn marks_the_matched_words_in_a_short_text() {
        assert_eq!(
            shown("We deployed the new release!", "deploy release"),
            "We [deployed] the new [release]!"
        );
    }

    #[test]
    fn a_long_text_is_cut_around_the_first_match_at_word_boundaries() {
        let text = format!("{} needle {}", "hay ".repeat(100), "straw ".repeat(100));
        let shown = shown(&text, "needle");
        assert!(shown.starts_with("…hay"), "{shown}");
        assert!(shown.contains("[needle]"));
        assert!(shown.ends_with("straw…"), "{shown}");
        assert!(shown.chars().count() <= MAX_CHARS + 4);
    }

    #[test]
    fn the_parts_are_the_text_not_markup() {
        let parts = snippet("<b>bold</b> claim", &Query::parse("bold").unwrap());
        assert_eq!(parts[0].text, "<b>");
        assert!(parts[1].mark && parts[1].text == "bold");
    }
}
