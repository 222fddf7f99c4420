//! Byte offset → 1-based line and column (columns count characters, as editors do).

/// Line starts of one source text.
#[derive(Clone, Debug)]
pub struct LineIndex<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(src: &'a str) -> LineIndex<'a> {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { src, starts }
    }

    /// 1-based line of byte offset `at` (a binary search: O(log lines), whatever the line length).
    pub fn line(&self, at: u32) -> usize {
        let at = (at as usize).min(self.src.len());
        match self.starts.binary_search(&at) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// 1-based (line, column) of byte offset `at` (clamped to the text; snapped back to a char
    /// boundary so a span into the middle of a character never panics).
    pub fn line_col(&self, at: u32) -> (usize, usize) {
        let mut at = (at as usize).min(self.src.len());
        while !self.src.is_char_boundary(at) {
            at -= 1;
        }
        let line = match self.starts.binary_search(&at) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let col = self.src[self.starts[line]..at].chars().count() + 1;
        (line + 1, col)
    }
}
