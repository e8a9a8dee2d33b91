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

/// On wasm32: bytes in memory.
#[cfg(target_family = "wasm")]
pub(crate) type Scratch = Memory;

/// A new scratch buffer (`dir` is meaningless without a file system).
#[cfg(target_family = "wasm")]
pub(crate) fn scratch(_dir: Option<&std::path::Path>) -> io::Result<Scratch> {
    Ok(Memory(io::Cursor::new(Vec::new())))
}

/// Bytes in memory, read, written and sought as the temporary file would be (compiled natively under test,
/// to be held to the file's behaviour).
#[cfg(any(target_family = "wasm", test))]
pub(crate) struct Memory(io::Cursor<Vec<u8>>);

#[cfg(any(target_family = "wasm", test))]
impl Memory {
    /// As `File::set_len`: truncates (or extends with zeros) to `len` bytes.
    pub(crate) fn set_len(&mut self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(io::Error::other)?;
        self.0.get_mut().resize(len, 0);
        Ok(())
    }
}

#[cfg(any(target_family = "wasm", test))]
impl io::Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

#[cfg(any(target_family = "wasm", test))]
impl io::Write for Memory {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(any(target_family = "wasm", test))]
impl io::Seek for Memory {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.0.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, SeekFrom, Write};

    /// What the spool does with its scratch: append at an offset, read chunks back, truncate and reuse.
    fn exercise(file: &mut (impl Read + Write + Seek)) -> Vec<String> {
        let mut seen = Vec::new();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.write_all(b"first chunk;").unwrap();
        file.seek(SeekFrom::Start(12)).unwrap();
        file.write_all(b"second").unwrap();
        for (at, len) in [(12, 6), (0, 5)] {
            file.seek(SeekFrom::Start(at)).unwrap();
            let mut text = String::new();
            file.take(len).read_to_string(&mut text).unwrap();
            seen.push(text);
        }
        seen
    }

    #[test]
    fn memory_behaves_as_the_temporary_file_does() {
        let mut file = super::scratch(None).unwrap();
        let mut memory = super::Memory(std::io::Cursor::new(Vec::new()));
        assert_eq!(exercise(&mut memory), exercise(&mut file));
        assert_eq!(exercise(&mut memory), ["second", "first"]);
        file.set_len(0).unwrap();
        memory.set_len(0).unwrap();
        assert_eq!(exercise(&mut memory), exercise(&mut file));
    }
}
