//! The handlebars templates: compiled into the binary from `templates/`, or read from
//! `report.template_dir` when a user keeps their own copies. Strict mode: a template that names a
//! value the view does not have is an error, not an empty string.

use std::path::Path;

use handlebars::Handlebars;
use serde::Serialize;

pub(crate) const REPORT_HTML: &str = "report.html.hbs";
pub(crate) const EMAIL_HTML: &str = "email.html.hbs";
pub(crate) const EMAIL_TEXT: &str = "email.txt.hbs";

const BUILTIN: [(&str, &str); 3] = [
    (REPORT_HTML, include_str!("../templates/report.html.hbs")),
    (EMAIL_HTML, include_str!("../templates/email.html.hbs")),
    (EMAIL_TEXT, include_str!("../templates/email.txt.hbs")),
];

/// HTML templates escape every value; text templates (plain-text email, subject) do not.
pub struct Templates {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
}

impl Templates {
    /// The built-in templates, each replaced by `dir/<name>` where that file exists.
    pub fn load(dir: Option<&Path>) -> Result<Templates, String> {
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        let mut text = Handlebars::new();
        text.set_strict_mode(true);
        text.register_escape_fn(handlebars::no_escape);
        for (name, builtin) in BUILTIN {
            // Present in any form (even a FIFO or a dangling link) means meant to replace the
            // built-in one: read it or fail, never fall back silently.
            let custom = dir
                .map(|d| d.join(name))
                .filter(|p| std::fs::symlink_metadata(p).is_ok());
            let source = match &custom {
                Some(path) => crate::files::read_bounded_text(
                    path,
                    crate::files::TEMPLATE_FILE,
                    crate::files::Symlinks::Follow,
                )?,
                None => builtin.to_string(),
            };
            let registry = if name == EMAIL_TEXT {
                &mut text
            } else {
                &mut html
            };
            registry
                .register_template_string(name, source)
                .map_err(|e| {
                    let origin = custom.as_ref().map_or_else(
                        || format!("built-in template {name}"),
                        |p| p.display().to_string(),
                    );
                    format!("template {origin} is invalid: {e}")
                })?;
        }
        if let Some(dir) = dir
            && !dir.is_dir()
        {
            return Err(format!(
                "report.template_dir {} is not a directory",
                dir.display()
            ));
        }
        Ok(Templates { html, text })
    }

    pub fn render<T: Serialize>(&self, name: &str, data: &T) -> Result<String, String> {
        let registry = if name == EMAIL_TEXT {
            &self.text
        } else {
            &self.html
        };
        registry
            .render(name, data)
            .map_err(|e| format!("cannot render {name}: {e}"))
    }

    /// Render a one-off text template (the email subject), unescaped.
    pub fn render_text_str<T: Serialize>(
        &self,
        template: &str,
        data: &T,
    ) -> Result<String, String> {
        self.text
            .render_template(template, data)
            .map_err(|e| format!("cannot render `{template}`: {e}"))
    }

    /// Check that a one-off text template compiles (config validation).
    pub fn check_text_str(template: &str) -> Result<(), String> {
        handlebars::Template::compile(template)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}
