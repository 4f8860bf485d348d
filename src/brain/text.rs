//! Text normalisation shared by the guardrails and lexical retrieval.

/// Words too common to carry meaning in a support message.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does",
    "for", "from", "had", "has", "have", "hello", "hey", "hi", "how", "i", "i'm", "if", "in",
    "into", "is", "it", "its", "just", "me", "my", "of", "on", "or", "our", "please", "so", "that",
    "the", "their", "them", "then", "there", "this", "to", "us", "was", "we", "were", "what",
    "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
];

/// Lower-cased words, punctuation removed, single spaces: for phrase containment checks.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.trim_matches('\'').chars().flat_map(char::to_lowercase));
    }
    out
}

/// A crude English stem: enough to match "orders"/"order", "shipping"/"shipped"/"ship".
pub fn stem(word: &str) -> String {
    let w = word;
    for suffix in ["ing", "ed", "es", "s"] {
        if w.len() > suffix.len() + 2 && w.ends_with(suffix) {
            let base = &w[..w.len() - suffix.len()];
            // "shipped" -> "shipp" -> "ship"
            let bytes = base.as_bytes();
            if bytes.len() >= 2 && bytes[bytes.len() - 1] == bytes[bytes.len() - 2] {
                return base[..base.len() - 1].to_string();
            }
            return base.to_string();
        }
    }
    w.to_string()
}

/// Stemmed content words of `text`, in order (stopwords dropped).
pub fn terms(text: &str) -> Vec<String> {
    normalize(text)
        .split(' ')
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(w))
        .map(stem)
        .collect()
}

/// Whether `phrase` occurs in `text` as whole words (both normalised).
pub fn contains_phrase(normalized_text: &str, phrase: &str) -> bool {
    let phrase = normalize(phrase);
    if phrase.is_empty() {
        return false;
    }
    let hay = format!(" {normalized_text} ");
    hay.contains(&format!(" {phrase} "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_and_terms() {
        assert_eq!(
            normalize("Where's my ORDER #1234?!"),
            "where's my order 1234"
        );
        assert_eq!(
            terms("Where is my order? It shipped!"),
            vec!["order", "ship"]
        );
        assert_eq!(stem("orders"), "order");
        assert_eq!(stem("shipping"), "ship");
    }

    #[test]
    fn phrases_match_whole_words_only() {
        let t = normalize("I want to speak to a human please");
        assert!(contains_phrase(&t, "human"));
        assert!(contains_phrase(&t, "Speak to a"));
        assert!(!contains_phrase(&t, "hum"));
        assert!(!contains_phrase(&t, ""));
    }
}
