//! Policy diagnostics: every error found in one load, each with a byte span into the policy source,
//! rendered rustc-style (file:line:col, the offending line and a caret) by annotate-snippets.

use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use crate::untrusted::untrusted;

/// One error in the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The headline ("unknown key `descripton` in `[teams.platform]`").
    pub message: String,
    /// Byte range in the policy source; `None` when the error has no place (a missing key).
    pub span: Option<Range<usize>>,
    /// Text printed under the caret.
    pub label: String,
    /// An optional hint ("did you mean `description`?").
    pub help: Option<String>,
}

/// All errors of one policy load, in source order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    path: String,
    source: String,
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub(crate) fn new(path: String, source: String, mut items: Vec<Diagnostic>) -> Self {
        // Source order (spanless errors first, they concern the whole file); stable for equal spans.
        items.sort_by_key(|d| d.span.as_ref().map(|s| (s.start, s.end)));
        Diagnostics {
            path,
            source,
            items,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Renders every error, then a count line. `color` selects ANSI styling.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let mut out = Vec::with_capacity(self.items.len() + 1);
        for d in &self.items {
            // Messages quote the policy, which comes from a pull request: one line each, no raw
            // control characters (crate::untrusted::untrusted).
            let message = untrusted(&d.message);
            let label = untrusted(&d.label);
            let title = Level::ERROR.primary_title(message.as_ref());
            let mut group: Group<'_> = match &d.span {
                Some(span) => {
                    let span = clamp(span.clone(), &self.source);
                    title.element(
                        Snippet::source(self.source.as_str())
                            .path(self.path.as_str())
                            .annotation(AnnotationKind::Primary.span(span).label(label.as_ref())),
                    )
                }
                None => title.element(Origin::path(self.path.as_str())),
            };
            if let Some(help) = &d.help {
                group = group.element(Level::HELP.message(untrusted(help)));
            }
            out.push(renderer.render(&[group]));
        }
        let n = self.items.len();
        let style = if color {
            annotate_snippets::renderer::DEFAULT_ERROR_STYLE
        } else {
            anstyle::Style::new()
        };
        out.push(format!(
            "{style}error{style:#}: policy `{}` has {n} error{}",
            self.path,
            if n == 1 { "" } else { "s" }
        ));
        out.join("\n\n")
    }
}

/// Keeps a span inside the source and on character boundaries, so rendering never panics.
fn clamp(span: Range<usize>, source: &str) -> Range<usize> {
    let mut start = span.start.min(source.len());
    let mut end = span.end.clamp(start, source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    while !source.is_char_boundary(end) {
        end += 1;
    }
    start..end
}
