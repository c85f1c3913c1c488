//! Reading a query string fast: `GET /api/poll` is most of the traffic, and its query rarely
//! holds anything to decode. Such a query is split in place, its values borrowed from the URI,
//! rather than decoded byte by byte; one with `%` or `+` goes through `form_urlencoded`. Either
//! way the pairs are the same (checked against `form_urlencoded` by a proptest).

use std::borrow::Cow;

use crate::model::QueryPair;

/// The `name=value` pairs of a query string, decoded as `application/x-www-form-urlencoded`.
/// Searched as bytes with `memchr`, not as chars: every separator is ASCII, so cutting at one
/// is a char boundary.
pub fn query_pairs(query: &str) -> impl Iterator<Item = QueryPair<'_>> {
    let encoded = memchr::memchr2(b'%', b'+', query.as_bytes()).is_some();
    let decoded = encoded.then(|| form_urlencoded::parse(query.as_bytes()));
    let plain = (!encoded).then(|| {
        split_at_each(query, b'&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| split_once_at(pair, b'=').unwrap_or((pair, "")))
            .map(|(name, value)| (Cow::Borrowed(name), Cow::Borrowed(value)))
    });
    decoded
        .into_iter()
        .flatten()
        .chain(plain.into_iter().flatten())
}

/// `str::split` for an ASCII separator.
fn split_at_each(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest.take()?;
        let Some((piece, after)) = split_once_at(current, separator) else {
            return Some(current);
        };
        rest = Some(after);
        Some(piece)
    })
}

/// `str::split_once` for an ASCII separator.
fn split_once_at(text: &str, separator: u8) -> Option<(&str, &str)> {
    let at = memchr::memchr(separator, text.as_bytes())?;
    Some((&text[..at], &text[at + 1..]))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn query_pairs_decode_like_form_urlencoded(query in "[a-z0-9=&%+_.:é-]{0,40}") {
            let expected: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
            prop_assert_eq!(query_pairs(&query).collect::<Vec<_>>(), expected);
        }

        #[test]
        fn ascii_splits_match_the_standard_ones(text in "[a&=é]{0,12}") {
            let pieces: Vec<_> = split_at_each(&text, b'&').collect();
            prop_assert_eq!(pieces, text.split('&').collect::<Vec<_>>());
            prop_assert_eq!(split_once_at(&text, b'='), text.split_once('='));
        }
    }

    #[test]
    fn plain_values_are_borrowed_and_encoded_ones_decoded() {
        let pairs: Vec<_> = query_pairs("client_id=a&room=r").collect();
        assert!(matches!(
            pairs[0],
            (Cow::Borrowed("client_id"), Cow::Borrowed("a"))
        ));
        let pairs: Vec<_> = query_pairs("room=r%20x&text=a+b").collect();
        assert_eq!(pairs[0].1, "r x");
        assert_eq!(pairs[1].1, "a b");
    }
}
