//! The outbound-URL guard (SSRF): CRM webhook targets must be http(s), carry no credentials
//! and, unless `PARLEY_WEBHOOK_ALLOW_PRIVATE_TARGETS` allows it, reach only public unicast
//! addresses.
//!
//! A name is resolved **once per connection**, by the HTTP client's own resolver
//! ([`GuardedResolver`]): every address it answers is checked, and the connection can only go
//! to an address that was checked, so DNS rebinding (public at the check, private at connect)
//! has no second answer to exploit. A literal IP in the URL is checked before sending. Redirects
//! are not followed (see the dispatcher's client).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub use crate::config::{Lookup, SystemLookup};
use crate::error::{ApiError, ApiResult};

/// Whether an IPv4 address is one an outside webhook must not target: anything but public
/// unicast (loopback, private, link-local, CGNAT, `0.0.0.0/8`, `192.0.0.0/24` protocol
/// assignments, `198.18.0.0/15` benchmarking, documentation, multicast, `240.0.0.0/4` and
/// broadcast).
fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved, and broadcast
}

/// Whether an address is one an outside webhook must not target. IPv6 addresses that embed an
/// IPv4 one (mapped, compatible, NAT64, 6to4, Teredo) are refused outright: whatever they
/// embed, they reach an IPv4 host through a translator the check cannot see.
#[must_use]
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.to_ipv4_mapped().is_some() // ::ffff:a.b.c.d
        || (s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible ::a.b.c.d (deprecated)
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 64:ff9b::/96 and 64:ff9b:1::/48
        || s[0] == 0x2002 // 6to4
        || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site local fec0::/10 (deprecated)
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
    if !allow_private && host_is_private(&host) {
        return Err(ApiError::bad_input(format!(
            "url targets a private or loopback address, which is not allowed unless the server runs with {ALLOW_SETTING}=true"
        )));
    }
    Ok(parsed)
}

/// Whether a URL's host is private by itself: a private literal address, or a name that can
/// only be local. Other names are checked when they are resolved ([`GuardedResolver`]).
#[must_use]
pub fn host_is_private(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(ip) => is_private(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => is_private(IpAddr::V6(*ip)),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost"
                || name.ends_with(".localhost")
                || name.ends_with(".internal")
                || name.ends_with(".local")
        }
    }
}

/// The resolver of the CRM client: one answer per connection, every address checked, and only
/// checked addresses handed to the connector.
#[derive(Clone)]
pub struct GuardedResolver {
    lookup: Arc<dyn Lookup>,
}

impl std::fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuardedResolver")
    }
}

impl GuardedResolver {
    #[must_use]
    pub fn new(lookup: Arc<dyn Lookup>) -> Self {
        Self { lookup }
    }
}

/// The setting that allows private and loopback targets (for tests and private networks).
pub const ALLOW_SETTING: &str = "PARLEY_WEBHOOK_ALLOW_PRIVATE_TARGETS";

/// Why a resolution was refused (never names the addresses: they may be internal).
#[derive(Debug, thiserror::Error)]
#[error(
    "the endpoint's host resolves to a private or loopback address (allowed only with PARLEY_WEBHOOK_ALLOW_PRIVATE_TARGETS=true)"
)]
pub struct PrivateTarget;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let lookup = self.lookup.lookup(name.as_str().to_owned());
        Box::pin(async move {
            let addresses = lookup.await?;
            if addresses.is_empty() {
                return Err(Box::new(std::io::Error::other("the host has no address"))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            if addresses.iter().any(|ip| is_private(*ip)) {
                return Err(Box::new(PrivateTarget) as Box<dyn std::error::Error + Send + Sync>);
            }
            // The connector sets the URL's port on each address.
            let checked: Addrs = Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(checked)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_allowed() {
        let private = [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.5.4",
            "192.168.0.10",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:db8::1",
            "100::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ];
        for ip in private {
            assert!(is_private(ip.parse().unwrap()), "{ip} must be refused");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[test]
    fn urls_are_checked() {
        assert!(validate_url("https://crm.example.com/hooks/parley", false).is_ok());
        for bad in [
            "ftp://crm.example.com/x",
            "not a url",
            "https://user:pw@crm.example.com/",
            "http://127.0.0.1:8080/",
            "http://localhost/x",
            "http://localhost./x",
            "http://10.1.2.3/",
            "http://192.168.0.10/",
            "http://172.16.5.4/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[::ffff:7f00:1]/",
            "http://0.0.0.0/",
            "http://198.18.0.1/",
            "http://metadata.internal/",
        ] {
            assert!(validate_url(bad, false).is_err(), "{bad}");
        }
        assert!(validate_url("http://127.0.0.1:9000/hook", true).is_ok(), "allowed by the setting");
    }

    use futures::future::BoxFuture;

    struct Fixed(Vec<IpAddr>);

    impl Lookup for Fixed {
        fn lookup(&self, _host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
            let answer = self.0.clone();
            Box::pin(async move { Ok(answer) })
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_with_any_private_address() {
        let name: Name = "crm.example.com".parse().unwrap();
        let public = GuardedResolver::new(Arc::new(Fixed(vec!["93.184.216.34".parse().unwrap()])));
        let addrs: Vec<SocketAddr> = public.resolve(name).await.unwrap().collect();
        assert_eq!(addrs, ["93.184.216.34:0".parse().unwrap()]);
        let mixed = GuardedResolver::new(Arc::new(Fixed(vec![
            "93.184.216.34".parse().unwrap(),
            "127.0.0.1".parse().unwrap(),
        ])));
        assert!(mixed.resolve("crm.example.com".parse().unwrap()).await.is_err());
    }
}
