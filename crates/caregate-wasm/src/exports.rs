//! The module's C interface, for the hand-written loader (`crates/caregate-console/site/engine.js`).
//!
//! The page allocates a buffer with [`cg_alloc`] for each file's name and bytes, hands them over with
//! [`cg_add_file`] (the module owns them from then on), then calls [`cg_validate`] with the request's JSON.
//! The answer (the JSON report, or an error's text) is read at [`cg_result_ptr`] for [`cg_result_len`]
//! bytes, valid until the next call that answers. One run at a time: a module instance lives in one worker.
#![allow(unsafe_code)]

use std::cell::RefCell;

use super::{Progress, Request};

/// The module's allocator in place of std's dlmalloc on wasm32: a run makes and drops millions of small values
/// (strings of a record, findings), and dlmalloc's bookkeeping was a sixth of the time in the profile.
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[link(wasm_import_module = "env")]
extern "C" {
    /// The page's progress callback: files done of total, and bytes read of the current file.
    fn cg_progress(done: u32, total: u32, file: u32, read: f64, bytes: f64);
    /// Fills `len` bytes at `ptr` with the page's `crypto.getRandomValues`.
    fn cg_random(ptr: *mut u8, len: usize);
}

/// getrandom's source on wasm32 (`getrandom_backend = "custom"`, .cargo/config.toml): the page's
/// `crypto.getRandomValues`. What it seeds is hash tables' keys (ahash), against inputs crafted to collide.
///
/// # Safety
/// `dest` must be valid for writes of `len` bytes, as getrandom guarantees.
#[no_mangle]
unsafe extern "Rust" fn __getrandom_v03_custom(dest: *mut u8, len: usize) -> Result<(), getrandom::Error> {
    // SAFETY: the page writes exactly `len` bytes at `dest`, which getrandom gives valid for them.
    unsafe { cg_random(dest, len) };
    Ok(())
}

thread_local! {
    static FILES: RefCell<Vec<(String, Vec<u8>)>> = const { RefCell::new(Vec::new()) };
    static RESULT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static EXCERPTS: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

#[derive(Clone, Copy)]
struct Page;

impl Progress for Page {
    fn files(&self, done: usize, total: usize) {
        // SAFETY: an imported function taking plain numbers; the page provides it at instantiation.
        unsafe { cg_progress(done as u32, total as u32, u32::MAX, 0.0, 0.0) }
    }
    fn bytes(&self, file: usize, read: u64, total: u64) {
        // SAFETY: as above.
        unsafe { cg_progress(0, 0, file as u32, read as f64, total as f64) }
    }
}

/// A buffer of `len` bytes for the page to fill; given back with [`cg_add_file`] or [`cg_free`].
#[no_mangle]
pub extern "C" fn cg_alloc(len: usize) -> *mut u8 {
    let mut buffer = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(len));
    buffer.as_mut_ptr()
}

/// Frees a buffer of [`cg_alloc`] the page does not hand over.
///
/// # Safety
/// `ptr` must come from `cg_alloc(len)` with this `len`, and not be used again.
#[no_mangle]
pub unsafe extern "C" fn cg_free(ptr: *mut u8, len: usize) {
    // SAFETY: the caller's contract: the buffer was made by `cg_alloc(len)` with capacity `len`.
    drop(unsafe { Vec::from_raw_parts(ptr, 0, len) });
}

/// Takes a buffer of [`cg_alloc`] (capacity `len`) whose first `len` bytes the page has written.
///
/// # Safety
/// `ptr` must come from `cg_alloc(len)` and have all `len` bytes written.
unsafe fn take(ptr: *mut u8, len: usize) -> Vec<u8> {
    // SAFETY: the caller's contract, as above.
    unsafe { Vec::from_raw_parts(ptr, len, len) }
}

/// Adds a file to the next run: its name (UTF-8) and its bytes, both buffers of [`cg_alloc`], owned by the
/// module from now on.
///
/// # Safety
/// Both buffers as [`take`] requires.
#[no_mangle]
pub unsafe extern "C" fn cg_add_file(name_ptr: *mut u8, name_len: usize, bytes_ptr: *mut u8, bytes_len: usize) {
    // SAFETY: the caller's contract.
    let (name, bytes) = unsafe { (take(name_ptr, name_len), take(bytes_ptr, bytes_len)) };
    let name = String::from_utf8_lossy(&name).into_owned();
    FILES.with(|files| files.borrow_mut().push((name, bytes)));
}

fn answer(result: Result<Vec<u8>, String>) -> u32 {
    let (status, bytes) = match result {
        Ok(bytes) => (0, bytes),
        Err(message) => (1, message.into_bytes()),
    };
    RESULT.with(|r| *r.borrow_mut() = bytes);
    status
}

/// Validates the files added since the last run, as `request` (JSON, a buffer of [`cg_alloc`]) says.
/// 0: the answer is the JSON report (and the excerpts are the run's); 1: it is the text of the error that
/// stopped the run.
///
/// # Safety
/// The buffer as [`take`] requires.
#[no_mangle]
pub unsafe extern "C" fn cg_validate(request_ptr: *mut u8, request_len: usize) -> u32 {
    // SAFETY: the caller's contract.
    let request = unsafe { take(request_ptr, request_len) };
    let files = FILES.with(|files| std::mem::take(&mut *files.borrow_mut()));
    let result = serde_json::from_slice::<Request>(&request)
        .map_err(|e| format!("the request is not understood: {e}"))
        .and_then(|request| super::validate(files, &request, Page))
        .map(|validated| {
            EXCERPTS.with(|e| *e.borrow_mut() = validated.excerpts);
            validated.report
        });
    answer(result)
}

/// The embedded standards (JSON list) as the answer. 0, or 1 with an error's text.
#[no_mangle]
pub extern "C" fn cg_standards() -> u32 {
    answer(super::standards().and_then(|list| serde_json::to_vec(&list).map_err(|e| e.to_string())))
}

/// Checks the embedded packs' valid examples `rounds` times over (see `warm`); the answer is how many documents
/// that was, as text. 0, or 1 with an error's text.
#[no_mangle]
pub extern "C" fn cg_warm(rounds: u32) -> u32 {
    answer(super::warm(rounds as usize).map(|n| n.to_string().into_bytes()))
}

/// Where the last answer is.
#[no_mangle]
pub extern "C" fn cg_result_ptr() -> *const u8 {
    RESULT.with(|r| r.borrow().as_ptr())
}

/// Where the last run's excerpts are (a JSON array, one item a finding; see `Validated::excerpts`).
#[no_mangle]
pub extern "C" fn cg_excerpts_ptr() -> *const u8 {
    EXCERPTS.with(|e| e.borrow().as_ptr())
}

/// How long the last run's excerpts are.
#[no_mangle]
pub extern "C" fn cg_excerpts_len() -> usize {
    EXCERPTS.with(|e| e.borrow().len())
}

/// How long the last answer is.
#[no_mangle]
pub extern "C" fn cg_result_len() -> usize {
    RESULT.with(|r| r.borrow().len())
}
