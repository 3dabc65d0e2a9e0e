//! `[review]`: the risk classes `vetted plan` refuses until acknowledged, and the pull-request label
//! that acknowledges them ([`Review`]).

use toml_edit::TableLike;

use super::{Walker, backticked, suggest};
use crate::model::Risk;
use crate::policy::Review;
use crate::policy::schema::{ACKNOWLEDGEABLE, LABEL_MAX, REVIEW as REVIEW_KEYS};

impl Walker<'_> {
    pub(super) fn review(&mut self, root: &dyn TableLike) -> Review {
        let mut review = Review::default();
        let Some(t) = self.table(root, "review", "review") else {
            return review;
        };
        self.check_keys(t, "[review]", REVIEW_KEYS);
        let what = "review.require_acknowledgement";
        for class in self
            .strings(t, "require_acknowledgement", what)
            .unwrap_or_default()
        {
            let known = ACKNOWLEDGEABLE.contains(&class.value.as_str());
            match Risk::from_name(&class.value).filter(|_| known) {
                Some(r) if review.require_acknowledgement.contains(&r) => self.err(
                    class.span,
                    format!("`{}` is listed twice in `{what}`", class.value),
                    "listed before",
                    Some("list each class once".to_string()),
                ),
                Some(r) => {
                    review.require_acknowledgement.insert(r);
                }
                None => {
                    let help = if class.value == Risk::Routine.as_str() {
                        format!(
                            "routine changes need no acknowledgement; the classes are {}",
                            backticked(ACKNOWLEDGEABLE)
                        )
                    } else {
                        match suggest(&class.value, ACKNOWLEDGEABLE.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("the classes are {}", backticked(ACKNOWLEDGEABLE)),
                        }
                    };
                    self.err(
                        class.span,
                        format!("unknown risk class `{}` in `{what}`", class.value),
                        "unknown class",
                        Some(help),
                    );
                }
            }
        }
        if let Some(label) = self.string(t, "ack_label", "review.ack_label") {
            let len = label.value.chars().count();
            if len == 0 || len > LABEL_MAX || label.value.chars().any(char::is_control) {
                self.err(
                    label.span,
                    "`review.ack_label` is not a GitHub label name".to_string(),
                    "invalid label",
                    Some(format!(
                        "use 1 to {LABEL_MAX} characters without line breaks or control characters"
                    )),
                );
            } else {
                review.ack_label = Some(label.value);
            }
        }
        review
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::model::Risk;
    use crate::policy::{PolicyError, parse};

    fn errors(source: &str) -> String {
        match parse(Path::new("policy.toml"), source) {
            Ok(p) => panic!("expected errors, got {p:?}"),
            Err(PolicyError::Invalid(d)) => d.render(false),
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn review_lists_classes_and_a_label() {
        let p = parse(
            Path::new("policy.toml"),
            "org = \"acme\"\n[review]\nrequire_acknowledgement = [\"destruction\", \"privilege\"]\nack_label = \"vetted:acknowledged\"\n",
        )
        .unwrap();
        assert_eq!(
            p.review.require_acknowledgement,
            [Risk::Privilege, Risk::Destruction].into()
        );
        assert_eq!(p.review.ack_label.as_deref(), Some("vetted:acknowledged"));
        let none = parse(Path::new("policy.toml"), "org = \"acme\"\n").unwrap();
        assert!(none.review.require_acknowledgement.is_empty());
        assert_eq!(none.review.ack_label, None);
    }

    #[test]
    fn unknown_classes_and_bad_labels_are_errors_at_their_place() {
        let e = errors(
            "org = \"acme\"\n[review]\nrequire_acknowledgement = [\"privilge\", \"routine\", \"Exposure\"]\nack_label = \"a\\nb\"\n",
        );
        for part in [
            "policy.toml:3:28",
            "unknown risk class `privilge` in `review.require_acknowledgement`",
            "did you mean `privilege`?",
            "routine changes need no acknowledgement",
            "unknown risk class `Exposure`",
            "policy.toml:4:13",
            "`review.ack_label` is not a GitHub label name",
        ] {
            assert!(e.contains(part), "{part} in\n{e}");
        }
        let e = errors("org = \"acme\"\n[review]\nrequire_acknowledgement = \"privilege\"\n");
        assert!(
            e.contains("`review.require_acknowledgement` must be a list of strings"),
            "{e}"
        );
        let long = "x".repeat(51);
        let e = errors(&format!(
            "org = \"acme\"\n[review]\nack_label = \"{long}\"\n"
        ));
        assert!(e.contains("1 to 50 characters"), "{e}");
    }
}
