//! Scheduler config, noise schedule, DDIM solver, LCM sampler and their helpers.
use crate::*;

c_enum! {
    /// `lcmd_beta_schedule`.
    BetaSchedule: sys::lcmd_beta_schedule {
        Linear = sys::lcmd_beta_schedule_LCMD_BETA_LINEAR,
        ScaledLinear = sys::lcmd_beta_schedule_LCMD_BETA_SCALED_LINEAR,
        SquaredcosCapV2 = sys::lcmd_beta_schedule_LCMD_BETA_SQUAREDCOS_CAP_V2,
    }
}

c_enum! {
    /// `lcmd_prediction_type`.
    PredictionType: sys::lcmd_prediction_type {
        Epsilon = sys::lcmd_prediction_type_LCMD_PREDICT_EPSILON,
        V = sys::lcmd_prediction_type_LCMD_PREDICT_V,
        Sample = sys::lcmd_prediction_type_LCMD_PREDICT_SAMPLE,
    }
}

plain_options! {
    /// `lcmd_scheduler_config` (a diffusers scheduler_config.json); `Default` gives
    /// LCMScheduler's defaults.
    SchedulerConfig, sys::lcmd_scheduler_config, sys::lcmd_scheduler_config_init {
        num_train_timesteps: i32,
        beta_start: f64,
        beta_end: f64,
        steps_offset: i32,
        original_inference_steps: i32,
        timestep_scaling: f64,
    }
}

impl SchedulerConfig {
    /// LCMScheduler's defaults overlaid with a scheduler_config.json.
    pub fn load(path: impl AsRef<Path>) -> Result<SchedulerConfig> {
        let mut cfg = SchedulerConfig::new();
        cfg.load_over(path)?;
        Ok(cfg)
    }

    /// Reads a scheduler_config.json over the current values.
    pub fn load_over(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = c_path(path.as_ref())?;
        check(unsafe { sys::lcmd_scheduler_config_load(path.as_ptr(), &mut self.raw) })
    }

    /// LCMScheduler's defaults overlaid with a JSON text; `label` names it in messages.
    pub fn parse(json: &str, label: Option<&str>) -> Result<SchedulerConfig> {
        let mut cfg = SchedulerConfig::new();
        let label = opt_c_string(label, "label")?;
        check(unsafe {
            sys::lcmd_scheduler_config_parse(json.as_ptr() as *const c_char, json.len(), opt_ptr(&label), &mut cfg.raw)
        })?;
        Ok(cfg)
    }

    pub fn beta_schedule(mut self, v: BetaSchedule) -> Self {
        self.raw.beta_schedule = v.raw();
        self
    }

    pub fn prediction_type(mut self, v: PredictionType) -> Self {
        self.raw.prediction_type = v.raw();
        self
    }
}

/// Shapes of a per-sample call: every array `batch x per_sample`, `timesteps` one per sample.
fn batch_geometry(timesteps: usize, arrays: &[(&str, usize)]) -> Result<(i64, i64)> {
    let (first, len) = arrays[0];
    let per = per_sample(first, len, timesteps)?;
    for &(what, l) in &arrays[1..] {
        check_len(what, l, per * timesteps as i64)?;
    }
    Ok((timesteps as i64, per))
}

owned_handle! {
    /// `lcmd_noise_schedule`: betas, alphas_cumprod, alpha/sigma tables.
    NoiseSchedule, sys::lcmd_noise_schedule, sys::lcmd_noise_schedule_destroy
}

impl NoiseSchedule {
    pub fn new(cfg: &SchedulerConfig) -> Result<NoiseSchedule> {
        let mut out = ptr::null_mut();
        check(unsafe { sys::lcmd_noise_schedule_create(&cfg.raw, &mut out) })?;
        Ok(unsafe { NoiseSchedule::from_raw(out) }.expect("NULL schedule"))
    }

    /// T, the number of training timesteps.
    pub fn num_timesteps(&self) -> usize {
        unsafe { sys::lcmd_noise_schedule_num_timesteps(self.as_ptr()) }.max(0) as usize
    }

    pub fn betas(&self) -> Result<Vec<f64>> {
        let mut v = vec![0.0; self.num_timesteps()];
        check(unsafe { sys::lcmd_noise_schedule_betas(self.as_ptr(), v.as_mut_ptr(), v.len()) })?;
        Ok(v)
    }

    pub fn alphas_cumprod(&self) -> Result<Vec<f64>> {
        let mut v = vec![0.0; self.num_timesteps()];
        check(unsafe { sys::lcmd_noise_schedule_alphas_cumprod(self.as_ptr(), v.as_mut_ptr(), v.len()) })?;
        Ok(v)
    }

    /// (sqrt(ā), sqrt(1 − ā)) per timestep.
    pub fn alpha_sigma(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        let n = self.num_timesteps();
        let (mut a, mut s) = (vec![0.0; n], vec![0.0; n]);
        check(unsafe { sys::lcmd_noise_schedule_alpha_sigma(self.as_ptr(), a.as_mut_ptr(), s.as_mut_ptr(), n) })?;
        Ok((a, s))
    }

    /// DDPM add_noise into `out`; one timestep per sample (batch = timesteps.len()).
    pub fn add_noise_into(&self, x0: &[f32], noise: &[f32], timesteps: &[i64], out: &mut [f32]) -> Result<()> {
        let (b, per) = batch_geometry(timesteps.len(), &[("x0", x0.len()), ("noise", noise.len()), ("out", out.len())])?;
        check(unsafe {
            sys::lcmd_add_noise(self.as_ptr(), x0.as_ptr(), noise.as_ptr(), timesteps.as_ptr(), b, per, out.as_mut_ptr())
        })
    }

    pub fn add_noise(&self, x0: &[f32], noise: &[f32], timesteps: &[i64]) -> Result<Vec<f32>> {
        let mut out = vec![0.0; x0.len()];
        self.add_noise_into(x0, noise, timesteps, &mut out)?;
        Ok(out)
    }

    /// x̂0 from a model output.
    pub fn predicted_origin(
        &self,
        kind: PredictionType,
        model_output: &[f32],
        timesteps: &[i64],
        sample: &[f32],
    ) -> Result<Vec<f32>> {
        let (b, per) = batch_geometry(timesteps.len(), &[("model_output", model_output.len()), ("sample", sample.len())])?;
        let mut out = vec![0.0; sample.len()];
        check(unsafe {
            sys::lcmd_predicted_origin(
                self.as_ptr(), kind.raw(), model_output.as_ptr(), timesteps.as_ptr(), sample.as_ptr(), b, per,
                out.as_mut_ptr(),
            )
        })?;
        Ok(out)
    }

    /// ε̂ from a model output.
    pub fn predicted_noise(
        &self,
        kind: PredictionType,
        model_output: &[f32],
        timesteps: &[i64],
        sample: &[f32],
    ) -> Result<Vec<f32>> {
        let (b, per) = batch_geometry(timesteps.len(), &[("model_output", model_output.len()), ("sample", sample.len())])?;
        let mut out = vec![0.0; sample.len()];
        check(unsafe {
            sys::lcmd_predicted_noise(
                self.as_ptr(), kind.raw(), model_output.as_ptr(), timesteps.as_ptr(), sample.as_ptr(), b, per,
                out.as_mut_ptr(),
            )
        })?;
        Ok(out)
    }
}

/// (c_skip, c_out) of the consistency boundary condition per timestep.
pub fn boundary_scalings(timesteps: &[i64], timestep_scaling: f64) -> Result<(Vec<f32>, Vec<f32>)> {
    let n = timesteps.len();
    let (mut skip, mut out) = (vec![0.0; n], vec![0.0; n]);
    check(unsafe {
        sys::lcmd_boundary_scalings(timesteps.as_ptr(), n as i64, timestep_scaling, skip.as_mut_ptr(), out.as_mut_ptr())
    })?;
    Ok((skip, out))
}

/// Guidance-scale embedding, `w.len() x dim`.
pub fn guidance_scale_embedding(w: &[f32], dim: usize) -> Result<Vec<f32>> {
    let mut out = vec![0.0; w.len() * dim];
    check(unsafe { sys::lcmd_guidance_scale_embedding(w.as_ptr(), w.len() as i64, dim as i64, out.as_mut_ptr()) })?;
    Ok(out)
}

owned_handle! {
    /// `lcmd_ddim_solver`: the distillation's DDIM grid.
    DdimSolver, sys::lcmd_ddim_solver, sys::lcmd_ddim_solver_destroy
}

impl DdimSolver {
    pub fn new(schedule: &NoiseSchedule, num_ddim_timesteps: i32) -> Result<DdimSolver> {
        let mut out = ptr::null_mut();
        check(unsafe { sys::lcmd_ddim_solver_create(schedule.as_ptr(), num_ddim_timesteps, &mut out) })?;
        Ok(unsafe { DdimSolver::from_raw(out) }.expect("NULL solver"))
    }

    pub fn num_timesteps(&self) -> usize {
        unsafe { sys::lcmd_ddim_solver_num_timesteps(self.as_ptr()) }.max(0) as usize
    }

    pub fn timesteps(&self) -> Result<Vec<i64>> {
        let mut v = vec![0; self.num_timesteps()];
        check(unsafe { sys::lcmd_ddim_solver_timesteps(self.as_ptr(), v.as_mut_ptr(), v.len()) })?;
        Ok(v)
    }

    /// (ā at each grid point, ā at the previous point).
    pub fn alphas_cumprod(&self) -> Result<(Vec<f64>, Vec<f64>)> {
        let n = self.num_timesteps();
        let (mut at, mut prev) = (vec![0.0; n], vec![0.0; n]);
        check(unsafe { sys::lcmd_ddim_solver_alphas_cumprod(self.as_ptr(), at.as_mut_ptr(), prev.as_mut_ptr(), n) })?;
        Ok((at, prev))
    }

    /// (t_start, t_end) of a grid index.
    pub fn interval(&self, index: i64) -> Result<(i64, i64)> {
        let (mut start, mut end) = (0, 0);
        check(unsafe { sys::lcmd_ddim_solver_interval(self.as_ptr(), index, &mut start, &mut end) })?;
        Ok((start, end))
    }

    /// One DDIM step per sample (batch = indices.len()).
    pub fn step(&self, pred_x0: &[f32], pred_noise: &[f32], indices: &[i64]) -> Result<Vec<f32>> {
        let (b, per) = batch_geometry(indices.len(), &[("pred_x0", pred_x0.len()), ("pred_noise", pred_noise.len())])?;
        let mut out = vec![0.0; pred_x0.len()];
        check(unsafe {
            sys::lcmd_ddim_solver_step(
                self.as_ptr(), pred_x0.as_ptr(), pred_noise.as_ptr(), indices.as_ptr(), b, per, out.as_mut_ptr(),
            )
        })?;
        Ok(out)
    }
}

owned_handle! {
    /// `lcmd_lcm_scheduler`: the LCM sampler (diffusers LCMScheduler).
    LcmScheduler<'ctx>, sys::lcmd_lcm_scheduler, sys::lcmd_lcm_scheduler_destroy
}

/// What one [`LcmScheduler::step`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct LcmStep {
    /// The sample for the next step (the denoised sample on the last step).
    pub prev_sample: Vec<f32>,
    /// c_out·x̂0 + c_skip·x at this step.
    pub denoised: Vec<f32>,
}

impl<'ctx> LcmScheduler<'ctx> {
    /// `ctx` (optional) gives the seed of the noise drawn between steps and the log.
    pub fn new(ctx: Option<&'ctx Context>, cfg: &SchedulerConfig) -> Result<LcmScheduler<'ctx>> {
        let mut out = ptr::null_mut();
        let ctx = ctx.map_or(ptr::null_mut(), |c| c.as_ptr());
        check(unsafe { sys::lcmd_lcm_scheduler_create(ctx, &cfg.raw, &mut out) })?;
        Ok(unsafe { LcmScheduler::from_raw(out) }.expect("NULL scheduler"))
    }

    /// `original_inference_steps` 0: the config's value; `strength` in (0, 1].
    pub fn set_timesteps(&mut self, num_inference_steps: i32, original_inference_steps: i32, strength: f64) -> Result<()> {
        check(unsafe {
            sys::lcmd_lcm_scheduler_set_timesteps(self.as_ptr(), num_inference_steps, original_inference_steps, strength)
        })
    }

    pub fn set_custom_timesteps(&mut self, timesteps: &[i64], original_inference_steps: i32, strength: f64) -> Result<()> {
        check(unsafe {
            sys::lcmd_lcm_scheduler_set_custom_timesteps(
                self.as_ptr(), timesteps.as_ptr(), timesteps.len(), original_inference_steps, strength,
            )
        })
    }

    pub fn num_timesteps(&self) -> usize {
        unsafe { sys::lcmd_lcm_scheduler_num_timesteps(self.as_ptr()) }.max(0) as usize
    }

    /// The timesteps set, descending.
    pub fn timesteps(&self) -> Result<Vec<i64>> {
        let mut v = vec![0; self.num_timesteps()];
        check(unsafe { sys::lcmd_lcm_scheduler_timesteps(self.as_ptr(), v.as_mut_ptr(), v.len()) })?;
        Ok(v)
    }

    pub fn step_index(&self) -> i32 {
        unsafe { sys::lcmd_lcm_scheduler_step_index(self.as_ptr()) }
    }

    /// One step, writing into caller buffers (`denoised` optional). All arrays are
    /// `batch x per_sample`; `noise` None draws from the library RNG.
    pub fn step_into(
        &mut self,
        model_output: &[f32],
        timestep: i64,
        sample: &[f32],
        batch: usize,
        noise: Option<&[f32]>,
        prev_sample: &mut [f32],
        denoised: Option<&mut [f32]>,
    ) -> Result<()> {
        let per = per_sample("sample", sample.len(), batch)?;
        let n = per * batch as i64;
        check_len("model_output", model_output.len(), n)?;
        check_len("prev_sample", prev_sample.len(), n)?;
        if let Some(noise) = noise {
            check_len("noise", noise.len(), n)?;
        }
        let denoised_ptr = match denoised {
            Some(d) => {
                check_len("denoised", d.len(), n)?;
                d.as_mut_ptr()
            }
            None => ptr::null_mut(),
        };
        check(unsafe {
            sys::lcmd_lcm_scheduler_step(
                self.as_ptr(), model_output.as_ptr(), timestep, sample.as_ptr(), batch as i64, per, opt_slice(noise),
                prev_sample.as_mut_ptr(), denoised_ptr,
            )
        })
    }

    /// One step; returns the next sample and the denoised one.
    pub fn step(
        &mut self,
        model_output: &[f32],
        timestep: i64,
        sample: &[f32],
        batch: usize,
        noise: Option<&[f32]>,
    ) -> Result<LcmStep> {
        let mut prev_sample = vec![0.0; sample.len()];
        let mut denoised = vec![0.0; sample.len()];
        self.step_into(model_output, timestep, sample, batch, noise, &mut prev_sample, Some(&mut denoised))?;
        Ok(LcmStep { prev_sample, denoised })
    }
}
