//! Ticket tag names: the rules for `handoff.tags` and `autopilot.reply_tags` (validated once,
//! at startup, with the key named), `{reason}` expansion on handoff, and the body of Gorgias's
//! add-tags call.

use serde::{Deserialize, Serialize};

/// The config list of tags added on handoff.
pub const HANDOFF_TAGS_KEY: &str = "handoff.tags";
/// The config list of tags added when the AI replies.
pub const REPLY_TAGS_KEY: &str = "autopilot.reply_tags";
/// Gorgias's own tag editor stops at this many characters.
pub const MAX_TAG_CHARS: usize = 64;
/// Replaced by the handoff reason code, e.g. `ai-handoff-{reason}` → `ai-handoff-skip_topic`.
pub const REASON_PLACEHOLDER: &str = "{reason}";
/// What `{reason}` counts for in the length check, so that no expansion can exceed
/// [`MAX_TAG_CHARS`]: reason codes are short snake_case words and must stay within this.
pub const MAX_REASON_CHARS: usize = 32;

/// A configured tag name that cannot be used, with the list and position it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{list}[{index}]` {problem}")]
pub struct TagError {
    /// The config list, [`HANDOFF_TAGS_KEY`] or [`REPLY_TAGS_KEY`].
    pub list: &'static str,
    pub index: usize,
    pub problem: TagProblem,
}

impl TagError {
    /// The full key, e.g. `handoff.tags[1]`.
    pub fn key(&self) -> String {
        format!("{}[{}]", self.list, self.index)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagProblem {
    #[error("is empty: a tag needs a name")]
    Empty,
    #[error("{0:?} contains a comma: Gorgias reads it as two tags; give each tag its own entry")]
    Comma(String),
    #[error("{0:?} contains a control character (a tab, a line break...)")]
    ControlCharacter(String),
    #[error(
        "{name:?} is {chars} characters long: at most {MAX_TAG_CHARS}, \
         {{reason}} counting as {MAX_REASON_CHARS}"
    )]
    TooLong { name: String, chars: usize },
    #[error("{0:?} has a brace that is not {{reason}}, the only placeholder")]
    UnknownPlaceholder(String),
    #[error(
        "{0:?} uses {{reason}}, which only handoff.tags expands: a reply has no handoff reason"
    )]
    ReasonNotExpandedHere(String),
}

/// `handoff.tags`, validated: trimmed, in configured order, `{reason}` still unexpanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandoffTags(Vec<String>);

impl HandoffTags {
    pub fn parse(names: &[String]) -> Result<HandoffTags, TagError> {
        validate(HANDOFF_TAGS_KEY, names, true).map(HandoffTags)
    }

    /// The names to add for a handoff with this reason code: `{reason}` replaced, duplicates
    /// dropped (the first one kept, so the configured order holds).
    pub fn expand(&self, reason_code: &str) -> Vec<String> {
        dedup(
            self.0
                .iter()
                .map(|name| name.replace(REASON_PLACEHOLDER, reason_code)),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One line for `check`: `handoff.tags: "ai-handoff", "ai-handoff-{reason}"`.
    pub fn describe(&self) -> String {
        describe(HANDOFF_TAGS_KEY, &self.0)
    }
}

/// `autopilot.reply_tags`, validated: trimmed, in configured order, no placeholder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyTags(Vec<String>);

impl ReplyTags {
    pub fn parse(names: &[String]) -> Result<ReplyTags, TagError> {
        validate(REPLY_TAGS_KEY, names, false).map(ReplyTags)
    }

    /// The names to add after an AI reply, duplicates dropped (the first one kept).
    pub fn names(&self) -> Vec<String> {
        dedup(self.0.iter().cloned())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One line for `check`: `autopilot.reply_tags: "ai-replied"` (or `none`).
    pub fn describe(&self) -> String {
        describe(REPLY_TAGS_KEY, &self.0)
    }
}

/// The body of `POST /api/tickets/{id}/tags`, which adds these names to the ticket's tags. (A
/// `PUT` on that path replaces them, wiping the merchant's own tags; it is never sent.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddTags {
    pub names: Vec<String>,
}

fn validate(
    list: &'static str,
    names: &[String],
    reason_allowed: bool,
) -> Result<Vec<String>, TagError> {
    names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            validate_one(name.trim(), reason_allowed)
                .map(str::to_string)
                .map_err(|problem| TagError {
                    list,
                    index,
                    problem,
                })
        })
        .collect()
}

fn validate_one(name: &str, reason_allowed: bool) -> Result<&str, TagProblem> {
    let owned = || name.to_string();
    if name.is_empty() {
        return Err(TagProblem::Empty);
    }
    if name.contains(',') {
        return Err(TagProblem::Comma(owned()));
    }
    if name.chars().any(char::is_control) {
        return Err(TagProblem::ControlCharacter(owned()));
    }
    let placeholders = name.matches(REASON_PLACEHOLDER).count();
    if placeholders > 0 && !reason_allowed {
        return Err(TagProblem::ReasonNotExpandedHere(owned()));
    }
    if name.replace(REASON_PLACEHOLDER, "").contains(['{', '}']) {
        return Err(TagProblem::UnknownPlaceholder(owned()));
    }
    let chars = name.chars().count() - placeholders * REASON_PLACEHOLDER.len()
        + placeholders * MAX_REASON_CHARS;
    if chars > MAX_TAG_CHARS {
        return Err(TagProblem::TooLong {
            name: owned(),
            chars,
        });
    }
    Ok(name)
}

fn dedup(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

fn describe(list: &str, names: &[String]) -> String {
    if names.is_empty() {
        return format!("{list}: none");
    }
    let quoted: Vec<String> = dedup(names.iter().cloned())
        .iter()
        .map(|name| format!("{name:?}"))
        .collect();
    format!("{list}: {}", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reason_expands_in_handoff_tags_and_other_names_stay_as_configured() {
        let tags = HandoffTags::parse(&strings(&["ai-handoff", "ai-handoff-{reason}"])).unwrap();
        assert_eq!(
            tags.expand("skip_topic"),
            strings(&["ai-handoff", "ai-handoff-skip_topic"])
        );
        let alone = HandoffTags::parse(&strings(&["{reason}"])).unwrap();
        assert_eq!(alone.expand("no_answer"), strings(&["no_answer"]));
    }

    #[test]
    fn names_are_trimmed_and_duplicates_dropped_keeping_the_first() {
        let tags = HandoffTags::parse(&strings(&[
            " ai ",
            "vip customer",
            "ai",
            "ai-{reason}",
            "ai-no_answer",
        ]))
        .unwrap();
        assert_eq!(
            tags.expand("no_answer"),
            strings(&["ai", "vip customer", "ai-no_answer"])
        );
        let reply = ReplyTags::parse(&strings(&["ai-replied", "b", "ai-replied "])).unwrap();
        assert_eq!(reply.names(), strings(&["ai-replied", "b"]));
    }

    #[test]
    fn empty_lists_add_nothing() {
        let tags = HandoffTags::parse(&[]).unwrap();
        assert!(tags.is_empty());
        assert!(tags.expand("skip_topic").is_empty());
        let reply = ReplyTags::parse(&[]).unwrap();
        assert!(reply.is_empty());
        assert!(reply.names().is_empty());
    }

    #[test]
    fn a_bad_tag_is_rejected_with_its_list_and_index_named() {
        let long = "x".repeat(MAX_TAG_CHARS + 1);
        let cases = [
            ("  ", TagProblem::Empty),
            ("a,b", TagProblem::Comma("a,b".to_string())),
            (
                "ai\thandoff",
                TagProblem::ControlCharacter("ai\thandoff".to_string()),
            ),
            (
                "ai\nhandoff",
                TagProblem::ControlCharacter("ai\nhandoff".to_string()),
            ),
            (
                "ai\u{7f}",
                TagProblem::ControlCharacter("ai\u{7f}".to_string()),
            ),
            (
                long.as_str(),
                TagProblem::TooLong {
                    name: long.clone(),
                    chars: MAX_TAG_CHARS + 1,
                },
            ),
            (
                "ai-{Reason}",
                TagProblem::UnknownPlaceholder("ai-{Reason}".to_string()),
            ),
            (
                "ai-{reason",
                TagProblem::UnknownPlaceholder("ai-{reason".to_string()),
            ),
        ];
        for (name, problem) in cases {
            let err = HandoffTags::parse(&strings(&["fine", name])).unwrap_err();
            assert_eq!(err.key(), "handoff.tags[1]", "{name:?}");
            assert_eq!(err.problem, problem, "{name:?}");
            assert!(err.to_string().starts_with("`handoff.tags[1]` "), "{err}");

            let err = ReplyTags::parse(&strings(&[name])).unwrap_err();
            assert_eq!(err.key(), "autopilot.reply_tags[0]", "{name:?}");
            assert_eq!(err.problem, problem, "{name:?}");
        }
    }

    #[test]
    fn reply_tags_refuse_the_reason_placeholder() {
        let err = ReplyTags::parse(&strings(&["ai-{reason}"])).unwrap_err();
        assert_eq!(err.key(), "autopilot.reply_tags[0]");
        assert_eq!(
            err.problem,
            TagProblem::ReasonNotExpandedHere("ai-{reason}".to_string())
        );
    }

    #[test]
    fn the_length_limit_counts_characters_and_reserves_room_for_the_reason() {
        assert!(HandoffTags::parse(&["é".repeat(MAX_TAG_CHARS)]).is_ok());
        let fits = format!(
            "{}{REASON_PLACEHOLDER}",
            "x".repeat(MAX_TAG_CHARS - MAX_REASON_CHARS)
        );
        let tags = HandoffTags::parse(std::slice::from_ref(&fits)).unwrap();
        let longest_reason = "r".repeat(MAX_REASON_CHARS);
        assert_eq!(
            tags.expand(&longest_reason)[0].chars().count(),
            MAX_TAG_CHARS
        );

        let over = format!("x{fits}");
        let err = HandoffTags::parse(std::slice::from_ref(&over)).unwrap_err();
        assert_eq!(
            err.problem,
            TagProblem::TooLong {
                name: over,
                chars: MAX_TAG_CHARS + 1
            }
        );
    }

    #[test]
    fn the_add_tags_body_is_a_names_list() {
        let tags = HandoffTags::parse(&strings(&["ai-handoff", "ai-handoff-{reason}"])).unwrap();
        let body = AddTags {
            names: tags.expand("skip_topic"),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"names": ["ai-handoff", "ai-handoff-skip_topic"]})
        );
    }

    #[test]
    fn describe_lists_the_tags_on_one_line() {
        let tags = HandoffTags::parse(&strings(&[
            "ai-handoff",
            "ai-handoff-{reason}",
            "ai-handoff",
        ]))
        .unwrap();
        assert_eq!(
            tags.describe(),
            r#"handoff.tags: "ai-handoff", "ai-handoff-{reason}""#
        );
        let reply = ReplyTags::parse(&strings(&["ai replied"])).unwrap();
        assert_eq!(reply.describe(), r#"autopilot.reply_tags: "ai replied""#);
        assert_eq!(
            ReplyTags::parse(&[]).unwrap().describe(),
            "autopilot.reply_tags: none"
        );
    }
}
