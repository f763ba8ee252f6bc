//! Pages of a long list: the query fields a list page reads (`page`, `sort`, `q`…) and the
//! pager under it.
use maud::{Markup, html};
use std::collections::HashMap;

/// Rows per page.
pub const PER_PAGE: usize = 50;

/// The list query: free text, named filters, sort field, page (from 1).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub fields: HashMap<String, String>,
    pub page: usize,
}

impl ListQuery {
    pub fn new(fields: HashMap<String, String>) -> Self {
        let page = fields
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1usize)
            .max(1);
        ListQuery { fields, page }
    }

    /// A query field, "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }

    /// The free-text filter, lower-cased.
    pub fn needle(&self) -> String {
        self.get("q").trim().to_lowercase()
    }

    /// The rows of this page, and how many pages there are.
    pub fn slice<'a, T>(&self, rows: &'a [T]) -> (&'a [T], usize) {
        let pages = rows.len().div_ceil(PER_PAGE).max(1);
        let page = self.page.clamp(1, pages);
        let start = (page - 1) * PER_PAGE;
        (
            &rows[start.min(rows.len())..(start + PER_PAGE).min(rows.len())],
            pages,
        )
    }

    /// This query's link with `page` changed.
    fn link(&self, path: &str, page: usize) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        let mut keys: Vec<_> = self
            .fields
            .keys()
            .filter(|k| *k != "page" && *k != "notice" && *k != "error")
            .collect();
        keys.sort();
        for k in keys {
            s.append_pair(k, &self.fields[k]);
        }
        s.append_pair("page", &page.to_string());
        format!("{path}?{}", s.finish())
    }

    /// "Page 2 of 40 (1,970 accounts)" with previous / next links.
    pub fn pager(&self, path: &str, total: usize, pages: usize, noun: &str) -> Markup {
        let page = self.page.clamp(1, pages);
        html! {
            nav.pager aria-label="Pages" {
                @if page > 1 { a.button.secondary href=(self.link(path, page - 1)) rel="prev" { "← Previous" } }
                span { "Page " (page) " of " (pages) " (" (super::text::count(total as u64)) " " (noun) ")" }
                @if page < pages { a.button.secondary href=(self.link(path, page + 1)) rel="next" { "Next →" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_pages_and_clamps_past_the_end() {
        let rows: Vec<usize> = (0..120).collect();
        let q = ListQuery::new(HashMap::from([("page".to_owned(), "3".to_owned())]));
        let (page, pages) = q.slice(&rows);
        assert_eq!((page.first(), page.len(), pages), (Some(&100), 20, 3));
        let q = ListQuery::new(HashMap::from([("page".to_owned(), "99".to_owned())]));
        assert_eq!(q.slice(&rows).0.first(), Some(&100));
        let empty: Vec<usize> = vec![];
        assert_eq!(ListQuery::default().slice(&empty), (&[][..], 1));
    }
}
