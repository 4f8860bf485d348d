//! How phrases match a message. Topic keywords match on stems: all of a keyword's words, in
//! its order, at most `MAX_KEYWORD_GAP` other words apart, after folding, stop words and the
//! message language's stemmer. Guardrail phrases match on folded words with `*` wildcards
//! (see `lexicon`), the same in every language.

use std::collections::HashMap;

use super::language::{Lang, Language};
use super::text::{fold, words};

/// How many other content words may stand between two words of a keyword phrase.
pub const MAX_KEYWORD_GAP: usize = 2;
/// How many words a lone `*` in a guardrail phrase stands for, at most.
pub const MAX_GUARD_GAP: usize = 4;
/// Stems this long or longer also match the stems they begin or that begin them: Snowball
/// leaves "deliveri" (delivery) and "deliv" (delivered) apart, as it does "commande" and
/// "commandé" in some forms; shorter stems ("ship", "size") must be equal.
pub const MIN_PREFIX_STEM: usize = 5;
/// Stem variants: one per supported language, and one unstemmed for an unknown language.
pub const VARIANTS: usize = Lang::ALL.len() + 1;

/// Which stem variant a language uses.
pub fn variant(lang: Option<Lang>) -> usize {
    lang.map_or(Lang::ALL.len(), Lang::index)
}

/// The content words of folded `words`, stemmed for `lang`: stop words dropped; without a
/// language, every list's stop words are dropped and nothing is stemmed.
pub fn content_stems<'a>(words: impl Iterator<Item = &'a str>, lang: Option<Lang>) -> Vec<String> {
    match lang {
        Some(lang) => words
            .filter(|w| !lang.is_stop_word(w))
            .map(|w| lang.stem(w))
            .collect(),
        None => words
            .filter(|w| !Lang::ALL.iter().any(|l| l.is_stop_word(w)))
            .map(str::to_string)
            .collect(),
    }
}

/// A customer message, read once: its language, folded words and content stems.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub language: Language,
    /// Folded words, in order (for guardrail phrases).
    words: Vec<String>,
    /// `words`, sorted and deduplicated, to reject phrases whose first word is absent quickly.
    sorted_words: Vec<String>,
    /// Content stems in the message's language, in order (for keywords and scoring).
    stems: Vec<String>,
    sorted_stems: Vec<String>,
}

impl Analysis {
    /// Reads `text` in the ticket's language when given, else in the detected one.
    pub fn new(text: &str, ticket_language: Option<&str>) -> Analysis {
        Analysis::in_language(text, Language::resolve(ticket_language, text))
    }

    pub fn in_language(text: &str, language: Language) -> Analysis {
        let folded = fold(text);
        let words: Vec<String> = words(&folded).map(str::to_string).collect();
        let stems = content_stems(words.iter().map(String::as_str), language.lang);
        Analysis {
            sorted_words: sorted(&words),
            sorted_stems: sorted(&stems),
            words,
            stems,
            language,
        }
    }

    pub fn variant(&self) -> usize {
        variant(self.language.lang)
    }

    /// The content stems, in order.
    pub fn stems(&self) -> &[String] {
        &self.stems
    }

    fn has_stem(&self, stem: &str) -> bool {
        let sorted = &self.sorted_stems;
        let at = sorted.partition_point(|s| s.as_str() < stem);
        if sorted.get(at).is_some_and(|s| s == stem) {
            return true;
        }
        if stem.len() < MIN_PREFIX_STEM {
            return false;
        }
        // A longer stem that begins with `stem` sorts right after it...
        if sorted.get(at).is_some_and(|s| s.starts_with(stem)) {
            return true;
        }
        // ... and a shorter one that `stem` begins with is one of its prefixes.
        (MIN_PREFIX_STEM..stem.len())
            .filter(|&k| stem.is_char_boundary(k))
            .any(|k| {
                sorted
                    .binary_search_by(|s| s.as_str().cmp(&stem[..k]))
                    .is_ok()
            })
    }
}

fn sorted(items: &[String]) -> Vec<String> {
    let mut v = items.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// A topic keyword (or exclude) phrase, stemmed for every language ahead of time so that a
/// message is only stemmed once, in its own language.
#[derive(Debug, Clone)]
pub struct Keyword {
    /// As the merchant wrote it (for the decision's detail).
    pub text: String,
    variants: [Vec<String>; VARIANTS],
}

impl Keyword {
    pub fn new(text: &str) -> Keyword {
        let folded = fold(text);
        let variants = std::array::from_fn(|v| {
            let lang = Lang::ALL.get(v).copied();
            let stems = content_stems(words(&folded), lang);
            if stems.is_empty() {
                // A phrase of stop words only ("where is it") keeps all its words.
                match lang {
                    Some(lang) => words(&folded).map(|w| lang.stem(w)).collect(),
                    None => words(&folded).map(str::to_string).collect(),
                }
            } else {
                stems
            }
        });
        Keyword {
            text: text.trim().to_string(),
            variants,
        }
    }

    /// How many content words the phrase has in `analysis`'s language.
    pub fn len_in(&self, analysis: &Analysis) -> usize {
        self.variants[analysis.variant()].len()
    }

    /// Whether all the phrase's words occur in the message, in order, close together.
    pub fn matches(&self, analysis: &Analysis) -> bool {
        let phrase = &self.variants[analysis.variant()];
        if phrase.is_empty() || !phrase.iter().all(|p| analysis.has_stem(p)) {
            return false;
        }
        let stems = analysis.stems();
        (0..stems.len())
            .filter(|&i| same_stem(&stems[i], &phrase[0]))
            .any(|start| {
                let mut at = start;
                phrase[1..].iter().all(|p| {
                    let window = (at + 1)..stems.len().min(at + 2 + MAX_KEYWORD_GAP);
                    match window.clone().find(|&j| same_stem(&stems[j], p)) {
                        Some(j) => {
                            at = j;
                            true
                        }
                        None => false,
                    }
                })
            })
    }
}

/// Equal stems, or long ones of which one begins the other.
fn same_stem(a: &str, b: &str) -> bool {
    a == b || (a.len().min(b.len()) >= MIN_PREFIX_STEM && (a.starts_with(b) || b.starts_with(a)))
}

/// The first keyword of `keywords` that matches.
pub fn first_match<'k>(keywords: &'k [Keyword], analysis: &Analysis) -> Option<&'k Keyword> {
    keywords.iter().find(|k| k.matches(analysis))
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Word(String),
    Prefix(String),
    Gap,
}

impl Part {
    fn accepts(&self, word: &str) -> bool {
        match self {
            Part::Word(w) => w == word,
            Part::Prefix(p) => word.starts_with(p.as_str()),
            Part::Gap => true,
        }
    }
}

/// A guardrail phrase: folded words, `word*` prefixes and `*` gaps.
#[derive(Debug, Clone)]
pub struct GuardPhrase {
    pub text: String,
    parts: Vec<Part>,
}

impl GuardPhrase {
    pub fn new(text: &str) -> GuardPhrase {
        let mut parts = Vec::new();
        for token in text.split_whitespace() {
            if token.chars().all(|c| c == '*') {
                if !parts.is_empty() && parts.last() != Some(&Part::Gap) {
                    parts.push(Part::Gap);
                }
                continue;
            }
            let (body, prefix) = match token.strip_suffix('*') {
                Some(body) => (body, true),
                None => (token, false),
            };
            let folded = fold(body);
            let mut pieces: Vec<&str> = words(&folded).collect();
            let Some(last) = pieces.pop() else { continue };
            parts.extend(pieces.into_iter().map(|w| Part::Word(w.to_string())));
            parts.push(if prefix {
                Part::Prefix(last.to_string())
            } else {
                Part::Word(last.to_string())
            });
        }
        if parts.last() == Some(&Part::Gap) {
            parts.pop();
        }
        GuardPhrase {
            text: text.trim().to_string(),
            parts,
        }
    }

    pub fn matches(&self, analysis: &Analysis) -> bool {
        let Some(first) = self.parts.first() else {
            return false;
        };
        let present = match first {
            Part::Word(w) => analysis
                .sorted_words
                .binary_search_by(|s| s.as_str().cmp(w))
                .is_ok(),
            Part::Prefix(p) => {
                let i = analysis
                    .sorted_words
                    .partition_point(|s| s.as_str() < p.as_str());
                analysis
                    .sorted_words
                    .get(i)
                    .is_some_and(|s| s.starts_with(p.as_str()))
            }
            Part::Gap => true,
        };
        present && (0..analysis.words.len()).any(|i| matches_from(&self.parts, &analysis.words, i))
    }
}

fn matches_from(parts: &[Part], words: &[String], at: usize) -> bool {
    match parts.split_first() {
        None => true,
        Some((Part::Gap, rest)) => (0..=MAX_GUARD_GAP)
            .take_while(|skip| at + skip <= words.len())
            .any(|skip| matches_from(rest, words, at + skip)),
        Some((part, rest)) => {
            at < words.len() && part.accepts(&words[at]) && matches_from(rest, words, at + 1)
        }
    }
}

/// A list of guardrail phrases, indexed by their first word so that a message is only tried
/// against the phrases that can begin in it (the built-in lists hold hundreds of phrases in
/// seven languages; a message has a few dozen words).
#[derive(Debug, Clone, Default)]
pub struct GuardList {
    phrases: Vec<GuardPhrase>,
    /// Phrase indexes by their first part: a whole word, or a `word*` prefix.
    by_word: HashMap<String, Vec<usize>>,
    by_prefix: HashMap<String, Vec<usize>>,
    /// The longest of those prefixes, in bytes: a word is looked up by its beginnings up to this
    /// length only (a 5,000-letter word must not cost 5,000 lookups).
    longest_prefix: usize,
}

impl GuardList {
    pub fn new(phrases: &[String]) -> GuardList {
        let phrases: Vec<GuardPhrase> = phrases.iter().map(|p| GuardPhrase::new(p)).collect();
        let mut list = GuardList::default();
        for (i, phrase) in phrases.iter().enumerate() {
            // A phrase never begins with a gap (`new` drops a leading `*`); an empty one never
            // matches.
            match phrase.parts.first() {
                Some(Part::Word(w)) => list.by_word.entry(w.clone()).or_default().push(i),
                Some(Part::Prefix(p)) => {
                    list.longest_prefix = list.longest_prefix.max(p.len());
                    list.by_prefix.entry(p.clone()).or_default().push(i)
                }
                Some(Part::Gap) | None => {}
            }
        }
        list.phrases = phrases;
        list
    }

    /// The first phrase of the list, in its order, that matches.
    pub fn first_match(&self, analysis: &Analysis) -> Option<&GuardPhrase> {
        let mut candidates: Vec<usize> = Vec::new();
        for word in &analysis.sorted_words {
            if let Some(found) = self.by_word.get(word.as_str()) {
                candidates.extend(found);
            }
            if self.by_prefix.is_empty() {
                continue;
            }
            for (at, c) in word.char_indices() {
                let end = at + c.len_utf8();
                if end > self.longest_prefix {
                    break;
                }
                let prefix = &word[..end];
                if let Some(found) = self.by_prefix.get(prefix) {
                    candidates.extend(found);
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .map(|i| &self.phrases[i])
            .find(|p| p.matches(analysis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en(text: &str) -> Analysis {
        Analysis::new(text, Some("en"))
    }

    #[test]
    fn a_keyword_needs_all_its_words_in_order_and_close_together() {
        let k = Keyword::new("where is my order");
        assert!(k.matches(&en("Hi! Where's my order #1234?")));
        assert!(k.matches(&en("where is the order I placed")));
        assert!(!k.matches(&en("my order, where is it?")), "order reversed");
        assert!(
            !k.matches(&en("I want to cancel my order")),
            "a word missing"
        );
        assert!(!k.matches(&en(
            "where did you put the tracking link of the parcel for my order"
        )));
    }

    #[test]
    fn keywords_match_inflections_and_accents() {
        let k = Keyword::new("delivered");
        assert!(k.matches(&en("When will it be delivered?")));
        assert!(k.matches(&en("When do you deliver?")));
        // Long stems that begin one another match; short ones must be equal.
        assert!(Keyword::new("delivery").matches(&en("When will my parcel be delivered?")));
        assert!(!Keyword::new("ship").matches(&en("a shipment")));
        let k = Keyword::new("où est ma commande");
        let fr = Analysis::new("Bonjour, ou est ma commande svp", None);
        assert_eq!(fr.language.lang, Some(Lang::Fr));
        assert!(k.matches(&fr));
        assert!(k.matches(&Analysis::new("Où sont mes commandes ?", Some("fr"))));
        let k = Keyword::new("rücksendung");
        assert!(k.matches(&Analysis::new(
            "Wie funktioniert die Rucksendung?",
            Some("de")
        )));
    }

    #[test]
    fn a_guard_list_finds_the_first_matching_phrase_in_list_order() {
        let phrases: Vec<String> = ["refund*", "talk * human", "human", "cancel my order", "é*"]
            .iter()
            .map(|p| p.to_string())
            .collect();
        let list = GuardList::new(&phrases);
        let scan = |text: &str| {
            let analysis = en(text);
            phrases
                .iter()
                .map(|p| GuardPhrase::new(p))
                .find(|p| p.matches(&analysis))
                .map(|p| p.text)
        };
        for text in [
            "I want to talk to a human about a refund",
            "can I talk to a real human",
            "a human please",
            "Please cancel my order",
            "cancel the order",
            "Élodie here",
            "refunded yet?",
            "nothing to see",
            "",
            &format!("refund {}", "x".repeat(5_000)),
            &format!("{} human", "é".repeat(5_000)),
        ] {
            let found = list.first_match(&en(text)).map(|p| p.text.clone());
            assert_eq!(found, scan(text), "{text:?}");
        }
        assert_eq!(
            list.first_match(&en("a human, and my refund"))
                .map(|p| p.text.as_str()),
            Some("refund*"),
            "list order wins over word order"
        );
    }

    #[test]
    fn a_keyword_of_stop_words_keeps_its_words() {
        let k = Keyword::new("where is it");
        assert!(k.matches(&en("where is it now")));
        assert!(!k.matches(&en("what is it")));
    }

    #[test]
    fn guard_phrases_use_prefixes_gaps_and_whole_words() {
        let p = GuardPhrase::new("chang* * address");
        assert!(p.matches(&en("Can I change my shipping address?")));
        assert!(p.matches(&en("changing the address please")));
        assert!(!p.matches(&en("address change")));
        assert!(!p.matches(&en("change it so that the parcel goes to my new address")));
        let p = GuardPhrase::new("cancel*");
        assert!(p.matches(&en("I cancelled it")));
        assert!(!p.matches(&en("I can't wait")));
        let p = GuardPhrase::new("human");
        assert!(p.matches(&en("a human please")));
        assert!(!p.matches(&en("humane treatment")));
        let p = GuardPhrase::new("parler à");
        assert!(p.matches(&Analysis::new("Je veux parler à quelqu'un", None)));
        assert!(!GuardPhrase::new("* *").matches(&en("anything")));
    }
}
