//! What a Knowledge rich-text field keeps of the HTML sent to it (reference §1.6, emulator rule
//! 11): tags and attributes outside the allow-list are dropped silently with their text kept,
//! `data:` images are rewritten to an `rtaImage` servlet URL (the image kept under its `refid`,
//! for `richTextImageFields`), and the markup comes back re-serialised — so the stored body
//! differs from the sent one.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;

/// The display allow-list of `lightning-formatted-rich-text` (reference §1.6), the reference's
/// proxy for the unpublished server-side list.
const TAGS: &str = "a abbr acronym address br big blockquote caption cite code col colgroup del div dl dd dt em font h1 h2 h3 h4 h5 h6 hr img ins kbd li ol mark p param pre q s samp small span strong sub sup table tbody td tfoot th thead tr tt u ul var strike";
const ATTRIBUTES: &str = "alt align border class colspan dir height href id lang name rel rowspan scope src style start target title width";

static IMAGES: AtomicU64 = AtomicU64::new(0);

/// An image a `data:` URL carried, kept under its `refid` (`0EM…`).
#[derive(Debug, Clone)]
pub struct Image {
    pub refid: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A body as the field stores it, and the images taken out of it.
pub struct Stored {
    pub html: String,
    pub images: Vec<Image>,
}

/// `html` as the field stores it, for the version `version_id`: each `data:` image becomes an
/// `rtaImage` URL whose `refid` names the image kept; an undecodable one is dropped.
pub fn store(html: &str, version_id: &str) -> Stored {
    let tags: HashSet<&str> = TAGS.split(' ').collect();
    let attributes: HashSet<&str> = ATTRIBUTES.split(' ').collect();
    let schemes: HashSet<&str> = ["http", "https", "mailto", "data"].into();
    let version_id = version_id.to_string();
    let images: Arc<Mutex<Vec<Image>>> = Arc::default();
    let kept = images.clone();
    let html = ammonia::Builder::default()
        .tags(tags)
        .generic_attributes(attributes)
        .url_schemes(schemes)
        .link_rel(None)
        .attribute_filter(move |element, attribute, value| {
            if !value.trim_start().to_ascii_lowercase().starts_with("data:") {
                return Some(value.into());
            }
            if element != "img" || attribute != "src" {
                return None;
            }
            let (content_type, bytes) = decode(value.trim())?;
            let refid = format!("0EM{:012}", IMAGES.fetch_add(1, Ordering::Relaxed) + 1);
            let url =
                format!("/servlet/rtaImage?eid={version_id}&feoid=00N000000000001&refid={refid}");
            kept.lock().unwrap_or_else(|e| e.into_inner()).push(Image {
                refid,
                content_type,
                bytes,
            });
            Some(url.into())
        })
        .clean(html)
        .to_string();
    let images = std::mem::take(&mut *images.lock().unwrap_or_else(|e| e.into_inner()));
    Stored { html, images }
}

/// `data:<type>;base64,<data>`: the type and the bytes.
fn decode(url: &str) -> Option<(String, Vec<u8>)> {
    let (meta, data) = url.strip_prefix("data:")?.split_once(',')?;
    let content_type = meta.strip_suffix(";base64")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .ok()?;
    Some((content_type.to_string(), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlisted_markup_goes_text_stays_and_data_images_are_rewritten() {
        let Stored {
            html: stored,
            images,
        } = store(
            "<p onclick=\"x\">Hi <script>alert(1)</script><figure>fig</figure><img src=\"data:image/png;base64,AAAA\" alt=\"c\"><img src=\"data:image/png;base64,!!\"></p><br/>",
            "ka0X",
        );
        assert!(
            !stored.contains("onclick") && !stored.contains("script"),
            "{stored}"
        );
        assert!(
            stored.contains("fig") && !stored.contains("<figure"),
            "{stored}"
        );
        assert!(
            stored.contains("/servlet/rtaImage?eid=ka0X&amp;"),
            "{stored}"
        );
        assert!(stored.contains("<br>"), "{stored}");
        assert_eq!(images.len(), 1, "the undecodable image is dropped");
        assert_eq!(
            (images[0].content_type.as_str(), images[0].bytes.as_slice()),
            ("image/png", &[0u8, 0, 0][..])
        );
        assert!(stored.contains(&format!("refid={}", images[0].refid)));
        assert_eq!(stored.matches("<img").count(), 2, "{stored}");
    }
}
