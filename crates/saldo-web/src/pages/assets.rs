//! The pages' scripts, styles and icon, embedded in the binary and served under names that carry
//! a hash of their content, so a browser may keep each for a year and still never runs a stale one.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// One embedded file.
struct Asset {
    /// Its name without the hash: `app.css` is served as `app.<hash>.css`.
    stem: &'static str,
    extension: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: [Asset; 6] = [
    Asset {
        stem: "app",
        extension: "css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/app.css"),
    },
    Asset {
        stem: "app",
        extension: "js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/app.js"),
    },
    Asset {
        stem: "icon",
        extension: "svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../assets/icon.svg"),
    },
    Asset {
        stem: "htmx-2.0.11.min",
        extension: "js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx-2.0.11.min.js"),
    },
    Asset {
        stem: "uPlot-1.6.32.iife.min",
        extension: "js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/uPlot-1.6.32.iife.min.js"),
    },
    Asset {
        stem: "uPlot-1.6.32.min",
        extension: "css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/uPlot-1.6.32.min.css"),
    },
];

/// The served paths of the pages' files.
pub struct AssetPaths {
    pub css: String,
    pub js: String,
    pub icon: String,
    pub htmx: String,
    pub uplot: String,
    pub uplot_css: String,
    /// Served name → index into [`ASSETS`].
    names: Vec<(String, usize)>,
}

fn served_name(asset: &Asset) -> String {
    let digest = Sha256::digest(asset.bytes);
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{}.{hash}.{}", asset.stem, asset.extension)
}

/// The paths, hashed once per process.
pub fn paths() -> &'static AssetPaths {
    static PATHS: OnceLock<AssetPaths> = OnceLock::new();
    PATHS.get_or_init(|| {
        let names: Vec<(String, usize)> = ASSETS.iter().enumerate().map(|(i, a)| (served_name(a), i)).collect();
        let path = |i: usize| format!("/assets/{}", names[i].0);
        AssetPaths {
            css: path(0),
            js: path(1),
            icon: path(2),
            htmx: path(3),
            uplot: path(4),
            uplot_css: path(5),
            names: names.clone(),
        }
    })
}

/// The bytes of all scripts and styles a page loads, uncompressed.
#[cfg(test)]
fn shipped_bytes() -> usize {
    ASSETS.iter().filter(|a| a.extension != "svg").map(|a| a.bytes.len()).sum()
}

/// `GET /assets/{name}`: an embedded file by its hashed name, cached for a year.
pub async fn serve(Path(name): Path<String>) -> Response {
    let Some(&(_, index)) = paths().names.iter().find(|(served, _)| *served == name) else {
        return (StatusCode::NOT_FOUND, "no such file\n").into_response();
    };
    let asset = &ASSETS[index];
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_has_a_distinct_hashed_name_and_the_pages_ship_under_150_kb() {
        let paths = paths();
        let mut names: Vec<&str> = paths.names.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ASSETS.len());
        assert!(paths.css.starts_with("/assets/app.") && paths.css.ends_with(".css"));
        assert!(shipped_bytes() < 150 * 1024, "{} bytes of JS and CSS", shipped_bytes());
    }
}
