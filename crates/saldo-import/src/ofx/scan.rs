//! Splits OFX — SGML or XML, the scanner need not know which — into tags, each with the text that
//! follows it up to the next markup. SGML leaves are never closed (`<TRNAMT>-6.60<FITID>…`), so
//! "a tag and what follows it" is the one unit both dialects share.
//!
//! Input is read in chunks into one buffer that only ever holds the current token, so memory stays
//! flat however long the file. Lines are counted in one pass over each stretch between tags, not
//! byte by byte in the tokenizer.

use std::cell::Cell;
use std::io::{BufRead, ErrorKind};
use std::ops::Range;

use crate::statement::{Format, ParseError, Position};

/// Tag names are short; a longer one is cut, which no known name can equal.
const MAX_NAME: usize = 32;
/// How much to take from the reader at a time.
const CHUNK: usize = 64 * 1024;
/// No real field or tag comes near this; beyond it the input is not OFX and buffering it whole
/// would make memory depend on the file.
const MAX_TOKEN: usize = 1 << 20;
/// A tag whose `>` is further away than this is not a tag.
const MAX_TAG: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `<NAME>` or `<NAME attr="…">`.
    Start,
    /// `</NAME>`.
    End,
    /// `<NAME/>`.
    Empty,
    /// `<?NAME …?>`: the XML declaration and OFX 2's header.
    Instruction,
}

pub(super) struct Token {
    pub kind: Kind,
    /// The tag's name, upper-cased in place; one longer than [`MAX_NAME`] is cut there, which no
    /// known name can equal. Valid until the next call to [`Scanner::next`].
    pub name: Range<usize>,
    /// Byte offset of the tag's `<` in the file.
    pub offset: u64,
    /// For a start tag, the raw text after it up to the next markup (CDATA sections and entities
    /// as written); for an instruction, what lies between `<?` and `?>`. Valid until the next
    /// call to [`Scanner::next`].
    pub text: Range<usize>,
}

pub(super) struct Scanner<R> {
    reader: R,
    buf: Vec<u8>,
    /// Where scanning stands in `buf`; bytes before it may be dropped on the next refill.
    pos: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// The file ended inside a tag, comment or CDATA section.
    pub(super) truncated: bool,
    /// `buf` index up to which lines have been counted, and the line there (1-based).
    counted: Cell<usize>,
    line: Cell<u64>,
    /// Offset of the last tag's `<`, and its line once counted: lines are counted only when a
    /// position is asked for or the buffer is refilled, and a count that passes the tag's `<`
    /// notes its line on the way (a tag can span lines, and may be dropped from the buffer).
    tag_start: u64,
    tag_line: Cell<Option<u64>>,
}

impl<R: BufRead> Scanner<R> {
    pub(super) fn new(reader: R) -> Scanner<R> {
        Scanner {
            reader,
            buf: Vec::with_capacity(CHUNK),
            pos: 0,
            base: 0,
            eof: false,
            truncated: false,
            counted: Cell::new(0),
            line: Cell::new(1),
            tag_start: u64::MAX,
            tag_line: Cell::new(None),
        }
    }

    pub(super) fn slice(&self, range: Range<usize>) -> &[u8] {
        self.buf.get(range).unwrap_or_default()
    }

    /// How much the scanner holds: for tests that memory stays flat.
    #[cfg(test)]
    pub(super) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Where `offset` is. Offsets must be asked for in file order (the current token or later):
    /// lines before the last answer are not counted again.
    pub(super) fn position(&self, offset: u64) -> Position {
        if offset == self.tag_start {
            if self.tag_line.get().is_none() {
                self.count_lines_to(self.tag_index());
            }
            if let Some(line) = self.tag_line.get() {
                return Position { line: Some(line), offset: Some(offset) };
            }
        }
        let index = usize::try_from(offset.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.buf.len());
        self.count_lines_to(index);
        Position { line: Some(self.line.get()), offset: Some(offset) }
    }

    /// Where the scanner stands: the end of the last token.
    pub(super) fn here(&self) -> Position {
        self.position(self.base + self.pos as u64)
    }

    /// Index in `buf` of the last tag's `<` (past the end when there is none).
    fn tag_index(&self) -> usize {
        usize::try_from(self.tag_start.wrapping_sub(self.base)).unwrap_or(usize::MAX)
    }

    /// Counts line ends before `index`: LF, CRLF and a lone CR each end one line, as editors
    /// count them. A CR whose next byte is not read yet waits for it. Passing the last tag's `<`,
    /// notes its line.
    fn count_lines_to(&self, index: usize) {
        let mut index = index.min(self.buf.len());
        if index == self.buf.len() && !self.eof && self.buf.last() == Some(&b'\r') {
            index -= 1;
        }
        if self.tag_line.get().is_none() {
            let tag = self.tag_index();
            if tag <= index && tag >= self.counted.get() {
                self.count_between(tag);
                self.tag_line.set(Some(self.line.get()));
            }
        }
        self.count_between(index);
    }

    /// Counts line ends from `counted` to `index`, which must not end between a CR and its
    /// unread next byte.
    fn count_between(&self, index: usize) {
        let from = self.counted.get();
        if index <= from {
            return;
        }
        let segment = self.buf.get(from..index).unwrap_or_default();
        let after = self.buf.get(index).copied().unwrap_or(0);
        self.line.set(self.line.get() + line_ends(segment, after));
        self.counted.set(index);
    }

    /// Reads more input, first dropping what lies before `pos` (offsets relative to `pos` stay
    /// valid). False at the end of input.
    fn more(&mut self) -> Result<bool, ParseError> {
        if self.eof {
            return Ok(false);
        }
        if self.buf.len().saturating_sub(self.pos) > MAX_TOKEN {
            return Err(ParseError::new(
                Format::Ofx,
                self.here(),
                "tags and fields shorter than 1 MiB",
                self.buf.get(self.pos..).unwrap_or_default().get(..60).unwrap_or_default(),
            ));
        }
        self.count_lines_to(self.pos);
        // A CR not yet counted stays, for the byte after it to tell what it ends; so does the last
        // tag, whose name is read from the buffer while its text is.
        let dropped = self.pos.min(self.counted.get()).min(self.tag_index());
        if dropped > 0 {
            self.buf.drain(..dropped);
            self.base += dropped as u64;
            self.counted.set(self.counted.get() - dropped);
            self.pos -= dropped;
        }
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(ParseError::new(Format::Ofx, self.here(), "readable input", e.to_string())),
            };
            if chunk.is_empty() {
                self.eof = true;
                return Ok(false);
            }
            let taken = chunk.len().min(CHUNK);
            let chunk = chunk.get(..taken).unwrap_or_default();
            self.buf.extend_from_slice(chunk);
            self.reader.consume(taken);
            return Ok(true);
        }
    }

    /// The byte `rel` bytes after `pos`, reading as needed.
    fn byte_at(&mut self, rel: usize) -> Result<Option<u8>, ParseError> {
        loop {
            if let Some(&b) = self.buf.get(self.pos + rel) {
                return Ok(Some(b));
            }
            if !self.more()? {
                return Ok(None);
            }
        }
    }

    fn starts_with_at(&mut self, rel: usize, pattern: &[u8]) -> Result<bool, ParseError> {
        while self.buf.len() < self.pos + rel + pattern.len() {
            if !self.more()? {
                break;
            }
        }
        Ok(self.buf.get(self.pos + rel..).is_some_and(|rest| rest.starts_with(pattern)))
    }

    /// Offset from `pos` of the first `pattern` at or after `rel`, reading as needed; `None` when
    /// the input ends first.
    fn find(&mut self, mut rel: usize, pattern: &[u8], limit: usize) -> Result<Option<usize>, ParseError> {
        let Some(&first) = pattern.first() else { return Ok(Some(rel)) };
        if pattern.len() == 1 {
            return self.find_byte(rel, first, limit);
        }
        loop {
            let hay = self.buf.get(self.pos + rel..).unwrap_or_default();
            let mut scanned = 0;
            while let Some(k) = hay.get(scanned..).and_then(|h| h.iter().position(|&b| b == first)) {
                let at = scanned + k;
                match hay.get(at..at + pattern.len()) {
                    Some(candidate) if candidate == pattern => return Ok(Some(rel + at)),
                    Some(_) => scanned = at + 1,
                    // The pattern may straddle the end of what is read so far.
                    None => break,
                }
            }
            let keep = pattern.len() - 1;
            rel += hay.len().saturating_sub(keep);
            if rel > limit {
                return Err(ParseError::new(
                    Format::Ofx,
                    self.here(),
                    format!("{} within {limit} bytes", String::from_utf8_lossy(pattern)),
                    self.buf.get(self.pos..).unwrap_or_default().get(..60).unwrap_or_default(),
                ));
            }
            if !self.more()? {
                return Ok(None);
            }
        }
    }

    /// [`Scanner::find`] for a one-byte pattern.
    fn find_byte(&mut self, mut rel: usize, byte: u8, limit: usize) -> Result<Option<usize>, ParseError> {
        loop {
            let hay = self.buf.get(self.pos + rel..).unwrap_or_default();
            if let Some(at) = position_of(hay, byte) {
                return Ok(Some(rel + at));
            }
            rel += hay.len();
            if rel > limit {
                return Err(ParseError::new(
                    Format::Ofx,
                    self.here(),
                    format!("{} within {limit} bytes", char::from(byte)),
                    self.buf.get(self.pos..).unwrap_or_default().get(..60).unwrap_or_default(),
                ));
            }
            if !self.more()? {
                return Ok(None);
            }
        }
    }

    /// The text from `pos` up to the next markup, which it leaves `pos` at. A `<` that starts no
    /// markup (`a < b`) and CDATA sections are part of the text.
    fn text(&mut self) -> Result<Range<usize>, ParseError> {
        // The common case first: the text ends at a tag already in the buffer.
        let hay = self.buf.get(self.pos..).unwrap_or_default();
        if let Some(lt) = position_of(hay, b'<') {
            if hay.get(lt + 1).is_some_and(|&c| c.is_ascii_alphabetic() || c == b'/' || c == b'?') {
                let start = self.pos;
                self.pos += lt;
                return Ok(start..self.pos);
            }
        }
        let mut rel = 0;
        loop {
            let Some(lt) = self.find(rel, b"<", MAX_TOKEN)? else {
                let start = self.pos;
                self.pos = self.buf.len();
                return Ok(start..self.pos);
            };
            match self.byte_at(lt + 1)? {
                Some(b'!') if self.starts_with_at(lt, b"<![CDATA[")? => match self.find(lt + 9, b"]]>", MAX_TOKEN)? {
                    Some(end) => rel = end + 3,
                    None => {
                        self.truncated = true;
                        let start = self.pos;
                        self.pos = self.buf.len();
                        return Ok(start..self.pos);
                    }
                },
                Some(c) if c.is_ascii_alphabetic() || matches!(c, b'/' | b'!' | b'?') => {
                    let start = self.pos;
                    self.pos += lt;
                    return Ok(start..self.pos);
                }
                _ => rel = lt + 1,
            }
        }
    }

    /// Skips `len` bytes from `pos`, then the text up to the next markup.
    fn skip(&mut self, len: usize) -> Result<(), ParseError> {
        self.pos = (self.pos + len).min(self.buf.len());
        self.text().map(|_| ())
    }

    /// The text before the first markup: an OFX 1 header, a byte order mark, blank lines, or —
    /// when the input is not OFX — whatever it is.
    pub(super) fn prelude(&mut self) -> Result<Range<usize>, ParseError> {
        self.text()
    }

    /// The next tag, `None` at the end of the input.
    pub(super) fn next(&mut self) -> Result<Option<Token>, ParseError> {
        loop {
            match self.byte_at(0)? {
                None => return Ok(None),
                Some(b'<') => {}
                Some(_) => {
                    self.text()?;
                    continue;
                }
            }
            let offset = self.base + self.pos as u64;
            self.tag_start = offset;
            self.tag_line.set(None);
            if let Some(token) = self.simple_tag(offset)? {
                return Ok(Some(token));
            }
            match self.byte_at(1)? {
                Some(b'!') => {
                    let (close, from): (&[u8], usize) = if self.starts_with_at(0, b"<!--")? {
                        (b"-->", 4)
                    } else if self.starts_with_at(0, b"<![CDATA[")? {
                        (b"]]>", 9)
                    } else {
                        (b">", 2)
                    };
                    match self.find(from, close, MAX_TOKEN)? {
                        Some(end) => self.skip(end + close.len())?,
                        None => return Ok(self.cut_short()),
                    }
                }
                Some(b'?') => {
                    let Some(gt) = self.find(2, b">", MAX_TAG)? else { return Ok(self.cut_short()) };
                    let content = self.buf.get(self.pos + 2..self.pos + gt).unwrap_or_default();
                    let name_len = content.iter().position(|b| b.is_ascii_whitespace() || *b == b'?');
                    let name = self.upper_name(self.pos + 2, name_len.unwrap_or(content.len()));
                    let text = self.pos + 2..self.pos + gt;
                    self.pos += gt + 1;
                    return Ok(Some(Token { kind: Kind::Instruction, name, offset, text }));
                }
                Some(b'/') => {
                    let Some(gt) = self.find(2, b">", MAX_TAG)? else { return Ok(self.cut_short()) };
                    let name = self.name_at(2, gt);
                    self.pos += gt + 1;
                    return Ok(Some(Token { kind: Kind::End, name, offset, text: self.pos..self.pos }));
                }
                Some(c) if c.is_ascii_alphabetic() => {
                    let Some(gt) = self.find(1, b">", MAX_TAG)? else { return Ok(self.cut_short()) };
                    let name = self.name_at(1, gt);
                    let self_closing = gt > 1 && self.buf.get(self.pos + gt - 1) == Some(&b'/');
                    self.pos += gt + 1;
                    if self_closing {
                        return Ok(Some(Token { kind: Kind::Empty, name, offset, text: self.pos..self.pos }));
                    }
                    let base = self.base;
                    let text = self.text()?;
                    // Reading the text may have dropped what lay before the tag.
                    let moved = usize::try_from(self.base - base).unwrap_or(0);
                    let name = name.start - moved..name.end - moved;
                    return Ok(Some(Token { kind: Kind::Start, name, offset, text }));
                }
                // A `<` that starts nothing: text outside any element, skipped like other text.
                _ => self.skip(1)?,
            }
        }
    }

    /// `<NAME>` or `</NAME>` whole in the buffer, read in one pass: the common case. `None`, having
    /// moved nothing, for anything else.
    fn simple_tag(&mut self, offset: u64) -> Result<Option<Token>, ParseError> {
        let start = self.pos;
        let tag = self.buf.get_mut(start..).unwrap_or_default();
        let (kind, from) = match tag.get(1) {
            Some(b'/') => (Kind::End, 2),
            Some(c) if c.is_ascii_alphabetic() => (Kind::Start, 1),
            _ => return Ok(None),
        };
        let mut gt = from;
        loop {
            match tag.get_mut(gt) {
                Some(b'>') => break,
                Some(b) if gt - from < MAX_NAME && !b.is_ascii_whitespace() && *b != b'/' => {
                    b.make_ascii_uppercase();
                    gt += 1;
                }
                _ => return Ok(None),
            }
        }
        let name = start + from..start + gt;
        self.pos = start + gt + 1;
        if kind == Kind::End {
            return Ok(Some(Token { kind, name, offset, text: self.pos..self.pos }));
        }
        let base = self.base;
        let text = self.text()?;
        // Reading the text may have dropped what lay before the tag.
        let moved = usize::try_from(self.base - base).unwrap_or(0);
        let name = name.start - moved..name.end - moved;
        Ok(Some(Token { kind, name, offset, text }))
    }

    fn name_at(&mut self, from: usize, to: usize) -> Range<usize> {
        let raw = self.buf.get(self.pos + from..self.pos + to).unwrap_or_default();
        let len = raw.iter().position(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>').unwrap_or(raw.len());
        self.upper_name(self.pos + from, len)
    }

    /// The name of `len` bytes at `start` in `buf`, cut to [`MAX_NAME`] and upper-cased in place.
    fn upper_name(&mut self, start: usize, len: usize) -> Range<usize> {
        let name = start..start + len.min(MAX_NAME);
        if let Some(bytes) = self.buf.get_mut(name.clone()) {
            bytes.make_ascii_uppercase();
        }
        name
    }

    fn cut_short(&mut self) -> Option<Token> {
        self.truncated = true;
        self.pos = self.buf.len();
        None
    }
}

/// Line ends in `segment` (LF, CRLF, lone CR), `after` being the byte that follows it. Counted a
/// block at a time into a byte-sized sum, which the compiler turns into vector code.
fn line_ends(segment: &[u8], after: u8) -> u64 {
    let Some((&last, _)) = segment.split_last() else { return 0 };
    let body = segment.get(..segment.len() - 1).unwrap_or_default();
    let next = segment.get(1..).unwrap_or_default();
    let mut total = 0u64;
    for (block, next) in body.chunks(128).zip(next.chunks(128)) {
        let mut sum = 0u8;
        for (&b, &n) in block.iter().zip(next) {
            sum += u8::from(b == b'\n') | (u8::from(b == b'\r') & u8::from(n != b'\n'));
        }
        total += u64::from(sum);
    }
    total + u64::from(last == b'\n' || (last == b'\r' && after != b'\n'))
}

/// The first `byte` in `hay`: short stretches byte by byte, longer ones a block at a time.
pub(super) fn position_of(hay: &[u8], byte: u8) -> Option<usize> {
    const BLOCK: usize = 32;
    let head = hay.len().min(BLOCK);
    if let Some(at) = hay.get(..head).unwrap_or_default().iter().position(|&b| b == byte) {
        return Some(at);
    }
    let mut start = head;
    for block in hay.get(head..).unwrap_or_default().chunks(BLOCK) {
        if block.iter().fold(false, |found, &b| found | (b == byte)) {
            return block.iter().position(|&b| b == byte).map(|at| start + at);
        }
        start += block.len();
    }
    None
}
