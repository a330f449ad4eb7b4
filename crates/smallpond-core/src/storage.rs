//! Where data lives: local (or mounted shared) file systems, S3-compatible object stores
//! (`s3://bucket/key`) and, for reading, HTTP(S) servers.
//!
//! Paths stay `PathBuf`s everywhere; a path whose text starts with a URL scheme is a URL.
//! How to reach S3 ([`S3Options`]) is plain data that travels with the tasks that need it.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Where a path points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// A path of this machine's file system (local or a mount of a shared one).
    Local,
    /// `s3://bucket/key` (also `s3a://`, `s3n://`): an S3-compatible object store.
    S3,
    /// `http://` or `https://`: read-only, one file per URL (HTTP cannot list).
    Http,
}

impl Scheme {
    /// The scheme of `path`: local unless it starts with `<scheme>://`. A scheme other than
    /// those above is an error that names it.
    pub fn of(path: &Path) -> Result<Scheme> {
        let text = path.to_string_lossy();
        let Some((scheme, _)) = text.split_once("://") else {
            return Ok(Scheme::Local);
        };
        let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !is_scheme {
            return Ok(Scheme::Local);
        }
        match scheme.to_ascii_lowercase().as_str() {
            "s3" | "s3a" | "s3n" => Ok(Scheme::S3),
            "http" | "https" => Ok(Scheme::Http),
            _ => Err(Error::UnsupportedScheme {
                path: text.to_string(),
                scheme: scheme.to_string(),
            }),
        }
    }

    pub fn is_remote(self) -> bool {
        self != Scheme::Local
    }
}

/// Whether `path` is a URL of a supported remote store (an unsupported scheme is not).
pub fn is_remote(path: &Path) -> bool {
    Scheme::of(path).is_ok_and(Scheme::is_remote)
}

/// What a listing of a remote store tells of a file: its identity for fingerprints (a
/// changed object changes it) and its size for planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub size: u64,
    /// Last modification, Unix time in microseconds.
    pub modified_us: i64,
}

/// How to reach an S3-compatible store. Unset fields take DuckDB's defaults (region
/// `us-east-1`, AWS's endpoint, virtual-host URLs, TLS, anonymous requests without keys).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Options {
    /// `host[:port]`; an `http://` URL given as endpoint also turns TLS off.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// `path` (`endpoint/bucket/key`, what MinIO, Ceph and moto serve) or `vhost`.
    pub url_style: Option<String>,
    pub use_ssl: Option<bool>,
}

/// The keys `S3Options::set` accepts (as `storage_options` in Python: Polars' and
/// object_store's names, with or without their `aws_` prefix).
pub const S3_OPTION_KEYS: &[&str] = &[
    "aws_endpoint_url",
    "aws_region",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_url_style",
    "aws_use_ssl",
    "aws_virtual_hosted_style_request",
    "aws_allow_http",
];

impl S3Options {
    /// What the environment says, as for the AWS tools: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` (or `AWS_DEFAULT_REGION`),
    /// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut options = S3Options {
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
            ..Default::default()
        };
        if let Some(url) = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")) {
            options.set_endpoint(&url);
        }
        options
    }

    /// Sets one option by name (see [`S3_OPTION_KEYS`]); an unknown name or a bad value is
    /// an error that says what is accepted.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let lower = key.to_ascii_lowercase();
        let name = lower.strip_prefix("aws_").unwrap_or(&lower);
        let flag = |v: &str| match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(Error::invalid(key, format!("{v:?} is not true or false"))),
        };
        match name {
            "endpoint_url" | "endpoint" => self.set_endpoint(value),
            "region" | "default_region" => self.region = Some(value.to_string()),
            "access_key_id" | "key_id" => self.access_key_id = Some(value.to_string()),
            "secret_access_key" | "secret" => self.secret_access_key = Some(value.to_string()),
            "session_token" | "token" => self.session_token = Some(value.to_string()),
            "url_style" => match value {
                "path" | "vhost" => self.url_style = Some(value.to_string()),
                _ => {
                    return Err(Error::invalid(
                        key,
                        format!("{value:?} is not path or vhost"),
                    ))
                }
            },
            "virtual_hosted_style_request" => {
                let vhost = flag(value)?;
                self.url_style = Some(if vhost { "vhost" } else { "path" }.to_string());
            }
            "use_ssl" => self.use_ssl = Some(flag(value)?),
            "allow_http" => self.use_ssl = Some(!flag(value)?),
            _ => {
                return Err(Error::invalid(
                    key,
                    format!(
                        "not a storage option; the options are {}",
                        S3_OPTION_KEYS.join(", ")
                    ),
                ))
            }
        }
        Ok(())
    }

    /// An endpoint as a URL (`http://127.0.0.1:9000`) or as `host[:port]`. A custom
    /// endpoint is addressed path-style unless told otherwise: S3-compatible servers
    /// (MinIO, Ceph, moto) serve it, and a bucket name as a host name needs DNS for it.
    fn set_endpoint(&mut self, url: &str) {
        let url = url.trim_end_matches('/');
        let host = match url.split_once("://") {
            Some((scheme, host)) => {
                self.use_ssl = Some(!scheme.eq_ignore_ascii_case("http"));
                host
            }
            None => url,
        };
        self.endpoint = Some(host.to_string());
        self.url_style.get_or_insert_with(|| "path".to_string());
    }

    /// These options with `other`'s set fields in place of their own.
    pub fn overridden_by(self, other: &S3Options) -> S3Options {
        let pick = |a: Option<String>, b: &Option<String>| b.clone().or(a);
        S3Options {
            endpoint: pick(self.endpoint, &other.endpoint),
            region: pick(self.region, &other.region),
            access_key_id: pick(self.access_key_id, &other.access_key_id),
            secret_access_key: pick(self.secret_access_key, &other.secret_access_key),
            session_token: pick(self.session_token, &other.session_token),
            url_style: pick(self.url_style, &other.url_style),
            use_ssl: other.use_ssl.or(self.use_ssl),
        }
    }
}

/// Secrets are not printed (task attempts are logged with `{:?}`).
impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<hidden>");
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .field("url_style", &self.url_style)
            .field("use_ssl", &self.use_ssl)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_told_apart_and_unknown_ones_named() {
        let of = |p: &str| Scheme::of(Path::new(p));
        assert_eq!(of("/data/x.parquet").unwrap(), Scheme::Local);
        assert_eq!(of("relative/a:b").unwrap(), Scheme::Local);
        assert_eq!(of("s3://bucket/k").unwrap(), Scheme::S3);
        assert_eq!(of("S3A://bucket/k").unwrap(), Scheme::S3);
        assert_eq!(of("https://host/x.csv").unwrap(), Scheme::Http);
        let err = of("gopher://host/x").unwrap_err();
        assert!(
            err.to_string()
                .contains("gopher:// scheme is not supported"),
            "{err}"
        );
    }

    #[test]
    fn endpoint_urls_set_tls_and_path_style() {
        let mut o = S3Options::default();
        o.set("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/").unwrap();
        assert_eq!(o.endpoint.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(o.use_ssl, Some(false));
        assert_eq!(o.url_style.as_deref(), Some("path"));
        o.set("url_style", "vhost").unwrap();
        o.set("endpoint", "minio.internal:443").unwrap();
        assert_eq!(
            o.url_style.as_deref(),
            Some("vhost"),
            "an explicit style stays"
        );
        assert!(o.set("aws_use_ssl", "maybe").is_err());
        let err = o.set("aws_acess_key_id", "k").unwrap_err();
        assert!(err.to_string().contains("aws_access_key_id"), "{err}");
    }

    #[test]
    fn user_options_override_the_environment_and_secrets_are_not_printed() {
        let env = S3Options {
            region: Some("eu-west-1".into()),
            access_key_id: Some("env-key".into()),
            secret_access_key: Some("env-secret".into()),
            ..Default::default()
        };
        let user = S3Options {
            access_key_id: Some("user-key".into()),
            secret_access_key: Some("user-secret".into()),
            ..Default::default()
        };
        let o = env.overridden_by(&user);
        assert_eq!(o.region.as_deref(), Some("eu-west-1"));
        assert_eq!(o.access_key_id.as_deref(), Some("user-key"));
        let shown = format!("{o:?}");
        assert!(
            !shown.contains("user-secret") && shown.contains("<hidden>"),
            "{shown}"
        );
    }
}
