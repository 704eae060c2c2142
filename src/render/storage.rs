//! The Confluence storage-format writer: turns a prepared event stream (the same one the site
//! writer uses) into Confluence XHTML with `ac:`/`ri:` elements — code macros, panel macros for
//! GitHub alerts, task lists, attachments for images and charts, `ac:link` between pages. Output
//! is always well-formed XML and uses numeric character references only (Confluence rejects
//! HTML named entities such as `&nbsp;`).

use std::collections::{HashMap, HashSet};

use pulldown_cmark::{Alignment, BlockQuoteKind, CodeBlockKind, Event, HeadingLevel, Tag, TagEnd};

use super::fence::Fence;
use super::markdown::{Target, internal_marker_event, target};

/// What Confluence and the community show above a process map's source.
pub const DIAGRAM_NOTE: &str = "This process map is drawn as a diagram on the knowledge-base site; its Mermaid source follows.";

/// Where a page lives in Confluence, for links to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRef {
    pub space_key: String,
    pub title: String,
}

/// A file the page needs attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentData {
    /// A file in `content/` (path relative to `content/`).
    Asset(String),
    /// An SVG chart from the page body, attached as PNG (`render::raster`): Confluence shows
    /// SVG attachments inconsistently across Cloud and Data Center, PNG everywhere.
    Svg(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Unique on the page.
    pub filename: String,
    pub data: AttachmentData,
}

#[derive(Debug, Default)]
pub struct StorageOutput {
    pub xhtml: String,
    pub attachments: Vec<Attachment>,
    /// Things that could not be carried over faithfully (e.g. raw HTML), for `kbpub check`.
    pub warnings: Vec<Warning>,
}

/// Something storage format cannot carry over faithfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub message: String,
    /// The Markdown it comes from, as written (to find it in the source).
    pub markdown: String,
}

/// Writes `events` as storage format. `resolve` maps a page index to its Confluence page; links
/// to pages it does not know (not published to Confluence) become plain text.
pub fn write(events: &[Event<'_>], resolve: &dyn Fn(usize) -> Option<PageRef>) -> StorageOutput {
    let mut writer = Writer {
        out: String::with_capacity(events.len() * 32),
        resolve,
        attachments: Vec::new(),
        attachment_names: HashMap::new(),
        warnings: Vec::new(),
        task_lists: task_lists(events),
        list_stack: Vec::new(),
        link_stack: Vec::new(),
        table_head: false,
        alignments: Vec::new(),
        cell: 0,
        footnotes: HashMap::new(),
        next_task_id: 1,
        charts: 0,
        skip_paragraph_tags: 0,
        depth: 0,
        open_panels: Vec::new(),
    };
    writer.run(events);
    writer.close_panels_from(0);
    StorageOutput {
        xhtml: writer.out,
        attachments: writer.attachments,
        warnings: writer.warnings,
    }
}

/// What a panel the writer opened stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Panel {
    Internal,
    Expand,
}

struct Writer<'r> {
    out: String,
    resolve: &'r dyn Fn(usize) -> Option<PageRef>,
    attachments: Vec<Attachment>,
    /// Attachment filename by source, so the same image is attached once.
    attachment_names: HashMap<AttachmentData, String>,
    warnings: Vec<Warning>,
    /// Event index of each `Start(List)` whose items are all tasks, with each item's status.
    task_lists: HashMap<usize, Vec<bool>>,
    /// For each open list: its task statuses (task list) and the next item number.
    list_stack: Vec<Option<(Vec<bool>, usize)>>,
    /// For each open link: the closing markup.
    link_stack: Vec<&'static str>,
    table_head: bool,
    alignments: Vec<Alignment>,
    cell: usize,
    footnotes: HashMap<String, usize>,
    next_task_id: usize,
    charts: usize,
    /// Inside task bodies, paragraphs are inline.
    skip_paragraph_tags: usize,
    /// Nesting depth of Markdown elements written so far.
    depth: usize,
    /// Panels open (internal-only passages, `<details>` expands), with the depth they opened at:
    /// the end of that container closes them.
    open_panels: Vec<(usize, Panel)>,
}

impl std::hash::Hash for AttachmentData {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            AttachmentData::Asset(path) => ("asset", path).hash(state),
            AttachmentData::Svg(svg) => ("svg", svg).hash(state),
        }
    }
}

impl Writer<'_> {
    fn run(&mut self, events: &[Event<'_>]) {
        let mut i = 0;
        while i < events.len() {
            i = self.event(events, i);
        }
    }

    /// Writes the event at `i` (and any it consumes); returns the index of the next event.
    fn event(&mut self, events: &[Event<'_>], i: usize) -> usize {
        match &events[i] {
            Event::Start(Tag::CodeBlock(kind)) => return self.code_block(events, i, kind),
            Event::Start(Tag::HtmlBlock) => return self.html_block(events, i),
            Event::Start(Tag::Image {
                dest_url, title, ..
            }) => return self.image(events, i, dest_url, title),
            Event::Start(tag) => {
                self.depth += 1;
                self.start(tag, i);
            }
            Event::End(tag) => {
                self.close_panels_from(self.depth);
                self.depth = self.depth.saturating_sub(1);
                self.end(*tag);
            }
            Event::Text(text) => self.out.push_str(&xml_text(text)),
            Event::Code(code) => {
                self.out.push_str("<code>");
                self.out.push_str(&xml_text(code));
                self.out.push_str("</code>");
            }
            Event::InlineHtml(html) | Event::Html(html) => self.raw_html(html),
            Event::SoftBreak => self.out.push('\n'),
            Event::HardBreak => self.out.push_str("<br/>"),
            Event::Rule => self.out.push_str("<hr/>"),
            Event::TaskListMarker(done) => {
                // A task list carries the status in `ac:task-status`; a list mixing tasks and
                // plain items keeps it as a box character.
                if !matches!(self.list_stack.last(), Some(Some(_))) {
                    self.out
                        .push_str(if *done { "\u{2611} " } else { "\u{2610} " });
                }
            }
            Event::FootnoteReference(label) => {
                let n = self.footnote_number(label);
                self.out.push_str(&format!(
                    "<sup><ac:link ac:anchor=\"{}\"><ac:plain-text-link-body>{}</ac:plain-text-link-body></ac:link></sup>",
                    xml_attr(&footnote_anchor(label)),
                    cdata(&n.to_string())
                ));
            }
            Event::InlineMath(math) | Event::DisplayMath(math) => {
                self.out.push_str(&xml_text(math))
            }
        }
        i + 1
    }

    fn start(&mut self, tag: &Tag<'_>, index: usize) {
        match tag {
            Tag::Paragraph => {
                if self.skip_paragraph_tags == 0 {
                    self.out.push_str("<p>");
                }
            }
            Tag::Heading { level, id, .. } => {
                self.out.push_str(&format!("<{}>", heading_tag(*level)));
                if let Some(id) = id {
                    self.out.push_str(&anchor_macro(id));
                }
            }
            Tag::BlockQuote(None) => self.out.push_str("<blockquote>"),
            Tag::BlockQuote(Some(kind)) => {
                let (name, title) = panel(*kind);
                self.open_panel(name, title);
            }
            Tag::List(start) => match self.task_lists.get(&index) {
                Some(statuses) => {
                    self.out.push_str("<ac:task-list>");
                    self.list_stack.push(Some((statuses.clone(), 0)));
                }
                None => {
                    match start {
                        None => self.out.push_str("<ul>"),
                        Some(1) => self.out.push_str("<ol>"),
                        Some(n) => self.out.push_str(&format!("<ol start=\"{n}\">")),
                    }
                    self.list_stack.push(None);
                }
            },
            Tag::Item => match self.list_stack.last_mut() {
                Some(Some((statuses, next))) => {
                    let done = statuses.get(*next).copied().unwrap_or(false);
                    *next += 1;
                    let id = self.next_task_id;
                    self.next_task_id += 1;
                    let status = if done { "complete" } else { "incomplete" };
                    self.out.push_str(&format!(
                        "<ac:task><ac:task-id>{id}</ac:task-id><ac:task-status>{status}</ac:task-status><ac:task-body>"
                    ));
                    self.skip_paragraph_tags += 1;
                }
                _ => self.out.push_str("<li>"),
            },
            Tag::FootnoteDefinition(label) => {
                let n = self.footnote_number(label);
                self.out.push_str(&format!(
                    "<p>{}<sup>{n}</sup></p>",
                    anchor_macro(&footnote_anchor(label))
                ));
            }
            Tag::Table(alignments) => {
                self.alignments = alignments.clone();
                self.out.push_str("<table><tbody>");
            }
            Tag::TableHead => {
                self.table_head = true;
                self.cell = 0;
                self.out.push_str("<tr>");
            }
            Tag::TableRow => {
                self.cell = 0;
                self.out.push_str("<tr>");
            }
            Tag::TableCell => {
                let cell = if self.table_head { "th" } else { "td" };
                let style = match self.alignments.get(self.cell) {
                    Some(Alignment::Left) => " style=\"text-align: left;\"",
                    Some(Alignment::Center) => " style=\"text-align: center;\"",
                    Some(Alignment::Right) => " style=\"text-align: right;\"",
                    _ => "",
                };
                self.out.push_str(&format!("<{cell}{style}>"));
            }
            Tag::Emphasis => self.out.push_str("<em>"),
            Tag::Strong => self.out.push_str("<strong>"),
            Tag::Strikethrough => self.out.push_str("<s>"),
            Tag::Superscript => self.out.push_str("<sup>"),
            Tag::Subscript => self.out.push_str("<sub>"),
            Tag::Link { dest_url, .. } => self.open_link(dest_url),
            Tag::DefinitionList => self.out.push_str("<dl>"),
            Tag::DefinitionListTitle => self.out.push_str("<dt>"),
            Tag::DefinitionListDefinition => self.out.push_str("<dd>"),
            Tag::MetadataBlock(_) | Tag::CodeBlock(_) | Tag::HtmlBlock | Tag::Image { .. } => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                if self.skip_paragraph_tags == 0 {
                    self.out.push_str("</p>");
                } else {
                    self.out.push(' ');
                }
            }
            TagEnd::Heading(level) => self.out.push_str(&format!("</{}>", heading_tag(level))),
            TagEnd::BlockQuote(None) => self.out.push_str("</blockquote>"),
            TagEnd::BlockQuote(Some(_)) => self.close_panel(),
            TagEnd::List(ordered) => match self.list_stack.pop() {
                Some(Some(_)) => self.out.push_str("</ac:task-list>"),
                _ => self.out.push_str(if ordered { "</ol>" } else { "</ul>" }),
            },
            TagEnd::Item => match self.list_stack.last() {
                Some(Some(_)) => {
                    self.skip_paragraph_tags -= 1;
                    self.out.push_str("</ac:task-body></ac:task>");
                }
                _ => self.out.push_str("</li>"),
            },
            TagEnd::FootnoteDefinition => {}
            TagEnd::Table => self.out.push_str("</tbody></table>"),
            TagEnd::TableHead => {
                self.table_head = false;
                self.out.push_str("</tr>");
            }
            TagEnd::TableRow => self.out.push_str("</tr>"),
            TagEnd::TableCell => {
                self.out
                    .push_str(if self.table_head { "</th>" } else { "</td>" });
                self.cell += 1;
            }
            TagEnd::Emphasis => self.out.push_str("</em>"),
            TagEnd::Strong => self.out.push_str("</strong>"),
            TagEnd::Strikethrough => self.out.push_str("</s>"),
            TagEnd::Superscript => self.out.push_str("</sup>"),
            TagEnd::Subscript => self.out.push_str("</sub>"),
            TagEnd::Link => {
                let close = self.link_stack.pop().unwrap_or("");
                self.out.push_str(close);
            }
            TagEnd::DefinitionList => self.out.push_str("</dl>"),
            TagEnd::DefinitionListTitle => self.out.push_str("</dt>"),
            TagEnd::DefinitionListDefinition => self.out.push_str("</dd>"),
            TagEnd::MetadataBlock(_) | TagEnd::CodeBlock | TagEnd::HtmlBlock | TagEnd::Image => {}
        }
    }

    fn open_panel(&mut self, name: &str, title: &str) {
        self.out.push_str(&format!(
            "<ac:structured-macro ac:name=\"{name}\"><ac:parameter ac:name=\"title\">{}</ac:parameter><ac:rich-text-body>",
            xml_text(title)
        ));
    }

    fn close_panel(&mut self) {
        self.out
            .push_str("</ac:rich-text-body></ac:structured-macro>");
    }

    /// Closes the panels opened at `depth` or deeper.
    fn close_panels_from(&mut self, depth: usize) {
        while self.open_panels.last().is_some_and(|&(d, _)| d >= depth) {
            self.open_panels.pop();
            self.close_panel();
        }
    }

    fn open_link(&mut self, dest: &str) {
        match target(dest) {
            Target::Page { page, anchor } => match (self.resolve)(page) {
                Some(page_ref) => {
                    let anchor = anchor
                        .map(|a| format!(" ac:anchor=\"{}\"", xml_attr(a)))
                        .unwrap_or_default();
                    self.out.push_str(&format!(
                        "<ac:link{anchor}><ri:page ri:space-key=\"{}\" ri:content-title=\"{}\"/><ac:link-body>",
                        xml_attr(&page_ref.space_key),
                        xml_attr(&page_ref.title)
                    ));
                    self.link_stack.push("</ac:link-body></ac:link>");
                }
                None => self.link_stack.push(""),
            },
            Target::Asset(asset) => {
                let filename =
                    self.attach(AttachmentData::Asset(asset.to_string()), file_name(asset));
                self.out.push_str(&format!(
                    "<ac:link><ri:attachment ri:filename=\"{}\"/><ac:link-body>",
                    xml_attr(&filename)
                ));
                self.link_stack.push("</ac:link-body></ac:link>");
            }
            Target::External(url) if url.starts_with('#') => {
                self.out.push_str(&format!(
                    "<ac:link ac:anchor=\"{}\"><ac:link-body>",
                    xml_attr(&url[1..])
                ));
                self.link_stack.push("</ac:link-body></ac:link>");
            }
            Target::External(url) if is_safe_url(url) => {
                self.out
                    .push_str(&format!("<a href=\"{}\">", xml_attr(url)));
                self.link_stack.push("</a>");
            }
            Target::External(_) => self.link_stack.push(""),
        }
    }

    fn image(&mut self, events: &[Event<'_>], i: usize, dest: &str, title: &str) -> usize {
        let (alt, next) = inner_text(events, i, TagEnd::Image);
        let title = if title.is_empty() {
            String::new()
        } else {
            format!(" ac:title=\"{}\"", xml_attr(title))
        };
        let source = match target(dest) {
            Target::Asset(asset) => {
                let filename =
                    self.attach(AttachmentData::Asset(asset.to_string()), file_name(asset));
                format!("<ri:attachment ri:filename=\"{}\"/>", xml_attr(&filename))
            }
            Target::External(url) if is_safe_url(url) => {
                format!("<ri:url ri:value=\"{}\"/>", xml_attr(url))
            }
            _ => {
                self.out.push_str(&xml_text(&alt));
                return next;
            }
        };
        self.out.push_str(&format!(
            "<ac:image ac:alt=\"{}\"{title}>{source}</ac:image>",
            xml_attr(&alt)
        ));
        next
    }

    /// A code macro with the fence's language and title. A process map (`mermaid`) goes out as its
    /// source under an info panel saying the diagram is drawn on the site: Confluence has no
    /// Mermaid renderer of its own, and kbpub draws none offline.
    fn code_block(&mut self, events: &[Event<'_>], i: usize, kind: &CodeBlockKind<'_>) -> usize {
        let (code, next) = inner_text(events, i, TagEnd::CodeBlock);
        let fence = Fence::of(kind);
        let mermaid = fence.is_mermaid();
        if mermaid {
            self.open_panel("info", "Process map");
            self.out
                .push_str(&format!("<p>{}</p>", xml_text(DIAGRAM_NOTE)));
        }
        self.out.push_str("<ac:structured-macro ac:name=\"code\">");
        let title = if mermaid {
            Some("Process map (Mermaid source)")
        } else {
            fence.title.as_deref()
        };
        if let Some(title) = title {
            self.out.push_str(&format!(
                "<ac:parameter ac:name=\"title\">{}</ac:parameter>",
                xml_text(title)
            ));
        }
        if let Some(language) = code_language(&fence.lang) {
            self.out.push_str(&format!(
                "<ac:parameter ac:name=\"language\">{language}</ac:parameter>"
            ));
        }
        self.out.push_str("<ac:plain-text-body>");
        self.out
            .push_str(&cdata(code.strip_suffix('\n').unwrap_or(&code)));
        self.out
            .push_str("</ac:plain-text-body></ac:structured-macro>");
        if mermaid {
            self.close_panel();
        }
        next
    }

    /// An HTML block: an internal-only marker, a data chart, or raw HTML (kept as visible text).
    fn html_block(&mut self, events: &[Event<'_>], i: usize) -> usize {
        let mut html = String::new();
        let mut next = i + 1;
        while next < events.len() && events[next] != Event::End(TagEnd::HtmlBlock) {
            match internal_marker_event(&events[next]) {
                Some(true) => {
                    self.open_panel("note", "Internal only");
                    self.open_panels.push((self.depth, Panel::Internal));
                }
                Some(false) => {
                    if self.open_panels.last() == Some(&(self.depth, Panel::Internal)) {
                        self.open_panels.pop();
                        self.close_panel();
                    }
                }
                None => {
                    if let Event::Html(text) = &events[next] {
                        html.push_str(text);
                    }
                }
            }
            next += 1;
        }
        if let Some(svg) = chart_svg(&html) {
            self.charts += 1;
            let filename = self.attach(
                AttachmentData::Svg(svg.to_string()),
                &format!("chart-{}.png", self.charts),
            );
            self.out.push_str(&format!(
                "<p><ac:image ac:alt=\"{}\"><ri:attachment ri:filename=\"{}\"/></ac:image></p>",
                xml_attr(&chart_title(&html).unwrap_or_else(|| "Chart".into())),
                xml_attr(&filename)
            ));
        } else if !html.trim().is_empty() && !self.details(&html) {
            self.raw_html(&html);
        }
        next + 1
    }

    /// A raw `<details>` (with its `<summary>`) opens Confluence's expand macro, `</details>`
    /// closes it. Returns false when `html` is something else.
    fn details(&mut self, html: &str) -> bool {
        let trimmed = html.trim();
        if trimmed == "</details>" {
            if self.open_panels.last() == Some(&(self.depth, Panel::Expand)) {
                self.open_panels.pop();
                self.close_panel();
                return true;
            }
            return false;
        }
        let Some(rest) = ["<details>", "<details open>"]
            .iter()
            .find_map(|tag| trimmed.strip_prefix(tag))
        else {
            return false;
        };
        let rest = rest.trim();
        let title = if rest.is_empty() {
            "Details".to_string()
        } else {
            match rest
                .strip_prefix("<summary>")
                .and_then(|r| r.strip_suffix("</summary>"))
            {
                Some(summary) if !summary.contains('<') => summary.trim().to_string(),
                _ => return false,
            }
        };
        self.open_panel("expand", &title);
        self.open_panels.push((self.depth, Panel::Expand));
        true
    }

    fn raw_html(&mut self, html: &str) {
        let trimmed = html.trim();
        if matches!(trimmed, "<br>" | "<br/>" | "<br />") {
            self.out.push_str("<br/>");
            return;
        }
        // Inline formatting Confluence shows as such.
        if matches!(
            trimmed,
            "<sub>" | "</sub>" | "<sup>" | "</sup>" | "<kbd>" | "</kbd>"
        ) {
            self.out.push_str(trimmed);
            return;
        }
        if trimmed.starts_with("<!--") && trimmed.ends_with("-->") {
            return; // comments are not content
        }
        // Confluence has no abbreviations: the short text stays, the tooltip goes.
        if trimmed == "</abbr>"
            || trimmed == "<abbr>"
            || (trimmed.starts_with("<abbr ")
                && trimmed.ends_with('>')
                && !trimmed[1..].contains('<'))
        {
            return;
        }
        self.warnings.push(Warning {
            message: format!(
                "raw HTML is not carried into Confluence and is shown as text: {}",
                trimmed.chars().take(60).collect::<String>()
            ),
            markdown: trimmed.to_string(),
        });
        self.out.push_str("<code>");
        self.out.push_str(&xml_text(trimmed));
        self.out.push_str("</code>");
    }

    /// Registers an attachment (once per source) and returns its filename, unique on the page.
    fn attach(&mut self, data: AttachmentData, wanted: &str) -> String {
        if let Some(name) = self.attachment_names.get(&data) {
            return name.clone();
        }
        let taken: HashSet<&str> = self
            .attachments
            .iter()
            .map(|a| a.filename.as_str())
            .collect();
        let (stem, extension) = wanted
            .rsplit_once('.')
            .map_or((wanted, ""), |(s, e)| (s, e));
        let mut filename = wanted.to_string();
        let mut n = 1;
        while taken.contains(filename.as_str()) {
            n += 1;
            filename = if extension.is_empty() {
                format!("{stem}-{n}")
            } else {
                format!("{stem}-{n}.{extension}")
            };
        }
        self.attachment_names.insert(data.clone(), filename.clone());
        self.attachments.push(Attachment {
            filename: filename.clone(),
            data,
        });
        filename
    }

    fn footnote_number(&mut self, label: &str) -> usize {
        let next = self.footnotes.len() + 1;
        *self.footnotes.entry(label.to_string()).or_insert(next)
    }
}

/// The panel that tops every page kbpub manages: where to edit it instead of Confluence.
/// `source` is the document's path in git, or `None` for a page kbpub generates (from live data
/// or for a folder without `_index.md`).
pub fn managed_panel(source: Option<&str>) -> String {
    let where_to_edit = match source {
        Some(path) => format!("edit the source in git: <code>{}</code>", xml_text(path)),
        None => "kbpub generates this page; change its template or data, not this page".into(),
    };
    format!(
        "<ac:structured-macro ac:name=\"note\"><ac:parameter ac:name=\"title\">Managed by kbpub</ac:parameter><ac:rich-text-body><p>Managed by kbpub, {where_to_edit}. Edits made here are reported and overwritten only on request.</p></ac:rich-text-body></ac:structured-macro>"
    )
}

/// The list of a page's child pages, for section pages.
pub const CHILDREN_MACRO: &str = "<ac:structured-macro ac:name=\"children\"><ac:parameter ac:name=\"all\">false</ac:parameter></ac:structured-macro>";

/// Finds the lists whose items all start with a task marker, with each item's status.
fn task_lists(events: &[Event<'_>]) -> HashMap<usize, Vec<bool>> {
    let mut found = HashMap::new();
    // (index of Start(List), statuses, all items are tasks, the current item has its marker)
    let mut stack: Vec<(usize, Vec<bool>, bool, bool)> = Vec::new();
    for (i, event) in events.iter().enumerate() {
        match event {
            Event::Start(Tag::List(_)) => stack.push((i, Vec::new(), true, false)),
            Event::Start(Tag::Item) => {
                if let Some(list) = stack.last_mut() {
                    list.3 = false;
                }
            }
            Event::TaskListMarker(done) => {
                if let Some(list) = stack.last_mut()
                    && !list.3
                {
                    list.1.push(*done);
                    list.3 = true;
                }
            }
            Event::End(TagEnd::Item) => {
                if let Some(list) = stack.last_mut() {
                    list.2 &= list.3;
                }
            }
            Event::End(TagEnd::List(_)) => {
                if let Some((start, statuses, all_tasks, _)) = stack.pop()
                    && all_tasks
                    && !statuses.is_empty()
                {
                    found.insert(start, statuses);
                }
            }
            _ => {}
        }
    }
    found
}

/// The text inside a tag (alt text of an image, code of a code block) and the index after its end.
pub(crate) fn inner_text(events: &[Event<'_>], start: usize, end: TagEnd) -> (String, usize) {
    let mut text = String::new();
    let mut depth = 0;
    let mut i = start + 1;
    while i < events.len() {
        match &events[i] {
            Event::End(e) if *e == end && depth == 0 => return (text, i + 1),
            Event::Start(_) => depth += 1,
            Event::End(_) => depth -= 1,
            Event::Text(t) | Event::Code(t) => text.push_str(t),
            _ => {}
        }
        i += 1;
    }
    (text, i)
}

/// The SVG of a data chart block (`<figure class="kb-chart">...<svg>...</svg>...</figure>`).
pub fn chart_svg(html: &str) -> Option<&str> {
    if !html.contains("kb-chart") {
        return None;
    }
    let start = html.find("<svg")?;
    let end = html.rfind("</svg>")? + "</svg>".len();
    (start < end).then(|| &html[start..end])
}

/// The text of the chart's `<title>`, for alt text (parsed, so escaped characters come back as
/// the characters they stand for, and `xml_attr` escapes them exactly once).
pub(crate) fn chart_title(html: &str) -> Option<String> {
    let svg = chart_svg(html)?;
    let document = roxmltree::Document::parse(svg).ok()?;
    let title = document.descendants().find(|n| n.has_tag_name("title"))?;
    Some(title.text().unwrap_or_default().to_string())
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn heading_tag(level: HeadingLevel) -> &'static str {
    match level {
        HeadingLevel::H1 => "h1",
        HeadingLevel::H2 => "h2",
        HeadingLevel::H3 => "h3",
        HeadingLevel::H4 => "h4",
        HeadingLevel::H5 => "h5",
        HeadingLevel::H6 => "h6",
    }
}

/// The Confluence panel macro and title for a GitHub alert.
fn panel(kind: BlockQuoteKind) -> (&'static str, &'static str) {
    match kind {
        BlockQuoteKind::Note => ("info", "Note"),
        BlockQuoteKind::Tip => ("tip", "Tip"),
        BlockQuoteKind::Important => ("note", "Important"),
        BlockQuoteKind::Warning => ("warning", "Warning"),
        BlockQuoteKind::Caution => ("warning", "Caution"),
    }
}

fn anchor_macro(name: &str) -> String {
    format!(
        "<ac:structured-macro ac:name=\"anchor\"><ac:parameter ac:name=\"\">{}</ac:parameter></ac:structured-macro>",
        xml_text(name)
    )
}

fn footnote_anchor(label: &str) -> String {
    format!("fn-{label}")
}

/// Languages the Confluence code macro knows, from Markdown fence names.
fn code_language(fence: &str) -> Option<&'static str> {
    Some(match fence.to_ascii_lowercase().as_str() {
        "bash" | "sh" | "shell" | "zsh" | "console" => "bash",
        "json" => "json",
        "js" | "javascript" => "js",
        "ts" | "typescript" => "typescript",
        "xml" | "html" | "xhtml" | "svg" => "xml",
        "sql" => "sql",
        "python" | "py" => "py",
        "java" => "java",
        "yaml" | "yml" => "yaml",
        "ruby" | "rb" => "ruby",
        "go" => "go",
        "rust" | "rs" => "rust",
        "c" | "cpp" | "c++" => "cpp",
        "cs" | "csharp" | "c#" => "c#",
        "powershell" | "ps1" => "powershell",
        "css" => "css",
        "diff" | "patch" => "diff",
        "text" | "txt" | "plain" | "x12" | "edi" | "edifact" => "text",
        _ => return None,
    })
}

fn is_safe_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    ["http://", "https://", "mailto:", "tel:", "ftp://"]
        .iter()
        .any(|s| lower.starts_with(s))
}

/// Text for an XML text node: `&`, `<`, `>` as numeric references; characters XML 1.0 forbids
/// replaced with U+FFFD.
pub fn xml_text(s: &str) -> String {
    escape(s, false)
}

/// Text for a double-quoted XML attribute.
pub fn xml_attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&#38;"),
            '<' => out.push_str("&#60;"),
            '>' => out.push_str("&#62;"),
            '"' if attribute => out.push_str("&#34;"),
            '\n' | '\t' | '\r' if attribute => out.push_str(&format!("&#{};", c as u32)),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
    out
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
}

/// A CDATA section for `text`; `]]>` is split across two sections.
fn cdata(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{fffd}' })
        .collect();
    format!("<![CDATA[{}]]>", clean.replace("]]>", "]]]]><![CDATA[>"))
}
