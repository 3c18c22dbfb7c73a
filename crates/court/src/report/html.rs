//! Draws a composed report as one self-contained HTML file: inline CSS (screen and print),
//! thumbnails as `data:` URIs, every piece of text escaped, no script and nothing fetched.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use super::{Block, Doc, Field};

const CSS: &str = "\
body{font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#111;max-width:860px;margin:2em auto;padding:0 1.2em}\
h1{font-size:1.6em;margin:.2em 0 .6em}\
h2{font-size:1.25em;border-bottom:1px solid #999;padding-bottom:.15em;margin:1.6em 0 .6em}\
h3{font-size:1.08em;border-top:1px solid #ccc;padding-top:.6em;margin:1.4em 0 .4em}\
h4{font-size:1em;margin:1em 0 .3em}\
p{margin:.4em 0}\
p.alert{color:#a00;font-weight:bold}\
table.fields{border-collapse:collapse;margin:.3em 0 .6em}\
table.fields th{text-align:left;vertical-align:top;color:#555;font-weight:600;padding:.1em 1.2em .1em 0;width:10em;white-space:nowrap}\
table.fields td{vertical-align:top;padding:.1em 0;overflow-wrap:anywhere}\
.entry{margin:.5em 0 .7em;break-inside:avoid}\
.entry>.title{font-weight:bold}\
.entry>table{margin-left:1.2em}\
code{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.92em;white-space:nowrap}\
figure{margin:.6em 0}\
figure img{border:1px solid #bbb;max-width:200px;max-height:200px}\
figcaption{color:#555;font-size:.85em}\
footer{margin-top:2.5em;border-top:1px solid #999;color:#555;font-size:.85em;padding-top:.4em}\
@media print{body{margin:0;max-width:none}h2,h3,h4{break-after:avoid}figure{break-inside:avoid}}";

/// Escapes text for HTML element content and attribute values.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than newline and tab are shown, not passed through.
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "&#xFFFD;");
            }
            c => out.push(c),
        }
    }
    out
}

/// Escaped text with its line breaks kept.
fn text(s: &str) -> String {
    escape(s).replace('\n', "<br>")
}

fn fields(out: &mut String, fields: &[Field]) {
    out.push_str("<table class=\"fields\">\n");
    for f in fields {
        let value = if f.mono { format!("<code>{}</code>", escape(&f.value)) } else { text(&f.value) };
        let _ = writeln!(out, "<tr><th>{}</th><td>{value}</td></tr>", escape(&f.label));
    }
    out.push_str("</table>\n");
}

/// A thumbnail as a JPEG `data:` URI; `None` if it cannot be encoded.
fn data_uri(image: &image::RgbImage) -> Option<String> {
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(image).ok()?;
    Some(format!("data:image/jpeg;base64,{}", B64.encode(jpeg)))
}

/// Renders `doc` as HTML.
pub(super) fn render(doc: &Doc) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    // Nothing may be fetched: no scripts, no remote images, styles and images inline only.
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<meta name=\"generator\" content=\"casebridge-court\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(&doc.title));
    let _ = writeln!(out, "<style>{CSS}</style>\n</head>\n<body>");
    let mut in_section = false;
    for b in &doc.blocks {
        match b {
            Block::Title(t) => {
                let _ = writeln!(out, "<h1>{}</h1>", escape(t));
            }
            Block::Heading(t) => {
                if in_section {
                    out.push_str("</section>\n");
                }
                in_section = true;
                let _ = writeln!(out, "<section>\n<h2>{}</h2>", escape(t));
            }
            Block::Subheading(t) => {
                let _ = writeln!(out, "<h3>{}</h3>", escape(t));
            }
            Block::Label(t) => {
                let _ = writeln!(out, "<h4>{}</h4>", escape(t));
            }
            Block::Para(t) => {
                let _ = writeln!(out, "<p>{}</p>", text(t));
            }
            Block::Alert(t) => {
                let _ = writeln!(out, "<p class=\"alert\">{}</p>", text(t));
            }
            Block::Fields(f) => fields(&mut out, f),
            Block::Entry { title, fields: f } => {
                let _ = writeln!(out, "<div class=\"entry\"><div class=\"title\">{}</div>", escape(title));
                fields(&mut out, f);
                out.push_str("</div>\n");
            }
            Block::Thumbnail { image, caption } => {
                if let Some(uri) = data_uri(image) {
                    let _ = writeln!(
                        out,
                        "<figure><img src=\"{uri}\" width=\"{}\" height=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>",
                        image.width(),
                        image.height(),
                        escape(caption),
                        escape(caption)
                    );
                }
            }
        }
    }
    if in_section {
        out.push_str("</section>\n");
    }
    let _ = writeln!(out, "<footer>{}</footer>\n</body>\n</html>", escape(&doc.footer));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_evidence_text_is_escaped() {
        assert_eq!(escape("<script>alert('x')</script> & \"q\""), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
        assert_eq!(escape("a\u{1b}[2Jb"), "a&#xFFFD;[2Jb");
    }
}
