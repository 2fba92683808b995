//! Safe Rust API over liblcmd, the C library for Latent Consistency Distillation of
//! Stable Diffusion models.
//!
//! - Every handle is an RAII value whose `Drop` calls the library's destroy function.
//!   Handles that other handles borrow (a UNet, VAE, text encoder or tokenizer owned by a
//!   pipeline or trainer) are also reachable as `&UnetRef`, `&VaeRef`, ...; the owned
//!   types ([`Unet`], [`Vae`], ...) dereference to them.
//! - Handles carry the lifetime of what they borrow (the [`Context`], the teacher UNet, the
//!   encoders), so the compiler keeps the library's "must outlive" rules.
//! - Every fallible call returns [`Result`]; an [`Error`] carries the [`Status`] and the
//!   library's message from `lcmd_last_error()`.
//! - Arrays go in as slices and come back as `Vec`s (or are written into `&mut` slices);
//!   lengths are checked before the call.
//! - Option structs are filled by the library's `*_init` functions (`Default`) and changed
//!   with builder setters or, for the plain ones, through `Deref` to the C struct's fields.
//!
//! Handles are neither `Send` nor `Sync`: liblcmd handles are not thread-safe.
//!
//! ```no_run
//! use lcmd::{Context, ContextOptions, Pipeline, LcmScheduler};
//! # fn main() -> lcmd::Result<()> {
//! let ctx = Context::with_options(&ContextOptions::new().num_threads(2))?;
//! let pipe = Pipeline::open(&ctx, "sd15/", None)?;
//! let mut sched = LcmScheduler::new(Some(&ctx), &pipe.scheduler_config()?)?;
//! sched.set_timesteps(4, 0, 1.0)?;
//! println!("timesteps {:?}", sched.timesteps()?);
//! # Ok(()) }
//! ```

use std::cell::UnsafeCell;
use std::ffi::{CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::{self, NonNull};

pub use lcmd_sys as sys;

// ------------------------------------------------------------------------- errors

/// The failure classes of `lcmd_status` (LCMD_OK is `Ok(..)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    InvalidArgument,
    Io,
    Format,
    OutOfMemory,
    Device,
    Unsupported,
    /// A stream has no more items; most wrappers turn it into `Ok(None)`.
    EndOfStream,
    Numeric,
    Comm,
    Internal,
    /// A code this crate does not know (from a newer library).
    Other(u32),
}

impl Status {
    /// `None` for LCMD_OK.
    pub fn from_raw(code: sys::lcmd_status) -> Option<Status> {
        Some(match code {
            sys::lcmd_status_LCMD_OK => return None,
            sys::lcmd_status_LCMD_ERR_INVALID_ARGUMENT => Status::InvalidArgument,
            sys::lcmd_status_LCMD_ERR_IO => Status::Io,
            sys::lcmd_status_LCMD_ERR_FORMAT => Status::Format,
            sys::lcmd_status_LCMD_ERR_OUT_OF_MEMORY => Status::OutOfMemory,
            sys::lcmd_status_LCMD_ERR_DEVICE => Status::Device,
            sys::lcmd_status_LCMD_ERR_UNSUPPORTED => Status::Unsupported,
            sys::lcmd_status_LCMD_END_OF_STREAM => Status::EndOfStream,
            sys::lcmd_status_LCMD_ERR_NUMERIC => Status::Numeric,
            sys::lcmd_status_LCMD_ERR_COMM => Status::Comm,
            sys::lcmd_status_LCMD_ERR_INTERNAL => Status::Internal,
            other => Status::Other(other),
        })
    }

    /// The numeric `lcmd_status`.
    pub fn code(self) -> sys::lcmd_status {
        match self {
            Status::InvalidArgument => sys::lcmd_status_LCMD_ERR_INVALID_ARGUMENT,
            Status::Io => sys::lcmd_status_LCMD_ERR_IO,
            Status::Format => sys::lcmd_status_LCMD_ERR_FORMAT,
            Status::OutOfMemory => sys::lcmd_status_LCMD_ERR_OUT_OF_MEMORY,
            Status::Device => sys::lcmd_status_LCMD_ERR_DEVICE,
            Status::Unsupported => sys::lcmd_status_LCMD_ERR_UNSUPPORTED,
            Status::EndOfStream => sys::lcmd_status_LCMD_END_OF_STREAM,
            Status::Numeric => sys::lcmd_status_LCMD_ERR_NUMERIC,
            Status::Comm => sys::lcmd_status_LCMD_ERR_COMM,
            Status::Internal => sys::lcmd_status_LCMD_ERR_INTERNAL,
            Status::Other(code) => code,
        }
    }

    /// The library's short description (`lcmd_status_string`).
    pub fn description(self) -> &'static str {
        // static storage in the library
        unsafe { static_str(sys::lcmd_status_string(self.code())) }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A failed liblcmd call: its status and the detail message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    status: Status,
    message: String,
}

impl Error {
    /// An error made on the Rust side (argument checks before a call).
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error { status, message: message.into() }
    }

    /// The status `code` with the calling thread's `lcmd_last_error()`.
    pub fn from_last(status: Status) -> Error {
        let message = unsafe { CStr::from_ptr(sys::lcmd_last_error()) }.to_string_lossy().into_owned();
        Error { status, message }
    }

    fn invalid(message: impl Into<String>) -> Error {
        Error::new(Status::InvalidArgument, message)
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// The raw `lcmd_status` code.
    pub fn code(&self) -> sys::lcmd_status {
        self.status.code()
    }

    /// The library's detail message (names the file, key, field or shape).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.status)
        } else {
            write!(f, "{}: {}", self.status, self.message)
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Ok for LCMD_OK, else the error with the library's message.
pub(crate) fn check(code: sys::lcmd_status) -> Result<()> {
    match Status::from_raw(code) {
        None => Ok(()),
        Some(status) => Err(Error::from_last(status)),
    }
}

/// Like `check`, but LCMD_END_OF_STREAM is `Ok(false)`.
pub(crate) fn check_stream(code: sys::lcmd_status) -> Result<bool> {
    match Status::from_raw(code) {
        None => Ok(true),
        Some(Status::EndOfStream) => Ok(false),
        Some(status) => Err(Error::from_last(status)),
    }
}

// ------------------------------------------------------------------------- helpers

unsafe fn static_str(p: *const c_char) -> &'static str {
    if p.is_null() {
        ""
    } else {
        CStr::from_ptr(p).to_str().unwrap_or("")
    }
}

unsafe fn owned_string(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

pub(crate) fn c_string(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid(format!("{}: {:?} holds a NUL byte", what, s)))
}

pub(crate) fn c_path(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(format!("path {:?} holds a NUL byte", p)))
}

pub(crate) fn opt_c_string(s: Option<&str>, what: &str) -> Result<Option<CString>> {
    s.map(|s| c_string(s, what)).transpose()
}

pub(crate) fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |s| s.as_ptr())
}

pub(crate) fn opt_slice<T>(s: Option<&[T]>) -> *const T {
    s.map_or(ptr::null(), |s| s.as_ptr())
}

/// Checks that `len == expected` for the array named `what`.
pub(crate) fn check_len(what: &str, len: usize, expected: i64) -> Result<()> {
    if expected < 0 || len as u64 != expected as u64 {
        return Err(Error::invalid(format!("{}: {} values, expected {}", what, len, expected)));
    }
    Ok(())
}

/// `len / batch`, when `batch >= 1` divides `len` and the result is at least 1.
pub(crate) fn per_sample(what: &str, len: usize, batch: usize) -> Result<i64> {
    if batch == 0 || len == 0 || len % batch != 0 {
        return Err(Error::invalid(format!(
            "{}: {} values is not a positive multiple of the batch {}",
            what, len, batch
        )));
    }
    Ok((len / batch) as i64)
}

pub(crate) fn zeroed_init<T>(init: unsafe extern "C" fn(*mut T) -> sys::lcmd_status) -> T {
    // Every *_init only fails on NULL.
    let mut raw: T = unsafe { std::mem::zeroed() };
    let st = unsafe { init(&mut raw) };
    debug_assert_eq!(st, sys::lcmd_status_LCMD_OK);
    raw
}

/// Handles that are borrowed as well as owned: `$refty` is the borrowed view (a
/// zero-sized stand-in for the C object, used as `&$refty`), `$owned` owns one and
/// destroys it on drop.
macro_rules! handle {
    ($(#[$om:meta])* $owned:ident, $(#[$rm:meta])* $refty:ident, $raw:ty, $destroy:path) => {
        $(#[$rm])*
        #[repr(transparent)]
        pub struct $refty(UnsafeCell<$raw>);

        impl $refty {
            /// # Safety
            /// `p` must be a live handle that outlives `'x`.
            #[allow(dead_code)]
            pub(crate) unsafe fn from_ptr<'x>(p: *mut $raw) -> &'x $refty {
                &*(p as *const $refty)
            }

            /// The C handle (still owned by whoever owns it).
            pub fn as_ptr(&self) -> *mut $raw {
                self.0.get()
            }
        }

        $(#[$om])*
        pub struct $owned<'a> {
            ptr: NonNull<$raw>,
            _life: PhantomData<&'a Context>,
        }

        impl<'a> $owned<'a> {
            /// Takes ownership of a C handle (NULL gives None).
            ///
            /// # Safety
            /// `p` must be a live handle that nothing else destroys, and what it borrows
            /// must outlive `'a`.
            pub unsafe fn from_raw(p: *mut $raw) -> Option<$owned<'a>> {
                NonNull::new(p).map(|ptr| $owned { ptr, _life: PhantomData })
            }

            /// Gives up ownership; the caller destroys the handle.
            pub fn into_raw(self) -> *mut $raw {
                let p = self.ptr.as_ptr();
                std::mem::forget(self);
                p
            }
        }

        impl Deref for $owned<'_> {
            type Target = $refty;
            fn deref(&self) -> &$refty {
                unsafe { $refty::from_ptr(self.ptr.as_ptr()) }
            }
        }

        impl Drop for $owned<'_> {
            fn drop(&mut self) {
                unsafe { $destroy(self.ptr.as_ptr()) }
            }
        }

        impl fmt::Debug for $owned<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($owned)).field(&self.ptr).finish()
            }
        }
    };
}

/// A handle that is only ever owned.
macro_rules! owned_handle {
    ($(#[$om:meta])* $owned:ident $(<$life:lifetime>)?, $raw:ty, $destroy:path) => {
        $(#[$om])*
        pub struct $owned $(<$life>)? {
            ptr: NonNull<$raw>,
            $(_life: PhantomData<&$life Context>,)?
        }

        impl $(<$life>)? $owned $(<$life>)? {
            /// Takes ownership of a C handle (NULL gives None).
            ///
            /// # Safety
            /// `p` must be a live handle that nothing else destroys, and what it borrows
            /// must outlive the wrapper.
            pub unsafe fn from_raw(p: *mut $raw) -> Option<Self> {
                NonNull::new(p).map(|ptr| $owned { ptr, $(_life: PhantomData::<&$life Context>,)? })
            }

            /// The C handle (still owned by this value).
            pub fn as_ptr(&self) -> *mut $raw {
                self.ptr.as_ptr()
            }

            /// Gives up ownership; the caller destroys the handle.
            pub fn into_raw(self) -> *mut $raw {
                let p = self.ptr.as_ptr();
                std::mem::forget(self);
                p
            }
        }

        impl $(<$life>)? Drop for $owned $(<$life>)? {
            fn drop(&mut self) {
                unsafe { $destroy(self.ptr.as_ptr()) }
            }
        }

        impl $(<$life>)? fmt::Debug for $owned $(<$life>)? {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($owned)).field(&self.ptr).finish()
            }
        }
    };
}

/// An option struct without pointers: filled by `$init`, its C fields reachable through
/// Deref/DerefMut, plus builder setters for the listed fields.
macro_rules! plain_options {
    ($(#[$m:meta])* $name:ident, $raw:ty, $init:path { $($field:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug)]
        pub struct $name {
            /// The C struct, as `*_init` filled it.
            pub raw: $raw,
        }

        impl Default for $name {
            fn default() -> Self {
                $name { raw: zeroed_init($init) }
            }
        }

        impl $name {
            /// The library's defaults.
            pub fn new() -> Self {
                Self::default()
            }
            $(
                pub fn $field(mut self, value: $t) -> Self {
                    self.raw.$field = value;
                    self
                }
            )*
        }

        impl Deref for $name {
            type Target = $raw;
            fn deref(&self) -> &$raw {
                &self.raw
            }
        }

        impl DerefMut for $name {
            fn deref_mut(&mut self) -> &mut $raw {
                &mut self.raw
            }
        }
    };
}

/// A C enum as a Rust enum over its constants.
macro_rules! c_enum {
    ($(#[$m:meta])* $name:ident : $raw:ty { $($variant:ident = $value:path),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum $name {
            $($variant = $value),*
        }

        impl $name {
            pub fn raw(self) -> $raw {
                self as $raw
            }
        }
    };
}

mod context;
mod data;
mod demo;
mod models;
mod pipeline;
mod sched;
mod train;

pub use context::{Context, ContextOptions, LogLevel};
pub use data::{Batch, CropMode, Crop, Dataset, DatasetOptions, DatasetStats};
pub use demo::{write_shards, write_teacher, pretrain_teacher, DemoDataOptions, DemoPretrainOptions, DemoTeacherOptions};
pub use models::{
    TextCleanup, TextEncoder, TextEncoderInfo, TextEncoderOutput, TextEncoderRef, TextOutputs, Tokenizer,
    TokenizerOptions, TokenizerRef, Unet, UnetInfo, UnetInputs, UnetRef, Vae, VaeInfo, VaeRef, WeightDtype,
};
pub use pipeline::{Pipeline, PipelineOptions};
pub use sched::{
    boundary_scalings, guidance_scale_embedding, BetaSchedule, DdimSolver, LcmScheduler, LcmStep, NoiseSchedule,
    PredictionType, SchedulerConfig,
};
pub use train::{
    lr_multiplier, LossType, LrSchedule, Progress, StepBatch, StepInputs, StepReport, Trainer, TrainerOptions,
};

// ------------------------------------------------------------------------- free functions

/// Version of the loaded library (`MAJOR * 10000 + MINOR * 100 + PATCH`).
pub fn version() -> u32 {
    unsafe { sys::lcmd_version() }
}

/// Version of the loaded library as "MAJOR.MINOR.PATCH".
pub fn version_string() -> &'static str {
    unsafe { static_str(sys::lcmd_version_string()) }
}

/// Version of the headers these bindings were generated from.
pub const HEADER_VERSION: u32 = sys::LCMD_VERSION_NUMBER;

/// Whether this build of the library has the CUDA backend.
pub fn build_has_cuda() -> bool {
    unsafe { sys::lcmd_build_has_cuda() != 0 }
}

/// Usable CUDA devices (0 without CUDA, driver or device).
pub fn cuda_device_count() -> i32 {
    unsafe { sys::lcmd_cuda_device_count() }
}

/// The calling thread's last detail message ("" when none).
pub fn last_error() -> String {
    unsafe { CStr::from_ptr(sys::lcmd_last_error()) }.to_string_lossy().into_owned()
}

/// Clears the calling thread's detail message.
pub fn clear_error() {
    unsafe { sys::lcmd_clear_error() }
}

/// One Philox4x32-10 block.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut out = [0u32; 4];
    let st = unsafe { sys::lcmd_philox4x32_10(counter.as_ptr(), key.as_ptr(), out.as_mut_ptr()) };
    debug_assert_eq!(st, sys::lcmd_status_LCMD_OK);
    out
}

/// Fills `out` with uniform floats in [0, 1) keyed by (seed, stream, offset).
pub fn rng_uniform(seed: u64, stream: u64, offset: u64, out: &mut [f32]) -> Result<()> {
    check(unsafe { sys::lcmd_rng_uniform(seed, stream, offset, out.as_mut_ptr(), out.len()) })
}

/// Fills `out` with standard normal floats keyed by (seed, stream, offset).
pub fn rng_normal(seed: u64, stream: u64, offset: u64, out: &mut [f32]) -> Result<()> {
    check(unsafe { sys::lcmd_rng_normal(seed, stream, offset, out.as_mut_ptr(), out.len()) })
}
