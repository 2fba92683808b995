/* Host emulator for the tensor-core attention kernels (cu_attn_tc.cuh): runs the very
 * kernel bodies on the CPU, one OS thread per CUDA thread (128 per block), with
 *  - mma.sync.m16n8k16 emulated per warp from the PTX ISA fragment tables (each lane
 *    publishes its a/b/c registers; A, B are rebuilt from the documented layout),
 *  - __shfl_xor_sync and __syncthreads as barriers,
 *  - cp.async deferred until the cp.async.wait_group that must cover it (so a read of
 *    a buffer before its wait sees stale data), 16-byte alignment asserted,
 *  - shared memory poisoned with 0xFF (NaN) per block,
 * and compares out, lse, dq, dk, dv with a double-precision reference on the same
 * rounded inputs. Not part of the library build; no GPU needed:
 *   g++ -std=c++20 -O2 -pthread -fno-strict-aliasing -Ilib -Iinclude \
 *       lib/ops/cuda/cu_attn_tc_emu.cpp -x c lib/core/half.c -o /tmp/attn_emu && /tmp/attn_emu */
#define LCMD_ATTN_EMU 1

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <barrier>
#include <memory>
#include <thread>
#include <vector>

extern "C" {
#include "core/half.h"
}
#include "ops/ops.h"

/* ---- the CUDA surface the bodies use ---- */
#define TC_DEV static inline
struct emu_dim3 { unsigned x, y, z; };
static thread_local emu_dim3 threadIdx;
static emu_dim3 blockIdx;   /* set by the launcher between blocks */

struct emu_bf16 { uint16_t x; };
struct emu_f16 { uint16_t x; };

static float to_f(emu_bf16, uint16_t u) { return lcmd_bf16_to_f32(u); }
static float to_f(emu_f16, uint16_t u) { return lcmd_f16_to_f32(u); }
static uint16_t from_f(emu_bf16, float f) { return lcmd_f32_to_bf16(f); }
static uint16_t from_f(emu_f16, float f) { return lcmd_f32_to_f16(f); }

template <typename T> static inline uint32_t tc_pack(float lo, float hi)
{
    return (uint32_t)from_f(T{}, lo) | ((uint32_t)from_f(T{}, hi) << 16);
}
template <typename T> static inline void tc_unpack(uint32_t u, float &lo, float &hi)
{
    lo = to_f(T{}, (uint16_t)(u & 0xffffu));
    hi = to_f(T{}, (uint16_t)(u >> 16));
}

struct warp_emu {
    std::barrier<> bar{32};
    float f[32];
    uint32_t a[32][4], b[32][2];
};
static warp_emu *g_warp;           /* 4 per block */
static std::barrier<> *g_block;    /* 128 */
static long long g_mma_count;
static int g_zero_grads;

static inline int lane_id() { return (int)threadIdx.x & 31; }
static inline warp_emu &my_warp() { return g_warp[threadIdx.x >> 5]; }

static inline float tc_shfl_xor(float v, int m)
{
    warp_emu &w = my_warp();
    w.f[lane_id()] = v;
    w.bar.arrive_and_wait();
    float r = w.f[lane_id() ^ m];
    w.bar.arrive_and_wait();
    return r;
}

static inline void tc_sync() { g_block->arrive_and_wait(); }

/* D = A B + C, A 16x16 row, B 16x8 col, from the PTX ISA tables (g = lane/4, t = lane%4):
 * a_r (r = 0..3) holds A[g + 8 (r & 1)][2t + 8 (r >> 1) + {0, 1}], b_r holds
 * B[2t + 8 r + {0, 1}][g], c0, c1 = C[g][2t + {0, 1}], c2, c3 = C[g + 8][2t + {0, 1}];
 * the lower index is in the lower 16 bits. */
template <typename T> static inline void tc_mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
{
    warp_emu &w = my_warp();
    const int l = lane_id();
    for (int r = 0; r < 4; r++) w.a[l][r] = a[r];
    w.b[l][0] = b0;
    w.b[l][1] = b1;
    w.bar.arrive_and_wait();
    float A[16][16], B[16][8];
    for (int L = 0; L < 32; L++) {
        const int g = L >> 2, t = L & 3;
        for (int r = 0; r < 4; r++) {
            float lo, hi;
            tc_unpack<T>(w.a[L][r], lo, hi);
            A[g + 8 * (r & 1)][2 * t + 8 * (r >> 1)] = lo;
            A[g + 8 * (r & 1)][2 * t + 8 * (r >> 1) + 1] = hi;
        }
        for (int r = 0; r < 2; r++) {
            float lo, hi;
            tc_unpack<T>(w.b[L][r], lo, hi);
            B[2 * t + 8 * r][g] = lo;
            B[2 * t + 8 * r + 1][g] = hi;
        }
    }
    w.bar.arrive_and_wait();
    const int g = l >> 2, t = l & 3;
    for (int i = 0; i < 4; i++) {
        const int row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
        float acc = c[i];
        for (int kk = 0; kk < 16; kk++) acc = fmaf(A[row][kk], B[kk][col], acc);
        c[i] = acc;
    }
    if (l == 0) __atomic_fetch_add(&g_mma_count, 1, __ATOMIC_RELAXED);
}

struct pending_cp { void *dst; const void *src; bool ok; int group; };
static thread_local std::vector<pending_cp> t_pend;
static thread_local int t_groups;

static inline void tc_cp16(void *dst, const void *src, bool ok)
{
    assert(((uintptr_t)dst & 15u) == 0 && ((uintptr_t)src & 15u) == 0);
    t_pend.push_back({dst, src, ok, -1});
}
static inline void tc_commit()
{
    for (auto &p : t_pend)
        if (p.group < 0) p.group = t_groups;
    t_groups++;
}
template <int N> static inline void tc_wait()
{
    std::vector<pending_cp> keep;
    for (auto &p : t_pend) {
        if (p.group >= 0 && p.group < t_groups - N) {
            if (p.ok) memcpy(p.dst, p.src, 16);
            else memset(p.dst, 0, 16);
        } else {
            keep.push_back(p);
        }
    }
    t_pend.swap(keep);
}
static inline void tc_zero16(void *p)
{
    assert(((uintptr_t)p & 15u) == 0);
    memset(p, 0, 16);
}

#include "ops/cuda/cu_attn_tc.cuh"

/* ---- launcher: blocks one after another, 128 threads each ---- */
template <typename F>
static void launch(unsigned gx, unsigned gy, unsigned gz, size_t smem_bytes, F body)
{
    std::vector<unsigned char> smem_v(smem_bytes + 16);
    unsigned char *smem = smem_v.data() + (16 - ((uintptr_t)smem_v.data() & 15u)) % 16;
    for (unsigned z = 0; z < gz; z++)
        for (unsigned y = 0; y < gy; y++)
            for (unsigned x = 0; x < gx; x++) {
                blockIdx = {x, y, z};
                memset(smem, 0xFF, smem_bytes);   /* NaN in f16 and bf16 */
                std::unique_ptr<warp_emu[]> warps(new warp_emu[4]);
                std::barrier<> block(kTcThreads);
                g_warp = warps.get();
                g_block = &block;
                std::vector<std::thread> th;
                for (int i = 0; i < kTcThreads; i++)
                    th.emplace_back([&, i] {
                        threadIdx = {(unsigned)i, 0, 0};
                        t_pend.clear();
                        t_groups = 0;
                        body(smem);
                        assert(t_pend.empty());
                    });
                for (auto &t : th) t.join();
            }
}

/* ---- reference (double) ---- */
struct shape_case {
    const char *name;
    int64_t b, h, sq, skv, hd;
    int causal;
    int64_t ldpad;   /* ldq = h hd + pad, ldk = + 2 pad, ldv = + 3 pad, ldo = h hd */
    int fused;       /* q, k, v slices of one [b s, 3 h hd] tensor (needs sq == skv) */
};

static double frand(uint64_t *st)
{
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(*st >> 11) / 9007199254740992.0) * 2.0 - 1.0;
}

static double relerr(const std::vector<double> &got, const std::vector<double> &ref)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < got.size(); i++) {
        if (!std::isfinite(got[i])) return INFINITY;
        num += (got[i] - ref[i]) * (got[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

template <typename T>
static int run_case(const shape_case &c, const char *tname)
{
    lcmd_attn_shape s;
    memset(&s, 0, sizeof s);
    s.b = c.b; s.heads = c.h; s.sq = c.sq; s.skv = c.skv; s.head_dim = c.hd;
    const int64_t HD = c.h * c.hd;
    if (c.fused) {
        s.ldq = s.ldk = s.ldv = 3 * HD;
    } else {
        s.ldq = HD + c.ldpad; s.ldk = HD + 2 * c.ldpad; s.ldv = HD + 3 * c.ldpad;
    }
    s.ldo = HD;
    s.scale = 1.0f / sqrtf((float)c.hd);
    s.causal = c.causal;
    uint64_t st = 12345 + (uint64_t)c.sq * 7 + (uint64_t)c.hd;
    auto rnd = [&](std::vector<uint16_t> &v, size_t n, double amp) {
        v.resize(n);
        for (auto &x : v) x = from_f(T{}, (float)(amp * frand(&st)));
    };
    std::vector<uint16_t> Q, K, V, dO, O, dQ, dK, dV, QKV, dQKV;
    const size_t nq = (size_t)(c.b * c.sq * s.ldq), nk = (size_t)(c.b * c.skv * s.ldk), nv = (size_t)(c.b * c.skv * s.ldv);
    const size_t no = (size_t)(c.b * c.sq * s.ldo);
    uint16_t *pq, *pk, *pv, *pdq, *pdk, *pdv;
    if (c.fused) {
        rnd(QKV, nq, 1.0);
        pq = QKV.data(); pk = pq + HD; pv = pq + 2 * HD;
    } else {
        rnd(Q, nq, 1.0); rnd(K, nk, 1.0); rnd(V, nv, 1.0);
        pq = Q.data(); pk = K.data(); pv = V.data();
    }
    rnd(dO, no, 1.0);
    O.assign(no, 0xFFFFu);   /* poison: NaN */
    std::vector<float> lse((size_t)(c.b * c.h * c.sq), NAN), di((size_t)(c.b * c.h * c.sq));

    auto at = [&](const uint16_t *p, int64_t bb, int64_t tok, int64_t seq, int64_t ld, int64_t hh, int64_t d) {
        return (double)to_f(T{}, p[(bb * seq + tok) * ld + hh * c.hd + d]);
    };

    /* forward on the emulator */
    LCMD_ATTN_TC_DISPATCH_D(c.hd, {
        launch((unsigned)((c.sq + 63) / 64), (unsigned)(c.b * c.h), 1, tc_fwd_smem<D>(), [&](unsigned char *sm) {
            tc_fwd_body<T, D>((T *)O.data(), lse.data(), (const T *)pq, (const T *)pk, (const T *)pv, s, sm);
        });
    });

    /* reference forward + backward in double, on the rounded inputs (and the kernel's O
     * for Di, as the library computes Di from the stored output) */
    std::vector<double> rO(no, 0), rL(lse.size()), gO, gL;
    std::vector<double> rdq((size_t)(c.b * c.sq * c.h * c.hd), 0), rdk((size_t)(c.b * c.skv * c.h * c.hd), 0),
        rdv(rdk.size(), 0);
    for (int64_t bb = 0; bb < c.b; bb++)
        for (int64_t hh = 0; hh < c.h; hh++) {
            std::vector<double> P((size_t)(c.sq * c.skv));
            for (int64_t i = 0; i < c.sq; i++) {
                double mx = -INFINITY;
                for (int64_t j = 0; j < c.skv; j++) {
                    double sc = -INFINITY;
                    if (!(c.causal && j > i)) {
                        sc = 0;
                        for (int64_t d = 0; d < c.hd; d++)
                            sc += at(pq, bb, i, c.sq, s.ldq, hh, d) * at(pk, bb, j, c.skv, s.ldk, hh, d);
                        sc *= s.scale;
                    }
                    P[(size_t)(i * c.skv + j)] = sc;
                    mx = fmax(mx, sc);
                }
                double sum = 0;
                for (int64_t j = 0; j < c.skv; j++) sum += exp(P[(size_t)(i * c.skv + j)] - mx);
                rL[(size_t)((bb * c.h + hh) * c.sq + i)] = mx + log(sum);
                for (int64_t j = 0; j < c.skv; j++) P[(size_t)(i * c.skv + j)] = exp(P[(size_t)(i * c.skv + j)] - mx) / sum;
                for (int64_t d = 0; d < c.hd; d++) {
                    double o = 0;
                    for (int64_t j = 0; j < c.skv; j++) o += P[(size_t)(i * c.skv + j)] * at(pv, bb, j, c.skv, s.ldv, hh, d);
                    rO[(size_t)((bb * c.sq + i) * s.ldo + hh * c.hd + d)] = o;
                }
            }
            /* backward */
            for (int64_t i = 0; i < c.sq; i++) {
                double Di = 0;
                for (int64_t d = 0; d < c.hd; d++)
                    Di += at(dO.data(), bb, i, c.sq, s.ldo, hh, d) * at(O.data(), bb, i, c.sq, s.ldo, hh, d);
                di[(size_t)((bb * c.h + hh) * c.sq + i)] = (float)Di;
                for (int64_t j = 0; j < c.skv; j++) {
                    const double p = P[(size_t)(i * c.skv + j)];
                    double dp = 0;
                    for (int64_t d = 0; d < c.hd; d++)
                        dp += at(dO.data(), bb, i, c.sq, s.ldo, hh, d) * at(pv, bb, j, c.skv, s.ldv, hh, d);
                    const double ds = p * (dp - Di);
                    for (int64_t d = 0; d < c.hd; d++) {
                        rdv[(size_t)(((bb * c.skv + j) * c.h + hh) * c.hd + d)] += p * at(dO.data(), bb, i, c.sq, s.ldo, hh, d);
                        rdk[(size_t)(((bb * c.skv + j) * c.h + hh) * c.hd + d)] += s.scale * ds * at(pq, bb, i, c.sq, s.ldq, hh, d);
                        rdq[(size_t)(((bb * c.sq + i) * c.h + hh) * c.hd + d)] += s.scale * ds * at(pk, bb, j, c.skv, s.ldk, hh, d);
                    }
                }
            }
        }
    /* compare forward */
    std::vector<double> go, ro, gl, rl;
    for (int64_t bb = 0; bb < c.b; bb++)
        for (int64_t i = 0; i < c.sq; i++)
            for (int64_t x = 0; x < s.ldo; x++) {
                go.push_back(to_f(T{}, O[(size_t)((bb * c.sq + i) * s.ldo + x)]));
                ro.push_back(rO[(size_t)((bb * c.sq + i) * s.ldo + x)]);
            }
    for (size_t i = 0; i < lse.size(); i++) { gl.push_back(lse[i]); rl.push_back(rL[i]); }
    const double eo = relerr(go, ro), el = relerr(gl, rl);

    /* gradients pre-filled with random values of the RMS of the expected increment (as the
     * lab does; g_zero_grads: zero), kept to check that backward accumulates */
    auto rms = [](const std::vector<double> &x) {
        double a = 0;
        for (double v : x) a += v * v;
        return x.empty() ? 1.0 : sqrt(a / (double)x.size());
    };
    const double aq = g_zero_grads ? 0 : rms(rdq), ak = g_zero_grads ? 0 : rms(rdk), av = g_zero_grads ? 0 : rms(rdv);
    if (c.fused) {
        rnd(dQKV, nq, (aq + ak + av) / 3);
        pdq = dQKV.data(); pdk = pdq + HD; pdv = pdq + 2 * HD;
    } else {
        rnd(dQ, nq, aq); rnd(dK, nk, ak); rnd(dV, nv, av);
        pdq = dQ.data(); pdk = dK.data(); pdv = dV.data();
    }
    std::vector<uint16_t> dq0, dk0, dv0;
    if (c.fused) dq0 = dQKV;
    else { dq0 = dQ; dk0 = dK; dv0 = dV; }

    /* backward on the emulator (di from the reference loop above: rowsum(dO * O)) */
    LCMD_ATTN_TC_DISPATCH_D(c.hd, {
        constexpr int DC = tc_dc<D>();
        launch((unsigned)((c.skv + 63) / 64), (unsigned)(c.b * c.h), (unsigned)(D / DC), tc_dkdv_smem<D>(),
               [&](unsigned char *sm) {
                   tc_dkdv_body<T, D, DC>((T *)pdk, (T *)pdv, (const T *)dO.data(), (const T *)pq, (const T *)pk,
                                          (const T *)pv, lse.data(), di.data(), s, sm);
               });
        launch((unsigned)((c.sq + 63) / 64), (unsigned)(c.b * c.h), 1, tc_dq_smem<D>(), [&](unsigned char *sm) {
            tc_dq_body<T, D>((T *)pdq, (const T *)dO.data(), (const T *)pq, (const T *)pk, (const T *)pv, lse.data(),
                             di.data(), s, sm);
        });
    });
    /* increments; untouched elements (padding columns, other slices) must be unchanged */
    auto grad_err = [&](const uint16_t *after, const uint16_t *before, int64_t seq, int64_t ld, const std::vector<double> &ref,
                        int64_t col_off, size_t *untouched_bad) {
        std::vector<double> g, r;
        for (int64_t bb = 0; bb < c.b; bb++)
            for (int64_t i = 0; i < seq; i++)
                for (int64_t x = 0; x < ld; x++) {
                    const size_t off = (size_t)((bb * seq + i) * ld + x);
                    const int64_t xc = x - col_off;
                    if (xc >= 0 && xc < HD) {
                        g.push_back((double)to_f(T{}, after[off]) - (double)to_f(T{}, before[off]));
                        r.push_back(ref[(size_t)((bb * seq + i) * HD + xc)]);
                    } else if (!c.fused && after[off] != before[off]) {
                        (*untouched_bad)++;
                    }
                }
        return relerr(g, r);
    };
    size_t bad = 0;
    double eq, ek, ev;
    if (c.fused) {
        eq = grad_err(dQKV.data(), dq0.data(), c.sq, s.ldq, rdq, 0, &bad);
        ek = grad_err(dQKV.data(), dq0.data(), c.skv, s.ldk, rdk, HD, &bad);
        ev = grad_err(dQKV.data(), dq0.data(), c.skv, s.ldv, rdv, 2 * HD, &bad);
    } else {
        eq = grad_err(dQ.data(), dq0.data(), c.sq, s.ldq, rdq, 0, &bad);
        ek = grad_err(dK.data(), dk0.data(), c.skv, s.ldk, rdk, 0, &bad);
        ev = grad_err(dV.data(), dv0.data(), c.skv, s.ldv, rdv, 0, &bad);
    }
    /* output padding columns (none: ldo = h hd) and lse NaN checked by relerr */
    const double tol = 1e-2;
    const bool ok = eo <= tol && el <= tol && eq <= tol && ek <= tol && ev <= tol && bad == 0;
    printf("%s %-30s [%s] out %.2e lse %.2e dq %.2e dk %.2e dv %.2e%s\n", ok ? "ok  " : "FAIL", c.name, tname, eo, el,
           eq, ek, ev, bad ? " (padding/stride columns modified)" : "");
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    const shape_case all[] = {
        {"self 1x2x67 d40", 1, 2, 67, 67, 40, 0, 0, 0},
        {"odd 1x1 67/33 d40", 1, 1, 67, 33, 40, 0, 0, 0},
        {"cross 1x1 130/77 d64 ld", 1, 1, 130, 77, 64, 0, 8, 0},
        {"causal 1x2x130 d80", 1, 2, 130, 130, 80, 1, 0, 0},
        {"1x1 65/70 d160", 1, 1, 65, 70, 160, 0, 0, 0},
        {"1x1 70/129 d128 ld", 1, 1, 70, 129, 128, 0, 16, 0},
        {"2x2 9/200 d24", 2, 2, 9, 200, 24, 0, 0, 0},
        {"fused qkv 2x2x70 d40", 2, 2, 70, 70, 40, 0, 0, 1},
        {"causal 1x1x100 d48 (hd 48)", 1, 1, 100, 100, 48, 1, 0, 0},
    };
    const int n = (int)(sizeof all / sizeof all[0]);
    int only = argc > 1 ? atoi(argv[1]) : -1;
    g_zero_grads = argc > 2 && atoi(argv[2]) != 0;
    int fails = 0;
    for (int j = 0; j < n; j++) {
        if (only >= 0 && j != only) continue;
        fails += run_case<emu_bf16>(all[j], "bf16");
        fails += run_case<emu_f16>(all[j], "f16");
    }
    printf("%d failed (%lld warp mma emulated)\n", fails, g_mma_count);
    return fails ? 1 : 0;
}
