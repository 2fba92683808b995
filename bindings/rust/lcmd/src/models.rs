//! The models: UNet, VAE, CLIP text encoder and tokenizer.
use crate::*;

/// `lcmd_unet_info`.
pub type UnetInfo = sys::lcmd_unet_info;
/// `lcmd_vae_info`.
pub type VaeInfo = sys::lcmd_vae_info;
/// `lcmd_text_encoder_info`.
pub type TextEncoderInfo = sys::lcmd_text_encoder_info;

c_enum! {
    /// Storage type of saved weights (`lcmd_weight_dtype`).
    WeightDtype: sys::lcmd_weight_dtype {
        F32 = sys::lcmd_weight_dtype_LCMD_WEIGHTS_F32,
        F16 = sys::lcmd_weight_dtype_LCMD_WEIGHTS_F16,
        Bf16 = sys::lcmd_weight_dtype_LCMD_WEIGHTS_BF16,
    }
}

c_enum! {
    /// Caption cleanup of the tokenizer (`lcmd_text_cleanup`).
    TextCleanup: sys::lcmd_text_cleanup {
        Ftfy = sys::lcmd_text_cleanup_LCMD_TEXT_CLEANUP_FTFY,
        Minimal = sys::lcmd_text_cleanup_LCMD_TEXT_CLEANUP_MINIMAL,
    }
}

// ------------------------------------------------------------------------- UNet

handle! {
    /// An owned `lcmd_unet` (loaded, or made by [`UnetRef::create_student`]).
    Unet,
    /// A UNet, owned by a [`Unet`], a [`Pipeline`] or a [`Trainer`].
    UnetRef, sys::lcmd_unet, sys::lcmd_unet_destroy
}

/// Inputs of one UNet forward pass (host arrays, row-major).
#[derive(Clone, Copy, Debug, Default)]
pub struct UnetInputs<'a> {
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    /// `[batch, in_channels, height, width]`
    pub sample: &'a [f32],
    /// `[batch]`
    pub timesteps: &'a [f32],
    /// `[batch, seq_len, cross_attention_dim]`
    pub encoder_hidden_states: &'a [f32],
    pub seq_len: usize,
    /// `[batch, time_cond_proj_dim]` when the UNet takes one
    pub timestep_cond: Option<&'a [f32]>,
    /// SDXL: `[batch, text_embed_dim]`
    pub text_embeds: Option<&'a [f32]>,
    /// SDXL: `[batch, 6]`
    pub time_ids: Option<&'a [f32]>,
}

impl<'ctx> Unet<'ctx> {
    /// Loads a diffusers `unet/` folder; `variant` e.g. "fp16".
    pub fn load(ctx: &'ctx Context, folder: impl AsRef<Path>, variant: Option<&str>) -> Result<Unet<'ctx>> {
        let folder = c_path(folder.as_ref())?;
        let variant = opt_c_string(variant, "variant")?;
        let mut opts: sys::lcmd_unet_load_options = zeroed_init(sys::lcmd_unet_load_options_init);
        opts.variant = opt_ptr(&variant);
        let mut out = ptr::null_mut();
        check(unsafe { sys::lcmd_unet_load(ctx.as_ptr(), folder.as_ptr(), &opts, &mut out) })?;
        Ok(unsafe { Unet::from_raw(out) }.expect("NULL unet"))
    }
}

impl UnetRef {
    /// The LCM student of this teacher (weights copied; the teacher is not borrowed).
    pub fn create_student<'ctx>(&self, ctx: &'ctx Context, time_cond_proj_dim: i32) -> Result<Unet<'ctx>> {
        let mut out = ptr::null_mut();
        check(unsafe { sys::lcmd_unet_create_student(ctx.as_ptr(), self.as_ptr(), time_cond_proj_dim, &mut out) })?;
        Ok(unsafe { Unet::from_raw(out) }.expect("NULL unet"))
    }

    pub fn info(&self) -> Result<UnetInfo> {
        let mut info = zeroed_init(sys::lcmd_unet_info_init);
        check(unsafe { sys::lcmd_unet_get_info(self.as_ptr(), &mut info) })?;
        Ok(info)
    }

    /// Runs the UNet; returns `[batch, out_channels, height, width]`.
    pub fn forward(&self, inputs: &UnetInputs<'_>) -> Result<Vec<f32>> {
        let info = self.info()?;
        let (b, h, w) = (inputs.batch as i64, inputs.height as i64, inputs.width as i64);
        check_len("sample", inputs.sample.len(), b * info.in_channels as i64 * h * w)?;
        check_len("timesteps", inputs.timesteps.len(), b)?;
        check_len(
            "encoder_hidden_states",
            inputs.encoder_hidden_states.len(),
            b * inputs.seq_len as i64 * info.cross_attention_dim as i64,
        )?;
        if let Some(c) = inputs.timestep_cond {
            check_len("timestep_cond", c.len(), b * info.time_cond_proj_dim as i64)?;
        }
        if let Some(t) = inputs.text_embeds {
            check_len("text_embeds", t.len(), b * info.text_embed_dim as i64)?;
        }
        if let Some(t) = inputs.time_ids {
            check_len("time_ids", t.len(), b * 6)?;
        }
        let mut raw: sys::lcmd_unet_inputs = zeroed_init(sys::lcmd_unet_inputs_init);
        raw.batch = b;
        raw.height = h;
        raw.width = w;
        raw.sample = inputs.sample.as_ptr();
        raw.timesteps = inputs.timesteps.as_ptr();
        raw.encoder_hidden_states = inputs.encoder_hidden_states.as_ptr();
        raw.seq_len = inputs.seq_len as i64;
        raw.timestep_cond = opt_slice(inputs.timestep_cond);
        raw.text_embeds = opt_slice(inputs.text_embeds);
        raw.time_ids = opt_slice(inputs.time_ids);
        let mut out = vec![0.0; (b * info.out_channels as i64 * h * w) as usize];
        check(unsafe { sys::lcmd_unet_forward(self.as_ptr(), &raw, out.as_mut_ptr()) })?;
        Ok(out)
    }

    /// Writes a diffusers folder (config.json + safetensors).
    pub fn save(&self, folder: impl AsRef<Path>, dtype: WeightDtype, variant: Option<&str>) -> Result<()> {
        let folder = c_path(folder.as_ref())?;
        let variant = opt_c_string(variant, "variant")?;
        check(unsafe { sys::lcmd_unet_save(self.as_ptr(), folder.as_ptr(), dtype.raw(), opt_ptr(&variant)) })
    }
}

// ------------------------------------------------------------------------- VAE

handle! {
    /// An owned `lcmd_vae`.
    Vae,
    /// A VAE, owned by a [`Vae`] or a [`Pipeline`].
    VaeRef, sys::lcmd_vae, sys::lcmd_vae_destroy
}

impl<'ctx> Vae<'ctx> {
    /// Loads a diffusers `vae/` folder.
    pub fn load(ctx: &'ctx Context, folder: impl AsRef<Path>, variant: Option<&str>) -> Result<Vae<'ctx>> {
        let folder = c_path(folder.as_ref())?;
        let variant = opt_c_string(variant, "variant")?;
        let mut opts: sys::lcmd_vae_load_options = zeroed_init(sys::lcmd_vae_load_options_init);
        opts.variant = opt_ptr(&variant);
        let mut out = ptr::null_mut();
        check(unsafe { sys::lcmd_vae_load(ctx.as_ptr(), folder.as_ptr(), &opts, &mut out) })?;
        Ok(unsafe { Vae::from_raw(out) }.expect("NULL vae"))
    }
}

impl VaeRef {
    pub fn info(&self) -> Result<VaeInfo> {
        let mut info = zeroed_init(sys::lcmd_vae_info_init);
        check(unsafe { sys::lcmd_vae_get_info(self.as_ptr(), &mut info) })?;
        Ok(info)
    }

    fn latent_len(&self, batch: usize, height: usize, width: usize) -> Result<usize> {
        let info = self.info()?;
        let f = info.downsample_factor.max(1) as usize;
        Ok(batch * info.latent_channels as usize * (height / f) * (width / f))
    }

    /// Images `[batch, 3, height, width]` in [-1, 1] to the posterior (mean, logvar).
    pub fn encode(&self, batch: usize, height: usize, width: usize, images: &[f32]) -> Result<(Vec<f32>, Vec<f32>)> {
        let info = self.info()?;
        check_len("images", images.len(), (batch * info.in_channels as usize * height * width) as i64)?;
        let n = self.latent_len(batch, height, width)?;
        let (mut mean, mut logvar) = (vec![0.0; n], vec![0.0; n]);
        check(unsafe {
            sys::lcmd_vae_encode(
                self.as_ptr(), batch as i64, height as i64, width as i64, images.as_ptr(), mean.as_mut_ptr(),
                logvar.as_mut_ptr(),
            )
        })?;
        Ok((mean, logvar))
    }

    /// mean + exp(0.5·logvar)·noise; `noise` None draws it keyed by (stream, offset).
    pub fn sample(&self, mean: &[f32], logvar: &[f32], noise: Option<&[f32]>, stream: u64, offset: u64) -> Result<Vec<f32>> {
        check_len("logvar", logvar.len(), mean.len() as i64)?;
        if let Some(noise) = noise {
            check_len("noise", noise.len(), mean.len() as i64)?;
        }
        let mut out = vec![0.0; mean.len()];
        check(unsafe {
            sys::lcmd_vae_sample(
                self.as_ptr(), mean.len(), mean.as_ptr(), logvar.as_ptr(), opt_slice(noise), stream, offset,
                out.as_mut_ptr(),
            )
        })?;
        Ok(out)
    }

    /// In place: (latents − shift) · scaling_factor.
    pub fn scale_latents(&self, latents: &mut [f32]) -> Result<()> {
        check(unsafe { sys::lcmd_vae_scale_latents(self.as_ptr(), latents.len(), latents.as_mut_ptr()) })
    }

    /// In place: latents / scaling_factor + shift.
    pub fn unscale_latents(&self, latents: &mut [f32]) -> Result<()> {
        check(unsafe { sys::lcmd_vae_unscale_latents(self.as_ptr(), latents.len(), latents.as_mut_ptr()) })
    }

    /// Unscaled latents `[batch, C, height, width]` to images `[batch, 3, height·f, width·f]`.
    pub fn decode(&self, batch: usize, height: usize, width: usize, latents: &[f32]) -> Result<Vec<f32>> {
        let info = self.info()?;
        check_len("latents", latents.len(), (batch * info.latent_channels as usize * height * width) as i64)?;
        let f = info.downsample_factor.max(1) as usize;
        let mut out = vec![0.0; batch * info.out_channels as usize * height * f * width * f];
        check(unsafe {
            sys::lcmd_vae_decode(
                self.as_ptr(), batch as i64, height as i64, width as i64, latents.as_ptr(), out.as_mut_ptr(),
            )
        })?;
        Ok(out)
    }
}

// ------------------------------------------------------------------------- text encoder

handle! {
    /// An owned `lcmd_text_encoder`.
    TextEncoder,
    /// A CLIP text encoder, owned by a [`TextEncoder`] or a [`Pipeline`].
    TextEncoderRef, sys::lcmd_text_encoder, sys::lcmd_text_encoder_destroy
}

/// Which outputs [`TextEncoderRef::forward`] computes.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextOutputs {
    pub last_hidden_state: bool,
    /// `Some(i)`: hidden_states[i] (negative from the end, as in Python).
    pub hidden_layer: Option<i32>,
    pub pooled: bool,
}

/// What [`TextEncoderRef::forward`] computed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextEncoderOutput {
    /// `[batch, seq_len, hidden_size]`
    pub last_hidden_state: Option<Vec<f32>>,
    /// `[batch, seq_len, hidden_size]`
    pub hidden_states: Option<Vec<f32>>,
    /// `[batch, pooled_dim]`
    pub pooled: Option<Vec<f32>>,
}

impl<'ctx> TextEncoder<'ctx> {
    /// Loads a transformers `text_encoder/` folder.
    pub fn load(ctx: &'ctx Context, folder: impl AsRef<Path>, variant: Option<&str>) -> Result<TextEncoder<'ctx>> {
        let folder = c_path(folder.as_ref())?;
        let variant = opt_c_string(variant, "variant")?;
        let mut opts: sys::lcmd_text_encoder_load_options = zeroed_init(sys::lcmd_text_encoder_load_options_init);
        opts.variant = opt_ptr(&variant);
        let mut out = ptr::null_mut();
        check(unsafe { sys::lcmd_text_encoder_load(ctx.as_ptr(), folder.as_ptr(), &opts, &mut out) })?;
        Ok(unsafe { TextEncoder::from_raw(out) }.expect("NULL text encoder"))
    }
}

impl TextEncoderRef {
    pub fn info(&self) -> Result<TextEncoderInfo> {
        let mut info = zeroed_init(sys::lcmd_text_encoder_info_init);
        check(unsafe { sys::lcmd_text_encoder_get_info(self.as_ptr(), &mut info) })?;
        Ok(info)
    }

    /// Runs the encoder on `ids` (`batch x seq_len`, seq_len = ids.len() / batch).
    pub fn forward(&self, ids: &[i32], batch: usize, want: TextOutputs) -> Result<TextEncoderOutput> {
        let seq_len = per_sample("ids", ids.len(), batch)? as usize;
        let info = self.info()?;
        let hidden = batch * seq_len * info.hidden_size as usize;
        let mut result = TextEncoderOutput {
            last_hidden_state: if want.last_hidden_state { Some(vec![0.0; hidden]) } else { None },
            hidden_states: want.hidden_layer.map(|_| vec![0.0; hidden]),
            pooled: if want.pooled { Some(vec![0.0; batch * info.pooled_dim as usize]) } else { None },
        };
        let mut outs: sys::lcmd_text_encoder_outputs = zeroed_init(sys::lcmd_text_encoder_outputs_init);
        let mut_ptr = |v: &mut Option<Vec<f32>>| v.as_mut().map_or(ptr::null_mut(), |v| v.as_mut_ptr());
        outs.last_hidden_state = mut_ptr(&mut result.last_hidden_state);
        outs.hidden_states = mut_ptr(&mut result.hidden_states);
        outs.hidden_layer = want.hidden_layer.unwrap_or(-1);
        outs.pooled = mut_ptr(&mut result.pooled);
        check(unsafe { sys::lcmd_text_encoder_forward(self.as_ptr(), ids.as_ptr(), batch as i64, seq_len as i64, &outs) })?;
        Ok(result)
    }

    /// The last hidden state `[batch, seq_len, hidden_size]` (what SD conditions on).
    pub fn last_hidden_state(&self, ids: &[i32], batch: usize) -> Result<Vec<f32>> {
        let want = TextOutputs { last_hidden_state: true, ..Default::default() };
        Ok(self.forward(ids, batch, want)?.last_hidden_state.unwrap_or_default())
    }
}

// ------------------------------------------------------------------------- tokenizer

handle! {
    /// An owned `lcmd_tokenizer`.
    Tokenizer,
    /// A CLIP tokenizer, owned by a [`Tokenizer`] or a [`Pipeline`].
    TokenizerRef, sys::lcmd_tokenizer, sys::lcmd_tokenizer_destroy
}

plain_options! {
    /// `lcmd_tokenizer_options`.
    TokenizerOptions, sys::lcmd_tokenizer_options, sys::lcmd_tokenizer_options_init {}
}

impl TokenizerOptions {
    pub fn cleanup(mut self, cleanup: TextCleanup) -> Self {
        self.raw.cleanup = cleanup.raw() as i32;
        self
    }
}

impl<'ctx> Tokenizer<'ctx> {
    /// Loads a diffusers `tokenizer/` folder; `options` None = FTFY cleanup.
    pub fn load(
        ctx: &'ctx Context,
        folder: impl AsRef<Path>,
        options: Option<&TokenizerOptions>,
    ) -> Result<Tokenizer<'ctx>> {
        let folder = c_path(folder.as_ref())?;
        let opts = options.map_or(ptr::null(), |o| &o.raw as *const _);
        let mut out = ptr::null_mut();
        check(unsafe { sys::lcmd_tokenizer_load_with_options(ctx.as_ptr(), folder.as_ptr(), opts, &mut out) })?;
        Ok(unsafe { Tokenizer::from_raw(out) }.expect("NULL tokenizer"))
    }
}

impl TokenizerRef {
    /// `[bos] + tokens + [eos]` of any bytes, without truncation or padding.
    pub fn encode_bytes(&self, text: &[u8]) -> Result<Vec<i32>> {
        let mut ids = vec![0i32; text.len() + 2];
        loop {
            let mut n = 0usize;
            check(unsafe {
                sys::lcmd_tokenizer_encode(
                    self.as_ptr(), text.as_ptr() as *const c_char, text.len(), ids.as_mut_ptr(), ids.len(), &mut n,
                )
            })?;
            if n <= ids.len() {
                ids.truncate(n);
                return Ok(ids);
            }
            ids.resize(n, 0);
        }
    }

    pub fn encode(&self, text: &str) -> Result<Vec<i32>> {
        self.encode_bytes(text.as_bytes())
    }

    /// Captions as the training script tokenises them: `[n, model_max_length]`.
    pub fn encode_padded(&self, captions: &[&str]) -> Result<Vec<i32>> {
        let owned = captions.iter().map(|c| c_string(c, "caption")).collect::<Result<Vec<_>>>()?;
        let ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        let mut ids = vec![0i32; captions.len() * self.model_max_length()];
        check(unsafe { sys::lcmd_tokenizer_encode_padded(self.as_ptr(), ptrs.as_ptr(), ptrs.len(), ids.as_mut_ptr()) })?;
        Ok(ids)
    }

    pub fn model_max_length(&self) -> usize {
        unsafe { sys::lcmd_tokenizer_model_max_length(self.as_ptr()) }
    }
    pub fn bos_id(&self) -> i32 {
        unsafe { sys::lcmd_tokenizer_bos_id(self.as_ptr()) }
    }
    pub fn eos_id(&self) -> i32 {
        unsafe { sys::lcmd_tokenizer_eos_id(self.as_ptr()) }
    }
    pub fn pad_id(&self) -> i32 {
        unsafe { sys::lcmd_tokenizer_pad_id(self.as_ptr()) }
    }
    pub fn vocab_size(&self) -> usize {
        unsafe { sys::lcmd_tokenizer_vocab_size(self.as_ptr()) }
    }
}
