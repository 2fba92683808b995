#!/usr/bin/env bash
# lcmd-distill as a user runs it: the embedded tiny default end to end (a short run),
# its outputs, resume from "latest", Ctrl-C, and clear errors for bad arguments, a
# missing teacher folder and unreadable shards. Prints TAP.
set -u
bin=$1
generate=${2:-}
work=$(mktemp -d /tmp/lcmd-distill-test-XXXXXX)
trap 'rm -rf "$work"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }

out=$work/run
"$bin" --output_dir "$out" --max_train_steps 20 --validation_steps 10 --checkpointing_steps 10 \
  --checkpoints_total_limit 1 --seed 1 --threads 2 --tiny_teacher_steps 20 >"$work/log1" 2>&1
rc=$?
check "tiny default runs (exit $rc)" '[ $rc -eq 0 ]'
check "tiny teacher pipeline written" '[ -f "$out/tiny-teacher/model_index.json" ]'
check "tiny shards written" 'ls "$out"/tiny-shards/*.tar >/dev/null 2>&1'
check "metrics as JSON lines" '[ $(grep -c "\"event\": \"train\"" "$out/logs/metrics.jsonl") -eq 20 ]'
check "validation metrics at steps 0, 10, 20" '[ $(grep -c "\"event\": \"validation\"" "$out/logs/metrics.jsonl") -eq 3 ]'
check "validation images" '[ -f "$out/samples/step-000000-online.png" ] && [ -f "$out/samples/step-000020-target.png" ]'
check "checkpoints pruned to the limit" '[ -d "$out/checkpoint-20" ] && [ ! -d "$out/checkpoint-10" ]'
check "exported unet and unet_target" '[ -f "$out/unet/config.json" ] && [ -f "$out/unet_target/diffusion_pytorch_model.safetensors" ]'
check "gap summary printed" 'grep -q "consistency gap" "$work/log1"'
check "perfect student's gap measured and logged" 'grep -q "a perfect consistency model in 4 LCM steps" "$work/log1" && grep -q "consistency_gap_perfect_student" "$out/logs/metrics.jsonl"'
check "tiny teacher's training shows progress" 'grep -q "^tiny teacher: step 20/20" "$work/log1"'
check "plain progress lines when not a terminal" 'grep -q "^step 20/20" "$work/log1"'
check "TensorBoard event file (the default report_to)" 'ls "$out"/logs/events.out.tfevents.* >/dev/null 2>&1'
# TensorBoard's own reader, where a Python with tensorboard is at hand (LCMD_TB_PYTHON,
# or the reference environment)
tb_py=${LCMD_TB_PYTHON:-$(dirname "$0")/../../tests/reference/.venv/bin/python}
if [ -x "$tb_py" ] && "$tb_py" -c "import tensorboard" 2>/dev/null; then
  check "TensorBoard's reader agrees with metrics.jsonl" '"$tb_py" "$(dirname "$0")/check_tensorboard.py" "$out/logs" >"$work/tb" 2>&1 || { cat "$work/tb"; false; }'
else
  n=$((n + 1)); echo "ok $n - TensorBoard's reader # SKIP no Python with tensorboard (set LCMD_TB_PYTHON)"
fi
# diffusers loads the outputs, where the reference environment is installed
ref_py=$(dirname "$0")/../../tests/reference/.venv/bin/python
if [ -x "$ref_py" ] && "$ref_py" -c "import diffusers" 2>/dev/null; then
  check "diffusers loads the outputs and samples with them" '"$ref_py" "$(dirname "$0")/check_diffusers.py" "$out" >"$work/dl" 2>&1 || { cat "$work/dl"; false; }'
else
  n=$((n + 1)); echo "ok $n - diffusers loads the outputs # SKIP tests/reference/.venv is not installed"
fi

# lcmd-generate with what the run left: the exported UNet and the tiny teacher
if [ -n "$generate" ]; then
  "$generate" --pipeline "$out/tiny-teacher" --unet "$out/unet" --prompt "a large red circle on a black background" \
    --height 32 --width 32 --num_inference_steps 4 --output "$work/gen.png" --threads 2 >"$work/gen.log" 2>&1
  rc=$?
  check "lcmd-generate samples with the distilled UNet (exit $rc)" '[ $rc -eq 0 ] && [ -s "$work/gen.png" ]'
  "$generate" --pipeline "$out/tiny-teacher" --unet "$out/checkpoint-20" --prompt "two words" \
    --height 32 --width 32 --num_inference_steps 2 --output "$work/gen2.png" --threads 2 >"$work/gen2.log" 2>&1
  rc=$?
  check "lcmd-generate takes a checkpoint folder (exit $rc)" '[ $rc -eq 0 ] && [ -s "$work/gen2.png" ]'
  "$generate" --pipeline "$out/tiny-teacher" --teacher --prompt "a large red circle on a black background" \
    --height 32 --width 32 --num_inference_steps 25 --output "$work/teacher.png" --threads 2 >"$work/gen3.log" 2>&1
  rc=$?
  check "lcmd-generate runs the teacher with DDIM (exit $rc)" '[ $rc -eq 0 ] && [ -s "$work/teacher.png" ]'
fi

"$bin" --output_dir "$out" --max_train_steps 24 --validation_steps 100 --checkpointing_steps 12 \
  --resume_from_checkpoint latest --seed 1 --threads 2 --consistency_floor 0 >"$work/log2" 2>&1
rc=$?
check "resume from latest (exit $rc)" '[ $rc -eq 0 ] && grep -q "resumed at step 20" "$work/log2"'
check "resumed run continues the step count" '[ $(grep -c "\"event\": \"train\"" "$out/logs/metrics.jsonl") -eq 24 ]'
check "--consistency_floor 0 skips the perfect student" '! grep -q "perfect" "$work/log2"'

# Ctrl-C: a checkpoint is saved and the program exits with 130
out2=$work/int
"$bin" --output_dir "$out2" --max_train_steps 100000 --validation_steps 100000 --checkpointing_steps 100000 \
  --seed 2 --threads 2 --tiny_teacher_steps 2 --consistency_floor 0 >"$work/log3" 2>&1 &
pid=$!
for _ in $(seq 1 900); do
  [ -f "$out2/logs/metrics.jsonl" ] && [ "$(grep -c train "$out2/logs/metrics.jsonl")" -ge 3 ] && break
  sleep 0.2
done
kill -INT $pid
wait $pid
rc=$?
check "Ctrl-C exits with 130 (got $rc)" '[ $rc -eq 130 ]'
check "Ctrl-C saved a checkpoint" 'ls -d "$out2"/checkpoint-* >/dev/null 2>&1 && grep -q "interrupted at step" "$work/log3"'

# bad arguments: a clear message before any work, exit 2
"$bin" --no_such_flag 1 >"$work/e1" 2>&1; rc=$?
check "unknown flag refused" '[ $rc -eq 2 ] && grep -q "unknown flag .--no_such_flag" "$work/e1"'
"$bin" --learning_rate=abc >"$work/e2" 2>&1; rc=$?
check "bad number refused" '[ $rc -eq 2 ] && grep -q "learning_rate.*abc" "$work/e2"'
"$bin" --loss_type l3 >"$work/e3" 2>&1; rc=$?
check "bad choice refused" '[ $rc -eq 2 ] && grep -q "loss_type" "$work/e3"'
"$bin" --train_batch_size >"$work/e4" 2>&1; rc=$?
check "missing value refused" '[ $rc -eq 2 ] && grep -q "needs a value" "$work/e4"'
"$bin" --help >"$work/e5" 2>&1; rc=$?
check "--help lists the script's flags" '[ $rc -eq 0 ] && grep -q "pretrained_teacher_model" "$work/e5" && grep -q "huber_c" "$work/e5"'
"$bin" --push_to_hub --help >"$work/e6" 2>&1; rc=$?
check "hub-only flags accepted with an explanation" 'grep -q "does not upload" "$work/e6"'

# a missing teacher folder, unreadable shards
"$bin" --pretrained_teacher_model "$work/nowhere" --train_shards_path_or_url "$work/x.tar" \
  --max_train_steps 2 --output_dir "$work/o3" >"$work/e7" 2>&1; rc=$?
check "missing teacher folder named (exit $rc)" '[ $rc -eq 1 ] && grep -q "nowhere" "$work/e7"'
printf 'not a tar' >"$work/bad.tar"
"$bin" --pretrained_teacher_model "$out/tiny-teacher" --train_shards_path_or_url "$work/bad.tar" \
  --resolution 32 --train_batch_size 2 --max_train_steps 2 --output_dir "$work/o4" --threads 2 >"$work/e8" 2>&1; rc=$?
check "unreadable shards named (exit $rc)" '[ $rc -eq 1 ] && grep -q "bad.tar" "$work/e8"'

echo "1..$n"
[ $failed -eq 0 ]
