//! Draws a composed report as an A4 PDF with printpdf: the standard Helvetica and Courier
//! fonts (nothing to embed), text wrapped to the page with the fonts' published metrics,
//! hashes and keys in Courier on one line each (so they copy and search intact), thumbnails
//! as image XObjects, and "page N of M" with the generation time at the foot of every page.

use chrono::{DateTime, Datelike, FixedOffset, Timelike};
use printpdf::{
    BuiltinFont, Color, Line, LinePoint, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, RawImage, RawImageData,
    RawImageFormat, Rgb, TextItem, XObjectTransform,
};

use super::{Block, Doc, Field};

// Page geometry, in points (A4).
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const LEFT: f32 = 56.0;
const RIGHT: f32 = PAGE_W - 56.0;
const TOP: f32 = 56.0;
/// Content stops this far from the bottom edge; the footer sits below.
const BOTTOM: f32 = 64.0;
const FOOTER_BASELINE: f32 = 34.0;

// Type.
const BODY: f32 = 9.5;
const BODY_LH: f32 = 12.5;
const LABEL: f32 = 9.0;
const MONO: f32 = 8.5;
const TITLE: f32 = 17.0;
const HEADING: f32 = 13.0;
const SUBHEADING: f32 = 11.5;
const SMALL: f32 = 8.0;

/// Width of the label column of field rows.
const LABEL_W: f32 = 118.0;
/// Indent of an entry's fields under its title.
const ENTRY_INDENT: f32 = 14.0;
/// Longest side of a thumbnail on the page.
const THUMB_PT: f32 = 150.0;

#[derive(Clone, Copy, PartialEq)]
enum Font {
    Regular,
    Bold,
    Mono,
}

impl Font {
    fn builtin(self) -> BuiltinFont {
        match self {
            Font::Regular => BuiltinFont::Helvetica,
            Font::Bold => BuiltinFont::HelveticaBold,
            Font::Mono => BuiltinFont::Courier,
        }
    }

    /// Advance width of `c` in thousandths of the font size (Adobe's AFM metrics for the
    /// standard 14 fonts; characters outside ASCII are estimated on the wide side).
    fn advance(self, c: char) -> f32 {
        let i = c as usize;
        match self {
            Font::Mono => 600.0,
            Font::Regular if (32..127).contains(&i) => f32::from(HELVETICA[i - 32]),
            Font::Bold if (32..127).contains(&i) => f32::from(HELVETICA_BOLD[i - 32]),
            _ => 722.0,
        }
    }

    fn width(self, s: &str, size: f32) -> f32 {
        s.chars().map(|c| self.advance(c)).sum::<f32>() * size / 1000.0
    }
}

/// Helvetica widths for ASCII 32..=126 (Adobe AFM).
#[rustfmt::skip]
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// Helvetica-Bold widths for ASCII 32..=126 (Adobe AFM).
#[rustfmt::skip]
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/// True when the standard fonts' WinAnsi encoding has `c` (printpdf writes them so).
fn win_ansi(c: char) -> bool {
    matches!(c as u32, 0x20..=0x7E | 0xA0..=0xFF)
        || matches!(
            c,
            '€' | '‚'
                | 'ƒ'
                | '„'
                | '…'
                | '†'
                | '‡'
                | 'ˆ'
                | '‰'
                | 'Š'
                | '‹'
                | 'Œ'
                | 'Ž'
                | '\u{2018}'
                | '\u{2019}'
                | '\u{201C}'
                | '\u{201D}'
                | '•'
                | '–'
                | '—'
                | '˜'
                | '™'
                | 'š'
                | '›'
                | 'œ'
                | 'ž'
                | 'Ÿ'
        )
}

/// Text as the standard fonts can show it: tabs become spaces, other control characters and
/// characters outside WinAnsi become `?` (the HTML report keeps every character).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if win_ansi(c) => c,
            _ => '?',
        })
        .collect()
}

/// Breaks `text` into lines no wider than `width`: at spaces where possible, inside a word
/// only when the word alone is too wide. Newlines in `text` start new lines.
fn wrap(text: &str, font: Font, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let para = clean(para.strip_suffix('\r').unwrap_or(para));
        let mut line = String::new();
        for word in para.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
            if font.width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: split it where it must be.
            for c in word.chars() {
                let mut next = line.clone();
                next.push(c);
                if !line.is_empty() && font.width(&next, size) > width {
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                } else {
                    line = next;
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// Points per image pixel, and the height on the page, of a thumbnail.
fn thumb_size(image: &image::RgbImage) -> (f32, f32) {
    let (w, h) = (image.width().max(1), image.height().max(1));
    let scale = THUMB_PT / w.max(h) as f32;
    (scale, h as f32 * scale)
}

const BLACK: (f32, f32, f32) = (0.0, 0.0, 0.0);
const GREY: (f32, f32, f32) = (0.38, 0.38, 0.38);
const RED: (f32, f32, f32) = (0.70, 0.0, 0.0);
const RULE: (f32, f32, f32) = (0.55, 0.55, 0.6);

fn color((r, g, b): (f32, f32, f32)) -> Color {
    Color::Rgb(Rgb { r, g, b, icc_profile: None })
}

/// Lays blocks out onto pages.
struct Layout<'d> {
    doc: &'d mut PdfDocument,
    pages: Vec<Vec<Op>>,
    ops: Vec<Op>,
    /// Distance from the top edge to the top of the next line.
    y: f32,
}

impl<'d> Layout<'d> {
    fn new(doc: &'d mut PdfDocument) -> Self {
        Layout { doc, pages: Vec::new(), ops: Vec::new(), y: TOP }
    }

    fn new_page(&mut self) {
        self.pages.push(std::mem::take(&mut self.ops));
        self.y = TOP;
    }

    /// Starts a new page unless `height` more fits on this one (and this page is not empty).
    fn need(&mut self, height: f32) {
        if self.y + height > PAGE_H - BOTTOM && self.y > TOP {
            self.new_page();
        }
    }

    /// Draws one line of text whose top is at `top` (from the top edge).
    fn text(&mut self, x: f32, top: f32, font: Font, size: f32, rgb: (f32, f32, f32), s: &str) {
        if s.is_empty() {
            return;
        }
        // The baseline sits about 0.8 em below the top of the line box.
        let baseline = PAGE_H - top - size * 0.8;
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::Builtin(font.builtin()), size: Pt(size) },
            Op::SetFillColor { col: color(rgb) },
            Op::SetTextCursor { pos: Point { x: Pt(x), y: Pt(baseline) } },
            Op::ShowText { items: vec![TextItem::Text(s.to_string())] },
            Op::EndTextSection,
        ]);
    }

    fn rule(&mut self, top: f32, thickness: f32) {
        let y = PAGE_H - top;
        self.ops.extend([
            Op::SetOutlineColor { col: color(RULE) },
            Op::SetOutlineThickness { pt: Pt(thickness) },
            Op::DrawLine {
                line: Line {
                    points: vec![
                        LinePoint { p: Point { x: Pt(LEFT), y: Pt(y) }, bezier: false },
                        LinePoint { p: Point { x: Pt(RIGHT), y: Pt(y) }, bezier: false },
                    ],
                    is_closed: false,
                },
            },
        ]);
    }

    /// A paragraph in one font, wrapped; may continue on the next page.
    fn para(&mut self, x: f32, font: Font, size: f32, lh: f32, rgb: (f32, f32, f32), text: &str) {
        for line in wrap(text, font, size, RIGHT - x) {
            self.need(lh);
            let top = self.y;
            self.text(x, top, font, size, rgb, &line);
            self.y += lh;
        }
    }

    fn field_lines(f: &Field, x: f32) -> Vec<String> {
        let (font, size) = if f.mono { (Font::Mono, MONO) } else { (Font::Regular, BODY) };
        wrap(&f.value, font, size, RIGHT - x - LABEL_W)
    }

    fn fields_height(fields: &[Field], x: f32) -> f32 {
        fields.iter().map(|f| Self::field_lines(f, x).len().max(1) as f32 * BODY_LH).sum()
    }

    /// Label/value rows starting at `x`; a row is never split across pages.
    fn fields(&mut self, x: f32, fields: &[Field]) {
        for f in fields {
            let lines = Self::field_lines(f, x);
            let label = wrap(&f.label, Font::Bold, LABEL, LABEL_W - 6.0);
            let rows = lines.len().max(label.len()).max(1);
            self.need(rows as f32 * BODY_LH);
            let top = self.y;
            for (i, l) in label.iter().enumerate() {
                self.text(x, top + i as f32 * BODY_LH, Font::Bold, LABEL, GREY, l);
            }
            let (font, size) = if f.mono { (Font::Mono, MONO) } else { (Font::Regular, BODY) };
            // Courier is drawn a little lower so its baseline meets Helvetica's.
            let nudge = if f.mono { 0.6 } else { 0.0 };
            for (i, l) in lines.iter().enumerate() {
                self.text(x + LABEL_W, top + nudge + i as f32 * BODY_LH, font, size, BLACK, l);
            }
            self.y += rows as f32 * BODY_LH;
        }
    }

    fn thumbnail(&mut self, image: image::RgbImage, caption: &str) {
        let (w, h) = (image.width().max(1), image.height().max(1));
        let (scale, dh) = thumb_size(&image);
        let caption_lines = wrap(caption, Font::Regular, SMALL, RIGHT - LEFT);
        self.need(dh + 6.0 + caption_lines.len() as f32 * 10.0 + 6.0);
        let raw = RawImage {
            pixels: RawImageData::U8(image.into_raw()),
            width: w as usize,
            height: h as usize,
            data_format: RawImageFormat::RGB8,
            tag: Vec::new(),
        };
        let id = self.doc.add_image(&raw);
        // At this dpi one image pixel is `scale` points.
        let dpi = 72.0 / scale;
        let bottom = PAGE_H - self.y - dh;
        self.ops.push(Op::UseXobject {
            id,
            transform: XObjectTransform {
                translate_x: Some(Pt(LEFT)),
                translate_y: Some(Pt(bottom)),
                dpi: Some(dpi),
                ..Default::default()
            },
        });
        self.y += dh + 4.0;
        for l in caption_lines {
            let top = self.y;
            self.text(LEFT, top, Font::Regular, SMALL, GREY, &l);
            self.y += 10.0;
        }
        self.y += 6.0;
    }

    /// Lays out `block`; `next` is the block after it (a heading keeps room for it).
    fn block(&mut self, block: Block, next: Option<&Block>) {
        let block = match block {
            Block::Thumbnail { image, caption } => return self.thumbnail(image, &caption),
            other => other,
        };
        match &block {
            Block::Title(t) => {
                self.para(LEFT, Font::Bold, TITLE, TITLE * 1.3, BLACK, t);
                self.y += 4.0;
            }
            Block::Heading(t) => {
                // A heading never ends a page: keep room for a few lines under it.
                self.need(HEADING * 1.4 + 8.0 + 4.0 * BODY_LH);
                self.y += 8.0;
                self.para(LEFT, Font::Bold, HEADING, HEADING * 1.3, BLACK, t);
                let top = self.y;
                self.rule(top, 0.6);
                self.y += 6.0;
            }
            Block::Subheading(t) => {
                // An item's heading stays with its thumbnail and the first rows of its fields.
                let thumb = match next {
                    Some(Block::Thumbnail { image, .. }) => thumb_size(image).1 + 30.0,
                    _ => 0.0,
                };
                self.need(SUBHEADING * 1.4 + 10.0 + thumb + 6.0 * BODY_LH);
                self.y += 10.0;
                let top = self.y - 4.0;
                self.rule(top, 0.3);
                self.para(LEFT, Font::Bold, SUBHEADING, SUBHEADING * 1.35, BLACK, t);
                self.y += 2.0;
            }
            Block::Label(t) => {
                self.need(BODY_LH * 4.0);
                self.y += 5.0;
                self.para(LEFT, Font::Bold, BODY, BODY_LH, BLACK, t);
                self.y += 1.0;
            }
            Block::Para(t) => {
                self.para(LEFT, Font::Regular, BODY, BODY_LH, BLACK, t);
                self.y += 4.0;
            }
            Block::Alert(t) => {
                self.para(LEFT, Font::Bold, BODY, BODY_LH, RED, t);
                self.y += 4.0;
            }
            Block::Fields(fields) => {
                self.fields(LEFT, fields);
                self.y += 3.0;
            }
            Block::Entry { title, fields } => {
                let title_lines = wrap(title, Font::Bold, BODY, RIGHT - LEFT);
                let height = title_lines.len() as f32 * BODY_LH + Self::fields_height(fields, LEFT + ENTRY_INDENT) + 4.0;
                if height < PAGE_H - TOP - BOTTOM {
                    self.need(height);
                }
                self.para(LEFT, Font::Bold, BODY, BODY_LH, BLACK, title);
                self.fields(LEFT + ENTRY_INDENT, fields);
                self.y += 4.0;
            }
            Block::Thumbnail { .. } => {}
        }
    }

    /// Finishes the last page and adds the footer, now that the page count is known.
    fn finish(mut self, footer: &str) -> Vec<Vec<Op>> {
        if !self.ops.is_empty() || self.pages.is_empty() {
            self.new_page();
        }
        let total = self.pages.len();
        let footer = clean(footer);
        let mut pages = std::mem::take(&mut self.pages);
        for (i, ops) in pages.iter_mut().enumerate() {
            let number = format!("page {} of {total}", i + 1);
            let top = PAGE_H - FOOTER_BASELINE - SMALL * 0.8;
            let number_x = RIGHT - Font::Regular.width(&number, SMALL);
            let mut foot = Layout { doc: self.doc, pages: Vec::new(), ops: Vec::new(), y: 0.0 };
            foot.rule(PAGE_H - FOOTER_BASELINE - SMALL * 0.8 - 5.0, 0.3);
            // The footer text is cut to leave room for the page number.
            let room = number_x - LEFT - 12.0;
            let shown = wrap(&footer, Font::Regular, SMALL, room).into_iter().next().unwrap_or_default();
            foot.text(LEFT, top, Font::Regular, SMALL, GREY, &shown);
            foot.text(number_x, top, Font::Regular, SMALL, GREY, &number);
            ops.extend(foot.ops);
        }
        pages
    }
}

/// Renders `doc`; returns the PDF bytes and the number of pages.
pub(super) fn render(doc: Doc, now: DateTime<FixedOffset>) -> (Vec<u8>, usize) {
    let mut pdf = PdfDocument::new(&clean(&doc.title));
    let when = pdf_date(now);
    pdf.metadata.info.creation_date = when;
    pdf.metadata.info.modification_date = when;
    pdf.metadata.info.metadata_date = when;
    pdf.metadata.info.creator = "casebridge".into();
    pdf.metadata.info.producer = "casebridge-court (printpdf)".into();
    let mut layout = Layout::new(&mut pdf);
    // Thumbnails move into the PDF one by one instead of being copied.
    let mut blocks = doc.blocks.into_iter().peekable();
    while let Some(b) = blocks.next() {
        layout.block(b, blocks.peek());
    }
    let pages = layout.finish(&doc.footer);
    let count = pages.len();
    let pages = pages.into_iter().map(|ops| PdfPage::new(printpdf::Mm::from(Pt(PAGE_W)), printpdf::Mm::from(Pt(PAGE_H)), ops)).collect();
    let bytes = pdf.with_pages(pages).save(&PdfSaveOptions::default(), &mut Vec::new());
    (bytes, count)
}

fn pdf_date(t: DateTime<FixedOffset>) -> printpdf::OffsetDateTime {
    let offset = t.offset().local_minus_utc();
    printpdf::OffsetDateTime {
        date: printpdf::Date { year: t.year(), month: t.month() as u8, day: t.day() as u8 },
        time: printpdf::Time { hour: t.hour() as u8, minute: t.minute() as u8, second: t.second() as u8, millisecond: 0 },
        offset: printpdf::Offset {
            hours: (offset / 3600) as i8,
            minutes: ((offset % 3600) / 60) as i8,
            seconds: (offset % 60) as i8,
            milliseconds: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_fits_on_one_line_of_a_field_row() {
        let hash = "a".repeat(64);
        assert_eq!(wrap(&hash, Font::Mono, MONO, RIGHT - LEFT - ENTRY_INDENT - LABEL_W).len(), 1);
    }

    #[test]
    fn long_text_wraps_at_spaces_and_long_words_are_split() {
        let lines = wrap("the quick brown fox jumps over the lazy dog", Font::Regular, 10.0, 80.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| Font::Regular.width(l, 10.0) <= 80.0), "{lines:?}");
        assert_eq!(lines.join(" "), "the quick brown fox jumps over the lazy dog");
        let word = "x".repeat(100);
        let lines = wrap(&word, Font::Regular, 10.0, 80.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), word);
    }

    #[test]
    fn characters_the_standard_fonts_lack_become_question_marks() {
        assert_eq!(clean("Grüße — ok\tæ 日本"), "Grüße — ok æ ??");
    }
}
