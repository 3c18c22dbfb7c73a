//! The endpoint's TLS certificate: self-signed (members pin it by fingerprint, there is no
//! certificate authority), made once per agency directory.
//!
//! ```text
//! AGENCY/tls/cert.der   the certificate, DER (SANs 127.0.0.1, ::1, localhost)
//! AGENCY/tls/key.cbk    its private key (PKCS#8), sealed with the agency passphrase
//!                       (casebridge-core key file, label "agency-tls")
//! ```
//! The fingerprint is the SHA-256 of `cert.der`, hex ([`cert_fingerprint`]); invite codes carry it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use casebridge_core::{KdfParams, Passphrase};
use casebridge_trust::Agency;
use chrono::{Datelike, Utc};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

use crate::error::{AgencyError, Result};
use crate::fsutil;

/// Folder of the certificate and key inside the agency directory.
pub const TLS_DIR: &str = "tls";
/// The certificate file (DER).
pub const CERT_FILE: &str = "cert.der";
/// The sealed private key file.
pub const KEY_FILE: &str = "key.cbk";
/// Key file label of the TLS key (a key file of another kind cannot be passed off as this one).
pub const KEY_LABEL: &str = "agency-tls";
/// Names the certificate is valid for.
pub const SUBJECT_ALT_NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];
/// Years the certificate is valid (members pin it; renewing means re-inviting).
pub const VALIDITY_YEARS: i32 = 20;

/// The endpoint's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// SHA-256 of the DER certificate, hex: what invite codes carry and clients pin.
    pub fingerprint: String,
    /// Where the certificate is.
    pub cert_path: PathBuf,
    /// True when this call made it.
    pub created: bool,
}

fn cert_path(dir: &Path) -> PathBuf {
    dir.join(TLS_DIR).join(CERT_FILE)
}

fn key_path(dir: &Path) -> PathBuf {
    dir.join(TLS_DIR).join(KEY_FILE)
}

/// Makes the certificate and its sealed key unless they exist (then returns the existing one).
/// The agency directory must exist. The key is sealed under `passphrase` with `kdf`.
pub fn ensure_certificate(dir: &Path, passphrase: &Passphrase, kdf: KdfParams) -> Result<CertInfo> {
    let (public, _) = Agency::read_public(dir)?;
    let cert = cert_path(dir);
    let key = key_path(dir);
    if cert.exists() {
        if !key.exists() {
            return Err(AgencyError::Tls(format!(
                "{} exists but its key {} is missing; move the {TLS_DIR} folder away to make a new certificate (members must then be invited again)",
                cert.display(),
                key.display()
            )));
        }
        return Ok(CertInfo { fingerprint: cert_fingerprint(dir)?, cert_path: cert, created: false });
    }
    fsutil::private_dir(&dir.join(TLS_DIR))?;
    let key_pair = rcgen::KeyPair::generate().map_err(|e| AgencyError::Tls(format!("could not generate a key: {e}")))?;
    let mut params = rcgen::CertificateParams::new(SUBJECT_ALT_NAMES.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .map_err(|e| AgencyError::Tls(format!("certificate names: {e}")))?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, format!("{} endpoint", public.name));
    dn.push(rcgen::DnType::OrganizationName, public.name.clone());
    params.distinguished_name = dn;
    // Valid from yesterday so a client clock slightly behind does not refuse it.
    let from = Utc::now() - chrono::Duration::days(1);
    let ymd = |y: i32, m: u32, d: u32| rcgen::date_time_ymd(y, u8::try_from(m).unwrap_or(1), u8::try_from(d).unwrap_or(1));
    params.not_before = ymd(from.year(), from.month(), from.day());
    params.not_after = ymd(from.year() + VALIDITY_YEARS, from.month(), from.day().min(28));
    let certificate = params.self_signed(&key_pair).map_err(|e| AgencyError::Tls(format!("could not sign the certificate: {e}")))?;
    let pkcs8 = Zeroizing::new(key_pair.serialize_der());
    // The key first: the certificate's presence marks a complete pair.
    casebridge_core::write_keyfile(&key, KEY_LABEL, passphrase, kdf, &pkcs8, true)?;
    fsutil::write_atomic(&cert, certificate.der())?;
    Ok(CertInfo { fingerprint: fingerprint_of(certificate.der()), cert_path: cert, created: true })
}

/// Hex SHA-256 of the certificate in `dir` (what invite codes carry and clients pin).
pub fn cert_fingerprint(dir: &Path) -> Result<String> {
    let path = cert_path(dir);
    let der = fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AgencyError::Tls(format!(
            "the endpoint has no certificate yet ({} is missing): start it once with `casebridge agency serve`",
            path.display()
        )),
        _ => AgencyError::io("reading", &path)(e),
    })?;
    Ok(fingerprint_of(&der))
}

fn fingerprint_of(der: &[u8]) -> String {
    casebridge_core::to_hex(&casebridge_core::sha256(der))
}

/// Loads the certificate and unlocks its key into a rustls server configuration (ring
/// provider, TLS 1.3 and 1.2, HTTP/1.1 by ALPN).
pub fn server_config(dir: &Path, passphrase: &Passphrase) -> Result<Arc<rustls::ServerConfig>> {
    let path = cert_path(dir);
    let der = fs::read(&path).map_err(AgencyError::io("reading", &path))?;
    let pkcs8 = casebridge_core::read_keyfile(&key_path(dir), KEY_LABEL, passphrase).map_err(|e| match e {
        casebridge_core::Error::WrongPassphrase => {
            AgencyError::Tls("wrong agency passphrase: the TLS key could not be unlocked (nothing was changed)".into())
        }
        e => AgencyError::Store(e),
    })?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.to_vec()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AgencyError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(der)], key)
        .map_err(|e| AgencyError::Tls(format!("the certificate and its key do not load: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_is_made_once_and_loads() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("agency");
        let pass = Passphrase::new("agency passphrase!");
        drop(Agency::init(&dir, "Test Police", &pass, KdfParams::INSECURE_FOR_TESTS).unwrap());
        assert!(cert_fingerprint(&dir).unwrap_err().to_string().contains("agency serve"));
        let first = ensure_certificate(&dir, &pass, KdfParams::INSECURE_FOR_TESTS).unwrap();
        assert!(first.created);
        assert_eq!(first.fingerprint.len(), 64);
        let again = ensure_certificate(&dir, &pass, KdfParams::INSECURE_FOR_TESTS).unwrap();
        assert!(!again.created);
        assert_eq!(again.fingerprint, first.fingerprint);
        assert_eq!(cert_fingerprint(&dir).unwrap(), first.fingerprint);
        server_config(&dir, &pass).unwrap();
        let wrong = server_config(&dir, &Passphrase::new("not the passphrase")).unwrap_err();
        assert!(wrong.to_string().contains("wrong agency passphrase"), "{wrong}");
    }
}
