//! Certificate pinning: a rustls verifier that accepts exactly one certificate.
//!
//! The agency's endpoint uses a self-signed certificate; its SHA-256 fingerprint travels in
//! the invite code. No CA is involved and the host name is not checked: a certificate whose DER
//! hashes to the pinned fingerprint is the agency's, any other is not. Handshake signatures are
//! still verified (with the ring provider's algorithms), so only the holder of the certificate's
//! key can complete the handshake.

use std::sync::Arc;

use ring::digest::{digest, SHA256};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, OtherError, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::{Result, SyncError};

/// The rejection our verifier puts inside the rustls error, found again when mapping errors.
#[derive(Clone, Debug, thiserror::Error)]
#[error("the server's certificate has fingerprint {presented}, not the pinned {expected}")]
pub(crate) struct PinMismatch {
    pub(crate) expected: String,
    pub(crate) presented: String,
}

/// Parses a hex SHA-256 fingerprint (64 hex digits; `:` separators and case are ignored).
pub(crate) fn parse_fingerprint(hex_fp: &str) -> Result<[u8; 32]> {
    let cleaned: String = hex_fp.trim().chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(&cleaned).ok().filter(|b| b.len() == 32).ok_or_else(|| {
        SyncError::config(format!(
            "the certificate fingerprint {hex_fp:?} is not a SHA-256 fingerprint (64 hex digits); take it from the invite code again"
        ))
    })?;
    let mut fp = [0u8; 32];
    fp.copy_from_slice(&bytes);
    Ok(fp)
}

#[derive(Debug)]
struct PinnedCert {
    fingerprint: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, TlsError> {
        let presented = digest(&SHA256, end_entity.as_ref());
        if ct_eq(presented.as_ref(), &self.fingerprint) {
            return Ok(ServerCertVerified::assertion());
        }
        let mismatch = PinMismatch { expected: hex::encode(self.fingerprint), presented: hex::encode(presented.as_ref()) };
        Err(TlsError::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(mismatch)))))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Compares in constant time (as casebridge-core does; ring keeps the function, deprecated).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    #[allow(deprecated)]
    ring::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// A rustls client configuration (ring provider, TLS 1.2 and 1.3) that trusts exactly the
/// certificate with this SHA-256 fingerprint.
pub(crate) fn client_config(fingerprint: [u8; 32]) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedCert { fingerprint, provider: provider.clone() });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SyncError::config(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A rustls client configuration that trusts exactly the certificate whose SHA-256 is the hex
/// fingerprint `cert_fp` (as an invite code carries it): the verifier [`crate::HttpTransport`]
/// uses, for callers that open their own connections to an endpoint (raw TLS streams, another
/// HTTP client), so that none of them needs a verifier of its own.
pub fn pinned_client_config(cert_fp: &str) -> Result<rustls::ClientConfig> {
    client_config(parse_fingerprint(cert_fp)?)
}

/// Finds our pin rejection anywhere in an error's chain (rustls errors travel inside
/// `io::Error`s, whose `source()` skips the wrapped error, so those are opened explicitly).
pub(crate) fn find_mismatch(err: &(dyn std::error::Error + 'static)) -> Option<PinMismatch> {
    let mut current = Some(err);
    let mut depth = 0;
    while let Some(e) = current {
        depth += 1;
        if depth > 32 {
            return None;
        }
        if let Some(m) = e.downcast_ref::<PinMismatch>() {
            return Some(m.clone());
        }
        if let Some(TlsError::InvalidCertificate(CertificateError::Other(other))) = e.downcast_ref::<TlsError>() {
            if let Some(m) = other.0.downcast_ref::<PinMismatch>() {
                return Some(m.clone());
            }
        }
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            if let Some(m) = find_mismatch(inner) {
                return Some(m);
            }
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fingerprints_parse_strictly() {
        let hex64 = "ab".repeat(32);
        assert_eq!(parse_fingerprint(&hex64).unwrap(), [0xab; 32]);
        assert_eq!(parse_fingerprint(&hex64.to_uppercase()).unwrap(), [0xab; 32]);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(parse_fingerprint(&colons).unwrap(), [0xab; 32]);
        for bad in ["", "ab", &"zz".repeat(32), &"ab".repeat(33)] {
            let e = parse_fingerprint(bad).unwrap_err();
            assert!(e.to_string().contains("64 hex digits"), "{e}");
        }
    }

    #[test]
    fn verifier_accepts_only_the_pinned_certificate() {
        let der = CertificateDer::from(vec![1u8, 2, 3]);
        let fp: [u8; 32] = digest(&SHA256, &[1, 2, 3]).as_ref().try_into().unwrap();
        let v = PinnedCert { fingerprint: fp, provider: Arc::new(rustls::crypto::ring::default_provider()) };
        let name = ServerName::try_from("localhost").unwrap();
        assert!(v.verify_server_cert(&der, &[], &name, &[], UnixTime::now()).is_ok());
        let other = CertificateDer::from(vec![1u8, 2, 4]);
        let err = v.verify_server_cert(&other, &[], &name, &[], UnixTime::now()).unwrap_err();
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, err);
        let m = find_mismatch(&io).unwrap();
        assert_eq!(m.expected, hex::encode(fp));
        assert_eq!(m.presented, hex::encode(digest(&SHA256, &[1, 2, 4])));
    }
}
