//! Media (PRODUCT.md section 11): which files WhatsApp takes, how large, and how an inbound
//! media message's kind is read. Meta's limits (reference `inbox-essentials.md` §1.6):
//!
//! | kind | MIME types | largest |
//! |---|---|---|
//! | image | `image/jpeg`, `image/png` | 5 MB |
//! | video | `video/mp4`, `video/3gpp` | 16 MB |
//! | audio | `audio/aac`, `audio/amr`, `audio/mpeg`, `audio/mp4`, `audio/ogg` | 16 MB |
//! | document | any other type (PDF, Office, text…) | 100 MB |
//! | sticker | `image/webp` | 500 KB |

use crate::model::AttachmentKind;

/// The largest caption WhatsApp shows.
pub const MAX_CAPTION: usize = 1024;

/// How long a failing fetch of an inbound file is retried before it is given up (Meta keeps an
/// inbound media id for 7 days: fetching is prompt, not lazy).
pub const FETCH_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// The largest file WhatsApp carries in either direction (a document).
pub const MAX_MEDIA_BYTES: u64 = 100 * 1024 * 1024;

/// Why an upload is refused, with the limit it breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error(
        "{mime} files cannot be sent on WhatsApp; send image/jpeg or image/png, video/mp4 or video/3gpp, audio (aac, amr, mpeg, mp4, ogg), image/webp stickers, or a document"
    )]
    Unsupported { mime: String },
    #[error("{kind} files may be at most {limit} bytes on WhatsApp")]
    TooLarge { kind: &'static str, limit: u64 },
}

/// What an uploaded file will be sent as, and its size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadRule {
    pub kind: AttachmentKind,
    pub max_bytes: u64,
}

impl UploadRule {
    /// The rule for a file of this MIME type (parameters such as `; codecs=opus` ignored, case
    /// folded).
    ///
    /// # Errors
    /// [`MediaError::Unsupported`] for a type WhatsApp does not take.
    pub fn for_mime(mime: &str) -> Result<Self, MediaError> {
        let essence = essence(mime);
        let rule = |kind, max_bytes| Ok(Self { kind, max_bytes });
        match essence.as_str() {
            "image/jpeg" | "image/png" => rule(AttachmentKind::Image, 5 * 1024 * 1024),
            "image/webp" => rule(AttachmentKind::Sticker, 500 * 1024),
            "video/mp4" | "video/3gpp" => rule(AttachmentKind::Video, 16 * 1024 * 1024),
            "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" => {
                rule(AttachmentKind::Audio, 16 * 1024 * 1024)
            }
            // OPUS in OGG is what WhatsApp plays as a voice note.
            "audio/ogg" => rule(AttachmentKind::Voice, 16 * 1024 * 1024),
            "text/plain"
            | "application/pdf"
            | "application/msword"
            | "application/vnd.ms-excel"
            | "application/vnd.ms-powerpoint"
            | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
                rule(AttachmentKind::Document, MAX_MEDIA_BYTES)
            }
            _ => Err(MediaError::Unsupported { mime: essence }),
        }
    }

    /// # Errors
    /// [`MediaError::TooLarge`] when `size` passes the limit.
    pub fn check_size(self, size: u64) -> Result<(), MediaError> {
        if size > self.max_bytes {
            return Err(MediaError::TooLarge { kind: self.kind.as_str(), limit: self.max_bytes });
        }
        Ok(())
    }
}

/// A MIME type without parameters, lower-cased: `Audio/OGG; codecs=opus` → `audio/ogg`.
#[must_use]
pub fn essence(mime: &str) -> String {
    mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// The kind of an inbound media message: its WhatsApp type, and for audio whether it was
/// recorded as a voice note. `None` for types without media.
#[must_use]
pub fn inbound_kind(message_type: &str, voice: bool) -> Option<AttachmentKind> {
    Some(match message_type {
        "image" => AttachmentKind::Image,
        "video" => AttachmentKind::Video,
        "audio" if voice => AttachmentKind::Voice,
        "audio" => AttachmentKind::Audio,
        "document" => AttachmentKind::Document,
        "sticker" => AttachmentKind::Sticker,
        _ => return None,
    })
}

/// The WhatsApp message type that carries an attachment of `kind` (voice notes are audio).
#[must_use]
pub const fn message_type(kind: AttachmentKind) -> &'static str {
    match kind {
        AttachmentKind::Image => "image",
        AttachmentKind::Video => "video",
        AttachmentKind::Audio | AttachmentKind::Voice => "audio",
        AttachmentKind::Document => "document",
        AttachmentKind::Sticker => "sticker",
    }
}

/// Whether WhatsApp shows a caption on this kind (not on audio and stickers).
#[must_use]
pub const fn takes_caption(kind: AttachmentKind) -> bool {
    matches!(kind, AttachmentKind::Image | AttachmentKind::Video | AttachmentKind::Document)
}

/// Whether bytes whose SHA-256 is `computed` match the digest Meta announced, which it writes
/// in base64 in webhooks and in hex in some API answers: both are accepted.
#[must_use]
pub fn sha256_matches(announced: &str, computed: &[u8; 32]) -> bool {
    let announced = announced.trim();
    let hex: String = computed.iter().map(|b| format!("{b:02x}")).collect();
    if announced.eq_ignore_ascii_case(&hex) {
        return true;
    }
    base64_of(computed) == announced.trim_end_matches('=')
}

/// Standard base64 without padding (no base64 crate in the domain: 32 bytes are easy).
fn base64_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let digits = chunk.len() + 1;
        for i in 0..digits {
            let index = usize::try_from((n >> (18 - 6 * i)) & 63).unwrap_or(0);
            out.push(char::from(ALPHABET[index]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_follow_metas_types_and_limits() {
        let cases = [
            ("image/jpeg", AttachmentKind::Image, 5 * 1024 * 1024),
            ("IMAGE/PNG", AttachmentKind::Image, 5 * 1024 * 1024),
            ("image/webp", AttachmentKind::Sticker, 500 * 1024),
            ("video/mp4", AttachmentKind::Video, 16 * 1024 * 1024),
            ("video/3gpp", AttachmentKind::Video, 16 * 1024 * 1024),
            ("audio/mpeg", AttachmentKind::Audio, 16 * 1024 * 1024),
            ("audio/ogg; codecs=opus", AttachmentKind::Voice, 16 * 1024 * 1024),
            ("application/pdf", AttachmentKind::Document, 100 * 1024 * 1024),
            ("text/plain", AttachmentKind::Document, 100 * 1024 * 1024),
        ];
        for (mime, kind, limit) in cases {
            let rule = UploadRule::for_mime(mime).unwrap();
            assert_eq!((rule.kind, rule.max_bytes), (kind, limit), "{mime}");
            assert!(rule.check_size(limit).is_ok());
            assert!(rule.check_size(limit + 1).is_err());
        }
        for mime in ["image/gif", "application/x-msdownload", "video/quicktime", ""] {
            assert!(matches!(UploadRule::for_mime(mime), Err(MediaError::Unsupported { .. })), "{mime}");
        }
        let too_large = UploadRule::for_mime("image/png").unwrap().check_size(6_000_000).unwrap_err();
        assert_eq!(too_large.to_string(), "IMAGE files may be at most 5242880 bytes on WhatsApp");
    }

    #[test]
    fn inbound_kinds_and_voice_notes() {
        assert_eq!(inbound_kind("audio", true), Some(AttachmentKind::Voice));
        assert_eq!(inbound_kind("audio", false), Some(AttachmentKind::Audio));
        assert_eq!(inbound_kind("sticker", false), Some(AttachmentKind::Sticker));
        assert_eq!(inbound_kind("text", false), None);
        assert_eq!(message_type(AttachmentKind::Voice), "audio");
        assert!(takes_caption(AttachmentKind::Document) && !takes_caption(AttachmentKind::Sticker));
    }

    #[test]
    fn sha256_is_accepted_in_hex_or_base64() {
        // SHA-256 of "abc".
        let digest: [u8; 32] = [
            0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
            0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
        ];
        assert!(sha256_matches("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", &digest));
        assert!(sha256_matches("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", &digest));
        assert!(sha256_matches("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", &digest));
        assert!(sha256_matches("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0", &digest));
        assert!(!sha256_matches("4654+8g=", &digest));
        assert!(!sha256_matches("", &digest));
    }
}
