//! The customer's language: the supported languages with their stemmer and stop words, and
//! which language a conversation is in (the ticket's `language` when Gorgias sets it, else
//! detected from the customer's messages).

use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

use super::lexicon::STOP_WORDS;

/// A language the embedded brain stems and has stop words for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Fr,
    Es,
    De,
    It,
    Pt,
    Nl,
}

impl Lang {
    pub const ALL: [Lang; 7] = [
        Lang::En,
        Lang::Fr,
        Lang::Es,
        Lang::De,
        Lang::It,
        Lang::Pt,
        Lang::Nl,
    ];

    /// The ISO 639-1 code, as in `[autopilot.topics.answers]`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Es => "es",
            Lang::De => "de",
            Lang::It => "it",
            Lang::Pt => "pt",
            Lang::Nl => "nl",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    fn algorithm(self) -> Algorithm {
        match self {
            Lang::En => Algorithm::English,
            Lang::Fr => Algorithm::French,
            Lang::Es => Algorithm::Spanish,
            Lang::De => Algorithm::German,
            Lang::It => Algorithm::Italian,
            Lang::Pt => Algorithm::Portuguese,
            Lang::Nl => Algorithm::Dutch,
        }
    }

    fn whatlang(self) -> whatlang::Lang {
        match self {
            Lang::En => whatlang::Lang::Eng,
            Lang::Fr => whatlang::Lang::Fra,
            Lang::Es => whatlang::Lang::Spa,
            Lang::De => whatlang::Lang::Deu,
            Lang::It => whatlang::Lang::Ita,
            Lang::Pt => whatlang::Lang::Por,
            Lang::Nl => whatlang::Lang::Nld,
        }
    }

    /// The Snowball stem of an accent-folded, lower-case word.
    pub fn stem(self, word: &str) -> String {
        stemmers()[self.index()].stem(word).into_owned()
    }

    /// Whether `word` (accent-folded, lower case) is a stop word in this language.
    pub fn is_stop_word(self, word: &str) -> bool {
        stop_words()[self.index()].binary_search(&word).is_ok()
    }
}

fn stemmers() -> &'static [Stemmer; 7] {
    static STEMMERS: OnceLock<[Stemmer; 7]> = OnceLock::new();
    STEMMERS.get_or_init(|| Lang::ALL.map(|l| Stemmer::create(l.algorithm())))
}

fn stop_words() -> &'static [Vec<&'static str>; 7] {
    static WORDS: OnceLock<[Vec<&'static str>; 7]> = OnceLock::new();
    WORDS.get_or_init(|| {
        Lang::ALL.map(|l| {
            let mut words: Vec<&'static str> = STOP_WORDS
                .iter()
                .filter(|(code, _)| *code == l.code())
                .flat_map(|(_, w)| w.iter().copied())
                .collect();
            words.sort_unstable();
            words.dedup();
            words
        })
    })
}

/// The language a turn is answered in, and how it was found (for the decision's detail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language {
    /// The language code (`fr`), `None` when unknown.
    pub code: Option<String>,
    /// The supported language behind `code`, for stemming and stop words.
    pub lang: Option<Lang>,
    pub source: LanguageSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanguageSource {
    /// The ticket's `language`, as Gorgias set it.
    Ticket,
    Detected,
    Unknown,
}

impl Language {
    /// The ticket's language when set (`fr`, `fr-FR`, `FR`), else detected from `text`.
    pub fn resolve(ticket_language: Option<&str>, text: &str) -> Language {
        let ticket = ticket_language
            .map(|l| l.trim().to_ascii_lowercase())
            .and_then(|l| l.split(['-', '_']).next().map(str::to_string))
            .filter(|l| l.len() == 2 && l.chars().all(|c| c.is_ascii_lowercase()));
        if let Some(code) = ticket {
            return Language {
                lang: Lang::from_code(&code),
                code: Some(code),
                source: LanguageSource::Ticket,
            };
        }
        match detect(text) {
            Some(lang) => Language {
                code: Some(lang.code().to_string()),
                lang: Some(lang),
                source: LanguageSource::Detected,
            },
            None => Language {
                code: None,
                lang: None,
                source: LanguageSource::Unknown,
            },
        }
    }

    /// "fr (ticket)", "de (detected)", "unknown".
    pub fn describe(&self) -> String {
        match (&self.code, self.source) {
            (Some(code), LanguageSource::Ticket) => format!("{code} (ticket)"),
            (Some(code), _) => format!("{code} (detected)"),
            (None, _) => "unknown".to_string(),
        }
    }
}

/// The text of `table` (translations by language code) in `language`, when there is one.
pub fn translation<'t>(
    table: &'t std::collections::BTreeMap<String, String>,
    language: &Language,
) -> Option<&'t str> {
    language
        .code
        .as_deref()
        .and_then(|code| table.get(code))
        .map(String::as_str)
}

/// The language of `text` among the supported ones, `None` when it cannot be told.
///
/// Stop words decide first when they are decisive (three or more, twice as many as any other
/// language's): that is most messages of a sentence or more, and costs a fraction of trigram
/// detection. Otherwise trigram detection (whatlang, restricted to the supported languages)
/// decides when it is reliable; when it is unsure, as on a few words, the language with
/// strictly the most stop words, and on a tie the trigram guess among the tied.
pub fn detect(text: &str) -> Option<Lang> {
    // The first few hundred characters are plenty, and keep detection cheap on long emails.
    let end = text.char_indices().nth(600).map_or(text.len(), |(i, _)| i);
    let sample = &text[..end];
    let folded = super::text::fold(sample);
    let mut counts = [0usize; 7];
    for word in super::text::words(&folded) {
        for lang in Lang::ALL {
            if lang.is_stop_word(word) {
                counts[lang.index()] += 1;
            }
        }
    }
    let mut order = Lang::ALL;
    order.sort_by_key(|l| std::cmp::Reverse(counts[l.index()]));
    let (best, second) = (counts[order[0].index()], counts[order[1].index()]);
    if best >= 3 && best >= 2 * second {
        return Some(order[0]);
    }
    static DETECTOR: OnceLock<whatlang::Detector> = OnceLock::new();
    let detector = DETECTOR.get_or_init(|| {
        whatlang::Detector::with_allowlist(Lang::ALL.iter().map(|l| l.whatlang()).collect())
    });
    let info = detector.detect(sample);
    let guess = info
        .as_ref()
        .and_then(|i| Lang::ALL.into_iter().find(|l| l.whatlang() == i.lang()));
    if info.as_ref().is_some_and(|i| i.is_reliable()) {
        return guess;
    }
    let tied: Vec<Lang> = order
        .into_iter()
        .filter(|l| counts[l.index()] == best)
        .collect();
    match (best, tied.as_slice()) {
        (0, _) => None,
        (_, [only]) => Some(*only),
        (_, tied) => guess.filter(|l| tied.contains(l)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticket_language_wins_and_is_normalized() {
        let l = Language::resolve(Some("fr-FR"), "where is my order");
        assert_eq!(l.code.as_deref(), Some("fr"));
        assert_eq!(l.lang, Some(Lang::Fr));
        assert_eq!(l.source, LanguageSource::Ticket);
        // A language without a stemmer here is still the reply's language.
        let l = Language::resolve(Some("ja"), "注文はどこですか");
        assert_eq!(l.code.as_deref(), Some("ja"));
        assert_eq!(l.lang, None);
        // Junk is ignored.
        let l = Language::resolve(Some(" "), "Où est ma commande ?");
        assert_eq!(l.lang, Some(Lang::Fr));
        assert_eq!(l.source, LanguageSource::Detected);
    }

    #[test]
    fn short_messages_are_detected_in_every_supported_language() {
        for (text, lang) in [
            ("Where is my order?", Lang::En),
            ("Hi, has my parcel shipped yet?", Lang::En),
            ("Bonjour, où est ma commande ?", Lang::Fr),
            ("Je voudrais retourner ce pull", Lang::Fr),
            ("Hola, ¿dónde está mi pedido?", Lang::Es),
            ("Quiero devolver las zapatillas", Lang::Es),
            ("Wo ist meine Bestellung?", Lang::De),
            ("Ich möchte die Schuhe zurückschicken", Lang::De),
            ("Dov'è il mio ordine?", Lang::It),
            ("Vorrei restituire le scarpe", Lang::It),
            ("Onde está o meu pedido?", Lang::Pt),
            ("Quero devolver os sapatos", Lang::Pt),
            ("Waar is mijn bestelling?", Lang::Nl),
            ("Ik wil de schoenen terugsturen", Lang::Nl),
        ] {
            assert_eq!(detect(text), Some(lang), "{text}");
        }
        assert_eq!(detect("12345 ?!"), None);
    }

    #[test]
    fn stems_and_stop_words_are_per_language() {
        assert_eq!(Lang::En.stem("delivered"), Lang::En.stem("deliver"));
        assert_eq!(Lang::Fr.stem("commandes"), Lang::Fr.stem("commande"));
        assert_eq!(Lang::De.stem("bestellungen"), Lang::De.stem("bestellung"));
        assert!(Lang::En.is_stop_word("the"));
        assert!(!Lang::En.is_stop_word("where"));
        assert!(Lang::Fr.is_stop_word("votre"));
        assert!(!Lang::Fr.is_stop_word("the"));
    }
}
