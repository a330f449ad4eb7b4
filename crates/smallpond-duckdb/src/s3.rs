//! The few S3 requests DuckDB has no SQL for, which publishing a result into a bucket
//! needs: copying an object within the store (server-side, no data through us) and
//! deleting one. Signed with AWS Signature Version 4, with the same settings
//! ([`S3Options`]) that DuckDB's httpfs gets; reading and writing data is DuckDB's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use smallpond_core::storage::S3Options;

use crate::{Error, Result};

/// `s3://bucket/key` split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub bucket: String,
    pub key: String,
}

impl Object {
    pub fn parse(url: &str) -> Result<Object> {
        let rest = url
            .split_once("://")
            .map(|(_, rest)| rest)
            .ok_or_else(|| Error::InvalidInput(format!("{url} is not an s3:// URL")))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::InvalidInput(format!("{url} names no bucket")));
        }
        Ok(Object {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }
}

/// A client of one S3-compatible store.
pub struct Client {
    options: S3Options,
    agent: ureq::Agent,
}

/// What a request did not do, with the store's own words (`NoSuchBucket`, ...).
fn failed(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::Storage {
        what: what.to_string(),
        message: detail.to_string(),
    }
}

impl Client {
    pub fn new(options: Option<&S3Options>) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build();
        Client {
            options: options.cloned().unwrap_or_default(),
            agent: config.into(),
        }
    }

    fn region(&self) -> &str {
        self.options.region.as_deref().unwrap_or("us-east-1")
    }

    /// The request URL of `key` in `bucket`, and its path as signed (URI-encoded).
    fn url(&self, object: &Object) -> (String, String, String) {
        let tls = self.options.use_ssl.unwrap_or(true);
        let scheme = if tls { "https" } else { "http" };
        let endpoint = self
            .options
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("s3.{}.amazonaws.com", self.region()));
        let key = uri_encode(&object.key, false);
        let (host, path) = match self.options.url_style.as_deref() {
            Some("path") => (
                endpoint,
                format!("/{}/{key}", uri_encode(&object.bucket, true)),
            ),
            _ => (format!("{}.{endpoint}", object.bucket), format!("/{key}")),
        };
        (format!("{scheme}://{host}{path}"), host, path)
    }

    /// Copies `from` to `to` inside the store (one request, whatever the size up to 5 GB).
    pub fn copy(&self, from: &Object, to: &Object) -> Result<()> {
        let source = format!(
            "/{}/{}",
            uri_encode(&from.bucket, true),
            uri_encode(&from.key, false)
        );
        let what = format!(
            "copy s3://{}/{} to s3://{}/{}",
            from.bucket, from.key, to.bucket, to.key
        );
        let (status, body) = self.send("PUT", to, &[("x-amz-copy-source", source)], &what)?;
        // A copy can fail after its 200 status line: the error is then the body.
        if status != 200 || body.contains("<Error>") {
            return Err(failed(&what, describe(status, &body)));
        }
        Ok(())
    }

    /// Deletes an object; one that does not exist is not an error (S3 says 204 for it).
    pub fn delete(&self, object: &Object) -> Result<()> {
        let what = format!("delete s3://{}/{}", object.bucket, object.key);
        let (status, body) = self.send("DELETE", object, &[], &what)?;
        if !(200..300).contains(&status) && status != 404 {
            return Err(failed(&what, describe(status, &body)));
        }
        Ok(())
    }

    fn send(
        &self,
        method: &str,
        object: &Object,
        extra: &[(&str, String)],
        what: &str,
    ) -> Result<(u16, String)> {
        let (url, host, path) = self.url(object);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), host),
            ("x-amz-content-sha256".into(), EMPTY_SHA256.into()),
            ("x-amz-date".into(), amz_date(now)),
        ];
        if let Some(token) = &self.options.session_token {
            headers.push(("x-amz-security-token".into(), token.clone()));
        }
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        headers.sort();
        let authorization = match (&self.options.access_key_id, &self.options.secret_access_key) {
            (Some(id), Some(secret)) => Some(authorization(
                method,
                &path,
                &headers,
                id,
                secret,
                self.region(),
                now,
            )),
            _ => None, // anonymous: a public bucket
        };
        let request = http_request(method, &url, &headers, authorization)?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| failed(what, format!("{e} (is the store at {url} up?)")))?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        Ok((status, body))
    }
}

fn http_request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    authorization: Option<String>,
) -> Result<ureq::http::Request<()>> {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        if name != "host" {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    if let Some(auth) = authorization {
        builder = builder.header("authorization", auth);
    }
    builder
        .body(())
        .map_err(|e| Error::InvalidInput(format!("S3 request {method} {url}: {e}")))
}

/// The store's error code and message from its XML body, or the HTTP status.
fn describe(status: u16, body: &str) -> String {
    let tag = |name: &str| {
        let start = body.find(&format!("<{name}>"))? + name.len() + 2;
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].to_string())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("HTTP {status} {code}: {message}"),
        (Some(code), None) => format!("HTTP {status} {code}"),
        _ => format!("HTTP {status}"),
    }
}

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The `Authorization` header of a request with an empty body (Signature Version 4);
/// `headers` are sorted by their lower-case names, all of them signed.
fn authorization(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    key_id: &str,
    secret: &str,
    region: &str,
    now: u64,
) -> String {
    let amz_date = amz_date(now);
    let day = &amz_date[..8];
    let canonical_headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical = format!("{method}\n{path}\n\n{canonical_headers}\n{signed}\n{EMPTY_SHA256}");
    let scope = format!("{day}/{region}/s3/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), day);
    for part in [region, "s3", "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex(&hmac(&key, &to_sign));
    format!("AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed}, Signature={signature}")
}

/// `YYYYMMDDTHHMMSSZ` of a Unix time.
fn amz_date(secs: u64) -> String {
    let [y, m, d, h, min, s] = smallpond_core::job::utc(secs);
    format!("{y:04}{m:02}{d:02}T{h:02}{min:02}{s:02}Z")
}

/// S3's URI encoding: every byte but `A-Za-z0-9-._~` (and `/`, unless `slash`) as `%XX`.
fn uri_encode(text: &str, slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if !slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
        assert_eq!(amz_date(951_782_400 + 3661), "20000229T010101Z");
    }

    /// AWS's published example of a signed GET (the S3 Signature Version 4 documentation,
    /// "Example: GET Object", with an empty body): its signature is known.
    #[test]
    fn signature_matches_aws_documented_example() {
        let headers: Vec<(String, String)> = vec![
            ("host".into(), "examplebucket.s3.amazonaws.com".into()),
            ("range".into(), "bytes=0-9".into()),
            ("x-amz-content-sha256".into(), EMPTY_SHA256.into()),
            ("x-amz-date".into(), "20130524T000000Z".into()),
        ];
        let auth = authorization(
            "GET",
            "/test.txt",
            &headers,
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "us-east-1",
            1_369_353_600,
        );
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn urls_split_and_encode() {
        let o = Object::parse("s3://bkt/a b/c+d.parquet").unwrap();
        assert_eq!(
            (o.bucket.as_str(), o.key.as_str()),
            ("bkt", "a b/c+d.parquet")
        );
        assert_eq!(uri_encode(&o.key, false), "a%20b/c%2Bd.parquet");
        assert!(Object::parse("s3:///k").is_err());
        let path = S3Options {
            endpoint: Some("127.0.0.1:9000".into()),
            url_style: Some("path".into()),
            use_ssl: Some(false),
            ..Default::default()
        };
        let (url, host, _) = Client::new(Some(&path)).url(&o);
        assert_eq!(url, "http://127.0.0.1:9000/bkt/a%20b/c%2Bd.parquet");
        assert_eq!(host, "127.0.0.1:9000");
        let (url, _, _) = Client::new(None).url(&o);
        assert_eq!(
            url,
            "https://bkt.s3.us-east-1.amazonaws.com/a%20b/c%2Bd.parquet"
        );
    }
}
