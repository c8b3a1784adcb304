//! Rows for PostgreSQL's `COPY ... FROM STDIN` in its text format, streamed to the server:
//! the way a large write (a catalog import's products, barcodes, prices and feed records)
//! reaches PostgreSQL fastest. sqlx's `Any` driver cannot `COPY`, so the caller holds a
//! `PgConnection` of its own (`catalog::import_postgres`).

use sqlx::postgres::PgConnection;

use crate::error::CloudResult;

/// Rows in PostgreSQL's `COPY` text format: fields separated by tabs, rows ended by a newline,
/// and a backslash, tab, newline or carriage return inside a field escaped.
#[derive(Default)]
pub struct CopyRows {
    text: String,
    rows: u64,
    field_open: bool,
}

/// Bytes of rows sent to the server in one message.
const COPY_CHUNK: usize = 1 << 20;

impl CopyRows {
    /// Appends a text field.
    pub fn text(&mut self, value: &str) -> &mut CopyRows {
        self.separate();
        for c in value.chars() {
            match c {
                '\\' => self.text.push_str("\\\\"),
                '\t' => self.text.push_str("\\t"),
                '\n' => self.text.push_str("\\n"),
                '\r' => self.text.push_str("\\r"),
                other => self.text.push(other),
            }
        }
        self
    }

    /// Appends a number field.
    pub fn int(&mut self, value: i64) -> &mut CopyRows {
        self.separate();
        self.text.push_str(&value.to_string());
        self
    }

    /// Ends the row.
    pub fn end_row(&mut self) {
        self.text.push('\n');
        self.rows += 1;
        self.field_open = false;
    }

    fn separate(&mut self) {
        if self.field_open {
            self.text.push('\t');
        }
        self.field_open = true;
    }

    /// Streams the rows with `statement` (a `COPY ... FROM STDIN`); answers how many rows were
    /// sent. `progress` is told `before` plus the rows sent so far.
    pub async fn send(
        self,
        conn: &mut PgConnection,
        statement: &str,
        before: u64,
        progress: &mut dyn FnMut(u64),
    ) -> CloudResult<u64> {
        if self.rows == 0 {
            return Ok(0);
        }
        let total = self.text.len().max(1) as u64;
        let mut copy = conn.copy_in_raw(statement).await?;
        let mut sent = 0_u64;
        for chunk in self.text.as_bytes().chunks(COPY_CHUNK) {
            copy.send(chunk).await?;
            sent += chunk.len() as u64;
            progress(before.saturating_add(self.rows.saturating_mul(sent) / total));
        }
        copy.finish().await?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_escape_what_the_text_format_reads_as_structure() {
        let mut rows = CopyRows::default();
        rows.text("a\tb").text("back\\slash").int(-5).end_row();
        rows.text("line\nbreak\r").end_row();
        assert_eq!(
            rows.text, "a\\tb\tback\\\\slash\t-5\nline\\nbreak\\r\n",
            "a tab, newline, carriage return or backslash inside a field must not end it"
        );
        assert_eq!(rows.rows, 2);
    }
}
