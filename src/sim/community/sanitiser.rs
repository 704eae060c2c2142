//! The community's sanitiser: the contract's HTML subset (elements, attributes, URL schemes,
//! `data:` image types), copied from `community-v1`, and the first thing in a body outside it.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// The contract's HTML subset, copied from `community-v1` ("Article bodies are HTML of a
/// restricted subset"), not from kbpub's writer: the two must agree because both follow the
/// contract, never because they share a list.
const CONTRACT_ELEMENTS: &str = "p h1 h2 h3 h4 h5 h6 ul ol li table thead tbody tr th td a strong em code pre blockquote img hr br span div";

const CONTRACT_ATTRIBUTES: &str = "href src alt title class id";

/// `data:` image types the contract names for `src`.
const CONTRACT_DATA_IMAGES: &str = "png jpeg gif webp";

/// The sanitiser: the first element, attribute or URL outside the contract's subset, in words.
pub fn first_offence(body: &str) -> Option<String> {
    struct Sink(RefCell<Option<String>>);
    impl TokenSink for Sink {
        type Handle = ();
        fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
            if self.0.borrow().is_none() {
                *self.0.borrow_mut() = offence(&token);
            }
            TokenSinkResult::Continue
        }
    }
    let tokenizer = Tokenizer::new(Sink(RefCell::new(None)), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from(body));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.0.take()
}

fn offence(token: &Token) -> Option<String> {
    let tag = match token {
        Token::TagToken(tag) => tag,
        Token::DoctypeToken(_) => return Some("element `!DOCTYPE` is not allowed".into()),
        _ => return None,
    };
    let name: &str = &tag.name;
    if !CONTRACT_ELEMENTS.split(' ').any(|allowed| allowed == name) {
        return Some(format!("element `{name}` is not allowed"));
    }
    if tag.kind == TagKind::EndTag {
        return None;
    }
    for attribute in &tag.attrs {
        let attr: &str = &attribute.name.local;
        if !CONTRACT_ATTRIBUTES
            .split(' ')
            .any(|allowed| allowed == attr)
        {
            return Some(format!("attribute `{attr}` on `{name}` is not allowed"));
        }
        let value = attribute.value.trim();
        let bad_url = match attr {
            "src" => !(scheme_is(value, "https:") || is_contract_data_image(value)),
            "href" => scheme_is(value, "javascript:"),
            _ => false,
        };
        if bad_url {
            let shown: String = value.chars().take(60).collect();
            return Some(format!(
                "URL `{shown}` in `{attr}` on `{name}` is not allowed"
            ));
        }
    }
    None
}

/// Whether URL `value` starts with `scheme` as a browser reads it: case-insensitive, ignoring
/// the tabs, newlines and control characters browsers strip (`java\tscript:` is `javascript:`).
fn scheme_is(value: &str, scheme: &str) -> bool {
    let read: String = value
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
        .take(scheme.len())
        .collect();
    read.eq_ignore_ascii_case(scheme)
}

/// `data:image/<png|jpeg|gif|webp>;base64,...`, the only `data:` URLs the contract allows.
fn is_contract_data_image(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    CONTRACT_DATA_IMAGES
        .split(' ')
        .any(|kind| lower.starts_with(&format!("data:image/{kind};base64,")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sanitiser_names_the_first_offence() {
        assert_eq!(
            first_offence(
                "<p class=\"x\">ok <a href=\"https://x\">a</a></p><img src=\"data:image/png;base64,AA\">"
            ),
            None
        );
        assert_eq!(
            first_offence("<p>a</p><script>x</script><iframe>"),
            Some("element `script` is not allowed".into())
        );
        assert_eq!(
            first_offence("<p onclick=\"x\">"),
            Some("attribute `onclick` on `p` is not allowed".into())
        );
        assert_eq!(
            first_offence("<a href=\" JavaScript:alert(1)\">"),
            Some("URL `JavaScript:alert(1)` in `href` on `a` is not allowed".into())
        );
        assert_eq!(
            first_offence("<img src=\"http://x/y.png\">"),
            Some("URL `http://x/y.png` in `src` on `img` is not allowed".into())
        );
        assert_eq!(first_offence("&lt;script&gt; is text"), None);
        assert_eq!(
            first_offence("<a href=\"java\tscript:alert(1)\">"),
            Some("URL `java\tscript:alert(1)` in `href` on `a` is not allowed".into())
        );
        assert_eq!(
            first_offence("<img src=\"data:image/svg+xml;base64,AA\">"),
            Some("URL `data:image/svg+xml;base64,AA` in `src` on `img` is not allowed".into())
        );
        assert_eq!(
            first_offence("<figure><del>x</del></figure>"),
            Some("element `figure` is not allowed".into())
        );
        assert_eq!(
            first_offence("<a href=\"mailto:x@example.com\" title=\"t\" id=\"i\">"),
            None
        );
    }
}
