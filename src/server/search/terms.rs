//! What the index keeps of a text, and what a query looks for: its words, each cut out by the
//! Unicode word rules (UAX #29), in lower case, without the punctuation inside them (`don't`
//! is `dont`). English words (ASCII letters only) are also kept by their stem, so `deploys`
//! finds `deployed`; words of other scripts are kept as typed. Ideographs are words of their
//! own (a query of several finds them side by side), and an emoji is a word.

use std::{ops::Range, sync::LazyLock};

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// One word of a text: where it is, and how the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Byte range in the text.
    pub at: Range<usize>,
    /// Lower case, without inner punctuation: what a prefix is matched against.
    pub plain: String,
    /// The English stem of `plain`, or `plain` itself for any other word.
    pub stem: String,
}

/// The words of `text`, in order.
pub fn words(text: &str) -> impl Iterator<Item = Word> + '_ {
    text.split_word_bound_indices()
        .filter_map(|(start, segment)| {
            let plain = plain(segment)?;
            Some(Word {
                at: start..start + segment.len(),
                stem: stem(&plain),
                plain,
            })
        })
}

/// The word a segment is, if it is one: letters and digits, or an emoji.
fn plain(segment: &str) -> Option<String> {
    if segment.chars().any(char::is_alphanumeric) {
        let plain: String = segment
            .chars()
            .filter(|&c| c.is_alphanumeric() || !(c.is_ascii() || is_punctuation(c)))
            .flat_map(char::to_lowercase)
            .collect();
        return Some(plain);
    }
    let emoji: String = segment.chars().filter(|&c| !is_variation(c)).collect();
    (!emoji.is_empty() && (emojis::get(segment).is_some() || emojis::get(&emoji).is_some()))
        .then_some(emoji)
}

fn stem(plain: &str) -> String {
    if plain.bytes().all(|b| b.is_ascii_lowercase()) {
        ENGLISH.stem(plain).into_owned()
    } else {
        plain.to_owned()
    }
}

/// Punctuation that may sit inside a word outside ASCII: apostrophes, dashes, quotes (the
/// General Punctuation block), and the variation selectors that only choose how a character is
/// drawn.
fn is_punctuation(c: char) -> bool {
    ('\u{2000}'..='\u{206F}').contains(&c) || is_variation(c)
}

fn is_variation(c: char) -> bool {
    matches!(c, '\u{FE0E}' | '\u{FE0F}')
}

/// The text's stems and plain words, each joined by spaces: the two columns the index keeps.
pub fn indexed(text: &str) -> (String, String) {
    let mut stems = String::with_capacity(text.len());
    let mut plains = String::with_capacity(text.len());
    for word in words(text) {
        for (column, term) in [(&mut stems, &word.stem), (&mut plains, &word.plain)] {
            if !column.is_empty() {
                column.push(' ');
            }
            column.push_str(term);
        }
    }
    (stems, plains)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems(text: &str) -> Vec<String> {
        words(text).map(|word| word.stem).collect()
    }

    #[test]
    fn english_words_are_stemmed_and_lowercased() {
        assert_eq!(stems("Deployed the DEPLOYS"), ["deploy", "the", "deploy"]);
    }

    #[test]
    fn punctuation_inside_a_word_goes_and_between_words_splits() {
        let plains: Vec<_> = words("don't—stop, it’s snake_case")
            .map(|w| w.plain)
            .collect();
        assert_eq!(plains, ["dont", "stop", "its", "snakecase"]);
    }

    #[test]
    fn other_scripts_are_kept_as_typed_in_lower_case() {
        assert_eq!(stems("Привет Мир ΚΑΛΗΜΈΡΑ"), ["привет", "мир", "καλημέρα"]);
    }

    #[test]
    fn ideographs_are_words_of_their_own() {
        assert_eq!(stems("東京タワー"), ["東", "京", "タワー"]);
    }

    #[test]
    fn an_emoji_is_a_word_whatever_its_variation() {
        assert_eq!(
            stems("ship it 🚀 ❤️ ❤ 👍🏽"),
            ["ship", "it", "🚀", "❤", "❤", "👍🏽"]
        );
    }

    #[test]
    fn words_know_where_they_are() {
        let text = "héllo, wörld";
        let found: Vec<_> = words(text).map(|word| &text[word.at]).collect();
        assert_eq!(found, ["héllo", "wörld"]);
    }

    #[test]
    fn symbols_that_are_not_emoji_are_not_words() {
        assert!(stems("-> ... ¿? §").is_empty());
    }
}
