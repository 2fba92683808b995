//! A diffusers pipeline folder opened as one handle.
use crate::*;

/// Options of [`Pipeline::open`] (`lcmd_pipeline_options`: every component, no variant).
#[derive(Clone, Debug)]
pub struct PipelineOptions {
    raw: sys::lcmd_pipeline_options,
    variant: Option<String>,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions { raw: zeroed_init(sys::lcmd_pipeline_options_init), variant: None }
    }
}

impl PipelineOptions {
    pub fn new() -> Self {
        Self::default()
    }
    /// Weight-file variant of every model ("fp16").
    pub fn variant(mut self, variant: &str) -> Self {
        self.variant = Some(variant.to_owned());
        self
    }
    pub fn load_unet(mut self, yes: bool) -> Self {
        self.raw.load_unet = yes as i32;
        self
    }
    pub fn load_vae(mut self, yes: bool) -> Self {
        self.raw.load_vae = yes as i32;
        self
    }
    /// Tokenizer(s) and text encoder(s).
    pub fn load_text(mut self, yes: bool) -> Self {
        self.raw.load_text = yes as i32;
        self
    }
}

owned_handle! {
    /// `lcmd_pipeline`: owns the tokenizer(s), text encoder(s), VAE and UNet it loaded.
    Pipeline<'ctx>, sys::lcmd_pipeline, sys::lcmd_pipeline_destroy
}

impl<'ctx> Pipeline<'ctx> {
    /// Opens a diffusers pipeline folder; `options` None loads everything.
    pub fn open(ctx: &'ctx Context, folder: impl AsRef<Path>, options: Option<&PipelineOptions>) -> Result<Pipeline<'ctx>> {
        let folder = c_path(folder.as_ref())?;
        let mut out = ptr::null_mut();
        let st = match options {
            None => unsafe { sys::lcmd_pipeline_open(ctx.as_ptr(), folder.as_ptr(), ptr::null(), &mut out) },
            Some(o) => {
                let variant = opt_c_string(o.variant.as_deref(), "variant")?;
                let mut raw = o.raw;
                raw.variant = opt_ptr(&variant);
                unsafe { sys::lcmd_pipeline_open(ctx.as_ptr(), folder.as_ptr(), &raw, &mut out) }
            }
        };
        check(st)?;
        Ok(unsafe { Pipeline::from_raw(out) }.expect("NULL pipeline"))
    }

    /// `_class_name` of model_index.json.
    pub fn class_name(&self) -> String {
        unsafe { owned_string(sys::lcmd_pipeline_class_name(self.as_ptr())) }.unwrap_or_default()
    }

    pub fn is_sdxl(&self) -> bool {
        unsafe { sys::lcmd_pipeline_is_sdxl(self.as_ptr()) != 0 }
    }

    /// `index` 0: `tokenizer/`, 1: `tokenizer_2/` (SDXL). None when not loaded.
    pub fn tokenizer(&self, index: i32) -> Option<&TokenizerRef> {
        let p = unsafe { sys::lcmd_pipeline_tokenizer(self.as_ptr(), index) };
        (!p.is_null()).then(|| unsafe { TokenizerRef::from_ptr(p) })
    }

    /// `index` 0: `text_encoder/`, 1: `text_encoder_2/` (SDXL).
    pub fn text_encoder(&self, index: i32) -> Option<&TextEncoderRef> {
        let p = unsafe { sys::lcmd_pipeline_text_encoder(self.as_ptr(), index) };
        (!p.is_null()).then(|| unsafe { TextEncoderRef::from_ptr(p) })
    }

    pub fn vae(&self) -> Option<&VaeRef> {
        let p = unsafe { sys::lcmd_pipeline_vae(self.as_ptr()) };
        (!p.is_null()).then(|| unsafe { VaeRef::from_ptr(p) })
    }

    pub fn unet(&self) -> Option<&UnetRef> {
        let p = unsafe { sys::lcmd_pipeline_unet(self.as_ptr()) };
        (!p.is_null()).then(|| unsafe { UnetRef::from_ptr(p) })
    }

    /// The scheduler config (scheduler/scheduler_config.json over LCMScheduler's defaults).
    pub fn scheduler_config(&self) -> Result<SchedulerConfig> {
        let mut cfg = SchedulerConfig::new();
        check(unsafe { sys::lcmd_pipeline_scheduler_config(self.as_ptr(), &mut cfg.raw) })?;
        Ok(cfg)
    }
}
