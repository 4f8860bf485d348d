//! Text normalisation shared by the guardrails and lexical retrieval: lower case, Unicode
//! compatibility decomposition with the accents dropped, words split on everything else.

use unicode_normalization::UnicodeNormalization;

/// Lower-case, accent-folded words separated by single spaces: "Où est ma COMMANDE n°12 ?"
/// becomes "ou est ma commande n 12". English "n't" is spelled "not" and a final "'s" "is", so
/// "didn't arrive" and "where's my order" read like their long forms; other apostrophes split
/// words ("l'adresse" is "l adresse").
pub fn fold(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    for c in text.nfkd() {
        match c {
            // Combining marks are what NFKD splits accents into.
            '\u{0300}'..='\u{036f}' => {}
            'ß' => plain.push_str("ss"),
            'æ' | 'Æ' => plain.push_str("ae"),
            'œ' | 'Œ' => plain.push_str("oe"),
            'ø' | 'Ø' => plain.push('o'),
            'đ' | 'Đ' => plain.push('d'),
            'ł' | 'Ł' => plain.push('l'),
            '\u{2019}' | '\u{02bc}' | '`' | '\u{00b4}' => plain.push('\''),
            c => plain.extend(c.to_lowercase()),
        }
    }
    let mut out = String::with_capacity(plain.len());
    for word in plain
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
    {
        for part in expand_apostrophes(word) {
            if part.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(part);
        }
    }
    out
}

/// The parts of one word with apostrophes: "didn't" -> ["did", "not"], "where's" ->
/// ["where", "is"], "won't" -> ["will", "not"], "l'adresse" -> ["l", "adresse"].
fn expand_apostrophes(word: &str) -> Vec<&str> {
    let word = word.trim_matches('\'');
    if !word.contains('\'') {
        return vec![word];
    }
    match word {
        "won't" => return vec!["will", "not"],
        "can't" => return vec!["can", "not"],
        "shan't" => return vec!["shall", "not"],
        _ => {}
    }
    if let Some(base) = word.strip_suffix("n't") {
        return vec![base, "not"];
    }
    if let Some(base) = word.strip_suffix("'s") {
        return vec![base, "is"];
    }
    word.split('\'').collect()
}

/// The words of a folded text.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(' ').filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_lowercases_drops_accents_and_punctuation() {
        assert_eq!(
            fold("Où est ma COMMANDE n°12 ?!"),
            "ou est ma commande n 12"
        );
        assert_eq!(
            fold("Größe ändern, s'il vous plaît"),
            "grosse andern s il vous plait"
        );
        assert_eq!(fold("¿Dónde está mi pedido?"), "donde esta mi pedido");
        assert_eq!(fold("l’adresse de livraison"), "l adresse de livraison");
        // The composed and decomposed forms of é are one letter after folding.
        assert_eq!(fold("caf\u{e9}"), fold("cafe\u{301}"));
    }

    #[test]
    fn english_contractions_read_like_their_long_form() {
        assert_eq!(fold("I didn't get it"), "i did not get it");
        assert_eq!(fold("Where's my order?"), "where is my order");
        assert_eq!(fold("It won't arrive"), "it will not arrive");
        assert_eq!(fold("'quoted' words"), "quoted words");
    }

    #[test]
    fn braces_and_digits_are_plain_separators() {
        assert_eq!(fold("order #1001 {order.name}"), "order 1001 order name");
        assert_eq!(words("a  b").count(), 2);
    }
}
