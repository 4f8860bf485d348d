//! The embedded knowledge-base brain: it answers with a handled topic only when one of the
//! topic's own keyword phrases matches the message (no `exclude` phrase vetoing it) and the
//! topic scores clearly above any other matching topic; else it hands off. Scores are BM25 over
//! the topics (name, description, keywords) and the paragraphs of optional `.md`/`.txt` files,
//! in the message's language, plus a bonus per matched keyword word. Answers are given in the
//! customer's language when the topic has that translation.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use futures_util::future::{self, LocalBoxFuture};
use futures_util::FutureExt;

use super::language::{translation, Lang};
use super::phrase::{content_stems, first_match, Analysis, Keyword, VARIANTS};
use super::text::{fold, words};
use super::{Brain, BrainError, BrainInput, Decision, HandoffReason};
use crate::config::{BrainSettings, HandoffSettings, Topic, TopicAction, Untranslated};
use crate::domain::session::Role;

const K1: f64 = 1.2;
const B: f64 = 0.75;
/// Added per content word of each keyword phrase of two words or more found in the customer's
/// text: a matched phrase is a stronger sign of the topic than its words apart.
const PHRASE_BONUS: f64 = 1.5;
/// Knowledge-file paragraphs longer than this are cut in snippets.
const MAX_SNIPPET_CHARS: usize = 1200;

/// Where a retrievable document comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Topic { action: TopicAction },
    File { path: String },
}

/// One retrievable document: what it is called, what it answers, how it is matched.
#[derive(Debug, Clone)]
pub struct Document {
    pub name: String,
    pub source: Source,
    /// For topics: the configured answer; for files: the paragraph itself.
    pub answer: String,
    /// For topics: the answer's translations by language code.
    pub answers: BTreeMap<String, String>,
    /// For topics: said instead of an answer that needs order data the customer lacks.
    pub answer_no_order: String,
    pub answers_no_order: BTreeMap<String, String>,
    keywords: Vec<Keyword>,
    exclude: Vec<Keyword>,
}

/// A scored document.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub index: usize,
    pub score: f64,
}

/// BM25 postings for one stem variant (one language, or unstemmed).
#[derive(Debug, Clone, Default)]
struct TermIndex {
    /// term -> (document, term frequency)
    postings: HashMap<String, Vec<(u32, u32)>>,
    lengths: Vec<u32>,
    avg_len: f64,
}

impl TermIndex {
    fn build(texts: &[String], lang: Option<Lang>) -> TermIndex {
        let mut postings: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        let mut lengths = Vec::with_capacity(texts.len());
        for (doc, text) in texts.iter().enumerate() {
            let stems = content_stems(words(text), lang);
            lengths.push(stems.len() as u32);
            let mut counts: HashMap<String, u32> = HashMap::new();
            for stem in stems {
                *counts.entry(stem).or_default() += 1;
            }
            for (term, tf) in counts {
                postings.entry(term).or_default().push((doc as u32, tf));
            }
        }
        let avg_len = if lengths.is_empty() {
            0.0
        } else {
            lengths.iter().map(|&l| l as f64).sum::<f64>() / lengths.len() as f64
        };
        TermIndex {
            postings,
            lengths,
            avg_len,
        }
    }

    /// BM25 of every document against `stems` (deduplicated by the caller).
    fn score(&self, stems: &[&str], scores: &mut [f64]) {
        let n = self.lengths.len() as f64;
        for term in stems {
            let Some(postings) = self.postings.get(*term) else {
                continue;
            };
            let df = postings.len() as f64;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, tf) in postings {
                let tf = tf as f64;
                let norm = 1.0 - B + B * self.lengths[doc as usize] as f64 / self.avg_len.max(1.0);
                scores[doc as usize] += idf * tf * (K1 + 1.0) / (tf + K1 * norm);
            }
        }
    }
}

/// A BM25 index over topics and knowledge snippets, one per stem variant.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeIndex {
    docs: Vec<Document>,
    variants: Vec<TermIndex>,
}

/// A handled or skipped topic whose keywords match a message, with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicMatch {
    pub index: usize,
    pub score: f64,
    /// The matched keyword phrases, as the merchant wrote them.
    pub matched: Vec<String>,
}

impl KnowledgeIndex {
    /// Indexes the topics and every `.md`/`.txt` file of `knowledge_dir` (when given).
    pub fn build(topics: &[Topic], knowledge_dir: Option<&Path>) -> std::io::Result<Self> {
        let mut docs = Vec::new();
        let mut texts = Vec::new();
        for t in topics {
            // Keywords count twice: they are the merchant's own words for the topic.
            texts.push(fold(&format!(
                "{} {} {} {}",
                t.name.replace(['-', '_'], " "),
                t.description,
                t.keywords.join(" "),
                t.keywords.join(" ")
            )));
            docs.push(Document {
                name: t.name.clone(),
                source: Source::Topic { action: t.action },
                answer: t.answer.clone(),
                answers: t.answers.clone(),
                answer_no_order: t.answer_no_order.clone(),
                answers_no_order: t.answers_no_order.clone(),
                keywords: t.keywords.iter().map(|k| Keyword::new(k)).collect(),
                exclude: t.exclude.iter().map(|k| Keyword::new(k)).collect(),
            });
        }
        if let Some(dir) = knowledge_dir {
            let mut files: Vec<_> = std::fs::read_dir(dir)?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("txt")
                    })
                })
                .collect();
            files.sort();
            for path in files {
                let content = std::fs::read_to_string(&path)?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                for snippet in split_snippets(&content) {
                    texts.push(fold(&snippet));
                    docs.push(Document {
                        name: name.clone(),
                        source: Source::File { path: name.clone() },
                        answer: snippet,
                        answers: BTreeMap::new(),
                        answer_no_order: String::new(),
                        answers_no_order: BTreeMap::new(),
                        keywords: Vec::new(),
                        exclude: Vec::new(),
                    });
                }
            }
        }
        let variants = (0..VARIANTS)
            .map(|v| TermIndex::build(&texts, Lang::ALL.get(v).copied()))
            .collect();
        Ok(KnowledgeIndex { docs, variants })
    }

    pub fn documents(&self) -> &[Document] {
        &self.docs
    }

    /// Documents scored against `query` (its language detected), best first; documents that
    /// score 0 are left out.
    pub fn search(&self, query: &str) -> Vec<Hit> {
        self.search_analysis(&Analysis::new(query, None))
    }

    /// Documents scored against an analysed message, best first; zero scores left out.
    pub fn search_analysis(&self, analysis: &Analysis) -> Vec<Hit> {
        let scores = self.scores(analysis);
        let mut hits: Vec<Hit> = scores
            .into_iter()
            .enumerate()
            .filter(|(_, score)| *score > 0.0)
            .map(|(index, score)| Hit { index, score })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        hits
    }

    /// BM25 plus the keyword bonus, per document.
    fn scores(&self, analysis: &Analysis) -> Vec<f64> {
        let mut scores = vec![0.0; self.docs.len()];
        let Some(index) = self.variants.get(analysis.variant()) else {
            return scores;
        };
        let mut stems: Vec<&str> = analysis.stems().iter().map(String::as_str).collect();
        stems.sort_unstable();
        stems.dedup();
        index.score(&stems, &mut scores);
        for (doc, score) in self.docs.iter().zip(scores.iter_mut()) {
            for keyword in doc.keywords.iter().filter(|k| k.matches(analysis)) {
                let len = keyword.len_in(analysis);
                if len >= 2 {
                    *score += PHRASE_BONUS * len as f64;
                }
            }
        }
        scores
    }

    /// The topics whose own keyword phrases match and that no `exclude` phrase vetoes, best
    /// first. Here a matched single-word keyword earns the bonus too, once per topic: a match
    /// of the merchant's own word is evidence even where stems only begin alike and BM25 sees
    /// nothing, but several single words must not outvote another topic's clear one.
    pub fn topic_matches(&self, analysis: &Analysis) -> Vec<TopicMatch> {
        let scores = self.scores(analysis);
        let mut matches: Vec<TopicMatch> = self
            .docs
            .iter()
            .enumerate()
            .filter(|(_, d)| matches!(d.source, Source::Topic { .. }))
            .filter(|(_, d)| first_match(&d.exclude, analysis).is_none())
            .filter_map(|(index, d)| {
                let matched: Vec<&Keyword> =
                    d.keywords.iter().filter(|k| k.matches(analysis)).collect();
                let single_word = matched.iter().any(|k| k.len_in(analysis) < 2);
                (!matched.is_empty()).then(|| TopicMatch {
                    index,
                    score: scores[index] + if single_word { PHRASE_BONUS } else { 0.0 },
                    matched: matched.iter().map(|k| k.text.clone()).collect(),
                })
            })
            .collect();
        matches.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        matches
    }
}

/// Paragraphs of a knowledge file (blank-line separated), long ones cut at line ends.
fn split_snippets(content: &str) -> Vec<String> {
    let mut out = Vec::new();
    for para in content
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let mut current = String::new();
        for line in para.lines() {
            if !current.is_empty() && current.len() + line.len() > MAX_SNIPPET_CHARS {
                out.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(line);
        }
        if !current.trim().is_empty() {
            out.push(current);
        }
    }
    out
}

/// The knowledge-base brain.
pub struct KnowledgeBrain {
    index: KnowledgeIndex,
    min_score: f64,
    min_margin: f64,
    untranslated: Untranslated,
    /// The language of the default `answer`s: it needs no translation.
    answer_language: String,
    final_replies: BTreeMap<String, String>,
}

impl KnowledgeBrain {
    /// A brain with the default precision rules (`brain.min_margin` 1.0, untranslated topics
    /// answered in English).
    pub fn new(index: KnowledgeIndex, min_score: f64) -> KnowledgeBrain {
        let defaults = BrainSettings::default();
        KnowledgeBrain {
            index,
            min_score,
            min_margin: defaults.min_margin,
            untranslated: defaults.untranslated,
            answer_language: defaults.answer_language,
            final_replies: BTreeMap::new(),
        }
    }

    pub fn from_settings(
        index: KnowledgeIndex,
        brain: &BrainSettings,
        handoff: &HandoffSettings,
    ) -> KnowledgeBrain {
        KnowledgeBrain {
            index,
            min_score: brain.min_score,
            min_margin: brain.min_margin,
            untranslated: brain.untranslated,
            answer_language: brain.answer_language.clone(),
            final_replies: handoff.final_replies.clone(),
        }
    }

    /// The decision for `input`, synchronously (the trait wraps it in a ready future).
    pub fn decide_now(&self, input: &BrainInput) -> Decision {
        let analysis = input.analysis();
        let language = analysis.language.describe();
        let handoff = |reason: HandoffReason, detail: String| Decision::Handoff {
            reason,
            detail: format!("{detail}; language {language}"),
            reply: translation(&self.final_replies, &analysis.language).map(str::to_string),
            summary: None,
        };
        let matches = self.index.topic_matches(analysis);
        let Some(best) = matches.first() else {
            return match self.best_file_snippet(analysis) {
                Ok((doc, detail)) => self.answer(input, analysis, doc, detail, &handoff),
                Err(detail) => handoff(HandoffReason::NoAnswer, detail),
            };
        };
        let doc = &self.index.docs[best.index];
        let phrases = quoted(&best.matched);
        let margin = match matches.get(1) {
            Some(next) => {
                let margin = best.score - next.score;
                if margin < self.min_margin {
                    return handoff(
                        HandoffReason::NoAnswer,
                        format!(
                            "ambiguous: topic {:?} (matched {phrases}, score {:.2}) and topic {:?} (matched {}, score {:.2}) are {margin:.2} apart, under brain.min_margin {:.2}",
                            doc.name,
                            best.score,
                            self.index.docs[next.index].name,
                            quoted(&next.matched),
                            next.score,
                            self.min_margin
                        ),
                    );
                }
                format!(
                    "margin {margin:.2} over {:?}",
                    self.index.docs[next.index].name
                )
            }
            None => "no other topic matched".to_string(),
        };
        if best.score < self.min_score {
            return handoff(
                HandoffReason::NoAnswer,
                format!(
                    "topic {:?} (matched {phrases}) scored {:.2}, below brain.min_score {:.2}",
                    doc.name, best.score, self.min_score
                ),
            );
        }
        let detail = format!(
            "topic {:?}: matched {phrases}, score {:.2}, {margin}",
            doc.name, best.score
        );
        if doc.source
            == (Source::Topic {
                action: TopicAction::Skip,
            })
        {
            return handoff(
                HandoffReason::SkipTopic,
                format!("{detail}; the topic is handled by humans"),
            );
        }
        self.answer(input, analysis, doc, detail, &handoff)
    }

    /// The best knowledge-file paragraph, when no topic matched: it must score at least
    /// `min_score` and beat the next paragraph by `min_margin`. `Err` says why there is none.
    fn best_file_snippet(&self, analysis: &Analysis) -> Result<(&Document, String), String> {
        let hits: Vec<Hit> = self
            .index
            .search_analysis(analysis)
            .into_iter()
            .filter(|h| matches!(self.index.docs[h.index].source, Source::File { .. }))
            .collect();
        let Some(best) = hits.first() else {
            return Err("no topic keyword matches the customer's message".into());
        };
        let doc = &self.index.docs[best.index];
        if best.score < self.min_score {
            return Err(format!(
                "no topic keyword matches; the best knowledge paragraph ({}) scored {:.2}, below brain.min_score {:.2}",
                doc.name, best.score, self.min_score
            ));
        }
        let next = hits.get(1).map_or(0.0, |h| h.score);
        if best.score - next < self.min_margin {
            return Err(format!(
                "no topic keyword matches; the best knowledge paragraphs ({}) are {:.2} apart, under brain.min_margin {:.2}",
                doc.name,
                best.score - next,
                self.min_margin
            ));
        }
        Ok((
            doc,
            format!(
                "knowledge file {:?}: score {:.2}, margin {:.2}",
                doc.name,
                best.score,
                best.score - next
            ),
        ))
    }

    /// Replies with `doc`'s answer in the customer's language, unless that is untranslated and
    /// `brain.untranslated = "handoff"`, or the same answer was just given.
    fn answer(
        &self,
        input: &BrainInput,
        analysis: &Analysis,
        doc: &Document,
        detail: String,
        handoff: &dyn Fn(HandoffReason, String) -> Decision,
    ) -> Decision {
        let language = &analysis.language;
        let (text, answered_in) = match translation(&doc.answers, language) {
            Some(text) => (text, language.code.clone().unwrap_or_default()),
            None => {
                let foreign = language
                    .code
                    .as_deref()
                    .is_some_and(|code| code != self.answer_language);
                if foreign && self.untranslated == Untranslated::Handoff {
                    return handoff(
                        HandoffReason::NoAnswer,
                        format!(
                            "{detail}; no {} answer and brain.untranslated = \"handoff\"",
                            language.code.as_deref().unwrap_or_default()
                        ),
                    );
                }
                (doc.answer.as_str(), self.answer_language.clone())
            }
        };
        let already_given = input
            .history
            .iter()
            .rev()
            .find(|e| e.role == Role::Ai)
            .is_some_and(|e| e.text.trim() == text.trim());
        if already_given {
            return handoff(
                HandoffReason::NoAnswer,
                format!(
                    "{detail}; that answer was already given and the customer still needs help"
                ),
            );
        }
        Decision::Reply {
            text: text.to_string(),
            reason: format!(
                "{detail}; language {}; answered in {answered_in}",
                language.describe()
            ),
        }
    }
}

fn quoted(phrases: &[String]) -> String {
    phrases
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Brain for KnowledgeBrain {
    fn name(&self) -> &'static str {
        "knowledge-base"
    }

    fn decide(&self, input: BrainInput) -> LocalBoxFuture<'static, Result<Decision, BrainError>> {
        future::ready(Ok(self.decide_now(&input))).boxed_local()
    }

    /// The topic whose answer (or translation) `answer` is gives its `answer_no_order` in the
    /// same language; an untranslated one follows `brain.untranslated`.
    fn answer_without_order(&self, answer: &str) -> Option<String> {
        let non_empty = |s: &String| Some(s.clone()).filter(|s| !s.trim().is_empty());
        self.index.docs.iter().find_map(|doc| {
            if !matches!(doc.source, Source::Topic { .. }) {
                return None;
            }
            if doc.answer == answer {
                return non_empty(&doc.answer_no_order);
            }
            let (code, _) = doc.answers.iter().find(|(_, text)| *text == answer)?;
            match doc.answers_no_order.get(code) {
                Some(text) => non_empty(text),
                None if self.untranslated == Untranslated::Handoff => None,
                None => non_empty(&doc.answer_no_order),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::Customer;
    use crate::domain::session::HistoryEntry;

    fn topic(
        name: &str,
        desc: &str,
        keywords: &[&str],
        action: TopicAction,
        answer: &str,
    ) -> Topic {
        Topic {
            name: name.into(),
            description: desc.into(),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            exclude: Vec::new(),
            action,
            answer: answer.into(),
            answers: BTreeMap::new(),
            answer_no_order: String::new(),
            answers_no_order: BTreeMap::new(),
        }
    }

    fn topics() -> Vec<Topic> {
        vec![
            topic(
                "order-status",
                "Where an order is, tracking, delivery times",
                &["where is my order", "tracking", "shipped", "delivery"],
                TopicAction::Handle,
                "You can follow your order with the tracking link in your confirmation email.",
            ),
            topic(
                "returns",
                "How to return an item, return window, exchanges",
                &["return", "exchange", "send back"],
                TopicAction::Handle,
                "You can return any item within 30 days from your account page.",
            ),
            topic(
                "refunds",
                "Refund requests and chargebacks",
                &["refund", "money back", "chargeback"],
                TopicAction::Skip,
                "",
            ),
        ]
    }

    fn input(history: &[(Role, &str)], unanswered: usize) -> BrainInput {
        BrainInput {
            ticket_id: 1,
            channel: "email".into(),
            customer: Customer {
                id: None,
                email: "c@x".into(),
                name: None,
            },
            subject: None,
            language: None,
            history: history
                .iter()
                .map(|(role, text)| HistoryEntry {
                    role: *role,
                    text: text.to_string().into(),
                    message_id: None,
                    external_id: None,
                    at: 0,
                })
                .collect(),
            unanswered,
            ai_replies: history.iter().filter(|(r, _)| *r == Role::Ai).count() as u32,
            orders: None,
            analysis: Default::default(),
        }
    }

    fn brain() -> KnowledgeBrain {
        KnowledgeBrain::new(KnowledgeIndex::build(&topics(), None).unwrap(), 1.0)
    }

    #[test]
    fn scores_the_matching_topic_first() {
        let index = KnowledgeIndex::build(&topics(), None).unwrap();
        let hits = index.search("Hi, where is my order #1234?");
        assert_eq!(index.documents()[hits[0].index].name, "order-status");
        let hits = index.search("I'd like to exchange these shoes");
        assert_eq!(index.documents()[hits[0].index].name, "returns");
        assert!(index.search("zzz qqq").is_empty());
    }

    #[test]
    fn answers_with_the_best_handled_topic() {
        let d = brain().decide_now(&input(
            &[(Role::Customer, "Where is my order? Has it shipped?")],
            1,
        ));
        match d {
            Decision::Reply { text, reason } => {
                assert!(text.contains("tracking link"));
                assert!(reason.contains("order-status"));
            }
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn skip_topic_hands_off() {
        let d = brain().decide_now(&input(
            &[(Role::Customer, "I need a refund for a chargeback")],
            1,
        ));
        assert!(
            matches!(
                d,
                Decision::Handoff {
                    reason: HandoffReason::SkipTopic,
                    ..
                }
            ),
            "{d:?}"
        );
    }

    #[test]
    fn nothing_scoring_high_enough_hands_off() {
        let d = brain().decide_now(&input(
            &[(Role::Customer, "Do you sell gift cards for llamas?")],
            1,
        ));
        assert!(
            matches!(
                d,
                Decision::Handoff {
                    reason: HandoffReason::NoAnswer,
                    ..
                }
            ),
            "{d:?}"
        );
        let strict = KnowledgeBrain::new(KnowledgeIndex::build(&topics(), None).unwrap(), 100.0);
        let d = strict.decide_now(&input(&[(Role::Customer, "where is my order")], 1));
        assert!(
            matches!(
                d,
                Decision::Handoff {
                    reason: HandoffReason::NoAnswer,
                    ..
                }
            ),
            "{d:?}"
        );
    }

    #[test]
    fn only_the_new_messages_are_the_question_and_repeats_hand_off() {
        let b = brain();
        let answer = &topics()[0].answer;
        let history = [
            (Role::Customer, "where is my order?"),
            (Role::Ai, answer.as_str()),
            (Role::Customer, "I want to return it actually"),
        ];
        match b.decide_now(&input(&history, 1)) {
            Decision::Reply { text, .. } => assert!(text.contains("30 days")),
            other => panic!("{other:?}"),
        }
        let history = [
            (Role::Customer, "where is my order?"),
            (Role::Ai, answer.as_str()),
            (
                Role::Customer,
                "the tracking link shows nothing, where is my order",
            ),
        ];
        assert!(matches!(
            b.decide_now(&input(&history, 1)),
            Decision::Handoff {
                reason: HandoffReason::NoAnswer,
                ..
            }
        ));
    }

    #[test]
    fn knowledge_files_are_searched_too() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("care.md"),
            "# Care\n\nWash the wool sweater cold, by hand, and dry it flat.\n\nIgnore this.",
        )
        .unwrap();
        std::fs::write(dir.path().join("skip.bin"), "wool wool wool").unwrap();
        let index = KnowledgeIndex::build(&topics(), Some(dir.path())).unwrap();
        assert_eq!(index.documents().len(), topics().len() + 3);
        let b = KnowledgeBrain::new(index, 1.0);
        match b.decide_now(&input(
            &[(Role::Customer, "how do I wash my wool sweater")],
            1,
        )) {
            Decision::Reply { text, .. } => assert!(text.contains("dry it flat")),
            other => panic!("{other:?}"),
        }
    }

    fn reason_of(d: &Decision) -> Option<HandoffReason> {
        match d {
            Decision::Handoff { reason, .. } => Some(*reason),
            Decision::Reply { .. } => None,
        }
    }

    fn ask(b: &KnowledgeBrain, text: &str, language: Option<&str>) -> Decision {
        let mut i = input(&[(Role::Customer, text)], 1);
        i.language = language.map(str::to_string);
        b.decide_now(&i)
    }

    #[test]
    fn words_of_a_topics_name_or_description_alone_do_not_answer() {
        // "return window" and "exchanges" are in the description, "return" is a keyword.
        let mut t = topics();
        t[1].keywords = vec!["send back".into()];
        let b = KnowledgeBrain::new(KnowledgeIndex::build(&t, None).unwrap(), 1.0);
        let d = ask(&b, "what is the return window for exchanges?", None);
        assert_eq!(reason_of(&d), Some(HandoffReason::NoAnswer), "{d:?}");
        let d = ask(&b, "how do I send it back?", None);
        assert_eq!(reason_of(&d), None, "{d:?}");
    }

    #[test]
    fn an_exclude_phrase_vetoes_its_topic() {
        let mut t = topics();
        t[0].exclude = vec!["cancel".into(), "add".into()];
        let b = KnowledgeBrain::new(KnowledgeIndex::build(&t, None).unwrap(), 1.0);
        let d = ask(&b, "Can I add a scarf before it is shipped?", None);
        assert_eq!(reason_of(&d), Some(HandoffReason::NoAnswer), "{d:?}");
        let d = ask(&b, "Has it shipped yet?", None);
        assert_eq!(reason_of(&d), None, "{d:?}");
    }

    #[test]
    fn two_topics_matching_alike_hand_off_as_ambiguous() {
        let b = brain();
        let d = ask(
            &b,
            "The tracking shows it was shipped; how do I return it?",
            None,
        );
        match &d {
            Decision::Handoff {
                reason: HandoffReason::NoAnswer,
                detail,
                ..
            } => {
                assert!(detail.contains("ambiguous"), "{detail}");
                assert!(detail.contains("brain.min_margin"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        // With no margin required the better one answers.
        let mut lax = brain();
        lax.min_margin = 0.0;
        assert_eq!(
            reason_of(&ask(
                &lax,
                "The tracking shows it was shipped; how do I return it?",
                None
            )),
            None
        );
    }

    #[test]
    fn the_detail_names_the_language_phrases_score_and_margin() {
        match ask(&brain(), "Where is my order? Is there tracking?", None) {
            Decision::Reply { reason, .. } => {
                assert!(reason.contains("topic \"order-status\""), "{reason}");
                assert!(
                    reason.contains("\"where is my order\", \"tracking\""),
                    "{reason}"
                );
                assert!(reason.contains("score "), "{reason}");
                assert!(reason.contains("no other topic matched"), "{reason}");
                assert!(reason.contains("language en (detected)"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    fn multilingual() -> Vec<Topic> {
        let mut t = topics();
        t[0].keywords
            .extend(["où est ma commande".into(), "dónde está mi pedido".into()]);
        t[0].answers
            .insert("fr".into(), "Votre commande part sous 2 jours.".into());
        t
    }

    #[test]
    fn the_answer_is_in_the_customers_language_when_translated() {
        let b = KnowledgeBrain::new(KnowledgeIndex::build(&multilingual(), None).unwrap(), 1.0);
        match ask(&b, "Bonjour, où est ma commande ?", None) {
            Decision::Reply { text, reason } => {
                assert_eq!(text, "Votre commande part sous 2 jours.");
                assert!(reason.contains("language fr (detected)"), "{reason}");
                assert!(reason.contains("answered in fr"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        // The ticket's language wins over detection.
        match ask(&b, "where is my order", Some("fr")) {
            Decision::Reply { text, .. } => assert!(text.starts_with("Votre commande")),
            other => panic!("{other:?}"),
        }
        // Untranslated: the default answer, by default.
        match ask(&b, "¿Dónde está mi pedido?", None) {
            Decision::Reply { text, reason } => {
                assert!(text.contains("tracking link"), "{text}");
                assert!(reason.contains("answered in en"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn untranslated_handoff_hands_off_with_a_translated_final_reply() {
        let brain_settings = BrainSettings {
            untranslated: Untranslated::Handoff,
            ..BrainSettings::default()
        };
        let mut handoff = HandoffSettings::default();
        handoff
            .final_replies
            .insert("es".into(), "Un compañero le responderá pronto.".into());
        let b = KnowledgeBrain::from_settings(
            KnowledgeIndex::build(&multilingual(), None).unwrap(),
            &brain_settings,
            &handoff,
        );
        match ask(&b, "¿Dónde está mi pedido?", None) {
            Decision::Handoff {
                reason: HandoffReason::NoAnswer,
                detail,
                reply,
                ..
            } => {
                assert!(detail.contains("brain.untranslated"), "{detail}");
                assert_eq!(reply.as_deref(), Some("Un compañero le responderá pronto."));
            }
            other => panic!("{other:?}"),
        }
        // The answer's own language and translated languages are still answered.
        assert_eq!(reason_of(&ask(&b, "where is my order", None)), None);
        assert_eq!(reason_of(&ask(&b, "où est ma commande", None)), None);
    }

    #[test]
    fn the_answer_without_order_is_the_topics_in_the_same_language() {
        let mut t = multilingual();
        t[0].answer = "{order.summary}".into();
        t[0].answers
            .insert("fr".into(), "Commande : {order.summary}".into());
        t[0].answer_no_order = "Which order number?".into();
        t[0].answers_no_order
            .insert("fr".into(), "Quel numéro de commande ?".into());
        let b = KnowledgeBrain::new(KnowledgeIndex::build(&t, None).unwrap(), 1.0);
        assert_eq!(
            b.answer_without_order("{order.summary}").as_deref(),
            Some("Which order number?")
        );
        assert_eq!(
            b.answer_without_order("Commande : {order.summary}")
                .as_deref(),
            Some("Quel numéro de commande ?")
        );
        assert_eq!(b.answer_without_order("something else"), None);
        // No answer_no_order: nothing to say instead (the turn hands off).
        t[0].answer_no_order.clear();
        t[0].answers_no_order.clear();
        let b = KnowledgeBrain::new(KnowledgeIndex::build(&t, None).unwrap(), 1.0);
        assert_eq!(b.answer_without_order("{order.summary}"), None);
    }

    #[test]
    fn answers_keep_their_placeholders() {
        let mut t = topics();
        t[0].answer = "Your order {order.name} is {order.status}.".into();
        let b = KnowledgeBrain::new(KnowledgeIndex::build(&t, None).unwrap(), 1.0);
        match ask(&b, "where is my order", None) {
            Decision::Reply { text, .. } => {
                assert_eq!(text, "Your order {order.name} is {order.status}.")
            }
            other => panic!("{other:?}"),
        }
    }
}
