//! The embedded knowledge-base brain: BM25 retrieval over the Autopilot topics (name,
//! description, keywords) and optional `.md`/`.txt` files, plus a bonus for whole keyword
//! phrases. It answers with the best handled topic's answer, or hands off.

use std::collections::HashMap;
use std::path::Path;

use futures_util::future::{self, LocalBoxFuture};
use futures_util::FutureExt;

use super::text::{contains_phrase, normalize, terms};
use super::{Brain, BrainError, BrainInput, Decision, HandoffReason};
use crate::config::{Topic, TopicAction};
use crate::domain::session::Role;

const K1: f64 = 1.2;
const B: f64 = 0.75;
/// Added per keyword phrase (two words or more) found verbatim in the customer's text.
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
    keywords: Vec<String>,
    term_counts: HashMap<String, u32>,
    length: u32,
}

/// A scored document.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub index: usize,
    pub score: f64,
}

/// A BM25 index over topics and knowledge snippets.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeIndex {
    docs: Vec<Document>,
    doc_freq: HashMap<String, u32>,
    avg_len: f64,
}

impl KnowledgeIndex {
    /// Indexes the topics and every `.md`/`.txt` file of `knowledge_dir` (when given).
    pub fn build(topics: &[Topic], knowledge_dir: Option<&Path>) -> std::io::Result<Self> {
        let mut docs: Vec<Document> = topics
            .iter()
            .map(|t| {
                // Keywords count twice: they are the merchant's own words for the topic.
                let text = format!(
                    "{} {} {} {}",
                    t.name.replace(['-', '_'], " "),
                    t.description,
                    t.keywords.join(" "),
                    t.keywords.join(" ")
                );
                Document::new(
                    t.name.clone(),
                    Source::Topic { action: t.action },
                    t.answer.clone(),
                    t.keywords.clone(),
                    &text,
                )
            })
            .collect();
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
                    docs.push(Document::new(
                        name.clone(),
                        Source::File { path: name.clone() },
                        snippet.clone(),
                        Vec::new(),
                        &snippet,
                    ));
                }
            }
        }
        Ok(KnowledgeIndex::from_documents(docs))
    }

    fn from_documents(docs: Vec<Document>) -> Self {
        let mut doc_freq: HashMap<String, u32> = HashMap::new();
        for d in &docs {
            for term in d.term_counts.keys() {
                *doc_freq.entry(term.clone()).or_default() += 1;
            }
        }
        let avg_len = if docs.is_empty() {
            0.0
        } else {
            docs.iter().map(|d| d.length as f64).sum::<f64>() / docs.len() as f64
        };
        KnowledgeIndex {
            docs,
            doc_freq,
            avg_len,
        }
    }

    pub fn documents(&self) -> &[Document] {
        &self.docs
    }

    /// Documents scored against `query`, best first; documents that score 0 are left out.
    pub fn search(&self, query: &str) -> Vec<Hit> {
        let query_terms = {
            let mut t = terms(query);
            t.sort();
            t.dedup();
            t
        };
        let normalized = normalize(query);
        let n = self.docs.len() as f64;
        let mut hits: Vec<Hit> = self
            .docs
            .iter()
            .enumerate()
            .map(|(index, doc)| {
                let mut score = 0.0;
                for term in &query_terms {
                    let tf = *doc.term_counts.get(term).unwrap_or(&0) as f64;
                    if tf == 0.0 {
                        continue;
                    }
                    let df = *self.doc_freq.get(term).unwrap_or(&0) as f64;
                    let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                    let norm = 1.0 - B + B * doc.length as f64 / self.avg_len.max(1.0);
                    score += idf * tf * (K1 + 1.0) / (tf + K1 * norm);
                }
                for keyword in &doc.keywords {
                    if keyword.split_whitespace().count() >= 2
                        && contains_phrase(&normalized, keyword)
                    {
                        score += PHRASE_BONUS;
                    }
                }
                Hit { index, score }
            })
            .filter(|h| h.score > 0.0)
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        hits
    }
}

impl Document {
    fn new(
        name: String,
        source: Source,
        answer: String,
        keywords: Vec<String>,
        text: &str,
    ) -> Document {
        let mut term_counts: HashMap<String, u32> = HashMap::new();
        let words = terms(text);
        for w in &words {
            *term_counts.entry(w.clone()).or_default() += 1;
        }
        Document {
            name,
            source,
            answer,
            keywords,
            term_counts,
            length: words.len() as u32,
        }
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
}

impl KnowledgeBrain {
    pub fn new(index: KnowledgeIndex, min_score: f64) -> KnowledgeBrain {
        KnowledgeBrain { index, min_score }
    }

    /// The decision for `input`, synchronously (the trait wraps it in a ready future).
    pub fn decide_now(&self, input: &BrainInput) -> Decision {
        let query = input.new_text();
        let hits = self.index.search(&query);
        let Some(best) = hits.first() else {
            return Decision::handoff(
                HandoffReason::NoAnswer,
                "nothing in the knowledge base matches the customer's message",
            );
        };
        let doc = &self.index.docs[best.index];
        if best.score < self.min_score {
            return Decision::handoff(
                HandoffReason::NoAnswer,
                format!(
                    "best match {:?} scored {:.2}, below brain.min_score {:.2}",
                    doc.name, best.score, self.min_score
                ),
            );
        }
        if doc.source
            == (Source::Topic {
                action: TopicAction::Skip,
            })
        {
            return Decision::handoff(
                HandoffReason::SkipTopic,
                format!("topic {:?} is handled by humans", doc.name),
            );
        }
        let already_given = input
            .history
            .iter()
            .rev()
            .find(|e| e.role == Role::Ai)
            .is_some_and(|e| e.text.trim() == doc.answer.trim());
        if already_given {
            return Decision::handoff(
                HandoffReason::NoAnswer,
                format!(
                    "the best answer ({:?}) was already given and the customer still needs help",
                    doc.name
                ),
            );
        }
        Decision::Reply {
            text: doc.answer.clone(),
            reason: format!("matched {:?} (score {:.2})", doc.name, best.score),
        }
    }
}

impl Brain for KnowledgeBrain {
    fn name(&self) -> &'static str {
        "knowledge-base"
    }

    fn decide(&self, input: BrainInput) -> LocalBoxFuture<'static, Result<Decision, BrainError>> {
        future::ready(Ok(self.decide_now(&input))).boxed_local()
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
            action,
            answer: answer.into(),
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
            history: history
                .iter()
                .map(|(role, text)| HistoryEntry {
                    role: *role,
                    text: text.to_string(),
                    message_id: None,
                    external_id: None,
                    at: 0,
                })
                .collect(),
            unanswered,
            ai_replies: history.iter().filter(|(r, _)| *r == Role::Ai).count() as u32,
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
}
