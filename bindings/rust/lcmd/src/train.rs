//! The LCD trainer.
use crate::*;

/// `lcmd_step_report`: what one step did.
pub type StepReport = sys::lcmd_step_report;

c_enum! {
    /// `lcmd_loss_type`.
    LossType: sys::lcmd_loss_type {
        L2 = sys::lcmd_loss_type_LCMD_LOSS_L2,
        Huber = sys::lcmd_loss_type_LCMD_LOSS_HUBER,
    }
}

c_enum! {
    /// `lcmd_lr_schedule`.
    LrSchedule: sys::lcmd_lr_schedule {
        Constant = sys::lcmd_lr_schedule_LCMD_LR_CONSTANT,
        ConstantWithWarmup = sys::lcmd_lr_schedule_LCMD_LR_CONSTANT_WITH_WARMUP,
        Linear = sys::lcmd_lr_schedule_LCMD_LR_LINEAR,
        Cosine = sys::lcmd_lr_schedule_LCMD_LR_COSINE,
        CosineWithRestarts = sys::lcmd_lr_schedule_LCMD_LR_COSINE_WITH_RESTARTS,
        Polynomial = sys::lcmd_lr_schedule_LCMD_LR_POLYNOMIAL,
    }
}

plain_options! {
    /// `lcmd_trainer_options`, with the distillation script's defaults.
    TrainerOptions, sys::lcmd_trainer_options, sys::lcmd_trainer_options_init {
        learning_rate: f64,
        adam_beta1: f64,
        adam_beta2: f64,
        adam_weight_decay: f64,
        adam_epsilon: f64,
        max_grad_norm: f64,
        w_min: f64,
        w_max: f64,
        num_ddim_timesteps: i32,
        huber_c: f64,
        ema_decay: f64,
        timestep_scaling_factor: f64,
        unet_time_cond_proj_dim: i32,
        lr_warmup_steps: i64,
        max_train_steps: i64,
        gradient_accumulation_steps: i32,
        seed: u64,
    }
}

impl TrainerOptions {
    pub fn loss_type(mut self, v: LossType) -> Self {
        self.raw.loss_type = v.raw();
        self
    }
    pub fn lr_scheduler(mut self, v: LrSchedule) -> Self {
        self.raw.lr_scheduler = v.raw();
        self
    }
    pub fn gradient_checkpointing(mut self, yes: bool) -> Self {
        self.raw.gradient_checkpointing = yes as i32;
        self
    }
}

/// The LR multiplier of a schedule after `s` optimizer steps.
pub fn lr_multiplier(sched: LrSchedule, s: i64, warmup: i64, total: i64, base_lr: f64) -> f64 {
    unsafe { sys::lcmd_lr_multiplier(sched.raw(), s, warmup, total, base_lr) }
}

/// One micro-batch of latents and embeddings for [`Trainer::step_latents`].
#[derive(Clone, Copy, Debug, Default)]
pub struct StepInputs<'a> {
    /// Latent shape `[batch, channels, height, width]`.
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// Scaled VAE latents z0.
    pub latents: &'a [f32],
    pub seq_len: usize,
    pub embed_dim: usize,
    /// `[batch, seq_len, embed_dim]`
    pub cond_embeds: &'a [f32],
    /// `[batch, seq_len, embed_dim]`
    pub uncond_embeds: &'a [f32],
    /// Injected draws (None: drawn from the trainer's Philox streams).
    pub noise: Option<&'a [f32]>,
    pub ddim_indices: Option<&'a [i64]>,
    pub guidance: Option<&'a [f32]>,
}

/// One micro-batch of images and captions for [`Trainer::step`].
#[derive(Clone, Copy, Debug, Default)]
pub struct StepBatch<'a> {
    pub height: usize,
    pub width: usize,
    /// `[captions.len(), 3, height, width]` in [-1, 1]
    pub images: &'a [f32],
    pub captions: &'a [&'a str],
    /// Injected draws (None: drawn).
    pub vae_noise: Option<&'a [f32]>,
    pub noise: Option<&'a [f32]>,
    pub ddim_indices: Option<&'a [i64]>,
    pub guidance: Option<&'a [f32]>,
}

/// Where training stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub step: i64,
    pub micro_steps: i64,
    pub samples_seen: i64,
}

owned_handle! {
    /// `lcmd_trainer`: the student, its EMA target, AdamW state and the DDIM solver.
    /// `'a` covers the context, the teacher and the encoders it borrows.
    Trainer<'a>, sys::lcmd_trainer, sys::lcmd_trainer_destroy
}

fn report() -> StepReport {
    zeroed_init(sys::lcmd_step_report_init)
}

impl<'a> Trainer<'a> {
    /// A trainer of `teacher` (borrowed for the trainer's life) with the teacher's
    /// scheduler config; `options` None = the script's defaults.
    pub fn new(
        ctx: &'a Context,
        teacher: &'a UnetRef,
        sched: &SchedulerConfig,
        options: Option<&TrainerOptions>,
    ) -> Result<Trainer<'a>> {
        let opts = options.map_or(ptr::null(), |o| &o.raw as *const _);
        let mut out = ptr::null_mut();
        check(unsafe { sys::lcmd_trainer_create(ctx.as_ptr(), teacher.as_ptr(), &sched.raw, opts, &mut out) })?;
        Ok(unsafe { Trainer::from_raw(out) }.expect("NULL trainer"))
    }

    /// The student UNet.
    pub fn student(&self) -> &UnetRef {
        unsafe { UnetRef::from_ptr(sys::lcmd_trainer_student(self.as_ptr())) }
    }

    /// The EMA target UNet.
    pub fn target(&self) -> &UnetRef {
        unsafe { UnetRef::from_ptr(sys::lcmd_trainer_target(self.as_ptr())) }
    }

    /// The encoders of [`step`](Self::step) and [`step_dataset`](Self::step_dataset),
    /// borrowed for the trainer's life.
    pub fn set_encoders(&mut self, tokenizer: &'a TokenizerRef, text_encoder: &'a TextEncoderRef, vae: &'a VaeRef) -> Result<()> {
        check(unsafe {
            sys::lcmd_trainer_set_encoders(self.as_ptr(), tokenizer.as_ptr(), text_encoder.as_ptr(), vae.as_ptr())
        })
    }

    /// One micro-step on latents and embeddings.
    pub fn step_latents(&mut self, inputs: &StepInputs<'_>) -> Result<StepReport> {
        let b = inputs.batch as i64;
        let latent = b * (inputs.channels * inputs.height * inputs.width) as i64;
        let embeds = b * (inputs.seq_len * inputs.embed_dim) as i64;
        check_len("latents", inputs.latents.len(), latent)?;
        check_len("cond_embeds", inputs.cond_embeds.len(), embeds)?;
        check_len("uncond_embeds", inputs.uncond_embeds.len(), embeds)?;
        if let Some(v) = inputs.noise {
            check_len("noise", v.len(), latent)?;
        }
        if let Some(v) = inputs.ddim_indices {
            check_len("ddim_indices", v.len(), b)?;
        }
        if let Some(v) = inputs.guidance {
            check_len("guidance", v.len(), b)?;
        }
        let mut raw: sys::lcmd_step_inputs = zeroed_init(sys::lcmd_step_inputs_init);
        raw.batch = b;
        raw.channels = inputs.channels as i64;
        raw.height = inputs.height as i64;
        raw.width = inputs.width as i64;
        raw.latents = inputs.latents.as_ptr();
        raw.seq_len = inputs.seq_len as i64;
        raw.embed_dim = inputs.embed_dim as i64;
        raw.cond_embeds = inputs.cond_embeds.as_ptr();
        raw.uncond_embeds = inputs.uncond_embeds.as_ptr();
        raw.noise = opt_slice(inputs.noise);
        raw.ddim_indices = opt_slice(inputs.ddim_indices);
        raw.guidance = opt_slice(inputs.guidance);
        let mut rep = report();
        check(unsafe { sys::lcmd_trainer_step_latents(self.as_ptr(), &raw, &mut rep) })?;
        Ok(rep)
    }

    /// One micro-step on images and captions (needs [`set_encoders`](Self::set_encoders)).
    pub fn step(&mut self, batch: &StepBatch<'_>) -> Result<StepReport> {
        let b = batch.captions.len();
        check_len("images", batch.images.len(), (b * 3 * batch.height * batch.width) as i64)?;
        if let Some(v) = batch.ddim_indices {
            check_len("ddim_indices", v.len(), b as i64)?;
        }
        if let Some(v) = batch.guidance {
            check_len("guidance", v.len(), b as i64)?;
        }
        // injected latent draws: [B, C, H/f, W/f] each (the library checks C and f)
        for (what, v) in [("vae_noise", batch.vae_noise), ("noise", batch.noise)] {
            if let Some(v) = v {
                per_sample(what, v.len(), b)?;
            }
        }
        if let (Some(a), Some(n)) = (batch.vae_noise, batch.noise) {
            check_len("noise", n.len(), a.len() as i64)?;
        }
        let owned = batch.captions.iter().map(|c| c_string(c, "caption")).collect::<Result<Vec<_>>>()?;
        let ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        let mut raw: sys::lcmd_step_batch = zeroed_init(sys::lcmd_step_batch_init);
        raw.batch = b as i64;
        raw.height = batch.height as i64;
        raw.width = batch.width as i64;
        raw.images = batch.images.as_ptr();
        raw.captions = ptrs.as_ptr();
        raw.vae_noise = opt_slice(batch.vae_noise);
        raw.noise = opt_slice(batch.noise);
        raw.ddim_indices = opt_slice(batch.ddim_indices);
        raw.guidance = opt_slice(batch.guidance);
        let mut rep = report();
        check(unsafe { sys::lcmd_trainer_step(self.as_ptr(), &raw, &mut rep) })?;
        Ok(rep)
    }

    /// One micro-step on a dataset batch (every draw from the trainer's streams).
    pub fn step_dataset(&mut self, batch: &Batch) -> Result<StepReport> {
        let mut rep = report();
        check(unsafe { sys::lcmd_trainer_step_dataset(self.as_ptr(), batch.as_ptr(), &mut rep) })?;
        Ok(rep)
    }

    pub fn progress(&self) -> Result<Progress> {
        let (mut step, mut micro_steps, mut samples_seen) = (0, 0, 0);
        check(unsafe { sys::lcmd_trainer_progress(self.as_ptr(), &mut step, &mut micro_steps, &mut samples_seen) })?;
        Ok(Progress { step, micro_steps, samples_seen })
    }

    /// Saves `output_dir/checkpoint-STEP`; returns its path. `total_limit` > 0 prunes.
    pub fn save_checkpoint(&mut self, output_dir: impl AsRef<Path>, total_limit: i32) -> Result<std::path::PathBuf> {
        let dir = c_path(output_dir.as_ref())?;
        let mut buf = vec![0 as c_char; 4096 + output_dir.as_ref().as_os_str().len()];
        check(unsafe {
            sys::lcmd_trainer_save_checkpoint(self.as_ptr(), dir.as_ptr(), total_limit, buf.as_mut_ptr(), buf.len())
        })?;
        let bytes = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes();
        Ok(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }

    /// Restores a checkpoint: `which` "latest" or a checkpoint name/path. Returns
    /// Ok(false) when "latest" found none (the trainer is untouched).
    pub fn resume(&mut self, output_dir: Option<&Path>, which: &str) -> Result<bool> {
        let dir = output_dir.map(c_path).transpose()?;
        let which = c_string(which, "which")?;
        check_stream(unsafe { sys::lcmd_trainer_resume(self.as_ptr(), opt_ptr(&dir), which.as_ptr()) })
    }

    /// Writes `output_dir/unet` and `output_dir/unet_target`.
    pub fn export(&mut self, output_dir: impl AsRef<Path>) -> Result<()> {
        let dir = c_path(output_dir.as_ref())?;
        check(unsafe { sys::lcmd_trainer_export(self.as_ptr(), dir.as_ptr()) })
    }
}
