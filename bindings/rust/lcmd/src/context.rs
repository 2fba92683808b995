//! The context: device, CPU threads, seed and log level.
use crate::*;

c_enum! {
    /// Severity of log messages (`lcmd_log_level`).
    LogLevel: sys::lcmd_log_level {
        Debug = sys::lcmd_log_level_LCMD_LOG_DEBUG,
        Info = sys::lcmd_log_level_LCMD_LOG_INFO,
        Warn = sys::lcmd_log_level_LCMD_LOG_WARN,
        Error = sys::lcmd_log_level_LCMD_LOG_ERROR,
        Off = sys::lcmd_log_level_LCMD_LOG_OFF,
    }
}

/// Options of [`Context::with_options`]: `lcmd_context_options` as
/// `lcmd_context_options_init` fills it (cpu, all cores, seed 0, stderr log at INFO).
#[derive(Clone, Debug)]
pub struct ContextOptions {
    raw: sys::lcmd_context_options,
    device: Option<String>,
}

impl Default for ContextOptions {
    fn default() -> Self {
        ContextOptions { raw: zeroed_init(sys::lcmd_context_options_init), device: None }
    }
}

impl ContextOptions {
    pub fn new() -> Self {
        Self::default()
    }
    /// "cpu", "cuda" or "cuda:N".
    pub fn device(mut self, device: &str) -> Self {
        self.device = Some(device.to_owned());
        self
    }
    /// CPU threads; 0 = all cores.
    pub fn num_threads(mut self, n: i32) -> Self {
        self.raw.num_threads = n;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.raw.seed = seed;
        self
    }
    /// Lowest level reported (to stderr: this crate installs no callback).
    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.raw.log_level = level.raw();
        self
    }
    /// The C struct (a device set with `device()` replaces its pointer at create time).
    pub fn raw(&self) -> &sys::lcmd_context_options {
        &self.raw
    }
}

owned_handle! {
    /// `lcmd_context`: every other handle borrows one and must be dropped before it.
    Context, sys::lcmd_context, sys::lcmd_context_destroy
}

impl Context {
    /// A context with the defaults (cpu, all cores, seed 0).
    pub fn new() -> Result<Context> {
        let mut out = ptr::null_mut();
        check(unsafe { sys::lcmd_context_create(ptr::null(), &mut out) })?;
        Ok(unsafe { Context::from_raw(out) }.expect("lcmd_context_create gave NULL"))
    }

    pub fn with_options(options: &ContextOptions) -> Result<Context> {
        let device = opt_c_string(options.device.as_deref(), "device")?;
        let mut raw = options.raw;
        if let Some(device) = &device {
            raw.device = device.as_ptr();
        }
        let mut out = ptr::null_mut();
        check(unsafe { sys::lcmd_context_create(&raw, &mut out) })?;
        Ok(unsafe { Context::from_raw(out) }.expect("lcmd_context_create gave NULL"))
    }

    /// "cpu" or "cuda:N".
    pub fn device(&self) -> String {
        unsafe { owned_string(sys::lcmd_context_device(self.as_ptr())) }.unwrap_or_default()
    }

    pub fn num_threads(&self) -> i32 {
        unsafe { sys::lcmd_context_num_threads(self.as_ptr()) }
    }

    pub fn seed(&self) -> u64 {
        unsafe { sys::lcmd_context_seed(self.as_ptr()) }
    }

    /// Sends a message to the context's log.
    pub fn log(&self, level: LogLevel, message: &str) {
        if let Ok(msg) = CString::new(message) {
            unsafe { sys::lcmd_context_log(self.as_ptr(), level.raw(), msg.as_ptr()) }
        }
    }

    /// Checks every op of the backend against a reference; Ok(report) when all agree.
    pub fn self_check(&self) -> Result<String> {
        let mut buf = vec![0 as c_char; 1 << 16];
        let st = unsafe { sys::lcmd_context_self_check(self.as_ptr(), buf.as_mut_ptr(), buf.len()) };
        let report = unsafe { owned_string(buf.as_ptr()) }.unwrap_or_default();
        check(st).map(|()| report)
    }
}
