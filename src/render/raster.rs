//! SVG -> PNG for outputs that cannot show SVG (Confluence attachments, the community's `data:`
//! images): the one rasteriser every target shares. Text uses the machine's fonts, loaded once;
//! the same SVG on the same machine always gives the same bytes.

use std::sync::{Arc, OnceLock};

use resvg::{tiny_skia, usvg};

/// Pixels per SVG unit: charts stay sharp on high-density screens.
const SCALE: f32 = 2.0;
/// Refuse absurd sizes rather than allocate gigabytes for a hostile `width`.
const MAX_SIDE: u32 = 8192;

fn fonts() -> Arc<usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = usvg::fontdb::Database::new();
            db.load_system_fonts();
            Arc::new(db)
        })
        .clone()
}

/// Renders `svg` to PNG bytes; the error says why the SVG cannot be drawn.
pub fn svg_to_png(svg: &str) -> Result<Vec<u8>, String> {
    let options = usvg::Options {
        fontdb: fonts(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| format!("invalid SVG: {e}"))?;
    let size = tree.size();
    let (width, height) = (
        (size.width() * SCALE).ceil() as u32,
        (size.height() * SCALE).ceil() as u32,
    );
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!("SVG size {width}x{height} px is out of range"));
    }
    let mut pixmap = tiny_skia::Pixmap::new(width, height).ok_or("cannot allocate the image")?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(SCALE, SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| format!("cannot encode PNG: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_becomes_a_deterministic_png() {
        let svg = r##"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="20" height="20" fill="#c00"/><text x="22" y="15" font-size="10">7%</text></svg>"##;
        let png = svg_to_png(svg).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(png, svg_to_png(svg).unwrap());
        assert!(svg_to_png("<svg").is_err());
        assert!(
            svg_to_png(r#"<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="1"/>"#)
                .is_err()
        );
    }
}
