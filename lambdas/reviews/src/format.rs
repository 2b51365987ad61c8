//! What an object holds, by its first bytes, whatever its name says: JSON lines as UTF-8,
//! plain or gzip-compressed, are read; the other formats people upload (bzip2, xz, zstd,
//! zip, UTF-16 text) fail the file with a reason, instead of being read as lines that are
//! all rejected.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::GzDecoder;

const BUF: usize = 256 << 10;

/// Formats recognised and refused, by their magic bytes.
const REFUSED: [(&[u8], &str); 6] = [
    (b"BZh", "bzip2-compressed"),
    (b"\xfd7zXZ\x00", "xz-compressed"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\xff\xfe", "UTF-16 text (little-endian)"),
    (b"\xfe\xff", "UTF-16 text (big-endian)"),
];

#[derive(Debug)]
pub enum OpenError {
    Io(io::Error),
    /// What the object is instead of JSON lines, e.g. "bzip2-compressed".
    Unsupported(&'static str),
}

/// The object's lines, decompressed when it is gzip.
pub fn open(reader: Box<dyn Read + Send>) -> Result<Box<dyn BufRead + Send>, OpenError> {
    let mut r = BufReader::with_capacity(BUF, reader);
    let head = r.fill_buf().map_err(OpenError::Io)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let mut inner = BufReader::with_capacity(BUF, GzMembers::new(r));
        // What was compressed must be JSON lines too (a gzip of a zip is not).
        refuse(inner.fill_buf().map_err(OpenError::Io)?)?;
        return Ok(Box::new(inner));
    }
    refuse(head)?;
    Ok(Box::new(r))
}

fn refuse(head: &[u8]) -> Result<(), OpenError> {
    match REFUSED.iter().find(|(magic, _)| head.starts_with(magic)) {
        Some((_, format)) => Err(OpenError::Unsupported(format)),
        None => Ok(()),
    }
}

/// The members of a gzip file one after another (as `gzip -d` reads them), and zero bytes
/// after the last member ignored as gzip(1) and Python do (some tools pad files with them).
struct GzMembers<R: BufRead> {
    member: Option<GzDecoder<R>>,
}

impl<R: BufRead> GzMembers<R> {
    fn new(inner: R) -> Self {
        GzMembers {
            member: Some(GzDecoder::new(inner)),
        }
    }
}

impl<R: BufRead> Read for GzMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(member) = self.member.as_mut() else {
                return Ok(0);
            };
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // This member is done; the bufread decoder left the input right after it.
            let mut inner = self.member.take().expect("a member").into_inner();
            let head = inner.fill_buf()?;
            if head.starts_with(&[0x1f, 0x8b]) {
                self.member = Some(GzDecoder::new(inner));
                continue;
            }
            loop {
                let head = inner.fill_buf()?;
                if head.is_empty() {
                    return Ok(0);
                }
                if head.iter().any(|&b| b != 0) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "data after the end of the gzip stream that is neither another gzip member nor zero padding",
                    ));
                }
                let n = head.len();
                inner.consume(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text).unwrap();
        gz.finish().unwrap()
    }

    fn read_all(bytes: Vec<u8>) -> Result<String, OpenError> {
        let mut out = String::new();
        open(Box::new(io::Cursor::new(bytes)))?
            .read_to_string(&mut out)
            .map_err(OpenError::Io)?;
        Ok(out)
    }

    #[test]
    fn members_one_after_another_and_zero_padding() {
        let mut bytes = gzip(b"a\n");
        bytes.extend(gzip(b"b\n"));
        bytes.extend([0u8; 700]);
        assert_eq!(read_all(bytes).unwrap(), "a\nb\n");
    }

    #[test]
    fn garbage_after_the_stream_is_an_error() {
        let mut bytes = gzip(b"a\n");
        bytes.extend(b"\0\0junk");
        assert!(matches!(read_all(bytes), Err(OpenError::Io(_))));
    }

    #[test]
    fn other_formats_are_named() {
        for (bytes, format) in [
            (b"BZh91AY".to_vec(), "bzip2-compressed"),
            (gzip(b"PK\x03\x04zip inside"), "a zip archive"),
            (b"\xff\xfe{\0".to_vec(), "UTF-16 text (little-endian)"),
        ] {
            match read_all(bytes) {
                Err(OpenError::Unsupported(f)) => assert_eq!(f, format),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(read_all(b"{}\n".to_vec()).unwrap(), "{}\n");
    }
}
