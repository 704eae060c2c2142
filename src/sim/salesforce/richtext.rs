//! What a Knowledge rich-text field keeps of the HTML sent to it (reference §1.6, emulator rule
//! 11): tags and attributes outside the allow-list are dropped silently with their text kept,
//! `data:` images are rewritten to an `rtaImage` servlet URL, and the markup comes back
//! re-serialised — so the stored body differs from the sent one.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

/// The display allow-list of `lightning-formatted-rich-text` (reference §1.6), the reference's
/// proxy for the unpublished server-side list.
const TAGS: &str = "a abbr acronym address br big blockquote caption cite code col colgroup del div dl dd dt em font h1 h2 h3 h4 h5 h6 hr img ins kbd li ol mark p param pre q s samp small span strong sub sup table tbody td tfoot th thead tr tt u ul var strike";
const ATTRIBUTES: &str = "alt align border class colspan dir height href id lang name rel rowspan scope src style start target title width";

static IMAGES: AtomicU64 = AtomicU64::new(0);

/// `html` as the field stores it, for the version `version_id`.
pub fn store(html: &str, version_id: &str) -> String {
    let tags: HashSet<&str> = TAGS.split(' ').collect();
    let attributes: HashSet<&str> = ATTRIBUTES.split(' ').collect();
    let schemes: HashSet<&str> = ["http", "https", "mailto", "data"].into();
    let version_id = version_id.to_string();
    ammonia::Builder::default()
        .tags(tags)
        .generic_attributes(attributes)
        .url_schemes(schemes)
        .link_rel(None)
        .attribute_filter(move |element, attribute, value| {
            let data_image = element == "img"
                && attribute == "src"
                && value.trim_start().to_ascii_lowercase().starts_with("data:");
            if data_image {
                let n = IMAGES.fetch_add(1, Ordering::Relaxed) + 1;
                let url = format!(
                    "/servlet/rtaImage?eid={version_id}&feoid=00N000000000001&refid=0EM{n:012}"
                );
                return Some(url.into());
            }
            if value.trim_start().to_ascii_lowercase().starts_with("data:") {
                return None;
            }
            Some(value.into())
        })
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlisted_markup_goes_text_stays_and_data_images_are_rewritten() {
        let stored = store(
            "<p onclick=\"x\">Hi <script>alert(1)</script><figure>fig</figure><img src=\"data:image/png;base64,AAAA\" alt=\"c\"></p><br/>",
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
    }
}
