//! What a request may make the import read or reach: the trust boundary.
//!
//! A request's `metadata` is what a shipper typed into a form, so the URIs it names (source,
//! pattern, profile) are untrusted. [`AccessPolicy`] decides, before any byte is read or sent:
//!
//! - `ALLOWED_SOURCES`: comma-separated URI prefixes. A URI is allowed only if it matches one,
//!   compared after parsing (scheme, host, port, user when the entry names one, and the path on a
//!   `/` boundary, so `s3://carrier-drop-evil/` never matches `s3://carrier-drop/`).
//! - Without it, inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` set): any `s3://` (the role's policy
//!   bounds it), FTP/FTPS/SFTP to public addresses only, and no local files. Outside Lambda (the
//!   CLI): everything.
//! - The network guard: FTP/FTPS/SFTP connect only to the addresses this module resolved and
//!   checked (so DNS cannot answer differently between the check and the connection), and never
//!   to loopback, link-local (the metadata endpoints), private, shared, unspecified or multicast
//!   addresses, unless an `ALLOWED_SOURCES` entry names that host and port: the operator's choice.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpStream;

use super::{Location, Remote};
use crate::error::SourceError;

/// The kinds of URI a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    S3,
    File,
    Ftp,
    Ftps,
    Sftp,
}

impl Scheme {
    fn default_port(self) -> Option<u16> {
        match self {
            Scheme::Ftp | Scheme::Ftps => Some(21),
            Scheme::Sftp => Some(22),
            Scheme::S3 | Scheme::File => None,
        }
    }

    fn is_network(self) -> bool {
        self.default_port().is_some()
    }
}

/// A URI reduced to what rules compare.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    scheme: Scheme,
    /// Bucket for S3, host for servers, empty for files.
    host: String,
    port: Option<u16>,
    user: Option<String>,
    /// Absolute, starting with `/` (an S3 key gets one).
    path: String,
}

impl Target {
    fn of(uri: &str) -> Result<Target, SourceError> {
        let remote = |scheme, r: Remote| Target {
            scheme,
            host: r.host.to_ascii_lowercase(),
            port: Some(r.port),
            user: r.user,
            path: r.path,
        };
        Ok(match Location::parse(uri)? {
            Location::S3 { bucket, key } => Target {
                scheme: Scheme::S3,
                host: bucket,
                port: None,
                user: None,
                path: format!("/{key}"),
            },
            Location::File { path } => Target {
                scheme: Scheme::File,
                host: String::new(),
                port: None,
                user: None,
                path: absolute(&path),
            },
            Location::Ftp(r) => remote(Scheme::Ftp, r),
            Location::Ftps(r) => remote(Scheme::Ftps, r),
            Location::Sftp(r) => remote(Scheme::Sftp, r),
        })
    }

    /// A path that walks up (`..`) or stands still (`.`) could leave any prefix it starts with;
    /// Windows servers split at `\` too, and a NUL ends a path early.
    fn has_dot_segments(&self) -> bool {
        self.path.contains('\0') || self.path.split(['/', '\\']).any(|s| s == "." || s == "..")
    }

    /// S3 names that reach a bucket under another name (access point ARNs and aliases, Object
    /// Lambda) or are no bucket name at all: a way around the state-bucket refusal.
    fn is_odd_bucket(&self) -> bool {
        self.scheme == Scheme::S3
            && (!self
                .host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
                || self.host.ends_with("-s3alias")
                || self.host.ends_with("--ol-s3"))
    }
}

/// A plain relative path, made absolute against the working directory (for comparing only).
fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        return path.to_owned();
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    format!("{}/{path}", cwd.display().to_string().trim_end_matches('/'))
}

/// One `ALLOWED_SOURCES` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    text: String,
    scheme: Scheme,
    /// `None`: any bucket / host (`s3://`, `sftp://`).
    host: Option<String>,
    /// Explicit or the scheme's default; `None` with no host.
    port: Option<u16>,
    user: Option<String>,
    /// The path prefix without its trailing `/` (`""`: everything).
    path: String,
}

impl Rule {
    fn parse(text: &str) -> Result<Rule, String> {
        let (scheme, rest) = match text.split_once("://") {
            Some(("s3", rest)) => (Scheme::S3, rest),
            Some(("file", rest)) => (Scheme::File, rest),
            Some(("ftp", rest)) => (Scheme::Ftp, rest),
            Some(("ftps", rest)) => (Scheme::Ftps, rest),
            Some(("sftp", rest)) => (Scheme::Sftp, rest),
            Some((other, _)) => return Err(format!("{text:?}: unknown scheme {other:?}")),
            None if text.starts_with('/') => (Scheme::File, text),
            None => {
                return Err(format!(
                    "{text:?}: expected a URI prefix such as s3://bucket/dir/ or sftp://host/"
                ));
            }
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let mut rule = Rule {
            text: text.to_owned(),
            scheme,
            host: None,
            port: None,
            user: None,
            path: path.trim_end_matches('/').to_owned(),
        };
        if rule.path.split('/').any(|s| s == "." || s == "..") {
            return Err(format!("{text:?}: `.` and `..` have no place in a prefix"));
        }
        match scheme {
            Scheme::File if !authority.is_empty() => {
                return Err(format!("{text:?}: file prefixes are file:///abs/dir/"));
            }
            Scheme::File => {}
            Scheme::S3 => rule.host = Some(authority.to_owned()).filter(|b| !b.is_empty()),
            _ if authority.is_empty() => {}
            _ => {
                // Reuse the source parser for `[user@]host[:port]`, with a dummy path.
                let remote = super::parse_remote(&format!("{authority}/x"), 0)
                    .map_err(|reason| format!("{text:?}: {reason}"))?;
                rule.host = Some(remote.host.to_ascii_lowercase());
                rule.port = Some(remote.port)
                    .filter(|p| *p != 0)
                    .or(scheme.default_port());
                rule.user = remote.user;
            }
        }
        Ok(rule)
    }

    fn matches(&self, target: &Target) -> bool {
        let host_ok = self.host.as_deref().is_none_or(|h| h == target.host);
        let port_ok = self.host.is_none() || self.port == target.port;
        let user_ok = self.user.is_none() || self.user == target.user;
        let path_ok = self.path.is_empty()
            || (!target.has_dot_segments()
                && target
                    .path
                    .strip_prefix(&self.path)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')));
        self.scheme == target.scheme && host_ok && port_ok && user_ok && path_ok
    }

    /// True when this entry allows `target` and names its server by host and port: the operator
    /// vouches for that server's address.
    fn vouches_for(&self, target: &Target) -> bool {
        self.scheme.is_network() && self.host.is_some() && self.matches(target)
    }
}

/// What a request may name, from `ALLOWED_SOURCES` and where the import runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessPolicy {
    /// `ALLOWED_SOURCES`, parsed; `None` when unset.
    rules: Option<Vec<Rule>>,
    /// Inside Lambda, the defaults are strict; outside (the CLI), they allow everything.
    in_lambda: bool,
    /// Buckets no request may read whatever the list says: the import's own state bucket
    /// (other connections' state and rejected records).
    own_buckets: Vec<String>,
}

impl AccessPolicy {
    /// The policy for `allowed` (`ALLOWED_SOURCES`, comma-separated; `None` or blank: unset).
    pub fn new(allowed: Option<&str>, in_lambda: bool) -> Result<AccessPolicy, String> {
        let rules = match allowed.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(list) => Some(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(Rule::parse)
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(AccessPolicy {
            rules,
            in_lambda,
            own_buckets: Vec::new(),
        })
    }

    /// This policy, also refusing every object of `bucket` (the import's own state bucket).
    pub fn refusing_bucket(mut self, bucket: Option<&str>) -> AccessPolicy {
        self.own_buckets.extend(bucket.map(str::to_owned));
        self
    }

    /// Allows every URI and every address: the CLI's default, and tests'.
    pub fn allow_all() -> AccessPolicy {
        AccessPolicy::default()
    }

    /// Whether `uri` (a source, a pattern, a listed file or a profile URI) may be read.
    pub fn check(&self, uri: &str) -> Result<(), SourceError> {
        let target = Target::of(uri)?;
        let refuse = |rule: String| {
            Err(SourceError::NotAllowed {
                uri: uri.to_owned(),
                rule,
            })
        };
        if target.scheme == Scheme::S3 && self.own_buckets.contains(&target.host) {
            return refuse("the import's own state bucket is never a source".into());
        }
        if target.is_odd_bucket() {
            return refuse(
                "not a plain S3 bucket name (access point ARNs and aliases are refused)".into(),
            );
        }
        match &self.rules {
            Some(rules) if rules.iter().any(|r| r.matches(&target)) => Ok(()),
            // The list itself is the operator's; the requester is told only that it missed.
            Some(_) => refuse("it matches no ALLOWED_SOURCES entry".into()),
            None if self.in_lambda && target.scheme == Scheme::File => refuse(
                "local files are refused inside Lambda unless ALLOWED_SOURCES lists them".into(),
            ),
            None => Ok(()),
        }
    }

    /// Whether credentials given by reference may be sent for `uri`: only to a server an
    /// `ALLOWED_SOURCES` entry names by host and port (the operator vouches for where its secrets
    /// go), or anywhere from the CLI with no list. S3 and local files take no such credentials.
    pub fn vouches(&self, uri: &str) -> Result<(), SourceError> {
        let target = Target::of(uri)?;
        let vouched = match &self.rules {
            _ if !target.scheme.is_network() => true,
            Some(rules) => rules.iter().any(|r| r.vouches_for(&target)),
            None => !self.in_lambda,
        };
        if vouched {
            return Ok(());
        }
        Err(SourceError::NotAllowed {
            uri: uri.to_owned(),
            rule: "a credential reference is resolved only for a server that an ALLOWED_SOURCES entry names by host and port".into(),
        })
    }

    /// Whether connections for `target` must go to public addresses only: unless the one entry
    /// that allows it also names its host and port (scheme, path and user included).
    fn guards(&self, target: &Target) -> bool {
        match &self.rules {
            Some(rules) => !rules.iter().any(|r| r.vouches_for(target)),
            None => self.in_lambda,
        }
    }

    /// Resolves `remote`'s host, checks every address (see the module doc), and connects to
    /// the checked addresses themselves. Nothing is sent to a refused address.
    pub async fn connect(&self, uri: &str, remote: &Remote) -> Result<TcpStream, SourceError> {
        let connect_err = |source| SourceError::Connect {
            uri: uri.to_owned(),
            source,
        };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((remote.host.as_str(), remote.port))
            .await
            .map_err(connect_err)?
            .collect();
        if self.guards(&Target::of(uri)?) {
            for addr in &addrs {
                if let Some(kind) = non_public(addr.ip()) {
                    // The address stays in the operator's log; the requester learns its kind only.
                    tracing::warn!(%uri, address = %addr.ip(), "refused a non-public address");
                    return Err(SourceError::NotAllowed {
                        uri: uri.to_owned(),
                        rule: format!(
                            "{} resolves to a {kind} address; only public addresses are reached unless an ALLOWED_SOURCES entry names this host and port",
                            remote.host,
                        ),
                    });
                }
            }
        }
        TcpStream::connect(&addrs[..]).await.map_err(connect_err)
    }
}

/// Why an address is not public, or `None` when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonPublic {
    Loopback,
    LinkLocal,
    Private,
    Shared,
    Unspecified,
    Multicast,
    Broadcast,
}

impl fmt::Display for NonPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NonPublic::Loopback => "loopback",
            NonPublic::LinkLocal => "link-local (metadata endpoint)",
            NonPublic::Private => "private",
            NonPublic::Shared => "shared (100.64.0.0/10)",
            NonPublic::Unspecified => "unspecified",
            NonPublic::Multicast => "multicast",
            NonPublic::Broadcast => "broadcast",
        })
    }
}

/// The class of a non-public address; IPv4 inside IPv6 (mapped, compatible, NAT64, 6to4) is
/// judged as IPv4.
pub fn non_public(ip: IpAddr) -> Option<NonPublic> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<NonPublic> {
    let [a, b, ..] = ip.octets();
    Some(if ip.is_loopback() {
        NonPublic::Loopback
    } else if ip.is_link_local() {
        NonPublic::LinkLocal
    } else if ip.is_private() {
        NonPublic::Private
    } else if a == 100 && (64..128).contains(&b) {
        NonPublic::Shared
    } else if ip.is_unspecified() || a == 0 {
        NonPublic::Unspecified
    } else if ip.is_multicast() {
        NonPublic::Multicast
    } else if ip.is_broadcast() {
        NonPublic::Broadcast
    } else {
        return None;
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<NonPublic> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // IPv4 carried inside IPv6: NAT64's well-known prefix 64:ff9b::/96 and the deprecated
    // IPv4-compatible ::a.b.c.d (last 32 bits), 6to4 2002::/16 (bits 16..48).
    let [a, b, c, ..] = s;
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || (s[..6] == [0; 6] && s[6] != 0) {
        return non_public_v4(v4(s[6], s[7]));
    }
    if a == 0x2002 {
        return non_public_v4(v4(b, c));
    }
    // Local-use NAT64 (64:ff9b:1::/48) translates into the operator's own networks.
    if [a, b, c] == [0x64, 0xff9b, 1] {
        return Some(NonPublic::Private);
    }
    Some(if ip.is_loopback() {
        NonPublic::Loopback
    } else if ip.is_unspecified() {
        NonPublic::Unspecified
    } else if ip.is_multicast() {
        NonPublic::Multicast
    } else if s[0] & 0xffc0 == 0xfe80 {
        NonPublic::LinkLocal
    } else if s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0 {
        // Unique local (fc00::/7) and the deprecated site-local (fec0::/10).
        NonPublic::Private
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &str) -> AccessPolicy {
        AccessPolicy::new(Some(allowed), true).unwrap()
    }

    fn allowed(p: &AccessPolicy, uri: &str) -> bool {
        match p.check(uri) {
            Ok(()) => true,
            Err(SourceError::NotAllowed { .. }) => false,
            Err(other) => panic!("{uri}: {other}"),
        }
    }

    #[test]
    fn prefixes_match_on_parsed_parts_and_slash_boundaries() {
        let p = policy(
            "s3://carrier-drop/outbound/, sftp://sftp.carrier.example/, ftp://10.0.4.7:2121/in",
        );
        for ok in [
            "s3://carrier-drop/outbound/a.csv",
            "s3://carrier-drop/outbound/*.csv.gz",
            "sftp://sftp.carrier.example/x/TRACK_*.csv",
            "sftp://acme@SFTP.Carrier.Example:22/x.csv",
            "ftp://10.0.4.7:2121/in/a.csv",
            "ftp://10.0.4.7:2121/in",
        ] {
            assert!(allowed(&p, ok), "{ok}");
        }
        for refused in [
            "s3://carrier-drop-evil/outbound/a.csv",
            "s3://carrier-drop/outbound-x/a.csv",
            "s3://carrier-drop/other/a.csv",
            "s3://carrier-drop/outbound/../secret.csv",
            "sftp://sftp.carrier.example:2222/x.csv",
            "sftp://sftp.carrier.example.evil.com/x.csv",
            "ftps://sftp.carrier.example/x.csv",
            "ftp://10.0.4.7/in/a.csv",
            "ftp://10.0.4.7:2121/inbox/a.csv",
            "ftp://10.0.4.7:2121/in/../etc/passwd",
            "ftp://10.0.4.7:2121/in/..\\..\\etc\\passwd",
            "s3://arn:aws:s3:us-east-1:1:accesspoint/carrier-drop/outbound/a.csv",
            "file:///proc/self/environ",
            "/proc/self/environ",
        ] {
            assert!(!allowed(&p, refused), "{refused}");
        }
        let err = p
            .check("file:///proc/self/environ")
            .unwrap_err()
            .to_string();
        assert!(err.contains("file:///proc/self/environ"), "{err}");
        assert!(err.contains("ALLOWED_SOURCES"), "{err}");
    }

    #[test]
    fn lambda_defaults_refuse_local_files_and_allow_s3_and_servers() {
        let lambda = AccessPolicy::new(None, true).unwrap();
        for ok in ["s3://any/k.csv", "sftp://h/x.csv", "ftp://h:2121/x.csv"] {
            assert!(allowed(&lambda, ok), "{ok}");
        }
        for refused in ["file:///proc/self/environ", "/etc/passwd", "events/a.csv"] {
            assert!(!allowed(&lambda, refused), "{refused}");
        }
        let cli = AccessPolicy::new(Some("  "), false).unwrap();
        assert!(allowed(&cli, "/etc/passwd"), "the CLI allows everything");
        let listed = AccessPolicy::new(Some("file:///srv/drop/,/tmp/x"), true).unwrap();
        assert!(allowed(&listed, "file:///srv/drop/a.csv"));
        assert!(allowed(&listed, "/tmp/x/a.csv"));
        assert!(!allowed(&listed, "/tmp/xy/a.csv"));
        assert!(
            !allowed(&listed, "s3://b/k"),
            "a list replaces the defaults"
        );
    }

    #[test]
    fn the_state_bucket_is_never_a_source() {
        for p in [
            AccessPolicy::new(None, true).unwrap(),
            AccessPolicy::new(None, false).unwrap(),
            policy("s3://"),
        ] {
            let p = p.refusing_bucket(Some("state"));
            assert!(!allowed(&p, "s3://state/import-state/x.json"));
            assert!(allowed(&p, "s3://drop/k.csv"));
        }
    }

    #[test]
    fn bad_entries_are_configuration_errors() {
        for bad in [
            "gopher://x/",
            "carrier-drop",
            "file://host/x",
            "ftp://h:0/",
            "s3://b/../x",
        ] {
            assert!(AccessPolicy::new(Some(bad), true).is_err(), "{bad}");
        }
        let any = policy("s3://,sftp://");
        assert!(allowed(&any, "s3://whatever/k"));
        assert!(allowed(&any, "sftp://h/k"));
        assert!(!allowed(&any, "ftp://h/k"));
    }

    #[test]
    fn only_public_addresses_are_public() {
        let class = |s: &str| non_public(s.parse().unwrap());
        for (ip, kind) in [
            ("127.0.0.1", NonPublic::Loopback),
            ("127.8.9.10", NonPublic::Loopback),
            ("169.254.169.254", NonPublic::LinkLocal),
            ("10.1.2.3", NonPublic::Private),
            ("172.16.0.1", NonPublic::Private),
            ("172.31.255.255", NonPublic::Private),
            ("192.168.1.1", NonPublic::Private),
            ("100.64.0.1", NonPublic::Shared),
            ("100.127.255.255", NonPublic::Shared),
            ("0.0.0.0", NonPublic::Unspecified),
            ("0.1.2.3", NonPublic::Unspecified),
            ("224.0.0.1", NonPublic::Multicast),
            ("255.255.255.255", NonPublic::Broadcast),
            ("::1", NonPublic::Loopback),
            ("::", NonPublic::Unspecified),
            ("fe80::1", NonPublic::LinkLocal),
            ("fd00:ec2::254", NonPublic::Private),
            ("fc00::1", NonPublic::Private),
            ("ff02::1", NonPublic::Multicast),
            ("::ffff:127.0.0.1", NonPublic::Loopback),
            ("::ffff:169.254.169.254", NonPublic::LinkLocal),
            ("64:ff9b::a9fe:a9fe", NonPublic::LinkLocal),
            ("::127.0.0.1", NonPublic::Loopback),
            ("2002:a9fe:a9fe::1", NonPublic::LinkLocal),
            ("2002:7f00:1::", NonPublic::Loopback),
            ("64:ff9b:1::a00:1", NonPublic::Private),
        ] {
            assert_eq!(class(ip), Some(kind), "{ip}");
        }
        for public in [
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert_eq!(class(public), None, "{public}");
        }
    }

    #[test]
    fn references_are_resolved_only_for_servers_the_operator_names() {
        let named = policy("sftp://sftp.carrier.example/,sftp://");
        assert!(named.vouches("sftp://sftp.carrier.example/a.csv").is_ok());
        assert!(named.vouches("sftp://attacker.example/a.csv").is_err());
        assert!(
            named.vouches("s3://any/k.csv").is_ok(),
            "no credentials go to S3"
        );
        assert!(
            AccessPolicy::new(None, true)
                .unwrap()
                .vouches("ftp://h/a")
                .is_err()
        );
        assert!(
            AccessPolicy::new(None, false)
                .unwrap()
                .vouches("ftp://h/a")
                .is_ok()
        );
    }

    #[test]
    fn only_the_entry_that_allows_a_uri_can_vouch_for_its_server() {
        let target = |uri: &str| Target::of(uri).unwrap();
        // A wildcard lets the path through; the specific entry names the host for /in only.
        let mixed = policy("ftp://10.0.4.7:2121/in,ftp://,sftp://");
        assert!(!mixed.guards(&target("ftp://10.0.4.7:2121/in/a.csv")));
        assert!(
            mixed.guards(&target("ftp://10.0.4.7:2121/etc/x")),
            "outside /in"
        );
        assert!(
            mixed.guards(&target("sftp://10.0.4.7:2121/in/a.csv")),
            "another scheme"
        );
        let lookalike = policy("s3://carrier-drop/outbound/");
        assert!(!allowed(
            &lookalike,
            "s3://carrier-drop-s3alias/outbound/a.csv"
        ));
    }

    #[tokio::test]
    async fn the_guard_refuses_before_connecting_unless_the_host_is_listed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let uri = format!("ftp://127.0.0.1:{port}/a.csv");
        let remote = |host: &str| Remote {
            host: host.into(),
            port,
            user: None,
            path: "/a.csv".into(),
        };
        let lambda = AccessPolicy::new(None, true).unwrap();
        for host in ["127.0.0.1", "localhost"] {
            let err = lambda.connect(&uri, &remote(host)).await.unwrap_err();
            assert!(matches!(err, SourceError::NotAllowed { .. }), "{err}");
            assert!(err.to_string().contains("loopback"), "{err}");
        }
        let named = policy(&format!("ftp://127.0.0.1:{port}/"));
        named.connect(&uri, &remote("127.0.0.1")).await.unwrap();
        let other_port = policy(&format!("ftp://127.0.0.1:{}/", port.wrapping_add(1)));
        assert!(
            other_port
                .connect(&uri, &remote("127.0.0.1"))
                .await
                .is_err()
        );
        // Exactly the one connection the listed policy made reached the listener.
        let (_first, _) = listener.accept().await.unwrap();
        let more = tokio::time::timeout(std::time::Duration::from_millis(50), listener.accept());
        assert!(more.await.is_err(), "a refused address saw a connection");
    }
}
