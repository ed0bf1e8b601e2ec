//! TLS helpers for the tests of chapters 04 and 18.
//!
//! Certificates are made at run time with rcgen, so no private key ever lives in the repo.
//! Each one is written to its own temporary directory (removed when the `CertFiles` is
//! dropped), because the programs under test read them from files, as a learner's would.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::{fs, process};

use native_tls::{Certificate, Identity, TlsAcceptor, TlsConnector, TlsStream};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, date_time_ymd};

use super::TIMEOUT;

/// A certificate and its private key (PKCS#8 PEM), in files in a temporary directory.
pub struct CertFiles {
    pub dir: PathBuf,
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// Its private key, PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    pub key: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
}

impl CertFiles {
    fn write(cert_pem: String, key_pem: String) -> CertFiles {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "workbook-tls-{}-{}",
            process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(&dir).expect("could not make a temporary directory");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        fs::write(&cert, &cert_pem).unwrap();
        fs::write(&key, &key_pem).unwrap();
        CertFiles {
            dir,
            cert,
            key,
            cert_pem,
            key_pem,
        }
    }

    /// The certificate's path as a string, for command lines.
    pub fn cert_arg(&self) -> &str {
        self.cert.to_str().unwrap()
    }

    /// The key's path as a string, for command lines.
    pub fn key_arg(&self) -> &str {
        self.key.to_str().unwrap()
    }

    /// A server-side TLS acceptor that shows this certificate.
    pub fn acceptor(&self) -> TlsAcceptor {
        let identity = Identity::from_pkcs8(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
            .expect("rcgen makes a usable identity");
        TlsAcceptor::new(identity).expect("a TLS acceptor")
    }

    /// A client-side TLS connector that trusts this certificate (and nothing else added).
    pub fn connector(&self) -> TlsConnector {
        let cert = Certificate::from_pem(self.cert_pem.as_bytes()).unwrap();
        TlsConnector::builder()
            .add_root_certificate(cert)
            .build()
            .expect("a TLS connector")
    }
}

impl Drop for CertFiles {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, like scripts/make_cert.sh makes.
pub fn localhost() -> CertFiles {
    self_signed(&["localhost", "127.0.0.1"])
}

/// A self-signed certificate for the given DNS names and IP addresses.
pub fn self_signed(for_names: &[&str]) -> CertFiles {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(names(for_names))
        .unwrap()
        .self_signed(&key)
        .unwrap();
    CertFiles::write(cert.pem(), key.serialize_pem())
}

/// A self-signed certificate for localhost that expired in 2001.
pub fn expired() -> CertFiles {
    expired_for(&["localhost", "127.0.0.1"])
}

/// A self-signed certificate for the given names that expired in 2001.
pub fn expired_for(for_names: &[&str]) -> CertFiles {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(names(for_names)).unwrap();
    params.not_before = date_time_ymd(2000, 1, 1);
    params.not_after = date_time_ymd(2001, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    CertFiles::write(cert.pem(), key.serialize_pem())
}

/// A made-up certificate authority (CA) that can sign certificates: a root, or an intermediate
/// signed by another authority. Every authority gets the name it is given (`CN=...`) and a
/// subject key identifier, and every certificate it signs names it by both (issuer name and
/// authority key identifier), so OpenSSL finds the right issuer however many CAs it trusts.
pub struct Authority {
    /// The authority's own certificate and key, in files.
    pub files: CertFiles,
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Authority {
    /// A self-signed root CA named `CN=<name>`.
    pub fn root(name: &str) -> Authority {
        let key = KeyPair::generate().unwrap();
        let cert = Authority::params(name).self_signed(&key).unwrap();
        Authority::new(cert, key)
    }

    /// An intermediate CA named `CN=<name>`, signed by this authority.
    pub fn intermediate(&self, name: &str) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = Authority::params(name);
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Authority::new(cert, key)
    }

    /// A certificate for localhost and 127.0.0.1, signed by this authority.
    pub fn localhost(&self) -> CertFiles {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names(&["localhost", "127.0.0.1"])).unwrap();
        // Distinct names matter: a certificate whose issuer name equals its subject name
        // counts as self-signed, and rcgen gives every certificate the same name unless told.
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        CertFiles::write(cert.pem(), key.serialize_pem())
    }

    fn params(name: &str) -> CertificateParams {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained); // also writes the key id
        params.distinguished_name.push(DnType::CommonName, name);
        params
    }

    fn new(cert: rcgen::Certificate, key: KeyPair) -> Authority {
        Authority {
            files: CertFiles::write(cert.pem(), key.serialize_pem()),
            cert,
            key,
        }
    }
}

/// A certificate for localhost signed by a made-up authority (CA); returns the server's
/// certificate and the CA's (whose file a client can be told to trust).
pub fn signed_by_a_ca() -> (CertFiles, CertFiles) {
    let ca = Authority::root("Workbook Test CA");
    (ca.localhost(), ca.files)
}

/// Connects to `addr` over TCP (with timeouts) and runs a TLS handshake as `host`, trusting
/// `trust`. Panics if the handshake fails.
pub fn connect_tls(
    addr: std::net::SocketAddr,
    trust: &CertFiles,
    host: &str,
) -> TlsStream<TcpStream> {
    let tcp = super::connect(addr);
    trust
        .connector()
        .connect(host, tcp)
        .unwrap_or_else(|e| panic!("TLS handshake with {addr} as {host} failed: {e}"))
}

/// Reads once (up to 64 KiB) from a TLS stream; panics on timeout or error.
pub fn read_once<S: Read + Write>(stream: &mut TlsStream<S>) -> Vec<u8> {
    let mut buffer = vec![0u8; 65536];
    let n = loop {
        match stream.read(&mut buffer) {
            Ok(n) => break n,
            // A signal (SIGCHLD from another test's child), not a failure: read again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("TLS read failed (timeout {TIMEOUT:?}): {e}"),
        }
    };
    buffer.truncate(n);
    buffer
}

/// A TCP stream that keeps a copy of every byte read from it, so that a test can look at the
/// TLS records the peer sent, not only at what TLS decrypted.
///
/// Why: native-tls reads a close WITH close_notify and one WITHOUT it both as end of stream
/// (`Ok(0)`), so a 0-byte read proves nothing about the goodbye. The record headers do.
#[derive(Debug)]
pub struct Recorder {
    pub tcp: TcpStream,
    /// Every byte read so far.
    pub received: Arc<Mutex<Vec<u8>>>,
}

impl Recorder {
    pub fn new(tcp: TcpStream) -> Recorder {
        Recorder {
            tcp,
            received: Arc::default(),
        }
    }
}

impl Read for Recorder {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buffer)?;
        self.received
            .lock()
            .unwrap()
            .extend_from_slice(&buffer[..n]);
        Ok(n)
    }
}

impl Write for Recorder {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.tcp.write(bytes)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// The content type of each TLS record in `bytes`: 20 change cipher spec, 21 alert,
/// 22 handshake, 23 application data. (Each record: type, 2 bytes version, 2 bytes length.)
pub fn record_types(bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut at = 0;
    while at + 5 <= bytes.len() {
        types.push(bytes[at]);
        at += 5 + usize::from(u16::from_be_bytes([bytes[at + 3], bytes[at + 4]]));
    }
    types
}

/// True if the last TLS record in `bytes` is an alert. Over TLS 1.2 (whose record headers
/// show the type; TLS 1.3 hides it), the last record of a clean end is the close_notify alert.
pub fn ends_with_an_alert(bytes: &[u8]) -> bool {
    record_types(bytes).last() == Some(&21)
}
