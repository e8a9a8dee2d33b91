//! Scratch space for text a writer holds back: an anonymous temporary file where the target has a file system,
//! memory where it has none (wasm32 in a browser, whose whole input is in memory already).
//!
//! For: the report spool and a table return's waiting findings, which spill to [`Scratch`] past their hold.
//! Not for: anything kept after a run (the file disappears with its handle).

use std::io;
#[cfg(not(target_family = "wasm"))]
use std::path::Path;

/// Native: the temporary file itself.
#[cfg(not(target_family = "wasm"))]
pub(crate) type Scratch = std::fs::File;

/// A new anonymous scratch file, in `dir` when given (the system's temporary folder otherwise).
#[cfg(not(target_family = "wasm"))]
pub(crate) fn scratch(dir: Option<&Path>) -> io::Result<Scratch> {
    match dir {
        Some(dir) => tempfile::tempfile_in(dir),
        None => tempfile::tempfile(),
    }
}

/// On wasm32: bytes in memory, read, written and sought as the file would be.
#[cfg(target_family = "wasm")]
pub(crate) struct Scratch(io::Cursor<Vec<u8>>);

/// A new scratch buffer (`dir` is meaningless without a file system).
#[cfg(target_family = "wasm")]
pub(crate) fn scratch(_dir: Option<&std::path::Path>) -> io::Result<Scratch> {
    Ok(Scratch(io::Cursor::new(Vec::new())))
}

#[cfg(target_family = "wasm")]
impl Scratch {
    /// As `File::set_len`: truncates (or extends with zeros) to `len` bytes.
    pub(crate) fn set_len(&mut self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(io::Error::other)?;
        self.0.get_mut().resize(len, 0);
        Ok(())
    }
}

#[cfg(target_family = "wasm")]
impl io::Read for Scratch {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

#[cfg(target_family = "wasm")]
impl io::Write for Scratch {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(target_family = "wasm")]
impl io::Seek for Scratch {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.0.seek(pos)
    }
}
