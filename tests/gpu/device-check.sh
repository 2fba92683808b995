#!/usr/bin/env bash
# Device check for the CUDA backend, run on the GPU machine in the repo root:
#   bash tests/gpu/device-check.sh
# (carry: .devdeps and, optionally, build-gpu/tests/gpu/gpu_lab)
#
# Phases (each timed; a failing phase says why and the script goes on):
#   1 env       nvidia-smi -L, nvcc/gcc/meson/ninja/python versions
#   2 devdeps   unpack the carried .deb files (.devdeps/) into /tmp/devdeps (never /),
#               rewrite their .pc files, write a minimal openblas.pc, export
#               PKG_CONFIG_PATH / LD_LIBRARY_PATH / LIBRARY_PATH / CPATH
#   3 cudalibs  find cuDNN / cuBLAS headers and libs (/usr/local/cuda, else the pip
#               packages nvidia.cudnn / nvidia.cublas of python3), link the unversioned
#               names into /tmp/cudalibs, export the paths
#   4 prebuilt  if build-gpu/tests/gpu/gpu_lab was carried and its libraries resolve,
#               run the full lab with it first (results even if the build fails)
#   5 build     meson setup + ninja -j16 from source into /tmp/lcmd-build
#   6 lab       run the source-built lab: full if the prebuilt did not run, else
#               correctness only (proves the source build)
#   7 models    gpu_unet: the context self check on cuda:0 and the tiny UNets
#   7b trainer  the trainer parity cases (latents; pixels + captions, accumulation 2)
#               on cuda:0 against the PyTorch fixtures
#   8 bench     (LCMD_GPU_BENCH=BUILD_DIR) the SD1.5 forward against PyTorch
# All output is tee'd into $OUT; the lab's markdown table is printed last.
#
# The way it ran on an H200 (the run recorded in docs/performance.md): build gpu_lab,
# gpu_unet and bench_unet here (-Dcuda=enabled), strip and gzip them into
# .devbin/build/tests/{gpu,bench}/, put the diffusers wheel in .whl/, carry
# [.devdeps, .devbin, .whl], gunzip there, install the wheel into /tmp/site, and run with
# LCMD_SKIP_BUILD=1 LCMD_PREBUILT=.devbin/build/tests/gpu/gpu_lab
# LCMD_PREBUILT_UNET=.devbin/build/tests/gpu/gpu_unet LCMD_GPU_BENCH=.devbin/build.
# A source build there (phase 5) also needs the -dev packages of libarchive, libwebp,
# libjpeg-turbo, libstb and utf8proc in .devdeps/.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-/tmp/lcmd-device-out}
mkdir -p "$OUT"
LOG="$OUT/device-check.log"
: > "$LOG"
exec > >(tee -a "$LOG") 2>&1
cd "$REPO" || exit 1

T_START=$(date +%s)
SUMMARY=()
phase_begin() { PHASE="$1"; PHASE_T0=$(date +%s.%N); echo; echo "=== phase $1 ($(date +%T), +$(( $(date +%s) - T_START ))s) ==="; }
phase_end() {  # $1 = status word
    local dt; dt=$(awk -v a="$PHASE_T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    echo "=== phase $PHASE: $1 (${dt}s) ==="
    SUMMARY+=("$PHASE: $1 (${dt}s)")
}

# ---------------------------------------------------------------- 1 env
phase_begin env
nvidia-smi -L 2>&1 || echo "nvidia-smi -L failed"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>&1 | head -3
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
"$NVCC" --version 2>&1 | tail -2 || echo "nvcc not found"
gcc --version 2>&1 | head -1; g++ --version 2>&1 | head -1
python3 --version 2>&1; meson --version 2>&1 | sed 's/^/meson /'; ninja --version 2>&1 | sed 's/^/ninja /'
command -v pkg-config >/dev/null && echo "pkg-config $(pkg-config --version)" || echo "no pkg-config on PATH"
echo "cores: $(nproc)"
phase_end ok

# ---------------------------------------------------------------- 2 devdeps
phase_begin devdeps
DD=/tmp/devdeps
mkdir -p "$DD"
ok=ok
if ls .devdeps/*.deb >/dev/null 2>&1; then
    for f in .devdeps/*.deb; do dpkg -x "$f" "$DD" || { echo "dpkg -x $f failed"; ok=partial; }; done
else
    echo "no .devdeps/*.deb carried"; ok=missing
fi
ARCH=x86_64-linux-gnu
OB="$DD/usr/lib/$ARCH/openblas-pthread"
[ -e "$OB/libopenblas.so" ] || { [ -e "$OB/libopenblas.so.0" ] && ln -sf libopenblas.so.0 "$OB/libopenblas.so"; }
mkdir -p "$DD/pc"
# every carried .pc: point its prefix at /tmp/devdeps
for pc in $(find "$DD/usr" -name '*.pc' 2>/dev/null); do
    sed -e "s#=/usr#=$DD/usr#g" "$pc" > "$DD/pc/$(basename "$pc")"
done
cat > "$DD/pc/openblas.pc" <<EOF
libdir=$OB
includedir=$DD/usr/include/$ARCH/openblas-pthread
Name: openblas
Description: OpenBLAS (unpacked from .devdeps)
Version: 0.3.21
Libs: -L\${libdir} -lopenblas
Libs.private: -lm -lpthread -lgfortran
Cflags: -I\${includedir}
EOF
export PKG_CONFIG_PATH="$DD/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$OB:$DD/usr/lib/$ARCH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LIBRARY_PATH="$OB:$DD/usr/lib/$ARCH${LIBRARY_PATH:+:$LIBRARY_PATH}"
export CPATH="$DD/usr/include/$ARCH/openblas-pthread:$DD/usr/include${CPATH:+:$CPATH}"
if ! command -v pkg-config >/dev/null && [ -x "$DD/usr/bin/pkgconf" ]; then
    mkdir -p "$DD/bin"; ln -sf "$DD/usr/bin/pkgconf" "$DD/bin/pkg-config"
    export PATH="$DD/bin:$PATH"
    echo "using carried pkgconf as pkg-config"
fi
pkg-config --modversion openblas 2>&1 | sed 's/^/openblas: /'
pkg-config --modversion jansson 2>&1 | sed 's/^/jansson: /'
phase_end "$ok"

# ---------------------------------------------------------------- 3 cudalibs
phase_begin cudalibs
CL=/tmp/cudalibs
mkdir -p "$CL/lib" "$CL/include"
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
PYNV=$(python3 - 2>/dev/null <<'EOF'
import importlib, os
for m in ("nvidia.cudnn", "nvidia.cublas", "nvidia.cuda_runtime"):
    try:
        mod = importlib.import_module(m)
        print(list(mod.__path__)[0])
    except Exception:
        pass
EOF
)
echo "pip nvidia packages: ${PYNV:-none}"
find_lib() {  # $1 = soname glob; prints the first match
    local d
    for d in "$CUDA_HOME/lib64" "$CUDA_HOME/lib" /usr/lib/$ARCH $(for p in $PYNV; do echo "$p/lib"; done); do
        ls "$d"/$1 2>/dev/null | head -1 && return 0
    done
    return 1
}
ok=ok
for spec in cudnn:libcudnn.so.9 cublas:libcublas.so.1[23] cublasLt:libcublasLt.so.1[23] cudart:libcudart.so.1[23]; do
    name=${spec%%:*}; glob=${spec#*:}
    f=$(find_lib "$glob") || { echo "MISSING lib$name ($glob)"; ok=missing; continue; }
    echo "lib$name: $f"
    ln -sf "$f" "$CL/lib/lib$name.so"
    ln -sf "$f" "$CL/lib/$(basename "$f")"
    case ":$LD_LIBRARY_PATH:" in *":$(dirname "$f"):"*) ;; *) LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$f")";; esac
done
# the split cuDNN 9 sublibraries are dlopened from libcudnn's directory: nothing to do
for h in cudnn.h cublasLt.h; do
    if [ -e "$CUDA_HOME/include/$h" ]; then echo "$h: $CUDA_HOME/include"; continue; fi
    found=
    for p in $PYNV; do [ -e "$p/include/$h" ] && found="$p/include"; done
    if [ -n "$found" ]; then
        echo "$h: $found"; CPATH="$CPATH:$found"
    else
        echo "MISSING header $h"; ok=missing
    fi
done
export LD_LIBRARY_PATH CPATH
export LIBRARY_PATH="$LIBRARY_PATH:$CL/lib"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
# meson's dependency('cuda', modules: [...]) only looks inside the toolkit's own lib
# dir. When cuDNN (or cuBLAS) lives elsewhere (a distro package, the pip wheels), build
# a stand-in toolkit root of symlinks: the real toolkit plus the outside libs/headers,
# named cuda-<version> so meson reads the version off the path.
CUREAL=$(readlink -f "$CUDA_HOME")
CUVER=$("$NVCC" --version 2>/dev/null | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
need_root=0
for n in cudnn cublas cublasLt cudart; do
    f=$(readlink -f "$CL/lib/lib$n.so" 2>/dev/null)
    case "$f" in "$CUREAL"/*) ;; *) need_root=1;; esac
done
[ -e "$CUREAL/include/cudnn.h" ] || need_root=1
[ -n "${LCMD_FORCE_CUDA_ROOT:-}" ] && need_root=1
if [ "$need_root" -eq 1 ] && [ -n "$CUVER" ]; then
    CR=/tmp/lcmd-cuda/cuda-$CUVER
    rm -rf /tmp/lcmd-cuda; mkdir -p "$CR/targets/x86_64-linux/lib" "$CR/targets/x86_64-linux/include"
    ln -s "$CUREAL/bin" "$CR/bin"
    for x in version.json version.txt nvvm; do [ -e "$CUREAL/$x" ] && ln -s "$CUREAL/$x" "$CR/$x"; done
    TL="$CUREAL/targets/x86_64-linux/lib"; [ -d "$TL" ] || TL="$CUREAL/lib64"
    TI="$CUREAL/targets/x86_64-linux/include"; [ -d "$TI" ] || TI="$CUREAL/include"
    for f in "$TL"/* "$CL"/lib/*; do ln -sf "$f" "$CR/targets/x86_64-linux/lib/$(basename "$f")"; done
    for f in "$TI"/*; do ln -sf "$f" "$CR/targets/x86_64-linux/include/$(basename "$f")"; done
    for p in $PYNV; do for f in "$p"/include/*.h; do
        t="$CR/targets/x86_64-linux/include/$(basename "$f")"; [ -e "$f" ] && [ ! -e "$t" ] && ln -s "$f" "$t"; done; done
    ln -s targets/x86_64-linux/lib "$CR/lib64"; ln -s targets/x86_64-linux/include "$CR/include"
    export CUDA_HOME="$CR" CUDA_PATH="$CR" CUDA_ROOT="$CR"
    echo "stand-in CUDA root for meson: $CR (toolkit $CUREAL + outside cuDNN/cuBLAS)"
fi
phase_end "$ok"

# ---------------------------------------------------------------- 4 prebuilt
PRE=${LCMD_PREBUILT:-build-gpu/tests/gpu/gpu_lab}
PRE_RAN=0
phase_begin prebuilt
if [ -x "$PRE" ]; then
    if ldd "$PRE" | grep -q "not found"; then
        echo "prebuilt $PRE: unresolved libraries:"; ldd "$PRE" | grep "not found"
        phase_end "skipped (libraries)"
    else
        timeout 240 "$PRE" 2>&1 | tee "$OUT/lab-prebuilt.log"
        rc=${PIPESTATUS[0]}
        echo "prebuilt lab exit code: $rc"
        [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] && PRE_RAN=1
        phase_end "rc=$rc"
    fi
else
    echo "no prebuilt lab at $PRE"
    phase_end "absent"
fi

# ---------------------------------------------------------------- 5 build
BUILD=/tmp/lcmd-build
BUILT=0
phase_begin build
rm -rf "$BUILD"
if [ -n "${LCMD_SKIP_BUILD:-}" ]; then
    echo "LCMD_SKIP_BUILD set: using the carried binaries only"
    phase_end skipped
elif meson setup "$BUILD" -Dcuda=enabled -Dtests=true -Dexamples=false > "$OUT/meson-setup.log" 2>&1; then
    tail -15 "$OUT/meson-setup.log"
    if timeout 300 ninja -C "$BUILD" -j"${NINJA_JOBS:-16}" > "$OUT/ninja.log" 2>&1; then
        grep -iE "warning|error" "$OUT/ninja.log" | head -20
        BUILT=1
        phase_end ok
    else
        echo "ninja failed:"; grep -iE -B2 -A6 "error|FAILED" "$OUT/ninja.log" | head -60
        phase_end failed
    fi
else
    echo "meson setup failed:"; tail -40 "$OUT/meson-setup.log"
    cp "$BUILD/meson-logs/meson-log.txt" "$OUT/meson-log.txt" 2>/dev/null
    phase_end failed
fi

# ---------------------------------------------------------------- 6 lab
phase_begin lab
if [ "$BUILT" -eq 1 ] && [ -x "$BUILD/tests/gpu/gpu_lab" ]; then
    if [ "$PRE_RAN" -eq 1 ]; then ARGS=--check-only; else ARGS=; fi
    timeout 240 "$BUILD/tests/gpu/gpu_lab" $ARGS 2>&1 | tee "$OUT/lab-source.log"
    rc=${PIPESTATUS[0]}
    echo "source-built lab ($ARGS) exit code: $rc"
    phase_end "rc=$rc"
else
    echo "no source-built lab to run"
    phase_end skipped
fi

# ---------------------------------------------------------------- 7 models
phase_begin models
UNET_BIN=$BUILD/tests/gpu/gpu_unet
[ "$BUILT" -eq 1 ] || UNET_BIN=${LCMD_PREBUILT_UNET:-build-gpu/tests/gpu/gpu_unet}
if [ -x "$UNET_BIN" ]; then
    timeout 120 "$UNET_BIN" "$(pwd)/tests/fixtures" 2>&1 | tee "$OUT/gpu-unet.log" | grep -vE "^[a-z0-9_]+ +fwd"
    rc=${PIPESTATUS[0]}
    phase_end "rc=$rc"
else
    phase_end skipped
fi

# ---------------------------------------------------------------- 7b trainer parity on cuda:0
# The trainer's parity cases against the PyTorch fixtures with LCMD_TEST_DEVICE=cuda:
# three optimizer steps on latents (L2/Huber, epsilon/v) and six micro-steps from
# pixels and captions with accumulation 2 (the other cases run on the CPU).
phase_begin trainer
TRAIN_DIR=$BUILD/tests/train
[ "$BUILT" -eq 1 ] || TRAIN_DIR=${LCMD_PREBUILT_TRAIN:-build-gpu/tests/train}
ran=0
for t in test_trainer test_trainer_encode; do
    if [ -x "$TRAIN_DIR/$t" ]; then
        LCMD_TEST_DEVICE=cuda LCMD_TEST_FIXTURES="$(pwd)/tests/fixtures" OMP_WAIT_POLICY=passive \
            timeout 240 "$TRAIN_DIR/$t" 2>&1 | tee "$OUT/$t.log" | grep -E "^#|Checks"
        ran=$((ran + 1))
    fi
done
phase_end "ran $ran trainer test programs"

# ---------------------------------------------------------------- 8 bench (optional)
# LCMD_GPU_BENCH=DIR: the SD1.5 UNet forward side by side with PyTorch, DIR holding
# tests/bench/bench_unet (a build folder); needs diffusers importable (carried wheels).
if [ -n "${LCMD_GPU_BENCH:-}" ]; then
    phase_begin bench
    LCMD_BENCH_CACHE=/tmp/lcmd-bench timeout 300 python3 tests/bench/unet_forward.py "$LCMD_GPU_BENCH" \
        --device cuda:0 --iters 5 --threads 16 2>&1 | grep -v accelerate | tee "$OUT/bench-unet.log"
    phase_end "rc=${PIPESTATUS[0]}"
fi

# ---------------------------------------------------------------- summary
echo
echo "=== summary (total $(( $(date +%s) - T_START ))s) ==="
for s in "${SUMMARY[@]}"; do echo "  $s"; done
for f in "$OUT/lab-prebuilt.log" "$OUT/lab-source.log" "$OUT/gpu-unet.log"; do
    [ -s "$f" ] && grep -E "^(FAIL|correctness:|gpu_lab:|gpu_unet:|op_check)" "$f" | head -40
done
# the table last
TABLE_SRC=
for f in "$OUT/lab-prebuilt.log" "$OUT/lab-source.log"; do
    [ -s "$f" ] && grep -q "^| op |" "$f" && TABLE_SRC=$f
done
if [ -n "$TABLE_SRC" ]; then
    echo; echo "(table from $(basename "$TABLE_SRC"))"
    sed -n '/^### liblcmd CUDA ops/,$p' "$TABLE_SRC" | grep -E "^(###|\|)"
fi
