//! The principal a client certificate names: its first SAN URI (a SPIFFE id,
//! say), else its first SAN DNS name, else its subject's common name.

use rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The principal of a (verified) leaf certificate, or why it names none.
pub fn principal(leaf: &CertificateDer<'_>) -> Result<String, String> {
    let (_, cert) = X509Certificate::from_der(leaf.as_ref())
        .map_err(|e| format!("the client certificate does not parse: {e}"))?;
    let names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san.value.general_names.clone(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(format!("the client certificate's SAN does not parse: {e}")),
    };
    let uri = names.iter().find_map(|n| match n {
        GeneralName::URI(uri) if !uri.is_empty() => Some(uri.to_string()),
        _ => None,
    });
    let dns = || {
        names.iter().find_map(|n| match n {
            GeneralName::DNSName(dns) if !dns.is_empty() => Some(dns.to_string()),
            _ => None,
        })
    };
    let cn = || {
        cert.subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .filter(|cn| !cn.is_empty())
            .map(str::to_string)
    };
    uri.or_else(dns)
        .or_else(cn)
        .ok_or_else(|| "the client certificate names no SAN URI, SAN DNS name or CN".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    fn cert(sans: Vec<SanType>, cn: Option<&str>) -> CertificateDer<'static> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        let key = KeyPair::generate().expect("key");
        params.self_signed(&key).expect("cert").der().clone()
    }

    #[test]
    fn uri_beats_dns_beats_cn() {
        let uri = SanType::URI("spiffe://example.org/ns/shop/sa/indexer".try_into().expect("uri"));
        let dns = SanType::DnsName("indexer.shop.svc".try_into().expect("dns"));
        let all = cert(vec![dns.clone(), uri], Some("indexer"));
        assert_eq!(principal(&all).as_deref(), Ok("spiffe://example.org/ns/shop/sa/indexer"));
        let no_uri = cert(vec![dns], Some("indexer"));
        assert_eq!(principal(&no_uri).as_deref(), Ok("indexer.shop.svc"));
        let cn_only = cert(vec![], Some("indexer"));
        assert_eq!(principal(&cn_only).as_deref(), Ok("indexer"));
        let nothing = cert(vec![], None);
        assert!(principal(&nothing).expect_err("no name").contains("names no SAN URI"));
    }
}
