#!/bin/bash
# lcmd-generate on the tiny fixture pipeline: LCM and teacher images, their size and
# determinism, and the refusal of bad arguments.
#   generate_test.sh LCMD_GENERATE MAKE_STUDENT PNG_INFO PIPELINE WORK_DIR
set -u
gen=$1 make_student=$2 png_info=$3 pipe=$4 work=$5
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

rm -rf "$work" && mkdir -p "$work" || exit 1
mkdir -p "$work/student" && "$make_student" "$pipe" "$work/student" || { echo "FAIL: cannot make the LCM student"; exit 1; }

common=(--pipeline "$pipe" --height 16 --width 16 --threads 2)
lcm=("${common[@]}" --unet "$work/student" --num_inference_steps 4 --prompt "a photo of a cat")

# expects: PNG path, width, height
check_png() {
    local info
    info=$("$png_info" "$1") || { fail "$1 does not decode"; return; }
    [ "$info" = "$2 $3 3" ] && ok "$1 is $2x$3 RGB" || fail "$1: got '$info', want '$2 $3 3'"
}

# LCM, two images, the output_dir form of --unet
if "$gen" "${lcm[@]}" --seed 7 --num_images 2 --output "$work/a.png" >"$work/a.log" 2>&1; then
    ok "LCM generation"; cat "$work/a.log"
    check_png "$work/a.png" 16 16
    check_png "$work/a-1.png" 16 16
    grep -q "a-1.png" "$work/a.log" || fail "no line for a-1.png"
else
    fail "LCM generation"; cat "$work/a.log"
fi
# same seed (the unet/ folder form, --flag=value) -> the same image; image 0 does not depend on --num_images
"$gen" "${common[@]}" --unet="$work/student/unet" --num_inference_steps=4 "--prompt=a photo of a cat" \
    --seed=7 --output="$work/b.png" >/dev/null 2>&1 || fail "LCM generation with --flag=value"
cmp -s "$work/a.png" "$work/b.png" && ok "same seed, same image" || fail "same seed gave different images"
cmp -s "$work/a.png" "$work/a-1.png" && fail "two images of one run are identical" || ok "images of one run differ"
"$gen" "${lcm[@]}" --seed 8 --output "$work/c.png" >/dev/null 2>&1 || fail "LCM generation, seed 8"
cmp -s "$work/a.png" "$work/c.png" && fail "another seed gave the same image" || ok "another seed, another image"

# teacher DDIM with CFG
if "$gen" "${common[@]}" --teacher --num_inference_steps 10 --prompt "a photo of a cat" --negative_prompt "blurry" \
    --seed 3 --output "$work/t.png" >"$work/t.log" 2>&1; then
    ok "teacher generation"; cat "$work/t.log"
    check_png "$work/t.png" 16 16
    "$gen" "${common[@]}" --teacher --num_inference_steps 10 --prompt "a photo of a cat" --negative_prompt "blurry" \
        --seed 3 --output "$work/t2.png" >/dev/null 2>&1
    cmp -s "$work/t.png" "$work/t2.png" && ok "teacher is deterministic" || fail "teacher not deterministic"
    "$gen" "${common[@]}" --teacher --num_inference_steps 10 --prompt "a photo of a cat" \
        --seed 4 --output "$work/t3.png" >/dev/null 2>&1
    cmp -s "$work/t.png" "$work/t3.png" && fail "teacher: another seed gave the same image" || ok "teacher seeds differ"
else
    fail "teacher generation"; cat "$work/t.log"
fi

# expects: exit code, a word the message must hold, then the arguments
refuse() {
    local want=$1 word=$2 rc
    shift 2
    "$gen" "$@" >"$work/err.out" 2>"$work/err.log"
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "exit $rc, want $want for: $*"; cat "$work/err.log"
    elif ! grep -qF -- "$word" "$work/err.log"; then
        fail "message lacks '$word' for: $*"; cat "$work/err.log"
    else
        ok "refused ($rc): $(grep -F -- "$word" "$work/err.log" | head -n 1)"
    fi
}
refuse 2 --frobnicate "${lcm[@]}" --frobnicate 3
refuse 2 --num_inference_steps "${lcm[@]}" --num_inference_steps 9
refuse 2 --num_inference_steps "${lcm[@]}" --num_inference_steps four
refuse 2 --height "${lcm[@]}" --height 15
refuse 2 --width "${lcm[@]}" --width 0
refuse 2 --prompt "${common[@]}" --unet "$work/student"
refuse 2 --guidance_scale "${lcm[@]}" --guidance_scale nan
refuse 2 --seed "${lcm[@]}" --seed -1
refuse 2 --negative_prompt "${lcm[@]}" --negative_prompt x
refuse 2 --num_inference_steps "${lcm[@]}" --num_inference_steps
refuse 1 "$work/nowhere" "${lcm[@]}" --unet "$work/nowhere"
refuse 1 "$work/nopipe" --pipeline "$work/nopipe" --unet "$work/student" --prompt x --height 16 --width 16
refuse 1 "time_cond_proj_dim" "${common[@]}" --unet "$pipe/unet" --prompt x
"$gen" --help | grep -q "out-1.png" && ok "--help names the output files" || fail "--help"

[ "$failures" -eq 0 ] && echo "all passed" || echo "$failures failed"
[ "$failures" -eq 0 ]
