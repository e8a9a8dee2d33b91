//! The ONS Postcode Directory as a compact, read-only index: each postcode's grid reference and the local
//! authority it lies in, looked up by postcode, and the distance in miles between two postcodes as DfE defines
//! it for SSDA903.
//!
//! For: loading the directory from its CSV form (columns `pcd`, `oseast1m`, `osnrth1m`, `laua` and, when
//! given, `cty`, in any order, others ignored) or from an index file written from it once
//! ([`PostcodeDirectory::write_index`]), and answering lookups from any number of threads.
//!
//! Not for: checking that a text is shaped like a postcode (`uk_postcode` in the rule language does that
//! without a directory), or any geography beyond grid references and councils.
//!
//! Hand-written, on purpose, in three ways:
//! - The index. The whole directory is 2.7 million postcodes; a map of owned strings would cost about a
//!   hundred bytes a postcode (a quarter of a gigabyte). Here a postcode is one `u64` key (its characters in
//!   base 37, so that keys order as the texts do) beside one `u64` holding its grid reference and the index of
//!   its council in a small table of codes: 16 bytes a postcode, in blocks of [`BLOCK`] postcodes, found by
//!   binary search over each block's first key, then within the block.
//! - The reading. The file is read with the `csv` crate, streamed row by row, not with the engine's own
//!   `document::csv`: that reader keeps a whole file's text and a span per field so that a finding can point
//!   at a cell of a return, which a 100 MB table of reference data neither needs nor should pay for.
//! - The index file (see [`INDEX_MAGIC`]). It is the blocks as they are in memory, little-endian, after a
//!   short header and the blocks' first keys: loading it reads the header and those keys (80 KB for the whole
//!   directory), and each block is read, and checked, the first time a lookup needs it. A council's return
//!   looks up postcodes of a few areas, so a run reads a few hundred of the 5,300 blocks, not 43 MB. A
//!   serialisation crate (serde with bincode or postcard) would encode the 2.7 million pairs one by one, could
//!   not read one block without the others, and would add a dependency whose format changes are not ours to
//!   version; the format is small enough to write down and to check field by field here.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::{Mutex, OnceLock};

/// Why a postcode directory could not be loaded. Lines are 1-based lines of the CSV file.
#[derive(Debug, thiserror::Error)]
pub enum PostcodeError {
    #[error("the postcode directory could not be read: {0}")]
    Read(String),
    #[error("the postcode directory has no `{0}` column (it needs pcd, oseast1m, osnrth1m and laua)")]
    MissingColumn(&'static str),
    #[error("line {line} of the postcode directory: {message}")]
    Row { line: u64, message: String },
    #[error("the postcode directory lists {0} more than once")]
    Duplicate(String),
    #[error("the postcode directory lists no postcode")]
    Empty,
    #[error("the postcode directory names more than {} local authorities", u16::MAX)]
    TooManyAuthorities,
    #[error("the postcode index is format version {found}; this caregate reads version {INDEX_VERSION} (write it again with `caregate reference index postcodes`)")]
    IndexVersion { found: u32 },
    #[error("the postcode index is not sound: {0}")]
    BadIndex(String),
}

/// What the directory says about one postcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'d> {
    /// Easting and northing in metres on the Ordnance Survey's national grid; `None` for a postcode the
    /// directory gives no grid reference (the Channel Islands, the Isle of Man, some postcodes of large users).
    pub grid: Option<(u32, u32)>,
    /// The code of the council whose area the postcode lies in (see [`PostcodeDirectory::read`]), when the
    /// directory gives one.
    pub authority: Option<&'d str>,
}

/// The directory: postcodes sorted by key, in blocks of `block` postcodes (the last may hold fewer), each
/// postcode with its packed place (see [`pack_place`]).
///
/// Invariants: `fences` holds each block's first key, strictly increasing; a block, once in memory, holds
/// keys strictly increasing from its fence and below the next block's, and places whose councils are in
/// `authorities`. A block of an index file is read when first needed, and checked then.
pub struct PostcodeDirectory {
    len: usize,
    block: usize,
    fences: Vec<u64>,
    store: Store,
    /// Council codes; a place's authority index `i > 0` is `authorities[i - 1]`, 0 is none.
    authorities: Vec<Box<str>>,
    /// Why the first block that could not be used was refused (read failed, or its content broke the
    /// invariants): a lookup in it finds nothing, and the caller must say the run's postcodes are in doubt.
    damage: OnceLock<String>,
}

impl std::fmt::Debug for PostcodeDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostcodeDirectory")
            .field("len", &self.len)
            .field("block", &self.block)
            .field("authorities", &self.authorities.len())
            .field("read_from_file", &matches!(self.store, Store::File { .. }))
            .finish_non_exhaustive()
    }
}

/// Where the postcodes are: all in memory (read from the CSV), or in an index file, each block read from it
/// the first time it is needed.
enum Store {
    Memory(Vec<(u64, u64)>),
    File { blocks: Vec<OnceLock<Pairs>>, source: Mutex<Source> },
}

/// A block's postcodes read from an index file: each key with its packed place.
type Pairs = Box<[(u64, u64)]>;

/// An index file open for reading blocks: `blocks_at` is the offset of its first block.
struct Source {
    input: Box<dyn ReadSeek>,
    blocks_at: u64,
}

trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// Postcodes a block holds: a block is 8 KB of the index file, read whole by a lookup that needs it.
pub const BLOCK: usize = 512;

/// The first bytes of an index file. Its layout, every number little-endian:
///
/// | bytes            | what                                                                  |
/// |------------------|-----------------------------------------------------------------------|
/// | 8                | this magic: 0x89 (no CSV directory starts so), `CGPCD`, CR LF         |
/// | 4                | format version, `u32` ([`INDEX_VERSION`])                             |
/// | 4                | number of council codes, `u32` (at most 65,535)                       |
/// | 8                | number of postcodes `n`, `u64` (at least 1)                           |
/// | 4                | postcodes a block holds `b`, `u32` (a power of two, 1 to 65,536)      |
/// | per council      | its code's length (1 to 9) in one byte, then the code in ASCII        |
/// | 8 × ⌈n / b⌉      | each block's first key (see `postcode_key`), strictly increasing      |
/// | per block        | its `c` keys (`b`, fewer in the last block), strictly increasing,     |
/// |                  | `u64`; then its `c` places (see `pack_place`), `u64`, in that order   |
///
/// The CR LF, as in PNG's signature, makes a file mangled by a text-mode transfer fail the magic.
pub const INDEX_MAGIC: [u8; 8] = *b"\x89CGPCD\r\n";
/// The index format this code writes and reads; any change to the layout or to the meaning of a key or a
/// place is a new version, and an index of another is refused (it is rebuilt from the CSV in seconds).
pub const INDEX_VERSION: u32 = 2;
/// Magic, version, the two counts and the block size.
const INDEX_HEADER: usize = 8 + 4 + 4 + 8 + 4;

/// The most characters a postcode has without its space (`EC1A1BB`).
const MAX_LEN: usize = 7;
const NORTH_BITS: u32 = 21;
const EAST_BITS: u32 = 20;
const GRID_FLAG: u64 = 1 << (NORTH_BITS + EAST_BITS);
const AUTHORITY_SHIFT: u32 = NORTH_BITS + EAST_BITS + 1;

impl PostcodeDirectory {
    /// Reads the directory from its CSV form: a header row, then a row per postcode. Postcodes are compared
    /// with spaces removed and upper-cased. A blank grid reference is a postcode without one; a blank `laua`
    /// one without a council. The council of a postcode is its county (`cty`) where the file has that column
    /// and the postcode lies in a county (children's services there are the county council's), else its
    /// district (`laua`); ONS's codes ending `99999999` say "no county".
    ///
    /// The input is read twice: once to count its lines, so that the index is allocated once at its size (a
    /// vector grown as rows come, or rows gathered apart and then joined, would hold about twice the
    /// directory at its peak), then to read the rows.
    pub fn read(mut input: impl Read + Seek) -> Result<PostcodeDirectory, PostcodeError> {
        let read_error = |e: std::io::Error| PostcodeError::Read(e.to_string());
        let start = input.stream_position().map_err(read_error)?;
        let lines = count_lines(&mut input).map_err(read_error)?;
        input.seek(SeekFrom::Start(start)).map_err(read_error)?;
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(input);
        let header = reader.byte_headers().map_err(|e| PostcodeError::Read(e.to_string()))?.clone();
        let column = |name: &'static str| {
            header.iter().position(|h| {
                let h = h.strip_prefix("\u{feff}".as_bytes()).unwrap_or(h);
                h.trim_ascii().eq_ignore_ascii_case(name.as_bytes())
            })
        };
        let required = |name: &'static str| column(name).ok_or(PostcodeError::MissingColumn(name));
        let (pcd, east, north, laua) =
            (required("pcd")?, required("oseast1m")?, required("osnrth1m")?, required("laua")?);
        let cty = column("cty");
        // Every row but the header is one line at least (a quoted field may hold a line break).
        let mut entries: Vec<(u64, u64)> = Vec::with_capacity(lines);
        let mut authorities: Vec<Box<str>> = Vec::new();
        let mut index_of: HashMap<Box<[u8]>, u64> = HashMap::new();
        // Neighbouring postcodes mostly lie in the same council: the last one found is tried first.
        let mut last: (Vec<u8>, u64) = (Vec::new(), 0);
        let mut record = csv::ByteRecord::new();
        loop {
            let line = reader.position().line() + 1;
            match reader.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(PostcodeError::Read(e.to_string())),
            }
            let line = record.position().map_or(line, |p| p.line());
            let row_error = |message: String| PostcodeError::Row { line, message };
            let field = |i: usize, name: &str| {
                record
                    .get(i)
                    .map(<[u8]>::trim_ascii)
                    .ok_or_else(|| row_error(format!("the row has no {name} (column {})", i + 1)))
            };
            let text = field(pcd, "pcd")?;
            let Some(key) = postcode_key(text) else {
                return Err(row_error(format!("pcd `{}` is not a postcode", String::from_utf8_lossy(text))));
            };
            let grid = match (
                grid_value(field(east, "oseast1m")?, EAST_BITS),
                grid_value(field(north, "osnrth1m")?, NORTH_BITS),
            ) {
                (Ok(Some(e)), Ok(Some(n))) => Some((e, n)),
                (Ok(None), Ok(None)) => None,
                (Ok(_), Ok(_)) => {
                    return Err(row_error("the grid reference has only one of oseast1m and osnrth1m".into()))
                }
                (Err(bad), _) => return Err(row_error(format!("oseast1m `{bad}` is not an easting in metres"))),
                (_, Err(bad)) => return Err(row_error(format!("osnrth1m `{bad}` is not a northing in metres"))),
            };
            let county = cty
                .and_then(|i| record.get(i))
                .map(<[u8]>::trim_ascii)
                .filter(|c| !c.is_empty() && !c.ends_with(b"99999999"));
            let code = match county {
                Some(code) => code,
                None => field(laua, "laua")?,
            };
            let authority = if code.is_empty() {
                0
            } else if last.0 == code {
                last.1
            } else if let Some(&i) = index_of.get(code) {
                last = (code.to_vec(), i);
                i
            } else {
                if code.len() > 9 || !code.iter().all(u8::is_ascii_alphanumeric) {
                    return Err(row_error(format!(
                        "`{}` is not a local authority code",
                        String::from_utf8_lossy(code)
                    )));
                }
                if authorities.len() >= usize::from(u16::MAX) {
                    return Err(PostcodeError::TooManyAuthorities);
                }
                // Checked just above: ASCII alphanumeric only.
                authorities.push(String::from_utf8_lossy(code).to_ascii_uppercase().into_boxed_str());
                let i = authorities.len() as u64;
                index_of.insert(code.into(), i);
                i
            };
            entries.push((key, pack_place(grid, authority)));
        }
        if entries.is_empty() {
            return Err(PostcodeError::Empty);
        }
        // ONS writes the directory in postcode order, which is nearly key order: the sort has little to do.
        entries.sort_unstable_by_key(|&(key, _)| key);
        if let Some(pair) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(PostcodeError::Duplicate(key_text(pair[0].0)));
        }
        Ok(PostcodeDirectory::in_memory(entries, authorities, BLOCK))
    }

    /// The directory of `entries` (sorted by key, no key twice, at least one) in blocks of `block`.
    fn in_memory(entries: Vec<(u64, u64)>, authorities: Vec<Box<str>>, block: usize) -> PostcodeDirectory {
        let block = block.clamp(1, 1 << 16);
        let fences = entries.iter().step_by(block).map(|&(key, _)| key).collect();
        PostcodeDirectory {
            len: entries.len(),
            block,
            fences,
            store: Store::Memory(entries),
            authorities,
            damage: OnceLock::new(),
        }
    }

    /// Reads the directory from either of its forms, told apart by their first bytes: an index file (written
    /// by [`PostcodeDirectory::write_index`]) starts with [`INDEX_MAGIC`], which no CSV text does (its first
    /// byte is not ASCII, nor the start of a UTF-8 byte order mark); anything else is read as CSV. An index
    /// keeps `input` to read its blocks from as lookups need them.
    pub fn load(mut input: impl Read + Seek + Send + 'static) -> Result<PostcodeDirectory, PostcodeError> {
        let read_error = |e: std::io::Error| PostcodeError::Read(e.to_string());
        let start = input.stream_position().map_err(read_error)?;
        let mut head = [0u8; INDEX_MAGIC.len()];
        let mut got = 0;
        // A file shorter than the magic is no index; `read` says what is wrong with it as CSV.
        while got < head.len() {
            match input.read(head.get_mut(got..).unwrap_or_default()) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            }
        }
        input.seek(SeekFrom::Start(start)).map_err(read_error)?;
        if got == head.len() && head == INDEX_MAGIC {
            PostcodeDirectory::read_index(input)
        } else {
            PostcodeDirectory::read(input)
        }
    }

    /// Writes the directory as an index file (see [`INDEX_MAGIC`] for its layout), which
    /// [`PostcodeDirectory::read_index`] reads back as the same directory. Fails when a block cannot be read
    /// from the index this directory was loaded from.
    pub fn write_index(&self, out: impl Write) -> std::io::Result<()> {
        let mut out = BufWriter::with_capacity(1 << 16, out);
        out.write_all(&INDEX_MAGIC)?;
        out.write_all(&INDEX_VERSION.to_le_bytes())?;
        // The counts fit: `read` refuses more than u16::MAX councils, a Vec of 16-byte pairs holds fewer than
        // 2^60 of them, and a block holds at most 65,536 postcodes.
        out.write_all(&(self.authorities.len() as u32).to_le_bytes())?;
        out.write_all(&(self.len as u64).to_le_bytes())?;
        out.write_all(&(self.block as u32).to_le_bytes())?;
        for code in &self.authorities {
            // Codes are 1 to 9 ASCII characters (checked when read), so their length is one byte.
            out.write_all(&[code.len() as u8])?;
            out.write_all(code.as_bytes())?;
        }
        for fence in &self.fences {
            out.write_all(&fence.to_le_bytes())?;
        }
        for i in 0..self.fences.len() {
            let block = self.block(i).ok_or_else(|| {
                std::io::Error::other(self.damage().unwrap_or("a block of the index could not be read").to_string())
            })?;
            for &(key, _) in block {
                out.write_all(&key.to_le_bytes())?;
            }
            for &(_, place) in block {
                out.write_all(&place.to_le_bytes())?;
            }
        }
        out.flush()
    }

    /// Reads the head of an index file written by [`PostcodeDirectory::write_index`] and keeps `input` to read
    /// its blocks from. Checked now: the magic, the version, that the counts agree with the file's length
    /// (before anything is allocated by them), that each council code is one, and that the blocks' first keys
    /// are strictly increasing. Each block is checked when first read (see [`PostcodeDirectory::damage`]).
    /// A key no postcode has is never matched by a lookup, whose keys are made from postcodes, and
    /// [`PostcodeDirectory::iter`] leaves it out.
    pub fn read_index(input: impl Read + Seek + Send + 'static) -> Result<PostcodeDirectory, PostcodeError> {
        let bad = |why: String| PostcodeError::BadIndex(why);
        let io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => PostcodeError::BadIndex("it ends early (truncated)".into()),
            _ => PostcodeError::Read(e.to_string()),
        };
        let mut input = input;
        let start = input.stream_position().map_err(io)?;
        let end = input.seek(SeekFrom::End(0)).map_err(io)?;
        input.seek(SeekFrom::Start(start)).map_err(io)?;
        let length = end.saturating_sub(start);
        let mut head = BufReader::with_capacity(1 << 16, input);

        let mut header = [0u8; INDEX_HEADER];
        head.read_exact(&mut header).map_err(io)?;
        let word = |at: usize, len: usize| {
            let mut bytes = [0u8; 8];
            if let (Some(to), Some(from)) = (bytes.get_mut(..len), header.get(at..at + len)) {
                to.copy_from_slice(from);
            }
            u64::from_le_bytes(bytes)
        };
        if header.get(..INDEX_MAGIC.len()) != Some(&INDEX_MAGIC[..]) {
            return Err(bad("it does not start with the index's magic bytes".into()));
        }
        // Each field is 4 or 8 bytes, so it fits the type it is read as.
        let found = word(8, 4) as u32;
        if found != INDEX_VERSION {
            return Err(PostcodeError::IndexVersion { found });
        }
        let authority_count = word(12, 4);
        let postcode_count = word(16, 8);
        let block = word(24, 4);
        if authority_count > u64::from(u16::MAX) {
            return Err(PostcodeError::TooManyAuthorities);
        }
        if postcode_count == 0 {
            return Err(PostcodeError::Empty);
        }
        if !block.is_power_of_two() || block > 1 << 16 {
            return Err(bad(format!("its blocks hold {block} postcodes (a power of two up to 65,536 is allowed)")));
        }
        // Each council code takes 2 to 10 bytes, each block's first key 8 and each postcode 16: the counts must
        // fit in what the file holds before any of it is allocated, so that a damaged count cannot ask for
        // terabytes.
        let block_count = postcode_count.div_ceil(block);
        let entry_bytes = postcode_count.checked_mul(16).and_then(|e| e.checked_add(block_count * 8));
        let least = entry_bytes.and_then(|e| e.checked_add(INDEX_HEADER as u64 + 2 * authority_count));
        if least.is_none_or(|least| least > length) {
            return Err(bad(format!(
                "it counts {postcode_count} postcodes and {authority_count} councils, more than its {length} bytes hold (truncated?)"
            )));
        }

        let mut authorities: Vec<Box<str>> = Vec::with_capacity(authority_count as usize);
        let mut table_bytes = 0u64;
        for i in 0..authority_count {
            let mut len = [0u8; 1];
            head.read_exact(&mut len).map_err(io)?;
            let mut code = [0u8; 9];
            let code = code.get_mut(..usize::from(len[0])).filter(|c| !c.is_empty()).ok_or_else(|| {
                bad(format!("council {} has a code of {} characters (1 to 9 are allowed)", i + 1, len[0]))
            })?;
            head.read_exact(code).map_err(io)?;
            if !code.iter().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
                return Err(bad(format!("council {} has a code that is not upper-case letters and digits", i + 1)));
            }
            authorities.push(String::from_utf8_lossy(code).into_owned().into_boxed_str());
            table_bytes += 1 + u64::from(len[0]);
        }
        // What is left must be exactly the first keys and the blocks: no more (a longer file is not what was
        // written), no less.
        let expected = INDEX_HEADER as u64 + table_bytes + entry_bytes.unwrap_or(u64::MAX);
        if expected != length {
            return Err(bad(format!(
                "it is {length} bytes long, but its counts ({postcode_count} postcodes, {authority_count} councils) make it {expected}"
            )));
        }
        // Checked above: 16 × the count fits in the file's length, so the counts fit in memory's addresses at
        // least as far as the file does.
        let (len, block, block_count) =
            match (usize::try_from(postcode_count), usize::try_from(block), usize::try_from(block_count)) {
                (Ok(n), Ok(b), Ok(m)) => (n, b, m),
                _ => return Err(bad(format!("{postcode_count} postcodes do not fit in memory"))),
            };
        let mut fences = vec![0u64; block_count];
        let mut bytes = [0u8; 8];
        for fence in fences.iter_mut() {
            head.read_exact(&mut bytes).map_err(io)?;
            *fence = u64::from_le_bytes(bytes);
        }
        if let Some(i) = fences.windows(2).position(|w| w[0] >= w[1]) {
            return Err(bad(format!(
                "block {} starts at postcode {}, which does not come after block {}'s first ({}): keys must be strictly increasing",
                i + 2,
                key_text(fences[i + 1]),
                i + 1,
                key_text(fences[i])
            )));
        }
        let blocks_at = start + INDEX_HEADER as u64 + table_bytes + 8 * block_count as u64;
        let input = head.into_inner();
        Ok(PostcodeDirectory {
            len,
            block,
            fences,
            store: Store::File {
                blocks: (0..block_count).map(|_| OnceLock::new()).collect(),
                source: Mutex::new(Source { input: Box::new(input), blocks_at }),
            },
            authorities,
            damage: OnceLock::new(),
        })
    }

    /// Block `i`'s postcodes, read and checked if it is not yet in memory; `None` when there is no such block
    /// or it could not be used (the reason kept as the directory's [`PostcodeDirectory::damage`]).
    fn block(&self, i: usize) -> Option<&[(u64, u64)]> {
        let (blocks, source) = match &self.store {
            Store::Memory(entries) => return entries.get(i * self.block..((i + 1) * self.block).min(self.len)),
            Store::File { blocks, source } => (blocks, source),
        };
        let cell = blocks.get(i)?;
        if let Some(block) = cell.get() {
            return Some(block);
        }
        // One reader at a time; a thread that waited finds the block another read meanwhile.
        let mut source = source.lock().ok()?;
        if let Some(block) = cell.get() {
            return Some(block);
        }
        match self.read_block(&mut source, i) {
            Ok(block) => Some(cell.get_or_init(|| block)),
            Err(why) => {
                let _ = self.damage.set(format!("the postcode index is not sound: {why}"));
                None
            }
        }
    }

    /// Reads block `i` from the index file and checks it against the invariants (see [`PostcodeDirectory`]).
    fn read_block(&self, source: &mut Source, i: usize) -> Result<Pairs, String> {
        let count = self.len.saturating_sub(i * self.block).min(self.block);
        let at = source.blocks_at + (i * self.block * 16) as u64;
        let mut bytes = vec![0u8; count * 16];
        source
            .input
            .seek(SeekFrom::Start(at))
            .and_then(|_| source.input.read_exact(&mut bytes))
            .map_err(|e| format!("block {} could not be read: {e}", i + 1))?;
        let word = |w: &[u8]| {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            u64::from_le_bytes(b)
        };
        let (keys, places) = bytes.split_at(count * 8);
        let block: Pairs = keys.chunks_exact(8).zip(places.chunks_exact(8)).map(|(k, p)| (word(k), word(p))).collect();
        let first = i * self.block;
        if block.first().map(|&(key, _)| key).as_ref() != self.fences.get(i) {
            return Err(format!("block {} does not start with the key its table of first keys gives", i + 1));
        }
        if let Some(j) = block.windows(2).position(|w| w[0].0 >= w[1].0) {
            return Err(format!(
                "postcode {} ({}) does not come after the one before it: keys must be strictly increasing",
                first + j + 2,
                key_text(block[j + 1].0)
            ));
        }
        if let (Some(&(last, _)), Some(&next)) = (block.last(), self.fences.get(i + 1)) {
            if last >= next {
                return Err(format!(
                    "postcode {} ({}) does not come before the next block's first",
                    first + count,
                    key_text(last)
                ));
            }
        }
        for (j, &(key, place)) in block.iter().enumerate() {
            let authority = place >> AUTHORITY_SHIFT;
            if authority > self.authorities.len() as u64 {
                return Err(format!(
                    "postcode {} ({}) names council {authority}, but the table has {}",
                    first + j + 1,
                    key_text(key),
                    self.authorities.len()
                ));
            }
            if place & GRID_FLAG == 0 && place & (GRID_FLAG - 1) != 0 {
                return Err(format!(
                    "postcode {} ({}) has grid values but no grid reference",
                    first + j + 1,
                    key_text(key)
                ));
            }
        }
        Ok(block)
    }

    /// Why a block of the index could not be used, when one could not: the file changed or was damaged after
    /// it was loaded, or could no longer be read. Lookups in that block found nothing, so whatever was
    /// decided on postcodes since is in doubt, and the caller must say so.
    pub fn damage(&self) -> Option<&str> {
        self.damage.get().map(String::as_str)
    }

    /// How many postcodes the directory holds.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// About how many bytes the directory holds in memory: the blocks' first keys, the blocks read so far and
    /// the council codes.
    pub fn heap_bytes(&self) -> usize {
        let blocks = match &self.store {
            Store::Memory(entries) => entries.capacity() * 16,
            Store::File { blocks, .. } => {
                blocks.capacity() * std::mem::size_of::<OnceLock<Pairs>>()
                    + blocks.iter().filter_map(OnceLock::get).map(|b| b.len() * 16).sum::<usize>()
            }
        };
        self.fences.capacity() * 8
            + blocks
            + self.authorities.iter().map(|a| a.len() + std::mem::size_of::<Box<str>>()).sum::<usize>()
    }

    /// What the directory says about `postcode` (any case, spaces anywhere), or `None` when it does not list it.
    pub fn place(&self, postcode: &str) -> Option<Place<'_>> {
        let key = postcode_key(postcode.as_bytes())?;
        let i = self.fences.partition_point(|&fence| fence <= key).checked_sub(1)?;
        let block = self.block(i)?;
        let j = block.binary_search_by_key(&key, |&(k, _)| k).ok()?;
        block.get(j).map(|&(_, packed)| self.unpack(packed))
    }

    /// The distance in miles between two postcodes, as DfE defines a placement's distance from home: the
    /// straight line between their grid references, in metres / 1000 / 1.6093, rounded to 0.1 mile (a half
    /// to the even tenth). `None` when either is not listed or has no grid reference.
    pub fn miles_between(&self, a: &str, b: &str) -> Option<f64> {
        Some(miles(self.place(a)?.grid?, self.place(b)?.grid?))
    }

    /// Every postcode the directory lists, in its order (by the postcode's characters), with what it says about
    /// it. For drawing postcodes of an area (the SSDA903 generator); lookups use [`PostcodeDirectory::place`].
    /// Reads every block; one that cannot be used is left out (see [`PostcodeDirectory::damage`]).
    pub fn iter(&self) -> impl Iterator<Item = (Listed, Place<'_>)> + '_ {
        (0..self.fences.len())
            .filter_map(|i| self.block(i))
            .flatten()
            .filter(|&&(key, _)| key_is_valid(key))
            .map(|&(key, packed)| (Listed(key), self.unpack(packed)))
    }

    fn unpack(&self, packed: u64) -> Place<'_> {
        let north = (packed & ((1 << NORTH_BITS) - 1)) as u32;
        let east = ((packed >> NORTH_BITS) & ((1 << EAST_BITS) - 1)) as u32;
        let authority = (packed >> AUTHORITY_SHIFT) as usize;
        Place {
            grid: (packed & GRID_FLAG != 0).then_some((east, north)),
            authority: authority.checked_sub(1).and_then(|i| self.authorities.get(i)).map(|a| &**a),
        }
    }
}

/// A postcode the directory lists (see [`PostcodeDirectory::iter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed(u64);

impl Listed {
    /// The postcode as written, its inward code (the last three characters) after a space: `TW9 1AA`.
    pub fn text(self) -> String {
        let mut text = key_text(self.0);
        if text.len() > 3 {
            text.insert(text.len() - 3, ' ');
        }
        text
    }
}

/// How many line breaks `input` holds from where it is to its end (plus one for a last line without one).
fn count_lines(input: &mut impl Read) -> std::io::Result<usize> {
    let mut buffer = vec![0u8; 1 << 16];
    let (mut lines, mut last) = (0, b'\n');
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let read = buffer.get(..n).unwrap_or_default();
        lines += memchr::memchr_iter(b'\n', read).count();
        last = read.last().copied().unwrap_or(last);
    }
    Ok(lines + usize::from(last != b'\n'))
}

/// The distance in miles between two grid references (see [`PostcodeDirectory::miles_between`]).
pub fn miles(a: (u32, u32), b: (u32, u32)) -> f64 {
    let de = f64::from(a.0) - f64::from(b.0);
    let dn = f64::from(a.1) - f64::from(b.1);
    let miles = (de * de + dn * dn).sqrt() / 1000.0 / 1.6093;
    (miles * 10.0).round_ties_even() / 10.0
}

/// A place in one `u64`: northing in the low 21 bits, easting in the next 20, a flag for "has a grid
/// reference", then the authority index. Grid values were checked to fit when read.
fn pack_place(grid: Option<(u32, u32)>, authority: u64) -> u64 {
    let grid = grid.map_or(0, |(e, n)| GRID_FLAG | (u64::from(e) << NORTH_BITS) | u64::from(n));
    grid | (authority << AUTHORITY_SHIFT)
}

/// A grid value in metres: blank is none; otherwise whole metres that fit in `bits` bits (the national grid
/// is 700 km by 1,300 km). The error is the text as written.
fn grid_value(text: &[u8], bits: u32) -> Result<Option<u32>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || String::from_utf8_lossy(text).into_owned();
    if text.len() > 7 || !text.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let value = text.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
    if value >= 1 << bits {
        return Err(bad());
    }
    Ok(Some(value))
}

/// A postcode's key: its letters and digits (spaces left out, letters upper-cased) in base 37, padded at
/// the end, so that keys order as the texts do. `None` when it has another character, or not 2 to 7.
fn postcode_key(text: &[u8]) -> Option<u64> {
    let mut key = 0u64;
    let mut len = 0;
    for &b in text {
        let digit = match b {
            b' ' => continue,
            b'0'..=b'9' => b - b'0' + 1,
            b'A'..=b'Z' => b - b'A' + 11,
            b'a'..=b'z' => b - b'a' + 11,
            _ => return None,
        };
        len += 1;
        if len > MAX_LEN {
            return None;
        }
        key = key * 37 + u64::from(digit);
    }
    if len < 2 {
        return None;
    }
    Some(key * 37u64.pow((MAX_LEN - len) as u32))
}

/// Whether `key` is one `postcode_key` makes: 2 to 7 base-37 digits, none of them padding before the last
/// that is not.
fn key_is_valid(key: u64) -> bool {
    if key >= 37u64.pow(MAX_LEN as u32) {
        return false;
    }
    let (mut rest, mut padding) = (key, 0);
    // Padding (digit 0) only at the end: count it from the last digit, then no other digit may be 0.
    while padding < MAX_LEN && rest % 37 == 0 {
        rest /= 37;
        padding += 1;
    }
    let len = MAX_LEN - padding;
    (2..=MAX_LEN).contains(&len)
        && (0..len).all(|_| {
            let digit = rest % 37;
            rest /= 37;
            digit != 0
        })
}

/// The text of a key, without a space.
fn key_text(mut key: u64) -> String {
    let mut out = Vec::with_capacity(MAX_LEN);
    for _ in 0..MAX_LEN {
        let digit = (key % 37) as u8;
        key /= 37;
        match digit {
            0 => {}
            1..=10 => out.push(b'0' + digit - 1),
            _ => out.push(b'A' + digit - 11),
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "\
laua,pcd,oseast1m,osnrth1m,other
E09000027,TW9 1AA,518000,175000,x
E09000027,\"TW91 2AB\",518300,175400,x
E08000003,m1  1ae,384000,398000,x
S12000036,EH1 1AA,325700,673900,x
L99999999,GY1 1AA,,,x
,ZZ9 9ZZ,100000,100000,x
";

    fn small() -> PostcodeDirectory {
        PostcodeDirectory::read(std::io::Cursor::new(SMALL)).expect("the small directory loads")
    }

    #[test]
    fn looks_postcodes_up_in_any_case_and_spacing() {
        let d = small();
        assert_eq!(d.len(), 6);
        assert_eq!(d.place("TW9 1AA"), Some(Place { grid: Some((518000, 175000)), authority: Some("E09000027") }));
        assert_eq!(d.place("tw91aa"), d.place("TW9 1AA"));
        assert_eq!(d.place("M1 1AE").and_then(|p| p.authority), Some("E08000003"));
        assert_eq!(d.place("GY1 1AA"), Some(Place { grid: None, authority: Some("L99999999") }));
        assert_eq!(d.place("ZZ99ZZ").map(|p| p.authority), Some(None));
        assert_eq!(d.place("TW9 1AB"), None);
        assert_eq!(d.place("not a postcode"), None);
        assert_eq!(d.place(""), None);
    }

    #[test]
    fn distance_is_miles_rounded_to_a_tenth() {
        let d = small();
        // 300 m east and 400 m north: 500 m, 0.3107 miles.
        assert_eq!(d.miles_between("TW9 1AA", "TW912AB"), Some(0.3));
        assert_eq!(d.miles_between("TW9 1AA", "TW9 1AA"), Some(0.0));
        // Richmond to Manchester: √(134000² + 223000²) m = 260.16 km = 161.66 miles.
        assert_eq!(d.miles_between("TW9 1AA", "M1 1AE"), Some(161.7));
        assert_eq!(d.miles_between("TW9 1AA", "GY1 1AA"), None);
        assert_eq!(d.miles_between("TW9 1AA", "AB1 2CD"), None);
        // A half tenth rounds to the even tenth, as DfE's tools (numpy) round: 0.25 miles is 402.325 m.
        assert_eq!(miles((0, 0), (0, 1609)), 1.0);
        assert_eq!((0.25f64 * 10.0).round_ties_even() / 10.0, 0.2);
    }

    #[test]
    fn a_county_column_names_the_county_council() {
        let text = "pcd,oseast1m,osnrth1m,laua,cty\nCT1 1AA,615000,157000,E07000106,E10000016\nTW9 1AA,518000,175000,E09000027,E99999999\n";
        let d = PostcodeDirectory::read(std::io::Cursor::new(text)).expect("loads");
        assert_eq!(d.place("CT1 1AA").and_then(|p| p.authority), Some("E10000016"));
        assert_eq!(d.place("TW9 1AA").and_then(|p| p.authority), Some("E09000027"));
    }

    #[test]
    fn keys_round_trip_and_order_as_the_texts() {
        for text in ["A11AA", "EC1A1BB", "W1A0AX", "ZZ999ZZ", "AB"] {
            let key = postcode_key(text.as_bytes()).expect("a key");
            assert_eq!(key_text(key), text);
        }
        let mut texts = ["B1 1AA", "AB1 0AA", "AB10 1AA", "A1 1AA", "Z9 9ZZ"];
        let mut keys: Vec<u64> = texts.iter().filter_map(|t| postcode_key(t.as_bytes())).collect();
        texts.sort_by_key(|t| t.replace(' ', ""));
        keys.sort_unstable();
        assert_eq!(
            keys.into_iter().map(key_text).collect::<Vec<_>>(),
            texts.iter().map(|t| t.replace(' ', "")).collect::<Vec<_>>()
        );
    }

    #[test]
    fn listed_postcodes_come_in_order_with_their_space() {
        let d = PostcodeDirectory::read(std::io::Cursor::new(
            "pcd,oseast1m,osnrth1m,laua\nTW9 2BB,2,3,E09000027\nEC1A1BB,4,5,E09000001\nTW91AA,,,E09000027\n",
        ))
        .expect("the directory loads");
        let listed: Vec<(String, Option<&str>, bool)> =
            d.iter().map(|(p, place)| (p.text(), place.authority, place.grid.is_some())).collect();
        assert_eq!(
            listed,
            [
                ("EC1A 1BB".to_string(), Some("E09000001"), true),
                ("TW9 1AA".to_string(), Some("E09000027"), false),
                ("TW9 2BB".to_string(), Some("E09000027"), true),
            ]
        );
    }

    fn error_of(text: &str) -> String {
        match PostcodeDirectory::read(std::io::Cursor::new(text)) {
            Ok(_) => panic!("`{text}` loaded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn malformed_files_are_refused_with_the_line() {
        assert_eq!(
            error_of("pcd,oseast1m,laua\nTW9 1AA,1,E09000027\n"),
            "the postcode directory has no `osnrth1m` column (it needs pcd, oseast1m, osnrth1m and laua)"
        );
        let header = "pcd,oseast1m,osnrth1m,laua\n";
        assert_eq!(
            error_of(&format!("{header}TW9 1AA,1,2,E09000027\nTW9-1AB,1,2,E09000027\n")),
            "line 3 of the postcode directory: pcd `TW9-1AB` is not a postcode"
        );
        assert_eq!(
            error_of(&format!("{header}TW9 1AA,51800.5,2,E09000027\n")),
            "line 2 of the postcode directory: oseast1m `51800.5` is not an easting in metres"
        );
        assert_eq!(
            error_of(&format!("{header}TW9 1AA,1,9999999,E09000027\n")),
            "line 2 of the postcode directory: osnrth1m `9999999` is not a northing in metres"
        );
        assert_eq!(
            error_of(&format!("{header}TW9 1AA,1,,E09000027\n")),
            "line 2 of the postcode directory: the grid reference has only one of oseast1m and osnrth1m"
        );
        assert_eq!(
            error_of(&format!("{header}TW9 1AA,1,2\n")),
            "line 2 of the postcode directory: the row has no laua (column 4)"
        );
        assert_eq!(
            error_of(&format!("{header}TW9 1AA,1,2,E09-27\n")),
            "line 2 of the postcode directory: `E09-27` is not a local authority code"
        );
        assert_eq!(
            error_of(&format!("{header}TW9 1AA,1,2,E09000027\ntw91aa,1,2,E09000027\n")),
            "the postcode directory lists TW91AA more than once"
        );
        assert_eq!(error_of(header), "the postcode directory lists no postcode");
        assert_eq!(
            error_of(&format!("{header}\"TW9 1AA,1,2,E09000027\n")),
            "line 2 of the postcode directory: pcd `TW9 1AA,1,2,E09000027` is not a postcode"
        );
        let not_utf8: &[u8] = b"pcd,oseast1m,osnrth1m,laua\nTW9 1AA,1,2,\xff\xfe\n";
        assert!(PostcodeDirectory::read(std::io::Cursor::new(not_utf8)).is_err());
        // The index is allocated once, at the number of lines: no more than one entry spare.
        let d = small();
        let Store::Memory(entries) = &d.store else { panic!("a CSV directory is in memory") };
        assert!(entries.capacity() <= d.len() + 1, "{} for {}", entries.capacity(), d.len());
    }

    fn index_of(d: &PostcodeDirectory) -> Vec<u8> {
        let mut bytes = Vec::new();
        d.write_index(&mut bytes).expect("writes to memory");
        bytes
    }

    fn load(bytes: &[u8]) -> Result<PostcodeDirectory, PostcodeError> {
        PostcodeDirectory::load(std::io::Cursor::new(bytes.to_vec()))
    }

    fn index_error(bytes: &[u8]) -> String {
        match load(bytes) {
            Ok(_) => panic!("a damaged index loaded"),
            Err(e) => e.to_string(),
        }
    }

    /// Every postcode of `d` with its packed place, in order, every block read.
    fn entries(d: &PostcodeDirectory) -> Vec<(u64, u64)> {
        (0..d.fences.len()).filter_map(|i| d.block(i)).flatten().copied().collect()
    }

    /// The small directory in blocks of two postcodes.
    fn small_in_twos() -> PostcodeDirectory {
        PostcodeDirectory::in_memory(entries(&small()), small().authorities, 2)
    }

    /// Where the blocks start in an index of `d` (whose four council codes have 9 characters): after the
    /// header, the codes and the blocks' first keys.
    fn blocks_at(d: &PostcodeDirectory) -> usize {
        INDEX_HEADER + 4 * 10 + 8 * d.fences.len()
    }

    const LOOKUPS: [&str; 8] = ["TW9 1AA", "tw912ab", "M1 1AE", "EH1 1AA", "GY1 1AA", "ZZ9 9ZZ", "TW9 1AB", "x"];

    #[test]
    fn an_index_reads_back_as_the_same_directory() {
        for d in [small(), small_in_twos()] {
            let bytes = index_of(&d);
            assert_eq!(bytes.get(..8), Some(&INDEX_MAGIC[..]));
            assert_eq!(bytes.len(), blocks_at(&d) + 16 * d.len());
            let back = load(&bytes).expect("the index loads");
            assert!(matches!(back.store, Store::File { .. }));
            assert_eq!((back.len(), back.block, &back.fences), (d.len(), d.block, &d.fences));
            assert_eq!(back.authorities, d.authorities);
            for postcode in LOOKUPS {
                assert_eq!(back.place(postcode), d.place(postcode), "{postcode}");
            }
            assert_eq!(back.miles_between("TW9 1AA", "M1 1AE"), Some(161.7));
            assert_eq!(back.miles_between("TW9 1AA", "GY1 1AA"), None);
            assert_eq!(entries(&back), entries(&d));
            assert!(back.iter().eq(d.iter()));
            assert_eq!(back.damage(), None);
            // An index written from an index is the same bytes.
            assert_eq!(index_of(&back), bytes);
            // Reading starts where the input is, as `read` does.
            let mut offset = b"xyz".to_vec();
            offset.extend_from_slice(&bytes);
            let mut cursor = std::io::Cursor::new(offset);
            cursor.set_position(3);
            let at_offset = PostcodeDirectory::load(cursor).expect("at an offset");
            assert_eq!(entries(&at_offset), entries(&d));
        }
        // The CSV still loads through `load`.
        assert_eq!(entries(&PostcodeDirectory::load(std::io::Cursor::new(SMALL)).expect("CSV")), entries(&small()));
    }

    #[test]
    fn an_index_reads_only_the_blocks_its_lookups_need() {
        let d = small_in_twos();
        let back = load(&index_of(&d)).expect("the index loads");
        let read = |d: &PostcodeDirectory| match &d.store {
            Store::File { blocks, .. } => blocks.iter().filter(|b| b.get().is_some()).count(),
            Store::Memory(_) => panic!("an index is read from its file"),
        };
        assert_eq!((back.fences.len(), read(&back)), (3, 0));
        let before = back.heap_bytes();
        // EH1 1AA is the second postcode: in the first block.
        assert!(back.place("EH1 1AA").is_some());
        assert_eq!(read(&back), 1);
        assert_eq!(back.heap_bytes(), before + 2 * 16);
        assert!(back.place("eh11aa").is_some() && back.place("AA1 1AA").is_none());
        assert_eq!(read(&back), 1);
        // The last block (ZZ9 9ZZ), and a postcode past it, which only that block could hold.
        assert!(back.place("ZZ9 9ZZ").is_some() && back.place("ZZ9 9ZY").is_none());
        assert_eq!(read(&back), 2);
        // Lookups from several threads at once each find what one thread finds.
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for postcode in LOOKUPS {
                        assert_eq!(back.place(postcode), d.place(postcode), "{postcode}");
                    }
                });
            }
        });
        assert_eq!(read(&back), 3);
    }

    #[test]
    fn a_truncated_or_lengthened_index_is_refused() {
        let d = small();
        let bytes = index_of(&d);
        for len in [blocks_at(&d) - 1, blocks_at(&d) + 8, bytes.len() - 1] {
            let error = index_error(bytes.get(..len).unwrap_or_default());
            assert!(error.starts_with("the postcode index is not sound: it "), "{len}: {error}");
        }
        // Within the header: the count cannot be read.
        assert_eq!(
            index_error(bytes.get(..12).unwrap_or_default()),
            "the postcode index is not sound: it ends early (truncated)"
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(
            index_error(&longer).contains("its counts (6 postcodes, 4 councils) make it"),
            "{}",
            index_error(&longer)
        );
        // A count beyond the file is refused before anything is allocated for it.
        let mut huge = bytes.clone();
        huge.splice(16..24, u64::MAX.to_le_bytes());
        assert!(index_error(&huge).contains("more than its"), "{}", index_error(&huge));
        let mut none = bytes.clone();
        none.splice(16..24, 0u64.to_le_bytes());
        assert_eq!(index_error(&none), "the postcode directory lists no postcode");
        // A block size that is not a power of two, or too large.
        for block in [0u32, 3, 1 << 17] {
            let mut b = bytes.clone();
            b.splice(24..28, block.to_le_bytes());
            assert!(index_error(&b).contains(&format!("its blocks hold {block} postcodes")), "{}", index_error(&b));
        }
    }

    #[test]
    fn an_index_of_another_kind_or_version_is_refused() {
        let bytes = index_of(&small());
        let mut magic = bytes.clone();
        magic[1] = b'X';
        // Not the magic: read as CSV, whose first line is then no header of a directory.
        assert!(
            index_error(&magic).starts_with("the postcode directory has no `pcd` column"),
            "{}",
            index_error(&magic)
        );
        assert_eq!(
            PostcodeDirectory::read_index(std::io::Cursor::new(magic)).map(|_| ()).map_err(|e| e.to_string()),
            Err("the postcode index is not sound: it does not start with the index's magic bytes".into())
        );
        let mut version = bytes;
        version.splice(8..12, 1u32.to_le_bytes());
        assert!(
            index_error(&version).starts_with("the postcode index is format version 1; this caregate reads version 2")
        );
    }

    /// The damage a lookup of `postcode` finds in the index `bytes` (which loads: what is checked at load is
    /// sound), after which the lookup and every other in that block find nothing.
    fn damage_found(bytes: &[u8], postcode: &str) -> String {
        let d = load(bytes).expect("the head of the index is sound");
        assert_eq!(d.damage(), None);
        assert_eq!(d.place(postcode), None, "{postcode}");
        d.damage().map(str::to_string).unwrap_or_else(|| panic!("no damage found looking {postcode} up"))
    }

    #[test]
    fn an_index_whose_content_breaks_its_invariants_is_refused_where_it_is_read() {
        let d = small();
        let bytes = index_of(&d);
        let n = d.len();
        let all = entries(&d);
        let key = |i: usize| blocks_at(&d) + 8 * i;
        let place = |i: usize| blocks_at(&d) + 8 * (n + i);
        let with = |at: usize, value: u64| {
            let mut b = bytes.clone();
            b.splice(at..at + 8, value.to_le_bytes());
            b
        };
        // Keys out of order: the first two swapped (the block no longer starts at its first key), or one
        // repeated.
        let mut swapped = with(key(0), all[1].0);
        swapped.splice(key(1)..key(2), all[0].0.to_le_bytes());
        assert!(damage_found(&swapped, "TW9 1AA").contains("block 1 does not start with the key"));
        let repeated = damage_found(&with(key(1), all[0].0), "TW9 1AA");
        assert!(repeated.contains("postcode 2 (EH11AA) does not come after"), "{repeated}");
        // A council beyond the table (index 5 of 4), and grid values without the flag.
        let authority = (all[0].1 & ((1 << AUTHORITY_SHIFT) - 1)) | (5 << AUTHORITY_SHIFT);
        assert!(damage_found(&with(place(0), authority), "M1 1AE").contains("names council 5, but the table has 4"));
        assert!(damage_found(&with(place(0), u64::MAX), "M1 1AE").contains("names council"));
        assert!(damage_found(&with(place(0), 7), "M1 1AE").contains("has grid values but no grid reference"));
        // Damage is said as "not sound", and writing the index again fails rather than copy it.
        let damaged = load(&with(place(0), 7)).expect("loads");
        assert!(damaged.write_index(&mut Vec::new()).is_err());
        assert!(damaged.damage().is_some_and(|d| d.starts_with("the postcode index is not sound: postcode 1 (")));
        // A key no postcode has (beyond seven characters, padding inside, or one character) is kept in its place
        // but never listed, and no lookup (whose keys are made from postcodes) finds it.
        for bad in [u64::MAX, 11 * 37u64.pow(6) + 11, 11 * 37u64.pow(6)] {
            assert!(!key_is_valid(bad), "{bad:#x}");
        }
        let loaded = load(&with(key(n - 1), u64::MAX)).expect("loads");
        assert_eq!((loaded.len(), loaded.iter().count()), (n, n - 1));
        assert!(loaded.iter().all(|(listed, _)| key_is_valid(listed.0)));
        assert_eq!(loaded.place("TW9 1AA"), d.place("TW9 1AA"));
        assert_eq!(loaded.damage(), None);
        // A block whose last key is not below the next block's first.
        let twos = small_in_twos();
        let twos_bytes = index_of(&twos);
        let mut b = twos_bytes.clone();
        let second_key = blocks_at(&twos) + 8;
        b.splice(second_key..second_key + 8, twos.fences[1].to_le_bytes());
        assert!(damage_found(&b, "EH1 1AA").contains("does not come before the next block's first"));
        // The blocks' first keys out of order are refused when the index loads.
        let mut b = twos_bytes.clone();
        let fences = INDEX_HEADER + 40;
        b.splice(fences + 8..fences + 16, twos.fences[0].to_le_bytes());
        assert!(index_error(&b).contains("block 2 starts at postcode"), "{}", index_error(&b));
        // A council code that is not one: empty, too long, or not upper-case letters and digits.
        for (at, byte) in [(INDEX_HEADER, 0u8), (INDEX_HEADER, 10), (INDEX_HEADER + 1, b'e'), (INDEX_HEADER + 1, 0xff)]
        {
            let mut b = bytes.clone();
            b[at] = byte;
            assert!(index_error(&b).contains("council 1 has a code"), "{}", index_error(&b));
        }
        // Too many councils.
        let mut b = bytes.clone();
        b.splice(12..16, 70_000u32.to_le_bytes());
        assert_eq!(index_error(&b), "the postcode directory names more than 65535 local authorities");
        // Every single-byte change anywhere is either refused or still a directory that answers lookups: never
        // a panic.
        for bytes in [bytes, twos_bytes] {
            for at in 0..bytes.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut b = bytes.clone();
                    b[at] ^= flip;
                    if let Ok(d) = load(&b) {
                        for postcode in LOOKUPS {
                            let _ = d.place(postcode);
                        }
                        let _ = d.iter().count();
                    }
                }
            }
        }
    }

    /// A directory whose index file cannot be read when a block is needed says so, rather than answer.
    #[test]
    fn a_block_that_cannot_be_read_is_damage() {
        struct Failing(std::io::Cursor<Vec<u8>>, usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                // Reads up to the blocks succeed; a block's fails.
                if self.0.position() as usize >= self.1 {
                    return Err(std::io::Error::other("the disk went away"));
                }
                let room = (self.1 - self.0.position() as usize).min(buf.len());
                self.0.read(&mut buf[..room])
            }
        }
        impl Seek for Failing {
            fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
                self.0.seek(to)
            }
        }
        let d = small();
        let bytes = index_of(&d);
        let failing = PostcodeDirectory::load(Failing(std::io::Cursor::new(bytes), blocks_at(&d))).expect("loads");
        assert_eq!(failing.place("TW9 1AA"), None);
        assert_eq!(
            failing.damage(),
            Some("the postcode index is not sound: block 1 could not be read: the disk went away")
        );
    }
}
