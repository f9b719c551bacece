//! The outbound-URL guard (SSRF): CRM webhook targets must be http(s), carry no credentials
//! and, unless `PARLEY_WEBHOOK_ALLOW_PRIVATE_TARGETS` allows it, name no loopback, private,
//! link-local or unspecified address. Checked when an endpoint is created and again on every
//! delivery against what the host name resolves to ([`super::dispatcher`]).

use std::net::IpAddr;

use crate::error::{ApiError, ApiResult};

/// Whether an address is one an outside webhook must not target.
#[must_use]
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]) // carrier-grade NAT
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Checks a webhook URL.
///
/// # Errors
/// `BAD_USER_INPUT` naming what is wrong.
pub fn validate_url(url: &str, allow_private: bool) -> ApiResult<reqwest::Url> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| ApiError::bad_input(format!("url: {e}")))?;
    if parsed.scheme() != "https" && parsed.scheme() != "http" {
        return Err(ApiError::bad_input("url must use http or https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ApiError::bad_input("url must not carry credentials"));
    }
    let host = parsed.host().ok_or_else(|| ApiError::bad_input("url needs a host"))?;
    if !allow_private {
        let private = match host {
            url::Host::Ipv4(ip) => is_private(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => is_private(IpAddr::V6(ip)),
            url::Host::Domain(name) => {
                let name = name.to_ascii_lowercase();
                name == "localhost"
                    || name.ends_with(".localhost")
                    || name.ends_with(".internal")
                    || name.ends_with(".local")
            }
        };
        if private {
            return Err(ApiError::bad_input(
                "url targets a private or loopback address, which is not allowed",
            ));
        }
    }
    Ok(parsed)
}
